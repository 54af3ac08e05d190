"""End-to-end: a site built with engine = "commonmark", and one that switches engines.

Everything a post can say reaches the page with either engine: footnotes, images
in bundles, links between posts by their .md files, attributions, headings, task
lists; and a switch of engine parses every post again, however warm the cache.
"""

from __future__ import annotations

from pathlib import Path

import html5lib

from conftest import MINIMAL_CONFIG, blog_files, build_in_process, post_text, write_site

COMMONMARK = '\n[markdown]\nengine = "commonmark"\n'
FIRST = post_text("The First Post", date="2016-06-29T16:40:00-04:00", body="""\
The Japan Times:

> The quoted passage, with a claim.[^src]

# What it means

The commentary, with [the second post](second.md), [the trip](trip/index.md) and
https://news.example.com/report linked, and "quotes" curled.
Open questions:
- [x] who pays
- [ ] when

<script>track()</script>

[^src]: The paper's own words.
""")
SECOND = post_text("The Second Post", date="2016-06-30T09:00:00-04:00",
                   body="Nested:\n\n- one\n  - two\n")
TRIP = post_text("The Trip", date="2016-07-01T09:00:00-04:00",
                 body="![The harbor at dawn](harbor.png)\n\nWords.\n")
PNG = b"\x89PNG\r\n\x1a\n"


def make_site(root: Path, config: str) -> Path:
    return write_site(root, blog_files({
        "site.toml": config,
        "content/posts/2016/first.md": FIRST,
        "content/posts/2016/second.md": SECOND,
        "content/posts/2016/trip/index.md": TRIP,
        "content/posts/2016/trip/harbor.png": PNG,
    }))


def page(output: Path, title: str):
    """The path and parsed page of the post with this title."""
    for path in output.glob("2016/*/*/*/index.html"):
        document = html5lib.parse(path.read_bytes(), treebuilder="lxml",
                                  namespaceHTMLElements=False)
        if title in document.findtext(".//title", ""):
            return path, document
    raise AssertionError(f"no page for {title!r}")


def test_a_commonmark_site_builds_everything_a_post_can_say(tmp_path):
    site = make_site(tmp_path / "site", MINIMAL_CONFIG + COMMONMARK)
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert "<script> removed" in result.stderr and "first.md:18" in result.stderr
    output = site / "output"
    _, first = page(output, "The First Post")
    [body] = first.xpath("//article")
    assert body.xpath(".//figure[@class='quote']/figcaption[@class='attribution']/text()") == [
        "The Japan Times:"]
    assert "What it means" in body.xpath(".//h2/text()")
    assert "What it means" not in body.xpath(".//h1/text()")
    second_path, _ = page(output, "The Second Post")
    trip_path, trip = page(output, "The Trip")
    hrefs = body.xpath(".//a/@href")
    assert "/" + second_path.parent.relative_to(output).as_posix() + "/" in hrefs
    assert "/" + trip_path.parent.relative_to(output).as_posix() + "/" in hrefs
    assert "https://news.example.com/report" in hrefs
    assert not [h for h in hrefs if h.endswith(".md")]
    reference = body.xpath(".//sup//a/@href")[0]
    assert body.xpath(f".//div[@class='footnote']//li[@id='{reference[1:]}']")
    assert len(body.xpath(".//ul/li/input[@type='checkbox'][@disabled]")) == 2
    assert "\u201cquotes\u201d" in body.xpath("string(.)")
    assert not first.xpath("//script[contains(., 'track')]")
    [image] = trip.xpath("//img[@alt='The harbor at dawn']")
    trip_url = "/" + trip_path.parent.relative_to(output).as_posix() + "/"
    assert image.get("src") == trip_url + "harbor.png"
    assert (output / image.get("src").lstrip("/")).read_bytes() == PNG


def test_switching_engines_parses_the_posts_again(tmp_path):
    site = make_site(tmp_path / "site", MINIMAL_CONFIG)
    note_ids = []
    for config in (MINIMAL_CONFIG, MINIMAL_CONFIG + COMMONMARK, MINIMAL_CONFIG):
        (site / "site.toml").write_text(config, encoding="utf-8")
        result = build_in_process(site)
        assert result.returncode == 0, result.stderr
        _, first = page(site / "output", "The First Post")
        note_ids.append(first.xpath("//div[@class='footnote']//li/@id"))
    # Python-Markdown and cmark-gfm name footnotes differently: fn:src, fn-src.
    assert note_ids[0] == note_ids[2] != note_ids[1]
    assert note_ids[1] == ["fn-src"]
