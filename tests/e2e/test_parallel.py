"""Large builds render in forked workers: the bytes must be those of one process."""

from __future__ import annotations

import errno
import shutil
import threading

import pytest

from marginalia.templates import DEFAULTS_DIR

import marginalia.pool
import marginalia.write
from conftest import PROJECT_DIR, build_in_process, post_text, tree_snapshot

NOW = "2030-01-01T00:00:00Z"
POSTS = 240  # above marginalia.pool.PARALLEL_POSTS


@pytest.fixture
def big_blog(make_blog):
    assert POSTS >= marginalia.pool.PARALLEL_POSTS
    sections = ("North Korea Fallout", "Trade Winds")
    return make_blog({
        f"content/posts/p{n:03d}.md": post_text(
            f"Post number {n}", section=sections[n % 2],
            date=f"20{10 + n % 9}-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00",
            tags=f"[Tag {n % 7}, Tag {n % 11}]",
            body=f"Body of post {n}, with *emphasis* and [a link](/about/).\n")
        for n in range(POSTS)})


def build(site, *args: str):
    result = build_in_process(site, *args, now=NOW)
    assert result.returncode == 0, result.stderr
    return result


def forked_workers(monkeypatch) -> list[int]:
    """Count the builds that rendered in workers.

    Threads left by other tests (a preview server's) would make the engine refuse to
    fork, rightly; this process forks nothing else while the build runs.
    """
    monkeypatch.setattr(marginalia.pool.threading, "active_count", lambda: 1)
    calls = []
    real = marginalia.pool.run_jobs

    def counted(jobs, cache, parallel, stage=None):
        calls.append(parallel)
        return real(jobs, cache, parallel, stage)
    monkeypatch.setattr("marginalia.render.run_jobs", counted)
    return calls


def test_a_large_first_build_renders_in_workers_and_equals_one_process(big_blog,
                                                                      monkeypatch):
    calls = forked_workers(monkeypatch)
    build(big_blog)
    assert calls == [True]
    monkeypatch.setattr("marginalia.pool.PARALLEL_POSTS", 10 ** 9)
    build(big_blog, "--output", str(big_blog / "serial"), "--no-cache")
    assert calls == [True, False]
    assert tree_snapshot(big_blog / "output") == tree_snapshot(big_blog / "serial")


def test_after_a_layout_change_workers_render_from_the_cache(big_blog, monkeypatch):
    build(big_blog)
    layouts = big_blog / "layouts"
    shutil.copytree(DEFAULTS_DIR / "layouts", layouts)
    post_layout = layouts / "post.html"
    post_layout.write_text(post_layout.read_text().replace("</article>",
                                                           "<p>Changed.</p></article>"))
    calls = forked_workers(monkeypatch)
    build(big_blog)
    assert calls == [True]
    clean = big_blog.parent / "clean"
    shutil.copytree(big_blog, clean, ignore=shutil.ignore_patterns(".cache", "output", ".output*"))
    build(clean, "--no-cache")
    assert tree_snapshot(big_blog / "output") == tree_snapshot(clean / "output")
    first_post = big_blog / "output" / "2010" / "01" / "01" / "p000" / "index.html"
    assert b"<p>Changed.</p>" in first_post.read_bytes()


def test_no_workers_are_forked_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not marginalia.pool.can_fork_workers(10 * marginalia.pool.PARALLEL_POSTS)
    finally:
        stop.set()
        other.join()


def test_what_workers_rendered_is_reused_by_the_next_build(big_blog, monkeypatch):
    calls = forked_workers(monkeypatch)
    build(big_blog)
    assert calls == [True]
    again = build(big_blog, "-v")
    assert calls == [True, False]
    assert "0 changed" in again.stdout
    reused = int(again.stdout.split(" files reused without rendering")[0].split()[-1])
    assert reused >= POSTS + POSTS // 2


def test_a_write_failing_in_a_worker_fails_the_build_and_leaves_the_site_as_it_was(
        big_blog, monkeypatch):
    """Workers write the pages they render; a page they cannot write is reported by
    the source that makes it, as in one process, and nothing of the build is kept."""
    calls = forked_workers(monkeypatch)
    build(big_blog)
    before = tree_snapshot(big_blog / "output")
    (big_blog / "layouts").mkdir()
    (big_blog / "layouts" / "base.html").write_text(
        (DEFAULTS_DIR / "layouts" / "base.html").read_text().replace("<body>", "<body class=x>"))
    real = marginalia.write._write_new

    def disk_full_at_one_post(path, content):
        if "/p017/" in path:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, content)
    monkeypatch.setattr(marginalia.write, "_write_new", disk_full_at_one_post)
    result = build_in_process(big_blog, now=NOW)
    assert calls == [True, True]
    assert result.returncode != 0
    assert "the disk is full" in result.stderr and "p017.md" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_snapshot(big_blog / "output") == before
