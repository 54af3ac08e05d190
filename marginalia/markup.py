"""Turn a Markdown body into safe HTML."""

from __future__ import annotations

import html
import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urlsplit

from .commentary import mark_attributions
from .engines import SMART_PUNCTUATION, convert_markdown
from .errors import ContentError, did_you_mean
from .frontmatter import NOT_TEXT
from .model import MarkdownConfig
from .typography import smarten
from .urls import URL_ATTRIBUTE, collect_urls, is_safe_link, link_schemes, url_scheme

ALLOWED_TAGS = {
    "a", "abbr", "aside", "b", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
    "var", "video", "audio", "source", "track", "picture", "input",
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
    "details": {"open"}, "abbr": {"title"}, "input": {"checked"},
}
# Task list boxes: any input a post holds becomes a box that cannot be changed.
FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": ""}}
# The sanitiser adds those two in an order that changes from one process to the next;
# one order is written, so that a build's bytes do not depend on the process.
FORCED_IN_OTHER_ORDER = re.compile(r'(<input\b[^>]*?) disabled="" type="checkbox">')
SCRIPT_SCHEMES = {"javascript": "run code", "vbscript": "run code",
                  "data": "carry a whole page or script"}
IFRAME_ATTRIBUTES = {"src", "width", "height", "title", "allow", "allowfullscreen",
                     "loading", "referrerpolicy"}
# Markdown inputs that make Python-Markdown crawl: refuse them before converting.
MAX_NESTING = 40
MAX_BRACKET_RUN = 200
BRACKETS = "[]()"
BRACKET_RUN = re.compile(rf"[\[\]()]{{{MAX_BRACKET_RUN},}}")
# A line that may be nested too deeply (or be blank), after a newline.
MAYBE_TOO_DEEP = re.compile(rf"\n[ \t>*+-]{{{MAX_NESTING * 4 + 1}}}")
# A numeric character reference, as HTML reads it (the semicolon may be left out).
CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")
NOT_XML_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SRCSET_ATTRIBUTE = re.compile(r'\ssrcset\s*=\s*"[^"]*"', re.IGNORECASE)
# Cheap tests for what the sanitiser would remove, before parsing the HTML to be sure;
# two searches take half the time of one for either.
MAYBE_REMOVED = (re.compile(r"<(?:script|style|iframe)\b", re.IGNORECASE),
                 re.compile(r"\son[a-z]+\s*=", re.IGNORECASE))
REMOVAL_MESSAGES = {
    "script": "<script> removed{n}: posts may not run scripts; put the script in a "
              "layout, or set unsafe_html = true in site.toml if every writer is trusted",
    "style": "<style> removed{n}: style sheets belong in theme/, not in posts",
    "iframe": "iframe{first} removed{n}: only https iframes from the hosts listed in "
              "iframe_hosts in site.toml are kept; add its host there if you trust it",
    "on": "event-handler attribute{first} removed{n}: attributes such as onclick "
          "run scripts; posts may not",
}

def render_markdown(body: str, markdown: MarkdownConfig | tuple[str, ...], rel_path: str,
                    body_line: int, unsafe_html: bool = False,
                    iframe_hosts: tuple[str, ...] = (),
                    warnings: list[tuple[str, int]] | None = None, dashes: str = "em") -> str:
    """Convert a post body to HTML, making unsafe links inert and sanitising raw HTML.

    What is removed or changed on the way is added to warnings as (message, line).
    markdown names the engine and its extensions, or just Python-Markdown extensions.
    """
    if not isinstance(markdown, MarkdownConfig):
        markdown = MarkdownConfig("python-markdown", markdown)
    notes = [] if warnings is None else warnings
    _refuse_pathological(body, rel_path, body_line)
    body = _without_control_characters(body, body_line, notes)
    try:
        rendered = convert_markdown(body, markdown)
    except RecursionError:
        raise ContentError("Markdown is nested too deeply to convert; flatten the "
                           "lists or quotes", rel_path, body_line) from None
    rendered = _with_unholdable_references_replaced(rendered, body, body_line, notes)
    rendered = _with_unsafe_links_inert(rendered, body, body_line, notes)
    if not unsafe_html:
        _note_what_sanitising_removes(rendered, body, body_line, iframe_hosts, notes)
        rendered = sanitize_html(rendered, iframe_hosts)
    rendered = mark_attributions(rendered)
    return smarten(rendered, dashes) if SMART_PUNCTUATION in markdown.extensions else rendered


