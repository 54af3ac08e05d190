"""Show an edited post in the preview at once, ahead of the full rebuild.

Most edits change a post's words and leave its place in the site as it was: the
same URL, section, date, tags and author. Its page can then be rendered against
the last build's site in milliseconds and served from memory, while the full
build that follows brings every other page (listings, feeds, its neighbours) up
to date and replaces it. Hugo's server likewise renders the pages open in the
browser first.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import jinja2

from .assemble import resolve_links_against
from .discover import read_source_at
from .errors import BuildError
from .engines import prepare_converter
from .images import ImagePlanner, SourceReader
from .model import Post, Site
from .parse import parse_source
from .pipeline import BuildOptions
from .render import Renderer
from .theme import collect_theme


@dataclass(frozen=True, slots=True)
class LastBuild:
    """What the preview keeps of its last successful build, ready to render with."""

    options: BuildOptions
    site: Site
    published: dict[str, Post]  # by rel_path
    renderer: Renderer


def remember_build(options: BuildOptions, site: Site,
                   templates: jinja2.Environment) -> LastBuild | None:
    """Keep a build for quick renders, with the Markdown converter they will need;
    None when its theme cannot be read (the next build will say why)."""
    try:
        theme = collect_theme(options.site_dir)
    except (BuildError, OSError):
        return None
    prepare_converter(site.config.markdown)
    return LastBuild(options, site, {post.rel_path: post for post in site.posts},
                     Renderer(site, templates, theme, options.now, preview=True))


def render_edited_posts(last: LastBuild, rel_paths: Collection[str]) -> dict[str, bytes] | None:
    """The new page of each edited post, by output path.

    None when any of the files cannot be shown this way and must wait for the full
    build: it is not a post the last build published, it no longer parses, or the
    edit moved it (a new URL, section, date, tag or author changes other pages).
    """
    if not rel_paths or not all(p in last.published for p in rel_paths):
        return None
    pages = {}
    try:
        for rel_path in sorted(rel_paths):
            post = _read_again(last, rel_path)
            if post is None or _place(post) != _place(last.published[rel_path]):
                return None
            _plan_images(last, post)
            page = last.renderer.post_page(post)
            pages[page.rel_path] = page.content
    except BuildError:
        return None
    return pages


def _read_again(last: LastBuild, rel_path: str) -> Post | None:
    source = read_source_at(last.options.site_dir / rel_path, rel_path)
    item = parse_source(source, last.site.config)
    if not isinstance(item, Post):
        return None
    return resolve_links_against(last.site, item)


def _plan_images(last: LastBuild, post: Post) -> None:
    """Give the edited post the pictures the full build will give it (a new title makes
    a new card); the files themselves come with that build."""
    planner = ImagePlanner(last.site, last.options.site_dir,
                           SourceReader(last.options.site_dir, None))
    images = planner.post_images(post)
    if images != last.renderer.images.get(post.rel_path):
        last.renderer.images = {**last.renderer.images, post.rel_path: images}


def _place(post: Post) -> tuple:
    """What puts a post on pages other than its own."""
    return (post.url, post.section, post.date, post.tags, post.author, post.draft,
            post.expires, post.aliases)
