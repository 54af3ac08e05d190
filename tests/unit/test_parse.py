"""Unit tests for marginalia.parse: a SourceFile and a Config in, a Post or Page out."""

from __future__ import annotations

from datetime import datetime, timezone

import lxml.html
import pytest

from conftest import SPEC_FRONT_MATTER, post_text
from marginalia.errors import BuildError, BuildErrors
from marginalia.model import Page, Post, SourceFile
from marginalia.parse import parse_all, parse_post, parse_source
from marginalia.urls import MAX_SLUG_LENGTH

PATH = "content/posts/a.md"

SPEC_EXAMPLE = SPEC_FRONT_MATTER + """\
The Japan Times:

> The three navies will share tracking data.
"""


def source(text: str, rel_path: str = PATH) -> SourceFile:
    kind = "page" if rel_path.startswith("content/pages/") else "post"
    return SourceFile(rel_path, text, kind)


def problems(text: str, config, rel_path: str = PATH) -> list[BuildError]:
    with pytest.raises(BuildError) as caught:
        parse_source(source(text, rel_path), config)
    error = caught.value
    return list(error.errors) if isinstance(error, BuildErrors) else [error]


def test_spec_example_parses(site_config):
    rel_path = ("content/posts/2016/"
                "us-brings-south-korea-and-japan-together-for-missile-defense-drills.md")
    post = parse_post(source(SPEC_EXAMPLE, rel_path), site_config)
    assert post.title == "U.S. Brings South Korea and Japan Together for Missile Defense Drills"
    assert post.section == "North Korea Fallout"
    assert post.date == datetime(2016, 6, 29, 20, 40, tzinfo=timezone.utc)
    assert post.dek == "Two reluctant allies are being pushed together."
    assert [(s.name, s.url) for s in post.sources] == [
        ("The Japan Times", "https://www.japantimes.co.jp/")]
    assert post.tags == ("North Korea", "Japan", "South Korea", "Missile Defense")
    assert post.comments is True and post.draft is False
    assert post.slug == "us-brings-south-korea-and-japan-together-for-missile-defense-drills"
    assert post.url == ("/2016/06/29/"
                        "us-brings-south-korea-and-japan-together-for-missile-defense-drills/")
    assert post.summary == post.dek
    body = lxml.html.fragment_fromstring(post.body_html, create_parent="div")
    assert body.xpath("string(//blockquote/p)") == "The three navies will share tracking data."


def test_post_is_frozen_and_has_tuples(site_config):
    post = parse_post(source(SPEC_EXAMPLE), site_config)
    with pytest.raises(AttributeError):
        post.title = "x"  # type: ignore[misc]
    assert isinstance(post.tags, tuple) and isinstance(post.sources, tuple)


def test_permalink_uses_the_date_in_the_site_zone(site_config):
    # 02:30 UTC on 1 July is still 30 June in New York.
    post = parse_post(source(post_text(title="Late", date="2016-07-01T02:30:00Z"),
                             "content/posts/late.md"), site_config)
    assert post.url == "/2016/06/30/late/"


def test_naive_date_is_read_in_the_site_zone(site_config):
    post = parse_post(source(post_text(date="2016-06-29 16:40")), site_config)
    assert post.date == datetime(2016, 6, 29, 20, 40, tzinfo=timezone.utc)


def test_section_matches_by_slug_too(site_config):
    post = parse_post(source(post_text(section="trade-winds")), site_config)
    assert post.section == "Trade Winds"


def test_explicit_slug_wins(site_config):
    post = parse_post(source(post_text(title="Long Title", slug="short"),
                             "content/posts/2016/long-title.md"), site_config)
    assert post.slug == "short" and post.url.endswith("/short/")


def test_the_slug_comes_from_the_file_name_not_the_title(site_config):
    first = parse_post(source(post_text(title="Missile Drills"),
                              "content/posts/2016/missile-drills.md"), site_config)
    retitled = parse_post(source(post_text(title="Allies Hold Missile Drills at Last"),
                                 "content/posts/2016/missile-drills.md"), site_config)
    assert first.slug == retitled.slug == "missile-drills"
    assert first.url == retitled.url == "/2016/06/29/missile-drills/"


def test_a_bundle_takes_its_folder_name(site_config):
    post = parse_post(source(post_text(title="Drills"),
                             "content/posts/2016/missile-drills/index.md"), site_config)
    assert post.url == "/2016/06/29/missile-drills/"


