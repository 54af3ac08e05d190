"""Unit tests for marginalia.related: counted words, the hybrid score, the stored lists
and the latest posts of a section."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from marginalia import related
from marginalia.assemble import Visibility, assemble_site
from marginalia.model import Post, RelatedConfig, Site
from marginalia.related import (Entry, RelatedCache, find_related, latest_in_section,
                                post_terms, section_posts, site_entries)
from marginalia.store import Store

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
START = datetime(2016, 8, 1, 12, tzinfo=timezone.utc)

# A story told over four posts (the collapse of a shipping line), among posts that share
# only the common "Trade" tag, or nothing at all, with it.
STORY = {
    "hanjin-strands-cargo": (
        "Hanjin's Collapse Strands Cargo at Sea", ("Hanjin Shipping", "Trade"),
        "<p>The bankruptcy of Hanjin Shipping left dozens of container ships stranded "
        "offshore, their cargo stuck while creditors circle and ports refuse entry.</p>"),
    "retailers-scramble": (
        "Retailers Scramble as Hanjin Containers Sit Offshore",
        ("Hanjin Shipping", "Retail", "Trade"),
        "<p>Holiday stock sits in stranded Hanjin containers; retailers cannot reach the "
        "cargo until the bankruptcy court lets the ships dock.</p>"),
    "seoul-weighs-rescue": (
        "Seoul Weighs a Rescue for Its Biggest Carrier", ("Hanjin Shipping", "South Korea"),
        "<p>The Korea Development Bank is reluctant to fund another bailout, and the "
        "government says the carrier's owners must pay first.</p>"),
    "who-pays-when-a-line-goes-under": (
        "Who Pays When a Shipping Line Goes Under?", ("Trade",),
        "<p>Hanjin's bankruptcy shows how little protection shippers have: stranded "
        "containers, cargo held at sea, and ports demanding fees before unloading.</p>"),
}
TRADE_ONLY = {
    "steel-tariffs": ("Steel Tariffs Return", "Mills cheer duties on imported steel while "
                      "carmakers warn about costs."),
    "soybean-exports": ("Soybean Farmers Count the Cost", "Exports of soybeans fell after "
                        "retaliation hit farm states."),
    "nafta-talks": ("Nafta Talks Stall Again", "Negotiators disagree about dairy quotas "
                    "and auto rules of origin."),
    "currency-report": ("The Currency Report Nobody Read", "Treasury declined to name a "
                        "manipulator despite the campaign promise."),
    "wto-dispute": ("A Dispute at the WTO", "The appellate body cannot hear appeals "
                    "without judges, and nominations are blocked."),
    "aluminum-quotas": ("Aluminum Quotas for Allies", "Canada and Mexico won exemptions "
                        "from the aluminum duties for now."),
    "tpp-without-us": ("The Pacific Pact Moves On", "Eleven countries signed the "
                       "partnership without Washington."),
    "dairy-fight": ("Milk, Cheese and a Trade Fight", "Canadian dairy pricing angered "
                    "farmers in Wisconsin."),
}
OTHER = {
    "missile-drills": ("Missile Drills off the Coast", ("North Korea", "Japan"),
                       "Japan and South Korea practised missile tracking together."),
    "satellite-launch": ("A Satellite Launch, or a Test?", ("North Korea",),
                         "Pyongyang called it a satellite; everyone else saw a missile."),
}


def make_post(slug: str, title: str, tags: tuple[str, ...], body_html: str, day: int,
              section: str = "Trade Winds", dek: str = "") -> Post:
    date = START + timedelta(days=day)
    return Post(rel_path=f"content/posts/{slug}.md", title=title, section=section,
                date=date, updated=None, expires=None, dek=dek, sources=(), tags=tags,
                author="", slug=slug, comments=False, draft=False,
                url=f"/{date:%Y/%m/%d}/{slug}/", body=body_html, summary="",
                terms=post_terms(title, dek, body_html), digest=f"digest-{slug}")


def fixture_posts() -> list[Post]:
    posts = [make_post(slug, title, tags, body, day)
             for day, (slug, (title, tags, body)) in enumerate(STORY.items())]
    posts += [make_post(slug, title, ("Trade",), f"<p>{body}</p>", 10 + day)
              for day, (slug, (title, body)) in enumerate(TRADE_ONLY.items())]
    posts += [make_post(slug, title, tags, f"<p>{body}</p>", 30 + day,
                        section="North Korea Fallout")
              for day, (slug, (title, tags, body)) in enumerate(OTHER.items())]
    return posts


def make_site(config, posts: list[Post], count: int = 3) -> Site:
    config = replace(config, related=RelatedConfig(count=count, section_count=3))
    return assemble_site(list(posts), [], (), config, Visibility(now=NOW))


def related_slugs(site: Site, lists: dict[str, tuple[Post, ...]], slug: str) -> list[str]:
    return [p.slug for p in lists[f"content/posts/{slug}.md"]]


# post_terms


def test_terms_weigh_the_title_above_commentary_above_quotes():
    terms = post_terms("Harbor Levy", "", "<p>The levy, again.</p>\n<figure class=\"quote\">"
                       "<figcaption class=\"attribution\">Ledger:</figcaption><blockquote>"
                       "<p>Harbor officials said the levy would rise.</p></blockquote>"
                       "</figure><p>Officials disagree.</p>")
    weights = dict(item.split(":") for item in terms.split())
    # levy: title 4, commentary 2, quote 1; harbor: title 4, quote 1; official: quote 1
    # and commentary 2, folded from the plural; ledger: the attribution, a quote.
    assert weights == {"levy": "7", "harbor": "5", "official": "3", "disagree": "2",
                       "ledger": "1", "rise": "1"}


def test_terms_leave_out_common_words_digits_and_markup():
    terms = post_terms("", "", '<p>It is <a href="https://example.org/x">about</a> '
                              "the 2016 budget &amp; its_own deficits.</p>")
    assert terms == "budget:2 deficit:2"


def test_terms_keep_the_heaviest_words_only():
    words = [f"word{a}{b}" for a in "abcdefghij" for b in "abcdefghij"]
    terms = post_terms("", "", f"<p>{' '.join(words)} repeated repeated</p>").split()
    assert len(terms) == related.TERMS_KEPT and "repeated:4" in terms


# find_related on the fixture


def test_story_posts_are_related_and_common_tag_alone_is_not(site_config):
    site = make_site(site_config, fixture_posts())
    lists = RelatedCache(None).related_posts(site)
    for slug in ("hanjin-strands-cargo", "retailers-scramble"):
        assert set(related_slugs(site, lists, slug)) == set(STORY) - {slug}
    # The rescue post and the untagged one share little but the first two posts.
    for slug in ("seoul-weighs-rescue", "who-pays-when-a-line-goes-under"):
        found = related_slugs(site, lists, slug)
        assert {"hanjin-strands-cargo", "retailers-scramble"} <= set(found) <= set(STORY)
    for slug in TRADE_ONLY:
        assert not set(STORY) & set(related_slugs(site, lists, slug)), slug


def test_words_alone_and_tags_alone_each_find_a_story_post(site_config):
    """The hybrid: one story post lacks the rare tag (found by its words), another
    shares the tag but hardly a word (found by the tag)."""
    site = make_site(site_config, fixture_posts())
    lists = RelatedCache(None).related_posts(site)
    found = related_slugs(site, lists, "hanjin-strands-cargo")
    assert "who-pays-when-a-line-goes-under" in found  # no Hanjin Shipping tag
    assert "seoul-weighs-rescue" in found  # few shared words


def test_a_post_is_never_related_to_itself(site_config):
    posts = fixture_posts()
    twin = replace(posts[0], rel_path="content/posts/twin.md", slug="twin",
                   url="/2016/08/01/twin/")
    site = make_site(site_config, [*posts, twin])
    for post in site.posts:
        assert post not in site_lists(site)[post.rel_path]


def site_lists(site: Site) -> dict[str, tuple[Post, ...]]:
    return RelatedCache(None).related_posts(site)


def test_count_limits_the_list_and_zero_turns_it_off(site_config):
    posts = fixture_posts()
    assert all(len(found) <= 1 for found in site_lists(make_site(site_config, posts, 1)).values())
    assert site_lists(make_site(site_config, posts, 0)) == {}
    entries = site_entries(make_site(site_config, posts))
    assert find_related(entries, 0) == [()] * len(entries)


def test_ties_go_to_the_newer_post_then_the_smaller_url():
    terms = post_terms("Harbor Levy Rises", "", "<p>The harbor levy rises again.</p>")
    base = 1_500_000_000.0
    entries = [Entry(terms, ("levy",), base, "/a/"),
               Entry(terms, ("levy",), base - 86400, "/old/"),
               Entry(terms, ("levy",), base + 86400, "/z/"),
               Entry(terms, ("levy",), base + 86400, "/b/"),
               Entry("other:2", ("other",), base, "/c/"),
               Entry("unrelated:2", ("unrelated",), base, "/d/")]
    # /b/ and /z/ are as near in time to /a/ as /old/ is: newer first, then by URL.
    assert find_related(entries, 3)[0] == (3, 2, 1)


def test_time_lowers_a_score_mildly():
    terms = post_terms("Harbor Levy Rises", "", "<p>The harbor levy rises again.</p>")
    day = 86400.0
    entries = [Entry(terms, ("levy",), 0.0, "/a/"), Entry(terms, ("levy",), 3650 * day, "/far/"),
               Entry(terms, ("levy",), 10 * day, "/near/"), Entry("x:1", ("x",), 0.0, "/x/"),
               Entry("y:1", ("y",), 0.0, "/y/")]
    assert find_related(entries, 3)[0] == (2, 1)  # the far one still counts


def test_lists_do_not_depend_on_hash_seed_or_run(site_config):
    site = make_site(site_config, fixture_posts())
    entries = site_entries(site)
    first = find_related(entries, 3)
    assert all(find_related(entries, 3) == first for _ in range(3))


# RelatedCache


def test_lists_are_stored_and_reused_until_words_or_tags_change(site_config, tmp_path,
                                                                monkeypatch):
    calls = []
    real = related.find_related
    monkeypatch.setattr(related, "find_related",
                        lambda entries, count: calls.append(1) or real(entries, count))
    site = make_site(site_config, fixture_posts())

    def build(site: Site) -> dict:
        state = Store(tmp_path)
        cache = RelatedCache(state)
        lists = cache.related_posts(site)
        cache.save()
        state.commit()
        return {k: [p.rel_path for p in v] for k, v in lists.items()}

    first = build(site)
    assert build(site) == first and len(calls) == 1
    retitled = [replace(p, comments=True, summary="changed") for p in fixture_posts()]
    assert build(make_site(site_config, retitled)) == first and len(calls) == 1
    retagged = [replace(p, tags=("Trade",)) if p.slug == "seoul-weighs-rescue" else p
                for p in fixture_posts()]
    assert build(make_site(site_config, retagged)) != first and len(calls) == 2


def test_damaged_stored_lists_are_computed_again(site_config, tmp_path):
    site = make_site(site_config, fixture_posts())
    expected = site_lists(site)
    state = Store(tmp_path)
    key = related.site_digest(site, 3)
    state.put_blob(related.BLOB_NAME, [key, 3, [999] * (3 * len(site.posts))])
    state.commit()
    cache = RelatedCache(Store(tmp_path))
    assert cache.related_posts(site) == expected and cache.computed


def test_no_cache_computes_again(site_config, tmp_path):
    site = make_site(site_config, fixture_posts())
    state = Store(tmp_path)
    cache = RelatedCache(state)
    cache.related_posts(site)
    cache.save()
    state.commit()
    again = RelatedCache(Store(tmp_path), read=False)
    again.related_posts(site)
    assert again.computed


# latest_in_section


@pytest.mark.parametrize("count", [0, 1, 3])
def test_section_posts_are_the_latest_others_by_date_then_slug(site_config, count):
    posts = [make_post(slug, slug.title(), (), "<p>x</p>", day)
             for slug, day in (("b-same-day", 5), ("a-same-day", 5), ("older", 1),
                               ("oldest", 0), ("newest", 9))]
    site = make_site(site_config, posts)
    section = next(s for s in site.sections if s.name == "Trade Winds")
    latest = latest_in_section(section, count)
    by_slug = {p.slug: p for p in site.posts}
    expected = ["newest", "a-same-day", "b-same-day", "older", "oldest"]
    for slug in expected:
        shown = [p.slug for p in section_posts(latest, by_slug[slug], count)]
        assert shown == [s for s in expected if s != slug][:count]


def test_section_posts_leave_out_what_related_already_lists(site_config):
    posts = [make_post(slug, slug.title(), (), "<p>x</p>", day)
             for slug, day in (("newest", 9), ("newer", 7), ("middle", 5), ("older", 3),
                               ("oldest", 1))]
    site = make_site(site_config, posts)
    section = next(s for s in site.sections if s.name == "Trade Winds")
    by_slug = {p.slug: p for p in site.posts}
    latest = latest_in_section(section, 2 + 1)
    related = (by_slug["newer"],)
    shown = section_posts(latest, by_slug["oldest"], 2, related)
    assert [p.slug for p in shown] == ["newest", "middle"]


def test_lists_split_among_workers_equal_the_lists_made_in_one_process(monkeypatch):
    vocabulary = [f"{a}{b}" for a in ("tariff", "harbor", "budget", "court", "grid")
                  for b in ("", "levy", "vote", "ruling", "fund", "deal", "plan")]
    entries = []
    for index in range(400):
        words = {vocabulary[(index * step) % len(vocabulary)]: 1 + (index + step) % 5
                 for step in (1, 3, 7, 11, 13)}
        entries.append(Entry(" ".join(sorted(f"{w}:{n}" for w, n in words.items())),
                             (f"tag-{index % 9}", f"tag-{index % 4}"),
                             START.timestamp() + index * 3600 * (index % 7 + 1),
                             f"/p/{index}/"))
    monkeypatch.setattr(related, "PARALLEL_ENTRIES", 10 ** 9)
    alone = find_related(entries, 5)
    monkeypatch.setattr(related, "PARALLEL_ENTRIES", 100)
    monkeypatch.setattr(related, "can_fork_workers", lambda posts: True)
    assert find_related(entries, 5) == alone
    assert sum(map(len, alone)) > 3 * len(entries)  # the lists are not all empty
