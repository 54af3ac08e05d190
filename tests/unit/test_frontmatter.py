"""Unit tests for marginalia.frontmatter: the '---' split, safe YAML, and field checks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import SPEC_FRONT_MATTER

from marginalia.errors import ContentError
from marginalia.frontmatter import FieldChecker, parse_date, split_front_matter

PATH = "content/posts/a.md"
NEW_YORK = ZoneInfo("America/New_York")

SPEC_EXAMPLE = SPEC_FRONT_MATTER + """\
The body.
"""


def split_error(text: str) -> ContentError:
    with pytest.raises(ContentError) as caught:
        split_front_matter(text, PATH)
    return caught.value


def checker(yaml_lines: str, rel_path: str = PATH) -> FieldChecker:
    return FieldChecker(split_front_matter(f"---\n{yaml_lines}---\n", rel_path), rel_path)


def test_spec_example_splits_into_data_lines_and_body():
    matter = split_front_matter(SPEC_EXAMPLE, PATH)
    assert matter.data["title"] == ("U.S. Brings South Korea and Japan Together "
                                    "for Missile Defense Drills")
    assert matter.data["date"] == "2016-06-29T16:40:00-04:00"  # left as text, checked later
    assert matter.data["tags"] == ["North Korea", "Japan", "South Korea", "Missile Defense"]
    assert matter.data["sources"] == [{"name": "The Japan Times",
                                       "url": "https://www.japantimes.co.jp/"}]
    assert matter.data["comments"] is True
    assert matter.key_lines["title"] == 2
    assert matter.key_lines["sources"] == 6
    assert matter.key_lines["comments"] == 10
    assert matter.body == "The body.\n"
    assert matter.body_line == 12


def test_front_matter_only_has_an_empty_body():
    matter = split_front_matter("---\ntitle: x\n---\n", PATH)
    assert matter.body == ""
    matter = split_front_matter("---\ntitle: x\n---", PATH)
    assert matter.body == ""


def test_second_fence_in_the_body_stays_in_the_body():
    matter = split_front_matter("---\ntitle: x\n---\nabove\n\n---\n\nbelow\n", PATH)
    assert matter.data == {"title": "x"}
    assert matter.body == "above\n\n---\n\nbelow\n"


def test_empty_front_matter_is_an_empty_mapping():
    matter = split_front_matter("---\n---\nbody\n", PATH)
    assert matter.data == {} and matter.body == "body\n"


@pytest.mark.parametrize("text", ["", "title: x\n", "\n---\ntitle: x\n---\n", "----\n"])
def test_missing_front_matter_is_an_error_on_line_1(text):
    error = split_error(text)
    assert (error.path, error.line) == (PATH, 1)
    assert "start the file with a '---' line" in error.message


def test_front_matter_never_closed():
    error = split_error("---\ntitle: x\nsection: y\n\nbody text\n")
    assert error.line == 1
    assert "never closed" in error.message


def test_malformed_yaml_line_is_counted_in_the_file():
    error = split_error("---\ntitle: x\nsection: a: b\ndate: 2020-01-01\n---\n")
    assert error.line == 3  # the third line of the file, not of the YAML block
    assert error.column is not None
    assert "put a value holding ': ' in quotes" in error.message


def test_tab_indentation_gets_a_hint():
    error = split_error("---\ntitle: x\nsources:\n\t- a\n---\n")
    assert error.line == 4
    assert "spaces, not tabs" in error.message


@pytest.mark.parametrize("yaml_text", [
    "tags: [&t North Korea, *t]\n",
    "base: &b {name: x, url: 'https://e.org/'}\nsources: [*b]\n",
])
def test_yaml_aliases_are_rejected(yaml_text):
    error = split_error(f"---\ntitle: x\n{yaml_text}---\n")
    assert "anchors and aliases" in error.message
    assert error.line >= 3


def test_billion_laughs_is_rejected_quickly():
    lol = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n"
    for n in range(ord("b"), ord("j")):
        prev = chr(n - 1)
        lol += f"{chr(n)}: &{chr(n)} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    error = split_error(f"---\n{lol}---\n")
    assert "aliases" in error.message


def test_duplicate_keys_are_rejected_at_the_second():
    error = split_error("---\ntitle: a\nsection: s\ntitle: b\n---\n")
    assert error.line == 4
    assert "key 'title' appears twice" in error.message


def test_duplicate_keys_inside_a_source_are_rejected():
    error = split_error("---\nsources:\n  - name: a\n    name: b\n---\n")
    assert "appears twice" in error.message


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!!python/object/apply:os.system",
                                 "!!python/name:os.system"])
def test_python_tags_are_rejected(tag):
    error = split_error(f"---\ntitle: {tag} ['echo hi']\n---\n")
    assert error.line == 2
    assert "!!python/object are not allowed" in error.message


@pytest.mark.parametrize("yaml_text", ["just text\n", "- a\n- b\n"])
def test_front_matter_must_be_a_mapping(yaml_text):
    error = split_error(f"---\n{yaml_text}---\n")
    assert "'key: value' lines" in error.message


def test_front_matter_size_is_limited():
    error = split_error("---\ndek: " + "x" * 70_000 + "\n---\n")
    assert "KiB" in error.message


def test_title_no_is_false_with_a_hint_to_quote():
    check = checker("title: no\n")
    assert check.text("title", required=True) == ""
    [error] = check.errors
    assert error.line == 2
    assert "YAML read false" in error.message
    assert 'title: "..."' in error.message


def test_number_title_gets_a_quote_hint():
    check = checker("title: 1984\n")
    check.text("title", required=True)
    assert 'put it in quotes: title: "1984"' in check.errors[0].message


def test_title_with_colon_space_gets_a_quote_hint():
    check = checker("title: {a: b}\n")
    check.text("title", required=True)
    assert "put the whole title in quotes" in check.errors[0].message


def test_missing_required_text():
    check = checker("dek: x\n")
    check.text("title", required=True)
    assert "missing required field 'title'" in check.errors[0].message


@pytest.mark.parametrize("value", ['"a\\x07b"', '"a\\x00b"', '"a\\u0085b"', '"a\\x1bb"'])
def test_control_characters_are_refused(value):
    check = checker(f"title: {value}\n")
    assert check.text("title", required=True) == ""
    assert "control character" in check.errors[0].message


def test_text_is_stripped():
    assert checker('title: "  Spaced  "\n').text("title") == "Spaced"


def test_tags_as_a_comma_string_suggest_a_list():
    check = checker('tags: "a, b"\n')
    assert check.text_list("tags") == ()
    assert "'tags' must be a list, such as tags: [a, b]" in check.errors[0].message


def test_empty_tag_is_an_error():
    check = checker("tags: [a, '', b]\n")
    check.text_list("tags")
    assert "each entry must be non-empty text" in check.errors[0].message


def test_boolean_tag_is_an_error():
    check = checker("tags: [yes, ok]\n")
    check.text_list("tags")
    assert "quote numbers and yes/no" in check.errors[0].message


def test_tags_keep_order_and_drop_repeats():
    assert checker("tags: [b, a, b, ' a ']\n").text_list("tags") == ("b", "a")


def test_draft_as_quoted_text_is_an_error():
    check = checker('draft: "false"\n')
    assert check.flag("draft", False) is False
    assert "'draft' must be true or false, not 'false' (write it without quotes)" in \
        check.errors[0].message


def test_unknown_field_suggests_the_closest():
    check = checker("titel: x\n")
    check.reject_unknown(("title", "section", "date"))
    [error] = check.errors
    assert error.line == 2
    assert "unknown field 'titel'" in error.message
    assert 'did you mean "title"' in error.message


def test_sources_need_name_and_http_url():
    check = checker("sources:\n  - name: A\n    url: https://a.example/\n"
                    "  - name: B\n    url: ftp://b.example/\n  - just text\n"
                    "  - name: C\n    ulr: https://c.example/\n")
    sources = check.sources()
    assert [(s.name, s.url) for s in sources] == [("A", "https://a.example/")]
    messages = [e.message for e in check.errors]
    assert any("entry 2 ('B'): url must be an http or https address" in m for m in messages)
    assert any("entry 3 must have 'name:' and 'url:'" in m for m in messages)
    assert any("unknown field 'ulr'" in m and 'did you mean "url"' in m for m in messages)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)",
                                 " javascript:alert(1)", "jav&#x61;script:alert(1)",
                                 "data:text/html,x", "//evil.example/"])
def test_source_urls_must_be_http(url):
    check = checker(f"sources:\n  - name: X\n    url: \"{url}\"\n")
    assert check.sources() == ()
    assert check.errors


@pytest.mark.parametrize("value, expected", [
    ("2016-06-29T16:40:00-04:00", datetime(2016, 6, 29, 20, 40, tzinfo=timezone.utc)),
    ("2016-06-29T20:40:00Z", datetime(2016, 6, 29, 20, 40, tzinfo=timezone.utc)),
    ("2016-06-29 16:40", datetime(2016, 6, 29, 16, 40, tzinfo=NEW_YORK)),
    ("2016-06-29", datetime(2016, 6, 29, tzinfo=NEW_YORK)),
    ("2016-01-15T09:00:00", datetime(2016, 1, 15, 14, 0, tzinfo=timezone.utc)),
])
def test_dates_are_aware_and_naive_ones_are_in_the_site_zone(value, expected):
    parsed = parse_date(value, NEW_YORK)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_naive_date_uses_the_zone_offset_of_that_day():
    summer = parse_date("2016-07-01T12:00:00", NEW_YORK)
    winter = parse_date("2016-01-01T12:00:00", NEW_YORK)
    assert summer.utcoffset() == timedelta(hours=-4)
    assert winter.utcoffset() == timedelta(hours=-5)


def test_yaml_date_objects_are_accepted():
    assert parse_date(date(2020, 2, 29), NEW_YORK) == datetime(2020, 2, 29, tzinfo=NEW_YORK)


@pytest.mark.parametrize("value", ["2024-13-01", "2024-02-30", "2023-02-29", "yesterday",
                                   "2024-1-5", "2024-12-01T25:00", "1717171717", 20240101,
                                   True, None, ["2024-01-01"]])
def test_bad_dates_are_none(value):
    assert parse_date(value, NEW_YORK) is None


@pytest.mark.parametrize("value", ["2024-13-01", "2024-02-30"])
def test_bad_date_message_gives_examples(value):
    check = checker(f"date: {value}\n")
    assert check.date("date", NEW_YORK, required=True) is None
    [error] = check.errors
    assert error.line == 2
    assert error.message == (f"date '{value}' is not a date "
                             "(use 2024-12-01 or 2024-12-01T09:30:00-05:00)")


# --- a quote or bracket left open is reported where it was opened ------------------------

@pytest.mark.parametrize("opened, closer", [
    ('dek: "Two reluctant allies', '"'),
    ("dek: 'Two reluctant allies", "'"),
    ("tags: [North Korea, Japan", "]"),
    ("extra: {desk: Seoul", "}"),
])
def test_an_unclosed_quote_or_bracket_is_reported_on_its_own_line(opened, closer):
    error = split_error(f'---\ntitle: "T"\n{opened}\nsection: Trade Winds\n'
                        "date: 2016-06-29\n---\nBody.\n")
    assert (error.line, error.column) == (3, opened.index(" ") + 2)
    assert "never closed" in error.message
    assert f"with {closer}" in error.message or f"with '{closer}'" in error.message


def test_a_quote_left_open_before_another_quoted_value_is_reported_where_it_opens():
    # The scanner closes the title at the section's first quote and fails on line 3.
    error = split_error('---\ntitle: "Unclosed\nsection: "Trade Winds"\n'
                        'date: 2016-06-29\n---\n')
    assert (error.line, error.column) == (2, 8)
    assert 'runs on to line 3; end it with " on this line' in error.message


def test_a_yaml_error_without_an_open_quote_keeps_its_own_line():
    error = split_error('---\ntitle: "Closed"\ndek: "a\n  b"\nsection: a: b\n---\n')
    assert error.line == 5
    assert "put a value holding ': ' in quotes" in error.message


# --- a slug given by hand is capped like one made from the file name ----------------------

def test_a_slug_given_by_hand_beyond_the_cap_is_an_error_at_its_line():
    long_slug = "-".join(["missile"] * 20)  # 159 characters
    check = checker(f'title: "T"\nslug: {long_slug}\n')
    slug = check.slug()
    [error] = check.errors
    assert (error.path, error.line) == (PATH, 3)
    assert f"slug is {len(long_slug)} characters long; keep it to 80 or fewer" in error.message
    assert len(slug) <= 80 and f"such as '{slug}'" in error.message


def test_a_slug_made_from_a_long_file_name_is_no_error():
    name = "pyongyang-tests-another-missile-" * 7
    check = checker('title: "T"\n', f"content/posts/2016/{name}x.md")
    slug = check.slug()
    assert check.errors == []
    assert 0 < len(slug) <= 80 and slug.startswith("pyongyang-tests-another-missile-")


@pytest.mark.parametrize("url", ["https://www.reuters.com/world/", "http://example.com/a?b=1"])
def test_link_is_an_http_or_https_address(url):
    check = checker(f"title: x\nlink: {url}\n")
    assert check.http_url("link") == url
    assert check.errors == []


def test_link_is_optional():
    check = checker("title: x\n")
    assert check.http_url("link") == ""
    assert check.errors == []


@pytest.mark.parametrize("value", ['"javascript:alert(1)"', "ftp://files.example/a",
                                   "/2016/01/01/other/", "story.html", '"//evil.example/"',
                                   '"https://exa mple.com/"', "42", "[https://a.example/]"])
def test_link_other_than_http_is_an_error_at_its_line(value):
    check = checker(f"title: x\nlink: {value}\n")
    assert check.http_url("link") == ""
    [error] = check.errors
    assert (error.path, error.line) == (PATH, 3)
    assert "'link' must be an http or https address" in error.message


def test_a_mistyped_link_field_suggests_link():
    from marginalia.parse import POST_FIELDS

    check = checker("lnik: https://a.example/\n")
    check.reject_unknown(POST_FIELDS)
    [error] = check.errors
    assert "unknown field 'lnik'" in error.message and 'did you mean "link"' in error.message
