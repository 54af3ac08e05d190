"""End-to-end: a build never damages what it does not own, and refuses paths that would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import (blog_files, build_in_process, post_text, run_build, sandbox_snapshot,
                      tree_snapshot, write_site)

MARKER = ".marginalia-output"
GOOD = {"content/posts/first.md": post_text(title="First", date="2016-06-01T09:00:00-04:00"),
        "content/posts/second.md": post_text(title="Second",
                                             date="2016-06-02T09:00:00-04:00")}


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A folder holding only the site, so everything a build touches can be hashed."""
    write_site(tmp_path / "site", blog_files(GOOD))
    for name in ("layouts", "theme"):
        (tmp_path / "site" / name).mkdir()
    return tmp_path


def build(site: Path, *args: str):
    return build_in_process(site, *args)


def clean_build_snapshot(site: Path, tmp_path: Path) -> dict[str, bytes]:
    """Build a copy of the site from scratch and return its output tree."""
    copy = tmp_path / "clean-copy"
    shutil.copytree(site / "content", copy / "content")
    shutil.copy(site / "site.toml", copy / "site.toml")
    result = build(copy, "--no-cache")
    assert result.returncode == 0, result.stderr
    return tree_snapshot(copy / "output")


# --- the output folder ----------------------------------------------------------------

def test_foreign_output_folder_is_refused_without_force(sandbox):
    site = sandbox / "site"
    (site / "output").mkdir()
    (site / "output" / "thesis.docx").write_bytes(b"years of work")
    before = sandbox_snapshot(sandbox)
    result = build(site)
    assert result.returncode == 1
    assert "--force" in result.stderr
    assert sandbox_snapshot(sandbox) == before


def test_force_replaces_a_foreign_output_folder(sandbox):
    site = sandbox / "site"
    (site / "output").mkdir()
    (site / "output" / "old.html").write_text("old")
    assert build(site, "--force").returncode == 0
    assert (site / "output" / MARKER).is_file()
    assert not (site / "output" / "old.html").exists()
    assert (site / "output" / "2016/06/01/first/index.html").is_file()


def test_empty_output_folder_is_accepted(sandbox):
    site = sandbox / "site"
    (site / "output").mkdir()
    assert build(site).returncode == 0


@pytest.mark.parametrize("target", [".", "content", "content/posts", "layouts", "theme", "..",
                                    "../.."])
def test_output_over_the_site_or_its_sources_is_refused_before_anything(sandbox, target):
    site = sandbox / "site"
    before = sandbox_snapshot(sandbox)
    result = build(site, "--output", str(site / target), "--force")
    assert result.returncode == 1
    assert "refusing" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox_snapshot(sandbox) == before


def test_output_over_the_site_in_a_subprocess(sandbox):
    site = sandbox / "site"
    before = sandbox_snapshot(sandbox)
    result = run_build(site, "--output", ".")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert sandbox_snapshot(sandbox) == before


def test_output_that_is_a_file_is_an_error(sandbox):
    site = sandbox / "site"
    (site / "output").write_text("a file, not a folder")
    before = sandbox_snapshot(sandbox)
    result = build(site, "--force")
    assert result.returncode == 1
    assert "is a file" in result.stderr
    assert sandbox_snapshot(sandbox) == before


def test_output_symlink_is_refused_without_force(sandbox):
    site = sandbox / "site"
    (sandbox / "elsewhere").mkdir()
    (sandbox / "elsewhere" / "keep.txt").write_text("keep")
    os.symlink(sandbox / "elsewhere", site / "output")
    before = sandbox_snapshot(sandbox)
    result = build(site)
    assert result.returncode == 1 and "symbolic link" in result.stderr
    assert sandbox_snapshot(sandbox) == before


# --- failing builds touch nothing -----------------------------------------------------

def test_failing_parse_changes_nothing_in_the_sandbox(sandbox):
    site = sandbox / "site"
    assert build(site).returncode == 0
    (site / "content/posts/bad.md").write_text(post_text(title="Bad", date="2024-13-01"))
    before = sandbox_snapshot(sandbox)
    result = build(site)
    assert result.returncode == 1
    assert sandbox_snapshot(sandbox) == before


