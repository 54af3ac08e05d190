"""Plain, immutable data passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class SectionConfig:
    name: str
    slug: str
    description: str


@dataclass(frozen=True, slots=True)
class CommentsConfig:
    provider: str  # "none", "giscus", "disqus" or "utterances"
    enabled: bool  # the default for posts that do not say
    settings: tuple[tuple[str, str], ...]  # the provider's own settings, sorted


@dataclass(frozen=True, slots=True)
class FeedConfig:
    items: int
    full_content: bool


@dataclass(frozen=True, slots=True)
class MarkdownConfig:
    engine: str  # "python-markdown" or "commonmark"
    extensions: tuple[str, ...]  # Python-Markdown extensions; "smarty" works with either
    # Python-Markdown extension name -> its options, as site.toml gives them
    extension_configs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchConfig:
    enabled: bool  # a /search/ page and a Pagefind index of posts and standing pages


@dataclass(frozen=True, slots=True)
class RelatedConfig:
    count: int = 3  # related posts under each post; 0 shows none
    section_count: int = 3  # latest posts of its section under each post; 0 shows none


@dataclass(frozen=True, slots=True)
class ImagesConfig:
    cards: bool = True  # a generated 1200x630 share card for each post without an image
    default_card: str = ""  # content/PATH: the share card of posts without an image


@dataclass(frozen=True, slots=True)
class Config:
    site_dir: Path
    title: str
    description: str
    base_url: str  # absolute, always ends with "/"
    language: str
    timezone: str
    publisher: str
    copyright_start_year: int
    posts_per_page: int
    permalink: str
    footer_links: tuple[Link, ...]
    sections: tuple[SectionConfig, ...]
    comments: CommentsConfig
    feed: FeedConfig
    markdown: MarkdownConfig
    author: str  # the default byline
    unsafe_html: bool  # skip the HTML sanitiser for trusted authors
    iframe_hosts: tuple[str, ...]  # hosts whose https iframes posts may embed
    favicon: str  # theme/NAME, content/PATH or an http(s) URL
    dashes: str = "em"  # what "--" becomes: "em", or "en" with "---" the em dash
    search: SearchConfig = SearchConfig(enabled=True)
    related: RelatedConfig = RelatedConfig()
    images: ImagesConfig = ImagesConfig()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def markdown_extensions(self) -> tuple[str, ...]:
        return self.markdown.extensions

    @property
    def base_path(self) -> str:
        """The path part of base_url: "/" or "/blog/"."""
        after_scheme = self.base_url.split("://", 1)[1]
        return "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One content file as read from disk, before parsing."""

    rel_path: str  # relative to the site root, '/'-separated: "content/posts/a.md"
    text: str  # decoded, BOM removed, newlines normalised to "\n"
    kind: str  # "post" or "page"


@dataclass(frozen=True, slots=True)
class ContentFile:
    """One content file as found on disk, not yet read."""

    rel_path: str  # relative to the site root, '/'-separated: "content/posts/a.md"
    kind: str  # "post" or "page"
    path: str  # where to read it
    signature: str  # size, mtime, inode and ctime: equal means unchanged since last seen
    settled: bool = True  # False when modified so recently that the signature may lag