@pytest.mark.parametrize("rel_path, slug", [
    ("content/posts/2016/2016-06-29-missile-drills.md", "missile-drills"),
    ("content/posts/2016-06-29-missile-drills/index.md", "missile-drills"),
    ("content/posts/2016/Missile Drills.md", "missile-drills"),
    ("content/posts/2016/missile_drills.markdown", "missile-drills"),
    ("content/posts/2016/2016-06-29.md", "2016-06-29"),  # a date alone is all the name
    ("content/posts/2016/missile-drills-2016-06-29.md", "missile-drills-2016-06-29"),
])
def test_a_file_name_is_made_a_slug(site_config, rel_path, slug):
    post = parse_post(source(post_text(title="Drills"), rel_path), site_config)
    assert post.slug == slug and post.url == f"/2016/06/29/{slug}/"


def test_a_long_file_name_is_cut_at_a_word_like_any_made_slug(site_config):
    name = "pyongyang-tests-another-missile-" * 4
    post = parse_post(source(post_text(), f"content/posts/{name}again.md"), site_config)
    assert post.slug == name[:MAX_SLUG_LENGTH].rsplit("-", 1)[0]


def test_summary_falls_back_to_the_body(site_config):
    post = parse_post(source(post_text(body="First *words* here.\n\nSecond.\n")), site_config)
    assert post.summary == "First words here."


def test_without_a_dek_the_summary_skips_the_attribution_and_the_quote(site_config):
    body = "Reuters:\n\n> The quoted words.\n\nThe commentary starts here.\n"
    post = parse_post(source(post_text(body=body)), site_config)
    assert post.summary == "The commentary starts here."


def test_title_dek_and_summary_are_typeset_and_the_slug_is_not(site_config):
    post = parse_post(source(post_text(title="The Deal That Wasn't -- Yet",
                                       dek="'\"Close,\" they said -- not done'"),
                             "content/posts/2017/the-deal-that-wasnt.md"), site_config)
    assert post.title == "The Deal That Wasn\u2019t \u2014 Yet"
    assert post.dek == post.summary == "\u201cClose,\u201d they said \u2014 not done"
    assert post.slug == "the-deal-that-wasnt"


def test_a_page_title_and_description_are_typeset(site_config):
    page = parse_source(source('---\ntitle: "Who We Are -- and Aren\'t"\n'
                               'description: "It\'s us"\n---\nWords.\n',
                               "content/pages/about.md"), site_config)
    assert (page.title, page.description) == ("Who We Are \u2014 and Aren\u2019t",
                                              "It\u2019s us")


def test_comments_default_comes_from_config(site_config):
    assert parse_post(source(post_text()), site_config).comments is True
    assert parse_post(source(post_text(comments="false")), site_config).comments is False


def test_front_matter_only_post_has_an_empty_body(site_config):
    post = parse_post(source(post_text(body="")), site_config)
    assert post.body_html == ""


def test_horizontal_rule_in_the_body(site_config):
    post = parse_post(source(post_text(body="above\n\n---\n\nbelow\n")), site_config)
    body = lxml.html.fragment_fromstring(post.body_html, create_parent="div")
    assert body.xpath("//p/text()") == ["above", "below"]
    assert len(body.xpath("//hr")) == 1


def test_missing_title(site_config):
    text = "---\nsection: Trade Winds\ndate: 2020-01-01\n---\n"
    [error] = problems(text, site_config)
    assert (error.path, error.line) == (PATH, 1)
    assert "missing required field 'title'" in error.message


def test_missing_date_gives_an_example(site_config):
    [error] = problems("---\ntitle: x\nsection: Trade Winds\n---\n", site_config)
    assert "missing required field 'date' (such as date: 2024-12-01T09:30:00-05:00)" in \
        error.message


@pytest.mark.parametrize("bad", ["2024-13-01", "2024-02-30"])
def test_bad_date(site_config, bad):
    [error] = problems(post_text(date=bad), site_config)
    assert str(error) == (f"{PATH}:4: date '{bad}' is not a date "
                          "(use 2024-12-01 or 2024-12-01T09:30:00-05:00)")


def test_unknown_section_lists_known_and_suggests_closest(site_config):
    [error] = problems(post_text(section="Trade Wind"), site_config)
    assert error.line == 3
    assert "unknown section 'Trade Wind'" in error.message
    assert 'did you mean "Trade Winds"' in error.message
    assert "known sections: North Korea Fallout, Trade Winds" in error.message


def test_unknown_section_with_a_slash(site_config):
    [error] = problems(post_text(section="Trade Winds/Asia"), site_config)
    assert "unknown section 'Trade Winds/Asia'" in error.message
    assert "known sections" in error.message


def test_title_no_hints_to_quote(site_config):
    text = "---\ntitle: no\nsection: Trade Winds\ndate: 2020-01-01\n---\n"
    [error] = problems(text, site_config)
    assert error.line == 2
    assert 'write title: "..." in quotes' in error.message


