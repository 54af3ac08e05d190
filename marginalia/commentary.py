"""The shape of a commentary post, read from its HTML: which paragraph names a quote's
source, and which paragraph sums the post up.

Both work on the HTML a Markdown engine produced, whichever engine it was.
"""

from __future__ import annotations

import html
import re

# An attribution is a short paragraph ending with a colon, right before a quote.
MAX_ATTRIBUTION_WORDS = 12
SUMMARY_LENGTH = 200  # characters, the ellipsis included

PARAGRAPH = re.compile(r"<p(\s[^>]*)?>([^<]*(?:<(?!/?p[\s>])[^<]*)*)</p>(\s*)")
CLASS_ATTRIBUTE = re.compile(r'\sclass="([^"]*)"')
# A marker the editor typed: with attr_list it arrives as a class, without as text.
MARKER_TEXT = re.compile(r"\s*\{:?\s*\.(attribution|lead-in)\s*\}\s*$")
MARKERS = ("attribution", "lead-in")
BLOCKQUOTE_TAG = re.compile(r"<(/?)blockquote\b[^>]*>")
QUOTE_AHEAD = re.compile(r"\s*<(?:blockquote|figure)\b")
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>")
VOID_TAGS = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                       "source", "track", "wbr"})
# A full stop, ! or ? (and closing quotes or brackets) before a space or the end.
SENTENCE_END = re.compile(r"([\w'\u2019]*)[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)")


def mark_attributions(body_html: str) -> str:
    """Turn each attribution and the quote after it into a figure with a caption.

    `<p>Reuters:</p><blockquote>…</blockquote>` becomes
    `<figure class="quote"><figcaption class="attribution">Reuters:</figcaption>
    <blockquote>…</blockquote></figure>`. A paragraph marked {.attribution} is one
    whatever it says, one marked {.lead-in} never is; the marker itself is removed.
    """
    if "<blockquote" not in body_html and not any(m in body_html for m in MARKERS):
        return body_html
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    for paragraph in PARAGRAPH.finditer(body_html):
        attributes, inner = paragraph[1] or "", paragraph[2]
        marker, attributes, inner = _take_marker(attributes, inner)
        quote_end = None
        if body_html.startswith("<blockquote", paragraph.end()) and marker != "lead-in":
            if marker == "attribution" or is_attribution(_plain(inner)):
                quote_end = _end_of_blockquote(body_html, paragraph.end())
        if quote_end is not None:
            edits.append((paragraph.start(), paragraph.end(),
                          f'<figure class="quote">\n<figcaption{_with_class(attributes)}>'
                          f"{inner}</figcaption>\n"))
            edits.append((quote_end, quote_end, "\n</figure>"))
        elif marker:
            edits.append((paragraph.start(), paragraph.end(),
                          f"<p{attributes}>{inner}</p>{paragraph[3]}"))
    if not edits:
        return body_html
    parts, position = [], 0
    for start, end, replacement in sorted(edits, key=lambda edit: edit[0]):
        parts += [body_html[position:start], replacement]
        position = end
    return "".join(parts) + body_html[position:]


def is_attribution(text: str) -> bool:
    """Whether a paragraph's text reads as a source's name: a handful of words ending
    with a colon, with no sentence ending before it."""
    text = text.strip()
    return (text.endswith(":") and len(text.split()) <= MAX_ATTRIBUTION_WORDS
            and not any(_ends_sentence(m) for m in SENTENCE_END.finditer(text[:-1])))


def summarize(body_html: str, limit: int = SUMMARY_LENGTH) -> str:
    """Return the first paragraph of commentary as plain text, cut to limit characters.

    Only paragraphs at the top of the body count: never a quote, an attribution, a
    list, a heading or code, nor a lead-in ending with a colon right before a quote.
    """
    depth = 0
    for tag in TAG.finditer(body_html):
        closing, name = tag[1], tag[2].lower()
        if name in VOID_TAGS or tag[3]:
            continue
        if closing:
            depth = max(0, depth - 1)
            continue
        if depth == 0 and name == "p":
            end = body_html.find("</p>", tag.end())
            end = end if end >= 0 else len(body_html)
            text = " ".join(_plain(body_html[tag.end():end]).split())
            leads_in = text.endswith(":") and QUOTE_AHEAD.match(body_html, end + 4)
            if text and not leads_in:
                return shorten(text, limit)
        depth += 1
    return ""


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """Cut text at its last sentence end within limit, else at a word, with an ellipsis."""
    if len(text) <= limit:
        return text
    ends = [m.end() for m in SENTENCE_END.finditer(text[:limit + 1])
            if m.end() <= limit and _ends_sentence(m)]
    if ends:
        return text[:ends[-1]]
    cut = text[:limit].rsplit(None, 1)[0] if " " in text[:limit] else text[:limit - 1]
    return cut.rstrip(",;:\u2013\u2014- ") + "\u2026"


def _ends_sentence(match: re.Match) -> bool:
    """Not after an initial or a short capitalised abbreviation: U.S., Mr., Jan."""
    word = match[1].strip("'\u2019")
    return not (len(word) == 1 or (word[:1].isupper() and len(word) <= 3 and word.isalpha()))


def _take_marker(attributes: str, inner: str) -> tuple[str, str, str]:
    """Find an {.attribution} or {.lead-in} marker; return it and the paragraph
    without it."""
    marker = ""
    found = MARKER_TEXT.search(inner) if "}" in inner else None
    if found:
        marker, inner = found[1], inner[:found.start()]
    classes = CLASS_ATTRIBUTE.search(attributes) if attributes else None
    if classes:
        names = classes[1].split()
        marker = next((name for name in names if name in MARKERS), marker)
        kept = " ".join(name for name in names if name not in MARKERS)
        attributes = (attributes[:classes.start()] + (f' class="{kept}"' if kept else "")
                      + attributes[classes.end():])
    return marker, attributes, inner


def _with_class(attributes: str) -> str:
    """The paragraph's attributes for its caption, with the attribution class first."""
    classes = CLASS_ATTRIBUTE.search(attributes)
    if not classes:
        return f' class="attribution"{attributes}'
    return (f'{attributes[:classes.start()]} class="attribution {classes[1]}"'
            f"{attributes[classes.end():]}")


def _end_of_blockquote(body_html: str, start: int) -> int | None:
    depth = 0
    for tag in BLOCKQUOTE_TAG.finditer(body_html, start):
        depth += -1 if tag[1] else 1
        if depth == 0:
            return tag.end()
    return None


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))
