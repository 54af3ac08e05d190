"""Unit tests for marginalia.incremental: render keys, read tracking and the render cache."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import fields, replace
from datetime import datetime, timezone

import jinja2
import pytest

from marginalia.assemble import Visibility, assemble_site
from marginalia.incremental import (Fingerprints, Recorder, RenderCache, TrackedSite,
                                    TrackedView, post_digest)
from marginalia.store import STATE_PATH, Store
from marginalia.model import Pager, Post, Site

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
PAGE = "a/index.html"
OTHER_PAGE = "b/index.html"


def make_post(name: str, day: int, **fields) -> Post:
    values = dict(rel_path=f"content/posts/{name}.md", title=name.title(),
                  section="North Korea Fallout",
                  date=datetime(2016, 1, day, 12, tzinfo=timezone.utc), updated=None,
                  expires=None, dek="", sources=(), tags=("Japan",), author="", slug=name,
                  comments=True, draft=False, url=f"/2016/01/{day:02d}/{name}/",
                  body_html="<p>Body.</p>", summary="", digest=f"digest-{name}")
    values.update(fields)
    values["body"] = values.pop("body_html")
    return Post(**values)


def make_site(config, posts: list[Post]) -> Site:
    return assemble_site(list(posts), [], (), config, Visibility(now=NOW))


def fingerprints(config, *posts: Post) -> Fingerprints:
    return Fingerprints(make_site(config, list(posts) or [make_post("a", 1)]), ("static",))


def by_slug(fp: Fingerprints) -> dict[str, Post]:
    """The site's own Post objects: keys are computed for those, not for the originals."""
    return {p.slug: p for p in fp.site.posts}


def key_of(config, value, *posts: Post) -> str:
    """The key of a page whose context holds value, or value(posts by slug)."""
    fp = fingerprints(config, *posts)
    found = by_slug(fp)
    return fp.page_key(("t.html",), {"value": value(found) if callable(value) else value})


# Fingerprints.page_key


def rich_context(fp: Fingerprints) -> dict:
    return {"title": "T", "post": fp.site.posts[0], "posts": list(fp.site.posts),
            "section": TrackedView(fp.site.sections[0], Recorder()),
            "pager": Pager(1, 1, fp.site.posts, "/", None, None, "/"),
            "when": NOW, "extra": {"k": [1, 2]}, "count": 2, "flag": False}


def test_page_key_is_stable_for_equal_inputs(site_config):
    posts = [make_post("a", 1), make_post("b", 2)]
    first, second = fingerprints(site_config, *posts), fingerprints(site_config, *posts)
    key = first.page_key(("t.html", "/"), rich_context(first))
    assert first.page_key(("t.html", "/"), rich_context(first)) == key
    assert second.page_key(("t.html", "/"), rich_context(second)) == key


@pytest.mark.parametrize("fixed", [("other.html", "/", "T"), ("t.html", "/x/", "T"),
                                   ("t.html", "/", None)])
def test_page_key_changes_with_fixed_values(site_config, fixed):
    fp = fingerprints(site_config)
    assert fp.page_key(("t.html", "/", "T"), {}) != fp.page_key(fixed, {})


@pytest.mark.parametrize("value, other", [
    ("a", "b"), ("1", 1), (1, True), (None, "None"), (1, 1.0), ([1, 2], [2, 1]),
    ({"k": 1}, {"k": 2}), (NOW, NOW.replace(hour=1)),
])
def test_page_key_changes_with_context_values(site_config, value, other):
    assert key_of(site_config, value) != key_of(site_config, other)


def test_page_key_changes_with_context_names(site_config):
    fp = fingerprints(site_config)
    assert fp.page_key((), {"a": "x"}) != fp.page_key((), {"b": "x"})


PAGER_CHANGES = {
    "number": 2, "total": 3, "posts": ("b",), "url": "/x/", "previous_url": "/prev/",
    "next_url": None, "first_url": "/first/",
}


def test_pager_changes_cover_every_field():
    assert set(PAGER_CHANGES) == {f.name for f in fields(Pager)}


@pytest.mark.parametrize("name", sorted(PAGER_CHANGES))
def test_page_key_changes_with_each_pager_field(site_config, name):
    fp = fingerprints(site_config, make_post("a", 1), make_post("b", 2))
    found = by_slug(fp)
    pager = Pager(number=1, total=2, posts=(found["a"],), url="/", previous_url=None,
                  next_url="/page/2/", first_url="/")
    change = PAGER_CHANGES[name]
    if name == "posts":
        change = tuple(found[slug] for slug in change)
    changed = replace(pager, **{name: change})
    assert fp.page_key((), {"pager": pager}) != fp.page_key((), {"pager": changed})


