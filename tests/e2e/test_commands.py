"""End-to-end: the commands besides build (new, check, list), and what a build holds back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import feedparser
import lxml.etree
import pytest
import yaml

from marginalia.typography import smarten_plain

from conftest import (MINIMAL_CONFIG, PROJECT_DIR, build_in_process, cli, parse_html, post_text,
                      tree_snapshot, write_site)

NOW = "2030-01-01T00:00:00Z"
ABOUT = "---\ntitle: About Us\n---\nWho we are.\n"
PROBLEM = re.compile(r"^(?:(?P<number>\d+)\. )?(?P<path>[^:\s]+):(?P<line>\d+)(?::\d+)?: (?P<message>.+)$")


def front_matter(path: Path) -> dict:
    text = path.read_text("utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


# --- new ------------------------------------------------------------------------------

@pytest.fixture
def blank_site(make_site) -> Path:
    return make_site({"content/pages/about.md": ABOUT})


def new_post(site: Path, title: str, *args: str, now: str = "2027-06-01T12:00:00Z"):
    return cli("new", title, "--site", str(site), "--now", now, *args)


def test_new_writes_a_draft_in_the_year_of_now_in_the_site_timezone(blank_site):
    # 03:00 UTC on New Year's Day is still the old year in New York.
    code, out, err = new_post(blank_site, "Pyongyang Tests Another Missile",
                              "--section", "North Korea Fallout", now="2027-01-01T03:00:00Z")
    assert code == 0, err
    path = blank_site / "content/posts/2026/pyongyang-tests-another-missile.md"
    assert out.strip() == path.relative_to(blank_site).as_posix()
    matter = front_matter(path)
    assert matter["title"] == "Pyongyang Tests Another Missile"
    assert matter["section"] == "North Korea Fallout"
    assert matter["date"].isoformat() == "2026-12-31T22:00:00-05:00"
    assert matter["dek"] == "" and matter["sources"] == [] and matter["draft"] is True


def test_new_accepts_a_section_by_slug_and_writes_its_name(blank_site):
    code, out, err = new_post(blank_site, "Tariff Talk", "--section", "trade-winds")
    assert code == 0, err
    assert front_matter(blank_site / out.strip())["section"] == "Trade Winds"


def test_new_post_builds_with_drafts_and_is_left_out_without(blank_site):
    now = "2027-06-01T12:00:00Z"
    code, out, err = new_post(blank_site, "Fresh Take", "--section", "Trade Winds", now=now)
    assert code == 0, err
    page = blank_site / "output/2027/06/01/fresh-take/index.html"
    result = build_in_process(blank_site, "--drafts", now=now)
    assert result.returncode == 0, result.stderr
    assert parse_html(page).xpath("string(//h1)") == "Fresh Take"
    result = build_in_process(blank_site, now=now)
    assert result.returncode == 0, result.stderr
    assert not page.exists()
    assert "Fresh Take" not in (blank_site / "output/feed.xml").read_text("utf-8")


def test_new_refuses_to_overwrite(blank_site):
    assert new_post(blank_site, "Same Title", "--section", "Trade Winds")[0] == 0
    path = blank_site / "content/posts/2027/same-title.md"
    path.write_text(path.read_text("utf-8") + "\nMy words.\n", encoding="utf-8")
    before = path.read_bytes()
    code, out, err = new_post(blank_site, "Same Title", "--section", "North Korea Fallout")
    assert code == 1
    assert "content/posts/2027/same-title.md" in err and "Traceback" not in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["same-title.md"]


def test_new_refuses_a_plain_post_beside_a_bundle_of_the_same_slug(blank_site):
    assert new_post(blank_site, "Twin", "--section", "Trade Winds", "--bundle")[0] == 0
    code, _, err = new_post(blank_site, "Twin", "--section", "Trade Winds")
    assert code == 1, err
    assert not (blank_site / "content/posts/2027/twin.md").exists()


def test_new_refuses_a_bundle_beside_a_plain_post_of_the_same_slug(blank_site):
    """Regression: new --bundle used to check only for <slug>/index.md, not <slug>.md."""
    assert new_post(blank_site, "Twin", "--section", "Trade Winds")[0] == 0
    code, _, err = new_post(blank_site, "Twin", "--section", "Trade Winds", "--bundle")
    assert code == 1, err
    assert not (blank_site / "content/posts/2027/twin").exists()


def test_new_unknown_section_lists_the_known_ones_and_suggests_the_closest(blank_site):
    code, out, err = new_post(blank_site, "Anything", "--section", "Trade Wind")
    assert code == 1
    assert '"Trade Winds"' in err  # the did-you-mean
    known = err.split("known sections:", 1)[1]
    assert "North Korea Fallout" in known and "Trade Winds" in known
    assert not (blank_site / "content/posts").exists()


def test_new_bundle_makes_a_folder_with_index(blank_site):
    code, out, err = new_post(blank_site, "Photo Essay", "--section", "Trade Winds", "--bundle")
    assert code == 0, err
    path = blank_site / "content/posts/2027/photo-essay/index.md"
    assert out.strip() == path.relative_to(blank_site).as_posix()
    assert front_matter(path)["title"] == "Photo Essay"
    (path.parent / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    path.write_text(path.read_text("utf-8") + "\n![A chart](chart.png)\n", encoding="utf-8")
    result = build_in_process(blank_site, "--drafts", now="2027-06-01T12:00:00Z")
    assert result.returncode == 0, result.stderr
    post_dir = blank_site / "output/2027/06/01/photo-essay"
    assert (post_dir / "chart.png").is_file()
    assert parse_html(post_dir / "index.html").xpath("//img/@src") == [
        "/2027/06/01/photo-essay/chart.png"]


@pytest.mark.parametrize("title", [
    'Trump: "We\'ll See" About That',
    "Q&A: #1 — yes: no",
    "- starts like a list: and [brackets] {braces}",
    "no",
    "C:\\path\\to 'it'",
])
def test_new_title_round_trips_through_yaml_and_the_build(blank_site, title):
    now = "2027-06-01T12:00:00Z"
    code, out, err = new_post(blank_site, title, "--section", "Trade Winds", now=now)
    assert code == 0, err
    assert front_matter(blank_site / out.strip())["title"] == title
    result = build_in_process(blank_site, "--drafts", now=now)
    assert result.returncode == 0, result.stderr
    [page] = (blank_site / "output/2027/06/01").glob("*/index.html")
    # The headline is typeset as the body is: curly quotes, the rest as written.
    assert parse_html(page).xpath("string(//h1)") == smarten_plain(title)


def test_new_slug_option_sets_the_url_segment(blank_site):
    """Regression: --slug used to name only the file; the URL came from the title."""
    now = "2027-06-01T12:00:00Z"
    code, out, err = new_post(blank_site, "A Long Headline About Tariffs", "--section",
                              "Trade Winds", "--slug", "tariffs", now=now)
    assert code == 0, err
    assert out.strip() == "content/posts/2027/tariffs.md"
    assert "slug" not in front_matter(blank_site / out.strip())  # the file name says it
    assert build_in_process(blank_site, "--drafts", now=now).returncode == 0
    assert (blank_site / "output/2027/06/01/tariffs/index.html").is_file()


def test_new_writes_a_slug_line_only_for_a_slug_the_file_name_would_not_give(blank_site):
    now = "2027-06-01T12:00:00Z"
    code, out, err = new_post(blank_site, "Tariffs", "--section", "Trade Winds",
                              "--slug", "2027-06-01-tariffs", now=now)
    assert code == 0, err
    assert out.strip() == "content/posts/2027/2027-06-01-tariffs.md"
    assert front_matter(blank_site / out.strip())["slug"] == "2027-06-01-tariffs"
    assert build_in_process(blank_site, "--drafts", now=now).returncode == 0
    assert (blank_site / "output/2027/06/01/2027-06-01-tariffs/index.html").is_file()


# --- check ----------------------------------------------------------------------------

def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")} if folder.exists() else {}


def test_check_passes_on_the_demo_and_leaves_its_output_alone():
    output = PROJECT_DIR / "output"
    existed, before = output.exists(), listing(output)
    siblings = sorted(p.name for p in PROJECT_DIR.glob(".output*"))
    code, out, err = cli("check", "--site", str(PROJECT_DIR), "--now", NOW)
    assert code == 0, err
    assert "no problems" in out
    assert output.exists() == existed and listing(output) == before
    assert sorted(p.name for p in PROJECT_DIR.glob(".output*")) == siblings


def problems(stderr: str) -> list[dict]:
    """Parse 'N. path:line: message' lines; fail on any other line but the summary."""
    found = []
    for line in stderr.splitlines():
        if line.endswith("nothing was written"):
            continue
        match = PROBLEM.match(line)
        assert match, f"not 'path:line: message': {line!r}"
        found.append(match.groupdict())
    return found


BROKEN = {
    "content/pages/about.md": ABOUT,
    "content/posts/a.md": post_text("Alpha", body="Intro.\n\nSee [x](/no/such/page/).\n\n"
                                                  "![A chart](missing.png)\n"),
}
BAD_FRONT_MATTER = {"content/posts/bad.md": post_text("Bad", date="2016-13-01")}


def test_check_lists_every_broken_link_and_missing_image_numbered(make_site):
    site = make_site(BROKEN)
    code, out, err = cli("check", "--site", str(site), "--now", NOW)
    assert code == 1
    found = problems(err)
    assert [p["number"] for p in found] == ["1", "2"]
    assert {(p["path"], p["line"]) for p in found} == {("content/posts/a.md", "8"),
                                                      ("content/posts/a.md", "10")}
    assert any("/no/such/page/" in p["message"] for p in found)
    assert any("missing.png" in p["message"] for p in found)
    assert not (site / "output").exists() and not list(site.glob(".output*"))


def test_check_reports_bad_front_matter_with_its_line(make_site):
    site = make_site({"content/pages/about.md": ABOUT, **BAD_FRONT_MATTER})
    code, out, err = cli("check", "--site", str(site), "--now", NOW)
    assert code == 1
    [problem] = problems(err)
    assert (problem["path"], problem["line"]) == ("content/posts/bad.md", "4")
    assert "2016-13-01" in problem["message"]


def test_check_lists_links_images_and_front_matter_problems_in_one_run(make_site):
    """Regression: bad front matter used to stop check before the link checks."""
    site = make_site({**BROKEN, **BAD_FRONT_MATTER})
    code, out, err = cli("check", "--site", str(site), "--now", NOW)
    assert code == 1
    found = problems(err)
    assert {(p["path"], p["line"]) for p in found} == {
        ("content/posts/a.md", "8"), ("content/posts/a.md", "10"), ("content/posts/bad.md", "4")}
    assert [p["number"] for p in found] == ["1", "2", "3"]


def test_check_writes_nothing_at_all(make_site):
    """Regression: check used to save the parse cache into the site's .cache/."""
    site = make_site(BROKEN)
    before = sorted(p.relative_to(site).as_posix() for p in site.rglob("*"))
    assert cli("check", "--site", str(site), "--now", NOW)[0] == 1
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*")) == before


