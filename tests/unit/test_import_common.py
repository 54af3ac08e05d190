"""Unit tests of what the Jekyll, Hugo and Zola imports share, and of the site
side of every import: front matter written safely, sections added to site.toml."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from marginalia.errors import ContentError
from marginalia.importers.common import SectionSpec, front_matter_text, is_reserved, make_slug
from marginalia.importers.jekyll import _permalink
from marginalia.importers.report import ImportReport
from marginalia.importers.shortcodes import parse_hugo_arguments
from marginalia.importers.static import read_date, read_front_matter, text_list
from marginalia.importers.target import declare_sections

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("text", [
    "---\ntitle: Hello\ntags: [a, b]\n---\nBody\n",
    "+++\ntitle = \"Hello\"\ntags = [\"a\", \"b\"]\n+++\nBody\n",
    '{\n  "title": "Hello",\n  "tags": ["a", "b"]\n}\nBody\n',
])
def test_front_matter_in_yaml_toml_or_json(text):
    data, body = read_front_matter(text, "post.md")
    assert data == {"title": "Hello", "tags": ["a", "b"]} and body == "Body\n"


def test_front_matter_errors_name_the_line():
    with pytest.raises(ContentError) as caught:
        read_front_matter("+++\ntitle = \"x\"\nbad =\n+++\n", "content/a.md")
    assert (caught.value.path, caught.value.line) == ("content/a.md", 3)
    with pytest.raises(ContentError) as caught:
        read_front_matter('{\n  "title": "x",\n  oops\n}\n', "content/b.md")
    assert caught.value.line == 3


@pytest.mark.parametrize("value, expected", [
    ("2016-06-29 16:40:00 -0400", datetime(2016, 6, 29, 16, 40,
                                           tzinfo=timezone(timedelta(hours=-4)))),
    ("2016-06-29T16:40:00Z", datetime(2016, 6, 29, 16, 40, tzinfo=timezone.utc)),
    ("2016-06-29", datetime(2016, 6, 29, tzinfo=BERLIN)),
    (datetime(2016, 6, 29, 16, 40), datetime(2016, 6, 29, 16, 40, tzinfo=BERLIN)),
    ("next tuesday", None),
])
def test_dates_as_static_sites_write_them(value, expected):
    assert read_date(value, BERLIN) == expected


def test_tags_from_a_string_or_a_list():
    assert text_list("news politics") == ["news", "politics"]
    assert text_list("North Korea, Japan") == ["North Korea", "Japan"]
    assert text_list(["a", 1]) == ["a", "1"]


def test_jekyll_permalinks():
    moment = datetime(2016, 6, 9, 8, 5)
    assert _permalink("/:categories/:year/:month/:day/:title:output_ext", moment, "drills",
                      ["Korea", "Defense"]) == "/korea/defense/2016/06/09/drills.html"
    assert _permalink("/:year/:i_month/:title/", moment, "drills", []) == "/2016/6/drills/"


def test_hugo_shortcode_arguments():
    assert parse_hugo_arguments(' src="a b.png" width=300 "pos" `raw` ') == {
        "src": "a b.png", "width": "300", 0: "pos", 1: "raw"}


def test_slugs_are_transliterated():
    assert make_slug("%ce%b5%cf%80%ce%af%cf%80%ce%b5%ce%b4%ce%bf-2") == "epipedo-2"
    assert make_slug("Über uns") == "uber-uns"


def test_paths_the_build_makes_are_reserved():
    sections = {"/world/"}
    for path in ("/", "/tags/x/", "/2016/", "/2016/06/", "/world/", "/feed.xml"):
        assert is_reserved(path, sections), path
    assert not is_reserved("/2016/06/29/post/", sections)


def test_front_matter_is_written_safely():
    fields = {"title": "No", "section": "A: B", "date": "2016-06-29T16:40:00-04:00",
              "tags": ["yes", "{{ site.title }}", "- x"], "extra": {"at": datetime(2016, 1, 1)},
              "dek": "line one\nline two: 'quoted' \"double\""}
    text = front_matter_text(fields)
    assert text.startswith("---\ntitle: 'No'\nsection: 'A: B'\n")
    loaded = yaml.safe_load(text.split("---\n")[1])
    assert loaded["tags"] == ["yes", "{{ site.title }}", "- x"]
    assert loaded["extra"] == {"at": "2016-01-01T00:00:00"}
    assert loaded["dek"] == fields["dek"]


def test_the_report_is_the_same_for_the_same_import():
    def report() -> str:
        made = ImportReport("hugo", "old")
        made.count("posts", "published", 2)
        made.note("shortcode", "content/a.md", "{{< x >}}")
        made.note("shortcode", "content/a.md", "{{< x >}}")
        made.files["content/a.md"] = "0" * 64
        return made.to_json()
    assert report() == report() and report().count("{{< x >}}") == 1


def test_sections_are_appended_to_site_toml_keeping_it(tmp_path):
    config = tmp_path / "site.toml"
    original = ('# my notes\ntitle = "T"\n\n[[sections]]\nname = "World"\n\n'
                '[comments]\nprovider = "none"  # off for now\n')
    config.write_text(original, encoding="utf-8")
    added = declare_sections(tmp_path, [SectionSpec("World", "world"),
                                        SectionSpec("Ελληνικά \"Greek\"", "ellinika")],
                             "WordPress")
    assert added == ['Ελληνικά "Greek"']
    text = config.read_text(encoding="utf-8")
    assert text.startswith(original)
    assert [s["name"] for s in tomllib.loads(text)["sections"]] == ["World",
                                                                    'Ελληνικά "Greek"']
    assert declare_sections(tmp_path, [SectionSpec("World", "world")], "WordPress") == []
