"""Smart punctuation: our one-pass replacement for Python-Markdown's smarty extension."""

from __future__ import annotations

import html
from pathlib import Path

import markdown
import pytest

from marginalia.frontmatter import split_front_matter
from marginalia.typography import smarten, smarten_plain, smarten_text

DEMO_POSTS = sorted((Path(__file__).resolve().parents[2] / "content").rglob("*.md"))
OTHER_EXTENSIONS = ["footnotes", "tables", "fenced_code", "attr_list"]


@pytest.mark.parametrize("text, expected", [
    ('"Quoted" -- it\'s here', "\u201cQuoted\u201d \u2014 it\u2019s here"),
    ("a --- b ... c", "a \u2014 b \u2026 c"),
    ("the '80s and 'quoted'", "the \u201980s and \u2018quoted\u2019"),
    ('("in parens")', "(\u201cin parens\u201d)"),
    ("5'10\" tall", "5\u201910\u201d tall"),
    ("2005-2017", "2005-2017"),
])
def test_smarten_text(text, expected):
    assert smarten_text(text) == expected


@pytest.mark.parametrize("dashes, expected", [
    ("em", "1990\u20142000, a \u2014 b, c \u2014 d"),
    ("en", "1990\u20132000, a \u2014 b, c \u2013 d"),
])
def test_the_dash_convention_decides_what_two_hyphens_make(dashes, expected):
    assert smarten_text("1990--2000, a --- b, c -- d", dashes=dashes) == expected
    assert smarten("<p>1990--2000, a --- b, c -- d</p>", dashes) == f"<p>{expected}</p>"


@pytest.mark.parametrize("text, expected", [
    ("The NAFTA Withdrawal That Wasn't", "The NAFTA Withdrawal That Wasn\u2019t"),
    ('A "Deal" -- Or Not', "A \u201cDeal\u201d \u2014 Or Not"),
    ("Why `--force` Isn't Enough", "Why `--force` Isn\u2019t Enough"),
    ("See https://example.org/a--b/'x' -- 'then'",
     "See https://example.org/a--b/'x' \u2014 \u2018then\u2019"),
    ("<b>Tom & 'Jerry'</b>", "<b>Tom & \u2018Jerry\u2019</b>"),
])
def test_a_plain_text_field_is_typeset_except_code_and_urls(text, expected):
    assert smarten_plain(text) == expected


def test_code_tags_and_attributes_are_left_alone():
    source = ('<p><a href="/a--b/" title="x \'y\'">"link"</a></p>'
              '<pre><code>say "hi" -- now</code></pre><p><code>it\'s</code> "after"</p>')
    assert smarten(source) == (
        '<p><a href="/a--b/" title="x \'y\'">\u201clink\u201d</a></p>'
        '<pre><code>say "hi" -- now</code></pre><p><code>it\'s</code> \u201cafter\u201d</p>')


def test_quote_direction_carries_across_inline_tags():
    assert smarten('<p>She said "<em>no</em>."</p>') == (
        "<p>She said \u201c<em>no</em>.\u201d</p>")


@pytest.mark.parametrize("path", DEMO_POSTS, ids=lambda p: p.name)
def test_matches_python_markdown_smarty_on_the_demo_posts(path):
    body = split_front_matter(path.read_text(encoding="utf-8"), path.name).body
    theirs = markdown.markdown(body, extensions=["smarty", *OTHER_EXTENSIONS])
    ours = smarten(markdown.markdown(body, extensions=OTHER_EXTENSIONS), dashes="en")
    assert html.unescape(ours) == html.unescape(theirs)