def test_page_key_of_a_pager_follows_its_posts_digests(site_config):
    def pager(found):
        return Pager(1, 1, (found["a"],), "/", None, None, "/")
    assert (key_of(site_config, pager, make_post("a", 1, digest="one"))
            != key_of(site_config, pager, make_post("a", 1, digest="two")))


@pytest.mark.parametrize("shape", [
    lambda post: post, lambda post: [post], lambda post: (post,), lambda post: {"p": post},
])
def test_page_key_changes_when_a_posts_digest_changes(site_config, shape):
    def value(found):
        return shape(found["a"])
    assert (key_of(site_config, value, make_post("a", 1, digest="one"))
            != key_of(site_config, value, make_post("a", 1, digest="two")))


def test_posts_with_equal_digests_share_a_key(site_config):
    # The digest identifies a post's content: nothing else of it is looked at.
    def value(found):
        return found["a"]
    assert (key_of(site_config, value, make_post("a", 1, body_html="<p>One</p>"))
            == key_of(site_config, value, make_post("a", 1, body_html="<p>Two</p>")))


@pytest.mark.parametrize("change", [dict(title="Other"), dict(body_html="<p>Other.</p>"),
                                    dict(tags=("Trade",)), dict(extra={"k": 1})])
def test_posts_without_a_digest_differ_by_content(site_config, change):
    def value(found):
        return found["a"]
    plain = make_post("a", 1, digest="")
    changed = make_post("a", 1, digest="", **change)
    assert key_of(site_config, value, plain) != key_of(site_config, value, changed)


def test_post_digest_differs_when_only_the_body_differs():
    one = make_post("a", 1, digest="", body_html="<p>One.</p>")
    two = make_post("a", 1, digest="", body_html="<p>Two.</p>")
    assert one == two  # the body is not compared
    assert post_digest(one) != post_digest(two)
    assert post_digest(one) == post_digest(make_post("a", 1, digest="",
                                                     body_html="<p>One.</p>"))


def test_page_key_changes_with_a_tracked_views_identity(site_config):
    fp = fingerprints(site_config)
    section = fp.site.sections[0]
    renamed = replace(section, description="Another description")
    assert (fp.page_key((), {"section": TrackedView(section, Recorder())})
            != fp.page_key((), {"section": TrackedView(renamed, Recorder())}))


def test_tracked_view_identity_leaves_out_its_posts(site_config):
    # Posts read through a view are covered by the site's content in full_key instead.
    fp = fingerprints(site_config, make_post("a", 1))
    section = fp.site.sections[0]
    emptied = replace(section, posts=())
    recorder = Recorder()
    assert (fp.page_key((), {"section": TrackedView(section, recorder)})
            == fp.page_key((), {"section": TrackedView(emptied, recorder)}))
    assert recorder.used_site_content is False


# Fingerprints.full_key


def test_full_key_depends_on_site_content_only_when_it_was_used(site_config):
    before = fingerprints(site_config, make_post("a", 1), make_post("b", 2))
    after = fingerprints(site_config, make_post("a", 1), make_post("b", 2, digest="edited"))
    assert before.full_key("k", False) == after.full_key("k", False)
    assert before.full_key("k", True) != after.full_key("k", True)
    assert before.full_key("k", True) != before.full_key("k", False)
    assert before.full_key("k", False) != before.full_key("other", False)


def test_full_key_depends_on_static_parts(site_config):
    site = make_site(site_config, [make_post("a", 1)])
    assert (Fingerprints(site, ("one",)).full_key("k", False)
            != Fingerprints(site, ("two",)).full_key("k", False))


# TrackedView and TrackedSite


@pytest.mark.parametrize("name, used", [("name", False), ("url", False), ("posts", True)])
def test_tracked_view_records_reads_of_posts_only(site_config, name, used):
    site = make_site(site_config, [make_post("a", 1)])
    recorder = Recorder()
    view = TrackedView(site.sections[0], recorder)
    assert getattr(view, name) == getattr(site.sections[0], name)
    assert recorder.used_site_content is used


def test_tracked_view_records_reads_of_months(site_config):
    site = make_site(site_config, [make_post("a", 1)])
    recorder = Recorder()
    view = TrackedView(site.archives[0], recorder)
    assert view.year == 2016 and recorder.used_site_content is False
    assert view.months == site.archives[0].months
    assert recorder.used_site_content is True


