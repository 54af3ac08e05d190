"""Parsed posts and pages kept in the site's state, so unchanged files are not parsed
again, nor even read.

The state holds an index of every content file of the last build (its signature,
the hash of its text and its parsed fields, as plain values behind a checksum)
and post bodies by text hash, loaded only for the pages and feeds that are
rendered. A file is known unchanged by its signature (size, mtime, inode, ctime)
or, failing that, by the hash of its text.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import __version__
from .errors import ContentError
from .model import Config, ContentFile, Page, Post, RelatedConfig, Source
from .store import Store

FORMAT = 15  # bump whenever parsing gives different output for the same input
INDEX_PREFIX = "parsed "
UNSETTLED = ""  # the signature stored for a file too fresh to be known by it

# Post fields kept in a row, in order; the body is stored apart, and rel_path and
# digest are the row's key and text hash.
POST_META = tuple(f.name for f in fields(Post) if f.name not in ("rel_path", "body", "digest"))
PAGE_META = tuple(f.name for f in fields(Page) if f.name != "rel_path")
DATE_FIELDS = frozenset({"date", "updated", "expires"})
TUPLE_FIELDS = frozenset({"tags", "aliases", "body_images"})
# Where each kind of field sits in a post's row, to rebuild 10,000 posts quickly.
_POST_DATES = tuple(POST_META.index(name) for name in ("date", "updated", "expires"))
_POST_TUPLES = tuple(POST_META.index(name) for name in TUPLE_FIELDS)
_POST_SOURCES = POST_META.index("sources")
_BODY_AT = [f.name for f in fields(Post)].index("body") - 1  # in a row, without rel_path

Row = list  # [signature, text_hash, kind, values]


def config_fingerprint(config: Config) -> str:
    """Hash everything that changes how a file parses, and the engine's version.

    Parsing never reads the base URL (links stay site-relative until pages are
    rendered), nor how many related posts are shown, so a preview on another port, a
    build for another host or another count of related posts reuses it.
    """
    # Parsing counts a post's words only when there are related posts to find.
    parsed_by = replace(config, base_url="",
                        related=RelatedConfig(count=min(config.related.count, 1)))
    return hashlib.sha256(f"{FORMAT}|{__version__}|{parsed_by!r}".encode()).hexdigest()


def source_key(rel_path: str, text: str) -> str:
    """Key a parsed file by its path and text: a rename changes its URL and links."""
    data = f"{rel_path}\0{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def _body_checksum(text_hash: str, html: str) -> str:
    data = f"{text_hash}\0{html}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ParseCache:
    """The parsed form of every content file of the last build.

    Nothing is stored until save(), which queues the changes for the state's
    commit, once the whole build has succeeded.
    """

    def __init__(self, state: Store | None, fingerprint: str,
                 memo: dict[str, tuple[Row, Post | Page]] | None = None, read: bool = True):
        self.state = state
        self.name = INDEX_PREFIX + fingerprint
        self.replace_all = not read  # --no-cache: what is stored is neither used nor kept
        # Items decoded by an earlier build in this process, by rel_path with their row.
        self.memo = {} if memo is None else memo
        index = state.blob(self.name) if state is not None and read else None
        self.rows: dict[str, Row] = index if isinstance(index, dict) else {}
        self.updates: dict[str, Row] = {}
        self.new_bodies: dict[str, str] = {}
        self.seen: set[str] = set()
        self.hits = 0
        # Set by the parse stage: parses a file again when its stored body is unusable.
        self.reparse_body: Callable[[str, str], str] = _cannot_reparse

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
        if not _is_row(row) or not found.settled or row[0] != found.signature:
            return None
        return self._use(found.rel_path, row)

    def by_text(self, found: ContentFile | None, text_hash: str) -> Post | Page | None:
        """Return the parsed form of a file read again, when its text is unchanged."""
        rel_path = found.rel_path if found else ""
        row = self.rows.get(rel_path)
        if not _is_row(row) or row[1] != text_hash:
            return None
        item = self._use(rel_path, row)
        if item is not None and found is not None:
            self.updates[rel_path] = [_signature_to_keep(found), *row[1:]]
        return item

    def put(self, found: ContentFile | None, text_hash: str, item: Post | Page) -> None:
        if found is None:
            return
        try:
            kind, values = encode_item(item)
        except (TypeError, ValueError):
            return
        row = [_signature_to_keep(found), text_hash, kind, values]
        self.updates[item.rel_path] = row
        self.memo[item.rel_path] = (row, item)
        if isinstance(item, Post):
            self.new_bodies[text_hash] = item.body_html
        self.seen.add(item.rel_path)

    def stored_body(self, text_hash: str) -> str | None:
        """The HTML of a cached post body, or None when it is missing or damaged."""
        if text_hash in self.new_bodies:
            return self.new_bodies[text_hash]
        if self.state is None:
            return None
        found = self.state.rows("SELECT html, checksum FROM bodies WHERE text_hash = ?",
                                (text_hash,))
        if not found or not isinstance(found[0][0], str):
            return None
        html, checksum = found[0]
        return html if checksum == _body_checksum(text_hash, html) else None

    def _use(self, rel_path: str, row: Row) -> Post | Page | None:
        known = self.memo.get(rel_path)
        if known is not None and known[0][1:] == row[1:]:
            item = known[1]
            if isinstance(item, Post) and isinstance(item.body, CachedBody):
                item.body.cache = self
        else:
            _, text_hash, kind, values = row
            try:
                item = decode_item(rel_path, kind, values, text_hash, self)
            except (KeyError, TypeError, ValueError, IndexError, LookupError):
                return None
            self.memo[rel_path] = (row, item)
        self.seen.add(rel_path)
        self.hits += 1
        return item

    def save(self) -> None:
        """Queue this build's index and new bodies for the state's commit; files that
        are gone, and bodies no file has any more, are dropped."""
        for path in [path for path in self.memo if path not in self.seen]:
            del self.memo[path]
        if self.state is None:
            return
        rows = {path: row for path, row in self.rows.items() if path in self.seen}
        rows.update(self.updates)
        if rows != self.rows or self.state.fresh or self.replace_all:
            self.state.put_blob(self.name, rows)
        self.state.drop_blobs([name for name in self.state.blob_names(INDEX_PREFIX)
                               if name != self.name])
        referenced = {row[1] for row in rows.values()}
        new = [(key, html, _body_checksum(key, html))
               for key, html in self.new_bodies.items() if key in referenced]
        dropped = [(row[1],) for row in self.rows.values()
                   if _is_row(row) and row[1] not in referenced]
        if self.replace_all:
            self.state.change(lambda db: db.execute("DELETE FROM bodies"))
        if new or dropped:
            self.state.change(lambda db: (
                db.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?, ?)", new),
                db.executemany("DELETE FROM bodies WHERE text_hash = ?", dropped)))


def _is_row(row: object) -> bool:
    return (type(row) is list and len(row) == 4 and type(row[0]) is str
            and type(row[1]) is str and type(row[3]) is list)


def _cannot_reparse(rel_path: str, text_hash: str) -> str:
    raise ContentError("the cached body of this post is unreadable; build again with "
                       "--no-cache", rel_path)


def _signature_to_keep(found: ContentFile) -> str:
    return found.signature if found.settled else UNSETTLED


def encode_item(item: Post | Page) -> tuple[str, list]:
    """Return the item's kind and its fields (the body of a post aside) as plain values."""
    is_post = isinstance(item, Post)
    values = [encode_value(name, getattr(item, name))
              for name in (POST_META if is_post else PAGE_META)]
    # Front matter 'extra' may hold values (dates) that are not plain; then skip caching.
    if marshal.loads(marshal.dumps(item.extra)) != item.extra:
        raise ValueError("extra does not survive being stored")
    return ("post" if is_post else "page"), values


