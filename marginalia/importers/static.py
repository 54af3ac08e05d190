"""What the Jekyll, Hugo and Zola importers share: reading front matter in YAML, TOML
or JSON, placing posts and pages, keeping old URLs as aliases, pointing internal links
at the Markdown files they now name, and copying images."""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from ..errors import ContentError
from ..frontmatter import load_mapping
from .common import (Document, ImportContext, claim_alias, is_clean_path, is_reserved,
                     iso_date, make_slug, plain, post_path, relative_link, slug_fields,
                     unique_name)
from .tomarkdown import html_to_markdown

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
# Code is left as it is: a post about shortcodes shows them on purpose.
CODE = re.compile(r"^(```|~~~).*?^\1[ \t]*$|`[^`\n]+`", re.MULTILINE | re.DOTALL)
MARKDOWN_LINK = re.compile(r"(\]\(\s*<?)([^)\s>]+)(>?(?:\s+\"[^\"]*\")?\s*\))")
REFERENCE = re.compile(r"^(\s{0,3}\[[^\]]+\]:\s*<?)(\S+?)(>?(?:\s|$))", re.MULTILINE)
HTML_URL = re.compile(r"""(\s(?:href|src)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE)
DATE_TEXT = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?))?"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
ASSET_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".pdf",
                  ".mp3", ".mp4", ".webm", ".ogg", ".zip", ".txt", ".csv", ".json")


@dataclass
class Entry:
    """One post or page of a static site, read and mapped to our fields."""

    source: str  # its path in the source site: "_posts/2016-06-29-drills.md"
    kind: str  # "post" or "page"
    title: str
    body: str
    date: datetime | None = None
    slug: str = ""
    section: str = ""  # for a post: the section's name; "" for the default
    section_slug: str = ""
    section_origin: str = ""  # what the section came from, for the report's mapping
    section_description: str = ""
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # dek, updated, author...
    extra: dict[str, Any] = field(default_factory=dict)
    old_urls: list[str] = field(default_factory=list)  # where the old site served it
    resources: list[tuple[str, Path]] = field(default_factory=list)  # bundle files
    html_body: bool = False  # a body in HTML, converted to Markdown on the way
    # set while planning:
    rel_path: str = ""
    url: str = ""


@dataclass
class Source:
    """A Jekyll, Hugo or Zola site being imported."""

    root: Path
    kind: str  # "Jekyll", "Hugo" or "Zola"
    tz: ZoneInfo
    base_path: str = "/"  # the old site's path under its host
    static_dirs: tuple[Path, ...] = ()  # where files served as-is live
    entries: list[Entry] = field(default_factory=list)


Converter = Callable[[str, Entry, "Links"], str]  # the source's own syntax, to Markdown


def read_front_matter(text: str, rel_path: str) -> tuple[dict, str]:
    """Split YAML (---), TOML (+++) or JSON ({) front matter from a body."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    if text.startswith("---"):
        end = re.search(r"^---[ \t]*$", text[3:], re.MULTILINE)
        if end is None:
            raise ContentError("front matter is never closed: add a '---' line after it",
                               rel_path, 1)
        data, _ = load_mapping(text[text.index("\n") + 1:3 + end.start()], rel_path, 2)
        return data, text[3 + end.end():].lstrip("\n")
    if text.startswith("+++"):
        end = re.search(r"^\+\+\+[ \t]*$", text[3:], re.MULTILINE)
        if end is None:
            raise ContentError("front matter is never closed: add a '+++' line after it",
                               rel_path, 1)
        try:
            data = tomllib.loads(text[text.index("\n") + 1:3 + end.start()])
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            raise ContentError(f"TOML: {exc}", rel_path,
                               int(found[1]) + 1 if found else 1) from None
        return data, text[3 + end.end():].lstrip("\n")
    if text.startswith("{"):
        try:
            data, end_index = json.JSONDecoder().raw_decode(text)
        except json.JSONDecodeError as exc:
            raise ContentError(f"JSON front matter: {exc.msg}", rel_path, exc.lineno) from None
        if not isinstance(data, dict):
            raise ContentError("JSON front matter must be an object", rel_path, 1)
        return data, text[end_index:].lstrip("\n")
    return {}, text


def read_date(value: Any, tz: ZoneInfo) -> datetime | None:
    """A front matter date as Jekyll, Hugo and Zola write them; naive ones in tz."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    if not isinstance(value, str):
        return None
    match = DATE_TEXT.match(value.strip())
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(f"{match[1]}T{match[2] or '00:00'}")
    except ValueError:
        return None
    zone = (match[3] or "").upper()
    if zone in ("Z", "UTC"):
        return moment.replace(tzinfo=timezone.utc)
    if zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=timezone(sign * offset))
    return moment.replace(tzinfo=tz)


def text_list(value: Any) -> list[str]:
    """Tags and categories: a list, or one string of names split by spaces or commas."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[,\s]+" if "," not in value else r"\s*,\s*", value) if v]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def first_name(value: Any) -> str:
    """An author: the text, the first of a list, or a mapping's name."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("name", "")
    return " ".join(str(value).split()) if isinstance(value, (str, int)) else ""


def markdown_files(folder: Path) -> Iterator[Path]:
    """Markdown files under a folder, in a stable order, skipping hidden ones."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative):
            continue
        if path.is_file() and path.suffix.lower() in MARKDOWN_SUFFIXES:
            yield path