LINKED_ONLY = {"content/pages/about.md": ABOUT,
               "content/posts/a.md": BROKEN["content/posts/a.md"].replace(
                   "![A chart](missing.png)\n", "")}


def test_strict_build_fails_on_a_broken_link_that_a_plain_build_accepts(make_site, tmp_path):
    site = make_site(LINKED_ONLY)
    assert build_in_process(site, "--output", str(tmp_path / "plain"), now=NOW).returncode == 0
    result = build_in_process(site, "--strict", now=NOW)
    assert result.returncode == 1
    [problem] = problems(result.stderr)
    assert (problem["path"], problem["line"]) == ("content/posts/a.md", "8")
    assert "/no/such/page/" in problem["message"]
    assert not (site / "output").exists()


def test_strict_rebuild_still_fails_on_a_broken_link(make_site):
    """Regression: pages reused from the render cache used to skip the link check."""
    site = make_site(LINKED_ONLY)
    assert build_in_process(site, now=NOW).returncode == 0
    before = tree_snapshot(site / "output")
    result = build_in_process(site, "--strict", now=NOW)
    assert result.returncode == 1, result.stdout
    assert tree_snapshot(site / "output") == before


@pytest.mark.parametrize("url_line", [
    'url = "/jobs/"',
    'url="/jobs/"',
    "url = '/jobs/'",
])
def test_footer_link_to_a_missing_page_is_a_config_error_at_its_line(make_site, url_line):
    config = MINIMAL_CONFIG.replace('url = "/about/"',
                                    'url = "/about/"\n\n[[footer_links]]\nlabel = "Jobs"\n'
                                    + url_line)
    site = make_site({"site.toml": config, "content/pages/about.md": ABOUT,
                      "content/posts/a.md": post_text("Alpha")})
    result = build_in_process(site, now=NOW)
    assert result.returncode == 2
    [problem] = problems(result.stderr)
    line = config.splitlines().index(url_line) + 1
    assert (problem["path"], problem["line"]) == ("site.toml", str(line))
    assert "/jobs/" in problem["message"]
    assert not (site / "output").exists()


