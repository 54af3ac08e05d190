"""Turn parsed posts and pages into the site model: what is published, and where."""

from __future__ import annotations

import hashlib
import posixpath
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import unquote, urlsplit

from .errors import BuildError, ContentError, raise_if_any
from .model import (ArchiveMonth, ArchiveYear, Author, Config, Neighbours, Page, Post,
                    Section, Site, Tag)
from .urls import rewrite_urls, slugify, url_scheme

CONTENT_PREFIX = "content/"


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which held-back posts a build includes, and the clock it judges them by."""

    now: datetime
    drafts: bool = False
    future: bool = False
    expired: bool = False


def assemble_site(posts: list[Post], pages: list[Page], assets: tuple[str, ...],
                  config: Config, visibility: Visibility,
                  problems: list[BuildError] | None = None) -> Site:
    """Choose the published posts, resolve content links, and group posts.

    Problems are raised at once, unless a problems list is given to collect them in.
    A link to a Markdown file that is not published is left as it is: the check of
    broken links reports it, as a warning.
    """
    published, held_back = _split_published(posts, visibility)
    asset_urls = map_asset_urls(assets, posts)
    link_targets = _link_targets(published, pages, asset_urls.items())
    errors: list[BuildError] = []
    published = [_with_resolved_links(p, link_targets) for p in published]
    pages = [_with_resolved_links(p, link_targets) for p in pages]
    published.sort(key=_newest_first)
    tags = _group_tags(published, errors)
    if problems is None:
        raise_if_any(errors)
    else:
        problems.extend(errors)
    return Site(
        config=config,
        posts=tuple(published),
        pages=tuple(sorted(pages, key=lambda p: (p.order, p.url))),
        sections=_group_sections(published, config),
        tags=tags,
        authors=_group_authors(published),
        archives=_group_archives(published, config),
        neighbours=_find_neighbours(published),
        held_back=tuple(sorted(held_back, key=_newest_first)),
        newest_date=max((p.date for p in published), default=None),
        oldest_date=min((p.date for p in published), default=None),
        asset_urls=tuple(sorted(asset_urls.items())),
    )


def resolve_links_against(site: Site, post: Post) -> Post:
    """Resolve a post's links to other content files against an assembled site, as
    assemble_site would: for a post read again after the site was assembled."""
    return _with_resolved_links(post, _link_targets(site.posts, site.pages, site.asset_urls))


def _link_targets(posts, pages, asset_urls) -> dict[str, str]:
    """Map each published post, page and file under content/ to its URL."""
    targets = {p.rel_path: p.url for p in [*posts, *pages]}
    targets.update(asset_urls)
    return targets


def hold_reason(post: Post, now: datetime) -> str:
    """Say why a real build would leave a post out: draft, future, expired, or ''."""
    if post.draft:
        return "draft"
    if post.date > now:
        return "future"
    if post.expires is not None and post.expires <= now:
        return "expired"
    return ""


def _newest_first(post: Post) -> tuple:
    return (-post.date.timestamp(), post.rel_path)


def _split_published(posts: list[Post], visibility: Visibility) -> tuple[list, list]:
    published, held_back = [], []
    for post in posts:
        hidden = ((post.draft and not visibility.drafts)
                  or (post.date > visibility.now and not visibility.future)
                  or (post.expires is not None and post.expires <= visibility.now
                      and not visibility.expired))
        (held_back if hidden else published).append(post)
    return published, held_back


def map_asset_urls(assets: tuple[str, ...], posts: list[Post]) -> dict[str, str]:
    """Give each file under content/ its URL: beside its post in a bundle, else mirrored."""
    bundles = {posixpath.dirname(p.rel_path): p.url for p in posts
               if posixpath.basename(p.rel_path).rsplit(".", 1)[0] == "index"}
    urls = {}
    for asset in assets:
        directory = posixpath.dirname(asset)
        bundle = next((d for d in _ancestors(directory) if d in bundles), None)
        if bundle is not None:
            urls[asset] = bundles[bundle] + asset[len(bundle) + 1:]
        else:
            urls[asset] = "/" + asset[len(CONTENT_PREFIX):]
    return urls


def _ancestors(directory: str):
    while directory and directory + "/" != CONTENT_PREFIX:
        yield directory
        directory = posixpath.dirname(directory)


def _with_resolved_links(item, targets: dict[str, str]):
    """Point relative links at other content files to those files' URLs."""
    if not item.relative_links:
        return item
    resolve = link_resolver(item.rel_path, targets)
    body_html = rewrite_urls(item.body_html, resolve)
    if body_html == item.body_html:
        return item
    if isinstance(item, Page):
        return replace(item, body_html=body_html)
    # The post now depends on other files' URLs as well as its own text.
    digest = item.digest and hashlib.blake2b(
        f"{item.digest}\0{body_html}".encode("utf-8", "surrogatepass"),
        digest_size=16).hexdigest()
    return replace(item, body=body_html, digest=digest)