class StoredBody(Protocol):
    """A post body kept elsewhere until a page or feed needs it."""

    def load(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Post:
    rel_path: str
    title: str
    section: str  # the section's name, as declared in site.toml
    date: datetime  # timezone-aware
    updated: datetime | None
    expires: datetime | None
    dek: str
    sources: tuple[Source, ...]
    tags: tuple[str, ...]
    author: str
    slug: str
    comments: bool
    draft: bool
    url: str  # site-relative, starts and ends with "/"
    body: str | StoredBody = field(compare=False)  # the HTML, or where to load it from
    summary: str  # plain text: the dek, or the first paragraph of commentary, shortened
    relative_links: bool = True  # False when no link in the body can be relative
    aliases: tuple[str, ...] = ()
    link: str = ""  # the article a linked post discusses: absolute http(s), or ""
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[tuple[str, int], ...] = ()  # (message, line) of what parsing noticed
    terms: str = ""  # the words the post is about, weighted: see related.post_terms
    image: str = ""  # the lead image's rel_path ("content/posts/a/photo.jpg"), or ""
    image_alt: str = ""
    image_credit: str = ""
    image_line: int = 0  # the file line of 'image:', for messages
    body_images: tuple[str, ...] = ()  # the src of each local <img> in the body, as written
    digest: str = ""  # identifies the post's content: equal digests, equal posts

    @property
    def last_modified(self) -> datetime:
        return self.updated or self.date

    @property
    def body_html(self) -> str:
        body = self.body
        if isinstance(body, str):
            return body
        html = body.load()
        # Loading is invisible from outside: keep the text rather than load it again.
        object.__setattr__(self, "body", html)
        return html


@dataclass(frozen=True, slots=True)
class Page:
    """A standing page such as About Us: no section, no date, never listed."""

    rel_path: str
    title: str
    description: str
    layout: str
    menu: str  # "", "header" or "footer"
    order: int
    url: str
    body_html: str
    relative_links: bool = True  # False when no link in the body can be relative
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[tuple[str, int], ...] = ()  # (message, line) of what parsing noticed


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    slug: str
    description: str
    url: str
    posts: tuple[Post, ...]  # newest first


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    slug: str
    url: str
    posts: tuple[Post, ...]  # newest first


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    slug: str
    url: str
    posts: tuple[Post, ...]  # newest first


@dataclass(frozen=True, slots=True)
class ArchiveMonth:
    year: int
    month: int
    url: str
    posts: tuple[Post, ...]  # newest first


@dataclass(frozen=True, slots=True)
class ArchiveYear:
    year: int
    url: str
    months: tuple[ArchiveMonth, ...]  # newest first

    @property
    def posts(self) -> tuple[Post, ...]:
        return tuple(p for m in self.months for p in m.posts)


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


@dataclass(frozen=True, slots=True)
class Neighbours:
    previous: Post | None  # older, same section
    next: Post | None  # newer, same section


@dataclass(frozen=True, slots=True)
class ImageVariant:
    """One derived image file: a width of a picture in one format, or a share card."""

    url: str  # site-relative: /images/<hash>-960.webp
    width: int
    height: int
    mime: str  # image/webp, image/jpeg, image/png
    cache_name: str  # its file in the image cache, named by what made it
    size: int = 0  # bytes, once made
    # Where the file is, when this build made it: kept apart until the build succeeds.
    made_at: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ResponsiveImage:
    """A local raster image at several widths: WebP, and its own format as fallback."""

    source: str  # rel_path of the original under content/
    width: int
    height: int
    webp: tuple[ImageVariant, ...]  # narrowest first
    fallback: tuple[ImageVariant, ...]  # narrowest first

    @property
    def largest(self) -> ImageVariant:
        return self.fallback[-1]


@dataclass(frozen=True, slots=True)
class PostImages:
    """A post's pictures: its lead image, its share card, and the images of its body."""

    lead: ResponsiveImage | None
    card: ImageVariant | None  # 1200x630, for og:image
    card_alt: str
    body: tuple[tuple[str, ResponsiveImage], ...] = ()  # site URL in the body -> image

    def variants(self) -> tuple[ImageVariant, ...]:
        images = [image for _, image in self.body] + ([self.lead] if self.lead else [])
        found = [v for image in images for v in (*image.webp, *image.fallback)]
        return (*found, *([self.card] if self.card else []))


@dataclass(frozen=True, slots=True)
class Site:
    config: Config
    posts: tuple[Post, ...]  # published, newest first
    pages: tuple[Page, ...]
    sections: tuple[Section, ...]  # in site.toml order
    tags: tuple[Tag, ...]  # by slug
    authors: tuple[Author, ...]  # by slug
    archives: tuple[ArchiveYear, ...]  # newest first, dates in the site's timezone
    neighbours: dict[str, Neighbours]  # by post rel_path
    held_back: tuple[Post, ...]  # drafts, future and expired posts left out
    newest_date: datetime | None
    oldest_date: datetime | None
    asset_urls: tuple[tuple[str, str], ...]  # content file rel_path -> URL
    related: dict[str, tuple[Post, ...]] = field(default_factory=dict)  # by rel_path, best first
    images: dict[str, PostImages] = field(default_factory=dict)  # by post rel_path

    @property
    def copyright_years(self) -> str:
        """The footer's years, from the content alone so that rebuilds stay identical."""
        tz = self.config.tz
        oldest = self.oldest_date.astimezone(tz).year if self.oldest_date else None
        start = self.config.copyright_start_year or oldest or 0
        end = self.newest_date.astimezone(tz).year if self.newest_date else start
        return f"{start}\u2013{end}" if end > start else str(start)


@dataclass(frozen=True, slots=True)
class OutputFile:
    rel_path: str  # inside output/, '/'-separated
    content: bytes
    source: str  # what made it, for collision messages
    copy_from: str = ""  # an absolute path to copy instead of content
    digest: str = ""  # set when the bytes are known to equal the live file's
    # Every URL an HTML page points at, for the link check; None for a page reused from
    # the last build, whose links the render cache remembers.
    links: tuple[str, ...] | None = ()
