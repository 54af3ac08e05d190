"""End-to-end: related posts and "More in this section" under each post, what an
incremental build renders again when they change, and that their bytes depend on the
content alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (BUILD_SCRIPT, MINIMAL_CONFIG, FIXED_NOW, blog_files, build_in_process,
                      parse_html, post_text, tree_snapshot, write_site)
from marginalia import related

# Four posts of one story (a shipping line's collapse), and posts that share with them
# only the common "Trade" tag; all in one section.
STORY = {
    "hanjin-strands-cargo": ("Hanjin's Collapse Strands Cargo at Sea", "[Hanjin Shipping, Trade]",
                             "The bankruptcy of Hanjin Shipping left dozens of container ships "
                             "stranded offshore, their cargo stuck while creditors circle."),
    "retailers-scramble": ("Retailers Scramble as Hanjin Containers Sit Offshore",
                           "[Hanjin Shipping, Retail, Trade]",
                           "Holiday stock sits in stranded Hanjin containers; retailers cannot "
                           "reach the cargo until the bankruptcy court lets the ships dock."),
    "seoul-weighs-rescue": ("Seoul Weighs a Rescue for Hanjin", "[Hanjin Shipping, South Korea]",
                            "The Korea Development Bank is reluctant to fund another Hanjin "
                            "bailout, and the carrier's owners must pay first."),
    "who-pays": ("Who Pays When a Shipping Line Goes Under?", "[Trade]",
                 "Hanjin's bankruptcy shows how little protection shippers have: stranded "
                 "containers, cargo held at sea, and ports demanding fees."),
}
TRADE_ONLY = {
    "steel-tariffs": ("Steel Tariffs Return", "Mills cheer duties on imported steel while "
                      "carmakers warn about the cost of steel."),
    "soybean-exports": ("Soybean Farmers Count the Cost", "Exports of soybeans fell after "
                        "retaliation hit farm states."),
    "nafta-talks": ("Nafta Talks Stall Again", "Negotiators disagree about dairy quotas and "
                    "auto rules of origin."),
    "currency-report": ("The Currency Report Nobody Read", "Treasury declined to name a "
                        "manipulator despite the campaign promise."),
    "wto-dispute": ("A Dispute at the WTO", "The appellate body cannot hear appeals without "
                    "judges, and nominations are blocked."),
}
STEEL_STORY = ("Mills cheer steel duties; carmakers warn that imported steel tariffs raise "
               "the cost of every car.")


# who-pays, the oldest of the section, is not among the latest posts any page shows.
DATES = {"hanjin-strands-cargo": "2016-09-01", "retailers-scramble": "2016-09-02",
         "seoul-weighs-rescue": "2016-09-03", "who-pays": "2016-08-05"}


FILLER_WORDS = ("Pyongyang", "missile", "sanctions", "envoy", "summit", "launch", "reactor",
                "border", "defector", "artillery", "talks", "warship")


def filler_files(count: int) -> dict[str, str]:
    """Posts of another section, enough that post pages are checked in several groups."""
    return {f"content/posts/filler-{n}.md": post_text(
        f"Dispatch {n}", "North Korea Fallout", f"2015-{1 + n % 12:02d}-{1 + n % 28:02d}",
        " ".join(FILLER_WORDS[(n + k * 5) % len(FILLER_WORDS)] for k in range(3)) + ".\n",
        tags="[North Korea]") for n in range(count)}


def story_files(**config: str) -> dict[str, str]:
    files = {}
    for slug, (title, tags, body) in STORY.items():
        files[f"content/posts/{slug}.md"] = post_text(
            title, "Trade Winds", f"{DATES[slug]}T10:00:00Z", body + "\n", tags=tags)
    for day, (slug, (title, body)) in enumerate(TRADE_ONLY.items(), start=10):
        files[f"content/posts/{slug}.md"] = post_text(
            title, "Trade Winds", f"2016-08-{day:02d}T10:00:00Z", body + "\n", tags="[Trade]")
    files["content/posts/missile-drills.md"] = post_text(
        "Missile Drills off the Coast", "North Korea Fallout", "2016-07-01T10:00:00Z",
        "Japan and South Korea practised missile tracking.\n", tags="[North Korea, Japan]")
    if config:
        files["site.toml"] = MINIMAL_CONFIG + "\n[related]\n" + "".join(
            f"{key} = {value}\n" for key, value in config.items())
    return blog_files(files)


def post_page(output: Path, slug: str) -> Path:
    return next(output.glob(f"2016/*/*/{slug}/index.html"))


def shown(output: Path, slug: str) -> dict[str, list[str]]:
    """The links under a post, by the heading above them."""
    root = parse_html(post_page(output, slug))
    return {" ".join(section.find("h2").text_content().split()):
            [link.get("href") for link in section.iterfind(".//li/a")]
            for section in root.iterfind(".//aside[@class='further-reading']/section")}


def slug_of(href: str) -> str:
    return href.rstrip("/").rsplit("/", 1)[-1]


def test_post_page_lists_related_and_latest_posts_outside_the_search_index(make_blog):
    site = make_blog(story_files())
    assert build_in_process(site).returncode == 0
    root = parse_html(post_page(site / "output", "hanjin-strands-cargo"))
    aside = root.find(".//aside[@class='further-reading']")
    assert aside is not None and "data-pagefind-ignore" in aside.attrib
    assert aside.get("aria-label") == "Further reading"
    assert aside.getparent().find("article[@data-pagefind-body]") is not None  # beside it
    headings = [h.text_content() for h in aside.iterfind(".//h2")]
    assert headings == ["Related", "More in Trade Winds"]
    lists = {h.text_content(): [slug_of(a.get("href")) for a in h.getparent().iterfind(".//li/a")]
             for h in aside.iterfind(".//h2")}
    assert set(lists["Related"]) == {"retailers-scramble", "seoul-weighs-rescue", "who-pays"}
    # The latest of its section, newest first, without the post itself or what
    # Related lists already.
    assert lists["More in Trade Winds"][0] == "wto-dispute"
    assert len(lists["More in Trade Winds"]) == 3
    assert not set(lists["More in Trade Winds"]) & set(lists["Related"])
    for slug in TRADE_ONLY:
        related_links = shown(site / "output", slug).get("Related", [])
        assert not set(STORY) & {slug_of(href) for href in related_links}


def test_zero_counts_turn_the_lists_off(make_blog):
    site = make_blog(story_files(count=0))
    assert build_in_process(site).returncode == 0
    assert list(shown(site / "output", "who-pays")) == ["More in Trade Winds"]
    site = write_site(site, story_files(count=0, section_count=0))
    assert build_in_process(site).returncode == 0
    root = parse_html(post_page(site / "output", "who-pays"))
    assert root.find(".//aside[@class='further-reading']") is None


def test_a_negative_count_is_an_error_at_its_line(make_blog):
    site = make_blog(story_files(count=-2))
    result = build_in_process(site)
    line = (MINIMAL_CONFIG + "\n[related]\n").count("\n") + 1
    assert result.returncode == 2
    assert f"site.toml:{line}: 'related.count' must be 0 (to show none) or more, not -2" \
        in result.stderr


def test_output_bytes_do_not_depend_on_time_zone_language_or_hash_seed(tmp_path):
    outputs = []
    for number, (zone, language, seed) in enumerate((("UTC", "C.UTF-8", "1"),
                                                     ("Pacific/Chatham", "tr_TR.UTF-8", "2"))):
        site = write_site(tmp_path / f"site{number}", story_files())
        env = {**os.environ, "TZ": zone, "LANG": language, "LC_ALL": language,
               "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--site", str(site),
                                 "--now", FIXED_NOW], capture_output=True, text=True, env=env,
                                cwd=site, timeout=300)
        assert result.returncode == 0, result.stderr
        outputs.append(tree_snapshot(site / "output"))
    assert outputs[0] == outputs[1]
    assert b"More in Trade Winds" in next(v for k, v in outputs[0].items()
                                          if k.endswith("who-pays/index.html"))


class Spy:
    """Records, in this process, each computation of the related lists and each post
    page rendered."""

    def __init__(self, monkeypatch):
        import marginalia.render

        self.computed, self.rendered = 0, set()
        find, render = related.find_related, marginalia.render.render_template

        def find_related(*args):
            self.computed += 1
            return find(*args)

        def render_template(env, name, context):
            if name == "post.html":
                self.rendered.add(context["post"].slug)
            return render(env, name, context)

        monkeypatch.setattr(related, "find_related", find_related)
        monkeypatch.setattr(marginalia.render, "render_template", render_template)

    def reset(self) -> None:
        self.computed, self.rendered = 0, set()


def listed(output: Path, slugs) -> dict[str, dict[str, list[str]]]:
    """What each post page lists: its related and latest posts, and its neighbours."""
    pages = {}
    for slug in slugs:
        root = parse_html(post_page(output, slug))
        pages[slug] = {**shown(output, slug), "neighbours": [
            a.get("href") for a in root.iterfind(".//nav[@class='post-neighbours']/a")]}
    return pages


def test_an_edit_renders_again_only_the_pages_whose_lists_or_listed_posts_changed(
        make_blog, monkeypatch, tmp_path):
    site = make_blog({**story_files(), **filler_files(120)})
    spy = Spy(monkeypatch)
    assert build_in_process(site).returncode == 0
    slugs = [*STORY, *TRADE_ONLY, "missile-drills"]
    before = listed(site / "output", slugs)

    # who-pays stops being about the shipping line and turns to steel.
    spy.reset()
    write_site(site, {"content/posts/who-pays.md": post_text(
        "Who Pays When a Shipping Line Goes Under?", "Trade Winds", "2016-08-05T10:00:00Z",
        STEEL_STORY + "\n", tags="[Trade]")})
    assert build_in_process(site).returncode == 0
    after = listed(site / "output", slugs)
    assert spy.computed == 1
    changed = {slug for slug in slugs if before[slug] != after[slug]}
    assert changed - {"who-pays"}, "the edit changed no other post's list"
    showing = {slug for slug in slugs
               if any(slug_of(href) == "who-pays" for links in after[slug].values()
                      for href in links)}
    assert spy.rendered == {"who-pays"} | changed | showing
    assert spy.rendered != set(slugs)
    assert "who-pays" in {slug_of(h) for h in after["steel-tariffs"].get("Related", [])}
    assert "who-pays" not in {slug_of(h) for h in after["retailers-scramble"].get("Related", [])}

    # The incremental build wrote what a clean build of the same sources writes.
    clean = tmp_path / "clean"
    shutil.copytree(site, clean, ignore=shutil.ignore_patterns("output", ".cache"))
    assert build_in_process(clean, "--no-cache").returncode == 0
    assert tree_snapshot(clean / "output") == tree_snapshot(site / "output")


def test_a_touch_or_an_edit_of_other_fields_computes_nothing_again(make_blog, monkeypatch):
    site = make_blog(story_files())
    spy = Spy(monkeypatch)
    assert build_in_process(site).returncode == 0
    assert spy.computed == 1

    spy.reset()
    path = site / "content/posts/who-pays.md"
    os.utime(path, (path.stat().st_atime + 10, path.stat().st_mtime + 10))
    assert build_in_process(site).returncode == 0
    assert (spy.computed, spy.rendered) == (0, set())

    # Turning comments off changes the post's own page, and no post's words or tags.
    spy.reset()
    path.write_text(path.read_text(encoding="utf-8").replace(
        "tags: [Trade]", "tags: [Trade]\ncomments: false"), encoding="utf-8")
    assert build_in_process(site).returncode == 0
    assert spy.computed == 0
    assert "who-pays" in spy.rendered

    # --no-cache computes the lists again, to the same result.
    spy.reset()
    before = tree_snapshot(site / "output")
    assert build_in_process(site, "--no-cache").returncode == 0
    assert spy.computed == 1 and tree_snapshot(site / "output") == before


@pytest.mark.parametrize("count", [1, 5])
def test_count_sets_how_many_are_listed(make_blog, count):
    site = make_blog(story_files(count=count, section_count=count))
    assert build_in_process(site).returncode == 0
    lists = shown(site / "output", "hanjin-strands-cargo")
    assert len(lists["Related"]) == min(count, 3)  # three posts share its story
    assert len(lists["More in Trade Winds"]) == count
