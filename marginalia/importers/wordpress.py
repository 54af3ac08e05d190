"""Import a WordPress export: posts and pages, categories as sections, tags, authors,
attachments and approved comments.

The export is read twice as a stream: first for what every post needs to know about
the others (paths, URLs, sections, attachments), then to convert and write each one.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from anyascii import anyascii

from ..config import RASTER_SUFFIXES
from ..images import ImageProblem, read_source_image
from ..urls import slugify
from .common import (Document, ImportContext, SourceSettings, claim_alias, iso_date,
                     is_reserved, make_slug, plain_text, post_path, relative_link,
                     slug_fields, unique_name)
from .tomarkdown import html_to_markdown
from .wpcontent import Attachment, PostMedia, prepare_content
from .wxr import Category, Channel, ExportReader, Item

IMPORTED = ("post", "page")
NOT_CONTENT = {
    "attachment": "attachments are files: those posts use are linked or copied",
    "nav_menu_item": "menu items: add footer_links to site.toml",
    "revision": "earlier versions of posts",
    "custom_css": "the old theme's CSS",
    "customize_changeset": "theme settings",
    "oembed_cache": "cached embeds",
    "wp_block": "reusable blocks",
    "wp_template": "the old theme's templates",
    "wp_template_part": "the old theme's templates",
    "wp_global_styles": "the old theme's styles",
    "wp_navigation": "menus: add footer_links to site.toml",
    "wp_font_family": "the old theme's fonts",
    "wp_font_face": "the old theme's fonts",
    "user_request": "privacy requests",
}
NOT_IMPORTED_STATUSES = {"trash": "in the trash", "auto-draft": "an empty auto-draft",
                         "inherit": "a revision"}
DRAFT_REASONS = {"draft": "a draft on WordPress", "pending": "pending review on WordPress",
                 "private": "private on WordPress: never published; read it before "
                            "removing 'draft: true'"}
NO_DATE = "0000-00-00 00:00:00"
UNCATEGORIZED = "uncategorized"
PRIMARY_CATEGORY_META = "_yoast_wpseo_primary_category"


@dataclass
class Entry:
    """What the first pass keeps of a post or page: enough to place it and link to it."""

    id: int
    type: str
    status: str
    slug: str
    title: str
    date: datetime
    wp_date: str  # post_date as written, in the blog's own zone: for old date URLs
    link: str
    parent: int
    categories: list[tuple[str, str]]  # (nicename, name)
    primary_term: int
    protected: bool
    urls: list[str]  # addresses in the content, kept only to look for local uploads
    local_files: bool = False


@dataclass
class Plan:
    """Where one post or page goes, and under which URLs."""

    entry: Entry
    rel_path: str
    url: str
    section: str = ""
    tags: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    draft_reason: str = ""

    @property
    def bundle_dir(self) -> str:
        return posixpath.dirname(self.rel_path) if self.rel_path.endswith("/index.md") else ""


@dataclass
class Scan:
    channel: Channel
    entries: dict[int, Entry] = field(default_factory=dict)
    attachments: dict[int, Attachment] = field(default_factory=dict)
    children: dict[int, list[Attachment]] = field(default_factory=dict)
    upload_prefixes: set[str] = field(default_factory=set)
    term_ids: dict[int, str] = field(default_factory=dict)


def read_settings(path: Path, name: str) -> SourceSettings:
    """The blog's title, address and language, from the export's header."""
    channel = ExportReader(path, str(path)).read_channel()
    return SourceSettings(title=plain_text(channel.title), base_url=channel.link,
                          description=plain_text(channel.description),
                          language=channel.language)


def import_source(path: Path, ctx: ImportContext) -> str:
    """Stage every post, page, copied file and comment file of the export; return the
    Markdown engine the site should use ('' for the default)."""
    name = str(path)
    scan = scan_export(ExportReader(path, name), ctx)
    plans = plan_entries(scan, ctx)
    links = LinkMap.build(scan, plans, ctx)
    for item in ExportReader(path, name).items():
        plan = plans.get(item.id)
        if plan is not None and item.type in IMPORTED:
            write_entry(item, plan, scan, links, ctx)
    return ""


def scan_export(reader: ExportReader, ctx: ImportContext) -> Scan:
    """First pass: attachments, and the posts and pages to import; count the rest."""
    items = reader.items()
    scan = Scan(reader.channel)
    for item in items:
        if item.type == "attachment":
            _add_attachment(scan, item)
        elif item.type not in IMPORTED:
            why = NOT_CONTENT.get(item.type, f"'{item.type}' is a custom post type")
            ctx.report.count("not imported", item.type)
            if item.type not in NOT_CONTENT:
                ctx.report.note("skipped", f"{reader.name}:{item.line}",
                                f"{plain_text(item.title) or item.id}: {why}")
        elif item.status in NOT_IMPORTED_STATUSES:
            ctx.report.count("not imported", f"{item.type} ({item.status})")
            ctx.report.note("skipped", f"{reader.name}:{item.line}",
                            f"{plain_text(item.title) or item.id}: "
                            f"{NOT_IMPORTED_STATUSES[item.status]}")
        else:
            scan.entries[item.id] = _entry(item, ctx)
    scan.term_ids = {c.term_id: c.nicename for c in scan.channel.categories.values()
                     if c.term_id}
    for children in scan.children.values():
        children.sort(key=lambda a: (a.menu_order, a.id))
    if ctx.uploads is not None:
        for entry in scan.entries.values():
            urls = entry.urls + [a.url for a in scan.children.get(entry.id, ())]
            entry.local_files = any(local_upload(url, scan, ctx) for url in urls)
            entry.urls = []
    return scan


def _add_attachment(scan: Scan, item: Item) -> None:
    url = item.attachment_url or item.guid
    attached = item.meta.get("_wp_attached_file", "")
    if attached and url.endswith(attached):
        scan.upload_prefixes.add(_without_scheme(url[:-len(attached)]))
    attachment = Attachment(item.id, url, item.parent, plain_text(item.title),
                            item.meta.get("_wp_attachment_image_alt", "").strip(),
                            plain_text(item.excerpt), item.link, item.menu_order)
    scan.attachments[item.id] = attachment
    scan.children.setdefault(item.parent, []).append(attachment)


def _entry(item: Item, ctx: ImportContext) -> Entry:
    urls = (re.findall(r"https?://[^\s\"'<>\[\]]+", item.content)
            if ctx.uploads is not None else [])
    primary = item.meta.get(PRIMARY_CATEGORY_META, "")
    return Entry(
        id=item.id, type=item.type, status=item.status, slug=unquote(item.slug),
        title=item.title, date=_date(item, ctx), wp_date=item.date, link=item.link,
        parent=item.parent,
        categories=[(n, name) for domain, n, name in item.categories if domain == "category"],
        primary_term=int(primary) if primary.isdigit() else 0,
        protected=bool(item.password), urls=urls)


def _date(item: Item, ctx: ImportContext) -> datetime:
    """The post's instant: from post_date_gmt where present, else post_date in the
    site's zone (drafts carry no GMT date), else the import's own time."""
    for text, zone in ((item.date_gmt, timezone.utc), (item.date, ctx.config.tz)):
        if text and text != NO_DATE:
            try:
                return datetime.fromisoformat(text).replace(tzinfo=zone)
            except ValueError:
                continue
    return ctx.now


def _without_scheme(url: str) -> str:
    return url.split("://", 1)[-1]


def local_upload(url: str, scan: Scan, ctx: ImportContext) -> Path | None:
    """The file under --uploads an upload URL names, when it is there."""
    if ctx.uploads is None or not url.startswith(("http://", "https://", "/", "//")):
        return None
    parts = urlsplit(url)
    bare = _without_scheme(f"{parts.netloc}{parts.path}") if parts.netloc else parts.path
    relative = ""
    if "/wp-content/uploads/" in bare:
        relative = bare.split("/wp-content/uploads/", 1)[1]
    else:
        relative = next((bare[len(p):] for p in scan.upload_prefixes
                         if bare.startswith(p)), "")
    relative = unquote(relative)
    if not relative or ".." in relative.split("/") or relative.startswith("/"):
        return None
    candidate = ctx.uploads / relative
    return candidate if candidate.is_file() else None


def plan_entries(scan: Scan, ctx: ImportContext) -> dict[int, Plan]:
    """Give every post and page its file, URL, section, tags and old URLs."""
    plans: dict[int, Plan] = {}
    _plan_posts(scan, ctx, plans)  # first: sections claim URLs pages must avoid
    _plan_pages(scan, ctx, plans)
    _plan_aliases(scan, ctx, plans)
    return plans


def _plan_pages(scan: Scan, ctx: ImportContext, plans: dict[int, Plan]) -> None:
    """Give each page the URL its nesting gave it on WordPress, parents first."""
    pages = {e.id: e for e in scan.entries.values() if e.type == "page"}
    urls: dict[int, str] = {}
    sections = ctx.section_urls()

    def url_of(entry: Entry, below: frozenset[int]) -> str:
        if entry.id not in urls:
            parent = pages.get(entry.parent)
            base = ("/" if parent is None or parent.id in below
                    else url_of(parent, below | {entry.id}))
            segment = (make_slug(entry.slug) or make_slug(plain_text(entry.title))
                       or f"page-{entry.id}")
            url, number = f"{base}{segment}/", 1
            while is_reserved(url, sections) or url in urls.values():
                number += 1
                url = f"{base}{segment}-page{'' if number == 2 else number - 1}/"
            urls[entry.id] = url
        return urls[entry.id]

    for entry in sorted(pages.values(), key=lambda e: e.id):
        url = url_of(entry, frozenset({entry.id}))
        published = entry.status in ("publish", "future") and not entry.protected
        folder = "content/pages" if published else "imported-drafts/pages"
        plan = Plan(entry, f"{folder}{url.rstrip('/')}.md", url)
        if not published:
            plan.draft_reason = _draft_reason(entry)
        plans[entry.id] = plan


def _draft_reason(entry: Entry) -> str:
    if entry.protected:
        return ("password-protected on WordPress: made a draft, since a static site "
                "cannot ask for the password")
    return DRAFT_REASONS.get(entry.status, f"'{entry.status}' on WordPress")


def _plan_posts(scan: Scan, ctx: ImportContext, plans: dict[int, Plan]) -> None:
    posts = sorted((e for e in scan.entries.values() if e.type == "post"),
                   key=lambda e: (e.date, e.id))
    weight = _category_weights(scan, posts)
    taken: dict[str, set[str]] = {}
    for entry in posts:
        slug = (make_slug(entry.slug) or make_slug(plain_text(entry.title))
                or f"post-{entry.id}")
        year = f"{entry.date.astimezone(ctx.config.tz).year:04d}"
        slug = unique_name(slug, taken.setdefault(year, set()))
        section, tags = _section_and_tags(entry, scan, weight, ctx)
        rel_path = post_path(slug, entry.date, ctx.config.tz, entry.local_files)
        plan = Plan(entry, rel_path, ctx.post_url(entry.date, slug, section), section, tags)
        if entry.protected or entry.status in DRAFT_REASONS:
            plan.draft_reason = _draft_reason(entry)
        elif entry.status not in ("publish", "future"):
            plan.draft_reason = f"'{entry.status}' on WordPress"
        plans[entry.id] = plan


def _category_weights(scan: Scan, posts: list[Entry]) -> Counter:
    """How many posts each top-level category holds, counting nested ones as their top."""
    weight: Counter = Counter()
    for entry in posts:
        weight.update({_top(n, scan.channel.categories) for n, _ in entry.categories})
    return weight


def _top(nicename: str, categories: dict[str, Category]) -> str:
    seen = {nicename}
    while nicename in categories and categories[nicename].parent not in ("", *seen):
        nicename = categories[nicename].parent
        seen.add(nicename)
    return nicename


def _section_and_tags(entry: Entry, scan: Scan, weight: Counter,
                      ctx: ImportContext) -> tuple[str, list[str]]:
    """A post's section is its main category's top level: Yoast's primary category
    when set, else the category whose top level holds the most posts; every other
    category is kept as a tag."""
    categories = scan.channel.categories
    names = {n: (categories[n].name if n in categories else name)
             for n, name in entry.categories}
    tags: list[str] = []
    if not names:
        return ctx.use_section(ctx.default_section), tags
    primary = scan.term_ids.get(entry.primary_term, "")
    if primary not in names:
        primary = min(names, key=lambda n: (n == UNCATEGORIZED,
                                            -weight[_top(n, categories)], names[n]))
    top = _top(primary, categories)
    top_name = categories[top].name if top in categories else names[primary]
    description = categories[top].description if top in categories else ""
    section = ctx.use_section(plain_text(top_name), make_slug(top), plain_text(description))
    ctx.report.sections[f"category '{plain_text(top_name)}'"] = f"section '{section}'"
    for nicename, name in names.items():
        if nicename == top:
            continue
        tags.append(plain_text(name))
        key = f"category '{plain_text(name)}'"
        if nicename == primary:
            ctx.report.sections[key] = f"section '{section}' (its top level), and a tag"
        else:
            ctx.report.sections.setdefault(key, "tag")
    return section, tags


def _plan_aliases(scan: Scan, ctx: ImportContext, plans: dict[int, Plan]) -> None:
    """Keep each post's old URLs: its <link>, and the day-and-name form."""
    root = _old_root(scan.channel)
    page_urls = {p.url for p in plans.values() if p.entry.type == "page"}
    claimed = {p.url for p in plans.values() if p.entry.type == "post"} | page_urls
    sections = ctx.section_urls()
    for plan in sorted(plans.values(), key=lambda p: (p.entry.date, p.entry.id)):
        entry = plan.entry
        if entry.type == "page":
            old = _old_path(entry.link, root)
            if old and old != plan.url and not _is_query(entry.link):
                ctx.report.note("old-url", plan.rel_path,
                                f"{old} cannot redirect (pages have no aliases); the "
                                f"page is now at {plan.url}")
            continue
        candidates = [_old_path(entry.link, root)]
        day = re.match(r"(\d{4})-(\d{2})-(\d{2})", entry.wp_date)
        if entry.slug and day and day[1] != "0000":
            candidates.append(f"/{day[1]}/{day[2]}/{day[3]}/{entry.slug}/")
        for old in dict.fromkeys(c for c in candidates if c):
            if claim_alias(old, plan.url, plan.rel_path, claimed, sections, ctx):
                plan.aliases.append(old)
        if not plan.draft_reason:
            ctx.report.note("old-url", plan.rel_path,
                            f"?p={entry.id} cannot redirect: a static host serves the home "
                            "page for it (extra.wordpress_id keeps the number)")