def test_tags_as_a_string(site_config):
    [error] = problems(post_text(tags='"a, b"'), site_config)
    assert error.line == 5
    assert "tags: [a, b]" in error.message


def test_draft_as_a_string(site_config):
    [error] = problems(post_text(draft='"false"'), site_config)
    assert "'draft' must be true or false" in error.message


def test_unknown_field_did_you_mean(site_config):
    [error] = problems(post_text(tilte='"x"'), site_config)
    assert "unknown field 'tilte'" in error.message and 'did you mean "title"' in error.message
    assert "extra:" in error.message


def test_extra_holds_free_form_fields(site_config):
    post = parse_post(source(post_text(extra="{mood: grim, score: 3}")), site_config)
    assert post.extra == {"mood": "grim", "score": 3}


def test_control_character_in_title(site_config):
    [error] = problems(post_text(title="Bell\\x07here"), site_config)
    assert error.line == 2 and "control character" in error.message


def test_empty_tag(site_config):
    [error] = problems(post_text(tags="[ok, '']"), site_config)
    assert "non-empty text" in error.message


def test_tag_without_letters(site_config):
    [error] = problems(post_text(tags="['!!!']"), site_config)
    assert "no letters or digits" in error.message


def test_a_title_without_letters_is_fine(site_config):
    post = parse_post(source(post_text(title="???")), site_config)
    assert post.slug == "a"


@pytest.mark.parametrize("rel_path", ["content/posts/2016/2016-06-29-.md",
                                      "content/posts/2016/___/index.md"])
def test_a_file_name_without_letters_needs_a_slug(site_config, rel_path):
    [error] = problems(post_text(), site_config, rel_path)
    assert (error.path, error.line) == (rel_path, 1)
    assert "gives an empty slug" in error.message and "add 'slug: some-words'" in error.message
    post = parse_post(source(post_text(slug="drills"), rel_path), site_config)
    assert post.url == "/2016/06/29/drills/"


def test_bad_explicit_slug(site_config):
    [error] = problems(post_text(slug="'../etc'"), site_config)
    assert "lowercase letters" in error.message


def test_updated_before_date(site_config):
    [error] = problems(post_text(updated="2016-01-01"), site_config)
    assert "'updated' is before 'date'" in error.message


def test_every_field_problem_in_a_file_is_reported(site_config):
    text = ("---\ntitle: no\nsection: Nowhere\ndate: 2024-02-30\ntags: 'a, b'\n"
            "draft: 'no'\ncolour: red\n---\n")
    errors = problems(text, site_config)
    assert [e.line for e in errors] == [2, 3, 4, 5, 6, 7]
    assert all(e.path == PATH for e in errors)


def test_markdown_link_warning_carries_the_file_line(site_config):
    post = parse_post(source(post_text(body="a\n\n[x](javascript:alert(1))\n")), site_config)
    [(message, line)] = post.warnings
    assert line == 8 and "link 'javascript:alert(1)' removed" in message


def test_parse_all_reports_every_bad_file(site_config):
    sources = [source(post_text(), "content/posts/good.md"),
               source(post_text(date="2024-13-01"), "content/posts/b.md"),
               source("no front matter", "content/posts/a.md")]
    parsed = parse_all(sources, site_config)
    found = [e for error in parsed.errors
             for e in (error.errors if isinstance(error, BuildErrors) else [error])]
    assert sorted({e.path for e in found}) == ["content/posts/a.md", "content/posts/b.md"]
    assert [p.rel_path for p in parsed.posts] == ["content/posts/good.md"]


def test_parse_all_splits_posts_and_pages(site_config):
    parsed = parse_all([source(post_text()),
                        source('---\ntitle: "About"\nmenu: footer\n---\nHi\n',
                               "content/pages/about.md")], site_config)
    posts, pages = parsed.posts, parsed.pages
    assert [type(p) for p in posts] == [Post] and [type(p) for p in pages] == [Page]
    assert pages[0].url == "/about/" and pages[0].menu == "footer"


def test_page_fields_are_checked(site_config):
    errors = problems('---\ntitle: "About"\nmenu: sidebar\nurl: "/../x/"\ndate: 2020-01-01\n---\n',
                      site_config, "content/pages/about.md")
    messages = " | ".join(e.message for e in errors)
    assert "menu 'sidebar' is unknown" in messages
    assert "url '/../x/'" in messages
    assert "unknown field 'date'" in messages


@pytest.mark.parametrize("alias", ["'../../etc/'", "'//evil.example/'", "'https://e.org/'",
                                   "'/a/%2e%2e/'"])
def test_aliases_must_be_site_paths(site_config, alias):
    [error] = problems(post_text(aliases=f"[{alias}]"), site_config)
    assert "must be a site path" in error.message