# --- held-back posts ------------------------------------------------------------------

HELD_NOW = "2026-01-01T09:00:00Z"
HELD_SITE = {
    "content/pages/about.md": ABOUT,
    "content/posts/old.md": post_text("Old News", section="Trade Winds", date="2016-03-01",
                                      tags="[Trade]"),
    "content/posts/later.md": post_text("Later News", section="Trade Winds",
                                        date="2026-02-01T09:00:00", tags="[Trade, Soon]"),
    "content/posts/gone.md": post_text("Gone News", section="Trade Winds", date="2016-05-01",
                                       expires="2025-06-01", tags="[Trade, Gone]"),
    "content/posts/draft.md": post_text("Draft News", section="Trade Winds",
                                        date="2025-12-01", draft="true", tags="[Trade, Wip]"),
}
URLS = {"later": "/2026/02/01/later/", "gone": "/2016/05/01/gone/",
        "draft": "/2025/12/01/draft/", "old": "/2016/03/01/old/"}
EVERYWHERE = {"page", "home", "section", "tag", "tags index", "archive", "rss", "atom",
              "json feed", "section feed", "tag feed", "sitemap"}


def hrefs(page: Path) -> set[str]:
    return set(parse_html(page).xpath("//a/@href")) if page.is_file() else set()


