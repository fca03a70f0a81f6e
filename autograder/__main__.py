"""The ``sgd-course`` command (also ``python -m autograder``): see ``autograder.cli``.

A command that grades starts the kernel zygote first, so that its imports (numpy, matplotlib,
ipykernel, the course) run while this process imports nbgrader: a second less per ``sgd-course
grade`` on two cores.
"""

import sys

GRADING_COMMANDS = ("grade", "demo", "check")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in GRADING_COMMANDS:
        from .zygote import Zygote
        Zygote.start()
    from .cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
