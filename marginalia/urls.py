"""Slugs, permalinks and the rewriting of links inside rendered HTML."""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Well under the 255-byte limit of a file name, and still readable in a URL.
MAX_SLUG_LENGTH = 80
# Jekyll names posts 2016-06-29-missile-drills.md; the date is not part of the slug.
DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
MAYBE_RELATIVE_LINK = re.compile(
    r"""\s(?:href|src|poster|cite|srcset)\s*=\s*["']?(?![a-z][a-z0-9+.-]*:|[/#?"'])""",
    re.IGNORECASE)
# Attributes that carry one URL. srcset is handled apart: it carries several.
URL_ATTRIBUTE = re.compile(
    r"""(?P<lead>\s(?P<name>href|src|poster|cite)\s*=\s*)"""
    r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'=<>`]+))""",
    re.IGNORECASE)


def has_relative_links(html_text: str) -> bool:
    """Tell quickly whether any URL in the HTML could be relative (no scheme, no '/')."""
    return MAYBE_RELATIVE_LINK.search(html_text) is not None


@lru_cache(maxsize=1 << 16)
def slugify(text: str) -> str:
    """Turn a title or name into a lowercase, hyphenated ASCII slug."""
    text = unicodedata.normalize("NFKD", text)
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"['\u2019]", "", text)
    text = re.sub(r"\b(?:[a-z]\.){2,}", lambda m: m[0].replace(".", ""), text)
    return _shorten_slug("-".join(re.findall(r"[a-z0-9]+", text)))


def _shorten_slug(slug: str) -> str:
    """Cut a slug to MAX_SLUG_LENGTH at the last whole word; one longer word is cut."""
    if len(slug) <= MAX_SLUG_LENGTH:
        return slug
    last_hyphen = slug.rfind("-", 0, MAX_SLUG_LENGTH + 1)
    return slug[:last_hyphen] if last_hyphen > 0 else slug[:MAX_SLUG_LENGTH]


def slug_source(rel_path: str) -> str:
    """The name a post's slug is made from: its file's, or its folder's for a bundle."""
    folder, _, name = rel_path.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    return folder.rpartition("/")[2] if stem == "index" else stem


def slug_from_name(name: str) -> str:
    """Slugify a file or folder name, without a leading YYYY-MM-DD- date."""
    return slugify(DATE_PREFIX.sub("", name, count=1))


def slug_length_problem(slug: str) -> str | None:
    """Say why a slug given by hand is too long, or None when it is not."""
    if len(slug) <= MAX_SLUG_LENGTH:
        return None
    return (f"slug is {len(slug)} characters long; keep it to {MAX_SLUG_LENGTH} or fewer, "
            f"such as '{slugify(slug)}'")


def is_valid_slug(slug: str) -> bool:
    """Tell whether a slug is safe to use as one path segment."""
    return bool(SLUG_PATTERN.fullmatch(slug))


def format_permalink(pattern: str, date: datetime, slug: str, section_slug: str) -> str:
    """Fill a permalink pattern such as /{year}/{month}/{day}/{slug}/."""
    return pattern.format(year=f"{date.year:04d}", month=f"{date.month:02d}",
                          day=f"{date.day:02d}", slug=slug, section=section_slug)


@lru_cache(maxsize=1 << 16)
def url_scheme(url: str) -> str:
    """Return the scheme a browser would see, ignoring tricks such as 'java\\tscript:'."""
    cleaned = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(url)).lower()
    match = re.match(r"^([a-z][a-z0-9+.\-]*):", cleaned)
    return match[1] if match else ""


@lru_cache(maxsize=1)
def link_schemes() -> frozenset[str]:
    """The URL schemes a link may use: the HTML sanitiser's own allow-list (http,
    https, mailto, tel, sms, ftp, irc, magnet, webcal, geo, xmpp and others)."""
    import nh3  # imported when first needed: a rebuild from the cache never is

    return frozenset(nh3.ALLOWED_URL_SCHEMES)


def is_safe_link(url: str) -> bool:
    """Allow relative links and the sanitiser's schemes; refuse javascript: and the like."""
    scheme = url_scheme(url)
    return scheme == "" or scheme in link_schemes()


def is_absolute_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def rewrite_urls(html_text: str, rewrite: Callable[[str], str]) -> str:
    """Apply rewrite to every URL held in href, src, poster, cite and srcset."""
    def replace(match: re.Match) -> str:
        raw = match["dq"] if match["dq"] is not None else (
            match["sq"] if match["sq"] is not None else match["bare"])
        new = rewrite(html.unescape(raw))
        return f'{match["lead"]}"{html.escape(new, quote=True)}"'

    html_text = URL_ATTRIBUTE.sub(replace, html_text)
    return re.sub(r'(\ssrcset\s*=\s*)"([^"]*)"',
                  lambda m: f'{m[1]}"{_rewrite_srcset(m[2], rewrite)}"', html_text)


def collect_urls(html_text: str) -> tuple[str, ...]:
    """List every URL an HTML text points at, in order, without duplicates."""
    urls: dict[str, None] = {}

    def keep(url: str) -> str:
        urls[url] = None
        return url

    if "srcset" in html_text:
        rewrite_urls(html_text, keep)
    else:  # the same URLs, found without building a rewritten copy of the page
        for match in URL_ATTRIBUTE.finditer(html_text):
            raw = match["dq"] if match["dq"] is not None else (
                match["sq"] if match["sq"] is not None else match["bare"])
            urls[html.unescape(raw)] = None
    # Most links (navigation, tags, footer) recur on every page: keep one copy of each.
    return tuple(map(sys.intern, urls))


def _rewrite_srcset(value: str, rewrite: Callable[[str], str]) -> str:
    candidates = []
    for candidate in html.unescape(value).split(","):
        parts = candidate.strip().split(None, 1)
        if parts:
            parts[0] = rewrite(parts[0])
            candidates.append(" ".join(parts))
    return html.escape(", ".join(candidates), quote=True)


def absolutize(base: str) -> Callable[[str], str]:
    """Return a rewriter that resolves relative URLs, fragments too, against a base."""
    def rewrite(url: str) -> str:
        return url if url_scheme(url) else urljoin(base, url)
    return rewrite


def prefix_root_relative(base_path: str) -> Callable[[str], str]:
    """Return a rewriter that puts the site's base path before '/...' links."""
    def rewrite(url: str) -> str:
        if url.startswith("/") and not url.startswith("//") and base_path != "/":
            return base_path.rstrip("/") + url
        return url
    return rewrite


def output_path(url: str) -> str:
    """Map a site URL to its file: /a/b/ -> a/b/index.html, /404.html -> 404.html."""
    path = url.lstrip("/")
    return path + "index.html" if path.endswith("/") or not path else path