def encode_value(name: str, value: Any) -> Any:
    """A field as plain values. Names that recur across posts (zones, sections, authors,
    tags, outlets) are interned, so the stored index holds each once."""
    if isinstance(value, datetime):
        if isinstance(value.tzinfo, ZoneInfo):
            # The wall time and the zone, not an offset: a time in a daylight-saving gap
            # or overlap must come back exactly as it was parsed.
            return [value.replace(tzinfo=None).isoformat(), sys.intern(value.tzinfo.key),
                    value.fold]
        return [value.isoformat(), None, 0]
    if name == "sources":
        return [[sys.intern(s.name), s.url] for s in value]
    if name in ("section", "author"):
        return sys.intern(value)
    if name == "tags":
        return tuple(map(sys.intern, value))
    return value


def decode_item(rel_path: str, kind: str, values: list, text_hash: str,
                cache: ParseCache) -> Post | Page:
    """Rebuild a Post or Page from encode_item's output; raise for one of the wrong shape."""
    if kind == "page" and len(values) == len(PAGE_META):
        return Page(rel_path, *values)
    if kind != "post" or len(values) != len(POST_META):
        raise ValueError("a cached entry has the wrong shape")
    values = list(values)
    for at in _POST_DATES:
        values[at] = decode_date(values[at])
    if not isinstance(values[_POST_DATES[0]], datetime):
        raise ValueError("a cached post has no date")
    for at in _POST_TUPLES:
        values[at] = tuple(values[at])
    values[_POST_SOURCES] = tuple(Source(name, url) for name, url in values[_POST_SOURCES])
    return Post(rel_path, *values[:_BODY_AT], CachedBody(cache, text_hash, rel_path),
                *values[_BODY_AT:], text_hash)


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