def listed_in(pages: list[Path], url: str) -> bool:
    return any(url in hrefs(page) for page in pages)


def feed_links(path: Path) -> set[str]:
    return {entry.link for entry in feedparser.parse(path.read_bytes()).entries} \
        if path.is_file() else set()


def where_shown(output: Path, url: str, own_tag: str) -> set[str]:
    """Name every place of the built site that shows the post at url."""
    permalink = "https://example.org" + url
    year = url.split("/")[1]
    locs = set(lxml.etree.parse(str(output / "sitemap.xml")).xpath(
        "//s:loc/text()", namespaces={"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}))
    json_feed = json.loads((output / "feed.json").read_text("utf-8"))
    places = {
        "page": (output / url.strip("/") / "index.html").is_file(),
        "home": listed_in([output / "index.html", *output.glob("page/*/index.html")], url),
        "section": listed_in(list((output / "trade-winds").rglob("index.html")), url),
        "tag": listed_in(list((output / "tags" / own_tag).rglob("index.html")), url),
        "tags index": f"/tags/{own_tag}/" in hrefs(output / "tags/index.html"),
        "archive": listed_in([output / year / "index.html", output / "archive/index.html"],
                             url),
        "rss": permalink in feed_links(output / "feed.xml"),
        "atom": permalink in feed_links(output / "atom.xml"),
        "json feed": permalink in {item["url"] for item in json_feed["items"]},
        "section feed": permalink in feed_links(output / "trade-winds/feed.xml"),
        "tag feed": permalink in feed_links(output / "tags" / own_tag / "feed.xml"),
        "sitemap": permalink in locs,
    }
    return {name for name, shown in places.items() if shown}


@pytest.fixture(scope="module")
def held_site(tmp_path_factory) -> Path:
    return write_site(tmp_path_factory.mktemp("held") / "site", HELD_SITE)


@pytest.mark.parametrize("flags, shown", [
    ((), {"old"}),
    (("--future",), {"old", "later"}),
    (("--drafts",), {"old", "draft"}),
    (("--drafts", "--future"), {"old", "later", "draft"}),
])
def test_drafts_future_and_expired_posts_are_held_back_everywhere(held_site, tmp_path,
                                                                  flags, shown):
    output = tmp_path / "output"
    result = build_in_process(held_site, "--output", str(output), *flags, now=HELD_NOW)
    assert result.returncode == 0, result.stderr
    tags = {"old": "trade", "later": "soon", "gone": "gone", "draft": "wip"}
    for name, url in URLS.items():
        expected = EVERYWHERE if name in shown else set()
        assert where_shown(output, url, tags[name]) == expected, name
    copyright_line = parse_html(output / "index.html").xpath(
        "string(//*[contains(@class, 'copyright')])")
    newest_year = "2026" if "later" in shown else "2025" if "draft" in shown else "2016"
    assert copyright_line.split()[-1].endswith(newest_year)


@pytest.mark.parametrize("now, shown", [
    ("2025-06-01T03:59:59Z", EVERYWHERE),  # expires: 2025-06-01 is midnight in New York
    ("2025-06-01T04:00:00Z", set()),
])
def test_a_post_is_shown_until_its_expiry_time(held_site, tmp_path, now, shown):
    output = tmp_path / "output"
    result = build_in_process(held_site, "--output", str(output), now=now)
    assert result.returncode == 0, result.stderr
    assert where_shown(output, URLS["gone"], "gone") == shown


@pytest.mark.parametrize("which, lines", [
    ("drafts", [("2025-12-01T00:00:00-05:00", "content/posts/draft.md", "Draft News")]),
    ("future", [("2026-02-01T09:00:00-05:00", "content/posts/later.md", "Later News")]),
    ("expired", [("2025-06-01T00:00:00-04:00", "content/posts/gone.md", "Gone News")]),
])
def test_list_prints_the_held_back_posts_with_dates(held_site, which, lines):
    code, out, err = cli("list", which, "--site", str(held_site), "--now", HELD_NOW)
    assert code == 0, err
    assert [tuple(line.split(None, 2)) for line in out.splitlines()] == lines
    assert not (held_site / "output").exists()


def test_list_follows_now(held_site):
    code, out, _ = cli("list", "future", "--site", str(held_site), "--now", "2026-03-01T00:00:00Z")
    assert code == 0 and out == ""
    code, out, _ = cli("list", "expired", "--site", str(held_site), "--now", "2025-01-01T00:00:00Z")
    assert code == 0 and out == ""
    code, out, _ = cli("list", "future", "--site", str(held_site), "--now", "2016-04-01T00:00:00Z")
    # The draft is listed as a draft, never as future, whatever its date.
    assert [line.split()[1] for line in out.splitlines()] == [
        "content/posts/gone.md", "content/posts/later.md"]


@pytest.mark.parametrize("failing", [False, True])
def test_the_command_line_exits_with_its_code_and_lets_a_profiler_write(tmp_path, failing):
    """The program skips freeing its heap at exit, except under a profiler or tracer."""
    import subprocess
    import sys

    from conftest import BUILD_SCRIPT, write_site
    body = "date: 2016-13-01\n" if failing else ""
    site = write_site(tmp_path / "site", {
        "content/pages/about.md": "---\ntitle: About Us\n---\nWho we are.\n",
        "content/posts/a.md": post_text("A Post").replace("date: 2016-06-29T16:40:00-04:00\n",
                                                          body or "date: 2016-06-29\n")})
    plain = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--site", str(site), "-q"],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == (1 if failing else 0), plain.stderr
    stats = tmp_path / "build.prof"
    profiled = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats),
                               str(BUILD_SCRIPT), "--site", str(site), "-q"],
                              capture_output=True, text=True, timeout=120)
    # python -m cProfile itself ends with 0 whatever the script's exit code.
    assert profiled.returncode == 0, profiled.stderr
    assert stats.stat().st_size > 0


