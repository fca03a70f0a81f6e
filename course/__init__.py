"""sgd-course reference library.

Training fully connected networks with stochastic gradient descent, one concept per module:

- ``problems``   the lecture's sanity-check problem and other finite sums E(theta) = sum_j f_j(theta)
- ``schedules``  step sizes: a schedule is a function k -> tau(k)
- ``optim``      optimizers as pure ``init(params) -> state`` / ``update(grads, state, params)``
- ``data``       minibatches (shuffle once per epoch, contiguous chunks) and offline data sets
- ``nn``         layers as forward/backward pairs, softmax cross-entropy, the MLP
- ``train``      the lecture's practical SGD loop
- ``gradcheck``  central finite differences, with a warning when a kink lies within eps
- ``validate``   the shape/dtype checks behind the clear error messages students see

The core modules use numpy only; figures and sliders live in ``plots`` and ``widgets``.
"""

__version__ = "0.1.0"
