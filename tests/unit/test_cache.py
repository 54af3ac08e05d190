"""Unit tests for marginalia.cache: what the parse cache trusts, stores, loads and forgets."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import marginalia.parse
from conftest import ABOUT_PAGE, build_in_process, post_text, write_site
from marginalia.cache import (CachedBody, ParseCache, config_fingerprint, decode_item,
                              encode_item, source_key)
from marginalia.store import STATE_PATH, Store
from marginalia.discover import discover_sources
from marginalia.errors import ContentError
from marginalia.model import ContentFile, Page, Post, Source
from marginalia.parse import Parsed, parse_all

POST = "content/posts/a.md"
OTHER = "content/posts/b.md"
PAGE = "content/pages/about.md"


@pytest.fixture
def site_dir(tmp_path) -> Path:
    return write_site(tmp_path / "site", {
        POST: post_text(title="First", body="First *words*.\n", tags="[Japan, Trade]"),
        OTHER: post_text(title="Second", body="Second words.\n"),
        PAGE: ABOUT_PAGE,
    })


def found_files(site_dir: Path, settled: bool = True) -> list[ContentFile]:
    """The site's content files as discovered, settled or not as the test needs."""
    return [replace(f, settled=settled) for f in discover_sources(site_dir).sources]


def open_cache(site_dir: Path, config, read: bool = True, fingerprint: str = "") -> ParseCache:
    fingerprint = fingerprint or config_fingerprint(config)
    return ParseCache(Store(site_dir, read), fingerprint)


def state_file(site_dir: Path) -> Path:
    return site_dir / STATE_PATH


def save(cache: ParseCache) -> None:
    """Save as a build that succeeded does: queue the changes, then commit the state."""
    cache.save()
    cache.state.commit()


def build(site_dir: Path, config, settled: bool = True, save: bool = True) -> Parsed:
    """One build's parse stage with the site's cache, saved like a successful build."""
    cache = open_cache(site_dir, config)
    parsed = parse_all(found_files(site_dir, settled), config, cache)
    assert not parsed.errors
    if save:
        globals()["save"](cache)
    return parsed


def by_path(parsed: Parsed) -> dict[str, Post | Page]:
    return {item.rel_path: item for item in [*parsed.posts, *parsed.pages]}


def query(site_dir: Path, config, sql: str) -> list[tuple]:
    """Run one statement on the site's cache file, committing any change."""
    path = state_file(site_dir)
    with closing(sqlite3.connect(path)) as connection, connection:
        return connection.execute(sql).fetchall()


def forbid_reading(monkeypatch) -> None:
    def fail(found):
        raise AssertionError(f"{found.rel_path} was read")
    monkeypatch.setattr("marginalia.parse.read_source", fail)


def forbid_parsing(monkeypatch) -> None:
    def fail(source, config):
        raise AssertionError(f"{source.rel_path} was parsed")
    monkeypatch.setattr("marginalia.parse.parse_source", fail)


def count_calls(monkeypatch, name: str) -> list[str]:
    """Let marginalia.parse.<name> run, noting the rel_path of each call."""
    calls: list[str] = []
    real = getattr(marginalia.parse, name)

    def counted(first, *rest):
        calls.append(first.rel_path)
        return real(first, *rest)
    monkeypatch.setattr(f"marginalia.parse.{name}", counted)
    return calls


def test_unchanged_settled_files_are_not_read_again(site_dir, site_config, monkeypatch):
    first = build(site_dir, site_config)
    forbid_reading(monkeypatch)
    cache = open_cache(site_dir, site_config)
    again = parse_all(found_files(site_dir), site_config, cache)
    assert by_path(again) == by_path(first)
    assert cache.hits == 3


def test_cached_items_keep_their_types_and_digest(site_dir, site_config, monkeypatch):
    first = by_path(build(site_dir, site_config))
    forbid_reading(monkeypatch)
    again = by_path(build(site_dir, site_config, save=False))
    post = again[POST]
    assert isinstance(post, Post) and isinstance(again[PAGE], Page)
    assert post.digest == first[POST].digest
    assert post.tags == ("Japan", "Trade") and isinstance(post.tags, tuple)
    assert again[PAGE].body_html == first[PAGE].body_html


