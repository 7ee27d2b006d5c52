"""``python -m gui``: the ``flossmeter`` program (the console script calls the same ``main``)."""

import sys

from gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
