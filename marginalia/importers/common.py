"""What every importer shares: the documents it makes, slugs, dates and front matter."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import yaml
from anyascii import anyascii

from ..model import Config
from ..urls import format_permalink, slug_from_name, slugify
from .report import ImportReport

if TYPE_CHECKING:
    from .target import Stage

# The order fields are written in, as the README lists them.
FIELD_ORDER = ("title", "section", "date", "updated", "dek", "sources", "tags", "author",
               "slug", "comments", "draft", "expires", "aliases", "link", "extra",
               "description", "layout", "menu", "order", "url")
# A path an alias or page url may be: what the build accepts.
SITE_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
# Paths the build makes itself, which no page or alias may take.
RESERVED_PREFIXES = ("/tags/", "/authors/", "/archive/", "/page/")
RESERVED_FILES = ("/feed.xml", "/atom.xml", "/feed.json", "/sitemap.xml", "/robots.txt",
                  "/404.html", "/_redirects", "/_headers")


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """What a source tells about the site, for a new site made from it."""

    title: str = ""
    description: str = ""
    base_url: str = ""
    timezone: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class SectionSpec:
    name: str
    slug: str
    description: str = ""


@dataclass
class Document:
    """One file for the site: front matter fields and a Markdown body."""

    rel_path: str  # where it goes in the site: content/posts/2016/slug.md
    fields: dict[str, Any]
    body: str

    def text(self) -> str:
        return front_matter_text(self.fields) + "\n" + self.body.strip("\n") + "\n"


@dataclass
class ImportContext:
    """What an importer needs from the site it imports into."""

    config: Config
    report: ImportReport
    stage: Stage  # where files go until every one is ready
    now: datetime
    default_section: str
    uploads: Path | None = None
    sections: dict[str, SectionSpec] = field(default_factory=dict)  # by name, to declare

    def post_url(self, date_value: datetime, slug: str, section: str) -> str:
        """The URL the build gives a post, for aliases that must not be it."""
        spec = self.section_spec(section)
        return format_permalink(self.config.permalink, date_value.astimezone(self.config.tz),
                                slug, spec.slug)

    def section_spec(self, name: str) -> SectionSpec:
        for declared in self.config.sections:
            if name in (declared.name, declared.slug):
                return SectionSpec(declared.name, declared.slug, declared.description)
        return self.sections[name]

    def use_section(self, name: str, slug: str = "", description: str = "") -> str:
        """Return the section name a post should name, declaring it when the site lacks it."""
        slug = slug or make_slug(name) or "section"
        for declared in self.config.sections:
            if name.casefold() == declared.name.casefold() or slug == declared.slug:
                return declared.name
        if name not in self.sections:
            taken = {s.slug for s in self.sections.values()}
            self.sections[name] = SectionSpec(name, unique_name(slug, taken), description)
        return name

    def section_urls(self) -> set[str]:
        return {f"/{s.slug}/" for s in self.config.sections} | {
            f"/{s.slug}/" for s in self.sections.values()}


def commonmark_if_supported() -> str:
    """'commonmark' when this engine's site.toml accepts [markdown] engine, else ''."""
    from ..config import MARKDOWN_KEYS

    return "commonmark" if "engine" in MARKDOWN_KEYS else ""


def make_slug(text: str) -> str:
    """A URL slug for any name, Greek or Cyrillic too: transliterated, then slugified."""
    return slugify(anyascii(unquote(text)))


def unique_name(name: str, taken: set[str]) -> str:
    """name, or name-2, name-3... the first not taken; the result is added to taken."""
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name}-{number}"
        number += 1
    taken.add(candidate)
    return candidate


def post_path(slug: str, when: datetime, tz: ZoneInfo, bundle: bool) -> str:
    year = f"{when.astimezone(tz).year:04d}"
    return (f"content/posts/{year}/{slug}/index.md" if bundle
            else f"content/posts/{year}/{slug}.md")


def slug_fields(rel_path: str, slug: str) -> dict[str, str]:
    """A slug: field when the file name would not give the slug by itself."""
    stem = posixpath.basename(posixpath.dirname(rel_path)) if rel_path.endswith(
        "/index.md") else posixpath.basename(rel_path).rsplit(".", 1)[0]
    return {} if slug_from_name(stem) == slug else {"slug": slug}


def iso_date(moment: datetime, tz: ZoneInfo) -> str:
    """A date in the site's time zone with its offset: 2016-06-29T16:40:00-04:00."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def is_clean_path(path: str) -> bool:
    """A path the build accepts as an alias or page url."""
    segments = path.strip("/").split("/")
    return (SITE_PATH.fullmatch(path) is not None and not path.startswith("//")
            and all(s not in ("", ".", "..") for s in segments if path.strip("/")))


def is_reserved(path: str, section_urls: set[str]) -> bool:
    """Whether the build makes this path itself: an index, a feed, an archive."""
    return (path == "/" or path in section_urls or path.startswith(RESERVED_PREFIXES)
            or path in RESERVED_FILES or re.fullmatch(r"/\d{4}/(\d{2}/)?", path) is not None
            or any(path.startswith(url) and "/page/" in path for url in section_urls))


def claim_alias(old: str, new_url: str, rel_path: str, claimed: set[str],
                section_urls: set[str], ctx: ImportContext) -> bool:
    """Whether an old address can redirect to the post at new_url; the report says why
    not when it cannot."""
    if old == new_url:
        return False
    if not is_clean_path(old):
        ctx.report.note("old-url", rel_path,
                        f"{old} cannot redirect: only ASCII letters, digits and . - _ ~ / "
                        f"can; the post is now at {new_url}")
        return False
    if is_reserved(old, section_urls) or old in claimed:
        ctx.report.note("old-url", rel_path, f"{old} cannot redirect: the new site uses "
                        "that address for something else")
        return False
    claimed.add(old)
    return True


def relative_link(from_rel_path: str, to_rel_path: str) -> str:
    """A link from one content file to another, as the build resolves it."""
    return posixpath.relpath(to_rel_path, posixpath.dirname(from_rel_path))


def plain(value: Any) -> Any:
    """A value YAML writes and reads back as the same plain data: dates become text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def front_matter_text(fields: dict[str, Any]) -> str:
    """Front matter between '---' lines, every value written by the safe dumper."""
    ordered = {key: plain(fields[key]) for key in FIELD_ORDER if key in fields}
    ordered.update({key: plain(v) for key, v in fields.items() if key not in ordered})
    text = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=1_000_000)
    return "---\n" + text + "---\n"


def plain_text(html_text: str) -> str:
    """The text of a bit of HTML, as one line: for titles and deks."""
    import lxml.html

    if "<" not in html_text and "&" not in html_text:
        return " ".join(html_text.split())
    try:
        fragment = lxml.html.fragment_fromstring(html_text, create_parent="div")
    except Exception:  # lxml's parser errors have no common base; the text is still text
        return " ".join(re.sub(r"<[^>]*>", " ", html_text).split())
    return " ".join(fragment.text_content().split())
