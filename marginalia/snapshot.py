"""The assembled site of the last build, kept beside the output for the next one.

A rebuild after a few edits to posts needs the whole site model (listings,
neighbours, feeds), but reading 10,000 cached posts back and assembling them
costs more than everything else such a rebuild does. The snapshot holds the
model as plain values (no bodies; those stay in the parse cache) together with
what the build saw: the signature of every content file, the render cache's
shared fingerprint and the identity of the output's manifest. It is sealed
(sealed.py: marshal behind a checksum) and its shape is checked on reading, so a
damaged, truncated or foreign file is ignored, never trusted. A build that
starts from the snapshot records what it changed in a small file beside it,
rather than writing the whole snapshot again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from . import __version__
from .cache import CachedBody, ParseCache, decode_date, encode_value
from .model import (ArchiveMonth, ArchiveYear, Author, Config, Neighbours, Page, Post,
                    Section, Site, Source, StoredBody, Tag)
from .sealed import read_sealed, write_sealed
from .urls import rewrite_urls

SNAPSHOT_NAME = "site.snapshot"
MAGIC = b"MRGSNAP1"

# Post fields kept as a row, in order; the body stays in the parse cache.
POST_ROW = tuple(f.name for f in fields(Post) if f.name != "body")
PAGE_ROW = tuple(f.name for f in fields(Page))
DATE_FIELDS = ("date", "updated", "expires")
_DATES_AT = [POST_ROW.index(name) for name in DATE_FIELDS]
(_SECTION_AT, _AUTHOR_AT, _SOURCES_AT, _TAGS_AT, _ALIASES_AT, _DIGEST_AT, _SUMMARY_AT,
 _DEK_AT) = (POST_ROW.index(name) for name in (
    "section", "author", "sources", "tags", "aliases", "digest", "summary", "dek"))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the last build published and from what, as plain values."""

    options: list  # the build options that shape the output; see options_key
    parse_fingerprint: str
    static: str  # the render cache's fingerprint of what every page shares
    manifest_identity: list  # the live output's manifest file: inode, size, mtimes
    sources: dict[str, str]  # every file under content/ -> its signature
    unsettled: list[str]  # files changed too recently to be known by their signature
    window: list  # [after, until]: timestamps between which no post appears or expires
    posts: list  # rows: the published posts newest first, then the held-back ones
    published: int
    text_hashes: list[str]  # each post's parse cache key, in the order of posts
    pages: list
    page_hashes: list[str]
    sections: list  # per section of site.toml: indexes into posts
    tags: list  # [name, slug, url, indexes]
    authors: list  # [name, slug, url, indexes]
    archives: list  # [year, url, [[year, month, url, indexes], ...]]
    asset_urls: list
    newest: int  # index of the post whose date is the site's newest, or -1
    oldest: int


def snapshot_path(state_dir: Path) -> Path:
    return state_dir / SNAPSHOT_NAME


def options_key(site_dir: Path, output_dir: Path, base_url: str | None, drafts: bool,
                future: bool) -> list:
    """The options that change what a build publishes, to match a snapshot against."""
    return [__version__, str(site_dir), str(output_dir), base_url or "", drafts, future]


def visibility_window(posts: list[Post], now: datetime) -> list:
    """The span around now in which no post's date or expiry falls: while the clock stays
    in it, the same posts are published."""
    moments = [m.timestamp() for p in posts for m in (p.date, p.expires) if m is not None]
    stamp = now.timestamp()
    after = max((m for m in moments if m <= stamp), default=None)
    until = min((m for m in moments if m > stamp), default=None)
    return [after, until]


def in_window(window: list, now: datetime) -> bool:
    after, until = window
    stamp = now.timestamp()
    return (after is None or after <= stamp) and (until is None or stamp < until)


