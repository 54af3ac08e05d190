"""End-to-end: a commentary post's attributions, summary and typography, as readers and
feed readers get them."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import html5lib
import pytest

from conftest import MINIMAL_CONFIG, blog_files, build_in_process, post_text, write_site

POST_URL = "2016/06/29/commentary/"
COMMENTARY = """\
The Japan Times:

> Tokyo and Seoul agreed to share tracking data.

That last detail is the whole story. The two navies rarely talk.

[Reuters](https://example.com/reuters-story):

> "We are watching closely," a spokesman said.

Watching is the easy part. The hard part comes after the next launch, and nobody in \
either capital wants to say so out loud, because saying it would commit them to an \
answer they do not yet have and cannot agree on between themselves.

Here is what the minister told reporters in Tokyo on Tuesday about the plan:

> The plan is sound.

As the ministry's spokesman put it.
{.attribution}

> Forced attribution.

Yonhap:
{.lead-in}

> Forced lead-in.

The end.
"""
FIRST_COMMENT = "That last detail is the whole story. The two navies rarely talk."


def parse(data: bytes | str):
    return html5lib.parse(data, treebuilder="lxml", namespaceHTMLElements=False).getroot()


def body_of(html: str):
    """The post's HTML as a feed carries it, parsed into a document."""
    return parse(f"<!doctype html><title>x</title><div class='post-body'>{html}</div>")


def build(tmp_path: Path, files: dict[str, str], config: str = MINIMAL_CONFIG) -> Path:
    site = write_site(tmp_path / "site", blog_files({"site.toml": config, **files}))
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    return site / "output"


def feeds(output: Path) -> dict[str, dict]:
    """The one entry of each feed, as {"title", "summary", "content"}."""
    found = {}
    for name in ("feed.xml", "atom.xml"):
        parsed = feedparser.parse((output / name).read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        [entry] = parsed.entries
        found[name] = {"title": entry.title, "summary": entry.summary,
                       "content": entry.content[0].value}
    [item] = json.loads((output / "feed.json").read_text(encoding="utf-8"))["items"]
    found["feed.json"] = {"title": item["title"], "summary": item["summary"],
                          "content": item["content_html"]}
    return found


def check_commentary(doc) -> None:
    """The shape of COMMENTARY's body, wherever it was rendered."""
    [body] = doc.xpath("//*[contains(@class,'post-body')]")
    figures = body.xpath("figure[@class='quote']")
    assert [f.xpath("string(figcaption[@class='attribution'])") for f in figures] == [
        "The Japan Times:", "Reuters:", "As the ministry\u2019s spokesman put it."]
    assert [f.xpath("string(blockquote)").strip() for f in figures] == [
        "Tokyo and Seoul agreed to share tracking data.",
        "\u201cWe are watching closely,\u201d a spokesman said.", "Forced attribution."]
    assert figures[1].xpath("figcaption/a/@href") == ["https://example.com/reuters-story"]
    paragraphs = [p.xpath("string(.)") for p in body.xpath("p")]
    assert paragraphs[0] == FIRST_COMMENT
    assert paragraphs[1].startswith("Watching is the easy part.")
    # A long lead-in and a forced one stay paragraphs, right before their quotes.
    for lead_in in ("Here is what the minister told reporters in Tokyo on Tuesday about "
                    "the plan:", "Yonhap:"):
        [p] = body.xpath("p[normalize-space(.)=$text]", text=lead_in)
        assert p.xpath("name(following-sibling::*[1])") == "blockquote"
    assert paragraphs[-1] == "The end."
    assert len(body.xpath(".//blockquote")) == 5 and len(body.xpath(".//figure")) == 3
    assert "{" not in body.xpath("string(.)")
    assert not body.xpath(".//*[contains(@class,'lead-in')]")


@pytest.mark.parametrize("engine", ["python-markdown", "commonmark"])
def test_attributions_reach_the_page_and_every_feed(tmp_path, engine):
    config = MINIMAL_CONFIG + f'\n[markdown]\nengine = "{engine}"\n'
    output = build(tmp_path, {"content/posts/commentary.md": post_text(body=COMMENTARY)},
                   config)
    check_commentary(parse((output / POST_URL / "index.html").read_bytes()))
    for name, entry in feeds(output).items():
        check_commentary(body_of(entry["content"]))


def test_without_a_dek_the_first_comment_is_the_summary_everywhere(tmp_path):
    output = build(tmp_path, {"content/posts/commentary.md": post_text(body=COMMENTARY)})
    page = parse((output / POST_URL / "index.html").read_bytes())
    for xpath in ("//meta[@name='description']/@content",
                  "//meta[@property='og:description']/@content",
                  "//meta[@name='twitter:description']/@content"):
        assert page.xpath(xpath) == [FIRST_COMMENT], xpath
    [json_ld] = page.xpath("//script[@type='application/ld+json']/text()")
    assert json.loads(json_ld)["description"] == FIRST_COMMENT
    for listing in ("index.html", "north-korea-fallout/index.html"):
        doc = parse((output / listing).read_bytes())
        assert doc.xpath("//article[contains(@class,'summary')]//p[@class='dek']/text()") == [
            FIRST_COMMENT], listing
    for name, entry in feeds(output).items():
        assert entry["summary"] == FIRST_COMMENT, name


def test_a_long_first_comment_is_cut_at_a_sentence(tmp_path):
    body = COMMENTARY.replace(FIRST_COMMENT + "\n", "")
    output = build(tmp_path, {"content/posts/commentary.md": post_text(body=body)})
    for name, entry in feeds(output).items():
        assert entry["summary"] == "Watching is the easy part.", name


TITLE = "The Deal That Wasn't -- <b>Yet</b> & \"Then\""
TYPESET_TITLE = "The Deal That Wasn\u2019t \u2014 <b>Yet</b> & \u201cThen\u201d"
DEK = "It's a \"deal\" -- on paper."
TYPESET_DEK = "It\u2019s a \u201cdeal\u201d \u2014 on paper."


def test_titles_and_deks_are_typeset_and_escaped_in_pages_and_feeds(tmp_path):
    config = MINIMAL_CONFIG.replace('"Test Blog"', "\"The Editor's Desk\"")
    post = post_text(title=TITLE.replace('"', '\\"'), dek="'{}'".format(DEK.replace("'", "''")),
                     body="Words -- and \"more\" words.\n")
    output = build(tmp_path, {"content/posts/2016/the-deal.md": post}, config)
    page_path = output / "2016/06/29/the-deal/index.html"
    assert page_path.is_file()  # the slug comes from the file, as written
    page = parse(page_path.read_bytes())
    assert page.xpath("string(//h1)") == TYPESET_TITLE
    assert page.xpath("//title/text()") == [f"{TYPESET_TITLE} | The Editor\u2019s Desk"]
    assert page.xpath("//meta[@property='og:title']/@content") == [TYPESET_TITLE]
    assert page.xpath("string(//header//p[@class='dek'])") == TYPESET_DEK
    assert page.xpath("//meta[@name='description']/@content") == [TYPESET_DEK]
    assert page.xpath("string(//*[contains(@class,'site-title')])") == "The Editor\u2019s Desk"
    assert page.xpath("string(//*[contains(@class,'post-body')]/p)") == (
        "Words \u2014 and \u201cmore\u201d words.")
    assert not page.xpath("//h1//b")  # characters, never markup
    json_ld = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    assert json_ld["headline"] == TYPESET_TITLE
    assert json_ld["url"] == "https://example.org/2016/06/29/the-deal/"
    for name, entry in feeds(output).items():
        assert (entry["title"], entry["summary"]) == (TYPESET_TITLE, TYPESET_DEK), name
    channel = feedparser.parse((output / "feed.xml").read_bytes()).feed
    assert channel.title == "The Editor\u2019s Desk"


@pytest.mark.parametrize("setting, double, triple", [
    ("", "\u2014", "\u2014"),
    ('\n[typography]\ndashes = "en"\n', "\u2013", "\u2014"),
])
def test_the_dash_setting_applies_to_titles_and_bodies(tmp_path, setting, double, triple):
    post = post_text(title="Pages 10--20", dek="'A --- B'", body="Years 1990--2000 --- done.\n")
    output = build(tmp_path, {"content/posts/dashes.md": post}, MINIMAL_CONFIG + setting)
    page = parse((output / "2016/06/29/dashes/index.html").read_bytes())
    assert page.xpath("string(//h1)") == f"Pages 10{double}20"
    assert page.xpath("string(//header//p[@class='dek'])") == f"A {triple} B"
    assert page.xpath("string(//*[contains(@class,'post-body')]/p)") == (
        f"Years 1990{double}2000 {triple} done.")
    assert feeds(output)["feed.json"]["title"] == f"Pages 10{double}20"


def test_a_bad_dash_setting_stops_the_build(tmp_path):
    site = write_site(tmp_path / "site", blog_files({
        "site.toml": MINIMAL_CONFIG + '\n[typography]\ndashes = "long"\n',
        "content/posts/a.md": post_text()}))
    result = build_in_process(site)
    assert result.returncode == 2
    assert "typography.dashes 'long' is unknown" in result.stderr
    assert not (site / "output").exists()