def test_failing_config_changes_nothing_in_the_sandbox(sandbox):
    site = sandbox / "site"
    assert build(site).returncode == 0
    (site / "site.toml").write_text((site / "site.toml").read_text() + "\nbogus = 1\n")
    before = sandbox_snapshot(sandbox)
    assert build(site).returncode == 2
    assert sandbox_snapshot(sandbox) == before


@pytest.mark.parametrize("bad_post", [
    post_text(title="Linker", body="See [gone](gone.md).\n"),
    post_text(title="First", date="2016-06-01T20:00:00-04:00", slug="first"),  # first.md's URL
], ids=["missing-link", "collision"])
def test_failing_late_changes_nothing_in_the_sandbox(sandbox, bad_post):
    site = sandbox / "site"
    assert build(site).returncode == 0
    (site / "content/posts/z.md").write_text(bad_post)
    before = sandbox_snapshot(sandbox)
    result = build(site, "--strict")  # a missing link is a warning; --strict fails on it
    assert result.returncode == 1
    assert sandbox_snapshot(sandbox) == before


@pytest.mark.parametrize("bad_post", [
    post_text(title="Linker", body="See [gone](gone.md).\n"),
    post_text(title="First", date="2016-06-01T20:00:00-04:00", slug="first"),
], ids=["missing-link", "collision"])
def test_failing_late_leaves_the_output_byte_identical(sandbox, bad_post):
    site = sandbox / "site"
    assert build(site).returncode == 0
    (site / "content/posts/z.md").write_text(bad_post)
    before = sandbox_snapshot(sandbox, skip="site/.cache")
    assert build(site, "--strict").returncode == 1
    assert sandbox_snapshot(sandbox, skip="site/.cache") == before


# --- leftovers from earlier builds ----------------------------------------------------

def test_stale_staging_from_a_killed_build_is_cleaned(sandbox):
    site = sandbox / "site"
    assert build(site).returncode == 0
    stale = site / ".output.staging-99999"
    (stale / "2016").mkdir(parents=True)
    (stale / MARKER).write_text("Marginalia")
    (stale / "index.html").write_text("half-written")
    (stale / "junk.html").write_text("junk")
    assert build(site).returncode == 0
    assert not stale.exists()
    assert tree_snapshot(site / "output") == clean_build_snapshot(site, sandbox)


def test_foreign_folder_named_like_staging_is_left_alone(sandbox):
    site = sandbox / "site"
    lookalike = site / ".output.staging-12345"
    lookalike.mkdir()
    (lookalike / "precious.txt").write_text("not ours")
    assert build(site).returncode == 0
    assert (lookalike / "precious.txt").read_text() == "not ours"


def test_rebuilds_after_edits_equal_a_clean_build(sandbox):
    site = sandbox / "site"
    posts = site / "content" / "posts"
    assert build(site).returncode == 0
    (posts / "c.md").write_text(post_text(title="Third", date="2016-06-03T09:00:00-04:00"))
    assert build(site).returncode == 0
    (posts / "first.md").unlink()
    assert build(site).returncode == 0
    (posts / "second.md").write_text(post_text(title="Second Revised",
                                          date="2016-06-02T09:00:00-04:00"))
    assert build(site).returncode == 0
    assert tree_snapshot(site / "output") == clean_build_snapshot(site, sandbox)


def test_file_left_in_output_does_not_come_back(sandbox):
    site = sandbox / "site"
    assert build(site).returncode == 0
    (site / "output" / "stray.html").write_text("left by hand")
    for _ in range(3):
        assert build(site).returncode == 0
        assert not (site / "output" / "stray.html").exists()
    assert tree_snapshot(site / "output") == clean_build_snapshot(site, sandbox)


