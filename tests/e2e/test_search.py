"""End-to-end: the Pagefind search index is part of the build, made only when the
indexed pages change, and never reaches output/ unless the whole build succeeds."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import (BUILD_SCRIPT, FIXED_NOW, MINIMAL_CONFIG, build_in_process, parse_html,
                      post_text, tree_snapshot)
from marginalia.search import STATE_PREFIX, find_pagefind

MISSILE = post_text(
    title="Missile Drills", date="2016-06-29T16:40:00-04:00", dek='"Allies, pushed together."',
    tags="[Xylophone]", author="Priya Raman",
    body="The Japan Times:\n\n> The quoted passage about radar coverage.\n\n"
         "The commentary says zanzibar once, and tariffs too.\n")
STEEL = post_text(title="Steel Buyers", section="Trade Winds", date="2017-06-29T12:00:00-04:00",
                  body="Reuters:\n\n> Buyers move orders forward.\n\nTariffs again.\n")
FILES = {"content/posts/missile.md": MISSILE, "content/posts/steel.md": STEEL}
MISSILE_URL = "/2016/06/29/missile/"
BUNDLE_FILES_UNUSED = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-highlight.js",
                       "pagefind-component-ui.js", "pagefind-modular-ui.js")

pytestmark = pytest.mark.skipif(find_pagefind() is None, reason="Pagefind is not installed")


def indexed(output: Path) -> dict[str, dict]:
    """Decode the index's page fragments (gzip, a signature, then JSON), by page URL."""
    pages = {}
    for path in (output / "pagefind" / "fragment").iterdir():
        data = gzip.decompress(path.read_bytes())
        fragment = json.loads(data[data.index(b"{"):])
        pages[fragment["url"]] = fragment
    return pages


def bundle_mtimes(output: Path) -> dict[str, int]:
    return {p.relative_to(output).as_posix(): p.stat().st_mtime_ns
            for p in (output / "pagefind").rglob("*") if p.is_file()}


def report(site: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    """Build in a subprocess with --report; return the report."""
    path = site.parent / "report.json"
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--site", str(site), "--now", FIXED_NOW,
                    "--report", str(path), *args], capture_output=True, text=True,
                   timeout=120, env={**os.environ, **(env or {})})
    return json.loads(path.read_text(encoding="utf-8"))


def fake_pagefind(folder: Path, script: str) -> dict[str, str]:
    """A stand-in for Pagefind's binary, found as Pagefind's package finds one."""
    path = folder / "fake-pagefind"
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {"PAGEFIND_BINARY_PATH": str(path)}


def test_posts_and_pages_are_indexed_without_navigation(make_blog):
    site = make_blog(FILES)
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert "search index: 3 pages in" in result.stdout
    output = site / "output"
    assert (output / "pagefind" / "pagefind.js").is_file()
    assert not [name for name in BUNDLE_FILES_UNUSED if (output / "pagefind" / name).exists()]
    pages = indexed(output)
    assert set(pages) == {MISSILE_URL, "/2017/06/29/steel/", "/about/"}
    missile = pages[MISSILE_URL]
    content = missile["content"]
    for words in ("Missile Drills", "Allies, pushed together.", "The Japan Times",
                  "radar coverage", "zanzibar"):
        assert words in content
    # The byline, section label, tags, neighbours, footer and header stay out.
    for words in ("Priya Raman", "North Korea Fallout", "Xylophone", "Steel Buyers",
                  "Archive", "Search", "Comments"):
        assert words not in content, words
    assert missile["meta"]["title"] == "Missile Drills"
    assert missile["meta"]["date"].startswith("2016-06-29T16:40:00")
    assert missile["filters"] == {"section": ["North Korea Fallout"], "tag": ["Xylophone"],
                                  "author": ["Priya Raman"]}
    assert pages["/about/"]["content"].startswith("About Us. Who we are.")


