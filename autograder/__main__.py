"""The ``sgd-course`` command (also ``python -m autograder``): see ``autograder.cli``."""

import sys


def main(argv=None) -> int:
    from .cli import main as cli_main
    return cli_main(sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