def _old_root(channel: Channel) -> str:
    """The old blog's address, without scheme, ending in '/'."""
    return _without_scheme(channel.link or channel.base_blog_url).rstrip("/") + "/"


def _old_path(url: str, root: str) -> str:
    """The path of an old URL under the old blog, decoded, ending in '/' as WordPress
    writes them; '' for an address elsewhere or a query such as ?p=123."""
    if not url or _is_query(url):
        return ""
    bare = _without_scheme(url.split("#", 1)[0])
    if bare.rstrip("/") + "/" == root:
        return "/"
    if not bare.startswith(root):
        return ""
    path = re.sub(r"/{2,}", "/", "/" + unquote(bare[len(root):]))
    return path if path.endswith("/") or "." in posixpath.basename(path) else path + "/"


def _is_query(url: str) -> bool:
    return bool(urlsplit(url).query)


@dataclass
class LinkMap:
    """The old site's addresses of posts, pages and attachment pages, and what
    each became: a content file to link to, or the attachment's own file."""

    root: str
    by_path: dict[str, str]  # old path -> content rel_path
    by_id: dict[int, str]  # post or page id -> content rel_path
    attachment_files: dict[str, str]  # attachment page path -> file URL
    category_urls: dict[str, str]  # /category/nicename/ -> section URL

    @classmethod
    def build(cls, scan: Scan, plans: dict[int, Plan], ctx: ImportContext) -> LinkMap:
        root = _old_root(scan.channel)
        published = {i: p for i, p in plans.items() if p.rel_path.startswith("content/")
                     and not p.draft_reason}
        by_path = {}
        for plan in published.values():
            old = _old_path(plan.entry.link, root)
            if old:
                by_path[old] = plan.rel_path
            for alias in plan.aliases:
                by_path.setdefault(alias, plan.rel_path)
        attachment_files = {_old_path(a.link, root): a.url for a in scan.attachments.values()
                            if _old_path(a.link, root)}
        category_urls = {}
        for nicename in scan.channel.categories:
            top = _top(nicename, scan.channel.categories)
            name = plain_text(scan.channel.categories[top].name)
            if name in ctx.sections or any(s.name == name for s in ctx.config.sections):
                category_urls[f"/category/{nicename}/"] = f"/{ctx.section_spec(name).slug}/"
        return cls(root, by_path, {i: p.rel_path for i, p in published.items()},
                   attachment_files, category_urls)


