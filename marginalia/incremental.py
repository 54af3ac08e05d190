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
import sqlite3
from dataclasses import fields
from functools import partial
from datetime import date, datetime
from typing import Any

from . import __version__
from .model import ArchiveMonth, Page, Pager, Post, Site
from .store import Store

STATIC_PREFIX = "rendered with "  # and the target: what every page of it shared


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

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def values(self):
        self.recorder.used_site_content = True
        return super().values()

    def items(self):
        self.recorder.used_site_content = True
        return super().items()


def _with_images(digest: str, images: object) -> str:
    """A post's digest, and its pictures': a new picture means new file names."""
    return digest if images is None else _hash(f"{digest}|{images!r}")


class Fingerprints:
    """Digests of posts and of the whole site, computed once per build."""

    def __init__(self, site: Site, static_parts: tuple):
        images = site.images
        self.posts = {id(p): _with_images(p.digest or post_digest(p), images.get(p.rel_path))
                      for p in site.posts}
        self.static = _hash(repr((__version__, static_parts)))
        self._site_content: str | None = None
        self._views: dict[int, list] = {}
        self.site = site

    def site_content(self) -> str:
        if self._site_content is None:
            self._site_content = _hash("|".join(self.posts[id(p)] for p in self.site.posts))
        return self._site_content

    def of(self, value: Any) -> Any:
        """Reduce a template value to something stable to hash."""
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, Post):
            return self.posts[id(value)]
        if isinstance(value, (list, tuple)):
            if all(isinstance(v, Post) for v in value):
                return [self.posts[id(v)] for v in value]
            return [self.of(v) for v in value]
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, TrackedView):
            # A listing is shared by thousands of pages: reduce it once.
            key = id(value._target)
            if key not in self._views:
                self._views[key] = ["view", *map(self.of, value.identity())]
            return self._views[key]
        if isinstance(value, ArchiveMonth):
            return [value.year, value.month, value.url, [self.of(p) for p in value.posts]]
        if isinstance(value, (Page, Pager)):
            return [self.of(getattr(value, f.name)) for f in fields(value)]
        if isinstance(value, dict):
            return [[str(k), self.of(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
        raise Uncacheable(type(value).__name__)

    def page_key(self, fixed: tuple, context: dict[str, Any]) -> str:
        """Digest what a template receives: fixed values of plain text, and its context.

        This runs for every page of the site, so the common values are handled inline;
        a call site always passes its context in the same order, so it is not sorted.
        repr of nested lists of strings and numbers is exact and much faster than JSON.
        """
        posts = self.posts
        reduced: list[Any] = [*fixed]
        for name, value in context.items():
            kind = type(value)
            if kind is str or value is None or kind is int or kind is bool:
                reduced += (name, value)
            elif kind is Post:
                reduced += (name, posts[id(value)])
            elif kind is Pager:
                reduced += (name, value.number, value.total, value.url, value.previous_url,
                            value.next_url, value.first_url,
                            [posts[id(p)] for p in value.posts])
            else:
                reduced += (name, self.of(value))
        return _hash(repr(reduced))

    def full_key(self, page_key: str, used_site_content: bool) -> str:
        return _hash(self.static + page_key + (self.site_content() if used_site_content else ""))


def post_digest(post: Post) -> str:
    """Identify a post made without a source digest, as in tests, by all of its fields."""
    return _hash(repr([getattr(post, f.name) if f.name != "body" else post.body_html
                       for f in fields(post)]))


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class RenderCache:
    """What each output file was rendered from last time, its bytes' digest and links,
    kept in the site's state for one output folder (the target).

    Links are loaded only when a page that links somewhere has gone, since only
    then can a page that was not rendered again gain a broken link.
    """

    def __init__(self, state: Store | None, target: str, live: dict[str, list],
                 read: bool = True):
        self.state = state
        self.target = target
        self.live = live  # the live output's manifest: rel_path -> [digest, size, mtime]
        self.replace_all = not read  # --no-cache: what is stored is neither used nor kept
        rows = state.rows if state is not None and read else (lambda *args: [])
        self.entries: dict[str, tuple[str, str, bool]] = {
            rel_path: (key, digest, bool(used)) for rel_path, key, digest, used
            in rows("SELECT rel_path, key, digest, used_site FROM pages WHERE target = ?",
                    (target,))
            if isinstance(key, str) and isinstance(digest, str)}
        self.groups: dict[str, tuple[str, bool]] = {
            name: (key, bool(used)) for name, key, used
            in rows("SELECT name, key, used_site FROM groups WHERE target = ?", (target,))
            if isinstance(key, str)}
        self.new_groups: dict[str, tuple[str, bool]] = {}
        shared = state.blob(STATIC_PREFIX + target) if state is not None and read else None
        self.previous_static = shared if isinstance(shared, str) else ""  # what every page shared last time
        self.static = ""
        self.kept: set[str] = set()
        self.new: dict[str, list] = {}  # rel_path -> [key, digest, used_site, links]
        self.broken: dict[str, list[str]] = {}  # rel_path -> broken links, as checked now
        self._old_broken: dict[str, list[str]] | None = None
        self._old_links: dict[str, list[str]] | None = None
        self.reused = 0

    def lookup(self, rel_path: str, page_key: str, fingerprints: Fingerprints) -> str | None:
        """Return the live file's digest when it can be reused as is."""
        entry = self.entries.get(rel_path)
        live = self.live.get(rel_path)
        if not live or entry is None:
            return None
        key, digest, used_site_content = entry
        if live[0] != digest or key != fingerprints.full_key(page_key, used_site_content):
            return None
        self.kept.add(rel_path)
        self.reused += 1
        return digest

    def store(self, rel_path: str, page_key: str, used_site_content: bool, content: bytes,
              links: tuple[str, ...], fingerprints: Fingerprints) -> str:
        digest = hashlib.blake2b(content, digest_size=16).hexdigest()
        self.new[rel_path] = [fingerprints.full_key(page_key, used_site_content), digest,
                              used_site_content, list(links)]
        return digest

    def lookup_group(self, name: str, inputs: str, rel_paths: list[str],
                     fingerprints: Fingerprints) -> list[str] | None:
        """Return the live digests of a group of pages last rendered from these inputs,
        when every one of them can be reused as is."""
        stored = self.groups.get(name)
        if stored is None or stored[0] != fingerprints.full_key(inputs, stored[1]):
            return None
        digests = []
        for rel_path in rel_paths:
            entry, live = self.entries.get(rel_path), self.live.get(rel_path)
            if entry is None or not live or live[0] != entry[1]:
                return None
            digests.append(entry[1])
        self.kept.update(rel_paths)
        self.reused += len(rel_paths)
        self.new_groups[name] = stored
        return digests

    def store_group(self, name: str, inputs: str, rel_paths: list[str],
                    fingerprints: Fingerprints) -> None:
        used = any((self.new.get(p) or self.entries.get(p) or (0, 0, True))[2]
                   for p in rel_paths)
        self.new_groups[name] = (fingerprints.full_key(inputs, used), used)

    def start_recording(self) -> None:
        """Forget this process's records: a render worker returns only its own job's."""
        self.new, self.kept, self.new_groups, self.reused = {}, set(), {}, 0

    def take_records(self) -> dict[str, Any]:
        return {"new": self.new, "kept": self.kept, "groups": self.new_groups,
                "reused": self.reused}

    def merge(self, records: dict[str, Any] | None) -> None:
        """Add what a render worker recorded to this build's records."""
        if records:
            self.new.update(records["new"])
            self.kept.update(records["kept"])
            self.new_groups.update(records["groups"])
            self.reused += records["reused"]

    def old_broken(self, rel_path: str) -> list[str]:
        """The links of a reused page that were broken last time."""
        if self._old_broken is None:
            self._old_broken = self._json_column("broken", "AND broken != '[]'")
        return self._old_broken.get(rel_path, [])

    def old_links(self, rel_path: str) -> list[str]:
        """Every link of a reused page."""
        if self._old_links is None:
            self._old_links = self._json_column("links")
        return self._old_links.get(rel_path, [])

    def save(self) -> None:
        """Queue what changed for the state's commit."""
        if self.state is None:
            return
        gone = [p for p in self.entries if p not in self.kept and p not in self.new]
        recheck = [p for p in self.kept
                   if self.broken.get(p, []) != (self._old_broken or {}).get(p, [])]
        if self.static != self.previous_static or self.state.fresh or self.replace_all:
            self.state.put_blob(STATIC_PREFIX + self.target, self.static)
        if (self.new or gone or recheck or self.new_groups != self.groups
                or self.replace_all):
            self.state.change(partial(self._write, gone, recheck))

    def _write(self, gone: list[str], recheck: list[str], db: sqlite3.Connection) -> None:
        target = self.target
        if self.replace_all:
            db.execute("DELETE FROM pages WHERE target = ?", (target,))
        db.executemany("DELETE FROM pages WHERE target = ? AND rel_path = ?",
                       [(target, p) for p in gone])
        db.execute("DELETE FROM groups WHERE target = ?", (target,))
        db.executemany("INSERT INTO groups VALUES (?, ?, ?, ?)",
                       [(target, name, key, int(used)) for name, (key, used)
                        in sorted(self.new_groups.items())])
        db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (target, path, key, digest, int(used), json.dumps(links),
             json.dumps(self.broken.get(path, [])))
            for path, (key, digest, used, links) in self.new.items()])
        db.executemany("UPDATE pages SET broken = ? WHERE target = ? AND rel_path = ?",
                       [(json.dumps(self.broken.get(p, [])), target, p) for p in recheck
                        if p not in self.new])

    def _json_column(self, column: str, where: str = "") -> dict[str, list[str]]:
        values = {}
        if self.state is None:
            return values
        for rel_path, text in self.state.rows(
                f"SELECT rel_path, {column} FROM pages WHERE target = ? {where}",
                (self.target,)):
            try:
                value = json.loads(text)
            except (TypeError, ValueError):
                continue
            if isinstance(value, list) and all(isinstance(u, str) for u in value):
                values[rel_path] = value
        return values
