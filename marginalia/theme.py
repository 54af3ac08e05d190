"""Collect the theme's static files, fingerprinting CSS and JavaScript."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .discover import walk_files
from .errors import BuildError, raise_if_any
from .model import OutputFile
from .templates import DEFAULTS_DIR

THEME_DIR = "theme"
FINGERPRINTED = (".css", ".js")


@dataclass(frozen=True, slots=True)
class Theme:
    files: tuple[OutputFile, ...]
    urls: dict[str, str]  # theme-relative name ("style.css") -> site URL


def collect_theme(site_dir: Path) -> Theme:
    """Read theme files, the site's own overriding the defaults file by file."""
    chosen: dict[str, Path] = {}
    errors: list[BuildError] = []
    for root in (DEFAULTS_DIR, site_dir):
        theme_dir = root / THEME_DIR
        if theme_dir.is_dir():
            for path in walk_files(theme_dir, root, errors):
                name = path.relative_to(theme_dir).as_posix()
                if not name.split("/")[-1].startswith("."):
                    chosen[name] = path
    raise_if_any(errors)
    files, urls = [], {}
    for name, path in sorted(chosen.items()):
        data = path.read_bytes()
        out_name = fingerprint(name, data) if name.endswith(FINGERPRINTED) else name
        files.append(OutputFile(out_name, data, f"{THEME_DIR}/{name}"))
        urls[name] = "/" + out_name
    return Theme(tuple(files), urls)


def fingerprint(name: str, data: bytes) -> str:
    """Put a short content hash before the extension: style.css -> style.1a2b3c4d5e.css."""
    stem, dot, extension = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:10]}{dot}{extension}"
