"""Import a Zola site: each section of content/ a section, its pages and page bundles
posts, the pages at the top of content/ standing pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import ContentError
from ..urls import DATE_PREFIX
from .common import ImportContext, SourceSettings, commonmark_if_supported, make_slug
from .detect import wrong_kind, zola_config
from .shortcodes import convert_zola
from .static import (Entry, Source, bundle_resources, first_name, import_entries,
                     markdown_files, read_date, read_front_matter, site_path, text_list)

KNOWN = {"title", "description", "date", "updated", "draft", "slug", "path", "aliases",
         "taxonomies", "extra", "template", "authors", "in_search_index"}
FILE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[-_]")


def read_settings(root: Path, name: str) -> SourceSettings:
    config = read_config(root)
    return SourceSettings(title=str(config.get("title") or ""),
                          description=str(config.get("description") or ""),
                          base_url=str(config.get("base_url") or ""),
                          language=str(config.get("default_language") or ""))


def read_config(root: Path) -> dict[str, Any]:
    config = zola_config(root)
    if config is None:
        raise wrong_kind(root, "Zola", "no config.toml with base_url")
    if not (root / "content").is_dir():
        raise ContentError("a Zola site without a content/ folder: nothing to import",
                           str(root))
    return config


def _table(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def import_source(root: Path, ctx: ImportContext) -> str:
    """Stage every post and page; return the Markdown engine Zola's CommonMark matches."""
    config = read_config(root)
    base = str(config.get("base_url") or "/").split("://", 1)[-1]
    source = Source(root=root, kind="Zola", tz=ctx.config.tz,
                    base_path="/" + base.split("/", 1)[1] if "/" in base else "/",
                    static_dirs=(root / "static",))
    content = root / "content"
    sections = _sections(content)
    for path in markdown_files(content):
        if path.name == "_index.md":
            continue
        source.entries.append(_entry(path, path.relative_to(content).parts, sections, source))
    import_entries(source, ctx, convert_zola)
    return commonmark_if_supported()


def _sections(content: Path) -> dict[str, tuple[str, str]]:
    """Each top-level section's (name, description), from its _index.md."""
    found = {}
    for index in sorted(content.glob("*/_index.md")):
        data, _ = read_front_matter(index.read_text(encoding="utf-8-sig"),
                                    f"content/{index.parent.name}/_index.md")
        found[index.parent.name] = (str(data.get("title") or index.parent.name.title()),
                                    str(data.get("description") or ""))
    return found


def _entry(path: Path, parts: tuple[str, ...], sections: dict[str, tuple[str, str]],
           source: Source) -> Entry:
    relative = "content/" + "/".join(parts)
    data, body = read_front_matter(path.read_text(encoding="utf-8-sig"), relative)
    bundle = path.name == "index.md"
    name = path.parent.name if bundle else path.stem
    is_page = len(parts) == 1 or (len(parts) == 2 and bundle)
    slug = make_slug(str(data.get("slug") or DATE_PREFIX.sub("", name))) or "post"
    entry = Entry(source=relative, kind="page" if is_page else "post",
                  title=str(data.get("title") or ""), body=body, slug=slug)
    entry.resources = bundle_resources(path) if bundle else []
    taxonomies = _table(data.get("taxonomies"))
    extra = dict(_table(data.get("extra")))
    extra.update({k: v for k, v in data.items() if k not in KNOWN})
    others = {k: v for k, v in taxonomies.items() if k not in ("tags", "categories")}
    if others:
        extra["taxonomies"] = others
    entry.extra = extra
    folders = parts[:-2] if bundle else parts[:-1]
    own_path = str(data.get("path") or "")
    old = own_path or "/".join((*folders, make_slug(DATE_PREFIX.sub("", name)) or name))
    if is_page:
        entry.fields = {"description": str(data.get("description") or "")}
        entry.old_urls = [site_path(old)]
        return entry
    date = read_date(data.get("date"), source.tz)
    named = FILE_DATE.match(name)
    if date is None and named:
        date = read_date(named[1], source.tz)
    entry.date = date
    entry.section, entry.section_description = sections.get(parts[0], (parts[0].title(), ""))
    entry.section_slug = make_slug(parts[0])
    entry.section_origin = f"section 'content/{parts[0]}'"
    entry.tags = text_list(taxonomies.get("categories")) + text_list(taxonomies.get("tags"))
    entry.fields = {
        "dek": " ".join(str(data.get("description") or "").split()),
        "updated": read_date(data.get("updated"), source.tz),
        "author": first_name(data.get("authors") or taxonomies.get("authors")),
        "draft": data.get("draft") is True}
    if not entry.fields["draft"]:
        entry.old_urls = [site_path(old)]
    entry.old_urls += [site_path(a) for a in text_list(data.get("aliases"))]
    return entry
