"""Make Python-Markdown read the CommonMark habits it misreads as CommonMark does.

Writers used to CommonMark (GitHub, most editors) start a list or a table right
under a paragraph line, nest lists by two or three spaces, put fenced code in list
items and quotes, write Markdown between the tags of an HTML block, end a line with
a backslash to break it, and refer to links by labels holding code (``[`union`s]``).
Python-Markdown wants blank lines around lists and tables, four spaces a level and
fences at the margin, keeps everything between an HTML block's tags raw, and cannot
find such labels. A preprocessor rewrites the Markdown into what Python-Markdown
reads the same way (line starts and blank lines change, never the text; fenced code
and HTML blocks are stashed as HTML, as Python-Markdown does with its own), and the
reference patterns look a label up with its code.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LIST_ITEM = re.compile(r"([-+*]|(\d{1,9})[.)])( +)(?=\S)")
THEMATIC_BREAK = re.compile(r"([-*_])(?: *\1){2,} *$")
FENCE = re.compile(r"(`{3,}|~{3,})([^`]*)$")
ATX_HEADING = re.compile(r"#{1,6}(?:\s|$)")
QUOTE = re.compile(r" {0,3}> ?")
TABLE_DELIMITER = re.compile(r"\|?(?: *:?-+:? *\|)*(?: *:?-+:? *)\|? *$")
# HTML blocks as CommonMark starts and ends them: the first kinds run to a closing
# tag or comment end, blank lines and all; the last, block-level tags, to a blank line.
HTML_BLOCKS = (
    (re.compile(r"<(?:script|pre|style|textarea)(?:[\s>]|$)", re.IGNORECASE),
     re.compile(r"</(?:script|pre|style|textarea)>", re.IGNORECASE)),
    (re.compile(r"<!--"), re.compile(r"-->")),
    (re.compile(r"</?(?:address|article|aside|blockquote|body|caption|center|col|colgroup|dd"
                r"|details|dialog|div|dl|dt|fieldset|figcaption|figure|footer|form|h[1-6]"
                r"|header|hr|iframe|legend|li|main|menu|nav|ol|p|section|summary|table"
                r"|tbody|td|tfoot|th|thead|tr|ul)(?:[\s>]|/>|$)", re.IGNORECASE), None),
)
MARKDOWN_INSIDE = re.compile(r"\smarkdown\s*=", re.IGNORECASE)
HARD_BREAK = re.compile(r"(?<!\\)(?:\\\\)*\\$")
STASHED = re.compile("\x02wzxhzdk:\\d+\x03$")  # where fenced_code put a block
# Where each reference pattern sits in Python-Markdown's inline patterns.
REFERENCE_PATTERNS = {"reference": 170, "image_reference": 140, "short_reference": 130,
                      "short_image_ref": 125}
PRIORITY = 22  # after fenced_code (25) has taken the fences at the margin, before raw HTML
# What the line before was. After a stashed block, the next line must not run on
# into the block's placeholder, as Python-Markdown would read it.
BLANK, TEXT, OTHER, AFTER_BLOCK = "blank", "text", "other", "after block"


def read_as_commonmark(md: Any) -> None:
    """Teach a markdown.Markdown converter the CommonMark habits."""
    from markdown.preprocessors import Preprocessor

    class Habits(Preprocessor):
        def run(self, lines: list[str]) -> list[str]:
            return rewrite_habits(lines, self.md.htmlStash.store)

    md.preprocessors.register(Habits(md), "commonmark_habits", PRIORITY)
    for name, priority in REFERENCE_PATTERNS.items():
        pattern = md.inlinePatterns[name]
        kind = type(f"CodeLabel{type(pattern).__name__}", (_CodeLabels, type(pattern)), {})
        md.inlinePatterns.register(kind(pattern.pattern, md), name, priority)


class _CodeLabels:
    """Find [`union`s] under the label it was defined with, code and all."""

    md: Any

    def evalId(self, data: str, index: int, text: str) -> tuple[str | None, int, bool]:
        label, end, handled = super().evalId(data, index, text)  # type: ignore[misc]
        if handled and label and label not in self.md.references:
            label = self._spelled_out(label)
        return label, end, handled

    def _spelled_out(self, label: str) -> str:
        from markdown.util import INLINE_PLACEHOLDER_RE

        stash = self.md.treeprocessors["inline"].stashed_nodes

        def spell(match: re.Match) -> str:
            node = stash.get(match[1])
            if isinstance(node, str) or node is None:
                return node or ""
            text = html.unescape("".join(node.itertext()))
            return f"`{text}`" if node.tag == "code" else text

        return INLINE_PLACEHOLDER_RE.sub(spell, label).lower()


def rewrite_habits(lines: list[str], stash: Callable[[str], str]) -> list[str]:
    """Rewrite lines (tabs already expanded) so Python-Markdown reads them as CommonMark
    does; stash(html) keeps a block of HTML and returns its placeholder."""
    return _Rewriter(lines, stash).run()


@dataclass
class _Item:
    column: int  # where the item's content starts in the source
    indent: int  # where it starts in the rewritten text: four spaces a level
    # Python-Markdown reads a list item holding a blank line, or one after a blank
    # line, as paragraphs: a block in it then needs blank lines around it, and the next
    # item a blank line before it, or it is read as more of this one.
    loose: bool = False


@dataclass
class _Block:
    """Fenced code off the margin, or an HTML block, being collected."""

    prefix: str  # what goes before the placeholder: the list item's indent
    end: re.Pattern | None = None  # the line that ends an HTML block; None: a blank one
    marker: str = ""  # fenced code: the opening run of backticks or tildes, its info,
    info: str = ""
    column: int = 0  # how far the fence is indented, taken off each code line,
    container: int = 0  # and the content column of the list item holding it
    lines: list[str] = field(default_factory=list)


class _Rewriter:
    def __init__(self, lines: list[str], stash: Callable[[str], str], quoted: bool = False):
        self.lines, self.stash = lines, stash
        # In a quote, fenced_code has not taken the fences at the quote's margin.
        self.quoted = quoted
        self.out: list[str] = []
        self.items: list[_Item] = []  # the open list items, innermost last
        self.previous = BLANK
        self.block: _Block | None = None
        self.margin_fence = ""  # fenced code that fenced_code left, copied as it is

    def run(self) -> list[str]:
        number = 0
        while number < len(self.lines):
            line = self.lines[number]
            if self.block is not None and self.collect(line):
                pass
            elif self.margin_fence:
                self.out.append(line)
                if _closes(self.margin_fence, line):
                    self.margin_fence, self.previous = "", OTHER
            else:
                number = self.rewrite(number, line)
                continue
            number += 1
        if self.block is not None:
            self.place()
        return self.out

    def quote(self, number: int) -> int:
        """Rewrite the quote starting at line number as a body of its own; return the
        number of the line after it."""
        end = number
        while end < len(self.lines) and QUOTE.match(self.lines[end]):
            end += 1
        inner = [QUOTE.sub("", line, count=1) for line in self.lines[number:end]]
        if self.previous == AFTER_BLOCK:
            self.out.append("")
        self.out += [f"> {line}" if line else ">"
                     for line in _Rewriter(inner, self.stash, quoted=True).run()]
        self.previous = TEXT
        return end

    def collect(self, line: str) -> bool:
        """Add line to the block being collected; False when it ends the block first."""
        block = self.block
        assert block is not None
        stripped = line.lstrip(" ")
        if not block.marker:  # an HTML block
            if block.end is None and not stripped:
                self.place()
                return False
            block.lines.append(line)
            if block.end is not None and block.end.search(line):
                self.place()
            return True
        indent = len(line) - len(stripped)
        if stripped and indent < block.container:
            self.place()  # its list item ended, and the code with it
            return False
        if _closes(block.marker, line, block.container):
            self.place()
        else:
            block.lines.append(line[min(indent, block.column):])
        return True

    def place(self) -> None:
        """Stash the collected block and put its placeholder where it was."""
        block = self.block
        assert block is not None
        self.block = None
        if block.marker:
            language = block.info.split(maxsplit=1)[0] if block.info.strip() else ""
            attribute = f' class="language-{html.escape(language)}"' if language else ""
            code = html.escape("".join(line + "\n" for line in block.lines), quote=False)
            markup = f"<pre><code{attribute}>{code}</code></pre>"
        else:
            markup = "\n".join(block.lines)
        self.out.append(block.prefix + self.stash(markup))
        loose = not self.items or self.items[-1].loose
        self.previous = AFTER_BLOCK if loose else OTHER

    def rewrite(self, number: int, line: str) -> int:
        """Rewrite the line at number; return the number of the next line to read."""
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped:
            self.out.append(line)
            self.previous = BLANK
            for item in self.items:
                item.loose = True
            return number + 1
        depth = len(self.items)
        while depth and self.items[depth - 1].column > indent:
            depth -= 1
        if depth < len(self.items) and self.previous == TEXT and not _starts_block(stripped):
            self.text(" " * self.items[-1].indent + stripped, number)  # a lazy line
            return number + 1
        closed = self.items[depth] if depth < len(self.items) else None
        del self.items[depth:]
        column, new = (self.items[-1].column, self.items[-1].indent) if self.items else (0, 0)
        if indent - column >= 4:  # indented code, or more of a paragraph
            self.out.append(" " * new + line[column:])
            self.previous = TEXT if self.previous == TEXT else OTHER
        elif self.list_item(stripped, indent, new, closed):
            pass
        elif opening := FENCE.match(stripped):
            if self.items or self.quoted:
                self.separate("")
                self.block = _Block(" " * new, marker=opening[1], info=opening[2],
                                    column=indent, container=column)
            else:
                self.out.append(line)
                self.margin_fence = opening[1]
        elif not self.items and QUOTE.match(line):
            return self.quote(number)
        elif not self.items and (html_block := _html_block(stripped)) is not None:
            self.separate("")
            end = html_block[1]
            self.block = _Block("", end=end, lines=[line])
            if end is not None and end.search(stripped, 4):
                self.place()
        else:
            if (not self.items and self.previous == TEXT and "|" in stripped
                    and _is_table_delimiter(self.lines, number)):
                self.out.append("")
            self.text(" " * new + line[column:], number)
            if ATX_HEADING.match(stripped) or THEMATIC_BREAK.match(stripped):
                self.previous = OTHER
        return number + 1

    def list_item(self, stripped: str, indent: int, new: int, closed: _Item | None) -> bool:
        """Rewrite a list item's first line, at four spaces a level; False if it is none."""
        item = LIST_ITEM.match(stripped)
        if item is None or THEMATIC_BREAK.match(stripped):
            return False
        interrupts = self.previous == TEXT and closed is None
        if interrupts and item[2] not in (None, "1"):
            return False  # "2024. was a long year" goes on with the paragraph
        if (interrupts and not self.items) or (
                closed is not None and closed.loose and self.previous != BLANK):
            self.out.append("")
        spaces = len(item[3])
        width = len(item[1]) + (spaces if spaces <= 4 else 1)
        sibling_after_blank = closed is not None and self.previous == BLANK
        self.items.append(_Item(indent + width, new + 4, loose=sibling_after_blank))
        marker = item[2] + "." if item[2] else item[1]
        self.text(" " * new + marker + " " + stripped[width:], None)
        return True

    def separate(self, blank: str) -> None:
        """Keep a stashed block apart from the paragraph before or after it."""
        if self.previous == AFTER_BLOCK or (
                self.previous == TEXT and (not self.items or self.items[-1].loose)):
            self.out.append(blank)
            for item in self.items:
                item.loose = True

    def text(self, line: str, number: int | None) -> None:
        if self.previous == AFTER_BLOCK:
            self.out.append("")
        following = self.lines[number + 1] if number is not None and number + 1 < len(
            self.lines) else ""
        if following.strip() and HARD_BREAK.search(line):
            line = line[:-1] + "  "  # Python-Markdown's hard line break
        self.out.append(line)
        self.previous = TEXT