def test_every_page_links_to_the_search_page(make_blog):
    site = make_blog(FILES)
    assert build_in_process(site).returncode == 0
    output = site / "output"
    for path in (output / "index.html", output / "2016/06/29/missile/index.html",
                 output / "tags/index.html"):
        assert parse_html(path).xpath("//header//a[@class='search-link']/@href") == ["/search/"]
    search = parse_html(output / "search/index.html")
    label = search.xpath("//label[@for='search-query']")
    assert label and label[0].text_content().strip()
    assert search.xpath("//input[@id='search-query']/@type") == ["search"]
    assert search.xpath("//noscript//p")
    assert search.xpath("//div[@class='search']/@data-bundle") == ["/pagefind/"]
    # Listings are not indexed; posts and standing pages are.
    assert not parse_html(output / "index.html").xpath("//*[@data-pagefind-body]")
    assert parse_html(output / "about/index.html").xpath("//article[@data-pagefind-body]")


def test_the_index_is_remade_only_when_an_indexed_page_changes(make_blog):
    site = make_blog(FILES)
    assert report(site)["search"]["index"] == "indexed"
    output = site / "output"
    before = bundle_mtimes(output)

    # Every page is rendered again, but only listings come out different.
    (site / "site.toml").write_text(MINIMAL_CONFIG.replace("posts_per_page = 2",
                                                           "posts_per_page = 1"))
    again = report(site)
    assert again["search"]["index"] == "unchanged"
    assert "page/2/index.html" in again["changes"]["added"]
    assert bundle_mtimes(output) == before

    (site / "content/posts/steel.md").write_text(STEEL.replace("Tariffs again.",
                                                               "Quotas, quixotically."))
    changed = report(site)
    assert changed["search"]["index"] == "indexed"
    assert "quixotically" in indexed(output)["/2017/06/29/steel/"]["content"]
    assert bundle_mtimes(output) != before
    # Fragments of pages that did not change keep their bytes and their mtime.
    after = bundle_mtimes(output)
    kept = [path for path in before if "/fragment/" in path and path in after]
    assert kept and all(after[path] == before[path] for path in kept)


def built_then_edited(make_blog) -> tuple[Path, Path, dict[str, bytes]]:
    """A site built once, then one post's words changed: the site, output/ and its bytes."""
    site = make_blog(FILES)
    assert build_in_process(site).returncode == 0
    output = site / "output"
    snapshot = tree_snapshot(output)
    (site / "content/posts/steel.md").write_text(STEEL.replace("Tariffs again.", "Quotas."))
    return site, output, snapshot


def test_a_build_killed_after_indexing_leaves_output_unchanged(make_blog):
    site, output, snapshot = built_then_edited(make_blog)
    real = find_pagefind()
    # Pagefind finishes its index, then the build is killed before it writes anything.
    env = fake_pagefind(site.parent, f'"{real}" "$@" && kill -9 $PPID')
    killed = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--site", str(site)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert killed.returncode == -9
    assert tree_snapshot(output) == snapshot
    work = site / ".cache/marginalia/search"
    assert [p.name for p in work.iterdir() if p.name.startswith("run-")]  # what the kill left

    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert "Quotas." in indexed(output)["/2017/06/29/steel/"]["content"]
    assert list(work.iterdir()) == []  # the next indexing removed what the kill left


def test_a_failing_pagefind_fails_the_build_and_leaves_output_unchanged(make_blog,
                                                                         monkeypatch):
    site, output, snapshot = built_then_edited(make_blog)
    real = find_pagefind()
    env = fake_pagefind(site.parent, f'"{real}" "$@"; echo "Error: out of luck" >&2; exit 3')
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", env["PAGEFIND_BINARY_PATH"])
    result = build_in_process(site)
    assert result.returncode == 1
    assert "Pagefind failed to index the site (exit code 3: Error: out of luck)" in result.stderr
    assert tree_snapshot(output) == snapshot


def test_a_missing_pagefind_is_an_error_that_says_what_to_do(make_blog, monkeypatch):
    site = make_blog(FILES)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(site / "no-such-pagefind"))
    result = build_in_process(site)
    assert result.returncode == 1
    assert "pip install 'pagefind[extended]'" in result.stderr
    assert "--no-search" in result.stderr
    assert not (site / "output").exists()
    assert build_in_process(site, "--no-search").returncode == 0


def test_no_search_builds_without_an_index(make_blog):
    site = make_blog(FILES)
    assert build_in_process(site).returncode == 0
    result = build_in_process(site, "--no-search")
    assert result.returncode == 0
    assert "no search index" in result.stdout
    output = site / "output"
    assert not (output / "pagefind").exists()
    assert (output / "search/index.html").is_file()  # it says search is not available
    assert "search index: 3 pages" in build_in_process(site).stdout