def bundle_resources(index: Path) -> list[tuple[str, Path]]:
    """The files of a page bundle, beside its index.md, with their names in it."""
    folder = index.parent
    return [(p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p != index and p.suffix.lower() not in MARKDOWN_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def import_entries(source: Source, ctx: ImportContext, convert: Converter) -> None:
    """Place every entry, then convert and stage each one with its files."""
    _plan(source, ctx)
    links = Links.build(source, ctx)
    for entry in source.entries:
        _stage_entry(entry, source, links, ctx, convert)


def _plan(source: Source, ctx: ImportContext) -> None:
    taken_posts: dict[str, set[str]] = {}
    taken_pages: set[str] = set()
    for entry in source.entries:
        if entry.kind == "post":
            if entry.date is None:
                # The day alone, so that importing again the same day writes the same file.
                entry.date = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0)
                ctx.report.note("changed", entry.source, "had no date: dated the import's "
                                "day; set the real one")
            entry.section = ctx.use_section(entry.section or ctx.default_section,
                                            entry.section_slug, entry.section_description)
            if entry.section_origin:
                ctx.report.sections[entry.section_origin] = f"section '{entry.section}'"
            year = f"{entry.date.astimezone(ctx.config.tz).year:04d}"
            entry.slug = unique_name(entry.slug or "post", taken_posts.setdefault(year, set()))
            entry.rel_path = post_path(entry.slug, entry.date, ctx.config.tz,
                                       bool(entry.resources))
            entry.url = ctx.post_url(entry.date, entry.slug, entry.section)
        else:
            _plan_page(entry, taken_pages, ctx)
    claimed = {e.url for e in source.entries}
    for entry in source.entries:
        if entry.kind == "post":
            entry.fields["aliases"] = _aliases(entry, claimed, ctx)


def _plan_page(entry: Entry, taken: set[str], ctx: ImportContext) -> None:
    old = next((u for u in entry.old_urls if u.endswith("/") and is_clean_path(u)), "")
    url = old or "/" + (entry.slug or "page") + "/"
    if is_reserved(url, ctx.section_urls()) or url in taken:
        url = "/" + unique_name(url.strip("/").replace("/", "-") + "-page",
                                {u.strip("/") for u in taken}) + "/"
    taken.add(url)
    entry.url = url
    entry.rel_path = f"content/pages/{url.strip('/')}.md"
    for other in entry.old_urls:
        if other != url:
            ctx.report.note("old-url", entry.rel_path,
                            f"{other} cannot redirect (pages have no aliases); the page "
                            f"is now at {url}")


def _aliases(entry: Entry, claimed: set[str], ctx: ImportContext) -> list[str]:
    sections = ctx.section_urls()
    return [old for old in dict.fromkeys(entry.old_urls)
            if claim_alias(old, entry.url, entry.rel_path, claimed, sections, ctx)]


@dataclass
class Links:
    """Where each source file and each old URL went, to point links at them."""

    by_source: dict[str, str]  # source path -> new rel_path
    by_url: dict[str, str]  # old URL path -> new rel_path
    by_stem: dict[str, str]  # file name without suffix -> new rel_path (post_url, ref)
    source: Source
    ctx: ImportContext

    @classmethod
    def build(cls, source: Source, ctx: ImportContext) -> Links:
        by_source: dict[str, str] = {}
        by_url: dict[str, str] = {}
        by_stem: dict[str, str] = {}
        for entry in source.entries:
            if entry.fields.get("draft"):
                continue
            by_source[entry.source] = entry.rel_path
            stem = posixpath.basename(entry.source).rsplit(".", 1)[0]
            if stem in ("index", "_index"):
                stem = posixpath.basename(posixpath.dirname(entry.source))
            by_stem.setdefault(stem, entry.rel_path)
            for old in entry.old_urls:
                by_url[_normal_path(old)] = entry.rel_path
        return cls(by_source, by_url, by_stem, source, ctx)

    def find(self, reference: str, entry: Entry) -> str | None:
        """The new file a source path, old URL or name refers to, as a link from entry."""
        path, _, fragment = reference.partition("#")
        target = (self.by_source.get(path.lstrip("/")) or self.by_stem.get(path)
                  or self.by_stem.get(posixpath.basename(path).rsplit(".", 1)[0]))
        if target is None:
            return None
        return relative_link(entry.rel_path, target) + (f"#{fragment}" if fragment else "")

    def rewrite(self, url: str, entry: Entry) -> str:
        """Point one link of entry's body at its new place, copying files it needs."""
        if not url or url.startswith(("#", "mailto:", "tel:")):
            return url
        parts = urlsplit(url)
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if parts.scheme or parts.netloc:
            path = self._on_old_site(url)
            if path is None:
                return url
        else:
            path = unquote(parts.path)
        if not path:
            return url
        if not path.startswith("/"):
            found = self._relative(path, entry)
            if found is not None:
                return found + fragment
            if any(name == path for name, _ in entry.resources):
                return url
            old_base = entry.old_urls[0] if entry.old_urls else "/"
            path = posixpath.normpath(posixpath.join(old_base, path)) + (
                "/" if path.endswith("/") else "")
        target = self.by_url.get(_normal_path(path))
        if target is not None:
            return relative_link(entry.rel_path, target) + fragment
        copied = self._static_file(path)
        if copied:
            return copied + fragment
        self.ctx.report.note("old-link", entry.rel_path,
                             f"{url} points at the old site, at nothing imported")
        return url

    def _on_old_site(self, url: str) -> str | None:
        base = self.ctx.config.base_url.split("://", 1)[-1]
        bare = url.split("://", 1)[-1]
        if not bare.startswith(base):
            return None
        return "/" + unquote(urlsplit("//" + bare).path)[len(urlsplit("//" + base).path):]

    def _relative(self, path: str, entry: Entry) -> str | None:
        """A link to another source file by its path from this one: other.md, ../x.md."""
        if not path.lower().endswith(MARKDOWN_SUFFIXES):
            return None
        target = posixpath.normpath(posixpath.join(posixpath.dirname(entry.source), path))
        if target in self.by_source:
            return relative_link(entry.rel_path, self.by_source[target])
        return None

    def _static_file(self, path: str) -> str:
        """Copy a file the old site served as-is into content/, where the build copies
        it to the same URL; return its URL, or '' when there is no such file."""
        relative = path.lstrip("/")
        if self.source.base_path != "/" and path.startswith(self.source.base_path):
            relative = path[len(self.source.base_path):]
        if not relative or ".." in relative.split("/") or not relative.lower().endswith(
                ASSET_SUFFIXES):
            return ""
        for folder in self.source.static_dirs:
            candidate = folder / relative
            if candidate.is_file():
                target = f"content/{relative}"
                if not self.ctx.stage.has(target):
                    self.ctx.stage.add_copy(target, candidate)
                    self.ctx.report.count("files", "copied")
                return "/" + relative
        return ""


def _normal_path(path: str) -> str:
    """An old URL path as a key: /a/b/, /a/b/index.html and /a/b are the same page."""
    path = "/" + unquote(path.split("#", 1)[0].split("?", 1)[0]).lstrip("/")
    path = path.removesuffix("index.html")
    return path if path.endswith("/") or "." in posixpath.basename(path) else path + "/"


def rewrite_links(body: str, entry: Entry, links: Links) -> str:
    """Rewrite every Markdown and HTML link and image outside code."""
    def outside_code(text: str) -> str:
        text = MARKDOWN_LINK.sub(lambda m: m[1] + links.rewrite(m[2], entry) + m[3], text)
        text = REFERENCE.sub(lambda m: m[1] + links.rewrite(m[2], entry) + m[3], text)
        return HTML_URL.sub(lambda m: f"{m[1]}{m[2]}{links.rewrite(m[3], entry)}{m[2]}", text)
    return apply_outside_code(body, outside_code)


def apply_outside_code(body: str, change: Callable[[str], str]) -> str:
    """Apply change to the parts of a Markdown body that are not code."""
    pieces, last = [], 0
    for match in CODE.finditer(body):
        pieces.append(change(body[last:match.start()]))
        pieces.append(match[0])
        last = match.end()
    pieces.append(change(body[last:]))
    return "".join(pieces)


def _stage_entry(entry: Entry, source: Source, links: Links, ctx: ImportContext,
                 convert: Converter) -> None:
    body = entry.body
    if entry.html_body:
        converted = html_to_markdown(body, None, ctx.config.iframe_hosts)
        body = converted.markdown
        if converted.html_blocks:
            ctx.report.note("kept-html", entry.rel_path,
                            f"{converted.html_blocks} block(s) kept as HTML")
    body = convert(body, entry, links)
    body = rewrite_links(body, entry, links)
    if entry.fields.get("draft"):
        ctx.report.note("draft", entry.rel_path, f"a draft on the {source.kind} site")
    ctx.stage.add_text(entry.rel_path, Document(entry.rel_path, _fields(entry, ctx),
                                                body).text())
    folder = posixpath.dirname(entry.rel_path)
    for name, path in entry.resources:
        ctx.stage.add_copy(f"{folder}/{name}", path)
        ctx.report.count("files", "copied")
    status = "drafts" if entry.fields.get("draft") else "published"
    ctx.report.count(f"{entry.kind}s", status)


def _fields(entry: Entry, ctx: ImportContext) -> dict[str, Any]:
    tz = ctx.config.tz
    if entry.kind == "page":
        fields: dict[str, Any] = {"title": entry.title or "Untitled"}
        fields.update({k: v for k, v in entry.fields.items()
                       if k in ("description", "order") and v not in ("", None)})
        fields["url"] = entry.url
    else:
        assert entry.date is not None
        fields = {"title": entry.title or "Untitled", "section": entry.section,
                  "date": iso_date(entry.date, tz)}
        for key, value in entry.fields.items():
            if isinstance(value, datetime):
                value = iso_date(value, tz)
            if value not in ("", None, [], False) or key == "comments":
                fields[key] = value
        tags = [t for t in dict.fromkeys(entry.tags) if t != entry.section]
        if tags:
            fields["tags"] = tags
        fields.update(slug_fields(entry.rel_path, entry.slug))
    if not entry.title:
        ctx.report.note("changed", entry.rel_path, "had no title: titled 'Untitled'")
    if entry.extra:
        fields["extra"] = plain(entry.extra)
    return fields


def site_path(path: str) -> str:
    """An old URL path as the site wrote it: one leading slash, no doubled ones, and a
    trailing one unless it names a file such as old.html."""
    path = "/" + re.sub(r"/{2,}", "/", path.strip()).lstrip("/")
    return path if path.endswith(("/", ".html")) else path + "/"


def split_known(data: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """The fields this import has no place for, kept under extra."""
    return {str(k): v for k, v in data.items() if str(k) not in known}


def slug_of(value: Any) -> str:
    return make_slug(str(value)) if value not in (None, "") else ""
