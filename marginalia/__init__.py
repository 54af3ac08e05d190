"""Marginalia: a static site generator for commentary blogs."""

__version__ = "0.1.0"