@pytest.mark.parametrize("edit", [
    pytest.param(lambda page: page.write_text(page.read_text() + "<!-- x -->"), id="appended"),
    pytest.param(lambda page: page.write_text("<p>replaced</p>"), id="replaced"),
    pytest.param(lambda page: page.unlink(), id="deleted"),
])
def test_a_page_edited_by_hand_in_output_is_rebuilt(sandbox, edit):
    """Regression: a reused page changed in output/ made every later build fail."""
    site = sandbox / "site"
    for _ in range(2):
        assert build(site).returncode == 0
    clean = clean_build_snapshot(site, sandbox)
    edit(site / "output" / "index.html")
    result = build(site)
    assert result.returncode == 0, result.stderr
    assert tree_snapshot(site / "output") == clean
    assert build(site).returncode == 0
    assert tree_snapshot(site / "output") == clean


# --- content that reaches outside -----------------------------------------------------

def test_symlink_to_outside_the_site_is_refused(sandbox):
    site = sandbox / "site"
    (sandbox / "secret.md").write_text(post_text(title="Secret"))
    os.symlink(sandbox / "secret.md", site / "content" / "posts" / "leak.md")
    result = build(site)
    assert result.returncode == 1
    assert "content/posts/leak.md" in result.stderr and "outside the site" in result.stderr
    assert not (site / "output").exists()


def test_symlink_loop_is_an_error_not_a_hang(sandbox):
    site = sandbox / "site"
    os.symlink(site / "content", site / "content" / "posts" / "loop")
    result = run_build(site, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "loop" in result.stderr
    assert not (site / "output").exists()


# --- URL collisions ---------------------------------------------------------------------

def collision(sandbox: Path, files: dict) -> str:
    site = sandbox / "site"
    write_site(site, files)
    result = build(site)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (site / "output").exists()
    return result.stderr


def test_two_posts_with_one_permalink_are_listed(sandbox):
    stderr = collision(sandbox, {"content/posts/z.md": post_text(
        title="First", date="2016-06-01T22:00:00-04:00", slug="first")})
    assert "2016/06/01/first/index.html" in stderr
    assert "content/posts/first.md" in stderr and "content/posts/z.md" in stderr


@pytest.mark.parametrize("files, claimant", [
    ({"content/pages/tags.md": '---\ntitle: "Tags"\n---\nx\n'}, "tags/index.html"),
    ({"content/pages/x.md": '---\ntitle: "X"\nurl: /trade-winds/\n---\nx\n'},
     "trade-winds/index.html"),
    ({"content/pages/x.md": '---\ntitle: "X"\nurl: /page/2/\n---\nx\n',
      "content/posts/c.md": post_text(title="Third", date="2016-06-03T09:00:00-04:00")},
     "page/2/index.html"),
    ({"content/feed.xml": "<rss/>"}, "feed.xml"),
    ({"content/robots.txt": "User-agent: *"}, "robots.txt"),
], ids=["page-vs-tag-index", "page-vs-section", "page-vs-home-page-2", "asset-vs-feed",
        "asset-vs-robots"])
def test_urls_claimed_by_the_engine_collide(sandbox, files, claimant):
    stderr = collision(sandbox, files)
    assert f"'{claimant}'" in stderr
    [source] = [name for name in files if not name.startswith("content/posts/c")]
    assert source in stderr


def test_page_under_a_feed_path_is_a_collision(sandbox):
    stderr = collision(sandbox, {"content/pages/x.md":
                                 '---\ntitle: "X"\nurl: /feed.xml/\n---\nx\n'})
    assert "content/pages/x.md" in stderr and "feed" in stderr
    assert "staging" not in stderr


def test_a_second_build_at_once_fails_clearly_on_the_lock(make_blog):
    import fcntl

    site = make_blog({"content/posts/a.md": post_text("Alpha")})
    held = os.open(site, os.O_RDONLY)  # a build locks the site folder itself
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_build(site, "--now", "2030-01-01T00:00:00Z")
    finally:
        os.close(held)
    assert result.returncode == 1
    assert "another build of this site is running" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (site / "output").exists()