def make_snapshot(site: Site, options: list, parse_fingerprint: str, static: str,
                  manifest_identity: list, sources: dict[str, str], unsettled: list[str],
                  now: datetime, text_hashes: Mapping[str, str]) -> Snapshot:
    """Describe an assembled site as plain values."""
    posts = [*site.posts, *site.held_back]
    index = {id(p): i for i, p in enumerate(posts)}

    def indexes(listing) -> list[int]:
        return [index[id(p)] for p in listing]

    return Snapshot(
        options=options, parse_fingerprint=parse_fingerprint, static=static,
        manifest_identity=manifest_identity, sources=sources, unsettled=unsettled,
        window=visibility_window(posts, now),
        posts=[encode_post(p) for p in posts], published=len(site.posts),
        text_hashes=[text_hashes[p.rel_path] for p in posts],
        pages=[[getattr(page, name) for name in PAGE_ROW] for page in site.pages],
        page_hashes=[text_hashes[p.rel_path] for p in site.pages],
        sections=[indexes(s.posts) for s in site.sections],
        tags=[[t.name, t.slug, t.url, indexes(t.posts)] for t in site.tags],
        authors=[[a.name, a.slug, a.url, indexes(a.posts)] for a in site.authors],
        archives=[[y.year, y.url, [[m.year, m.month, m.url, indexes(m.posts)]
                                   for m in y.months]] for y in site.archives],
        asset_urls=[list(pair) for pair in site.asset_urls],
        newest=_index_of(site.posts, site.newest_date, index),
        oldest=_index_of(site.posts, site.oldest_date, index))


def _index_of(posts: tuple[Post, ...], date: datetime | None, index: dict[int, int]) -> int:
    if date is None:
        return -1
    return index[id(next(p for p in posts if p.date is date))]


def encode_post(post: Post) -> list:
    """The post's fields as plain values. Names that recur across posts (sections,
    authors, tags, outlets, zones) are interned, so marshal stores each once; a
    summary that repeats the dek is left out."""
    row = [encode_value(name, getattr(post, name)) for name in POST_ROW]
    for at in _DATES_AT:
        if row[at] is not None and row[at][1]:
            row[at][1] = sys.intern(row[at][1])
    row[_SECTION_AT], row[_AUTHOR_AT] = sys.intern(post.section), sys.intern(post.author)
    row[_TAGS_AT] = tuple(map(sys.intern, post.tags))
    row[_SOURCES_AT] = [[sys.intern(s.name), s.url] for s in post.sources]
    if post.summary == post.dek:
        row[_SUMMARY_AT] = None
    return row


def save_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write the snapshot whole or not at all; one that cannot be written is dropped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _changes_path(path).unlink(missing_ok=True)
        write_sealed(path, MAGIC, [getattr(snapshot, f.name) for f in fields(Snapshot)])
    except (OSError, ValueError):  # ValueError: 'extra' holds a value marshal cannot keep
        remove_snapshot(path)


def remove_snapshot(path: Path) -> None:
    try:
        _changes_path(path).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    except OSError:
        pass


def load_snapshot(path: Path) -> Snapshot | None:
    """Read a snapshot and the changes recorded since it was written, or None when it is
    missing, damaged or of another version."""
    values = read_sealed(path, MAGIC)
    names = [f.name for f in fields(Snapshot)]
    if not isinstance(values, list) or len(values) != len(names):
        return None
    snapshot = Snapshot(**dict(zip(names, values)))
    if not _well_formed(snapshot):
        return None
    changes = _read_changes(path)
    return _with_changes(snapshot, changes) if changes is not None else snapshot


# Edited posts recorded beside the snapshot before it is written again whole.
MAX_CHANGED_POSTS = 64
CHANGES_MAGIC = b"MRGEDIT1"


@dataclass(frozen=True, slots=True)
class Changes:
    """What builds after the snapshot changed: far smaller than the snapshot itself."""

    base: list  # the identity of the snapshot file they apply to
    posts: dict  # rel_path -> [row, text_hash]
    sources: dict  # rel_path -> signature, for files whose signature changed
    unsettled: list
    manifest_identity: list


