#!/usr/bin/env python3
"""Build the site in this folder: python build.py --help lists the commands."""

import sys

try:
    from marginalia.cli import run
except KeyboardInterrupt:  # Ctrl-C while the engine is still loading
    sys.exit(130)

if __name__ == "__main__":
    run()