# --- new: an empty title and long titles -------------------------------------------------

@pytest.mark.parametrize("title", ["", "   "])
def test_new_with_an_empty_title_says_the_title_is_empty(blank_site, title):
    code, out, err = new_post(blank_site, title, "--section", "Trade Winds")
    assert code == 2
    error = err.strip().splitlines()[-1]  # after the usage lines
    assert "the title is empty" in error and "slug" not in error
    assert "Traceback" not in err
    assert not (blank_site / "content/posts").exists()


def test_new_with_a_title_of_no_letters_asks_for_a_slug(blank_site):
    code, out, err = new_post(blank_site, "!!!", "--section", "Trade Winds")
    assert code == 1
    assert "the title has no letters or digits" in err and "--slug" in err
    assert not (blank_site / "content/posts").exists()


def test_new_with_a_very_long_title_gets_a_capped_slug(blank_site):
    title = "Pyongyang Tests Another Missile " * 30
    code, out, err = new_post(blank_site, title, "--section", "Trade Winds")
    assert code == 0, err
    path = blank_site / out.strip()
    assert len(path.stem) <= 80 and path.stem.startswith("pyongyang-tests-another-missile-")
    assert front_matter(path)["title"] == title  # the title itself stays whole
    assert "slug" not in front_matter(path)


def test_new_refuses_a_slug_beyond_the_cap(blank_site):
    code, out, err = new_post(blank_site, "Tariffs", "--section", "Trade Winds",
                              "--slug", "tariff-" * 20 + "talk")
    assert code == 1
    assert "keep it to 80 or fewer" in err and "Traceback" not in err
    assert not (blank_site / "content/posts").exists()
