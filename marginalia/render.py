"""Render the site model into output files: pages, indexes and feeds."""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from markupsafe import Markup

from .errors import BuildError, OutputCollisionError, raise_if_any
from .feeds import permalink, render_rss
from .model import OutputFile, Page, Post, Site
from .templates import render_template
from .theme import Theme
from .urls import prefix_root_relative, rewrite_urls


@dataclass(frozen=True, slots=True)
class Pager:
    """One page of a paginated listing; page 1 is the listing's own URL."""

    number: int
    total: int
    posts: tuple[Post, ...]
    url: str
    previous_url: str | None
    next_url: str | None
    first_url: str


def paginate(posts: Sequence[Post], per_page: int, base_url: str) -> list[Pager]:
    """Split posts into pages at base_url, base_url/page/2/, ..."""
    total = max(1, -(-len(posts) // per_page))
    urls = [base_url] + [f"{base_url}page/{n}/" for n in range(2, total + 1)]
    return [Pager(number=n, total=total,
                  posts=tuple(posts[(n - 1) * per_page:n * per_page]), url=urls[n - 1],
                  previous_url=urls[n - 2] if n > 1 else None,
                  next_url=urls[n] if n < total else None, first_url=base_url)
            for n in range(1, total + 1)]


class Renderer:
    """Holds what every page shares, and renders one kind of output at a time."""

    def __init__(self, site: Site, env: jinja2.Environment, theme: Theme,
                 preview: bool = False):
        self.site = site
        self.env = env
        self.theme = theme
        self.preview = preview
        self.config = site.config
        self.to_site = prefix_root_relative(self.config.base_path)
        self.shared = self._shared_context()

    def _shared_context(self) -> dict[str, Any]:
        config, site = self.config, self.site
        header = [p for p in site.pages if p.menu == "header"]
        footer_pages = [p for p in site.pages if p.menu == "footer"]
        footer_links = ([{"label": link.label, "url": link.url} for link in config.footer_links]
                        or [{"label": p.title, "url": p.url} for p in footer_pages])
        return {
            "site": {
                "title": config.title,
                "description": config.description,
                "base_url": config.base_url,
                "language": config.language,
                "publisher": config.publisher,
                "copyright_years": site.copyright_years,
                "sections": site.sections,
                "tags": site.tags,
                "footer_links": footer_links,
                "header_links": [{"label": p.title, "url": p.url} for p in header],
                "feed_url": "/feed.xml",
                "comments_provider": config.comments.provider,
                "comments_settings": dict(config.comments.settings),
                "extra": config.extra,
            },
            "section_urls": {s.name: s.url for s in site.sections},
            "preview": self.preview,
            "url_for": self.url_for,
            "absolute_url": self.absolute_url,
            "asset_url": self.asset_url,
            "local_date": self.local_date,
            "json_for_script": json_for_script,
        }

    def url_for(self, url: str) -> str:
        """Return the link to a site-relative URL, under the site's base path."""
        return self.to_site(url) if url.startswith("/") else url

    def absolute_url(self, url: str) -> str:
        return permalink(self.site, url) if url.startswith("/") else url

    def asset_url(self, name: str) -> str:
        if name not in self.theme.urls:
            raise BuildError(f"asset_url('{name}'): no such file in theme/; "
                             f"known: {', '.join(sorted(self.theme.urls))}", "layouts")
        return self.url_for(self.theme.urls[name])

    def local_date(self, moment: datetime) -> datetime:
        return moment.astimezone(self.config.tz)

    def page(self, template: str, url: str, source: str, **context: Any) -> OutputFile:
        html = render_template(self.env, template, {**self.shared, **context,
                                                    "canonical_url": self.absolute_url(url),
                                                    "page_url": url})
        return OutputFile(output_path(url), html.encode("utf-8"), source)

    def body(self, item: Post | Page) -> Markup:
        return Markup(rewrite_urls(item.body_html, self.to_site))

    def post_page(self, post: Post) -> OutputFile:
        neighbours = self.site.neighbours[post.rel_path]
        section = next(s for s in self.site.sections if s.name == post.section)
        show_comments = post.comments and self.config.comments.provider != "none"
        return self.page("post.html", post.url, post.rel_path, post=post,
                         content=self.body(post), section=section,
                         previous_post=neighbours.previous, next_post=neighbours.next,
                         show_comments=show_comments,
                         tag_urls={t.name: t.url for t in self.site.tags})

    def standing_page(self, page: Page) -> OutputFile:
        return self.page(page.layout, page.url, page.rel_path, page=page,
                         content=self.body(page))

    def listing(self, template: str, posts: Sequence[Post], base_url: str, source: str,
                **context: Any) -> list[OutputFile]:
        return [self.page(template, pager.url, source, pager=pager, **context)
                for pager in paginate(posts, self.config.posts_per_page, base_url)]


def render_site(site: Site, env: jinja2.Environment, theme: Theme, preview: bool = False,
                copied: Sequence[OutputFile] = ()) -> tuple[OutputFile, ...]:
    """Render every output file of the site and check that no two share a path."""
    renderer = Renderer(site, env, theme, preview)
    files: list[OutputFile] = [*theme.files, *copied]
    errors: list[BuildError] = []

    def attempt(make, *args, **kwargs) -> None:
        try:
            made = make(*args, **kwargs)
            files.extend(made if isinstance(made, list) else [made])
        except BuildError as error:
            errors.append(error)

    for post in site.posts:
        attempt(renderer.post_page, post)
    for page in site.pages:
        attempt(renderer.standing_page, page)
    attempt(renderer.listing, "home.html", site.posts, "/", "home page")
    for section in site.sections:
        attempt(renderer.listing, "section.html", section.posts, section.url,
                f"section '{section.name}'", section=section)
    for tag in site.tags:
        attempt(renderer.listing, "tag.html", tag.posts, tag.url, f"tag '{tag.name}'", tag=tag)
    attempt(renderer.page, "tags.html", "/tags/", "tag index")
    attempt(renderer.page, "404.html", "/404.html", "not-found page")
    files.extend(render_feeds(site))
    raise_if_any(errors)
    check_collisions(files)
    return tuple(sorted(files, key=lambda f: f.rel_path))


def render_feeds(site: Site) -> list[OutputFile]:
    """Render the site's RSS feed and one per section."""
    config = site.config
    feeds = [OutputFile("feed.xml", render_rss(
        site, site.posts, title=config.title, description=config.description,
        home_url="/", feed_url="/feed.xml"), "site feed")]
    for section in site.sections:
        feed_url = f"{section.url}feed.xml"
        feeds.append(OutputFile(feed_url.lstrip("/"), render_rss(
            site, section.posts, title=f"{config.title}: {section.name}",
            description=section.description or config.description,
            home_url=section.url, feed_url=feed_url), f"section '{section.name}' feed"))
    return feeds


def output_path(url: str) -> str:
    """Map a site URL to its file: /a/b/ -> a/b/index.html, /404.html -> 404.html."""
    path = url.lstrip("/")
    return path + "index.html" if path.endswith("/") or not path else path


def check_collisions(files: Sequence[OutputFile]) -> None:
    """Fail when two sources would write the same file, even differing only by case."""
    claims: dict[str, list[OutputFile]] = defaultdict(list)
    for output in files:
        key = unicodedata.normalize("NFC", output.rel_path).casefold()
        claims[key].append(output)
    errors = []
    for key, owners in sorted(claims.items()):
        if len(owners) > 1:
            listed = ", ".join(sorted({o.source for o in owners}))
            errors.append(OutputCollisionError(
                f"{len(owners)} sources claim the output file '{owners[0].rel_path}': "
                f"{listed}; change a slug, url or file name so each is unique",
                sorted(o.source for o in owners)[0]))
    raise_if_any(errors)


def json_for_script(value: Any) -> Markup:
    """Serialise to JSON that is safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)
