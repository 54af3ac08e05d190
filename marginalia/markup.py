"""Turn a Markdown body into safe HTML."""

from __future__ import annotations

import html
import importlib
import re
from typing import Any
from urllib.parse import urlsplit

from .errors import ContentError
from .frontmatter import NOT_TEXT
from .typography import smarten
from .urls import collect_urls, is_safe_link

ALLOWED_TAGS = {
    "a", "abbr", "aside", "b", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
    "var", "video", "audio", "source", "track", "picture",
}
COMMON_ATTRIBUTES = {"id", "class", "title", "lang", "dir"}
ALLOWED_ATTRIBUTES = {
    "*": COMMON_ATTRIBUTES,
    "a": {"href", "rel", "hreflang"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height", "loading"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "video": {"src", "poster", "controls", "width", "height", "preload", "muted", "loop"},
    "audio": {"src", "controls", "preload", "loop"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "blockquote": {"cite"}, "q": {"cite"}, "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"}, "time": {"datetime"},
    "td": {"colspan", "rowspan", "style"}, "th": {"colspan", "rowspan", "scope", "style"},
    "ol": {"start", "reversed", "type"}, "li": {"value"},
    "details": {"open"}, "abbr": {"title"},
}
LINK_SCHEMES = {"http", "https", "mailto"}
SMART_PUNCTUATION = "smarty"
IFRAME_ATTRIBUTES = {"src", "width", "height", "title", "allow", "allowfullscreen",
                     "loading", "referrerpolicy"}
# Markdown inputs that make Python-Markdown crawl: refuse them before converting.
MAX_NESTING = 40
MAX_BRACKET_RUN = 200

_converters: dict[tuple[str, ...], Any] = {}  # markdown.Markdown by extensions
BUILT_IN_EXTENSIONS = frozenset({
    "abbr", "admonition", "attr_list", "codehilite", "def_list", "extra", "fenced_code",
    "footnotes", "legacy_attrs", "legacy_em", "md_in_html", "meta", "nl2br", "sane_lists",
    "tables", "toc", "wikilinks"})


def render_markdown(body: str, extensions: tuple[str, ...], rel_path: str,
                    body_line: int, unsafe_html: bool = False,
                    iframe_hosts: tuple[str, ...] = ()) -> str:
    """Convert a post body to HTML, refusing unsafe links and sanitising raw HTML."""
    _refuse_pathological(body, rel_path, body_line)
    body = NOT_TEXT.sub("", body)  # invisible junk from pasted text; invalid in feeds
    converter = _converter(extensions)
    try:
        rendered = converter.reset().convert(body)
    except RecursionError:
        _converters.pop(extensions, None)  # a converter that failed midway keeps bad state
        raise ContentError("Markdown is nested too deeply to convert; flatten the "
                           "lists or quotes", rel_path, body_line) from None
    _refuse_unsafe_links(rendered, body, rel_path, body_line)
    if not unsafe_html:
        rendered = sanitize_html(rendered, iframe_hosts)
    return smarten(rendered) if SMART_PUNCTUATION in extensions else rendered


def sanitize_html(html_text: str, iframe_hosts: tuple[str, ...] = ()) -> str:
    """Keep ordinary formatting, and iframes only from the hosts the site allows."""
    tags, attributes = ALLOWED_TAGS, ALLOWED_ATTRIBUTES
    if iframe_hosts:
        tags = tags | {"iframe"}
        attributes = {**attributes, "iframe": IFRAME_ATTRIBUTES}
    import nh3  # imported when first needed: a rebuild from the cache never is

    return nh3.clean(html_text, tags=tags, attributes=attributes, url_schemes=LINK_SCHEMES,
                     link_rel=None, filter_style_properties={"text-align"},
                     attribute_filter=_iframe_filter(iframe_hosts) if iframe_hosts else None)


def _iframe_filter(hosts: tuple[str, ...]):
    allowed = {h.lower() for h in hosts}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "iframe" and attribute == "src":
            parts = urlsplit(value)
            return value if parts.scheme == "https" and parts.hostname in allowed else None
        return value
    return keep


def prepare_converter(extensions: tuple[str, ...]) -> None:
    """Import Python-Markdown and build its converter now rather than on first use."""
    _converter(extensions)


def _converter(extensions: tuple[str, ...]) -> Any:
    import markdown  # imported when first needed: a rebuild from the cache never is

    if extensions not in _converters:
        # 'smarty' is done by typography.smarten, the same rules in one fast pass.
        _converters[extensions] = markdown.Markdown(
            extensions=[_extension(e) for e in extensions if e != SMART_PUNCTUATION],
            output_format="html")
    return _converters[extensions]


def _extension(name: str) -> Any:
    """An extension that ships with Python-Markdown, made directly: by name, Markdown
    first reads the entry points of every installed package, about 10 ms."""
    if name not in BUILT_IN_EXTENSIONS:
        return name
    return importlib.import_module(f"markdown.extensions.{name}").makeExtension()


def _refuse_pathological(body: str, rel_path: str, body_line: int) -> None:
    for number, line in enumerate(body.split("\n"), start=body_line):
        depth = len(line) - len(line.lstrip(" \t>*-+"))
        if depth > MAX_NESTING * 4 and line.strip():
            raise ContentError(f"this line is nested {depth} levels deep; "
                               f"Markdown nesting is limited to {MAX_NESTING}",
                               rel_path, number)
        if re.search(rf"[\[\]()]{{{MAX_BRACKET_RUN},}}", line):
            raise ContentError(f"a run of over {MAX_BRACKET_RUN} brackets; "
                               "escape them with \\ or put them in `code`",
                               rel_path, number)


def _refuse_unsafe_links(rendered: str, body: str, rel_path: str, body_line: int) -> None:
    unsafe = [url for url in collect_urls(rendered) if not is_safe_link(url)]
    if unsafe:
        url = unsafe[0]
        raise ContentError(f"link '{url[:80]}' uses a scheme that is not "
                           "allowed; use http, https, mailto or a relative link",
                           rel_path, line_of_link(body, url, body_line))


def line_of_link(text: str, url: str, first_line: int = 1) -> int:
    """Return the line where a link's URL first appears in text, or first_line.

    The URL may be written with entities or spaces inside it (jav&#x61;script:),
    so the search also tries a pattern that allows those between its letters.
    """
    index = text.find(url)
    if index < 0:
        head = re.sub(r"\s+", "", url)[:12]
        gap = r"(?:\s|&#?\w+;?)*"
        pattern = gap.join(f"(?:{re.escape(c)}|&#0*{ord(c)};?|&#x0*{ord(c):x};?)"
                           for c in head)
        match = re.search(pattern, text, re.IGNORECASE) if head else None
        index = match.start() if match else -1
    return first_line + text.count("\n", 0, index) if index >= 0 else first_line


def summarize(body_html: str, words: int = 40) -> str:
    """Return the opening words of the first paragraph, as plain text."""
    match = re.search(r"<p>(.*?)</p>", body_html, re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", match[1] if match else body_html))
    parts = text.split()
    return " ".join(parts[:words]) + ("\u2026" if len(parts) > words else "")
