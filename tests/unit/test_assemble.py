"""Unit tests for marginalia.assemble: what is published, in which order, and where links go."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from marginalia.assemble import Visibility, assemble_site, map_asset_urls
from marginalia.errors import BuildError, BuildErrors
from marginalia.model import Page, Post

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def make_post(name: str, day: int, section: str = "North Korea Fallout", *,
              tags: tuple[str, ...] = (), body_html: str = "<p>x</p>", draft: bool = False,
              date: datetime | None = None, expires: datetime | None = None,
              updated: datetime | None = None, folder: str = "content/posts") -> Post:
    date = date or datetime(2016, 1, day, 12, tzinfo=timezone.utc)
    return Post(rel_path=f"{folder}/{name}.md", title=name.title(), section=section, date=date,
                updated=updated, expires=expires, dek="", sources=(), tags=tags, author="",
                slug=name, comments=True, draft=draft, url=f"/2016/01/{day:02d}/{name}/",
                body=body_html, summary="")


def assemble(config, posts, pages=(), assets=(), **visibility):
    return assemble_site(list(posts), list(pages), tuple(assets), config,
                         Visibility(now=NOW, **visibility))


def problems(error: BuildError) -> list[BuildError]:
    return list(error.errors) if isinstance(error, BuildErrors) else [error]


def test_posts_are_newest_first(site_config):
    site = assemble(site_config, [make_post("b", 2), make_post("c", 3), make_post("a", 1)])
    assert [p.slug for p in site.posts] == ["c", "b", "a"]
    assert site.newest_date.day == 3 and site.oldest_date.day == 1


def test_same_moment_is_ordered_by_file(site_config):
    moment = datetime(2016, 1, 1, tzinfo=timezone.utc)
    site = assemble(site_config, [make_post("b", 1, date=moment), make_post("a", 1, date=moment)])
    assert [p.slug for p in site.posts] == ["a", "b"]


def test_order_compares_instants_not_local_times(site_config):
    tokyo = datetime(2017, 9, 12, 8, 30, tzinfo=timezone(timedelta(hours=9)))  # 23:30 UTC, 11th
    new_york = datetime(2017, 9, 11, 20, 0, tzinfo=timezone(timedelta(hours=-4)))  # 00:00 UTC
    site = assemble(site_config, [make_post("tokyo", 12, date=tokyo),
                                  make_post("ny", 11, date=new_york)])
    assert [p.slug for p in site.posts] == ["ny", "tokyo"]


def test_sections_keep_config_order_and_hold_their_posts(site_config):
    site = assemble(site_config, [make_post("a", 1), make_post("b", 2, "Trade Winds"),
                                  make_post("c", 3)])
    assert [(s.name, s.url, [p.slug for p in s.posts]) for s in site.sections] == [
        ("North Korea Fallout", "/north-korea-fallout/", ["c", "a"]),
        ("Trade Winds", "/trade-winds/", ["b"])]


def test_neighbours_stay_within_a_section(site_config):
    site = assemble(site_config, [make_post("a", 1), make_post("b", 2, "Trade Winds"),
                                  make_post("c", 3), make_post("d", 4)])
    def around(name):
        n = site.neighbours[f"content/posts/{name}.md"]
        return (n.previous.slug if n.previous else None, n.next.slug if n.next else None)
    assert around("a") == (None, "c")
    assert around("c") == ("a", "d")
    assert around("d") == ("c", None)
    assert around("b") == (None, None)


def test_drafts_future_and_expired_are_held_back(site_config):
    posts = [make_post("live", 1), make_post("draft", 2, draft=True),
             make_post("future", 3, date=NOW + timedelta(seconds=1)),
             make_post("expired", 4, expires=NOW)]
    site = assemble(site_config, posts)
    assert [p.slug for p in site.posts] == ["live"]
    assert sorted(p.slug for p in site.held_back) == ["draft", "expired", "future"]
    assert [p.slug for p in assemble(site_config, posts, drafts=True).posts] == ["draft", "live"]
    assert [p.slug for p in assemble(site_config, posts, future=True).posts] == ["future", "live"]


def test_post_dated_exactly_now_is_published(site_config):
    site = assemble(site_config, [make_post("now", 1, date=NOW)])
    assert [p.slug for p in site.posts] == ["now"]


def test_held_back_posts_do_not_count_for_copyright_years(site_config):
    posts = [make_post("old", 1), make_post("future", 2, date=datetime(2029, 12, 31, 23,
                                                                       tzinfo=timezone.utc)),
             make_post("draft", 3, draft=True, date=datetime(2020, 1, 1, tzinfo=timezone.utc))]
    site = assemble(site_config, posts, )
    assert site.copyright_years == "2010\u20132029"
    site = assemble(site_config, posts[:1] + posts[2:])
    assert site.copyright_years == "2010\u20132016"


def test_copyright_end_year_is_read_in_the_site_zone(site_config):
    # 03:00 UTC on 1 January 2017 is still 2016 in New York.
    site = assemble(site_config, [make_post("eve", 1, date=datetime(2017, 1, 1, 3,
                                                                    tzinfo=timezone.utc))])
    assert site.copyright_years == "2010\u20132016"


def test_tags_group_posts_by_slug(site_config):
    site = assemble(site_config, [make_post("a", 1, tags=("North Korea", "Japan")),
                                  make_post("b", 2, tags=("North Korea",))])
    assert [(t.name, t.url, [p.slug for p in t.posts]) for t in site.tags] == [
        ("Japan", "/tags/japan/", ["a"]),
        ("North Korea", "/tags/north-korea/", ["b", "a"])]


def test_tags_differing_only_by_case_share_a_page(site_config):
    site = assemble(site_config, [make_post("a", 1, tags=("trade",)),
                                  make_post("b", 2, tags=("Trade",)),
                                  make_post("c", 3, tags=("Trade",))])
    [tag] = site.tags
    assert tag.name == "Trade" and len(tag.posts) == 3


def test_tags_differing_by_punctuation_are_an_error(site_config):
    with pytest.raises(BuildError) as caught:
        assemble(site_config, [make_post("a", 1, tags=("U.S.",)),
                               make_post("b", 2, tags=("US",))])
    [error] = problems(caught.value)
    assert "/tags/us/" in error.message
    assert "content/posts/a.md" in error.message and "content/posts/b.md" in error.message


def test_many_tags_on_one_post_assemble_quickly(site_config):
    tags = tuple(f"Tag {n}" for n in range(300))
    started = time.monotonic()
    site = assemble(site_config, [make_post("a", 1, tags=tags)])
    elapsed = time.monotonic() - started
    assert len(site.tags) == 300
    assert elapsed < 0.25, f"300 tags took {elapsed:.1f} s"


def test_relative_markdown_link_resolves_to_the_permalink(site_config):
    target = make_post("target", 1)
    linking = make_post("linking", 2, body_html='<p><a href="target.md#part">t</a> '
                                                '<a href="./target.md">u</a></p>')
    site = assemble(site_config, [target, linking])
    body = next(p for p in site.posts if p.slug == "linking").body_html
    assert 'href="/2016/01/01/target/#part"' in body
    assert 'href="/2016/01/01/target/"' in body


def test_link_across_folders_resolves(site_config):
    target = make_post("target", 1, folder="content/posts/2015")
    linking = make_post("linking", 2, body_html='<p><a href="../2015/target.md">t</a></p>',
                        folder="content/posts/2016")
    site = assemble(site_config, [target, linking])
    assert 'href="/2016/01/01/target/"' in site.posts[0].body_html


def test_link_to_a_page_resolves(site_config):
    about = Page(rel_path="content/pages/about.md", title="About", description="",
                 layout="page.html", menu="", order=0, url="/about/", body_html="")
    linking = make_post("linking", 2, body_html='<p><a href="../pages/about.md">a</a></p>')
    site = assemble(site_config, [linking], pages=[about])
    assert 'href="/about/"' in site.posts[0].body_html


# The link check reports such links as broken, as warnings: tests/e2e/test_links_lenient.py
def test_link_to_a_missing_post_is_left_for_the_link_check(site_config):
    linking = make_post("linking", 2, body_html='<p><a href="gone.md">t</a></p>')
    site = assemble(site_config, [linking])
    assert site.posts[0].body_html == '<p><a href="gone.md">t</a></p>'


def test_link_to_a_draft_resolves_only_when_drafts_are_built(site_config):
    draft = make_post("draft", 1, draft=True)
    linking = make_post("linking", 2, body_html='<p><a href="draft.md">t</a></p>')
    site = assemble(site_config, [draft, linking])
    assert 'href="draft.md"' in site.posts[0].body_html
    site = assemble(site_config, [draft, linking], drafts=True)
    assert 'href="/2016/01/01/draft/"' in site.posts[0].body_html


def test_other_links_are_untouched(site_config):
    html = ('<p><a href="https://e.org/a.md">a</a><a href="/abs/">b</a><a href="#f">c</a>'
            '<a href="mailto:x@y.z">d</a></p>')
    site = assemble(site_config, [make_post("a", 1, body_html=html)])
    assert site.posts[0].body_html == html


def test_asset_urls_mirror_content_or_follow_their_bundle():
    bundle = make_post("index", 1, folder="content/posts/trip")
    urls = map_asset_urls(("content/posts/trip/photo.jpg", "content/posts/trip/img/b.png",
                           "content/images/logo.png"), [bundle])
    assert urls == {"content/posts/trip/photo.jpg": "/2016/01/01/index/photo.jpg",
                    "content/posts/trip/img/b.png": "/2016/01/01/index/img/b.png",
                    "content/images/logo.png": "/images/logo.png"}
