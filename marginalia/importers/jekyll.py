"""Import a Jekyll site: _posts and _drafts, Markdown pages, and _config.yml."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ContentError
from ..frontmatter import load_mapping
from ..urls import DATE_PREFIX
from .common import ImportContext, SourceSettings, make_slug
from .detect import wrong_kind
from .static import (Entry, Links, Source, first_name, import_entries, read_date,
                     read_front_matter, site_path, split_known, text_list)

CONFIG_NAMES = ("_config.yml", "_config.yaml", "_config.toml")
POST_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.+)$")
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
KNOWN = {"title", "date", "categories", "category", "tags", "tag", "permalink", "excerpt",
         "description", "published", "author", "slug", "layout", "redirect_from",
         "last_modified_at", "link"}
SKIPPED_FOLDERS = {"_site", "node_modules", "vendor", ".jekyll-cache", ".git", ".sass-cache"}
RAW = re.compile(r"{%-?\s*raw\s*-?%}(.*?){%-?\s*endraw\s*-?%}", re.DOTALL)
HIGHLIGHT = re.compile(r"{%-?\s*highlight\s+(\w[\w+-]*)[^%]*%}\n?(.*?)\n?"
                       r"{%-?\s*endhighlight\s*-?%}", re.DOTALL)
LINK_TAG = re.compile(r"{%-?\s*(link|post_url)\s+([^\s%]+)\s*-?%}")
SITE_VARIABLE = re.compile(r"{{-?\s*site\.(?:baseurl|url)\s*-?}}")
URL_FILTER = re.compile(r"""{{-?\s*(["'])([^"']*)\1\s*\|\s*"""
                        r"""(?:relative_url|absolute_url)\s*-?}}""")
LIQUID = re.compile(r"{%.*?%}|{{.*?}}", re.DOTALL)


def looks_like(root: Path) -> bool:
    return any((root / name).is_file() for name in CONFIG_NAMES) or (root / "_posts").is_dir()


def read_settings(root: Path, name: str) -> SourceSettings:
    """The site's title, address, description and time zone, from _config.yml."""
    if not looks_like(root):
        raise wrong_kind(root, "Jekyll", "no _config.yml and no _posts/ folder")
    config = read_config(root)
    url = str(config.get("url") or "").rstrip("/")
    base = str(config.get("baseurl") or "").strip("/")
    base_url = f"{url}/{base}/" if url and base else (url + "/" if url else "")
    return SourceSettings(title=str(config.get("title") or ""),
                          description=str(config.get("description") or ""),
                          base_url=base_url,
                          timezone=str(config.get("timezone") or ""),
                          language=str(config.get("lang") or ""))


def read_config(root: Path) -> dict[str, Any]:
    for name in CONFIG_NAMES:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8-sig")
        if name.endswith(".toml"):
            try:
                return tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ContentError(f"TOML: {exc}", str(path)) from None
        data, _ = load_mapping(text, str(path), 1)
        return data
    return {}


def import_source(root: Path, ctx: ImportContext) -> str:
    """Stage every post, draft and page of the site; Jekyll's kramdown is not CommonMark."""
    config = read_config(root)
    source = Source(root=root, kind="Jekyll", tz=ctx.config.tz,
                    base_path="/" + (str(config.get("baseurl") or "").strip("/") + "/"
                                     ).lstrip("/"),
                    static_dirs=(root,))
    style = str(config.get("permalink") or "date")
    pattern = PERMALINK_STYLES.get(style, style)
    excluded = SKIPPED_FOLDERS | {str(x).strip("/") for x in config.get("exclude") or []}
    for path in _site_files(root, excluded, ctx):
        relative = path.relative_to(root).as_posix()
        parts = relative.split("/")
        if "_posts" in parts or "_drafts" in parts:
            source.entries.append(_post(path, relative, pattern, source, ctx))
        elif not any(p.startswith("_") for p in parts):
            entry = _page(path, relative, config, source)
            if entry is not None:
                source.entries.append(entry)
    import_entries(source, ctx, convert_liquid)
    return ""


def _site_files(root: Path, excluded: set[str], ctx: ImportContext) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if (not path.is_file() or path.suffix.lower() not in (".md", ".markdown", ".html")
                or any(p.startswith(".") or p in excluded for p in parts)):
            continue
        if parts[0].startswith("_") and parts[0] not in ("_posts", "_drafts"):
            if path.suffix.lower() != ".html" and "_posts" not in parts:
                ctx.report.note("skipped", path.relative_to(root).as_posix(),
                                f"in {parts[0]}/, which is not posts or pages")
            continue
        files.append(path)
    return files


def _post(path: Path, relative: str, pattern: str, source: Source,
          ctx: ImportContext) -> Entry:
    data, body = read_front_matter(path.read_text(encoding="utf-8-sig"), relative)
    match = POST_NAME.match(path.stem)
    name = match[4] if match else DATE_PREFIX.sub("", path.stem)
    date = read_date(data.get("date"), source.tz)
    if date is None and match:
        date = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=source.tz)
    parts = relative.split("/")
    folder_categories = [p for p in parts[:parts.index("_posts" if "_posts" in parts
                                                       else "_drafts")]]
    categories = folder_categories + text_list(data.get("categories", data.get("category")))
    slug = make_slug(str(data.get("slug") or name)) or "post"
    entry = Entry(source=relative, kind="post", title=str(data.get("title") or
                                                          name.replace("-", " ").title()),
                  body=body, date=date, slug=slug, html_body=path.suffix == ".html",
                  section=categories[0] if categories else "",
                  section_origin=f"category '{categories[0]}'" if categories else "",
                  tags=categories[1:] + text_list(data.get("tags", data.get("tag"))))
    draft = "_drafts" in parts or data.get("published") is False
    entry.fields = {"dek": _text(data.get("excerpt") or data.get("description")),
                    "author": first_name(data.get("author")),
                    "updated": read_date(data.get("last_modified_at"), source.tz),
                    "draft": draft,
                    "link": _http(data.get("link"))}
    if date is not None and not draft:
        own = str(data.get("permalink") or "") or pattern
        entry.old_urls.append(_permalink(own, date.astimezone(source.tz), name, categories))
    entry.old_urls += [site_path(u) for u in text_list(data.get("redirect_from"))]
    entry.extra = split_known(data, KNOWN)
    return entry


def _page(path: Path, relative: str, config: dict, source: Source) -> Entry | None:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".html" or not text.startswith(("---", "+++")):
        return None  # layouts' pages and files Jekyll copies as they are
    data, body = read_front_matter(text, relative)
    stem = relative.rsplit(".", 1)[0]
    if stem in ("index", "404") or stem.endswith("/index") and stem.count("/") == 0:
        return None
    segments = [make_slug(s) or "page" for s in stem.removesuffix("/index").split("/")]
    pretty = str(config.get("permalink") or "") == "pretty" or stem.endswith("/index")
    old = str(data.get("permalink") or "") or ("/" + stem.removesuffix("index") + "/"
                                                if pretty else f"/{stem}.html")
    entry = Entry(source=relative, kind="page", title=str(data.get("title") or stem),
                  body=body, slug="/".join(segments), old_urls=[site_path(old)])
    entry.fields = {"description": _text(data.get("description"))}
    entry.extra = split_known(data, KNOWN)
    entry.resources = []
    return entry


def _permalink(pattern: str, date: datetime, name: str, categories: list[str]) -> str:
    values = {
        "year": f"{date.year:04d}", "month": f"{date.month:02d}", "day": f"{date.day:02d}",
        "i_month": str(date.month), "i_day": str(date.day),
        "short_year": f"{date.year % 100:02d}",
        "hour": f"{date.hour:02d}", "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}", "y_day": f"{date.timetuple().tm_yday:03d}",
        "week": f"{date.isocalendar()[1]:02d}", "short_day": date.strftime("%a"),
        "title": name, "slug": name, "name": name, "output_ext": ".html",
        "categories": "/".join(c.lower() for c in categories),
    }
    path = re.sub(r":(\w+)", lambda m: values.get(m[1], m[0]), pattern)
    return site_path(path)


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) else ""


def _http(value: Any) -> str:
    return value.strip() if isinstance(value, str) and value.strip().startswith(
        ("http://", "https://")) else ""


def convert_liquid(body: str, entry: Entry, links: Links) -> str:
    """Liquid tags with a clear Markdown equivalent become it; the rest stay, listed."""
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    body = RAW.sub(lambda m: keep(m[1]), body)
    body = HIGHLIGHT.sub(lambda m: keep(f"```{m[1]}\n{m[2]}\n```"), body)

    def link(match: re.Match) -> str:
        found = links.find(match[2].strip("'\""), entry)
        if found is None:
            links.ctx.report.note("old-link", entry.rel_path,
                                  f"{match[0]} names no imported post; kept as text")
            return keep(match[0])
        return found

    body = LINK_TAG.sub(link, body)
    body = SITE_VARIABLE.sub("", body)
    body = URL_FILTER.sub(lambda m: m[2], body)
    for tag in dict.fromkeys(LIQUID.findall(body)):
        links.ctx.report.note("shortcode", entry.rel_path,
                              f"{' '.join(tag.split())[:80]} has no equivalent; kept as text")
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m[1])], body)