@dataclass
class Rewriter:
    """Points one file's links and images at their new places, copying local
    uploads beside it, and notes what stays at the old address."""

    rel_path: str
    plan: Plan
    scan: Scan
    links: LinkMap
    ctx: ImportContext
    copied: dict[Path, str] = field(default_factory=dict)  # source file -> name used

    def __call__(self, url: str, attribute: str) -> str:
        absolute = url
        if url.startswith("/") and not url.startswith("//"):  # on the old blog's host
            absolute = "https://" + self.links.root.split("/", 1)[0] + url
        local = local_upload(absolute, self.scan, self.ctx)
        if local is not None:
            return self._copy(local)
        if _without_scheme(absolute.split("#", 1)[0].split("?", 1)[0] + "/").startswith(
                self.links.root):
            target = self._old_site_target(absolute)
            if target is not None:
                return target
            self.ctx.report.note("old-link", self.rel_path,
                                 f"{url} is on the old site and was not imported")
        elif attribute in ("src", "poster") and urlsplit(url).scheme in ("http", "https"):
            self.ctx.report.note("remote-image", self.rel_path, url)
        return url

    def _old_site_target(self, url: str) -> str | None:
        parts = urlsplit(url)
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        query = parse_qs(parts.query)
        for key in ("p", "page_id"):
            number = query.get(key, [""])[0]
            if number.isdigit() and int(number) in self.links.by_id:
                return self._to(self.links.by_id[int(number)]) + fragment
        old = _old_path(url.split("#", 1)[0].split("?", 1)[0], self.links.root)
        if old in self.links.by_path:
            return self._to(self.links.by_path[old]) + fragment
        if old in self.links.attachment_files:
            return self(self.links.attachment_files[old], "href")
        if old in self.links.category_urls:
            return self.links.category_urls[old]
        tag = re.fullmatch(r"/tag/([^/]+)/", old)
        if tag:
            return f"/tags/{make_slug(tag[1])}/"
        return None

    def _to(self, target_rel_path: str) -> str:
        return relative_link(self.rel_path, target_rel_path)

    def _copy(self, source: Path) -> str:
        """Copy an upload beside the post (a bundle) or under content/uploads/ (pages)."""
        if source in self.copied:
            return self.copied[source]
        assert self.ctx.uploads is not None  # only local uploads are copied
        relative = source.relative_to(self.ctx.uploads).as_posix()
        if self.plan.bundle_dir:
            names = set(self.copied.values())
            name = source.name if source.name not in names else relative.replace("/", "-")
            target = f"{self.plan.bundle_dir}/{name}"
        else:
            target = f"content/uploads/{relative}"
        if not self.ctx.stage.has(target):
            self.ctx.stage.add_copy(target, source)
            self.ctx.report.count("files", "copied from uploads")
        link = relative_link(self.rel_path, target)
        self.copied[source] = link
        return link