def link_resolver(rel_path: str, targets: dict[str, str]):
    """Make the function that points one file's relative links at content URLs."""
    base_dir = posixpath.dirname(rel_path)

    def resolve(url: str) -> str:
        if not url or url.startswith(("/", "#", "?")) or url_scheme(url):
            return url
        parts = urlsplit(url)
        target = posixpath.normpath(posixpath.join(base_dir, unquote(parts.path)))
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        return targets[target] + fragment if target in targets else url

    return resolve


def _group_sections(posts: list[Post], config: Config) -> tuple[Section, ...]:
    by_name = defaultdict(list)
    for post in posts:
        by_name[post.section].append(post)
    return tuple(Section(s.name, s.slug, s.description, f"/{s.slug}/", tuple(by_name[s.name]))
                 for s in config.sections)


def _group_tags(posts: list[Post], errors: list[BuildError]) -> tuple[Tag, ...]:
    by_slug: dict[str, list[Post]] = defaultdict(list)
    spellings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    files: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for post in posts:
        for tag in post.tags:
            slug = slugify(tag)
            by_slug[slug].append(post)
            spellings[slug][tag] += 1
            files[slug][tag.casefold()].append(post.rel_path)
    for slug, by_name in sorted(files.items()):
        if len(by_name) > 1:
            listed = "; ".join(f"'{name}' in {', '.join(paths[:3])}"
                               for name, paths in sorted(by_name.items()))
            errors.append(ContentError(
                f"tags that differ only in punctuation share the URL /tags/{slug}/: "
                f"{listed}; spell them the same way",
                min(p for paths in by_name.values() for p in paths)))
    return tuple(Tag(_most_common(spellings[slug]), slug, f"/tags/{slug}/", tuple(tagged))
                 for slug, tagged in sorted(by_slug.items()))


def _most_common(counts: dict[str, int]) -> str:
    return min(counts, key=lambda name: (-counts[name], name))


def _group_authors(posts: list[Post]) -> tuple[Author, ...]:
    by_slug: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        if post.author and slugify(post.author):
            by_slug[slugify(post.author)].append(post)
    return tuple(Author(tagged[-1].author, slug, author_url(slug), tuple(tagged))
                 for slug, tagged in sorted(by_slug.items()))


def author_url(slug: str) -> str:
    return f"/authors/{slug}/"


def archive_url(year: int, month: int | None = None) -> str:
    return f"/{year:04d}/" if month is None else f"/{year:04d}/{month:02d}/"


def _group_archives(posts: list[Post], config: Config) -> tuple[ArchiveYear, ...]:
    by_month: dict[tuple[int, int], list[Post]] = defaultdict(list)
    for post in posts:
        local = post.date.astimezone(config.tz)
        by_month[(local.year, local.month)].append(post)
    years: dict[int, list[ArchiveMonth]] = defaultdict(list)
    for (year, month), month_posts in sorted(by_month.items(), reverse=True):
        years[year].append(ArchiveMonth(year, month, archive_url(year, month),
                                        tuple(month_posts)))
    return tuple(ArchiveYear(year, archive_url(year), tuple(months))
                 for year, months in sorted(years.items(), reverse=True))


def _find_neighbours(posts: list[Post]) -> dict[str, Neighbours]:
    by_section = defaultdict(list)
    for post in posts:
        by_section[post.section].append(post)
    neighbours = {}
    for section_posts in by_section.values():
        for index, post in enumerate(section_posts):
            newer = section_posts[index - 1] if index > 0 else None
            older = section_posts[index + 1] if index + 1 < len(section_posts) else None
            neighbours[post.rel_path] = Neighbours(previous=older, next=newer)
    return neighbours
