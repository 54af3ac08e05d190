#!/usr/bin/env python3
"""Build the site in this folder: python build.py --help lists the commands."""

import sys

from marginalia.cli import main

if __name__ == "__main__":
    sys.exit(main())