def write_entry(item: Item, plan: Plan, scan: Scan, links: LinkMap,
                ctx: ImportContext) -> None:
    """Second pass: convert one post or page and stage it with its comments."""
    rewrite = Rewriter(plan.rel_path, plan, scan, links, ctx)
    media = PostMedia(item.id, scan.attachments, tuple(scan.children.get(item.id, ())),
                      item.meta.get("enclosure", "").split("\n", 1)[0].strip())
    prepared = prepare_content(item.content, media)
    converted = html_to_markdown(prepared.html, rewrite, ctx.config.iframe_hosts)
    report = ctx.report
    for name in dict.fromkeys(prepared.unknown_shortcodes):
        report.note("shortcode", plan.rel_path, f"[{name}] has no equivalent; kept as text")
    for change in dict.fromkeys(prepared.changes + converted.changed):
        report.note("changed", plan.rel_path, change)
    for removed in dict.fromkeys(converted.removed):
        report.note("removed", plan.rel_path, removed)
    if converted.html_blocks:
        report.note("kept-html", plan.rel_path,
                    f"{converted.html_blocks} block(s) kept as HTML")
    if plan.draft_reason:
        report.note("draft", plan.rel_path, plan.draft_reason)
    fields = (_post_fields(item, plan, scan, rewrite, ctx) if item.type == "post"
              else _page_fields(item, plan, ctx))
    document = Document(plan.rel_path, fields, converted.markdown)
    ctx.stage.add_text(plan.rel_path, document.text())
    _stage_comments(item, plan, ctx)
    status = "scheduled" if item.status == "future" else (
        "password-protected" if item.password else item.status.replace("publish", "published"))
    report.count(f"{item.type}s", status)


