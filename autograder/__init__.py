"""Grading for sgd-course, built on nbgrader.

- ``config``        the nbgrader configuration these notebooks need (timeouts, warnings, feedback)
- ``checks``        what hidden tests are made of: per-run random inputs, exact type/shape/dtype
                    comparisons with the reference in ``course``, and the no-reference-calls rule
- ``hidden_tests``  one module per assignment: the hidden tests its notebook calls
- ``feedback``      the nbgrader preprocessor that keeps hidden tests out of the feedback
- ``grading``       build student versions, grade a folder of submissions, collect results
- ``export``        the grades CSV (per-cell scores and a status column)
- ``demo``          the embedded demo class that the main job grades
- ``cli``           the instructor's command, ``sgd-course``
"""
