"""Tell Jekyll, Hugo and Zola sites apart, to say which import a folder needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import ContentError

NAMES = {"jekyll": "Jekyll", "hugo": "Hugo", "zola": "Zola"}
HUGO_CONFIGS = tuple(f"{stem}.{ext}" for stem in ("hugo", "config")
                     for ext in ("toml", "yaml", "yml", "json"))


def site_kind(root: Path) -> str:
    """'jekyll', 'hugo' or 'zola', by the files that make each; '' for none of them."""
    if (root / "_config.yml").is_file() or (root / "_config.yaml").is_file() or (
            root / "_config.toml").is_file() or (root / "_posts").is_dir():
        return "jekyll"
    if zola_config(root) is not None:
        return "zola"
    if hugo_config_path(root) is not None:
        return "hugo"
    return ""


def zola_config(root: Path) -> dict | None:
    """Zola's config.toml, which names base_url (Hugo's names baseURL)."""
    path = root / "config.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return data if "base_url" in data else None


def hugo_config_path(root: Path) -> Path | None:
    for name in HUGO_CONFIGS:
        path = root / name
        if path.is_file() and not (name == "config.toml" and zola_config(root) is not None):
            return path
    default = root / "config" / "_default"
    for name in HUGO_CONFIGS:
        if (default / name).is_file():
            return default / name
    return None


def wrong_kind(root: Path, wanted: str, why: str) -> ContentError:
    """The error for a folder that is not the kind of site named on the command line."""
    kind = site_kind(root)
    hint = (f"; it looks like a {NAMES[kind]} site: use 'import {kind}'"
            if kind and NAMES[kind] != wanted else "")
    return ContentError(f"not a {wanted} site: {why}{hint}", str(root))