def test_cached_body_loads_lazily_and_equals_a_fresh_parse(site_dir, site_config):
    fresh = by_path(build(site_dir, site_config))[POST]
    cached = by_path(build(site_dir, site_config, save=False))[POST]
    assert isinstance(cached.body, CachedBody)
    assert cached.body_html == fresh.body_html
    assert "<em>words</em>" in cached.body_html
    assert isinstance(cached.body, str)  # loaded once, then kept


def test_unsettled_file_is_read_even_when_its_signature_matches(site_dir, site_config,
                                                                monkeypatch):
    build(site_dir, site_config)
    reads = count_calls(monkeypatch, "read_source")
    forbid_parsing(monkeypatch)
    parsed = build(site_dir, site_config, settled=False)
    assert sorted(reads) == sorted([POST, OTHER, PAGE])
    assert len(parsed.posts) == 2 and len(parsed.pages) == 1


def test_unsettled_unchanged_file_is_kept_with_an_empty_signature(site_dir, site_config,
                                                                   monkeypatch):
    build(site_dir, site_config)
    forbid_parsing(monkeypatch)
    build(site_dir, site_config, settled=False)
    rows = open_cache(site_dir, site_config).rows
    assert {path: row[0] for path, row in rows.items()} == {POST: "", OTHER: "", PAGE: ""}


def test_file_first_seen_unsettled_is_stored_with_an_empty_signature(site_dir, site_config):
    build(site_dir, site_config, settled=False)
    rows = open_cache(site_dir, site_config).rows
    assert [row[0] for row in rows.values()] == [""] * 3


def test_touched_but_unchanged_file_is_not_parsed_again(site_dir, site_config, monkeypatch):
    first = by_path(build(site_dir, site_config))
    old = found_files(site_dir)
    path = site_dir / POST
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    touched = {f.rel_path: f for f in found_files(site_dir)}
    assert touched[POST].signature != {f.rel_path: f for f in old}[POST].signature
    forbid_parsing(monkeypatch)
    reads = count_calls(monkeypatch, "read_source")
    cache = open_cache(site_dir, site_config)
    again = parse_all(list(touched.values()), site_config, cache)
    assert by_path(again) == first
    assert reads == [POST]  # only the touched file was read
    save(cache)
    stored = open_cache(site_dir, site_config).rows
    assert stored[POST][0] == touched[POST].signature


def test_edited_file_is_parsed_again(site_dir, site_config, monkeypatch):
    build(site_dir, site_config)
    (site_dir / POST).write_text(post_text(title="Edited", body="New words.\n"),
                                 encoding="utf-8")
    parses = count_calls(monkeypatch, "parse_source")
    again = by_path(build(site_dir, site_config, save=False))
    assert parses == [POST]
    assert again[POST].title == "Edited"
    assert "New words." in again[POST].body_html


def test_edited_post_leaves_only_its_new_body(site_dir, site_config):
    old_digest = by_path(build(site_dir, site_config))[POST].digest
    (site_dir / POST).write_text(post_text(title="Edited"), encoding="utf-8")
    new_digest = by_path(build(site_dir, site_config))[POST].digest
    hashes = {h for (h,) in query(site_dir, site_config, "SELECT text_hash FROM bodies")}
    assert new_digest in hashes and old_digest not in hashes


def test_removed_file_loses_its_row_and_body_at_save(site_dir, site_config):
    first = by_path(build(site_dir, site_config))
    (site_dir / OTHER).unlink()
    build(site_dir, site_config)
    paths = set(open_cache(site_dir, site_config).rows)
    hashes = {h for (h,) in query(site_dir, site_config, "SELECT text_hash FROM bodies")}
    assert paths == {POST, PAGE}
    assert hashes == {first[POST].digest}


def test_nothing_is_written_before_save(site_dir, site_config):
    build(site_dir, site_config, save=False)
    assert not state_file(site_dir).exists()


