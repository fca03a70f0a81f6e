"""Grading for sgd-course, built on nbgrader.

- ``config``        the nbgrader configuration these notebooks need (timeouts, warnings, feedback)
- ``checks``        what hidden tests are made of: per-run random inputs, exact type/shape/dtype
                    comparisons with the reference in ``course``, and the no-reference-calls rule
- ``hidden_tests``  one module per assignment: the hidden tests its notebook calls
- ``feedback``      feedback pages: hidden tests kept out, submission content escaped, "pending" written
                    answers, maths without a network (template in ``templates/sgd_feedback``)
- ``grading``       build student versions, grade a class (in parallel, crash-safe), collect results
- ``sandbox``       grade one submission in a fresh, sandboxed kernel: the unit of work of a class run
- ``remote``        hidden tests run in the grader and call the student's functions in plain data
- ``kernel_side``   the kernel's end of that protocol (its source is sent to the kernel)
- ``sanitize``      locked cells restored as the assignment has them
- ``jail``          the kernel's sandbox: bubblewrap, limits, a pids cgroup
- ``library_view``  the ``course`` library the kernel sees: the assignment's solutions stripped
- ``journal``       each finished submission recorded before it is saved (resume after a kill)
- ``export``        the grades CSV (per-cell scores and a status column), learning platforms' grade imports
- ``lms``           learning platforms: submission downloads (Moodle, Canvas), class lists, grade imports
- ``selfcheck``     ``sgd-course check``: a student's notebook tests, with an exit status
- ``demo``, ``bugs``  the embedded demo class that the main job grades
- ``edition``       the student edition: a wheel without the open assignments' solutions, and its zip
- ``cli``           the instructor's command, ``sgd-course`` (entry point: ``__main__``)
"""