def tracked_site(recorder: Recorder) -> TrackedSite:
    return TrackedSite({"title": "T", "sections": (), "tags": ("t",), "authors": ("a",),
                        "archives": ("y",)}, recorder)


@pytest.mark.parametrize("key, used", [("title", False), ("sections", False),
                                       ("tags", True), ("authors", True),
                                       ("archives", True)])
def test_tracked_site_records_reads_of_site_wide_lists(key, used):
    recorder = Recorder()
    tracked_site(recorder)[key]
    assert recorder.used_site_content is used


@pytest.mark.parametrize("source, used", [("{{ site.title }}", False),
                                          ("{{ site.tags|length }}", True),
                                          ("{{ site['authors'] }}", True)])
def test_tracked_site_records_reads_from_templates(source, used):
    recorder = Recorder()
    jinja2.Environment().from_string(source).render(site=tracked_site(recorder))
    assert recorder.used_site_content is used


def test_tracked_site_records_reads_through_get():
    recorder = Recorder()
    jinja2.Environment().from_string("{{ site.get('tags') }}").render(
        site=tracked_site(recorder))
    assert recorder.used_site_content is True


# RenderCache


@pytest.fixture
def cache_path(tmp_path):
    """The state file of a site in tmp_path."""
    return tmp_path / STATE_PATH


def open_cache(path, live: dict[str, list]) -> RenderCache:
    """The render cache of one output folder, as a build opens it."""
    return RenderCache(Store(path.parent.parent.parent), "/site/output", live)


def save(cache: RenderCache) -> None:
    cache.save()
    cache.state.commit()


def stored(path, fp: Fingerprints, pages: dict[str, bytes], used_site: bool = False,
           links: tuple[str, ...] = (), broken: dict[str, list[str]] | None = None
           ) -> dict[str, list]:
    """Store pages in a new cache file; return the live manifest that matches it."""
    cache = open_cache(path, {})
    live = {}
    for rel_path, content in pages.items():
        digest = cache.store(rel_path, f"key {rel_path}", used_site, content, links, fp)
        live[rel_path] = [digest, len(content), 0]
    cache.broken = dict(broken or {})
    save(cache)
    return live


def test_stored_page_is_reused_when_key_and_live_digest_match(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"<p>a</p>"})
    cache = open_cache(cache_path, live)
    assert cache.lookup(PAGE, f"key {PAGE}", fp) == live[PAGE][0]
    assert cache.reused == 1


def test_store_returns_the_digest_of_the_content(site_config, cache_path):
    fp = fingerprints(site_config)
    cache = open_cache(cache_path, {})
    assert (cache.store(PAGE, "k", False, b"one", (), fp)
            != cache.store(PAGE, "k", False, b"two", (), fp))
    assert cache.store(PAGE, "k", False, b"one", (), fp) == cache.store(
        OTHER_PAGE, "other", True, b"one", ("/x/",), fp)


def test_page_is_not_reused_when_the_live_file_differs(site_config, cache_path):
    fp = fingerprints(site_config)
    stored(cache_path, fp, {PAGE: b"<p>a</p>"})
    cache = open_cache(cache_path, {PAGE: ["edited by hand", 8, 0]})
    assert cache.lookup(PAGE, f"key {PAGE}", fp) is None
    assert cache.reused == 0


def test_page_is_not_reused_when_the_live_file_is_gone(site_config, cache_path):
    fp = fingerprints(site_config)
    stored(cache_path, fp, {PAGE: b"<p>a</p>"})
    cache = open_cache(cache_path, {})
    assert cache.lookup(PAGE, f"key {PAGE}", fp) is None


def test_page_is_not_reused_when_its_key_changes(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"<p>a</p>"})
    cache = open_cache(cache_path, live)
    assert cache.lookup(PAGE, "another key", fp) is None
    assert cache.reused == 0


def test_page_that_used_site_content_is_not_reused_after_a_post_changes(site_config,
                                                                        cache_path):
    before = fingerprints(site_config, make_post("a", 1), make_post("b", 2))
    after = fingerprints(site_config, make_post("a", 1), make_post("b", 2, digest="edited"))
    live = stored(cache_path, before, {PAGE: b"<p>a</p>"}, used_site=True)
    assert open_cache(cache_path, live).lookup(PAGE, f"key {PAGE}", before) is not None
    assert open_cache(cache_path, live).lookup(PAGE, f"key {PAGE}", after) is None


