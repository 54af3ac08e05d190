"""Feeds: RSS 2.0 and Atom made with feedgen, and JSON Feed 1.1."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from .frontmatter import NOT_TEXT
from .model import ImageVariant, OutputFile, Post, Site
from .urls import absolutize, prefix_root_relative, rewrite_urls

if TYPE_CHECKING:
    from feedgen.feed import FeedGenerator

GENERATOR = "Marginalia"
MAX_CATEGORIES = 32  # readers show a handful; thousands would bloat every feed


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One listing published as feeds: its posts, title and where it lives."""

    title: str
    description: str
    home_url: str  # site-relative URL of the listing the feed mirrors
    posts: Sequence[Post]
    source: str  # for collision messages

    def url(self, name: str) -> str:
        return f"{self.home_url}{name}"


def feed_text(text: str) -> str:
    """Replace each character XML 1.0 cannot hold (controls, lone surrogates,
    noncharacters) with U+FFFD: lxml refuses them, so a feed could not be written."""
    return NOT_TEXT.sub("\ufffd", text)


def text_as_html(text: str) -> str:
    """Escape plain text for a feed field that readers render as HTML (RSS description),
    so a dek of `<b>x</b>` shows its characters rather than bold."""
    return escape(feed_text(text), quote=False)


def feed_categories(post: Post) -> list[dict[str, str]]:
    """The section and the first tags, given to feedgen at once (it is slow one by one)."""
    return [{"term": feed_text(term)} for term in (post.section, *post.tags)[:MAX_CATEGORIES]]


def feed_names(json_feed: bool) -> tuple[str, ...]:
    return ("feed.xml", "atom.xml", "feed.json") if json_feed else ("feed.xml", "atom.xml")


def permalink(site: Site, url: str) -> str:
    """Turn a site-relative URL into an absolute one under base_url."""
    return site.config.base_url + url.lstrip("/")


def feed_image(site: Site, post: Post) -> ImageVariant | None:
    """The lead image a feed item carries: its largest file in a format every reader
    shows (JPEG or PNG), or None."""
    images = site.images.get(post.rel_path)
    return images.lead.largest if images is not None and images.lead else None


def feed_html(site: Site, post: Post) -> str:
    """Return the post body with every link and image made absolute, for feed readers."""
    to_site = prefix_root_relative(site.config.base_path)
    to_absolute = absolutize(permalink(site, post.url))
    return feed_text(rewrite_urls(post.body_html, lambda url: to_absolute(to_site(url))))


def feed_content(site: Site, post: Post) -> str:
    """Return a post's HTML for feeds: the body with every URL absolute, then its sources
    as the post page lists them, then, for a linked post (whose item links out), a link
    to the post itself."""
    extra = ""
    if post.sources:
        items = "".join(f'<li><a href="{escape(source.url)}">{escape(source.name)}</a></li>'
                        for source in post.sources)
        extra += f'\n<aside class="sources"><h2>Sources</h2><ul>{items}</ul></aside>'
    if post.link:
        extra += f'\n<p><a href="{escape(permalink(site, post.url))}">\u221e Permalink</a></p>'
    return feed_html(site, post) + feed_text(extra)


def render_feed_files(site: Site, spec: FeedSpec, json_feed: bool = False,
                      bodies: dict[str, str] | None = None) -> list[OutputFile]:
    """Render a listing's RSS and Atom feeds, and its JSON Feed when asked.

    bodies memoises each post's feed_content across the feeds of one build; without
    full_content, items carry only summaries and no body is loaded.
    """
    posts = spec.posts[:site.config.feed.items]
    bodies = {} if bodies is None else bodies
    for post in posts if site.config.feed.full_content else ():
        if post.rel_path not in bodies:
            bodies[post.rel_path] = feed_content(site, post)
    files = [
        OutputFile(spec.url("feed.xml").lstrip("/"),
                   render_rss(site, spec, posts, bodies), f"{spec.source} RSS feed"),
        OutputFile(spec.url("atom.xml").lstrip("/"),
                   render_atom(site, spec, posts, bodies), f"{spec.source} Atom feed"),
    ]
    if json_feed:
        files.append(OutputFile(spec.url("feed.json").lstrip("/"),
                                render_json_feed(site, spec, posts, bodies),
                                f"{spec.source} JSON feed"))
    return files


def _generator(site: Site, spec: FeedSpec, self_url: str, posts: Sequence[Post]) -> FeedGenerator:
    """Set the channel fields that RSS and Atom share; dates come from the content only."""
    config = site.config
    from feedgen.feed import FeedGenerator  # slow to import, and most rebuilds need no feed

    generator = FeedGenerator()
    generator.id(permalink(site, spec.home_url))
    generator.title(feed_text(spec.title))
    # feedgen takes the RSS <link> from the last link given: the page, not the feed.
    generator.link(href=permalink(site, self_url), rel="self")
    generator.link(href=permalink(site, spec.home_url), rel="alternate")
    generator.language(feed_text(config.language))
    generator.generator(GENERATOR)
    generator.author({"name": feed_text(config.publisher)})
    generator.rights(feed_text(f"\u00a9 {config.publisher} {site.copyright_years}"))
    newest = max((p.last_modified for p in posts), default=site.newest_date)
    if newest is not None:
        generator.lastBuildDate(newest)
        generator.updated(newest)
    if posts:
        generator.pubDate(max(p.date for p in posts))
    return generator