def _title(item: Item, plan: Plan, ctx: ImportContext) -> str:
    title = plain_text(item.title)
    if not title:
        ctx.report.note("changed", plan.rel_path, "had no title: titled 'Untitled'")
        return "Untitled"
    if "<" in item.title and re.search(r"<[a-zA-Z/][^>]*>", item.title):
        ctx.report.note("changed", plan.rel_path, "markup removed from the title")
    return title


def _post_fields(item: Item, plan: Plan, scan: Scan, rewrite: Rewriter,
                 ctx: ImportContext) -> dict:
    entry = plan.entry
    fields: dict = {"title": _title(item, plan, ctx), "section": plan.section,
                    "date": iso_date(entry.date, ctx.config.tz)}
    dek = plain_text(item.excerpt)
    if dek:
        fields["dek"] = dek
    tags = _usable_tags(plan.tags + _item_tags(item), plan, ctx)
    if tags:
        fields["tags"] = tags
    author = scan.channel.authors.get(item.creator, item.creator)
    if author:
        fields["author"] = author
    fields.update(slug_fields(plan.rel_path, _slug_of(plan)))
    if item.comment_status == "closed":
        fields["comments"] = False
    if plan.draft_reason:
        fields["draft"] = True
    if plan.aliases:
        fields["aliases"] = plan.aliases
    extra: dict = {"wordpress_id": item.id}
    featured = scan.attachments.get(int(item.meta.get("_thumbnail_id", "0") or 0)
                                    if item.meta.get("_thumbnail_id", "").isdigit() else 0)
    if featured is not None:
        lead = _lead_image(featured, fields["title"], scan, rewrite, ctx)
        if lead:
            fields.update(lead)
        else:
            extra["featured_image"] = rewrite(featured.url, "href")
            ctx.report.note("featured-image", plan.rel_path, featured.url)
    fields["extra"] = extra
    return fields


