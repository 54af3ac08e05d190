"""Parsed posts and pages kept beside the site in .cache/, so unchanged files are not
parsed again, nor even read.

The cache is an SQLite file holding JSON, never pickle: a damaged or foreign file can
only be ignored, never run. Every row carries a checksum of its own data, and a row
that does not match it is parsed again. A file is known unchanged by its signature
(size, mtime, inode, ctime) or, failing that, by the hash of its text. Post bodies sit
in their own table and are loaded only for the pages and feeds that are rendered.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import fields, replace
from functools import partial
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import __version__, db
from .errors import ContentError
from .model import Config, ContentFile, Page, Post, Source

CACHE_DIR = ".cache/marginalia"
FORMAT = 6  # bump whenever parsing gives different output for the same input
KEPT_CACHES = 4  # one per recent configuration, e.g. a build and a --base-url preview
SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (rel_path TEXT PRIMARY KEY, signature TEXT NOT NULL,
    text_hash TEXT NOT NULL, kind TEXT NOT NULL, meta TEXT NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bodies (text_hash TEXT PRIMARY KEY, html TEXT NOT NULL,
    checksum TEXT NOT NULL)
"""
UNSETTLED = ""  # the signature stored for a file too fresh to be known by it

# Post fields kept in a row's meta, in order; the body has a table of its own, and
# rel_path and digest are the row's key and text hash.
POST_META = tuple(f.name for f in fields(Post) if f.name not in ("rel_path", "body", "digest"))
PAGE_META = tuple(f.name for f in fields(Page) if f.name != "rel_path")
DATE_FIELDS = frozenset({"date", "updated", "expires"})
TUPLE_FIELDS = frozenset({"tags", "aliases"})

Row = tuple[str, str, str, str, str]  # signature, text_hash, kind, meta, checksum


def cache_path(site_dir: Path, fingerprint: str) -> Path:
    return site_dir / CACHE_DIR / f"parsed-{fingerprint[:20]}.sqlite"


def config_fingerprint(config: Config) -> str:
    """Hash everything that changes how a file parses, and the engine's version.

    Parsing never reads the base URL (links stay site-relative until pages are
    rendered), so a preview on another port or a build for another host reuses it.
    """
    parsed_by = replace(config, base_url="")
    return hashlib.sha256(f"{FORMAT}|{__version__}|{parsed_by!r}".encode()).hexdigest()


