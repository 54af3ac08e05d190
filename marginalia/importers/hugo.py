"""Import a Hugo site: each folder of content/ a section, its files and page bundles
posts, the files at the top of content/ standing pages."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ContentError
from ..frontmatter import load_mapping
from .common import ImportContext, SourceSettings, commonmark_if_supported, make_slug
from .detect import hugo_config_path, wrong_kind
from .shortcodes import convert_hugo
from .static import (Entry, Source, bundle_resources, first_name, import_entries,
                     markdown_files, read_date, read_front_matter, site_path, text_list)

KNOWN = {"title", "date", "publishdate", "pubdate", "published", "lastmod", "modified",
         "expirydate", "unpublishdate", "draft", "aliases", "slug", "url", "description",
         "summary", "tags", "categories", "author", "authors", "layout", "type"}


def read_settings(root: Path, name: str) -> SourceSettings:
    """The site's title, address, language and time zone, from its configuration."""
    config = read_config(root)
    params = config["params"] if isinstance(config.get("params"), dict) else {}
    return SourceSettings(
        title=str(config.get("title") or ""),
        description=str(params.get("description") or config.get("description") or ""),
        base_url=str(config.get("baseurl") or ""), timezone=str(config.get("timezone") or ""),
        language=str(config.get("languagecode") or ""))


def read_config(root: Path) -> dict[str, Any]:
    """The configuration, keys lowercased as Hugo reads them."""
    path = hugo_config_path(root)
    if path is None:
        raise wrong_kind(root, "Hugo", "no hugo.toml or config.toml (with baseURL)")
    if not (root / "content").is_dir():
        raise ContentError("a Hugo site without a content/ folder: nothing to import",
                           str(root))
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            raise ContentError(f"TOML: {exc}", str(path), int(found[1]) if found else None
                               ) from None
    elif path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContentError(f"JSON: {exc.msg}", str(path), exc.lineno) from None
    else:
        data, _ = load_mapping(text, str(path), 1)
    return {str(k).lower(): v for k, v in data.items()}


def import_source(root: Path, ctx: ImportContext) -> str:
    """Stage every post and page; return the Markdown engine Hugo's Goldmark matches."""
    config = read_config(root)
    permalinks = {str(k).lower(): str(v) for k, v in (config.get("permalinks") or {}).items()
                  if isinstance(v, str)}
    base = str(config.get("baseurl") or "/").split("://", 1)[-1]
    source = Source(root=root, kind="Hugo", tz=ctx.config.tz,
                    base_path="/" + base.split("/", 1)[1] if "/" in base else "/",
                    static_dirs=(root / "static",))
    content = root / "content"
    sections = _section_names(content)
    for path in markdown_files(content):
        parts = path.relative_to(content).parts
        if path.name == "_index.md":
            continue
        entry = _entry(path, parts, sections, permalinks, source)
        if entry is not None:
            source.entries.append(entry)
    import_entries(source, ctx, convert_hugo)
    return commonmark_if_supported()


def _section_names(content: Path) -> dict[str, tuple[str, str]]:
    """Each section folder's (name, description), from its _index.md or its name."""
    names = {}
    for folder in sorted(p for p in content.iterdir() if p.is_dir()):
        title, description = folder.name.replace("-", " ").title(), ""
        index = folder / "_index.md"
        if index.is_file():
            data, _ = read_front_matter(index.read_text(encoding="utf-8-sig"),
                                        f"content/{folder.name}/_index.md")
            title = str(data.get("title") or title)
            description = str(data.get("description") or "")
        names[folder.name] = (title, description)
    return names


def _entry(path: Path, parts: tuple[str, ...], sections: dict[str, tuple[str, str]],
           permalinks: dict[str, str], source: Source) -> Entry | None:
    relative = "content/" + "/".join(parts)
    data, body = read_front_matter(path.read_text(encoding="utf-8-sig"), relative)
    lower = {str(k).lower(): v for k, v in data.items()}
    bundle = path.name == "index.md"
    name = path.parent.name if bundle else path.stem
    is_page = len(parts) == 1 or (len(parts) == 2 and bundle)
    slug = make_slug(str(lower.get("slug") or name)) or "post"
    entry = Entry(source=relative, kind="page" if is_page else "post",
                  title=str(lower.get("title") or ""), body=body, slug=slug)
    entry.resources = bundle_resources(path) if bundle else []
    author = first_name(lower.get("authors") or lower.get("author"))
    date = read_date(next((lower[k] for k in ("publishdate", "pubdate", "published", "date")
                           if lower.get(k)), None), source.tz)
    old = str(lower.get("url") or "")
    if is_page:
        entry.fields = {"description": str(lower.get("description") or "")}
        entry.old_urls = [site_path(old or f"/{name}/")]
    else:
        section_dir = parts[0]
        entry.section, entry.section_description = sections.get(
            section_dir, (section_dir.title(), ""))
        entry.section_slug = make_slug(section_dir)
        entry.section_origin = f"folder 'content/{section_dir}'"
        entry.date = date
        entry.tags = text_list(lower.get("categories")) + text_list(lower.get("tags"))
        entry.fields = {
            "dek": " ".join(str(lower.get("description") or lower.get("summary")
                                or "").split()),
            "updated": _later(read_date(lower.get("lastmod") or lower.get("modified"),
                                        source.tz), date),
            "expires": read_date(lower.get("expirydate") or lower.get("unpublishdate"),
                                 source.tz),
            "author": author,
            "draft": lower.get("draft") is True}
        if not entry.fields["draft"]:
            pattern = permalinks.get(section_dir, "")
            entry.old_urls = [
                site_path(old) if old else
                _permalink(pattern, parts, name, lower, date, source) if pattern else
                _default_url(parts, name, lower, bundle)]
    entry.old_urls += [site_path(a) for a in text_list(lower.get("aliases"))]
    entry.extra = {k: v for k, v in data.items() if str(k).lower() not in KNOWN}
    return entry


def _default_url(parts: tuple[str, ...], name: str, data: dict, bundle: bool) -> str:
    """Where Hugo puts a page with no url or permalink rule: its folders, then its
    slug or file name (a bundle's folder name), lowercased."""
    folders = parts[:-2] if bundle else parts[:-1]
    segments = (*folders, str(data.get("slug") or name))
    return site_path("/" + "/".join(p.lower() for p in segments))


def _later(updated: datetime | None, date: datetime | None) -> datetime | None:
    return updated if updated and date and updated > date else None


def _permalink(pattern: str, parts: tuple[str, ...], name: str, data: dict,
               date: datetime | None, source: Source) -> str:
    local = date.astimezone(source.tz) if date else None
    title = str(data.get("title") or name)
    values = {
        "year": f"{local.year:04d}" if local else "", "month": f"{local.month:02d}" if local
        else "", "day": f"{local.day:02d}" if local else "",
        "monthname": local.strftime("%B").lower() if local else "",
        "section": parts[0], "sections": "/".join(parts[:-1]),
        "title": urlize(title), "slug": urlize(str(data.get("slug") or title)),
        "filename": name, "slugorfilename": str(data.get("slug") or name),
        "contentbasename": name, "slugorcontentbasename": str(data.get("slug") or name)}
    return site_path(re.sub(r":(\w+)", lambda m: values.get(m[1].lower(), m[0]), pattern))


def urlize(text: str) -> str:
    """Hugo's urlize, near enough: lowercase, spaces as hyphens, punctuation dropped."""
    return re.sub(r"[^\w\s-]", "", text.lower()).strip().replace(" ", "-")
