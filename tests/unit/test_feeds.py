"""Unit tests for marginalia.feeds: RSS built from the site model, checked with feedparser."""

from __future__ import annotations

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


@pytest.mark.parametrize("text", ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
                                  "]]><evil/>", "Tom & Jerry"])
def test_text_fields_are_escaped_in_rss(site_config, text):
    post = make_post("a", 1, title=text, dek=text, summary=text, tags=(text,), author=text)
    data = rss_bytes(site_of(site_config, [post]))
    root = lxml.etree.fromstring(data)  # well-formed XML
    [item] = root.findall("channel/item")
    assert item.findtext("title") == text
    assert item.findtext("description") == text
    assert text in [c.text for c in item.findall("category")]
    assert not root.xpath("//evil | //script | //img")
    assert len(parsed(data).entries) == 1


def test_empty_site_has_a_valid_feed(site_config):
    feed = parsed(rss_bytes(site_of(site_config, [])))
    assert feed.entries == []