def _starts_block(stripped: str) -> bool:
    return bool(LIST_ITEM.match(stripped) or FENCE.match(stripped) or STASHED.match(stripped)
                or ATX_HEADING.match(stripped) or stripped.startswith(">")
                or THEMATIC_BREAK.match(stripped))


def _closes(marker: str, line: str, container: int = 0) -> bool:
    stripped = line.lstrip(" ")
    run = len(stripped) - len(stripped.lstrip(marker[0]))
    return (len(line) - len(stripped) - container < 4 and run >= len(marker)
            and not stripped[run:].strip())


def _html_block(stripped: str) -> tuple[re.Pattern, re.Pattern | None] | None:
    """The kind of HTML block this line starts, from HTML_BLOCKS, or None; a tag
    marked markdown="1" is left to the md_in_html extension."""
    if not stripped.startswith("<") or MARKDOWN_INSIDE.search(stripped):
        return None  # every kind starts with '<': no need to search a paragraph line
    return next((kind for kind in HTML_BLOCKS if kind[0].match(stripped)), None)


def _is_table_delimiter(lines: list[str], number: int) -> bool:
    following = lines[number + 1].strip() if number + 1 < len(lines) else ""
    return "|" in following and "-" in following and bool(TABLE_DELIMITER.match(following))