def test_page_that_did_not_use_site_content_survives_a_post_change(site_config, cache_path):
    before = fingerprints(site_config, make_post("a", 1), make_post("b", 2))
    after = fingerprints(site_config, make_post("a", 1), make_post("b", 2, digest="edited"))
    live = stored(cache_path, before, {PAGE: b"<p>a</p>"}, used_site=False)
    assert open_cache(cache_path, live).lookup(PAGE, f"key {PAGE}", after) is not None


def test_old_links_and_old_broken_return_what_was_stored(site_config, cache_path):
    fp = fingerprints(site_config)
    stored(cache_path, fp, {PAGE: b"a", OTHER_PAGE: b"b"}, links=("/x/", "/y/"),
           broken={PAGE: ["/x/"]})
    cache = open_cache(cache_path, {})
    assert cache.old_links(PAGE) == ["/x/", "/y/"]
    assert cache.old_broken(PAGE) == ["/x/"]
    assert cache.old_broken(OTHER_PAGE) == []
    assert cache.old_links("never/index.html") == []


def test_pages_neither_kept_nor_stored_are_deleted_at_save(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"a", OTHER_PAGE: b"b"})
    cache = open_cache(cache_path, live)
    assert cache.lookup(PAGE, f"key {PAGE}", fp)
    save(cache)
    assert set(open_cache(cache_path, live).entries) == {PAGE}
    with closing(sqlite3.connect(cache_path)) as connection:
        assert connection.execute("SELECT rel_path FROM pages").fetchall() == [(PAGE,)]


def test_kept_page_keeps_its_links(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"a", OTHER_PAGE: b"b"}, links=("/x/",))
    cache = open_cache(cache_path, live)
    cache.lookup(PAGE, f"key {PAGE}", fp)
    save(cache)
    assert open_cache(cache_path, live).old_links(PAGE) == ["/x/"]


def test_kept_page_whose_broken_links_were_fixed_is_updated(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"a"}, links=("/x/",), broken={PAGE: ["/x/"]})
    cache = open_cache(cache_path, live)
    cache.lookup(PAGE, f"key {PAGE}", fp)
    assert cache.old_broken(PAGE) == ["/x/"]
    save(cache)  # cache.broken is empty: the link now resolves
    assert open_cache(cache_path, live).old_broken(PAGE) == []


def test_restored_page_replaces_its_entry(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"a"})
    cache = open_cache(cache_path, live)
    digest = cache.store(PAGE, "new key", False, b"new", (), fp)
    save(cache)
    again = open_cache(cache_path, {PAGE: [digest, 3, 0]})
    assert again.lookup(PAGE, f"key {PAGE}", fp) is None
    assert again.lookup(PAGE, "new key", fp) == digest


@pytest.mark.parametrize("data", [b"", b"not a database" * 300, b"SQLite format 3\0"])
def test_damaged_render_cache_reads_as_empty(site_config, cache_path, data):
    fp = fingerprints(site_config)
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(data)
    cache = open_cache(cache_path, {PAGE: ["d", 1, 0]})
    assert cache.entries == {}
    assert cache.lookup(PAGE, "k", fp) is None
    assert cache.old_links(PAGE) == [] and cache.old_broken(PAGE) == []


def test_save_replaces_a_damaged_render_cache(site_config, cache_path):
    fp = fingerprints(site_config)
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"not a database" * 300)
    live = stored(cache_path, fp, {PAGE: b"a"}, links=("/x/",))
    cache = open_cache(cache_path, live)
    assert cache.lookup(PAGE, f"key {PAGE}", fp) == live[PAGE][0]
    assert cache.old_links(PAGE) == ["/x/"]


def test_render_cache_of_another_version_reads_as_empty(site_config, cache_path):
    fp = fingerprints(site_config)
    live = stored(cache_path, fp, {PAGE: b"a"})
    with closing(sqlite3.connect(cache_path)) as connection, connection:
        connection.execute("UPDATE info SET value = 'marginalia-state 0' WHERE key = 'schema'")
    assert open_cache(cache_path, live).entries == {}


def test_render_cache_without_a_path_never_writes(site_config, tmp_path):
    fp = fingerprints(site_config)
    cache = RenderCache(None, "/site/output", {})
    cache.store(PAGE, "k", False, b"a", (), fp)
    cache.save()
    assert list(tmp_path.iterdir()) == []
