"""Unit tests for marginalia.discover: which files are read, and how their bytes are decoded."""

from __future__ import annotations

import os
import time

import pytest

from marginalia.discover import (MAX_SOURCE_BYTES, decode_source, discover_sources,
                                 read_source)
from marginalia.errors import BuildError, BuildErrors, ContentError, raise_if_any


def discover_or_raise(site_dir):
    """Discovery collects unreadable files; raise them as a build would."""
    found = discover_sources(site_dir)
    raise_if_any(list(found.errors))
    return found


def problems(error: BuildError) -> list[BuildError]:
    return list(error.errors) if isinstance(error, BuildErrors) else [error]


def test_decode_plain_utf8():
    source = decode_source("---\ntitle: Ünïcode\n---\n".encode(), "content/posts/a.md")
    assert source.text == "---\ntitle: Ünïcode\n---\n"
    assert source.rel_path == "content/posts/a.md"
    assert source.kind == "post"


def test_decode_strips_a_bom():
    source = decode_source(b"\xef\xbb\xbf---\ntitle: x\n---\n", "content/posts/a.md")
    assert source.text.startswith("---\n")


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_decode_normalises_newlines(newline):
    data = newline.join([b"---", b"title: x", b"---", b"body", b""])
    assert decode_source(data, "content/posts/a.md").text == "---\ntitle: x\n---\nbody\n"


def test_decode_reports_line_and_column_of_a_bad_byte():
    data = b"---\ntitle: x\n---\nfine\nab\xffcd\n"
    with pytest.raises(ContentError) as caught:
        decode_source(data, "content/posts/a.md")
    error = caught.value
    assert (error.path, error.line, error.column) == ("content/posts/a.md", 5, 3)
    assert "0xff" in error.message and "UTF-8" in error.message


def test_decode_bad_byte_on_first_line():
    with pytest.raises(ContentError) as caught:
        decode_source(b"\x80---\n", "content/posts/a.md")
    assert (caught.value.line, caught.value.column) == (1, 1)


@pytest.mark.parametrize("rel_path, kind", [
    ("content/posts/a.md", "post"),
    ("content/a.md", "post"),
    ("content/pages/about.md", "page"),
    ("content/pages/team/index.md", "page"),
    ("content/posts/pages/a.md", "post"),
])
def test_kind_follows_the_folder(rel_path, kind):
    assert decode_source(b"", rel_path).kind == kind


def test_discover_reads_markdown_and_lists_assets_in_order(tmp_path):
    content = tmp_path / "content"
    for rel in ("posts/b.md", "posts/a.markdown", "posts/img/photo.jpg", "pages/about.md",
                "posts/.hidden.png", ".drafts/secret.md"):
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_text("x")
    found = discover_sources(tmp_path)
    assert [s.rel_path for s in found.sources] == [
        "content/pages/about.md", "content/posts/a.markdown", "content/posts/b.md"]
    assert found.assets == ("content/posts/img/photo.jpg",)


def test_discover_without_content_folder_is_empty(tmp_path):
    found = discover_sources(tmp_path)
    assert found.sources == () and found.assets == ()


def test_discover_refuses_a_post_over_the_size_limit(tmp_path):
    big = tmp_path / "content" / "posts" / "big.md"
    big.parent.mkdir(parents=True)
    big.write_bytes(b"---\ntitle: x\n---\n" + b"a" * MAX_SOURCE_BYTES)
    with pytest.raises(BuildError) as caught:
        discover_or_raise(tmp_path)
    [error] = problems(caught.value)
    assert error.path == "content/posts/big.md"
    assert "MiB limit" in error.message


def test_reading_reports_each_undecodable_file(tmp_path):
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    (posts / "a.md").write_bytes(b"\xff")
    (posts / "b.md").write_bytes(b"ok\n\xfe")
    errors = []
    for found in discover_or_raise(tmp_path).sources:
        with pytest.raises(ContentError) as caught:
            read_source(found)
        errors.append(caught.value)
    assert [(e.path, e.line) for e in errors] == [("content/posts/a.md", 1),
                                                 ("content/posts/b.md", 2)]


def test_discovery_does_not_read_files(tmp_path, monkeypatch):
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    (posts / "a.md").write_bytes(b"\xff not even UTF-8")
    monkeypatch.setattr("builtins.open", None)
    [found] = discover_or_raise(tmp_path).sources
    assert found.rel_path == "content/posts/a.md"


def test_the_signature_changes_with_the_file(tmp_path):
    post = tmp_path / "content" / "posts" / "a.md"
    post.parent.mkdir(parents=True)
    post.write_text("one")
    [before] = discover_or_raise(tmp_path).sources
    post.write_text("two!")
    [after] = discover_or_raise(tmp_path).sources
    assert before.signature != after.signature


def test_a_file_just_written_is_not_yet_settled(tmp_path, monkeypatch):
    post = tmp_path / "content" / "posts" / "a.md"
    post.parent.mkdir(parents=True)
    post.write_text("x")
    [fresh] = discover_or_raise(tmp_path).sources
    assert not fresh.settled
    monkeypatch.setattr("marginalia.discover.SETTLE_NS", 0)
    time.sleep(0.01)
    [later] = discover_or_raise(tmp_path).sources
    assert later.settled


def test_symlink_pointing_outside_the_site_is_refused(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("secret")
    site = tmp_path / "site"
    (site / "content" / "posts").mkdir(parents=True)
    os.symlink(outside, site / "content" / "posts" / "leak.md")
    with pytest.raises(BuildError) as caught:
        discover_or_raise(site)
    [error] = problems(caught.value)
    assert error.path == "content/posts/leak.md"
    assert "outside the site" in error.message


def test_symlinked_folder_pointing_outside_the_site_is_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.md").write_text("x")
    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    os.symlink(outside, site / "content" / "posts")
    with pytest.raises(BuildError, match="outside the site"):
        discover_or_raise(site)


def test_symlink_inside_the_site_is_followed(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "a.md").write_text("x")
    (tmp_path / "content").mkdir()
    os.symlink(tmp_path / "shared", tmp_path / "content" / "posts")
    found = discover_sources(tmp_path)
    assert [s.rel_path for s in found.sources] == ["content/posts/a.md"]


def test_symlink_loop_is_an_error(tmp_path):
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    os.symlink(posts, posts / "again")
    with pytest.raises(BuildError) as caught:
        discover_or_raise(tmp_path)
    assert any("loop" in e.message for e in problems(caught.value))


def test_self_referencing_symlink_is_an_error(tmp_path):
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    os.symlink("self.md", posts / "self.md")
    with pytest.raises(BuildError) as caught:
        discover_or_raise(tmp_path)
    assert [e.path for e in problems(caught.value)] == ["content/posts/self.md"]


def test_broken_symlink_is_an_error(tmp_path):
    posts = tmp_path / "content" / "posts"
    posts.mkdir(parents=True)
    os.symlink(posts / "missing.md", posts / "dangling.md")
    with pytest.raises(BuildError) as caught:
        discover_or_raise(tmp_path)
    [error] = problems(caught.value)
    assert error.path == "content/posts/dangling.md"
