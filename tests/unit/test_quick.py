"""An edited post's page rendered alone, against the last build's site, for the preview."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import post_text
from marginalia.pipeline import BuildOptions, WarmState, build_site
from marginalia.quick import remember_build, render_edited_posts

FIRST = "content/north-korea-fallout/first.md"
SECOND = "content/north-korea-fallout/second.md"
THIRD = "content/trade-winds/third.md"
FILES = {
    FIRST: post_text(title="First", slug="first", date="2016-06-29T16:40:00-04:00",
                     tags="[Japan]", body="Opening words with a [link](second.md).\n"),
    SECOND: post_text(title="Second", slug="second", date="2016-07-01T09:00:00-04:00",
                      tags="[Japan]", body="Second words.\n"),
    THIRD: post_text(title="Third", section="Trade Winds", slug="third",
                     date="2016-07-02T09:00:00-04:00", draft="true", body="Unpublished.\n"),
}


class Preview:
    """Preview builds of a fixture site sharing one WarmState, as `serve` runs them."""

    def __init__(self, site_dir: Path):
        self.site_dir = site_dir
        self.options = BuildOptions(
            site_dir=site_dir, output_dir=site_dir / ".cache/preview",
            now=datetime(2026, 1, 1, tzinfo=timezone.utc), base_url="http://127.0.0.1:8000/",
            drafts=True, future=True, preview=True)
        self.warm = WarmState()
        self.build()

    def build(self) -> None:
        result = build_site(self.options, warm=self.warm)
        self.last = remember_build(self.options, result.site, self.warm.templates)

    def edit(self, rel_path: str, old: str, new: str) -> None:
        path = self.site_dir / rel_path
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def built(self, page: str) -> bytes:
        return (self.options.output_dir / page).read_bytes()


@pytest.fixture
def preview(make_blog) -> Preview:
    return Preview(make_blog(FILES))


def test_an_edit_to_the_words_gives_the_page_of_a_full_build(preview):
    preview.edit(FIRST, "Opening words", "Reworded opening")

    pages = render_edited_posts(preview.last, [FIRST])

    assert list(pages) == ["2016/06/29/first/index.html"]
    assert b"Reworded opening" in pages["2016/06/29/first/index.html"]
    preview.build()
    assert pages["2016/06/29/first/index.html"] == preview.built("2016/06/29/first/index.html")


def test_several_edits_at_once_and_a_draft(preview):
    preview.edit(FIRST, "Opening words", "Reworded opening")
    preview.edit(SECOND, "Second words.", "Second words, amended.")
    preview.edit(THIRD, "Unpublished.", "Still unpublished.")

    pages = render_edited_posts(preview.last, [FIRST, SECOND, THIRD])

    assert sorted(pages) == ["2016/06/29/first/index.html", "2016/07/01/second/index.html",
                             "2016/07/02/third/index.html"]
    preview.build()
    assert all(page == preview.built(path) for path, page in pages.items())


def test_a_new_title_is_shown_on_the_post_and_later_beside_it(preview):
    preview.edit(FIRST, 'title: "First"', 'title: "First, Retitled"')

    pages = render_edited_posts(preview.last, [FIRST])

    preview.build()
    assert pages == {"2016/06/29/first/index.html":
                     preview.built("2016/06/29/first/index.html")}
    # The neighbour's link to it changes too: the full build brings that page.
    assert b"First, Retitled" in preview.built("2016/07/01/second/index.html")


@pytest.mark.parametrize("old, new", [
    ("date: 2016-06-29T16:40:00-04:00", "date: 2016-06-30T16:40:00-04:00"),
    ("section: North Korea Fallout", "section: Trade Winds"),
    ("tags: [Japan]", "tags: [Japan, Trade]"),
    ("slug: first", "slug: first-take"),
    ("title:", "draft: true\ntitle:"),
    ("title:", "author: A. Writer\ntitle:"),
])
def test_an_edit_that_moves_the_post_waits_for_the_full_build(preview, old, new):
    preview.edit(FIRST, old, new)
    assert render_edited_posts(preview.last, [FIRST]) is None


def test_an_edit_that_breaks_the_post_waits_for_the_full_build(preview):
    preview.edit(FIRST, "date: 2016-06-29T16:40:00-04:00", "date: 2016-13-45")
    assert render_edited_posts(preview.last, [FIRST]) is None


@pytest.mark.parametrize("old, new", [
    ("[link](second.md)", "[link](missing.md)"),  # a broken link: the full build warns
    ("Opening words", "Opening [x](javascript:alert(1)) words"),  # made inert, a warning
])
def test_an_edit_that_only_warns_is_shown_at_once(preview, old, new):
    preview.edit(FIRST, old, new)
    pages = render_edited_posts(preview.last, [FIRST])
    preview.build()
    assert pages == {"2016/06/29/first/index.html":
                     preview.built("2016/06/29/first/index.html")}


def test_files_that_are_not_published_posts_wait_for_the_full_build(preview):
    site_dir = preview.site_dir
    (site_dir / "content/trade-winds/new.md").write_text(post_text(title="New", slug="new"))
    (site_dir / FIRST).unlink()

    for changed in (["content/trade-winds/new.md"], [FIRST], ["content/pages/about.md"],
                    ["layouts/post.html"], ["site.toml"], [SECOND, "theme/style.css"], []):
        assert render_edited_posts(preview.last, changed) is None, changed


def test_nothing_is_written_until_the_full_build(preview):
    before = {p: p.read_bytes() for p in preview.site_dir.rglob("*") if p.is_file()}
    preview.edit(FIRST, "Opening words", "Reworded opening")
    after_edit = {p: p.read_bytes() for p in preview.site_dir.rglob("*") if p.is_file()}

    assert render_edited_posts(preview.last, [FIRST])

    assert {p: p.read_bytes() for p in preview.site_dir.rglob("*") if p.is_file()} == after_edit
    assert after_edit.keys() == before.keys()
