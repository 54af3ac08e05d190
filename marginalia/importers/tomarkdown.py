"""Turn imported HTML into Markdown where Markdown says the same, else keep it as
sanitised HTML.

"Says the same" is tested, not guessed: each top-level block is converted with
markdownify, the Markdown is rendered back, and the two are compared element by
element, text and meaningful attributes. A block that does not come back the same
(a figure, a table with spans, a list Markdown would read differently) stays HTML,
cleaned to what the build keeps, so the build has nothing left to warn about.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import lxml.html
from lxml import etree
from markdownify import MarkdownConverter

from ..markup import ALLOWED_TAGS, sanitize_html

# Blocks that Python-Markdown and CommonMark both take as raw HTML at a line's start.
BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "div", "dl",
    "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hgroup", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "ul", "video"})
# Inline elements Markdown has no syntax for, written as inline HTML inside Markdown.
INLINE_HTML_TAGS = ("sup", "sub", "u", "abbr", "cite", "ins", "mark", "small", "time",
                    "var", "samp", "dfn", "kbd", "q", "s", "del")
# The attributes the comparison cares about; the rest (width, class) Markdown drops.
MEANINGFUL_ATTRIBUTES = ("href", "src", "alt", "title", "id", "start", "cite", "datetime",
                         "colspan", "rowspan")
DROPPED_ATTRIBUTES = ("class", "style", "target", "rel", "srcset", "sizes", "align",
                      "border", "hspace", "vspace", "frameborder", "allowfullscreen")
SAME_TAG = {"b": "strong", "i": "em"}
SHOWN_WITHOUT_TEXT = ("<img ", "<video ", "<audio ", "<iframe ", "<hr ", "<picture ")
URL_ATTRIBUTES = {"a": ("href",), "img": ("src",), "video": ("src", "poster"),
                  "audio": ("src",), "source": ("src",), "track": ("src",)}
EMBEDS = ("iframe", "embed", "object")
# Tags whose text is never shown, removed whole.
REMOVED_WHOLE = ("script", "style", "noscript", "template", "head", "title", "meta",
                 "link", "form", "button", "input", "select", "textarea")

Rewrite = Callable[[str, str], str]  # (url, attribute name) -> new url


@dataclass
class Converted:
    markdown: str
    html_blocks: int = 0  # blocks kept as HTML
    removed: list[str] = field(default_factory=list)  # what cleaning took out, described
    changed: list[str] = field(default_factory=list)


def html_to_markdown(html_text: str, rewrite: Rewrite | None = None,
                     iframe_hosts: tuple[str, ...] = ()) -> Converted:
    """Convert an HTML fragment to Markdown, block by block, with raw HTML where needed."""
    result = Converted("")
    container = parse_fragment(html_text)
    _clean(container, rewrite, iframe_hosts, result)
    cleaned = sanitize_html(_inner_html(container), iframe_hosts)
    container = parse_fragment(cleaned)
    _unwrap_plain_wrappers(container)
    blocks = [(block, _html(block)) for block in _blocks(container)]
    # Most posts convert whole; only one that does not is converted block by block.
    whole = _as_markdown("".join(source for _, source in blocks))
    if whole is not None:
        result.markdown = whole
        return result
    parts = []
    for block, source in blocks:
        markdown = _as_markdown(source)
        if markdown is None:
            result.html_blocks += 1
            parts.append(_raw_block(block))
        elif markdown:
            parts.append(markdown)
    result.markdown = "\n\n".join(parts)
    return result


def _html(element: lxml.html.HtmlElement) -> str:
    return lxml.html.tostring(element, encoding="unicode", method="html")


def parse_fragment(html_text: str) -> lxml.html.HtmlElement:
    """Parse HTML into a <div> holding it; empty or broken input gives an empty div."""
    try:
        return lxml.html.fragment_fromstring(html_text, create_parent="div")
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return lxml.html.fragment_fromstring("", create_parent="div")


def _inner_html(element: lxml.html.HtmlElement) -> str:
    text = html.escape(element.text or "", quote=False)
    return text + "".join(lxml.html.tostring(child, encoding="unicode", method="html")
                          for child in element)


def _clean(container: lxml.html.HtmlElement, rewrite: Rewrite | None,
           iframe_hosts: tuple[str, ...], result: Converted) -> None:
    """Take out what the build would remove (saying so), point URLs at their new places
    and drop presentational attributes that meant something only to the old theme."""
    etree.strip_elements(container, etree.Comment, etree.ProcessingInstruction,
                         with_tail=False)
    headings_down = container.find(".//h1") is not None
    if headings_down:
        result.changed.append("headings moved down a level: the page title is the only h1")
    for element in list(container.iter()):
        if not isinstance(element.tag, str) or element is container:
            continue
        tag = element.tag.lower()
        if tag in REMOVED_WHOLE:
            result.removed.append(f"<{tag}> removed")
            element.drop_tree()
            continue
        if tag in EMBEDS and not _allowed_iframe(element, iframe_hosts):
            _embed_to_link(element, result)
            continue
        if headings_down and re.fullmatch(r"h[1-5]", tag):
            tag = element.tag = f"h{int(tag[1]) + 1}"
        if tag not in ALLOWED_TAGS and tag not in EMBEDS:
            result.removed.append(f"<{tag}> tags removed, their text kept")
        for name in list(element.attrib):
            lowered = name.lower()
            if lowered.startswith("on"):
                result.removed.append(f"event-handler attribute '{lowered}' removed")
                del element.attrib[name]
            elif lowered in DROPPED_ATTRIBUTES or lowered.startswith(("data-", "aria-")):
                del element.attrib[name]
            elif lowered == "cite" and not _is_http(element.get(name, "")):
                del element.attrib[name]  # often a note, which the link check would fail
        if rewrite is not None:
            for name in URL_ATTRIBUTES.get(tag, ()):
                value = element.get(name)
                if value:
                    element.set(name, rewrite(value.strip(), name))


def _is_http(url: str) -> bool:
    return url.strip().startswith(("http://", "https://"))


def _allowed_iframe(element: lxml.html.HtmlElement, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(element.get("src") or "")
    return (element.tag == "iframe" and parts.scheme == "https"
            and parts.hostname in {h.lower() for h in hosts})


def _embed_to_link(element: lxml.html.HtmlElement, result: Converted) -> None:
    """Put a link where an embedded frame was: the build allows no frame from this host."""
    url = element.get("src") or element.get("data") or ""
    if not url.startswith(("http://", "https://", "//")):
        result.removed.append(f"<{element.tag}> removed")
        element.drop_tree()
        return
    url = "https:" + url if url.startswith("//") else url
    link = lxml.html.Element("a", href=url)
    link.text = element.get("title") or url
    link.tail = element.tail
    element.getparent().replace(element, link)
    result.changed.append(f"embedded {element.tag} replaced by a link to {url}")


def _unwrap_plain_wrappers(container: lxml.html.HtmlElement) -> None:
    """Unwrap what only carried the old theme's classes: attribute-free div and span,
    figures without a caption, and links that go nowhere."""
    for element in list(container.iter("div", "span", "figure", "a")):
        if element is container or element.getparent() is None:
            continue
        if element.tag in ("div", "span") and not element.attrib:
            element.drop_tag()
        elif element.tag == "figure" and element.find("figcaption") is None:
            element.drop_tag()
        elif element.tag == "a" and not element.attrib:
            element.drop_tag()
    for quote in list(container.iter("blockquote")):
        _paragraphs_in(quote)


def _paragraphs_in(quote: lxml.html.HtmlElement) -> None:
    """Put a quotation's loose text in paragraphs, as browsers show it and as Markdown
    writes it: '<blockquote>Words</blockquote>' is '> Words'."""
    loose = (quote.text or "").strip() or any(
        not isinstance(c.tag, str) or c.tag not in BLOCK_TAGS or (c.tail or "").strip()
        for c in quote)
    if loose:
        blocks = _blocks(quote)
        quote.text = None
        for block in blocks:
            quote.append(block)


def _blocks(container: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """The top-level blocks, with each run of loose text and inline elements in a <p>."""
    blocks: list[lxml.html.HtmlElement] = []
    run: list = []  # text strings and inline elements

    def close_run() -> None:
        if any(isinstance(part, str) and part.strip() or not isinstance(part, str)
               for part in run):
            paragraph = lxml.html.Element("p")
            for part in run:
                if isinstance(part, str):
                    _append_text(paragraph, part)
                else:
                    paragraph.append(part)
            if paragraph.text:
                paragraph.text = paragraph.text.lstrip()
            blocks.append(paragraph)
        run.clear()

    if container.text:
        run.append(container.text)
    for child in list(container):
        tail, child.tail = child.tail, None
        if isinstance(child.tag, str) and child.tag in BLOCK_TAGS:
            close_run()
            blocks.append(child)
        else:
            run.append(child)
        if tail:
            run.append(tail)
    close_run()
    return blocks


def _append_text(element: lxml.html.HtmlElement, text: str) -> None:
    if len(element):
        last = element[-1]
        last.tail = (last.tail or "") + text
    else:
        element.text = (element.text or "") + text


class _Converter(MarkdownConverter):
    """markdownify, with nested lists indented four spaces (which Python-Markdown needs
    and CommonMark accepts) and inline elements Markdown lacks kept as inline HTML."""

    def convert_li(self, el, text, parent_tags):
        text = (text or "").strip()
        if not text:
            return "\n"
        parent = el.parent
        if parent is not None and parent.name == "ol":
            start = parent.get("start")
            first = int(start) if start and str(start).isdigit() else 1
            bullet = f"{first + len(el.find_previous_siblings('li'))}. "
        else:
            bullet = "- "
        lines = text.split("\n")
        indented = [lines[0]] + [("    " + line) if line.strip() else "" for line in lines[1:]]
        return bullet + "\n".join(indented) + "\n"

    def get_conv_fn(self, tag_name):
        if tag_name.lower() in INLINE_HTML_TAGS:
            return self._inline_html
        return super().get_conv_fn(tag_name)

    def _inline_html(self, el, text, parent_tags):
        attributes = "".join(f' {name}="{html.escape(str(value))}"'
                             for name, value in el.attrs.items())
        return f"<{el.name}{attributes}>{text}</{el.name}>"


# Plain first; escaping every character Markdown might read is the fallback, since
# it makes text harder to edit: "1\. a", "\[note\]".
_converters = (
    _Converter(heading_style="ATX", bullets="-", escape_misc=False,
               newline_style="spaces", strip_document="strip"),
    _Converter(heading_style="ATX", bullets="-", escape_misc=True,
               newline_style="spaces", strip_document="strip"),
)


def _as_markdown(source: str) -> str | None:
    """HTML as Markdown, or None when Markdown would not render it the same."""
    shape = _shape(source)
    if not any(t.startswith(("\x00", *SHOWN_WITHOUT_TEXT)) for t in shape):
        return ""  # an empty paragraph or wrapper: nothing a reader would see
    try:
        for converter in _converters:
            markdown = converter.convert(source).strip()
            if markdown and _shape(_render(markdown)) == shape:
                return markdown
    except RecursionError:
        pass
    return None


def _render(markdown: str) -> str:
    global _renderer
    if _renderer is None:
        import markdown as python_markdown

        _renderer = python_markdown.Markdown(extensions=["tables", "fenced_code"])
    return _renderer.reset().convert(markdown)


_renderer = None


def _shape(html_text: str) -> list[str]:
    """What a block shows, as tokens: elements with their meaningful attributes, and
    text with runs of whitespace made one (exact inside <pre>)."""
    root = parse_fragment(html_text)
    tokens: list[str] = []
    _add_text(root.text, tokens, in_pre=False)
    _walk(root, tokens, in_pre=False)
    return tokens


def _walk(element: lxml.html.HtmlElement, tokens: list[str], in_pre: bool) -> None:
    for child in element:
        if isinstance(child.tag, str):
            tag = SAME_TAG.get(child.tag, child.tag)
            inside_pre = in_pre or tag == "pre"
            # Markdown writes code blocks as <pre><code>: the same as a bare <pre>.
            counted = not (tag == "code" and element.tag == "pre")
            if counted:
                attributes = " ".join(f'{name}="{child.get(name)}"'
                                      for name in MEANINGFUL_ATTRIBUTES if child.get(name))
                tokens.append(f"<{tag} {attributes}>")
            _add_text(child.text, tokens, inside_pre)
            _walk(child, tokens, inside_pre)
            if counted:
                tokens.append(f"</{tag}>")
        _add_text(child.tail, tokens, in_pre)


def _add_text(text: str | None, tokens: list[str], in_pre: bool) -> None:
    if not text:
        return
    value = text.strip("\n") if in_pre else " ".join(text.split())
    if value:
        tokens.append("\x00" + value)


def _raw_block(block: lxml.html.HtmlElement) -> str:
    """The block as HTML that both Markdown engines pass through whole: no blank line
    inside it, since a blank line ends a raw HTML block in CommonMark."""
    source = lxml.html.tostring(block, encoding="unicode", method="html").strip()
    pieces = re.split(r"(<pre\b.*?</pre>)", source, flags=re.DOTALL | re.IGNORECASE)
    for index, piece in enumerate(pieces):
        if index % 2:
            pieces[index] = re.sub(r"\n(?=[ \t]*\n)", "&#10;", piece)
        else:
            pieces[index] = re.sub(r"\n[ \t]*(?:\n[ \t]*)+", "\n", piece)
    return "".join(pieces)
