"""Parse content files into Posts and Pages."""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat

from .cache import ParseCache, source_key
from .commentary import summarize
from .config import find_section, typeset, unknown_section
from .discover import read_source
from .errors import BuildError, ContentError, DraftProblems, did_you_mean, raise_if_any
from .frontmatter import FieldChecker, split_front_matter
from .markup import render_markdown
from .pool import worker_count, worker_pool
from .related import post_terms
from .model import Config, ContentFile, Page, Post, SectionConfig, SourceFile
from .urls import format_permalink, has_relative_links, is_valid_slug, slugify, url_scheme

POST_FIELDS = ("title", "section", "date", "updated", "expires", "dek", "sources", "tags",
               "author", "slug", "comments", "draft", "aliases", "link", "image", "image_alt",
               "image_credit", "extra")
PAGE_FIELDS = ("title", "description", "layout", "menu", "order", "url", "extra")
MENUS = ("", "header", "footer")
SITE_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
IMG_SRC = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Below this many uncached files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True, slots=True)
class Parsed:
    posts: list[Post]
    pages: list[Page]
    errors: list[BuildError]  # every problem, across all files


def parse_all(files: Sequence[ContentFile | SourceFile], config: Config,
              cache: ParseCache | None = None,
              progress: Progress | None = None) -> Parsed:
    """Parse every file, from the cache where it is unchanged, else in parallel.

    A file whose signature is unchanged is not even read; one that was touched
    but not changed is read and hashed, and still not parsed again.
    """
    cache = cache or ParseCache(None, "")
    found_by_path = {f.rel_path: f for f in files if isinstance(f, ContentFile)}
    cache.reparse_body = partial(_reparse_body, found_by_path, config)
    results: list[Post | Page | BuildError | None] = [None] * len(files)
    pending: list[tuple[int, ContentFile | None, SourceFile | ContentFile]] = []
    for index, file in enumerate(files):
        found = file if isinstance(file, ContentFile) else None
        if found is not None and not cache.knows(found.rel_path):
            pending.append((index, found, found))  # new: read where it is parsed
            continue
        if found is not None and (item := cache.by_signature(found)) is not None:
            results[index] = item
            continue
        try:
            source = read_source(found) if found is not None else file
        except ContentError as error:
            results[index] = error
            continue
        if (item := cache.by_text(found, source_key(source.rel_path, source.text))) is not None:
            results[index] = item
            continue
        pending.append((index, found, source))
    outcomes = _parse_many([source for _, _, source in pending], config)
    for done, ((index, found, _), (outcome, key)) in enumerate(zip(pending, outcomes), start=1):
        if progress:
            progress("parsing", done, len(pending))
        results[index] = outcome
        if not isinstance(outcome, BuildError):
            cache.put(found, key, outcome)
    return Parsed(posts=[r for r in results if isinstance(r, Post)],
                  pages=[r for r in results if isinstance(r, Page)],
                  errors=[r for r in results if isinstance(r, BuildError)])


def _reparse_body(found_by_path: dict[str, ContentFile], config: Config, rel_path: str,
                  text_hash: str) -> str:
    """Parse a post again for its body, when the cached one cannot be used."""
    source = read_source(found_by_path[rel_path])
    if source_key(rel_path, source.text) != text_hash:
        raise ContentError("this file changed while the site was building; build again",
                           rel_path)
    return parse_source(source, config).body_html


Outcome = tuple[Post | Page | BuildError, str]  # and the source's key


