"""python -m marginalia: the same command line as build.py."""

from .cli import run

run(prog="python -m marginalia")
