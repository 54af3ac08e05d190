"""Marginalia: a static site generator for commentary blogs."""

__version__ = "0.1.0"


def installed_version() -> str:
    """The version in the installed package's metadata, else the source's own."""
    from importlib import metadata
    try:
        return metadata.version("marginalia")
    except metadata.PackageNotFoundError:
        return __version__
