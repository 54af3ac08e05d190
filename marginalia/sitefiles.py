"""Files made from the whole site once its pages are rendered: the sitemap, the
redirect and header rules for static hosts, robots.txt; and the check that no two
sources claim one output file."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from html import escape as escape_text

from .errors import OutputCollisionError, raise_if_any
from .feeds import permalink
from .model import OutputFile, Post, Site
from .theme import Theme
from .urls import output_path


def render_sitemap(site: Site, files: Sequence[OutputFile]) -> OutputFile:
    """List every canonical HTML page, with lastmod where the content gives one."""
    lastmod = {output_path(p.url): p.last_modified for p in site.posts}
    # Comparing aware datetimes in named zones is slow: compare instants, then take the
    # first post at the latest one, as max() over the datetimes would.
    instants = {id(p): p.last_modified.timestamp() for p in site.posts}

    def newest(posts: Sequence[Post]) -> datetime:
        latest = max(map(instants.__getitem__, map(id, posts)))
        return next(p for p in posts if instants[id(p)] == latest).last_modified

    for listing in (*site.sections, *site.tags, *site.authors):
        if listing.posts:
            lastmod[output_path(listing.url)] = newest(listing.posts)
    if site.posts:
        lastmod["index.html"] = newest(site.posts)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    redirects = {output_path(alias) for post in site.posts for alias in post.aliases}
    for output in sorted(files, key=lambda f: f.rel_path):
        path = output.rel_path
        if (not path.endswith(".html") or output.copy_from or path == "404.html"
                or "/page/" in f"/{path}" or path in redirects):
            continue
        url = "/" + path.removesuffix("index.html")
        lines.append(f"  <url><loc>{escape_text(permalink(site, url), quote=False)}</loc>"
                     + (f"<lastmod>{lastmod[path].isoformat()}</lastmod>"
                        if path in lastmod else "") + "</url>")
    lines.append("</urlset>")
    return OutputFile("sitemap.xml", ("\n".join(lines) + "\n").encode("utf-8"), "sitemap")


def render_redirects(site: Site) -> OutputFile:
    """List every alias as a permanent redirect, in Netlify and Cloudflare Pages syntax."""
    base = site.config.base_path.rstrip("/")
    lines = sorted(f"{base}{alias} {base}{post.url} 301"
                   for post in site.posts for alias in post.aliases)
    return OutputFile("_redirects", "".join(line + "\n" for line in lines).encode("utf-8"),
                      "aliases")


def render_headers(site: Site, theme: Theme) -> OutputFile:
    """Give fingerprinted assets a year-long immutable cache.

    Hosts merge every rule that matches a path, so the catch-all rule sets no
    Cache-Control: pages keep the hosts' own default, which revalidates.
    """
    base = site.config.base_path.rstrip("/")
    lines = []
    for name, url in sorted(theme.urls.items()):
        if url != "/" + name:
            lines += [f"{base}{url}", "  Cache-Control: public, max-age=31536000, immutable"]
    lines += [f"{base}/*", "  X-Content-Type-Options: nosniff",
              "  Referrer-Policy: strict-origin-when-cross-origin"]
    return OutputFile("_headers", ("\n".join(lines) + "\n").encode("utf-8"), "cache headers")


def render_robots(site: Site) -> OutputFile:
    text = f"User-agent: *\nAllow: /\n\nSitemap: {permalink(site, '/sitemap.xml')}\n"
    return OutputFile("robots.txt", text.encode("utf-8"), "robots.txt")


def check_collisions(files: Sequence[OutputFile], built_before: Collection[str] = ()) -> None:
    """Fail when two sources would write the same file, even differing only by case,
    or when one file would have to be the folder of another.

    built_before lists the files of the last build, which passed this check: the
    same files, each claimed once, need no second look.
    """
    if built_before and len(files) == len(built_before) and all(
            f.rel_path in built_before for f in files):
        return
    claims: dict[str, list[OutputFile]] = defaultdict(list)
    for output in files:
        key = unicodedata.normalize("NFC", output.rel_path).casefold()
        claims[key].append(output)
    errors = []
    for key, owners in sorted(claims.items()):
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in claims:
                blocker = claims[folder][0]
                errors.append(OutputCollisionError(
                    f"'{owners[0].rel_path}' from {owners[0].source} would need "
                    f"'{blocker.rel_path}' from {blocker.source} to be a folder; change "
                    "a slug or url so they differ", owners[0].source))
    for key, owners in sorted(claims.items()):
        if len(owners) > 1:
            listed = ", ".join(sorted({o.source for o in owners}))
            errors.append(OutputCollisionError(
                f"{len(owners)} sources claim the output file '{owners[0].rel_path}': "
                f"{listed}; change a slug, url or file name so each is unique",
                sorted(o.source for o in owners)[0]))
    raise_if_any(errors)
