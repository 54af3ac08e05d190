"""Unit tests for marginalia.urls: slugs, permalinks, link schemes and URL rewriting."""

from __future__ import annotations

from datetime import datetime

import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginalia.urls import (MAX_SLUG_LENGTH, absolutize, collect_urls, format_permalink,
                             is_absolute_http, is_safe_link, is_valid_slug, prefix_root_relative, rewrite_urls,
                             slugify, url_scheme)


@pytest.mark.parametrize("text, slug", [
    ("U.S. Brings South Korea and Japan Together for Missile Defense Drills",
     "us-brings-south-korea-and-japan-together-for-missile-defense-drills"),
    ("The NAFTA Withdrawal That Wasn't", "the-nafta-withdrawal-that-wasnt"),
    ("Farm States Brace \u2014 and Wait", "farm-states-brace-and-wait"),
    ("It\u2019s Complicated", "its-complicated"),
    ("Caf\u00e9 cr\u00e8me", "cafe-creme"),
    ("  --Spaces--  and   dashes  ", "spaces-and-dashes"),
    ("2017: A Year", "2017-a-year"),
    ("x...y", "x-y"),
    ("../../etc/passwd", "etc-passwd"),
    ("a/b\\c", "a-b-c"),
    ("\u65e5\u672c", ""),
    ("", ""),
    ("!!!", ""),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_slugify_is_idempotent():
    once = slugify("Tax Bill Passes, and the Deficit Question Goes Quiet")
    assert slugify(once) == once


@pytest.mark.parametrize("slug, valid", [
    ("a", True), ("a-b-1", True), ("", False), ("A", False), ("a--b", False),
    ("-a", False), ("a-", False), ("a/b", False), ("..", False), ("a.b", False),
])
def test_is_valid_slug(slug, valid):
    assert is_valid_slug(slug) is valid


def test_format_permalink():
    date = datetime(2016, 6, 9, 16, 40)
    assert format_permalink("/{year}/{month}/{day}/{slug}/", date, "x", "s") == "/2016/06/09/x/"
    assert format_permalink("/{section}/{slug}/", date, "x", "trade-winds") == \
        "/trade-winds/x/"


@pytest.mark.parametrize("url, scheme", [
    ("https://e.org/", "https"),
    ("JavaScript:alert(1)", "javascript"),
    ("  javascript:alert(1)", "javascript"),
    ("java\tscript:alert(1)", "javascript"),
    ("java\nscript:alert(1)", "javascript"),
    ("jav&#x61;script:alert(1)", "javascript"),
    ("jav&#97;script:alert(1)", "javascript"),
    ("\x00javascript:alert(1)", "javascript"),
    ("mailto:a@b.org", "mailto"),
    ("../a.md", ""),
    ("a/b:c", ""),
    ("#top", ""),
    ("", ""),
])
def test_url_scheme(url, scheme):
    assert url_scheme(url) == scheme


@pytest.mark.parametrize("url, safe", [
    ("https://e.org/", True), ("http://e.org/", True), ("mailto:a@b.org", True),
    ("/about/", True), ("../a.md", True), ("#x", True),
    ("javascript:alert(1)", False), ("JAVASCRIPT:x", False), ("data:text/html,x", False),
    ("vbscript:x", False), ("file:///etc/passwd", False), ("jav&#x61;script:x", False),
])
def test_is_safe_link(url, safe):
    assert is_safe_link(url) is safe


@pytest.mark.parametrize("url, ok", [
    ("https://e.org/", True), ("http://e.org", True), ("https://", False),
    ("ftp://e.org/", False), ("//e.org/", False), ("javascript:x", False), ("e.org", False),
])
def test_is_absolute_http(url, ok):
    assert is_absolute_http(url) is ok


def test_rewrite_urls_touches_every_url_attribute_and_nothing_else():
    html = ('<p><a href=x title="t">a</a><img src=\'b.png\' alt="x.png" '
            'srcset="c.png 1x, d.png 2x"><a href="/p/?a=1&amp;b=2">q</a>'
            '<video poster="v.jpg"></video><blockquote cite="c.html">z</blockquote></p>')
    seen: list[str] = []

    def mark(url: str) -> str:
        seen.append(url)
        return "/new/" + url

    tree = lxml.html.fragment_fromstring(rewrite_urls(html, mark), create_parent="div")
    assert tree.xpath("//a/@href") == ["/new/x", "/new//p/?a=1&b=2"]
    assert tree.xpath("//img/@src") == ["/new/b.png"]
    assert tree.xpath("//img/@alt") == ["x.png"]
    assert tree.xpath("//img/@srcset") == ["/new/c.png 1x, /new/d.png 2x"]
    assert tree.xpath("//video/@poster") == ["/new/v.jpg"]
    assert tree.xpath("//blockquote/@cite") == ["/new/c.html"]
    assert "/p/?a=1&b=2" in seen  # rewriters see unescaped URLs


def test_rewrite_urls_escapes_what_it_writes():
    out = rewrite_urls('<a href="x">a</a>', lambda url: '"><script>alert(1)</script>')
    tree = lxml.html.fragment_fromstring(out, create_parent="div")
    assert not tree.xpath("//script")
    assert tree.xpath("//a/@href") == ['"><script>alert(1)</script>']


@pytest.mark.parametrize("url, expected", [
    ("img/a.png", "https://e.org/2016/06/29/x/img/a.png"),
    ("../other/", "https://e.org/2016/06/29/other/"),
    ("/about/", "https://e.org/about/"),
    ("https://other.org/", "https://other.org/"),
    ("mailto:a@b.org", "mailto:a@b.org"),
    ("#note", "https://e.org/2016/06/29/x/#note"),  # a feed reader has no page to jump in
])
def test_absolutize(url, expected):
    assert absolutize("https://e.org/2016/06/29/x/")(url) == expected


@pytest.mark.parametrize("base_path, url, expected", [
    ("/", "/about/", "/about/"),
    ("/blog/", "/about/", "/blog/about/"),
    ("/blog/", "//cdn.example/x.js", "//cdn.example/x.js"),
    ("/blog/", "img/a.png", "img/a.png"),
    ("/blog/", "https://e.org/", "https://e.org/"),
])
def test_prefix_root_relative(base_path, url, expected):
    assert prefix_root_relative(base_path)(url) == expected


PIECES = st.sampled_from([" href=", " src=", " HREF =", " cite=", " poster=", '"', "'", " ",
                          "<a", ">", "/x", "#y", "a&amp;b", "&quot;", "http://e.example/",
                          "=", "`", "srcse", "t"])


@given(st.lists(PIECES, max_size=30).map("".join))
def test_collect_urls_finds_what_rewriting_visits(text):
    """collect_urls skips building a rewritten copy; it must see the same URLs."""
    visited: dict[str, None] = {}
    rewrite_urls(text, lambda url: visited.setdefault(url) or url)  # records, keeps url
    assert collect_urls(text) == tuple(visited)


LONG_HEADLINE = " ".join(["Pyongyang", "Tests", "Another", "Missile"] * 50)


@pytest.mark.parametrize("text", [
    LONG_HEADLINE,
    "x" * 1000,  # one word longer than the cap is cut inside the word
    "a" * 80 + " b",  # a hyphen right at the cap
    "a" * 79 + " bc",  # a word that would end one past the cap
])
def test_a_slug_made_from_a_long_text_is_capped_to_a_valid_slug(text):
    slug = slugify(text)
    assert 0 < len(slug) <= MAX_SLUG_LENGTH
    assert is_valid_slug(slug), slug  # so never ending in '-'


def test_a_capped_slug_ends_at_a_whole_word():
    slug = slugify(LONG_HEADLINE)
    assert set(slug.split("-")) <= {"pyongyang", "tests", "another", "missile"}
    assert LONG_HEADLINE.lower().replace(" ", "-").startswith(slug + "-")
    assert len(slug) > MAX_SLUG_LENGTH - len("-pyongyang")  # no more cut than one word
    assert slugify(slug) == slug


def test_a_slug_within_the_cap_is_left_whole():
    text = "word " * 16  # 16 words of 4 letters and 15 hyphens: 79 characters
    assert slugify(text) == "-".join(["word"] * 16)
