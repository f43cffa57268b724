"""The bundle's entry point: the ``studio`` command (no arguments opens the window)."""

import multiprocessing
import sys

from studio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()    # the trainer's worker process starts from this executable too
    sys.exit(main())