def test_tampered_body_is_not_used(site_dir, site_config, monkeypatch):
    fresh = by_path(build(site_dir, site_config))[POST]
    query(site_dir, site_config, "UPDATE bodies SET html = '<p>tampered</p>'")
    cache = open_cache(site_dir, site_config)
    reads = count_calls(monkeypatch, "read_source")
    parsed = parse_all(found_files(site_dir), site_config, cache)
    post = by_path(parsed)[POST]
    assert reads == []  # the post itself came from the cache
    assert post.body_html == fresh.body_html


def test_tampered_body_is_reparsed_through_reparse_body(site_dir, site_config):
    build(site_dir, site_config)
    query(site_dir, site_config, "UPDATE bodies SET html = '<p>tampered</p>'")
    cache = open_cache(site_dir, site_config)
    post = by_path(parse_all(found_files(site_dir), site_config, cache))[POST]
    asked = []
    real = cache.reparse_body
    cache.reparse_body = lambda rel_path, text_hash: asked.append(rel_path) or real(
        rel_path, text_hash)
    assert "<em>words</em>" in post.body_html
    assert asked == [POST]


def test_unusable_body_outside_parse_all_is_a_content_error(site_dir, site_config):
    build(site_dir, site_config)
    query(site_dir, site_config, "DELETE FROM bodies")
    cache = open_cache(site_dir, site_config)
    post = cache.by_signature(next(f for f in found_files(site_dir) if f.rel_path == POST))
    assert isinstance(post, Post)
    with pytest.raises(ContentError):
        post.body_html


def test_an_index_whose_checksum_does_not_match_is_not_used(site_dir, site_config,
                                                            monkeypatch):
    build(site_dir, site_config)
    query(site_dir, site_config,
          "UPDATE blobs SET data = CAST(replace(CAST(data AS TEXT), 'First', 'Forgd') AS BLOB)")
    parses = count_calls(monkeypatch, "parse_source")
    again = by_path(build(site_dir, site_config, save=False))
    assert sorted(parses) == sorted([POST, OTHER, PAGE])
    assert again[POST].title == "First"


def test_cache_of_another_configuration_is_ignored(site_dir, site_config, monkeypatch):
    build(site_dir, site_config)
    other = ParseCache(Store(site_dir), "another fingerprint")
    assert other.rows == {}
    parses = count_calls(monkeypatch, "parse_source")
    parse_all(found_files(site_dir), site_config, other)
    assert sorted(parses) == sorted([POST, OTHER, PAGE])
    assert other.hits == 0


def test_fingerprint_follows_the_configuration(site_config):
    assert config_fingerprint(site_config) == config_fingerprint(replace(site_config))
    assert config_fingerprint(site_config) != config_fingerprint(
        replace(site_config, permalink="/:slug/"))
    assert config_fingerprint(site_config) != config_fingerprint(
        replace(site_config, timezone="Europe/Paris"))


def test_another_base_url_reuses_the_parsed_posts(make_blog):
    site_dir = make_blog({POST: post_text(title="One", slug="one", body="[Two](two.md)\n"),
                          "content/posts/two.md": post_text(title="Two",
                                                                         slug="two")})
    assert build_in_process(site_dir).returncode == 0
    elsewhere = build_in_process(site_dir, "--base-url", "https://other.example/blog/")

    assert elsewhere.returncode == 0
    assert "3 sources from cache" in elsewhere.stdout  # two posts and the About page
    page = (site_dir / "output/2016/06/29/one/index.html").read_text()
    assert 'href="/blog/2016/06/29/two/"' in page
    assert '<link rel="canonical" href="https://other.example/blog/2016/06/29/one/">' in page