def source_key(rel_path: str, text: str) -> str:
    """Key a parsed file by its path and text: a rename changes its URL and links."""
    data = f"{rel_path}\0{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def _checksum(*parts: str) -> str:
    data = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ParseCache:
    """The parsed form of every content file of the last build, loaded once.

    Nothing is written until save(), which the caller runs once the whole build
    has succeeded; a failed build leaves the cache as it was.
    """

    def __init__(self, path: Path | None, fingerprint: str, read: bool = True,
                 memo: dict[str, tuple[Row, Post | Page]] | None = None,
                 load_rows: bool = True):
        self.path = path
        self.fingerprint = fingerprint
        self.read = read
        # Items decoded by an earlier build in this process, by rel_path with their row.
        self.memo = {} if memo is None else memo
        self.rows: dict[str, Row] = {}
        self.updates: dict[str, Row] = {}
        self.new_bodies: dict[str, str] = {}
        self.seen: set[str] = set()
        self.hits = 0
        # Set by the parse stage: parses a file again when its stored body is unusable.
        self.reparse_body: Callable[[str, str], str] = _cannot_reparse
        self._reader: sqlite3.Connection | None = None
        if path is not None and read:
            self._reader = db.open_reader(path, self.schema_id)
        if self._reader is not None and load_rows:
            self.rows = {row[0]: row[1:] for row in db.fetch_all(
                self._reader, "SELECT rel_path, signature, text_hash, kind, meta, checksum "
                "FROM sources") if all(isinstance(value, str) for value in row)}

    @property
    def schema_id(self) -> str:
        return f"parsed {FORMAT} {self.fingerprint}"

    def knows(self, rel_path: str) -> bool:
        """Whether the last build parsed a file at this path."""
        return rel_path in self.rows

    def text_hash(self, rel_path: str) -> str | None:
        """The key of the text this build has for a file, if the cache holds it."""
        row = self.updates.get(rel_path) or self.rows.get(rel_path)
        return row[1] if row else None

    def by_signature(self, found: ContentFile) -> Post | Page | None:
        """Return the file's parsed form when its signature shows it unchanged."""
        row = self.rows.get(found.rel_path)
        if row is None or not found.settled or row[0] != found.signature:
            return None
        return self._use(found.rel_path, row)

    def by_text(self, found: ContentFile | None, text_hash: str) -> Post | Page | None:
        """Return the parsed form of a file read again, when its text is unchanged."""
        rel_path = found.rel_path if found else ""
        row = self.rows.get(rel_path)
        if row is None or row[1] != text_hash:
            return None
        item = self._use(rel_path, row)
        if item is not None and found is not None:
            self.updates[rel_path] = (_signature_to_keep(found), *row[1:])
        return item

    def put(self, found: ContentFile | None, text_hash: str, item: Post | Page) -> None:
        if found is None:
            return
        try:
            kind, meta = encode_item(item)
        except (TypeError, ValueError):
            return
        row = (_signature_to_keep(found), text_hash, kind, meta, _checksum(text_hash, kind, meta))
        self.updates[item.rel_path] = row
        self.memo[item.rel_path] = (row, item)
        if isinstance(item, Post):
            self.new_bodies[text_hash] = item.body_html
        self.seen.add(item.rel_path)

    def stored_body(self, text_hash: str) -> str | None:
        """The HTML of a cached post body, or None when it is missing or damaged."""
        if text_hash in self.new_bodies:
            return self.new_bodies[text_hash]
        if self._reader is None:
            return None
        try:
            row = self._reader.execute("SELECT html, checksum FROM bodies WHERE text_hash = ?",
                                       (text_hash,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None or not isinstance(row[0], str) or row[1] != _checksum(text_hash, row[0]):
            return None
        return row[0]

    def _use(self, rel_path: str, row: Row) -> Post | Page | None:
        known = self.memo.get(rel_path)
        if known is not None and known[0][1:] == row[1:]:
            item = known[1]
            if isinstance(item, Post) and isinstance(item.body, CachedBody):
                item.body.cache = self
        else:
            signature, text_hash, kind, meta, checksum = row
            if checksum != _checksum(text_hash, kind, meta):
                return None
            try:
                item = decode_item(rel_path, kind, meta, text_hash, self)
            except (KeyError, TypeError, ValueError, IndexError, LookupError):
                return None
            self.memo[rel_path] = (row, item)
        self.seen.add(rel_path)
        self.hits += 1
        return item

    def save(self) -> None:
        """Store what this build parsed and drop files that are gone, in one transaction."""
        if self.path is None:
            return
        gone = [path for path in self.rows if path not in self.seen]
        for path in [path for path in self.memo if path not in self.seen]:
            del self.memo[path]
        if self.updates or gone or self.new_bodies:
            db.write(self.path, SCHEMA, self.schema_id, partial(self._write, gone))
        _prune_old_caches(self.path.parent)

    def save_changes(self, replaced: dict[str, str]) -> None:
        """Store the files parsed by a build that read no other row, leaving the other
        rows alone; replaced maps each such file to the text hash it had before."""
        if self.path is not None and self.updates:
            db.write(self.path, SCHEMA, self.schema_id, partial(self._write_changes, replaced))

    def _write_changes(self, replaced: dict[str, str], writer: sqlite3.Connection,
                       fresh: bool) -> None:
        writer.executemany("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                           [(path, *row) for path, row in self.updates.items()])
        writer.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?, ?)",
                           [(key, html, _checksum(key, html))
                            for key, html in self.new_bodies.items()])
        kept = {row[1] for row in self.updates.values()}
        writer.executemany("DELETE FROM bodies WHERE text_hash = ?",
                           [(key,) for key in replaced.values() if key not in kept])

    def _write(self, gone: list[str], writer: sqlite3.Connection, fresh: bool) -> None:
        rows = {path: row for path, row in self.rows.items() if path in self.seen}
        rows.update(self.updates)
        if not self.read:
            # A clean build knows nothing of the old rows: it replaces them all.
            writer.execute("DELETE FROM sources")
            writer.execute("DELETE FROM bodies")
            fresh = True
        if fresh:
            # Bodies the old file held are lost: rows whose body is not at hand go too.
            rows = {path: row for path, row in rows.items()
                    if row[2] != "post" or row[1] in self.new_bodies}
            changed, gone = rows, []
        else:
            changed = self.updates
        writer.executemany("DELETE FROM sources WHERE rel_path = ?", [(p,) for p in gone])
        writer.executemany("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                           [(path, *row) for path, row in changed.items()])
        referenced = {row[1] for row in rows.values()}
        writer.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?, ?)",
                           [(key, html, _checksum(key, html))
                            for key, html in self.new_bodies.items() if key in referenced])
        dropped = {row[1] for row in self.rows.values()} - referenced
        writer.executemany("DELETE FROM bodies WHERE text_hash = ?", [(k,) for k in dropped])

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _cannot_reparse(rel_path: str, text_hash: str) -> str:
    raise ContentError("the cached body of this post is unreadable; build again with "
                       "--no-cache", rel_path)


