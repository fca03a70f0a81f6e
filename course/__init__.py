"""sgd-course reference library.

Training fully connected networks with stochastic gradient descent, one concept per module:

- ``problems``   the lecture's sanity-check problem and other finite sums E(theta) = sum_j f_j(theta)
- ``schedules``  step sizes: a schedule is a function k -> tau(k)
- ``optim``      optimizers as pure ``init(params) -> state`` / ``update(grads, state, params)``
- ``sgd``        plain SGD on a finite sum, recording trajectories of many runs at once
- ``data``       minibatches (shuffle once per epoch, contiguous chunks) and offline data sets
- ``nn``         layers as forward/backward pairs, softmax cross-entropy, the MLP
- ``train``      the lecture's practical SGD loop (``train``, the mlp exercise's signature) and ``fit``
                 (the same loop, recording learning curves)
- ``minibatch``  full and minibatch gradients of a finite sum, their bias and variance
- ``adaptive``   AdaGrad(-Norm) runs over many step scales, the limit of tau(k) sqrt(k)
- ``gradcheck``  central finite differences, with a warning when a kink lies within eps
- ``clarke``     Clarke subdifferentials estimated from nearby gradients, convex hulls, the sum rule
- ``autodiff``   a scalar reverse-mode autodiff (micrograd-sized) with a settable ReLU'(0)
- ``relu_prime`` does ReLU'(0) matter? Two trainings that differ only in it, in float16/32/64
- ``validate``   the shape/dtype checks behind the clear error messages students see
- ``fast``       opt-in: the MLP's training loop on preallocated buffers with in-place optimizer steps,
                 the same numbers as ``train`` (for large data sets and the benchmark against PyTorch)

The core modules use numpy only; figures live in ``plots`` (each drawn once there) and sliders in
``widgets`` (which update the figures ``plots`` builds).
"""

__version__ = "0.1.0"
