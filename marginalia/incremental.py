"""Skip re-rendering pages whose inputs have not changed since the last build.

Each rendered file is keyed by a digest of what its template received. Templates
may also reach site-wide collections (every tag, every section's posts); such
reads are recorded while the page renders, and a page that made them is keyed
by the whole site's content too. A page is reused only when its key matches and
the live output still holds the exact bytes it had, so an incremental build
writes the same bytes as a clean one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .model import ArchiveMonth, Page, Pager, Post, Site

RENDER_CACHE_NAME = "rendered.json"


class Uncacheable(Exception):
    """A template received a value we cannot fingerprint; render it every time."""


class Recorder:
    """Notes whether the page being rendered read site-wide collections."""

    def __init__(self) -> None:
        self.used_site_content = False


class TrackedView:
    """Passes attribute reads through to a listing, noting reads of its posts."""

    __slots__ = ("_target", "_recorder")
    TRACKED = frozenset({"posts", "months"})

    def __init__(self, target: Any, recorder: Recorder):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_recorder", recorder)

    def __getattr__(self, name: str) -> Any:
        if name in self.TRACKED:
            self._recorder.used_site_content = True
        return getattr(self._target, name)

    def identity(self) -> tuple:
        target = self._target
        return tuple(getattr(target, f.name) for f in fields(target)
                     if f.name not in self.TRACKED)


class TrackedSite(dict):
    """The 'site' variable of every template; reading a site-wide list is recorded."""

    TRACKED = frozenset({"tags", "authors", "archives"})

    def __init__(self, values: dict[str, Any], recorder: Recorder):
        super().__init__(values)
        self.recorder = recorder

    def __getitem__(self, key: str) -> Any:
        if key in self.TRACKED:
            self.recorder.used_site_content = True
        return super().__getitem__(key)


class Fingerprints:
    """Digests of posts and of the whole site, computed once per build."""

    def __init__(self, site: Site, static_parts: tuple):
        self.posts = {id(p): post_digest(p) for p in site.posts}
        self.static = _hash(repr((__version__, static_parts)))
        self._site_content: str | None = None
        self.site = site

    def site_content(self) -> str:
        if self._site_content is None:
            self._site_content = _hash("|".join(self.posts[id(p)] for p in self.site.posts))
        return self._site_content

    def of(self, value: Any) -> Any:
        """Reduce a template value to something stable to hash."""
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, Post):
            return self.posts[id(value)]
        if isinstance(value, TrackedView):
            return ["view", *map(self.of, value.identity())]
        if isinstance(value, ArchiveMonth):
            return [value.year, value.month, value.url, [self.of(p) for p in value.posts]]
        if isinstance(value, (Page, Pager)):
            return [self.of(getattr(value, f.name)) for f in fields(value)]
        if isinstance(value, (list, tuple)):
            return [self.of(v) for v in value]
        if isinstance(value, dict):
            return [[str(k), self.of(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
        raise Uncacheable(type(value).__name__)

    def page_key(self, parts: dict[str, Any]) -> str:
        # repr of nested lists of strings and numbers is exact and much faster than JSON.
        return _hash(repr(self.of(parts)))

    def full_key(self, page_key: str, used_site_content: bool) -> str:
        return _hash(self.static + page_key + (self.site_content() if used_site_content else ""))


def post_digest(post: Post) -> str:
    return _hash(repr([getattr(post, f.name) for f in fields(post)]))


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class RenderCache:
    """What each output file was rendered from last time, and the bytes' digest."""

    def __init__(self, path: Path | None, live: dict[str, list]):
        self.path = path
        self.live = live  # the live output's manifest: rel_path -> [digest, size, mtime]
        self.entries: dict[str, list] = _load(path) if path else {}
        self.new: dict[str, list] = {}
        self.reused = 0

    def lookup(self, rel_path: str, page_key: str,
               fingerprints: Fingerprints) -> tuple[str, tuple[str, ...]] | None:
        """Return the live file's digest and links when it can be reused as is."""
        entry = self.entries.get(rel_path)
        live = self.live.get(rel_path)
        if not live or not _is_entry(entry):
            return None
        key, digest, used_site_content, links = entry
        if live[0] != digest or key != fingerprints.full_key(page_key, used_site_content):
            return None
        self.new[rel_path] = entry
        self.reused += 1
        return digest, tuple(links)

    def store(self, rel_path: str, page_key: str, used_site_content: bool, content: bytes,
              links: tuple[str, ...], fingerprints: Fingerprints) -> str:
        digest = hashlib.blake2b(content, digest_size=16).hexdigest()
        self.new[rel_path] = [fingerprints.full_key(page_key, used_site_content), digest,
                              used_site_content, list(links)]
        return digest

    def save(self) -> None:
        if self.path is None or self.new == self.entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(self.new, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)


def _is_entry(entry: object) -> bool:
    return (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
            and isinstance(entry[1], str) and isinstance(entry[2], bool)
            and isinstance(entry[3], list) and all(isinstance(u, str) for u in entry[3]))


def _load(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list)}