def record_changes(path: Path, snapshot: Snapshot, posts: dict[str, list],
                   sources: dict[str, str], unsettled: list[str],
                   manifest_identity: list | None) -> None:
    """Record a build that changed only these posts' rows and these files' signatures:
    in a small file beside the snapshot, or in the snapshot itself once there are many."""
    previous = _read_changes(path)
    merged_posts = {**(previous.posts if previous else {}), **posts}
    merged_sources = {**(previous.sources if previous else {}), **sources}
    base = _identity(path)
    if manifest_identity is None:
        remove_snapshot(path)
        return
    if len(merged_posts) > MAX_CHANGED_POSTS or base is None:
        whole = _with_changes(snapshot, Changes([], posts, sources, unsettled,
                                                manifest_identity))
        if whole is None:
            remove_snapshot(path)
        else:
            save_snapshot(path, whole)
        return
    changes = Changes(base, merged_posts, merged_sources, unsettled, manifest_identity)
    try:
        write_sealed(_changes_path(path), CHANGES_MAGIC,
                     [getattr(changes, f.name) for f in fields(Changes)])
    except (OSError, ValueError):
        remove_snapshot(path)


def _changes_path(path: Path) -> Path:
    return path.with_name(path.name + ".changes")


def _identity(path: Path) -> list | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _read_changes(path: Path) -> Changes | None:
    """The changes recorded for this very snapshot file, if any."""
    values = read_sealed(_changes_path(path), CHANGES_MAGIC)
    names = [f.name for f in fields(Changes)]
    if not isinstance(values, list) or len(values) != len(names):
        return None
    changes = Changes(**dict(zip(names, values)))
    if changes.base != _identity(path) or not (
            isinstance(changes.posts, dict) and isinstance(changes.sources, dict)
            and _lists(changes.unsettled, changes.manifest_identity)
            and all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], list)
                    and len(v[0]) == len(POST_ROW) for v in changes.posts.values())):
        return None
    return changes


def _with_changes(snapshot: Snapshot, changes: Changes) -> Snapshot | None:
    posts, text_hashes = list(snapshot.posts), list(snapshot.text_hashes)
    if changes.posts:
        positions = post_index(snapshot)
        for rel_path, (row, text_hash) in changes.posts.items():
            if rel_path not in positions:
                return None
            posts[positions[rel_path]], text_hashes[positions[rel_path]] = row, text_hash
    return replace(snapshot, posts=posts, text_hashes=text_hashes,
                   sources={**snapshot.sources, **changes.sources},
                   unsettled=changes.unsettled,
                   manifest_identity=changes.manifest_identity)


def _well_formed(snapshot: Snapshot) -> bool:
    """Check the shape of everything a rebuild indexes into; values are checked as used."""
    if not (_lists(snapshot.options, snapshot.manifest_identity, snapshot.unsettled,
                   snapshot.window, snapshot.posts, snapshot.text_hashes, snapshot.pages,
                   snapshot.page_hashes, snapshot.sections, snapshot.tags, snapshot.authors,
                   snapshot.archives, snapshot.asset_urls)
            and isinstance(snapshot.sources, dict) and len(snapshot.window) == 2):
        return False
    count = len(snapshot.posts)
    if not (all(isinstance(r, list) and len(r) == len(POST_ROW) for r in snapshot.posts)
            and all(isinstance(r, list) and len(r) == len(PAGE_ROW) for r in snapshot.pages)
            and len(snapshot.text_hashes) == count
            and len(snapshot.page_hashes) == len(snapshot.pages)
            and type(snapshot.published) is int and 0 <= snapshot.published <= count
            and all(type(i) is int and -1 <= i < count
                    for i in (snapshot.newest, snapshot.oldest))
            and all(isinstance(t, list) and len(t) == 4
                    for t in (*snapshot.tags, *snapshot.authors))
            and all(isinstance(y, list) and len(y) == 3 and isinstance(y[2], list)
                    and all(isinstance(m, list) and len(m) == 4 for m in y[2])
                    for y in snapshot.archives)):
        return False
    listings = [*snapshot.sections, *(t[3] for t in (*snapshot.tags, *snapshot.authors)),
                *(m[3] for y in snapshot.archives for m in y[2])]
    return all(isinstance(ix, list) and all(type(i) is int and 0 <= i < count for i in ix)
               for ix in listings)


def _lists(*values: Any) -> bool:
    return all(isinstance(v, list) for v in values)


