"""Rebuild after edits that leave every post where it was, from the last build's snapshot.

Most rebuilds follow an edit to the words of a post or two: same URL, section,
date, tags and author. Such a build need not list, read or assemble the other
posts again. It restores the site model from the snapshot, parses the edited
files, and renders only the jobs that can show them (their pages, their
neighbours', the listings, archives and feeds they are in) and the pages that
read site-wide collections. Every other file is kept from the live output,
which is checked for changes made by hand as in any build; the new tree is
staged and swapped in like any other, so the build stays atomic.

Anything else (a file added, removed or moved, a page, an asset, site.toml, a
layout or the theme changed, a post that no longer parses or that moved, a
broken link, the clock passing a post's date) is left to the full pipeline,
which gives the same bytes: build_edits then returns None having written
nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .assemble import link_resolver, resolve_links
from .cache import ParseCache, cache_path, config_fingerprint, source_key
from .config import load_config
from .discover import is_markdown, read_source_at, scan_signatures
from .errors import BuildError, BuildErrors
from .feeds import feed_names
from .incremental import RENDER_CACHE_NAME, RenderCache
from .links import find_broken_links
from .model import Config, ContentFile, Post, Site
from .parse import parse_source
from .pool import run_jobs
from .render import Renderer, jobs_showing
from .snapshot import (PAGE_ROW, POST_ROW, Snapshot, decode_post, encode_post, in_window,
                       load_snapshot, make_snapshot, options_key, post_index,
                       record_changes, remove_snapshot, restore_site, save_snapshot,
                       snapshot_path)
from .templates import load_templates
from .theme import collect_theme
from .write import (ReusedFilesChanged, StagedOutput, WriteSummary, build_lock,
                    manifest_identity, read_manifest, state_dir)

if TYPE_CHECKING:
    from .pipeline import BuildOptions, LoadedSite

# More touched or edited files than these at once are left to the full pipeline.
MAX_TOUCHED = 256
MAX_EDITED = 32


class NotAnEdit(Exception):
    """The build needs the full pipeline after all; the message says why."""


@dataclass(frozen=True, slots=True)
class EditedBuild:
    site: Site
    written: WriteSummary
    counts: dict[str, int]
    edited: int  # posts read again


def build_edits(options: BuildOptions) -> EditedBuild | str:
    """Build the site after edits to posts alone, or say why the full pipeline must."""
    if options.no_cache:
        return "--no-cache"
    if options.preview:
        return "a preview"
    with collection_paused():
        try:
            return _build_edits(options)
        except NotAnEdit as declined:
            return str(declined)


@contextmanager
def collection_paused() -> Iterator[None]:
    """Hold off the garbage collector while a snapshot is read or written: that makes
    hundreds of thousands of objects and no cycles, and the collection passes their
    number sets off cost a fifth of a rebuild and two thirds of writing a snapshot."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _build_edits(options: BuildOptions) -> EditedBuild:
    path = snapshot_path(state_dir(options.output_dir))
    snapshot = load_snapshot(path)
    if snapshot is None:
        raise NotAnEdit("no usable snapshot of the last build")
    if snapshot.options != snapshot_options(options):
        raise NotAnEdit("the last build had other options")
    if not in_window(snapshot.window, options.now):
        raise NotAnEdit("a post's date or expiry has come since the last build")
    scanned = scan_signatures(options.site_dir)
    if scanned is None:
        raise NotAnEdit("content/ holds a symbolic link or cannot be listed")
    if scanned[0].keys() != snapshot.sources.keys():
        raise NotAnEdit("files were added to, removed from or renamed in content/")
    signatures, unsettled = scanned
    # A file changed within the timestamps' resolution may keep its signature: one that
    # was too fresh to trust then, or is now, is looked at by its content.
    doubtful = unsettled.union(snapshot.unsettled)
    touched = [p for p, signature in signatures.items()
               if signature != snapshot.sources[p] or p in doubtful]
    if len(touched) > MAX_TOUCHED:
        raise NotAnEdit(f"{len(touched)} files under content/ changed")
    try:
        config = load_config(options.site_dir, options.base_url)
    except BuildError:
        raise NotAnEdit("site.toml has a problem") from None
    fingerprint = config_fingerprint(config)
    if fingerprint != snapshot.parse_fingerprint:
        raise NotAnEdit("site.toml changed")
    cache = ParseCache(cache_path(options.site_dir, fingerprint), fingerprint, load_rows=False)
    try:
        edits = _read_edits(options, snapshot, config, cache, touched, signatures, unsettled)
        return _rebuild(options, snapshot, config, cache, edits, signatures, unsettled,
                        touched, path)
    except ReusedFilesChanged as changed:
        raise NotAnEdit(f"output/{changed.paths[0]} was changed by hand") from None
    except BuildError as problem:
        first = problem.errors[0] if isinstance(problem, BuildErrors) else problem
        raise NotAnEdit(f"{first.path or 'a file'} has a problem") from None
    finally:
        cache.close()