def render_rss(site: Site, spec: FeedSpec, posts: Sequence[Post],
               bodies: dict[str, str]) -> bytes:
    """Render RSS 2.0: the summary in description, the whole post in content:encoded
    and authors in dc:creator."""
    generator = _generator(site, spec, spec.url("feed.xml"), posts)
    generator.description(text_as_html(spec.description or spec.title))
    generator.load_extension("dc", atom=False, rss=True)
    for post in posts:
        entry = generator.add_entry(order="append")
        link = permalink(site, post.url)
        entry.title(feed_text(post.title))
        entry.link(href=post.link or link)
        entry.guid(link, permalink=True)
        entry.pubDate(post.date)
        entry.description(text_as_html(post.summary or post.title))
        if site.config.feed.full_content:
            entry.content(bodies[post.rel_path], type="CDATA")
        if post.author:
            entry.dc.dc_creator(feed_text(post.author))
        entry.category(feed_categories(post))
        image = feed_image(site, post)
        if image is not None:
            entry.enclosure(permalink(site, image.url), str(image.size), image.mime)
    return generator.rss_str(pretty=True)


def render_atom(site: Site, spec: FeedSpec, posts: Sequence[Post],
                bodies: dict[str, str]) -> bytes:
    """Render Atom 1.0; every entry has an author, as the format requires."""
    generator = _generator(site, spec, spec.url("atom.xml"), posts)
    generator.subtitle(feed_text(spec.description or spec.title))
    for post in posts:
        entry = generator.add_entry(order="append")
        link = permalink(site, post.url)
        entry.id(link)
        entry.title(feed_text(post.title))
        # No rel="related" permalink beside it: feedgen drops every entry link's rel, and
        # two alternates are invalid Atom. The id and the content's last link are enough.
        entry.link(href=post.link or link, rel="alternate")
        entry.published(post.date)
        entry.updated(post.last_modified)
        entry.author({"name": feed_text(post.author or site.config.publisher)})
        entry.summary(feed_text(post.summary or post.title), type="text")
        if site.config.feed.full_content:
            entry.content(bodies[post.rel_path], type="html")
        entry.category(feed_categories(post))
    atom = generator.atom_str(pretty=True)
    images = [feed_image(site, post) for post in posts]
    return _with_atom_enclosures(site, atom, images) if any(images) else atom


def _with_atom_enclosures(site: Site, atom: bytes,
                          images: list[ImageVariant | None]) -> bytes:
    """Add <link rel="enclosure"> to the entries with a lead image: feedgen writes an
    entry's links without their rel."""
    from lxml import etree

    root = etree.fromstring(atom, etree.XMLParser(remove_blank_text=True))
    namespace = "{http://www.w3.org/2005/Atom}"
    for entry, image in zip(root.iter(f"{namespace}entry"), images):
        if image is not None:
            etree.SubElement(entry, f"{namespace}link", rel="enclosure",
                             href=permalink(site, image.url), type=image.mime,
                             length=str(image.size))
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def render_json_feed(site: Site, spec: FeedSpec, posts: Sequence[Post],
                     bodies: dict[str, str]) -> bytes:
    """Render JSON Feed 1.1."""
    config = site.config
    items = []
    for post in posts:
        item = {
            "id": permalink(site, post.url),
            "url": permalink(site, post.url),
            "title": post.title,
            "summary": post.summary,
            "date_published": post.date.isoformat(),
            "date_modified": post.last_modified.isoformat(),
            "authors": [{"name": post.author or config.publisher}],
            "tags": [post.section, *post.tags][:MAX_CATEGORIES],
        }
        if post.link:
            item["external_url"] = post.link
        image = feed_image(site, post)
        if image is not None:
            item["image"] = permalink(site, image.url)
        if config.feed.full_content:
            item["content_html"] = bodies[post.rel_path]
        else:
            item["content_text"] = post.summary or post.title
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": permalink(site, spec.home_url),
        "feed_url": permalink(site, spec.url("feed.json")),
        "description": spec.description or spec.title,
        "language": config.language,
        "authors": [{"name": config.publisher}],
        "items": items,
    }
    return (json.dumps(_with_feed_text(feed), ensure_ascii=False, indent=2)
            + "\n").encode("utf-8")


def _with_feed_text(value: Any) -> Any:
    """Clean every string of a JSON Feed as the XML feeds are cleaned: a lone surrogate
    cannot even be encoded as UTF-8."""
    if isinstance(value, str):
        return feed_text(value)
    if isinstance(value, dict):
        return {key: _with_feed_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_feed_text(item) for item in value]
    return value
