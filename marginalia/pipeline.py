"""The whole build, one stage after another."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeGuard

import jinja2

from .assemble import Visibility, assemble_site, hold_reason
from .cache import ParseCache, config_fingerprint
from .config import load_config
from .discover import SourceTexts, discover_sources
from .errors import BuildError, ContentError, DraftProblems, OutputError, raise_if_any
from .feeds import feed_names
from .images import (add_images, discard_made_images, image_outputs, keep_made_images,
                     prune_image_cache, used_cache_names)
from .incremental import RenderCache
from .links import check_menu_links, find_broken_links
from .model import OutputFile, Site
from .parse import Progress, parse_all
from .related import RelatedCache
from .render import render_site, templates_digest
from .search import SearchOutcome, index_site
from .store import Store, build_lock
from .templates import layout_dirs, load_templates
from .theme import collect_theme
from .write import (ReusedFilesChanged, StagedOutput, WriteSummary, check_output_dir,
                    read_tree_state)

URLS_PREFIX = "post urls "  # and the output folder: its published posts' URLs, by file


@dataclass(frozen=True, slots=True)
class BuildOptions:
    site_dir: Path
    output_dir: Path
    now: datetime
    base_url: str | None = None
    drafts: bool = False
    future: bool = False
    force: bool = False
    preview: bool = False
    strict: bool = False
    no_cache: bool = False
    search: str = "index"  # search.SEARCH_MODES: "keep" in a preview, "off" with --no-search


@dataclass(frozen=True, slots=True)
class BuildResult:
    site: Site
    files: tuple[OutputFile, ...]
    written: WriteSummary
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    warnings: tuple[BuildError, ...] = ()
    notes: tuple[str, ...] = ()  # for -v: why the saved state was not used, if it was not
    search: SearchOutcome = SearchOutcome("disabled", 0, 0.0)


@dataclass
class WarmState:
    """What a long-running preview keeps from one build to the next."""

    fingerprint: str = ""
    parsed: dict = field(default_factory=dict)  # the parse cache's memo, for fingerprint
    templates: jinja2.Environment | None = None
    templates_digest: str = ""
    template_dirs: list[Path] = field(default_factory=list)
    stop_indexing: Callable[[], bool] | None = None  # polled while the search index is made


@dataclass(frozen=True, slots=True)
class LoadedSite:
    site: Site
    texts: SourceTexts  # source rel_path -> its text, to find lines for messages
    cache: ParseCache  # saved by the caller once the whole site is rendered
    problems: tuple[BuildError, ...]  # collected instead of raised, when lenient
    draft_warnings: tuple[BuildError, ...]  # problems of drafts this build leaves out
    related: RelatedCache | None = None  # saved by the caller, like cache


def load_site(options: BuildOptions, state: Store, progress: Progress | None = None,
              lenient: bool = False, warm: WarmState | None = None) -> LoadedSite:
    """Read, check and assemble the site without rendering it.

    Every problem in content/ is raised together; when lenient, they are
    returned instead, with the site assembled from the files that parsed.
    """
    config = load_config(options.site_dir, options.base_url)
    discovered = discover_sources(options.site_dir)
    fingerprint = config_fingerprint(config)
    memo = None
    if warm is not None:
        if warm.fingerprint != fingerprint:
            warm.fingerprint, warm.parsed = fingerprint, {}
        memo = warm.parsed
    cache = ParseCache(state, fingerprint, memo=memo, read=not options.no_cache)
    parsed = parse_all(discovered.sources, config, cache, progress)
    problems = [*discovered.errors, *parsed.errors]
    # A draft never stops a build that leaves it out: its problems are warnings there.
    left_out = [] if options.drafts else [p for p in problems if isinstance(p, DraftProblems)]
    problems = [p for p in problems if p not in left_out]
    if not lenient:
        raise_if_any(problems)
    texts = SourceTexts(discovered.sources)
    visibility = Visibility(now=options.now, drafts=options.drafts, future=options.future)
    site = assemble_site(parsed.posts, parsed.pages, discovered.assets, config, visibility,
                         problems if lenient else None)
    related = RelatedCache(state, read=not options.no_cache)
    site = replace(site, related=related.related_posts(site))
    return LoadedSite(site, texts, cache, tuple(problems),
                      tuple(w for p in left_out for w in p.as_warnings()), related)


def render_files(site: Site, options: BuildOptions, cache: RenderCache | None = None,
                 progress: Progress | None = None,
                 writer: StagedOutput | None = None,
                 warm: WarmState | None = None) -> tuple[OutputFile, ...]:
    """Render every page, feed and copied file of an assembled site."""
    theme = collect_theme(options.site_dir)
    env = _templates(options.site_dir, warm)
    assets = tuple(
        OutputFile(url.lstrip("/"), b"", rel_path, str(options.site_dir / rel_path))
        for rel_path, url in site.asset_urls) + image_outputs(site, options.site_dir)
    return render_site(site, env, theme, options.now, options.preview, assets, cache,
                       progress, writer)


def _templates(site_dir: Path, warm: WarmState | None) -> jinja2.Environment:
    """The layouts, compiled again only when one of them changed since the last build."""
    # A layouts/ folder made or removed since changes where templates are looked for.
    folders = layout_dirs(site_dir)
    if warm is not None and warm.templates is not None and warm.template_dirs == folders:
        if templates_digest(warm.templates) == warm.templates_digest:
            return warm.templates
    env = load_templates(site_dir)
    if warm is not None:
        warm.templates, warm.templates_digest = env, templates_digest(env)
        warm.template_dirs = folders
    return env


def _render_and_write(site: Site, loaded: LoadedSite, options: BuildOptions, state: Store,
                      progress: Progress | None, warm: WarmState | None,
                      distrusted: Collection[str] = ()):
    live = read_tree_state(state, options.output_dir, options.output_dir).files
    reusable = {path: entry for path, entry in live.items() if path not in distrusted}
    render_cache = RenderCache(state, str(options.output_dir), reusable,
                               read=not options.no_cache)
    # Pages are written to the staging tree as they are rendered, never all held.
    with StagedOutput(options.output_dir, state, live) as staged:
        files = render_files(site, options, render_cache, progress, staged, warm)
        raise_if_any(check_menu_links(site.config, files))
        urls_name = URLS_PREFIX + str(options.output_dir)
        before, urls = state.blob(urls_name), published_urls(site, options.now)
        warnings = [*site_warnings(site, files, loaded.texts, render_cache, live),
                    *moved_url_warnings(site, urls, before)]
        if urls != before or state.fresh:
            state.put_blob(urls_name, urls)
        if options.strict:
            raise_if_any(warnings)
        search = index_site(site, files, staged, state, options.site_dir, options.search,
                            distrusted, warm.stop_indexing if warm else None)
        render_cache.save()
        loaded.cache.save()
        if loaded.related is not None:
            loaded.related.save()
        written = staged.finish()  # commits the state, then swaps the new site in
    return files, render_cache, warnings, written, search


def site_warnings(site: Site, files: tuple[OutputFile, ...], texts: SourceTexts,
                  cache: RenderCache | None = None,
                  live: Collection[str] = ()) -> list[BuildError]:
    """What a build warns of: what parsing removed or changed in the published posts
    and pages, and every broken internal link."""
    noticed = [ContentError(message, item.rel_path, line)
               for item in (*site.posts, *site.pages)
               for message, line in sorted(item.warnings, key=lambda warning: warning[1])]
    return [*noticed, *find_broken_links(files, site, texts, cache, live)]


PostUrls = dict[str, tuple[str, str, str]]  # source rel_path -> (url, title, ISO date)


def published_urls(site: Site, now: datetime) -> PostUrls:
    """The URL, title and date of each published post, by its source file."""
    return {post.rel_path: (post.url, post.title, post.date.isoformat())
            for post in site.posts if not hold_reason(post, now)}


def moved_url_warnings(site: Site, current: PostUrls, before: object) -> list[BuildError]:
    """Warn of each published post (those in current) whose URL is not the one it had
    in the last build to this output folder, when nothing serves the old one now.

    A post is followed by its file or, once the file is renamed, by its title and date.
    """
    if not _is_post_urls(before):
        return []  # the first build, or a saved value of the wrong shape: never trusted
    renamed: dict[tuple[str, str], list[str]] = {}
    for rel_path, (url, title, date) in before.items():
        if rel_path not in current:
            renamed.setdefault((title, date), []).append(url)
    served = {url for post in site.posts for url in (post.url, *post.aliases)}
    warnings: list[BuildError] = []
    for post in site.posts:
        if post.rel_path not in current:
            continue
        if post.rel_path in before:
            old_urls = [before[post.rel_path][0]]
        else:
            old_urls = renamed.get((post.title, post.date.isoformat()), [])
        if len(old_urls) != 1 or old_urls[0] in served:
            continue
        aliases = ", ".join((*post.aliases, old_urls[0]))
        warnings.append(ContentError(
            f"the post's URL moved from {old_urls[0]} to {post.url}; to keep the old one "
            f"working, add: aliases: [{aliases}]", post.rel_path))
    return warnings


def _is_post_urls(value: object) -> TypeGuard[PostUrls]:
    return isinstance(value, dict) and all(
        isinstance(path, str) and isinstance(entry, tuple) and len(entry) == 3
        and all(isinstance(part, str) for part in entry) for path, entry in value.items())


@contextmanager
def collection_paused() -> Iterator[None]:
    """Hold off the garbage collector while the site is read and assembled: that makes
    hundreds of thousands of objects and no cycles, and the collections their number
    sets off would cost a fifth of a rebuild."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def build_site(options: BuildOptions, progress: Progress | None = None,
               warm: WarmState | None = None) -> BuildResult:
    """Build the site into options.output_dir, replacing it only on success.

    Every build takes this one route; a clean build is one whose saved state is
    empty. A preview passes the same WarmState to every build, to keep what it can.
    """
    started = time.perf_counter()
    check_output_dir(options.output_dir, options.site_dir, options.force)
    # A preview waits for a build from the command line; the command line says so.
    with build_lock(options.site_dir, wait=options.preview):
        # --no-cache parses and renders everything, but still knows what output/ holds,
        # so that unchanged files keep their mtime and the report says what changed.
        state = Store(options.site_dir)
        try:
            made_images = None
            with collection_paused():
                loaded = load_site(options, state, progress, warm=warm)
            # Pictures are made (or found in their cache) before anything is written,
            # so that a bad one leaves the output as it was.
            site, made_images = add_images(loaded.site, options.site_dir, state,
                                           read=not options.no_cache)
            loaded = replace(loaded, site=site)
            # The site lives until the build ends: later collections need not walk it.
            gc.freeze()
            distrusted: set[str] = set()
            # Files edited by hand in the live output are rendered again; a second pass
            # can find more, once the spare tree that still held them is swept.
            for attempt in range(3):
                try:
                    files, render_cache, warnings, written, search = _render_and_write(
                        loaded.site, loaded, options, state, progress, warm, distrusted)
                    break
                except ReusedFilesChanged as changed:
                    if attempt == 2:
                        raise OutputError("files in the output folder changed while the site "
                                          "was building; build again",
                                          str(options.output_dir / changed.paths[0])) from None
                    state.discard_changes()
                    distrusted.update(changed.paths)
            keep_made_images(made_images, options.site_dir)
            prune_image_cache(options.site_dir, used_cache_names(loaded.site))
        finally:
            state.close()
            if made_images is not None:
                discard_made_images(made_images, options.site_dir)
    site = loaded.site
    counts = {
        "pages": sum(f.rel_path.endswith(".html") for f in files),
        "feeds": sum(f.rel_path.rsplit("/", 1)[-1] in feed_names(True) for f in files),
        "posts": len(site.posts),
        "cached": loaded.cache.hits,
        "reused": render_cache.reused,
    }
    return BuildResult(site, files, written, time.perf_counter() - started,
                       counts, (*loaded.draft_warnings, *warnings),
                       tuple(filter(None, [state.note])), search)