def _lead_image(featured: Attachment, title: str, scan: Scan, rewrite: Rewriter,
                ctx: ImportContext) -> dict[str, str]:
    """The featured image as the post's lead image, when its file is among the uploads
    and is a picture the build can use; else nothing."""
    local = local_upload(featured.url, scan, ctx)
    if local is None or not local.name.lower().endswith(RASTER_SUFFIXES):
        return {}
    try:
        read_source_image(local, local.name)
    except ImageProblem:
        return {}
    alt = plain_text(featured.alt) or plain_text(featured.title) or title
    return {"image": rewrite(featured.url, "href"), "image_alt": alt}


def _slug_of(plan: Plan) -> str:
    name = posixpath.basename(plan.bundle_dir or plan.rel_path.removesuffix(".md"))
    return name


def _item_tags(item: Item) -> list[str]:
    return [plain_text(name) for domain, _, name in item.categories
            if domain not in ("category", "post_format", "nav_menu") and name.strip()]


def _usable_tags(tags: list[str], plan: Plan, ctx: ImportContext) -> list[str]:
    """Tags the build can make a URL for: a name with no Latin letters gets its
    transliteration beside it, 'περιεχόμενο (periekhomeno)'."""
    usable = []
    for tag in dict.fromkeys(t for t in tags if t and t != plan.section):
        if not slugify(tag):
            spelled = anyascii(tag).strip()
            if not slugify(spelled):
                ctx.report.note("removed", plan.rel_path,
                                f"tag '{tag}' has no letters or digits to make a URL from")
                continue
            ctx.report.note("changed", plan.rel_path,
                            f"tag '{tag}' written '{tag} ({spelled})' for its URL")
            tag = f"{tag} ({spelled})"
        usable.append(tag)
    return usable


