"""Find links in the rendered site that point at nothing."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from .config import CONFIG_NAME
from .discover import is_markdown
from .errors import BuildError, ConfigError, ContentError
from .incremental import RenderCache
from .markup import line_of_link
from .model import Config, OutputFile, Site
from .urls import url_scheme


def find_broken_links(files: Sequence[OutputFile], site: Site, texts: Mapping[str, str],
                      cache: RenderCache | None = None,
                      previous_paths: Iterable[str] = (),
                      existing: Collection[str] | None = None) -> list[BuildError]:
    """Return one problem per broken internal link, placed in the source that made it.

    A page reused from the last build is checked by what the cache remembers of it:
    the links that were broken then, or, when some file of the last build is gone
    (previous_paths lists them all), every link it has. existing gives every file of
    the site when files holds only some of them.
    """
    if existing is None:
        existing = {f.rel_path for f in files}
    base_url, base_path = site.config.base_url, site.config.base_path
    something_gone = any(path not in existing for path in previous_paths)
    problems: dict[tuple[str, str], BuildError] = {}
    # Most links (navigation, tags, footer, sources) point from every page to the
    # same few places, and a link that is not relative means the same from any page.
    verdicts: dict[str, str | None] = {}

    def missing(url: str, page_url: str) -> str | None:
        target = _internal_path(url, page_url, base_url, base_path)
        return target if target is not None and not _exists(target, existing) else None

    for output in files:
        links: Iterable[str] = output.links or ()
        if output.links is None and cache is not None:
            links = (cache.old_links if something_gone else cache.old_broken)(output.rel_path)
        page_url = "/" + output.rel_path.removesuffix("index.html")
        broken = []
        for url in links:
            if url.startswith(("/", "#", base_url)) or url_scheme(url):
                if url not in verdicts:
                    verdicts[url] = missing(url, "/")
                target = verdicts[url]
            else:
                target = missing(url, page_url)
            if target is None:
                continue
            broken.append(url)
            key = (output.source, url)
            if key not in problems:
                text = texts.get(output.source, "")
                problems[key] = ContentError(
                    _markdown_link_problem(url, output.source, site, texts)
                    or f"broken link '{url}': nothing is built at /{target}; fix the link "
                    "or add the missing post, page or file",
                    output.source if output.source in texts else output.rel_path,
                    line_of_link(text, url) if text else None)
        if broken and cache is not None:
            cache.broken[output.rel_path] = broken
    return list(problems.values())


def _markdown_link_problem(url: str, source: str, site: Site,
                           texts: Mapping[str, str]) -> str | None:
    """Say what is wrong with a relative link from a content file to a Markdown file:
    assembly points every such link at a published post or page, so this one is not."""
    path = unquote(urlsplit(url).path)
    if (source not in texts or url_scheme(url) or path.startswith("/")
            or not is_markdown(path)):
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
    reason = ("is a draft or not yet published"
              if any(post.rel_path == target for post in site.held_back)
              else "has errors of its own" if target in texts else "does not exist")
    return f"link to '{url}': {target} {reason}; fix the path or remove the link"


def check_menu_links(config: Config, files: Sequence[OutputFile]) -> list[BuildError]:
    """Find footer links in site.toml that point at a page the site does not have."""
    existing = {f.rel_path for f in files}
    errors: list[BuildError] = []
    for link in config.footer_links:
        target = _internal_path(link.url, "/", config.base_url, config.base_path)
        if target is not None and not _exists(target, existing):
            errors.append(ConfigError(
                f"footer link '{link.label}' points at {link.url}, but no page is built "
                "there; add content/pages/ for it or fix the url", CONFIG_NAME,
                _line_in_config(config, link.url)))
    return errors


def _line_in_config(config: Config, needle: str) -> int | None:
    try:
        text = (config.site_dir / CONFIG_NAME).read_text(encoding="utf-8-sig")
    except OSError:
        return None
    match = re.search(rf"""=\s*(["']){re.escape(needle)}\1""", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _internal_path(url: str, page_url: str, base_url: str, base_path: str) -> str | None:
    """Return the output path a link points to, or None when it leaves the site."""
    if url.startswith(base_url):
        url = base_path + url[len(base_url):]
    if not url or url.startswith(("#", "//")) or url_scheme(url):
        return None
    path = unquote(urlsplit(url).path)
    if not path:
        return None
    if not path.startswith("/"):
        path = posixpath.join(base_path + page_url.lstrip("/"), path)
    if not path.startswith(base_path):
        return None
    resolved = posixpath.normpath(path[len(base_path) - 1:])
    trailing = "/" if path.endswith("/") and resolved != "/" else ""
    return (resolved + trailing).lstrip("/")


def _exists(target: str, existing: Collection[str]) -> bool:
    if target == "" or target.endswith("/"):
        return target + "index.html" in existing
    return target in existing or target + "/index.html" in existing