def snapshot_options(options: BuildOptions) -> list:
    return options_key(options.site_dir, options.output_dir, options.base_url,
                       options.drafts, options.future)


class Edits:
    """The posts whose text changed, parsed again, and what the site links to."""

    def __init__(self, snapshot: Snapshot):
        self.positions = post_index(snapshot)
        self.targets, self.parsed = _link_targets(snapshot)
        self.posts: dict[str, Post] = {}
        self.hashes: dict[str, str] = {}

    def resolver(self, rel_path: str):
        return link_resolver(rel_path, self.targets, self.parsed, {}, [])


def _read_edits(options: BuildOptions, snapshot: Snapshot, config: Config, cache: ParseCache,
                touched: list[str], signatures: dict[str, str], unsettled: set[str]) -> Edits:
    """Parse the touched posts whose text changed; raise NotAnEdit for anything else."""
    edits = Edits(snapshot)
    pages = {row[0]: text_hash for row, text_hash in zip(snapshot.pages, snapshot.page_hashes)}
    for rel_path in touched:
        if not is_markdown(rel_path):
            # An asset is copied, and known by its size and mtime, in every build.
            if _size_and_mtime(signatures[rel_path]) != _size_and_mtime(
                    snapshot.sources[rel_path]):
                raise NotAnEdit(f"{rel_path} changed")
            continue
        source = read_source_at(options.site_dir / rel_path, rel_path)
        text_hash = source_key(rel_path, source.text)
        index = edits.positions.get(rel_path)
        if index is None:
            if pages.get(rel_path) != text_hash:
                raise NotAnEdit(f"{rel_path} changed")
            continue
        if text_hash == snapshot.text_hashes[index]:
            continue
        if len(edits.posts) == MAX_EDITED:
            raise NotAnEdit(f"more than {MAX_EDITED} posts changed")
        post = parse_source(source, config)
        old = _decode(snapshot, index, cache, edits)
        if not isinstance(post, Post) or place_of(post) != place_of(old):
            raise NotAnEdit(f"{rel_path} moved: its URL, section, dates, tags, author, "
                            "draft state or aliases changed")
        post, errors = resolve_links(post, edits.targets, edits.parsed)
        if errors:
            raise NotAnEdit(f"{rel_path} links to a file that is not published")
        edits.posts[rel_path], edits.hashes[rel_path] = post, text_hash
        cache.put(ContentFile(rel_path, "post", "", signatures[rel_path],
                              settled=rel_path not in unsettled), text_hash, post)
    return edits


def _decode(snapshot: Snapshot, index: int, cache: ParseCache, edits: Edits) -> Post:
    try:
        return decode_post(snapshot.posts[index], cache, snapshot.text_hashes[index],
                           edits.resolver)
    except (TypeError, ValueError, KeyError, IndexError):
        raise NotAnEdit("the snapshot of the last build is damaged") from None


def _size_and_mtime(signature: str) -> list[str]:
    return signature.split(":")[:2]


def _rebuild(options: BuildOptions, snapshot: Snapshot, config: Config, cache: ParseCache,
             edits: Edits, signatures: dict[str, str], unsettled: set[str],
             touched: list[str], path: Path) -> EditedBuild:
    cache.reparse_body = lambda rel_path, text_hash: _reparse(options.site_dir, config,
                                                              rel_path, text_hash)
    try:
        site = restore_site(snapshot, config, cache, edits.posts, edits.resolver)
    except (TypeError, ValueError, KeyError, IndexError):
        raise NotAnEdit("the snapshot of the last build is damaged") from None
    env, theme = load_templates(options.site_dir), collect_theme(options.site_dir)
    with build_lock(options.output_dir):
        if manifest_identity(options.output_dir) != snapshot.manifest_identity:
            raise NotAnEdit("the output folder changed since the last build")
        live = read_manifest(options.output_dir, options.output_dir)
        render_cache = RenderCache(state_dir(options.output_dir) / RENDER_CACHE_NAME, live)
        try:
            renderer = Renderer(site, env, theme, options.now, False, render_cache)
            if renderer.fingerprints.static != snapshot.static:
                raise NotAnEdit("site.toml, a layout, the theme or a standing page changed")
            readers = {p for p, (_, _, used) in render_cache.entries.items() if used}
            published = {p.rel_path: p for p in site.posts}
            shown = [published[p] for p in edits.posts if p in published]
            written = _write(options, site, renderer, shown, readers, live, render_cache)
            render_cache.keep_unvisited()
            render_cache.save()
        finally:
            render_cache.close()
        cache.save_changes({p: snapshot.text_hashes[edits.positions[p]] for p in edits.posts})
        _save_after(snapshot, path, options.output_dir, edits, signatures, unsettled, touched)
    counts = {
        "pages": sum(p.endswith(".html") for p in live),
        "feeds": sum(p.rsplit("/", 1)[-1] in feed_names(True) for p in live),
        "posts": len(site.posts),
        "cached": len(snapshot.posts) + len(snapshot.pages) - len(edits.posts),
        "reused": render_cache.reused,
    }
    return EditedBuild(site, written, counts, len(edits.posts))