def _page_fields(item: Item, plan: Plan, ctx: ImportContext) -> dict:
    fields: dict = {"title": _title(item, plan, ctx)}
    description = plain_text(item.excerpt)
    if description:
        fields["description"] = description
    if item.menu_order:
        fields["order"] = item.menu_order
    fields["url"] = plan.url
    fields["extra"] = {"wordpress_id": item.id}
    return fields


def _stage_comments(item: Item, plan: Plan, ctx: ImportContext) -> None:
    """Write the approved comments to imported-comments/, outside content/ so that
    they are never published; count the rest. Email and IP addresses are left out."""
    kept = []
    for comment in item.comments:
        if comment.type in ("pingback", "trackback"):
            ctx.report.count("comments", f"{comment.type}s (left out)")
        elif comment.approved != "1":
            status = {"0": "unapproved", "spam": "spam", "trash": "trash"}.get(
                comment.approved, comment.approved or "unapproved")
            ctx.report.count("comments", f"{status} (left out)")
        else:
            kept.append(_comment_record(comment, ctx))
    if not kept:
        return
    ctx.report.count("comments", "kept", len(kept))
    stem = plan.rel_path.split("/", 1)[1].removesuffix(".md").removesuffix("/index")
    ctx.stage.add_text(f"imported-comments/{stem}.json",
                       json.dumps(kept, ensure_ascii=False, indent=2) + "\n")


def _comment_record(comment, ctx: ImportContext) -> dict:
    moment = None
    for text, zone in ((comment.date_gmt, timezone.utc), (comment.date, ctx.config.tz)):
        if text and text != NO_DATE:
            try:
                moment = datetime.fromisoformat(text).replace(tzinfo=zone)
                break
            except ValueError:
                continue
    return {"id": comment.id, "parent": comment.parent, "author": comment.author,
            "author_url": comment.author_url,
            "date": iso_date(moment, ctx.config.tz) if moment else "",
            "content": comment.content.strip()}