class SnapshotNeighbours(Mapping[str, Neighbours]):
    """Each published post's older and newer post in its section, found when asked."""

    def __init__(self, sections: tuple[Section, ...]):
        self._place = {post.rel_path: (section.posts, index) for section in sections
                       for index, post in enumerate(section.posts)}

    def __getitem__(self, rel_path: str) -> Neighbours:
        posts, index = self._place[rel_path]
        return Neighbours(previous=posts[index + 1] if index + 1 < len(posts) else None,
                          next=posts[index - 1] if index > 0 else None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._place)

    def __len__(self) -> int:
        return len(self._place)


class ResolvedBody:
    """A cached body whose links to other content files are pointed at their URLs when
    it is loaded, as the assembled site had them."""

    __slots__ = ("stored", "resolve")

    def __init__(self, stored: StoredBody, resolve):
        self.stored = stored
        self.resolve = resolve

    def load(self) -> str:
        return rewrite_urls(self.stored.load(), self.resolve)


def restore_site(snapshot: Snapshot, config: Config, cache: ParseCache,
                 replaced: Mapping[str, Post], resolver) -> Site:
    """Rebuild the site model from a snapshot, with some posts replaced by new ones
    that keep their place. resolver(rel_path) makes a post's link resolver."""
    posts = []
    for row, text_hash in zip(snapshot.posts, snapshot.text_hashes):
        rel_path = row[0]
        post = replaced.get(rel_path)
        if post is None:
            post = decode_post(row, cache, text_hash, resolver)
        posts.append(post)
    published = tuple(posts[:snapshot.published])

    def pick(indexes: list[int]) -> tuple[Post, ...]:
        return tuple(posts[i] for i in indexes)

    sections = tuple(Section(s.name, s.slug, s.description, f"/{s.slug}/", pick(indexes))
                     for s, indexes in zip(config.sections, snapshot.sections))
    return Site(
        config=config, posts=published,
        pages=tuple(decode_page(row) for row in snapshot.pages),
        sections=sections,
        tags=tuple(Tag(name, slug, url, pick(ix)) for name, slug, url, ix in snapshot.tags),
        authors=tuple(Author(name, slug, url, pick(ix))
                      for name, slug, url, ix in snapshot.authors),
        archives=tuple(ArchiveYear(year, url, tuple(
            ArchiveMonth(y, m, month_url, pick(ix)) for y, m, month_url, ix in months))
            for year, url, months in snapshot.archives),
        neighbours=SnapshotNeighbours(sections),  # type: ignore[arg-type]
        held_back=tuple(posts[snapshot.published:]),
        newest_date=posts[snapshot.newest].date if snapshot.newest >= 0 else None,
        oldest_date=posts[snapshot.oldest].date if snapshot.oldest >= 0 else None,
        asset_urls=tuple((rel_path, url) for rel_path, url in snapshot.asset_urls))


_POST_FIELDS = [f.name for f in fields(Post)]
_BODY_AT = _POST_FIELDS.index("body")


def decode_post(row: list, cache: ParseCache, text_hash: str, resolver) -> Post:
    """Make a post from its row; its body is loaded from the parse cache when needed."""
    values = list(row)
    for at in _DATES_AT:
        values[at] = decode_date(values[at])
    values[_SOURCES_AT] = tuple(Source(name, url) for name, url in values[_SOURCES_AT])
    values[_TAGS_AT], values[_ALIASES_AT] = tuple(values[_TAGS_AT]), tuple(values[_ALIASES_AT])
    if values[_SUMMARY_AT] is None:
        values[_SUMMARY_AT] = values[_DEK_AT]
    body: StoredBody = CachedBody(cache, text_hash, values[0])
    if values[_DIGEST_AT] != text_hash:  # its links to other content files were resolved
        body = ResolvedBody(body, resolver(values[0]))
    values.insert(_BODY_AT, body)
    return Post(*values)


def decode_page(row: list) -> Page:
    return Page(**dict(zip(PAGE_ROW, row)))


def post_index(snapshot: Snapshot) -> dict[str, int]:
    """Where each post's row is, by rel_path."""
    return {row[0]: index for index, row in enumerate(snapshot.posts)}
