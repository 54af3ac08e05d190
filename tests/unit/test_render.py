"""Unit tests for marginalia.render: pagination, output paths, collisions and page rendering."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import lxml.html
import pytest

from marginalia.assemble import Visibility, assemble_site
from marginalia.errors import BuildError, BuildErrors, OutputCollisionError
from marginalia.model import CommentsConfig, OutputFile, Post
from marginalia.render import json_for_script, paginate, render_site
from marginalia.sitefiles import check_collisions
from marginalia.urls import output_path
from marginalia.templates import DEFAULTS_DIR, load_templates
from marginalia.theme import collect_theme

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def make_post(name: str, day: int, section: str = "North Korea Fallout", **fields) -> Post:
    values = dict(rel_path=f"content/posts/{name}.md", title=name.title(), section=section,
                  date=datetime(2016, 1, day, 12, tzinfo=timezone.utc), updated=None,
                  expires=None, dek="", sources=(), tags=(), author="", slug=name,
                  comments=True, draft=False, url=f"/2016/01/{day:02d}/{name}/",
                  body_html="<p>Body.</p>", summary="")
    values.update(fields)
    values["body"] = values.pop("body_html")
    return Post(**values)


def render(config, posts) -> dict[str, OutputFile]:
    site = assemble_site(list(posts), [], (), config, Visibility(now=NOW))
    files = render_site(site, load_templates(DEFAULTS_DIR), collect_theme(DEFAULTS_DIR), NOW)
    return {f.rel_path: f for f in files}


def page(files: dict[str, OutputFile], rel_path: str):
    return lxml.html.document_fromstring(files[rel_path].content)


@pytest.mark.parametrize("count, per_page, urls", [
    (0, 2, ["/s/"]),
    (1, 2, ["/s/"]),
    (2, 2, ["/s/"]),
    (3, 2, ["/s/", "/s/page/2/"]),
    (5, 2, ["/s/", "/s/page/2/", "/s/page/3/"]),
])
def test_paginate_urls(count, per_page, urls):
    posts = [make_post(f"p{n}", n + 1) for n in range(count)]
    pagers = paginate(posts, per_page, "/s/")
    assert [p.url for p in pagers] == urls
    assert [p.number for p in pagers] == list(range(1, len(urls) + 1))
    assert all(p.total == len(urls) and p.first_url == "/s/" for p in pagers)
    assert [post for p in pagers for post in p.posts] == posts


def test_paginate_links_neighbouring_pages():
    pagers = paginate([make_post(f"p{n}", n + 1) for n in range(5)], 2, "/")
    assert [(p.previous_url, p.next_url) for p in pagers] == [
        (None, "/page/2/"), ("/", "/page/3/"), ("/page/2/", None)]
    assert [len(p.posts) for p in pagers] == [2, 2, 1]


@pytest.mark.parametrize("url, path", [
    ("/", "index.html"), ("/a/b/", "a/b/index.html"), ("/404.html", "404.html"),
    ("/feed.xml", "feed.xml"),
])
def test_output_path(url, path):
    assert output_path(url) == path


def test_check_collisions_lists_every_claimant():
    files = [OutputFile("a/index.html", b"", "content/posts/x.md"),
             OutputFile("a/index.html", b"", "content/posts/y.md"),
             OutputFile("b/index.html", b"", "content/posts/z.md")]
    with pytest.raises(BuildError) as caught:
        check_collisions(files)
    errors = caught.value.errors if isinstance(caught.value, BuildErrors) else [caught.value]
    [error] = errors
    assert isinstance(error, OutputCollisionError)
    assert "content/posts/x.md" in error.message and "content/posts/y.md" in error.message


def test_check_collisions_catches_case_only_differences():
    with pytest.raises(BuildError, match="claim the output file"):
        check_collisions([OutputFile("About/index.html", b"", "a"),
                          OutputFile("about/index.html", b"", "b")])


def test_json_for_script_cannot_close_the_script():
    text = str(json_for_script({"t": "</script><script>alert(1)</script>&\u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"t": "</script><script>alert(1)</script>&\u2028"}


def test_render_site_paths(site_config):
    posts = [make_post(f"p{n}", n + 1, tags=("Japan",)) for n in range(5)]
    files = render(site_config, posts)
    for post in posts:
        assert output_path(post.url) in files
    assert {"index.html", "page/2/index.html", "page/3/index.html",
            "north-korea-fallout/index.html", "north-korea-fallout/page/2/index.html",
            "trade-winds/index.html", "tags/index.html", "tags/japan/index.html",
            "404.html", "feed.xml", "north-korea-fallout/feed.xml"} <= set(files)
    assert not [p for p in files if "/page/1/" in f"/{p}"]
    assert "page/4/index.html" not in files


def test_post_page_shows_the_comment_toggle(site_config):
    files = render(site_config, [make_post("a", 1)])
    doc = page(files, "2016/01/01/a/index.html")
    [details] = doc.xpath("//details[contains(@class, 'comments')]")
    assert details.xpath("string(summary)").strip() == "Show comments"


def test_post_without_comments_has_no_toggle(site_config):
    files = render(site_config, [make_post("a", 1, comments=False)])
    assert not page(files, "2016/01/01/a/index.html").xpath("//details")


def test_provider_none_shows_no_toggle(site_config):
    config = replace(site_config, comments=CommentsConfig("none", True, ()))
    files = render(config, [make_post("a", 1)])
    assert not page(files, "2016/01/01/a/index.html").xpath("//details")
    assert not page(files, "2016/01/01/a/index.html").xpath("//script[@src]")


def test_post_html_enters_unescaped_and_text_fields_escaped(site_config):
    files = render(site_config, [make_post("a", 1, title="<b>T</b>",
                                           body_html="<p><strong>Bold</strong></p>")])
    doc = page(files, "2016/01/01/a/index.html")
    assert doc.xpath("string(//h1)") == "<b>T</b>"
    assert not doc.xpath("//h1/b")
    assert doc.xpath("string(//div[contains(@class,'post-body')]//strong)") == "Bold"


def test_base_path_prefixes_site_links(site_config):
    config = replace(site_config, base_url="https://example.org/blog/")
    files = render(config, [make_post("a", 1, body_html='<p><a href="/about/">x</a></p>')])
    doc = page(files, "2016/01/01/a/index.html")
    assert doc.xpath("//div[contains(@class,'post-body')]//a/@href") == ["/blog/about/"]
    assert doc.xpath("//link[@rel='canonical']/@href") == [
        "https://example.org/blog/2016/01/01/a/"]