def _write(options: BuildOptions, site: Site, renderer: Renderer, shown: list[Post],
           readers: set[str], live: dict[str, list],
           render_cache: RenderCache) -> WriteSummary:
    """Render what the edits can change into a staging tree that keeps everything else."""
    with StagedOutput(options.output_dir, live) as staged:
        made = list(renderer.theme.files)
        for outcome in run_jobs(jobs_showing(site, renderer, shown, readers), render_cache,
                                parallel=False):
            if isinstance(outcome, BuildError):
                raise outcome
            made += outcome
        # Redirect pages are never cached, so any could read what changed: all are made.
        made += [renderer.redirect_page(alias, post) for post in site.posts
                 for alias in post.aliases]
        if any(output.rel_path not in live for output in made):
            raise NotAnEdit("the theme has a new file")
        if find_broken_links([f for f in made if f.links], site, {}, existing=live.keys()):
            # The full pipeline words the warning and places it.
            raise NotAnEdit("a page links to nothing")
        for output in made:
            staged.place(output)
        staged.keep_live()
        return staged.finish()


def place_of(post: Post) -> tuple:
    """What decides which pages list a post, and where, besides its own page: while it
    holds, an edit changes only the pages and feeds that show the post."""
    return (post.url, post.section, post.date.isoformat(),
            post.updated and post.updated.isoformat(),
            post.expires and post.expires.isoformat(), post.tags, post.author, post.draft,
            post.aliases)


def _link_targets(snapshot: Snapshot) -> tuple[dict[str, str], set[str]]:
    """Every published file's URL, as assemble_site maps them, and every parsed file."""
    post_url, page_url = POST_ROW.index("url"), PAGE_ROW.index("url")
    targets = {row[0]: row[post_url] for row in snapshot.posts[:snapshot.published]}
    targets.update({row[0]: row[page_url] for row in snapshot.pages})
    targets.update(dict(snapshot.asset_urls))
    parsed = {*targets, *(row[0] for row in snapshot.posts)}
    return targets, parsed


def _reparse(site_dir: Path, config: Config, rel_path: str, text_hash: str) -> str:
    """A post body missing from the parse cache: parse its unchanged file again."""
    source = read_source_at(site_dir / rel_path, rel_path)
    if source_key(rel_path, source.text) != text_hash:
        raise NotAnEdit(f"{rel_path} changed while the site was building")
    return parse_source(source, config).body_html


def _save_after(snapshot: Snapshot, path: Path, output_dir: Path, edits: Edits,
                signatures: dict[str, str], unsettled: set[str], touched: list[str]) -> None:
    record_changes(path, snapshot,
                   {p: [encode_post(post), edits.hashes[p]]
                    for p, post in edits.posts.items()},
                   {p: signatures[p] for p in touched}, sorted(unsettled),
                   manifest_identity(output_dir))


def remember_build(options: BuildOptions, loaded: LoadedSite, static: str,
                   clean: bool) -> None:
    """Snapshot a full build that succeeded, for the next build to start from; a build
    with warnings, or a file the parse cache could not keep, leaves none."""
    path = snapshot_path(state_dir(options.output_dir))
    site, cache = loaded.site, loaded.cache
    hashes = {item.rel_path: cache.text_hash(item.rel_path)
              for item in (*site.posts, *site.held_back, *site.pages)}
    identity = manifest_identity(options.output_dir)
    if options.preview or not clean or identity is None or not all(hashes.values()):
        remove_snapshot(path)
        return
    with collection_paused():
        save_snapshot(path, make_snapshot(site, snapshot_options(options), cache.fingerprint,
                                          static, identity, loaded.signatures,
                                          sorted(loaded.unsettled), options.now, hashes))
