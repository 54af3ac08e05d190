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
from marginalia.model import FeedConfig, Post

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
