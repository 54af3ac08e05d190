"""Unit tests for marginalia.feeds: RSS built from the site model, checked with feedparser."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import feedparser
import lxml.etree
import lxml.html
import pytest

from marginalia.assemble import Visibility, assemble_site
from marginalia.feeds import FeedSpec, feed_html, render_feed_files
from marginalia.model import FeedConfig, Post, Source

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
ATOM_NS = "http://www.w3.org/2005/Atom"


def make_post(name: str, day: int, **fields) -> Post:
    values = dict(rel_path=f"content/posts/{name}.md", title=name.title(),
                  section="North Korea Fallout",
                  date=datetime(2016, 1, day, 12, tzinfo=timezone.utc), updated=None,
                  expires=None, dek=f"Dek of {name}", sources=(), tags=(), author="",
                  slug=name, comments=True, draft=False, url=f"/2016/01/{day:02d}/{name}/",
                  body_html="<p>Body.</p>", summary=f"Dek of {name}")
    values.update(fields)
    values["body"] = values.pop("body_html")
    return Post(**values)


def site_of(config, posts):
    return assemble_site(list(posts), [], (), config, Visibility(now=NOW))


def rss_bytes(site) -> bytes:
    files = render_feed_files(site, FeedSpec("T", "D", "/", site.posts, "site"))
    [rss] = [f for f in files if f.rel_path == "feed.xml"]
    return rss.content


def parsed(data: bytes):
    feed = feedparser.parse(data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def test_rss_items_are_newest_first_with_permalink_guids(site_config):
    site = site_of(site_config, [make_post("a", 1), make_post("c", 3), make_post("b", 2)])
    feed = parsed(rss_bytes(site))
    assert feed.version == "rss20"
    assert [e.title for e in feed.entries] == ["C", "B", "A"]
    for entry, post in zip(feed.entries, site.posts):
        assert entry.link == "https://example.org" + post.url
        assert entry.id == entry.link
        assert parsedate_to_datetime(entry.published) == post.date
    root = lxml.etree.fromstring(rss_bytes(site))
    assert root.xpath("channel/item/guid/@isPermaLink") == ["true"] * 3


def test_rss_channel_links_home_and_itself(site_config):
    root = lxml.etree.fromstring(rss_bytes(site_of(site_config, [make_post("a", 1)])))
    assert root.findtext("channel/link") == "https://example.org/"
    self_links = root.xpath("channel/atom:link[@rel='self']/@href",
                            namespaces={"atom": "http://www.w3.org/2005/Atom"})
    assert self_links == ["https://example.org/feed.xml"]


def test_rss_dates_come_from_the_content(site_config):
    updated = datetime(2016, 2, 1, 9, tzinfo=timezone(timedelta(hours=-5)))
    site = site_of(site_config, [make_post("a", 1, updated=updated), make_post("b", 3)])
    root = lxml.etree.fromstring(rss_bytes(site))
    assert parsedate_to_datetime(root.findtext("channel/lastBuildDate")) == updated
    assert parsedate_to_datetime(root.findtext("channel/pubDate")) == site.posts[0].date


def test_rss_is_the_same_bytes_every_time(site_config):
    site = site_of(site_config, [make_post("a", 1), make_post("b", 2)])
    assert rss_bytes(site) == rss_bytes(site)


def test_rss_item_limit(site_config):
    config = replace(site_config, feed=FeedConfig(items=2, full_content=True))
    site = site_of(config, [make_post(f"p{n}", n) for n in range(1, 6)])
    feed = parsed(rss_bytes(site))
    assert [e.title for e in feed.entries] == ["P5", "P4"]


def test_full_content_off_leaves_out_content_encoded(site_config):
    config = replace(site_config, feed=FeedConfig(items=20, full_content=False))
    root = lxml.etree.fromstring(rss_bytes(site_of(config, [make_post("a", 1)])))
    assert root.xpath("//content:encoded", namespaces={"content": CONTENT_NS}) == []
    assert root.findtext("channel/item/description") == "Dek of a"


def test_full_content_has_absolute_links_and_images(site_config):
    body = ('<p><a href="../b/">rel</a> <a href="/about/">root</a> <a href="#fn">note</a> '
            '<img src="img/x.png" srcset="img/x2.png 2x" alt=""> '
            '<a href="https://other.org/">ext</a></p>')
    site = site_of(site_config, [make_post("a", 1, body_html=body)])
    root = lxml.etree.fromstring(rss_bytes(site))
    [encoded] = root.xpath("//content:encoded/text()", namespaces={"content": CONTENT_NS})
    html = lxml.html.fragment_fromstring(encoded, create_parent="div")
    assert html.xpath("//a/@href") == ["https://example.org/2016/01/01/b/",
                                       "https://example.org/about/",
                                       "https://example.org/2016/01/01/a/#fn",
                                       "https://other.org/"]
    assert html.xpath("//img/@src") == ["https://example.org/2016/01/01/a/img/x.png"]
    assert html.xpath("//img/@srcset") == ["https://example.org/2016/01/01/a/img/x2.png 2x"]


def test_feed_html_respects_a_base_path(site_config):
    config = replace(site_config, base_url="https://example.org/blog/")
    post = make_post("a", 1, body_html='<p><a href="/about/">x</a><img src="y.png"></p>')
    html = lxml.html.fragment_fromstring(feed_html(site_of(config, [post]), post),
                                         create_parent="div")
    assert html.xpath("//a/@href") == ["https://example.org/blog/about/"]
    assert html.xpath("//img/@src") == ["https://example.org/blog/2016/01/01/a/y.png"]


def read_as_html(fragment: str) -> lxml.html.HtmlElement:
    """Parse a feed field the way a reader that renders it as HTML would."""
    return lxml.html.fragment_fromstring(fragment, create_parent="div")


HOSTILE_TEXTS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
                 "]]><evil/>", "Tom & Jerry", "&lt;b&gt; is how you write <b>"]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_text_fields_are_escaped_in_rss(site_config, text):
    post = make_post("a", 1, title=text, dek=text, summary=text, tags=(text,), author=text)
    data = rss_bytes(site_of(site_config, [post]))
    root = lxml.etree.fromstring(data)  # well-formed XML
    [item] = root.findall("channel/item")
    assert item.findtext("title") == text
    assert text in [c.text for c in item.findall("category")]
    assert not root.xpath("//evil | //script | //img")
    assert len(parsed(data).entries) == 1


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_rss_descriptions_show_plain_text_as_text(site_config, text):
    post = make_post("a", 1, dek=text, summary=text)
    files = render_feed_files(site_of(site_config, [post]),
                              FeedSpec("T", text, "/", [post], "site"))
    root = lxml.etree.fromstring(next(f.content for f in files if f.rel_path == "feed.xml"))
    for description in (root.findtext("channel/item/description"),
                        root.findtext("channel/description")):
        shown = read_as_html(description)
        assert [element.tag for element in shown.iter()] == ["div"]
        assert shown.text_content() == text


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_atom_and_json_feed_keep_plain_text_plain(site_config, text):
    post = make_post("a", 1, title=text, dek=text, summary=text)
    files = render_feed_files(site_of(site_config, [post]),
                              FeedSpec("T", text, "/", [post], "site"), json_feed=True)
    atom = lxml.etree.fromstring(next(f.content for f in files if f.rel_path == "atom.xml"))
    [summary] = atom.findall(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}summary")
    assert (summary.get("type"), summary.text) == ("text", text)
    assert atom.findtext(f"{{{ATOM_NS}}}subtitle") == text
    item = json.loads(next(f.content for f in files if f.rel_path == "feed.json"))["items"][0]
    assert (item["title"], item["summary"]) == (text, text)


NOT_XML = "\x00\x07\x1b\ud800\uffff"


def test_characters_xml_cannot_hold_become_replacement_characters(site_config):
    config = replace(site_config, title=f"Site{NOT_XML}", publisher=f"Pub{NOT_XML}")
    post = make_post("a", 1, title=f"T{NOT_XML}", summary=f"S{NOT_XML}", author=f"A{NOT_XML}",
                     tags=(f"G{NOT_XML}",), body_html=f"<p>B{NOT_XML}</p>")
    site = site_of(config, [post])
    files = render_feed_files(site, FeedSpec(config.title, f"D{NOT_XML}", "/", site.posts,
                                             "site"), json_feed=True)
    replaced = "\ufffd" * len(NOT_XML)
    for feed in files:
        if feed.rel_path == "feed.json":
            item = json.loads(feed.content)["items"][0]
            assert item["content_html"] == f"<p>B{replaced}</p>"
        else:
            root = lxml.etree.fromstring(feed.content)
            assert f"T{replaced}" in root.xpath("//*[local-name()='title']/text()")
    rss = parsed(next(f.content for f in files if f.rel_path == "feed.xml"))
    assert rss.entries[0].title == f"T{replaced}"
    assert rss.entries[0].author == f"A{replaced}"



def test_empty_site_has_a_valid_feed(site_config):
    feed = parsed(rss_bytes(site_of(site_config, [])))
    assert feed.entries == []


# --- item content: the summary beside the whole post, sources, linked posts ----------

SOURCES = (Source("The Japan Times", "https://www.japantimes.co.jp/"),
           Source("<b>Wire</b> & Co", "https://wire.example/a?x=1&y=2"))
ARTICLE = "https://www.reuters.com/world/asia-pacific/"


def feeds_of(site) -> dict[str, bytes]:
    files = render_feed_files(site, FeedSpec("T", "D", "/", site.posts, "site"), json_feed=True)
    return {f.rel_path: f.content for f in files}


def item_contents(feeds: dict[str, bytes]) -> dict[str, str]:
    """The HTML content of the first item of each feed, by format."""
    rss = lxml.etree.fromstring(feeds["feed.xml"])
    atom = lxml.etree.fromstring(feeds["atom.xml"])
    [encoded] = rss.xpath("channel/item[1]/content:encoded/text()",
                          namespaces={"content": CONTENT_NS})
    [content] = atom.findall(f"{{{ATOM_NS}}}entry[1]/{{{ATOM_NS}}}content")
    assert content.get("type") == "html"
    return {"rss": encoded, "atom": content.text,
            "json": json.loads(feeds["feed.json"])["items"][0]["content_html"]}


def test_every_feed_item_content_ends_with_its_sources(site_config):
    post = make_post("a", 1, sources=SOURCES, body_html="<p>Body.</p>")
    for kind, html in item_contents(feeds_of(site_of(site_config, [post]))).items():
        shown = read_as_html(html)
        *body, last = shown
        assert [element.tag for element in body] == ["p"], kind
        assert (last.tag, last.get("class")) == ("aside", "sources"), kind
        assert last.findtext("h2") == "Sources", kind
        assert last.xpath("ul/li/a/@href") == [s.url for s in SOURCES], kind
        assert [a.text_content() for a in last.xpath("ul/li/a")] == [s.name for s in SOURCES]
        assert not shown.xpath("//b"), kind  # a name is text, never markup


def test_a_post_without_sources_has_no_sources_list_in_feeds(site_config):
    for kind, html in item_contents(feeds_of(site_of(site_config, [make_post("a", 1)]))).items():
        assert [element.tag for element in read_as_html(html)] == ["p"], kind


def test_items_carry_the_summary_and_the_whole_post_apart(site_config):
    body = '<p>First.</p><blockquote><p>Quoted.</p></blockquote><p><a href="/x/">Last</a>.</p>'
    post = make_post("a", 1, dek="The dek.", summary="The dek.", body_html=body)
    feeds = feeds_of(site_of(site_config, [post]))
    rss = lxml.etree.fromstring(feeds["feed.xml"])
    [item] = rss.findall("channel/item")
    assert item.findtext("description") == "The dek."
    [encoded] = item.findall(f"{{{CONTENT_NS}}}encoded")
    shown = read_as_html(encoded.text)
    assert [element.tag for element in shown] == ["p", "blockquote", "p"]
    assert shown.xpath("//a/@href") == ["https://example.org/x/"]
    atom = lxml.etree.fromstring(feeds["atom.xml"])
    [entry] = atom.findall(f"{{{ATOM_NS}}}entry")
    assert entry.findtext(f"{{{ATOM_NS}}}summary") == "The dek."
    assert read_as_html(entry.findtext(f"{{{ATOM_NS}}}content")).text_content() == (
        shown.text_content())
    [json_item] = json.loads(feeds["feed.json"])["items"]
    assert json_item["summary"] == "The dek."
    assert read_as_html(json_item["content_html"]).text_content() == shown.text_content()


def test_summary_only_feeds_carry_no_content_at_all(site_config):
    config = replace(site_config, feed=FeedConfig(items=20, full_content=False))
    post = make_post("a", 1, sources=SOURCES, link=ARTICLE)
    feeds = feeds_of(site_of(config, [post]))
    rss = lxml.etree.fromstring(feeds["feed.xml"])
    assert rss.findtext("channel/item/description") == "Dek of a"
    assert rss.xpath("//content:encoded", namespaces={"content": CONTENT_NS}) == []
    atom = lxml.etree.fromstring(feeds["atom.xml"])
    assert atom.findall(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}content") == []
    assert atom.findtext(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}summary") == "Dek of a"
    [item] = json.loads(feeds["feed.json"])["items"]
    assert "content_html" not in item and item["content_text"] == "Dek of a"


def test_a_linked_post_links_out_and_keeps_its_permalink_as_id(site_config):
    site = site_of(site_config, [make_post("a", 1, link=ARTICLE), make_post("b", 2)])
    feeds = feeds_of(site)
    own = {"a": "https://example.org/2016/01/01/a/", "b": "https://example.org/2016/01/02/b/"}
    rss = parsed(feeds["feed.xml"])
    assert [(e.link, e.id) for e in rss.entries] == [(own["b"], own["b"]), (ARTICLE, own["a"])]
    guids = lxml.etree.fromstring(feeds["feed.xml"]).xpath("channel/item/guid")
    assert [(g.text, g.get("isPermaLink")) for g in guids] == [(own["b"], "true"),
                                                               (own["a"], "true")]
    atom = parsed(feeds["atom.xml"])
    assert [(e.link, e.id) for e in atom.entries] == [(own["b"], own["b"]), (ARTICLE, own["a"])]
    linked = lxml.etree.fromstring(feeds["atom.xml"]).findall(f"{{{ATOM_NS}}}entry")[1]
    assert [link.get("href") for link in linked.findall(f"{{{ATOM_NS}}}link")] == [ARTICLE]
    items = json.loads(feeds["feed.json"])["items"]
    assert [(i["id"], i["url"], i.get("external_url")) for i in items] == [
        (own["b"], own["b"], None), (own["a"], own["a"], ARTICLE)]


def test_a_linked_post_content_ends_with_its_permalink(site_config):
    post = make_post("a", 1, link=ARTICLE, sources=SOURCES)
    for kind, html in item_contents(feeds_of(site_of(site_config, [post]))).items():
        *_, sources, last = read_as_html(html)
        assert sources.get("class") == "sources", kind
        assert last.xpath("a/@href") == ["https://example.org/2016/01/01/a/"], kind
        assert "Permalink" in last.text_content(), kind


def test_an_unlinked_post_content_has_no_permalink_line(site_config):
    for kind, html in item_contents(feeds_of(site_of(site_config, [make_post("a", 1)]))).items():
        assert "Permalink" not in read_as_html(html).text_content(), kind


def test_a_linked_post_link_is_escaped_in_every_feed(site_config):
    article = 'https://news.example/a?x=1&y="2"<b>'
    feeds = feeds_of(site_of(site_config, [make_post("a", 1, link=article)]))
    assert parsed(feeds["feed.xml"]).entries[0].link == article
    assert lxml.etree.fromstring(feeds["atom.xml"]).find(
        f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}link").get("href") == article
    assert json.loads(feeds["feed.json"])["items"][0]["external_url"] == article