def damage_garbage(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database\0" * 200)


def damage_empty(path: Path) -> None:
    path.write_bytes(b"")


def damage_truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("damage", [damage_garbage, damage_empty, damage_truncated])
def test_damaged_cache_file_is_ignored(site_dir, site_config, damage):
    first = by_path(build(site_dir, site_config))
    damage(state_file(site_dir))
    cache = open_cache(site_dir, site_config)
    assert cache.rows == {}
    again = parse_all(found_files(site_dir), site_config, cache)
    assert by_path(again) == first
    assert by_path(again)[POST].body_html == first[POST].body_html


@pytest.mark.parametrize("damage", [damage_garbage, damage_empty, damage_truncated])
def test_save_replaces_a_damaged_cache_file(site_dir, site_config, monkeypatch, damage):
    first = by_path(build(site_dir, site_config))
    damage(state_file(site_dir))
    build(site_dir, site_config)
    forbid_reading(monkeypatch)
    cache = open_cache(site_dir, site_config)
    again = by_path(parse_all(found_files(site_dir), site_config, cache))
    assert cache.hits == 3
    assert again == first
    assert again[POST].body_html == first[POST].body_html


def test_save_after_a_build_that_read_nothing_changes_nothing(site_dir, site_config):
    build(site_dir, site_config)
    path = state_file(site_dir)
    before = (path.stat().st_mtime_ns, path.read_bytes())
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # any rewrite would move it
    build(site_dir, site_config)
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert path.read_bytes() == before[1]


def test_cache_opened_without_reading_ignores_existing_rows(site_dir, site_config,
                                                          monkeypatch):
    build(site_dir, site_config)
    cache = open_cache(site_dir, site_config, read=False)
    assert cache.rows == {}
    parses = count_calls(monkeypatch, "parse_source")
    parse_all(found_files(site_dir), site_config, cache)
    assert sorted(parses) == sorted([POST, OTHER, PAGE])
    assert cache.hits == 0


def test_cache_without_a_path_never_writes(site_dir, site_config, tmp_path):
    cache = ParseCache(None, "")
    parse_all(found_files(site_dir), site_config, cache)
    cache.save()
    assert not (site_dir / ".cache").exists()


def round_trip(item: Post | Page, text_hash: str = "hash") -> Post | Page:
    kind, meta = encode_item(item)
    return decode_item(item.rel_path, kind, meta, text_hash, ParseCache(None, ""))


def full_post(**fields) -> Post:
    values = dict(
        rel_path=POST, title="Title", section="Trade Winds",
        date=datetime(2016, 6, 29, 16, 40, tzinfo=ZoneInfo("Asia/Tokyo")),
        updated=datetime(2016, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=-4))),
        expires=None, dek="Dek", sources=(Source("The Japan Times", "https://jt.example/"),),
        tags=("Japan", "Trade"), author="Ann", slug="title", comments=False, draft=True,
        url="/2016/06/29/title/", body="<p>Body.</p>", summary="Dek",
        relative_links=False, aliases=("/old/",), link="https://www.reuters.com/",
        extra={"a": [1, "b"], "n": {"x": 1.5}},
        digest="hash")
    values.update(fields)
    return Post(**values)


def test_post_round_trips_through_encode_and_decode():
    post = full_post()
    decoded = round_trip(post)
    assert decoded == post
    assert decoded.digest == "hash"
    assert isinstance(decoded.body, CachedBody)
    assert decoded.sources == (Source("The Japan Times", "https://jt.example/"),)
    assert decoded.link == "https://www.reuters.com/"
    assert isinstance(decoded.tags, tuple) and isinstance(decoded.aliases, tuple)


def test_round_trip_keeps_each_date_in_its_zone():
    decoded = round_trip(full_post())
    assert decoded.date.tzinfo == ZoneInfo("Asia/Tokyo")
    assert (decoded.date.hour, decoded.date.minute) == (16, 40)
    assert decoded.updated.utcoffset() == timedelta(hours=-4)
    assert decoded.updated.hour == 9
    assert decoded.expires is None


def test_page_round_trips_through_encode_and_decode():
    page = Page(rel_path=PAGE, title="About", description="d", layout="page.html",
                menu="footer", order=3, url="/about/", body_html="<p>Who.</p>",
                relative_links=False, extra={"k": "v"})
    assert round_trip(page) == page


@pytest.mark.parametrize("extra", [{"day": date(2016, 1, 1)},
                                   {"when": datetime(2016, 1, 1, tzinfo=timezone.utc)}])
