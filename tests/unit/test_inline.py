"""Unit tests for the inline stage that tries a pattern only on text it can match:
what each regex needs is never more than a match holds, and the converter's output
is the stock inline stage's, character for character."""

from __future__ import annotations

import random
import re

import markdown
import pytest

from marginalia.config import DEFAULT_EXTENSIONS
from marginalia.engines import SMART_PUNCTUATION, _extension
from marginalia.habits import read_as_commonmark
from marginalia.inline import (checks_for, holds, needed_pieces,
                               try_patterns_only_where_they_can_match)

EXTENSIONS = [name for name in DEFAULT_EXTENSIONS if name != SMART_PUNCTUATION]
MORE_EXTENSIONS = EXTENSIONS + ["abbr", "def_list", "admonition", "toc", "md_in_html",
                                "wikilinks", "pymdownx.mark", "pymdownx.caret",
                                "pymdownx.keys", "pymdownx.smartsymbols",
                                "pymdownx.progressbar", "pymdownx.emoji"]
# Pieces of Markdown that patterns look for, and letters that match others when case
# is ignored (the Kelvin sign is a 'k', the long s an 's').
TOKENS = ["*", "**", "_", "~~", "`", "``", "\\", "\\\\", "[", "]", "(", ")", "![", "[^1]",
          "[x]: /u", "<", ">", "<b>", "</b>", "<!-- c -->", "&amp;", "&#42;", ";", "&", ":",
          "://", "/", ".", "http://a.example", "WWW.", "wWw.", "www.b.example", "HTTP://",
          "Ftp://c", "a@b.example", "<http://a.b>", "<a@b.c>", "  \n", "\n", "\n\n", "- ",
          "1. ", "> ", "```", "{: .c}", "++", "++ctrl+alt++", "==", "^^", "[=50%]",
          "[[Wiki]]", ":smile:", "word", "Word", " ", "\u212a", "\u017f", "\u0131",
          "\u2019", "\x02", "\x03"]


def converter(names: list[str], selective: bool) -> markdown.Markdown:
    md = markdown.Markdown(extensions=[_extension(name, {}) for name in names],
                           output_format="html")
    read_as_commonmark(md)
    if selective:
        try_patterns_only_where_they_can_match(md)
    return md


def random_bodies(count: int, seed: int = 7) -> list[str]:
    chooser = random.Random(seed)
    return ["".join(chooser.choice(TOKENS) + chooser.choice(["", " ", "a", "b c"])
                    for _ in range(chooser.randint(1, 30))) for _ in range(count)]


def shown(regex: str) -> list[list[str]]:
    return sorted(sorted(piece.text + ("/i" if piece.caseless else "") for piece in need)
                  for need in needed_pieces(re.compile(regex)))


@pytest.mark.parametrize("names", [EXTENSIONS, MORE_EXTENSIONS, []],
                         ids=["default", "more", "none"])
def test_output_is_the_stock_inline_stages(names):
    stock, selective = converter(names, False), converter(names, True)
    assert type(selective.treeprocessors["inline"]).__name__ == "SelectiveInlineProcessor"
    for body in random_bodies(1500):
        assert selective.reset().convert(body) == stock.reset().convert(body), body


@pytest.mark.parametrize("regex, needs", [
    (r"\[\^([^\]]*)\]", [["[^"], ["]"]]),
    (r"(?<!\!)\[", [["["]]),
    (r"(?xi)(?<![^\s*_~])(?:(?:ht|f)tps?://|(?P<www>w{3}\.))", [["://", "www./i"]]),
    (r"x{2,}y", [["xxy"]]),
    (r"(?:(?<!\\)((?:\\{2})+)(?=`+)|(?<!\\)`)", [["`"]]),
    (r"(?i)[k-m]!", [["!"], ["k/i", "l/i", "m/i"]]),
    (r"(?i)\u212a", []),  # the Kelvin sign also matches k and K
    (r"[^a]b|c*", []),
    (r".+", []),
])
def test_needs_read_from_the_regex(regex, needs):
    assert shown(regex) == needs


def test_a_pattern_is_never_left_out_where_it_matches():
    regexes = [re.compile(r) for r in (
        r"(?i)ab[c!]{2,3}d", r"(?i:k)x", r"(?i)kelvin", r"(?i)s", r"(?a)(?i)k",
        r"a(?=b+)c?", r"(?<=x)y|z", r"(?:ab|ac)d", r"(?:foo|bar)+baz", r"(a)\1b",
        r"(?xi)(?:(?:ht|f)tps?://|w{3}\.)")]
    regexes += [pattern.getCompiledRegExp()
                for pattern in converter(MORE_EXTENSIONS, False).inlinePatterns]
    pieces = TOKENS + ["a", "b", "c", "d", "k", "K", "s", "S", "x", "y", "z", "kelvin",
                       "KELVIN", "foo", "bar", "baz", "ab", "!"]
    chooser = random.Random(3)
    texts = ["".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 10)))
             for _ in range(20000)]

    class Pattern:
        def __init__(self, regex):
            self.regex = regex

        def getCompiledRegExp(self):
            return self.regex

    for regex in regexes:
        checks = checks_for(Pattern(regex))
        missed = [text for text in texts if regex.search(text) and not holds(text, checks)]
        assert not missed, (regex.pattern, missed[:3])


def test_a_changed_inline_stage_is_left_alone():
    from markdown.treeprocessors import InlineProcessor

    class Own(InlineProcessor):
        pass

    md = markdown.Markdown()
    md.treeprocessors.register(Own(md), "inline", 20)
    try_patterns_only_where_they_can_match(md)
    assert type(md.treeprocessors["inline"]) is Own