def _parse_many(sources: list[SourceFile | ContentFile], config: Config) -> Iterator[Outcome]:
    """Yield each source's outcome in order, using every core for a large batch.

    A file not yet read is read by the worker that parses it, so that a first build
    never holds every text at once.
    """
    workers = worker_count()
    if len(sources) < PARALLEL_THRESHOLD or workers < 2:
        yield from (_parse_or_error(source, config) for source in sources)
        return
    chunk = max(1, min(64, len(sources) // (workers * 8)))
    with worker_pool(workers) as pool:
        yield from pool.map(_parse_or_error, sources, repeat(config), chunksize=chunk)


def _parse_or_error(source: SourceFile | ContentFile, config: Config) -> Outcome:
    try:
        if isinstance(source, ContentFile):
            source = read_source(source)
        key = source_key(source.rel_path, source.text)
        return parse_source(source, config), key
    except BuildError as error:
        return error, ""


def parse_source(source: SourceFile, config: Config) -> Post | Page:
    """Parse one content file; raise a ContentError or BuildErrors naming its lines."""
    if source.kind == "page":
        return parse_page(source, config)
    return parse_post(source, config)


def parse_post(source: SourceFile, config: Config) -> Post:
    """Parse a post: front matter checked field by field, body converted to HTML."""
    matter = split_front_matter(source.text, source.rel_path)
    check = FieldChecker(matter, source.rel_path)
    check.reject_unknown(POST_FIELDS)
    title = check.text("title", required=True)
    section = _find_section(check, config.sections)
    date = check.date("date", config.tz, required=True)
    updated = check.date("updated", config.tz)
    expires = check.date("expires", config.tz)
    dek = check.text("dek")
    sources = check.sources()
    tags = check.text_list("tags")
    _check_tag_slugs(check, tags)
    author = check.text("author", default=config.author)
    slug = check.slug()
    comments = check.flag("comments", config.comments.enabled)
    draft = check.flag("draft", False)
    aliases = _aliases(check)
    link = check.http_url("link")
    image, image_alt, image_credit = _lead_image(check, source.rel_path)
    extra = check.mapping("extra")
    if date and updated and updated < date:
        check.fail("updated", "'updated' is before 'date'; fix one of them")
    warnings: list[tuple[str, int]] = []
    try:
        raise_if_any(check.errors)
        body_html = render_markdown(matter.body, config.markdown, source.rel_path,
                                    matter.body_line, config.unsafe_html, config.iframe_hosts,
                                    warnings, dashes=config.dashes)
    except BuildError as problem:
        if draft:
            raise DraftProblems([problem]) from None
        raise
    assert date is not None and section is not None
    return Post(
        rel_path=source.rel_path, title=typeset(config, title), section=section.name,
        date=date, updated=updated, expires=expires, dek=typeset(config, dek),
        sources=sources, tags=tags,
        author=author, slug=slug, comments=comments, draft=draft,
        url=format_permalink(config.permalink, date.astimezone(config.tz), slug,
                             section.slug),
        body=body_html, summary=typeset(config, dek) or summarize(body_html),
        relative_links=has_relative_links(body_html), aliases=aliases, link=link,
        extra=extra, warnings=tuple(warnings),
        terms=post_terms(title, dek, body_html) if config.related.count else "",
        image=image, image_alt=image_alt, image_credit=image_credit,
        image_line=matter.key_lines.get("image", 0) if image else 0,
        body_images=local_image_sources(body_html),
        digest=source_key(source.rel_path, source.text))


def parse_page(source: SourceFile, config: Config) -> Page:
    """Parse a standing page: a title, an optional menu place and a body."""
    matter = split_front_matter(source.text, source.rel_path)
    check = FieldChecker(matter, source.rel_path)
    check.reject_unknown(PAGE_FIELDS)
    title = check.text("title", required=True)
    description = check.text("description")
    layout = check.text("layout", default="page.html")
    menu = check.text("menu")
    if menu not in MENUS:
        check.fail("menu", f"menu '{menu}' is unknown{did_you_mean(menu, MENUS[1:])}; "
                   "use header or footer")
    order = check.number("order", 0)
    url = _page_url(check, source.rel_path)
    extra = check.mapping("extra")
    raise_if_any(check.errors)
    warnings: list[tuple[str, int]] = []
    body_html = render_markdown(matter.body, config.markdown, source.rel_path,
                                matter.body_line, config.unsafe_html, config.iframe_hosts,
                                warnings, dashes=config.dashes)
    return Page(rel_path=source.rel_path, title=typeset(config, title),
                description=typeset(config, description),
                layout=layout, menu=menu, order=order, url=url, body_html=body_html,
                relative_links=has_relative_links(body_html), extra=extra,
                warnings=tuple(warnings))


def _lead_image(check: FieldChecker, rel_path: str) -> tuple[str, str, str]:
    """The lead image's rel_path under content/, its alt text and its credit."""
    raw = check.text("image")
    alt = check.text("image_alt")
    credit = check.text("image_credit")
    if not raw:
        for key in ("image_alt", "image_credit"):
            if check.data.get(key) is not None:
                check.fail(key, f"'{key}' describes a lead image, but there is no 'image:'; "
                           "add one or remove this field")
        return "", "", ""
    image = resolve_image_path(raw, rel_path)
    if image is None:
        check.fail("image", f"image '{raw}' must be a path to a file beside the post (such "
                   "as photo.jpg in the post's folder) or under content/ (such as "
                   "/images/photo.jpg), with no '..' leading out of content/")
        return "", "", ""
    if not alt:
        check.fail("image", "'image' needs 'image_alt:' too: a short description of the "
                   "picture for readers who cannot see it")
    return image, alt, credit


def resolve_image_path(raw: str, rel_path: str) -> str | None:
    """Turn image: into a rel_path under content/: '/x' is content/x, 'content/x' is
    itself, anything else is beside the post. None for a path that leaves content/."""
    if url_scheme(raw) or raw.startswith("//") or "\\" in raw:
        return None
    if raw.startswith("/"):
        joined = "content" + raw
    elif raw.startswith("content/"):
        joined = raw
    else:
        joined = posixpath.join(posixpath.dirname(rel_path), raw)
    normal = posixpath.normpath(joined)
    return normal if normal.startswith("content/") else None


def local_image_sources(body_html: str) -> tuple[str, ...]:
    """The src of every <img> in a body that may be a file of the site: no scheme, no
    host. Kept with the parsed post, so that a rebuild never loads a body to look."""
    if "<img" not in body_html:
        return ()
    found = []
    for match in IMG_SRC.finditer(body_html):
        src = html.unescape(match[1] if match[1] is not None else match[2]).strip()
        if src and not url_scheme(src) and not src.startswith(("//", "#", "?")):
            found.append(src)
    return tuple(dict.fromkeys(found))


def _find_section(check: FieldChecker, sections: tuple[SectionConfig, ...]):
    name = check.text("section", required=True)
    if not name:
        return None
    section = find_section(sections, name)
    if section is None:
        check.fail("section", unknown_section(name, sections))
    return section


def _check_tag_slugs(check: FieldChecker, tags: tuple[str, ...]) -> None:
    for tag in tags:
        if not slugify(tag):
            check.fail("tags", f"tag '{tag}' has no letters or digits to make a URL from")


def _aliases(check: FieldChecker) -> tuple[str, ...]:
    aliases = []
    for alias in check.text_list("aliases"):
        if not _is_clean_site_path(alias):
            check.fail("aliases", f"alias '{alias}' must be a site path such as "
                       "/2015/old-title/: letters, digits, '.', '-', '_', '~' and '/', "
                       "no '..', no spaces, no scheme or host")
        else:
            aliases.append(alias if alias.endswith((".html", "/")) else alias + "/")
    return tuple(aliases)


def _page_url(check: FieldChecker, rel_path: str) -> str:
    url = check.text("url")
    if url:
        if not (_is_clean_site_path(url) and url.endswith("/")):
            check.fail("url", f"url '{url}' must be a site path that starts and ends "
                       "with '/', such as /about/")
        return url
    stem = rel_path.split("/", 2)[2].rsplit(".", 1)[0]
    segments = [s for s in stem.split("/") if s != "index"]
    for segment in segments:
        if not is_valid_slug(segment):
            check.fail("title", f"file name '{segment}' cannot be a URL; rename the "
                       f"file to '{slugify(segment) or 'page'}.md' or set url:")
    return "/" + "".join(s + "/" for s in segments)


def _is_clean_site_path(path: str) -> bool:
    """A plain site path: no host, no '..', and nothing redirect rules read as syntax."""
    segments = path.strip("/").split("/")
    return (SITE_PATH.fullmatch(path) is not None and not path.startswith("//")
            and all(s not in ("", ".", "..") for s in segments if path.strip("/")))
