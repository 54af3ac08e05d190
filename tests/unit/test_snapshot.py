"""Unit tests for marginalia.snapshot: the site model survives the snapshot exactly."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import ABOUT_PAGE, post_text, write_site
from marginalia.cache import ParseCache
from marginalia.model import Post, Site
from marginalia.pipeline import BuildOptions, load_site
from marginalia.sealed import seal, unseal
from marginalia.snapshot import (MAGIC, in_window, load_snapshot, make_snapshot,
                                 record_changes, restore_site, save_snapshot,
                                 visibility_window)

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def loaded(tmp_path):
    site_dir = write_site(tmp_path / "site", {
        "content/pages/about.md": ABOUT_PAGE,
        "content/posts/a.md": post_text("First", body="See [b](b.md).\n",
                                        tags="[Japan, Trade]", dek='"A dek."',
                                        sources="[{name: Wire, url: 'https://w.example/'}]"),
        "content/posts/b.md": post_text("Second", section="Trade Winds",
                                        date="2017-03-12T02:30:00", author="Ada Reyes",
                                        updated="2017-03-13", tags="[Trade]"),
        "content/posts/c.md": post_text("Third", date="2016-11-06T01:30:00",
                                        expires="2031-01-01", aliases="[/old/]",
                                        extra="{mood: grim, score: 3}"),
        "content/posts/d.md": post_text("Draft", draft="true"),
        "content/posts/e.md": post_text("Scheduled", date="2030-06-01T00:00:00Z"),
        "content/posts/photo.png": b"\x89PNG",
    })
    options = BuildOptions(site_dir, tmp_path / "output", NOW)
    return load_site(options)


def snapshot_of(loaded, tmp_path: Path):
    site = loaded.site
    hashes = {p.rel_path: f"hash-{p.rel_path}" for p in (*site.posts, *site.held_back,
                                                         *site.pages)}
    snapshot = make_snapshot(site, ["options"], "fingerprint", "static", [1, 2, 3, 4],
                             loaded.signatures, sorted(loaded.unsettled), NOW, hashes)
    path = tmp_path / "state" / "site.snapshot"
    save_snapshot(path, snapshot)
    return path


def restored(path: Path, site: Site, replaced=None) -> Site:
    snapshot = load_snapshot(path)
    assert snapshot is not None
    return restore_site(snapshot, site.config, ParseCache(None, ""), replaced or {},
                        lambda rel_path: (lambda url: url))


def fields_of(post: Post) -> dict:
    return {f.name: getattr(post, f.name) for f in fields(Post) if f.name != "body"}


def test_a_restored_site_equals_the_assembled_one(loaded, tmp_path):
    site = loaded.site
    back = restored(snapshot_of(loaded, tmp_path), site)
    assert [fields_of(p) for p in back.posts] == [fields_of(p) for p in site.posts]
    assert [fields_of(p) for p in back.held_back] == [fields_of(p) for p in site.held_back]
    for original, copy in zip(site.posts, back.posts):
        assert copy.date.isoformat() == original.date.isoformat()
        assert copy.date.tzinfo == original.date.tzinfo and copy.date.fold == original.date.fold
    assert back.pages == site.pages
    assert back.asset_urls == site.asset_urls
    assert (back.newest_date, back.oldest_date) == (site.newest_date, site.oldest_date)
    assert back.copyright_years == site.copyright_years

    def shape(s: Site):
        return ([(x.name, x.slug, x.url, [p.rel_path for p in x.posts])
                 for x in (*s.sections, *s.tags, *s.authors)],
                [(y.year, y.url, [(m.year, m.month, m.url, [p.rel_path for p in m.posts])
                                  for m in y.months]) for y in s.archives],
                {k: (n.previous and n.previous.rel_path, n.next and n.next.rel_path)
                 for k, n in s.neighbours.items()})
    assert shape(back) == shape(site)


def test_a_replaced_post_appears_in_every_listing_it_was_in(loaded, tmp_path):
    site = loaded.site
    old = next(p for p in site.posts if p.rel_path == "content/posts/a.md")
    new = replace(old, body="<p>New.</p>", summary="New.")
    back = restored(snapshot_of(loaded, tmp_path), site, {old.rel_path: new})
    listings = [back.posts, *(x.posts for x in (*back.sections, *back.tags)),
                *(m.posts for y in back.archives for m in y.months)]
    holding = [posts for posts in listings if any(p.rel_path == old.rel_path for p in posts)]
    assert len(holding) == 5  # the home page, its section, two tags, its month
    assert all(new in posts for posts in holding)


def test_recorded_changes_are_applied_on_reading(loaded, tmp_path):
    path = snapshot_of(loaded, tmp_path)
    snapshot = load_snapshot(path)
    row = list(snapshot.posts[0])
    row[1] = "A New Title"
    record_changes(path, snapshot, {row[0]: [row, "new-hash"]}, {"content/posts/a.md": "x"},
                   [], [5, 6, 7, 8])
    again = load_snapshot(path)
    assert again.posts[0][1] == "A New Title" and again.text_hashes[0] == "new-hash"
    assert again.sources["content/posts/a.md"] == "x"
    assert again.manifest_identity == [5, 6, 7, 8]
    # Rewritten whole, the snapshot leaves the record behind: it describes another file.
    save_snapshot(path, snapshot)
    assert load_snapshot(path).posts[0][1] != "A New Title"


@pytest.mark.parametrize("change", [
    lambda values: values.__setitem__(7, [[1, 2]]),  # a post row of the wrong length
    lambda values: values.__setitem__(8, 99),  # more published posts than rows
    lambda values: values[12].__setitem__(0, [0, 99]),  # a section lists a missing post
    lambda values: values.__setitem__(4, "not a dict"),
    lambda values: values.pop(),
])
def test_a_snapshot_of_the_wrong_shape_is_refused(loaded, tmp_path, change):
    path = snapshot_of(loaded, tmp_path)
    values = unseal(MAGIC, path.read_bytes())
    change(values)
    path.write_bytes(seal(MAGIC, values))
    assert load_snapshot(path) is None


def test_the_visibility_window_ends_at_the_next_date_or_expiry(loaded):
    site = loaded.site
    window = visibility_window([*site.posts, *site.held_back], NOW)
    assert in_window(window, NOW)
    assert in_window(window, datetime(2030, 5, 31, 23, 59, tzinfo=timezone.utc))
    assert not in_window(window, datetime(2030, 6, 1, tzinfo=timezone.utc))
    assert not in_window(window, datetime(2017, 3, 1, tzinfo=timezone.utc))


def test_a_value_marshal_cannot_keep_leaves_no_snapshot(loaded, tmp_path):
    path = snapshot_of(loaded, tmp_path)
    snapshot = load_snapshot(path)
    save_snapshot(path, replace(snapshot, options=[object()]))
    assert not path.exists()