def test_extra_that_cannot_be_stored_is_not_encoded(extra):
    with pytest.raises((TypeError, ValueError)):
        encode_item(full_post(extra=extra))


def test_put_skips_an_item_whose_extra_cannot_be_stored(tmp_path):
    cache = ParseCache(Store(tmp_path), "fp")
    found = ContentFile(POST, "post", str(tmp_path / "a.md"), "1:2:3:4")
    cache.put(found, "hash", full_post(extra={"day": date(2016, 1, 1)}))
    assert cache.updates == {} and cache.new_bodies == {}


def test_post_whose_extra_cannot_be_stored_builds_but_is_not_cached(tmp_path, site_config,
                                                                     monkeypatch):
    # Not a number is unequal to itself, so it cannot be shown to come back the same.
    site_dir = write_site(tmp_path / "site", {
        POST: post_text(title="Odd", extra="\n  ratio: .nan")})
    first = build(site_dir, site_config)
    assert first.posts[0].extra["ratio"] != first.posts[0].extra["ratio"]
    assert open_cache(site_dir, site_config).rows == {}
    parses = count_calls(monkeypatch, "parse_source")
    build(site_dir, site_config)
    assert parses == [POST]


def test_source_key_depends_on_path_and_text():
    assert source_key(POST, "x") == source_key(POST, "x")
    assert source_key(POST, "x") != source_key(OTHER, "x")
    assert source_key(POST, "x") != source_key(POST, "y")


def test_cached_date_in_a_dst_gap_equals_a_fresh_parse(tmp_path, site_config, monkeypatch):
    site_dir = write_site(tmp_path / "site", {POST: post_text(date="2016-03-13T02:30:00")})
    fresh = build(site_dir, site_config).posts[0]
    forbid_reading(monkeypatch)
    cached = build(site_dir, site_config, save=False).posts[0]
    assert cached.date.isoformat() == fresh.date.isoformat()


def test_a_repaired_body_is_stored_again(site_dir, site_config, monkeypatch):
    """A body that failed its checksum is parsed again once, then kept."""
    build(site_dir, site_config)
    query(site_dir, site_config, "UPDATE bodies SET html = 'tampered'")
    cache = open_cache(site_dir, site_config)
    post = by_path(parse_all(found_files(site_dir), site_config, cache))[POST]
    assert "tampered" not in post.body_html
    save(cache)
    forbid_parsing(monkeypatch)
    again = by_path(parse_all(found_files(site_dir), site_config, open_cache(site_dir, site_config)))
    assert again[POST].body_html == post.body_html


def test_a_clean_build_leaves_no_old_rows_behind(site_dir, site_config):
    build(site_dir, site_config)
    (site_dir / OTHER).unlink()
    (site_dir / POST).write_text(post_text(title="First", body="Rewritten.\n"))
    cache = open_cache(site_dir, site_config, read=False)
    parse_all(found_files(site_dir), site_config, cache)
    save(cache)
    paths = set(open_cache(site_dir, site_config).rows)
    assert paths == {POST, PAGE}
    [(count,)] = query(site_dir, site_config, "SELECT COUNT(*) FROM bodies")
    assert count == 1


@pytest.mark.parametrize("target", ["empty file", "folder"])
def test_a_link_or_folder_in_place_of_the_cache_is_replaced_not_written_through(
        site_dir, site_config, tmp_path, target):
    """SQLite follows links; the cache must never change what one points at."""
    path = state_file(site_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    if target == "folder":
        path.mkdir()
    else:
        outside.write_bytes(b"")
        path.symlink_to(outside)
    build(site_dir, site_config)
    if target != "folder":
        assert outside.read_bytes() == b""
    assert path.is_file() and not path.is_symlink()
    assert open_cache(site_dir, site_config).knows(POST)


def test_a_cache_that_cannot_be_written_is_skipped(site_dir, site_config):
    path = state_file(site_dir)
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    path.parent.write_text("a file where the cache folder should be")
    parsed = build(site_dir, site_config)
    assert len(parsed.posts) == 2
    assert path.parent.read_text() == "a file where the cache folder should be"