def _signature_to_keep(found: ContentFile) -> str:
    return found.signature if found.settled else UNSETTLED


def _prune_old_caches(cache_dir: Path) -> None:
    try:
        caches = sorted(cache_dir.glob("parsed-*.sqlite"), key=lambda p: p.stat().st_mtime_ns)
        for stale in caches[:-KEPT_CACHES]:
            stale.unlink(missing_ok=True)
        for old_format in cache_dir.glob("parsed-*.json"):
            old_format.unlink(missing_ok=True)
    except OSError:
        pass


def encode_item(item: Post | Page) -> tuple[str, str]:
    """Return the item's kind and its fields (the body of a post aside) as JSON."""
    is_post = isinstance(item, Post)
    values = [encode_value(name, getattr(item, name))
              for name in (POST_META if is_post else PAGE_META)]
    meta = json.dumps(values, ensure_ascii=False)
    # Front matter 'extra' may hold values JSON cannot keep exactly; then skip caching it.
    if json.loads(json.dumps(item.extra)) != item.extra:
        raise TypeError("extra does not survive JSON")
    return ("post" if is_post else "page"), meta


def encode_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):
        if isinstance(value.tzinfo, ZoneInfo):
            # The wall time and the zone, not an offset: a time in a daylight-saving gap
            # or overlap must come back exactly as it was parsed.
            return [value.replace(tzinfo=None).isoformat(), value.tzinfo.key, value.fold]
        return [value.isoformat(), None, 0]
    if name == "sources":
        return [[s.name, s.url] for s in value]
    return value


def decode_item(rel_path: str, kind: str, meta: str, text_hash: str,
                cache: ParseCache) -> Post | Page:
    """Rebuild a Post or Page from encode_item's output."""
    values = json.loads(meta)
    names = POST_META if kind == "post" else PAGE_META
    if kind not in ("post", "page") or not isinstance(values, list) or len(values) != len(names):
        raise ValueError("a cached entry has the wrong shape")
    data = dict(zip(names, values))
    for name in DATE_FIELDS.intersection(data):
        data[name] = decode_date(data[name])
    for name in TUPLE_FIELDS.intersection(data):
        data[name] = tuple(data[name])
    if kind == "page":
        return Page(rel_path=rel_path, **data)
    if not isinstance(data["date"], datetime):
        raise ValueError("a cached post has no date")
    data["sources"] = tuple(Source(name, url) for name, url in data["sources"])
    return Post(rel_path=rel_path, body=CachedBody(cache, text_hash, rel_path),
                digest=text_hash, **data)


def decode_date(value: list | None) -> datetime | None:
    """Rebuild a date from encode_value's output, refusing one of the wrong shape."""
    if value is None:
        return None
    text, zone, fold = value
    moment = datetime.fromisoformat(text)
    if zone:
        if moment.tzinfo is not None:
            raise ValueError("a cached wall time has an offset")
        return moment.replace(tzinfo=ZoneInfo(zone), fold=fold)
    if moment.tzinfo is None:
        raise ValueError("a cached date has no offset")
    return moment


class CachedBody:
    """A post body in the cache, loaded when a page or feed needs it."""

    __slots__ = ("cache", "text_hash", "rel_path")

    def __init__(self, cache: ParseCache, text_hash: str, rel_path: str):
        self.cache = cache
        self.text_hash = text_hash
        self.rel_path = rel_path

    def load(self) -> str:
        html = self.cache.stored_body(self.text_hash)
        if html is None:
            html = self.cache.reparse_body(self.rel_path, self.text_hash)
            self.cache.new_bodies[self.text_hash] = html  # repaired at save
        return html
