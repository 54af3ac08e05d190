"""RSS feeds for the whole site and each section, made with feedgen."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from feedgen.feed import FeedGenerator

from .model import Post, Site
from .urls import absolutize, prefix_root_relative, rewrite_urls

GENERATOR = "Marginalia"


def permalink(site: Site, url: str) -> str:
    """Turn a site-relative URL into an absolute one under base_url."""
    return site.config.base_url + url.lstrip("/")


def feed_html(site: Site, post: Post) -> str:
    """Return the post body with every link and image made absolute, for feed readers."""
    to_site = prefix_root_relative(site.config.base_path)
    to_absolute = absolutize(permalink(site, post.url))
    return rewrite_urls(post.body_html, lambda url: to_absolute(to_site(url)))


def render_rss(site: Site, posts: Sequence[Post], *, title: str, description: str,
               home_url: str, feed_url: str) -> bytes:
    """Render an RSS 2.0 feed of the newest posts, with dates taken from the content only."""
    config = site.config
    chosen = posts[:config.feed.items]
    generator = FeedGenerator()
    generator.load_extension("dc", atom=False, rss=True)
    generator.title(title)
    generator.description(description or title)
    generator.link(href=permalink(site, home_url), rel="alternate")
    generator.link(href=permalink(site, feed_url), rel="self")
    generator.language(config.language)
    generator.generator(GENERATOR)
    generator.copyright(f"\u00a9 {config.publisher} {site.copyright_years}")
    newest = _newest_change(chosen)
    if newest is not None:
        generator.lastBuildDate(newest)
        generator.pubDate(max(p.date for p in chosen))
    for post in chosen:
        entry = generator.add_entry(order="append")
        link = permalink(site, post.url)
        entry.title(post.title)
        entry.link(href=link)
        entry.guid(link, permalink=True)
        entry.pubDate(post.date)
        entry.description(post.summary or post.title)
        if config.feed.full_content:
            entry.content(feed_html(site, post), type="CDATA")
        if post.author:
            entry.dc.dc_creator(post.author)
        entry.category(term=post.section)
        for tag in post.tags:
            entry.category(term=tag)
    return generator.rss_str(pretty=True)


def _newest_change(posts: Sequence[Post]) -> datetime | None:
    return max((p.last_modified for p in posts), default=None)
