"""End-to-end: a post's sources in every feed, and linked posts (`link:`), whose headline
points to the article they discuss, on pages, in listings and in feeds."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import html5lib
import lxml.etree
import lxml.html
import pytest

from conftest import blog_files, build_in_process, post_text, tree_snapshot, write_site

ARTICLE = "https://www.reuters.com/world/?from=a&to=b"
LINKED = "2016/06/29/pyongyang-talks-again"
PLAIN = "2016/06/30/a-plain-post"
BASE = "https://example.org/"
SOURCES = ("\n  - name: Reuters & <i>Partners</i>\n    url: https://www.reuters.com/"
           "\n  - name: The Japan Times\n    url: https://www.japantimes.co.jp/")
SOURCE_URLS = ["https://www.reuters.com/", "https://www.japantimes.co.jp/"]
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
ATOM = "{http://www.w3.org/2005/Atom}"


def linked_post(link: str = ARTICLE) -> str:
    return post_text(title="Pyongyang Talks <Again>", date="2016-06-29T16:40:00-04:00",
                     link=f'"{link}"', dek='"Talks, again."', sources=SOURCES,
                     tags="[Korea]",
                     body="Reuters:\n\n> A quote.\n\nThe commentary.\n")


def blog(tmp_path: Path, linked: str) -> Path:
    return write_site(tmp_path / "site", blog_files({
        "content/posts/pyongyang-talks-again.md": linked,
        "content/posts/a-plain-post.md": post_text(title="A Plain Post", tags="[Korea]",
                                            date="2016-06-30T09:00:00-04:00",
                                            sources=SOURCES),
    }))


def build(site: Path) -> Path:
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    return site / "output"


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    return build(blog(tmp_path_factory.mktemp("linked"), linked_post()))


def page(output: Path, url: str):
    path = output / url.strip("/") / "index.html" if url.strip("/") else output / "index.html"
    return html5lib.parse(path.read_bytes(), namespaceHTMLElements=False)


def with_class(root, tag: str, name: str) -> list:
    return [el for el in root.iter(tag) if name in (el.get("class") or "").split()]


def text(element) -> str:
    return " ".join("".join(element.itertext()).split())


def headline_links(heading) -> list[tuple[str, str, str]]:
    """(href, class, text) of each link in a headline."""
    return [(a.get("href"), a.get("class") or "", text(a)) for a in heading.iter("a")]


def fragment(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


# --- pages and listings --------------------------------------------------------------

def test_a_linked_post_headline_goes_to_the_article_with_a_permalink_mark(output):
    [h1] = page(output, LINKED).iter("h1")
    [(href, kind, title), (own, mark, _)] = headline_links(h1)
    assert (href, kind) == (ARTICLE, "link-out")
    assert title.startswith("Pyongyang Talks <Again>") and "external link" in title
    [out] = with_class(h1, "a", "link-out")
    assert "noopener" in out.get("rel").split()
    assert (own, mark) == (f"/{LINKED}/", "permalink")
    assert [text(el) for el in with_class(h1, "span", "visually-hidden")] == [
        "(external link)", "Permalink"]
    hidden = [el for el in h1.iter("span") if el.get("aria-hidden") == "true"]
    assert [text(el) for el in hidden] == ["→", "∞"]  # marks that screen readers skip


def test_a_plain_post_headline_is_plain_text(output):
    [h1] = page(output, PLAIN).iter("h1")
    assert list(h1.iter("a")) == [] and text(h1) == "A Plain Post"


@pytest.mark.parametrize("listing", ["", "tags/korea", "north-korea-fallout"])
def test_listings_send_a_linked_headline_out_and_the_mark_home(output, listing):
    summaries = with_class(page(output, listing), "article", "summary")
    headlines = [headline_links(next(s.iter("h2"))) for s in summaries]
    assert [[(href, kind) for href, kind, _ in links] for links in headlines] == [
        [(f"/{PLAIN}/", "")],
        [(ARTICLE, "link-out"), (f"/{LINKED}/", "permalink")]]


def test_the_month_archive_marks_a_linked_post_too(output):
    [archive] = with_class(page(output, "2016/06"), "ul", "archive-list")
    assert [a.get("href") for a in archive.iter("a")] == [
        f"/{PLAIN}/", ARTICLE, f"/{LINKED}/"]


# --- feeds -----------------------------------------------------------------------------

FEEDS = ["feed.xml", "north-korea-fallout/feed.xml", "tags/korea/feed.xml"]


def rss_items(output: Path, name: str) -> dict[str, lxml.etree._Element]:
    root = lxml.etree.fromstring((output / name).read_bytes())
    return {item.findtext("title"): item for item in root.iter("item")}


@pytest.mark.parametrize("name", FEEDS)
def test_rss_items_end_with_their_sources(output, name):
    for title, item in rss_items(output, name).items():
        shown = fragment(item.findtext(CONTENT))
        sources = with_class(shown, "aside", "sources")
        assert len(sources) == 1, title
        assert sources[0].xpath(".//a/@href") == SOURCE_URLS, title
        assert sources[0].xpath("string(.//li[1])") == "Reuters & <i>Partners</i>", title
        following = list(shown)[list(shown).index(sources[0]) + 1:]
        if title == "A Plain Post":
            assert following == []
        else:
            [permalink] = following
            assert permalink.xpath("a/@href") == [BASE + LINKED + "/"]


def test_atom_and_json_feed_items_end_with_their_sources(output):
    atom = lxml.etree.fromstring((output / "atom.xml").read_bytes())
    contents = [entry.find(f"{ATOM}content").text for entry in atom.iter(f"{ATOM}entry")]
    feed = json.loads((output / "feed.json").read_bytes())
    contents += [item["content_html"] for item in feed["items"]]
    assert len(contents) == 4
    for html in contents:
        [sources] = with_class(fragment(html), "aside", "sources")
        assert sources.xpath(".//a/@href") == SOURCE_URLS


def test_rss_description_is_the_summary_and_content_encoded_the_post(output):
    item = rss_items(output, "feed.xml")["Pyongyang Talks <Again>"]
    assert item.findtext("description") == "Talks, again."
    shown = fragment(item.findtext(CONTENT))
    assert shown.xpath("string(.//blockquote)").strip() == "A quote."
    assert "The commentary." in shown.text_content()


def test_feed_items_of_a_linked_post_link_out_with_the_permalink_as_id(output):
    permalink = BASE + LINKED + "/"
    for name in ("feed.xml", "atom.xml"):
        entries = feedparser.parse((output / name).read_bytes()).entries
        linked = next(e for e in entries if e.title == "Pyongyang Talks <Again>")
        plain = next(e for e in entries if e.title == "A Plain Post")
        assert (linked.link, linked.id) == (ARTICLE, permalink), name
        assert plain.link == plain.id == BASE + PLAIN + "/", name
    item = rss_items(output, "feed.xml")["Pyongyang Talks <Again>"]
    assert (item.findtext("guid"), item.find("guid").get("isPermaLink")) == (permalink, "true")
    items = json.loads((output / "feed.json").read_bytes())["items"]
    assert [(i["id"], i["url"], i.get("external_url")) for i in items] == [
        (BASE + PLAIN + "/", BASE + PLAIN + "/", None), (permalink, permalink, ARTICLE)]


# --- the field itself ----------------------------------------------------------------

@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://files.example/report.pdf",
                                  "/2016/06/30/a-plain-post/", "../a-plain-post.md"])
def test_a_link_that_is_not_http_stops_the_build_naming_file_and_line(tmp_path, link):
    site = blog(tmp_path, linked_post(link))
    result = build_in_process(site)
    assert result.returncode == 1
    assert "content/posts/pyongyang-talks-again.md:5: 'link' must be an http or https address" in result.stderr
    assert not (site / "output").exists()


def test_a_link_is_kept_by_the_parse_cache_and_follows_an_edit(tmp_path):
    site = blog(tmp_path, linked_post())
    first = tree_snapshot(build(site))
    assert tree_snapshot(build(site)) == first  # the second build reads the cache
    moved = "https://apnews.com/"
    (site / "content/posts/pyongyang-talks-again.md").write_text(linked_post(moved), encoding="utf-8")
    output = build(site)
    [h1] = page(output, LINKED).iter("h1")
    assert headline_links(h1)[0][0] == moved
    assert feedparser.parse((output / "feed.xml").read_bytes()).entries[1].link == moved
    edited = tree_snapshot(output)
    result = build_in_process(site, "--no-cache")
    assert result.returncode == 0, result.stderr
    assert tree_snapshot(site / "output") == edited