def sanitize_html(html_text: str, iframe_hosts: tuple[str, ...] = ()) -> str:
    """Keep ordinary formatting, and iframes only from the hosts the site allows."""
    tags, attributes = ALLOWED_TAGS, ALLOWED_ATTRIBUTES
    if iframe_hosts:
        tags = tags | {"iframe"}
        attributes = {**attributes, "iframe": IFRAME_ATTRIBUTES}
    import nh3  # imported when first needed: a rebuild from the cache never is

    cleaned = nh3.clean(html_text, tags=tags, attributes=attributes,
                        url_schemes=link_schemes(), link_rel=None,
                        filter_style_properties={"text-align"},
                        set_tag_attribute_values=FORCED_ATTRIBUTES,
                        attribute_filter=_iframe_filter(iframe_hosts) if iframe_hosts else None)
    if "<input" in cleaned:
        cleaned = FORCED_IN_OTHER_ORDER.sub(r'\1 type="checkbox" disabled="">', cleaned)
    return cleaned


def _iframe_filter(hosts: tuple[str, ...]):
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "iframe" and attribute == "src":
            return value if _is_allowed_iframe(value, hosts) else None
        return value
    return keep


def _is_allowed_iframe(src: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(src)
    return parts.scheme == "https" and parts.hostname in {h.lower() for h in hosts}


def _refuse_pathological(body: str, rel_path: str, body_line: int) -> None:
    if not _may_be_pathological(body):
        return
    for number, line in enumerate(body.split("\n"), start=body_line):
        depth = len(line) - len(line.lstrip(" \t>*-+"))
        if depth > MAX_NESTING * 4 and line.strip():
            raise ContentError(f"this line is nested {depth} levels deep; "
                               f"Markdown nesting is limited to {MAX_NESTING}",
                               rel_path, number)
        if BRACKET_RUN.search(line):
            raise ContentError(f"a run of over {MAX_BRACKET_RUN} brackets; "
                               "escape them with \\ or put them in `code`",
                               rel_path, number)


def _may_be_pathological(body: str) -> bool:
    """Rule out both kinds of line for the whole body at once, which is much quicker
    than looking line by line, as nearly every body has neither."""
    return (sum(map(body.count, BRACKETS)) >= MAX_BRACKET_RUN
            or MAYBE_TOO_DEEP.search("\n" + body) is not None)


def _without_control_characters(body: str, body_line: int,
                                notes: list[tuple[str, int]]) -> str:
    """Remove the invisible junk pasted text brings (control characters and the like),
    which no XML feed can hold."""
    found = NOT_TEXT.search(body)
    if found is None:
        return body
    count = len(NOT_TEXT.findall(body))
    first = f"U+{ord(found[0]):04X}"
    notes.append((f"removed the character {first}, which pages and feeds cannot hold; "
                  "delete it from the file" if count == 1 else
                  f"removed {count} characters that pages and feeds cannot hold, the first "
                  f"({first}) on this line; delete them from the file",
                  _line_at(body, found.start(), body_line)))
    return NOT_TEXT.sub("", body)


def _with_unholdable_references_replaced(rendered: str, body: str, body_line: int,
                                         notes: list[tuple[str, int]]) -> str:
    """Replace references such as &#0; or &#x1b; with U+FFFD, as a browser shows the
    worst of them: the sanitiser would decode them into characters XML cannot hold."""
    replaced: list[str] = []

    def replace(match: re.Match) -> str:
        code = _code_point(match)
        if code <= 0x10FFFF and not NOT_XML_CHARACTER.match(chr(code)):
            return match[0]
        replaced.append(match[0])
        return "\ufffd"

    rendered = CHARACTER_REFERENCE.sub(replace, rendered)
    if replaced:
        first = replaced[0]
        notes.append((f"the character reference '{first}' stands for a character that "
                      "pages and feeds cannot hold; it is shown as U+FFFD, the replacement "
                      "character: remove it or write the character meant"
                      if len(replaced) == 1 else
                      f"{len(replaced)} character references stand for characters that "
                      f"pages and feeds cannot hold, the first ('{first}') on this line; "
                      "they are shown as U+FFFD, the replacement character: remove them or "
                      "write the characters meant",
                      _line_at(body, body.find(first), body_line)))
    return rendered


def _code_point(reference: re.Match) -> int:
    digits = (reference[1] or reference[2]).lstrip("0")
    if len(digits) > 8:  # beyond Unicode whatever the base; int() refuses huge strings
        return 0x110000
    return int(digits or "0", 16 if reference[1] else 10)


def _with_unsafe_links_inert(rendered: str, body: str, body_line: int,
                             notes: list[tuple[str, int]]) -> str:
    """Take away each link whose scheme could run code or is unknown; its text stays."""
    found = [url for url in collect_urls(rendered) if not is_safe_link(url)]
    if not found:
        return rendered
    for url in found:
        notes.append((_unsafe_link_message(url), line_of_link(body, url, body_line)))
    unsafe = set(found)

    def keep_safe(match: re.Match) -> str:
        raw = next(v for v in (match["dq"], match["sq"], match["bare"]) if v is not None)
        return "" if html.unescape(raw) in unsafe else match[0]

    rendered = URL_ATTRIBUTE.sub(keep_safe, rendered)
    return SRCSET_ATTRIBUTE.sub(
        lambda m: "" if unsafe.intersection(collect_urls(m[0])) else m[0], rendered)


def _unsafe_link_message(url: str) -> str:
    scheme = url_scheme(url)
    if scheme in SCRIPT_SCHEMES:
        why = f"a {scheme}: link can {SCRIPT_SCHEMES[scheme]}"
    else:
        why = (f"'{scheme}:' is not a scheme browsers know"
               f"{did_you_mean(scheme, sorted(link_schemes()))}")
    return (f"link '{url[:80]}' removed, its text kept: {why}; use http, https, mailto, "
            "tel or a relative link")


class _RemovalFinder(HTMLParser):
    """Collect, by kind, the elements and attributes the sanitiser will remove."""

    def __init__(self, iframe_hosts: tuple[str, ...]):
        super().__init__()
        self.iframe_hosts = iframe_hosts
        self.counts: Counter[str] = Counter()
        # kind -> the first one found, and patterns that find it in the Markdown
        self.first: dict[str, tuple[str, tuple[str, ...]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._found(tag, "", rf"<{tag}\b")
        if tag == "iframe":
            src = dict(attrs).get("src") or ""
            if not src:
                self._found("iframe", "", r"<iframe\b")
            elif not _is_allowed_iframe(src, self.iframe_hosts):
                # The src may be written with entities: then the tag is looked for.
                self._found("iframe", f" of '{src[:80]}'", re.escape(src), r"<iframe\b")
        for name, _ in attrs:
            if name.startswith("on"):
                self._found("on", f" '{name[:40]}'", rf"\b{re.escape(name)}\s*=")

    def _found(self, kind: str, shown: str, *patterns: str) -> None:
        self.counts[kind] += 1
        self.first.setdefault(kind, (shown, patterns))


def _note_what_sanitising_removes(rendered: str, body: str, body_line: int,
                                  iframe_hosts: tuple[str, ...],
                                  notes: list[tuple[str, int]]) -> None:
    """Warn once per kind for scripts, styles, iframes and event handlers in raw HTML."""
    if not any(maybe.search(rendered) for maybe in MAYBE_REMOVED):
        return
    finder = _RemovalFinder(iframe_hosts)
    finder.feed(rendered)
    finder.close()
    for kind, count in finder.counts.items():
        shown, patterns = finder.first[kind]
        more = "" if count == 1 else f" ({count} in this file, the first on this line)"
        found = next(filter(None, (re.search(p, body, re.IGNORECASE) for p in patterns)),
                     None)
        notes.append((REMOVAL_MESSAGES[kind].format(n=more, first=shown),
                      _line_at(body, found.start() if found else -1, body_line)))


def _line_at(text: str, index: int, first_line: int) -> int:
    """Return the line of text holding index, or first_line when index is -1."""
    return first_line + text.count("\n", 0, index) if index >= 0 else first_line


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
    return _line_at(text, index, first_line)