def test_search_disabled_removes_the_page_the_link_and_the_index(make_blog):
    site = make_blog(FILES)
    assert build_in_process(site).returncode == 0
    (site / "site.toml").write_text(MINIMAL_CONFIG + "\n[search]\nenabled = false\n")
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert "search index" not in result.stdout
    output = site / "output"
    assert not (output / "pagefind").exists() and not (output / "search").exists()
    assert not parse_html(output / "index.html").xpath("//a[@class='search-link']")
    assert "/search/" not in (output / "sitemap.xml").read_text()

    from marginalia.store import Store
    state = Store(site)
    assert state.blob_names(STATE_PREFIX) == []
    state.close()


def test_a_wrong_search_setting_names_its_line(make_blog):
    site = make_blog(FILES)
    (site / "site.toml").write_text(MINIMAL_CONFIG.replace(
        '[comments]\nprovider = "giscus"', '[comments]\nprovider = "giscus"\nenabled = true')
        + '\n[search]\nenabled = "yes"\n')
    result = build_in_process(site)
    line = (site / "site.toml").read_text().splitlines().index('enabled = "yes"') + 1
    assert result.returncode == 2
    assert f"site.toml:{line}: 'search.enabled' must be true or false" in result.stderr


def test_a_file_in_the_index_folder_is_an_error(make_blog):
    site = make_blog({**FILES, "content/pagefind/notes.txt": "mine"})
    result = build_in_process(site)
    assert result.returncode == 1
    assert "'pagefind/notes.txt' from content/pagefind/notes.txt is in pagefind/" in (
        result.stderr)


def test_the_preview_indexes_after_a_pause_and_an_edit_stops_it(make_blog, capsys):
    from marginalia.pipeline import BuildOptions
    from marginalia.preview_server import PreviewState
    from marginalia.serve import Rebuilder

    site = make_blog(FILES)
    preview = site / ".cache/preview"
    options = BuildOptions(site_dir=site, output_dir=preview,
                           now=datetime(2030, 1, 1, tzinfo=timezone.utc),
                           base_url="http://127.0.0.1:8000/", drafts=True, future=True,
                           preview=True, search="keep")
    rebuilder = Rebuilder(options, PreviewState())
    rebuilder.build_once(first=True)
    assert rebuilder.index_stale and not (preview / "pagefind").exists()
    assert 0 < rebuilder.search_pause() <= 3

    rebuilder.refresh_search()
    assert not rebuilder.index_stale
    assert "zanzibar" in indexed(preview)[MISSILE_URL]["content"]

    # An edit keeps the index as it was until the next pause.
    (site / "content/posts/steel.md").write_text(STEEL.replace("Tariffs again.", "Quotas."))
    rebuilder.build_once(changed=["content/posts/steel.md"])
    assert rebuilder.index_stale
    assert "Quotas." not in indexed(preview)["/2017/06/29/steel/"]["content"]

    # An edit arriving while Pagefind runs stops it; the preview is left as it was.
    snapshot = tree_snapshot(preview)
    slow = fake_pagefind(site.parent, f'sleep 5; exec "{find_pagefind()}" "$@"')
    os.environ["PAGEFIND_BINARY_PATH"] = slow["PAGEFIND_BINARY_PATH"]
    try:
        rebuilder.dirty = True
        rebuilder.refresh_search()
    finally:
        del os.environ["PAGEFIND_BINARY_PATH"]
    assert rebuilder.index_stale and tree_snapshot(preview) == snapshot
    rebuilder.dirty = False
    rebuilder.refresh_search()
    assert "Quotas." in indexed(preview)["/2017/06/29/steel/"]["content"]
    assert "search index: 3 pages in" in capsys.readouterr().out


def test_a_removed_post_leaves_the_index(make_blog):
    site = make_blog(FILES)
    assert build_in_process(site).returncode == 0
    (site / "content/posts/steel.md").unlink()
    result = build_in_process(site)
    assert "search index: 2 pages in" in result.stdout
    assert set(indexed(site / "output")) == {MISSILE_URL, "/about/"}
    assert list((site / ".cache/marginalia/search").iterdir()) == []
