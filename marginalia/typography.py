"""Smart quotes, dashes and ellipses, applied to rendered HTML in one pass.

This stands in for Python-Markdown's 'smarty' extension, which follows the same
rules but runs its patterns over every text node and took two thirds of the
Markdown time; only "--" differs, an em dash unless the site chooses the en dash
convention (smarty's). Text inside code, pre and similar elements, and inside tags
and attributes, is left exactly as written.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"(<!--.*?-->|<[^>]*>)", re.DOTALL)
TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]*)")
VERBATIM_TAGS = frozenset({"code", "pre", "kbd", "samp", "var", "script", "style", "math",
                           "textarea"})
BLOCK_TAGS = frozenset({"p", "br", "li", "ul", "ol", "div", "blockquote", "h1", "h2", "h3",
                        "h4", "h5", "h6", "td", "th", "tr", "table", "dt", "dd", "dl",
                        "figcaption", "figure", "caption", "hr", "section", "aside",
                        "header", "footer", "details", "summary"})
QUOTE = re.compile(r"['\"]")
# What may stand before an opening quote: nothing, space, an opening bracket or a dash.
OPENERS = frozenset(" \t\n\r\xa0([{<\u2013\u2014-\u201c\u2018/")
DECADE = re.compile(r"'(?=\d\d(?:s|\b))")
# What "--" stands for: "em" as in the original SmartyPants, or "en" with "---" the em dash.
DASH_CONVENTIONS = ("em", "en")
# In a plain-text field (a title, a dek), what stays as written: `code` and URLs.
VERBATIM_TEXT = re.compile(r"(`[^`]*`|\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+)")


def smarten(html_text: str, dashes: str = "em") -> str:
    """Return html_text with typographic punctuation in its text, not in code or tags."""
    parts = TOKEN.split(html_text)
    verbatim_depth = 0
    before = " "  # the last character of text seen, which decides a quote's direction
    for index, part in enumerate(parts):
        if index % 2:
            match = TAG_NAME.match(part)
            if match:
                name = match[2].lower()
                if name in VERBATIM_TAGS and not part.endswith("/>"):
                    verbatim_depth = max(0, verbatim_depth + (-1 if match[1] else 1))
                if name in BLOCK_TAGS:
                    before = " "
        elif part:
            if not verbatim_depth:
                parts[index] = smarten_text(part, before, dashes)
            before = part[-1]
    return "".join(parts)


def smarten_plain(text: str, dashes: str = "em") -> str:
    """Typeset a plain-text field such as a title or a dek; `code` and URLs in it stay
    as written. The result is characters, never markup: it is escaped where it lands."""
    parts = VERBATIM_TEXT.split(text)
    before = " "
    for index, part in enumerate(parts):
        if part and not index % 2:
            parts[index] = smarten_text(part, before, dashes)
        before = part[-1:] or before
    return "".join(parts)


def smarten_text(text: str, before: str = " ", dashes: str = "em") -> str:
    """Curl the quotes and set dashes and ellipses in a run of plain text."""
    double_dash = "\u2014" if dashes == "em" else "\u2013"
    text = text.replace("---", "\u2014").replace("--", double_dash).replace("...", "\u2026")
    if "'" not in text and '"' not in text:
        return text
    text = DECADE.sub("\u2019", text)

    def curl(match: re.Match) -> str:
        start = match.start()
        previous = text[start - 1] if start else before
        # At the end of a run the next character is in a tag's text: take it as a letter.
        following = text[start + 1] if start + 1 < len(text) else "x"
        opening = previous in OPENERS and not following.isspace()
        if match[0] == '"':
            return "\u201c" if opening else "\u201d"
        return "\u2018" if opening else "\u2019"

    return QUOTE.sub(curl, text)
