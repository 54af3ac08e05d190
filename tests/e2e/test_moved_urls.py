"""End-to-end: a post's URL comes from its file name, so retitling never moves it; a
build that sees a published post's URL move since the last successful build warns
with the aliases: line that keeps the old one working."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from conftest import build_in_process, cli, parse_html, post_text, tree_snapshot

POST = "content/posts/2016/missile-drills.md"
OLD_URL = "/2016/06/29/missile-drills/"
NEW_URL = "/2016/06/29/allied-drills/"


def moved_line(rel_path: str, old: str, new: str, aliases: str) -> str:
    return (f"warning: {rel_path}: the post's URL moved from {old} to {new}; to keep the "
            f"old one working, add: aliases: [{aliases}]")


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def build(site: Path, *args: str):
    return build_in_process(site, *args)


def built(site: Path, *args: str) -> str:
    """Build, expecting success; return what was printed to stderr."""
    result = build(site, *args)
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.fixture
def site(make_blog) -> Path:
    """A site built once, with one published post and one beside it."""
    site_dir = make_blog({POST: post_text(title="Missile Drills"),
                          "content/posts/2016/budget.md": post_text(
                              title="Budget", section="Trade Winds",
                              date="2016-07-01T09:00:00-04:00")})
    assert warnings_of(built(site_dir)) == []  # the first build has nothing to compare
    return site_dir


def rename(site: Path, old: str, new: str) -> None:
    (site / new).parent.mkdir(parents=True, exist_ok=True)
    (site / old).rename(site / new)


def test_retitling_keeps_the_url_and_the_feed_id(site):
    (site / POST).write_text(post_text(title="Allies Hold Missile Drills at Last"))
    assert warnings_of(built(site)) == []
    output = site / "output"
    page = parse_html(output / OLD_URL.strip("/") / "index.html")
    assert page.xpath("string(//h1)") == "Allies Hold Missile Drills at Last"
    assert not (output / "2016/06/29/allies-hold-missile-drills-at-last").exists()
    feed = feedparser.parse((output / "feed.xml").read_bytes())
    entry = next(e for e in feed.entries if e.title == "Allies Hold Missile Drills at Last")
    assert entry.id == f"https://example.org{OLD_URL}"


def test_renaming_the_file_moves_the_post_and_warns_with_the_aliases_line(site):
    rename(site, POST, "content/posts/2016/allied-drills.md")
    assert warnings_of(built(site)) == [
        moved_line("content/posts/2016/allied-drills.md", OLD_URL, NEW_URL, OLD_URL)]
    assert (site / "output" / NEW_URL.strip("/") / "index.html").is_file()
    assert not (site / "output" / OLD_URL.strip("/")).exists()
    assert warnings_of(built(site)) == []  # said once: that build is now the last one


def test_the_aliases_line_silences_the_warning_and_redirects_the_old_url(site):
    rename(site, POST, "content/posts/2016/allied-drills.md")
    strict = build(site, "--strict")
    assert strict.returncode == 1
    [problem] = strict.stderr.splitlines()[:1]
    assert problem == moved_line("content/posts/2016/allied-drills.md", OLD_URL, NEW_URL,
                                 OLD_URL).removeprefix("warning: ")
    aliases_line = problem.rsplit("add: ", 1)[1]
    (site / "content/posts/2016/allied-drills.md").write_text(
        post_text(title="Missile Drills", aliases=aliases_line.removeprefix("aliases: ")))
    assert warnings_of(built(site, "--strict")) == []
    redirect = parse_html(site / "output" / OLD_URL.strip("/") / "index.html")
    assert redirect.xpath("//link[@rel='canonical']/@href") == [f"https://example.org{NEW_URL}"]
    assert f"{OLD_URL} {NEW_URL} 301" in (site / "output/_redirects").read_text("utf-8")


def test_the_aliases_line_keeps_the_aliases_a_post_has(site):
    rename(site, POST, "content/posts/2016/allied-drills.md")
    (site / "content/posts/2016/allied-drills.md").write_text(
        post_text(title="Missile Drills", aliases="[/drills/]"))
    assert warnings_of(built(site)) == [moved_line(
        "content/posts/2016/allied-drills.md", OLD_URL, NEW_URL, f"/drills/, {OLD_URL}")]


def test_strict_fails_on_a_moved_url_and_leaves_the_output_as_it_was(site):
    before = tree_snapshot(site / "output")
    (site / POST).write_text(post_text(title="Missile Drills", date="2016-06-30"))
    result = build(site, "--strict")
    assert result.returncode == 1
    assert f"{POST}: the post's URL moved from {OLD_URL} to /2016/06/30/missile-drills/" \
        in result.stderr
    assert tree_snapshot(site / "output") == before


def test_a_slug_line_overrides_the_file_name_and_moving_it_warns(site):
    (site / POST).write_text(post_text(title="Missile Drills", slug="allied-drills"))
    assert warnings_of(built(site)) == [moved_line(POST, OLD_URL, NEW_URL, OLD_URL)]
    assert (site / "output" / NEW_URL.strip("/") / "index.html").is_file()


def test_a_renamed_bundle_folder_moves_the_post(site):
    rename(site, POST, "content/posts/2016/missile-drills/index.md")
    assert warnings_of(built(site)) == []  # a bundle of the same name keeps the URL
    rename(site, "content/posts/2016/missile-drills/index.md",
           "content/posts/2016/allied-drills/index.md")
    assert warnings_of(built(site)) == [
        moved_line("content/posts/2016/allied-drills/index.md", OLD_URL, NEW_URL, OLD_URL)]


def test_a_jekyll_date_prefix_is_no_part_of_the_url(site):
    rename(site, POST, "content/posts/2016/2016-06-29-missile-drills.md")
    assert warnings_of(built(site)) == []
    assert (site / "output" / OLD_URL.strip("/") / "index.html").is_file()


def test_a_file_name_that_is_no_slug_is_made_one(site):
    rename(site, POST, "content/posts/2016/Missile_Drills.md")
    assert warnings_of(built(site)) == []
    assert (site / "output" / OLD_URL.strip("/") / "index.html").is_file()


def test_a_file_name_without_letters_is_an_error_asking_for_a_slug(site):
    rename(site, POST, "content/posts/2016/2016-06-29-.md")
    result = build(site)
    assert result.returncode == 1
    assert ("content/posts/2016/2016-06-29-.md:1: the name '2016-06-29-' gives an empty slug"
            in result.stderr)
    assert "add 'slug: some-words'" in result.stderr


@pytest.mark.parametrize("broken, args", [
    ({"section": "Nowhere"}, ()),  # fails while reading, before any URL is looked at
    ({"body": "See [this](/nowhere/).\n"}, ("--strict",)),  # fails once all is rendered
], ids=["early", "late"])
def test_the_warning_survives_a_failed_build_in_between(site, broken, args):
    rename(site, POST, "content/posts/2016/allied-drills.md")
    budget = site / "content/posts/2016/budget.md"
    good = budget.read_text()
    budget.write_text(post_text(**{"title": "Budget", "section": "Trade Winds",
                                   "date": "2016-07-01T09:00:00-04:00", **broken}))
    assert build(site, *args).returncode == 1
    budget.write_text(good)
    assert warnings_of(built(site)) == [
        moved_line("content/posts/2016/allied-drills.md", OLD_URL, NEW_URL, OLD_URL)]


def test_no_cache_still_warns(site):
    rename(site, POST, "content/posts/2016/allied-drills.md")
    assert len(warnings_of(built(site, "--no-cache"))) == 1


def test_a_new_post_or_a_removed_one_is_no_move(site):
    (site / "content/posts/2016/budget.md").unlink()
    (site / "content/posts/2016/tariffs.md").write_text(post_text(title="Tariffs"))
    assert warnings_of(built(site)) == []


def test_a_draft_is_not_remembered(site):
    (site / "content/posts/2016/plan.md").write_text(post_text(title="Plan", draft="true"))
    assert warnings_of(built(site, "--drafts")) == []
    rename(site, "content/posts/2016/plan.md", "content/posts/2016/new-plan.md")
    assert warnings_of(built(site, "--drafts")) == []


def test_check_reports_a_moved_url_as_an_error(site):
    rename(site, POST, "content/posts/2016/allied-drills.md")
    code, _, err = cli("check", "--site", str(site), "--now", "2030-01-01T00:00:00Z")
    assert code == 1
    assert f"the post's URL moved from {OLD_URL} to {NEW_URL}" in err
