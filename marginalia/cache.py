"""A cache of parsed posts keyed by content hash, kept beside the site in .cache/.

The cache is plain JSON, never pickle: a damaged or foreign file can only be
ignored, never run. Any doubt about an entry means parsing the file again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import __version__
from .model import Config, Page, Post, Source

CACHE_DIR = ".cache/marginalia"
FORMAT = 4  # bump whenever parsing gives different output for the same input
KEPT_CACHES = 4  # one per recent configuration, e.g. a build and a --base-url preview


def cache_path(site_dir: Path, fingerprint: str) -> Path:
    return site_dir / CACHE_DIR / f"parsed-{fingerprint[:20]}.json"


def config_fingerprint(config: Config) -> str:
    """Hash everything that changes how a file parses, and the engine's version."""
    return hashlib.sha256(f"{FORMAT}|{__version__}|{config!r}".encode()).hexdigest()


def source_key(rel_path: str, text: str) -> str:
    """Key a parsed file by its path and text: a rename changes its URL and links."""
    data = f"{rel_path}\0{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


class ParseCache:
    """Parsed posts and pages by source hash; loaded once, saved when it changed."""

    def __init__(self, path: Path | None, fingerprint: str, read: bool = True):
        self.path = path
        self.fingerprint = fingerprint
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.dirty = False
        if path is not None and read:
            self.entries = _load_entries(path, fingerprint)

    def get(self, key: str) -> Post | Page | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            item = decode_item(entry)
        except (KeyError, TypeError, ValueError, LookupError):
            return None
        self.used[key] = entry
        self.hits += 1
        return item

    def put(self, key: str, item: Post | Page) -> None:
        try:
            self.used[key] = encode_item(item)
        except TypeError:
            return
        self.dirty = True

    def save(self) -> None:
        """Write the entries used by this build, dropping the rest, atomically."""
        if self.path is None or not (self.dirty or len(self.used) != len(self.entries)):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        payload = {"format": FORMAT, "fingerprint": self.fingerprint, "entries": self.used}
        try:
            temporary.write_text(json.dumps(payload, ensure_ascii=False, sort_keys=True),
                                 encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)
        _prune_old_caches(self.path.parent)


def _prune_old_caches(cache_dir: Path) -> None:
    try:
        caches = sorted(cache_dir.glob("parsed-*.json"), key=lambda p: p.stat().st_mtime_ns)
        for stale in caches[:-KEPT_CACHES]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def _load_entries(path: Path, fingerprint: str) -> dict[str, dict[str, Any]]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if (not isinstance(payload, dict) or payload.get("format") != FORMAT
            or payload.get("fingerprint") != fingerprint
            or not isinstance(payload.get("entries"), dict)):
        return {}
    return {k: v for k, v in payload["entries"].items() if isinstance(v, dict)}


def encode_item(item: Post | Page) -> dict[str, Any]:
    """Turn a Post or Page into JSON-safe values."""
    data: dict[str, Any] = {"kind": "post" if isinstance(item, Post) else "page"}
    for field in fields(item):
        value = getattr(item, field.name)
        if isinstance(value, datetime):
            zone = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
            value = [value.isoformat(), zone]
        elif field.name == "sources":
            value = [[s.name, s.url] for s in value]
        data[field.name] = value
    # Front matter 'extra' may hold values JSON cannot keep exactly; then skip caching it.
    if json.loads(json.dumps(data["extra"])) != data["extra"]:
        raise TypeError("extra does not survive JSON")
    return data


TEXT_FIELDS = {"rel_path", "title", "section", "dek", "author", "slug", "url", "body_html",
               "summary", "description", "layout", "menu"}
FLAG_FIELDS = {"comments", "draft", "relative_links"}
DATE_FIELDS = {"date", "updated", "expires"}
LIST_FIELDS = {"tags", "aliases"}


def decode_item(data: dict[str, Any]) -> Post | Page:
    """Rebuild a Post or Page from encode_item's output, checking every field's type."""
    kind = Page if data["kind"] == "page" else Post
    values = {f.name: _decode_field(f.name, data[f.name]) for f in fields(kind)}
    if kind is Post and values["date"] is None:
        raise ValueError("a cached post has no date")
    return kind(**values)


def _decode_field(name: str, value: Any) -> Any:
    """Return a field's value as the model holds it, or raise ValueError."""
    if name in TEXT_FIELDS and isinstance(value, str):
        return value
    if name in FLAG_FIELDS and isinstance(value, bool):
        return value
    if name == "order" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if name == "extra" and isinstance(value, dict):
        return value
    if name in LIST_FIELDS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if name == "sources" and isinstance(value, list) and all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
            for pair in value):
        return tuple(Source(name_, url) for name_, url in value)
    if name in DATE_FIELDS:
        if value is None and name != "date":
            return None
        if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
                and (value[1] is None or isinstance(value[1], str))):
            moment = datetime.fromisoformat(value[0])
            if moment.tzinfo is None:
                raise ValueError("a cached date has no offset")
            return moment.astimezone(ZoneInfo(value[1])) if value[1] else moment
    raise ValueError(f"cached field '{name}' has the wrong type")
