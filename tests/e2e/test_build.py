"""End-to-end: build the demo site and inline fixture sites, then read the output as a reader would."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pytest

from conftest import (BUILD_SCRIPT, MINIMAL_CONFIG, SPEC_FRONT_MATTER, build_in_process,
                      parse_html, post_text, run_build, tree_snapshot, write_site)

DEMO_BASE = "https://marginalnote.example"
SPEC_POST = "2016/06/29/us-brings-south-korea-and-japan-together-for-missile-defense-drills"
ICBM_POST = "2017/07/05/an-icbm-on-independence-day-changes-the-math"
SATELLITE_POST = "2016/02/08/satellite-launch-tests-the-patience-of-beijing"
TPP_POST = "2016/03/17/what-the-trans-pacific-partnership-debate-is-really-about"
STEEL_POST = "2017/06/29/steel-buyers-are-not-waiting-for-the-report"  # a linked post
STEEL_LINK = "https://www.reuters.com/"
DEMO_FOOTER = [("About Us", "/about/"), ("Masthead", "/masthead/"),
               ("Submissions", "/submissions/"), ("Advertise", "/advertise/"),
               ("Customer Service", "/customer-service/")]
CONTENT_NS = {"content": "http://purl.org/rss/1.0/modules/content/"}

SPEC_FILE = f"content/posts/{SPEC_POST.rsplit('/', 1)[1]}.md"  # the file gives the slug
SPEC_EXAMPLE = SPEC_FRONT_MATTER + """\

The body of the post.
"""

ABOUT_PAGE = '---\ntitle: "About Us"\n---\nWho we are.\n'


# --- helpers -------------------------------------------------------------------------

def page(output: Path, url_path: str):
    """Parse the page at a site URL path such as '' or 'north-korea-fallout/page/2'."""
    return parse_html(output / url_path.strip("/") / "index.html" if url_path.strip("/")
                      else output / "index.html")


def feed(path: Path):
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def listing_urls(doc) -> list[str]:
    """The post URL of each summary: a linked post's headline leads out, its last link home."""
    return doc.xpath("//main//article[contains(@class,'summary')]//h2/a[last()]/@href")


def listing_dates(doc) -> list[datetime]:
    return [datetime.fromisoformat(d) for d in
            doc.xpath("//main//article[contains(@class,'summary')]//time/@datetime")]


def in_document_order(doc, elements) -> bool:
    order = {el: index for index, el in enumerate(doc.iter())}
    positions = [order[el] for el in elements]
    return positions == sorted(positions)


def one(doc, xpath: str):
    found = doc.xpath(xpath)
    assert len(found) == 1, f"{xpath} matched {len(found)} elements"
    return found[0]


def footer_of(doc) -> tuple[str, list[tuple[str, str]]]:
    footer = one(doc, "//footer")
    copyright_text = " ".join(footer.xpath("string(.//*[contains(@class,'copyright')])").split())
    links = [(a.text_content().strip(), a.get("href"))
             for a in footer.xpath(".//nav[@aria-label='Publication']//a")]
    return copyright_text, links


def html_files(output: Path) -> list[Path]:
    """Every reader-facing page: alias redirect stubs (meta refresh) are left out."""
    return [path for path in sorted(output.rglob("*.html"))
            if not parse_html(path).xpath("//meta[@http-equiv='refresh']")]


def build_ok(site: Path, *args: str, now: str | None = "2030-01-01T00:00:00Z") -> Path:
    result = build_in_process(site, *args, now=now)
    assert result.returncode == 0, result.stderr
    return Path(args[args.index("--output") + 1]) if "--output" in args else site / "output"


def news_posts() -> dict[str, str]:
    """Five posts in one section, two in another, and the page the footer links to."""
    files = {"content/pages/about.md": ABOUT_PAGE}
    for n in range(1, 6):
        extra = {"comments": "false"} if n == 4 else {}
        files[f"content/posts/north-{n}.md"] = post_text(
            title=f"North {n}", date=f"2016-0{n}-10T09:00:00-05:00", dek=f'"Dek {n}"',
            author='"Ann Writer"', sources="\n  - name: Wire\n    url: https://wire.example/",
            tags="[Korea]", body=f"North body {n}.\n", **extra)
    files["content/posts/trade-1.md"] = post_text(
        title="Trade 1", section="Trade Winds", date="2016-02-20T09:00:00-05:00",
        body="See [the first](north-1.md#top) and ![chart](chart.png).\n")
    files["content/posts/trade-2.md"] = post_text(
        title="Trade 2", section="Trade Winds", date="2016-06-20T09:00:00-05:00")
    files["content/posts/chart.png"] = b"\x89PNG\r\n\x1a\n"
    return files


@pytest.fixture(scope="module")
def news_output(tmp_path_factory) -> Path:
    site = write_site(tmp_path_factory.mktemp("news") / "site", news_posts())
    return build_ok(site)


# --- the demo site -------------------------------------------------------------------

def test_demo_post_anatomy_in_order(demo_output):
    doc = page(demo_output, ICBM_POST)
    article = one(doc, "//main//article[contains(@class,'post')]")
    label = one(article, ".//*[contains(@class,'section-label')]//a")
    title = one(article, ".//h1")
    dek = one(article, ".//*[contains(@class,'dek')]")
    byline = one(article, ".//*[contains(@class,'byline')]")
    time = one(article, "(.//*[contains(@class,'meta')]//time)[1]")
    body = one(article, ".//*[contains(@class,'post-body')]")
    sources = one(article, ".//*[contains(@class,'sources')]")
    tags = one(article, ".//*[contains(@class,'tags')]")
    comments = one(article, ".//details[contains(@class,'comments')]")
    neighbours = one(article, ".//*[contains(@class,'post-neighbours')]")
    assert in_document_order(doc, [label, title, dek, byline, time, body, sources, tags,
                                   comments, neighbours])
    assert label.get("href") == "/north-korea-fallout/"
    assert label.text_content() == "North Korea Fallout"
    assert title.text_content() == "An ICBM on Independence Day Changes the Math"
    assert "Priya Raman" in byline.text_content()
    assert time.get("datetime") == "2017-07-05T10:10:00-04:00"
    assert sources.xpath(".//li/a/@href") == ["https://en.yna.co.kr/",
                                              "https://www.japantimes.co.jp/"]
    assert [a.text_content() for a in tags.xpath(".//a")] == [
        "North Korea", "ICBM", "Missile Defense", "United States"]
    assert comments.xpath("string(summary)").strip() == "Show comments"
    assert comments.get("open") is None  # closed until the reader asks


def test_demo_spec_example_post(demo_output):
    doc = page(demo_output, SPEC_POST)
    article = one(doc, "//main//article[contains(@class,'post')]")
    assert one(article, ".//h1").text_content() == (
        "U.S. Brings South Korea and Japan Together for Missile Defense Drills")
    assert one(article, ".//*[contains(@class,'dek')]").text_content() == (
        "Two reluctant allies are being pushed together.")
    assert one(article, "(.//time)[1]").get("datetime") == "2016-06-29T16:40:00-04:00"
    [source] = article.xpath(".//*[contains(@class,'sources')]//a")
    assert (source.text_content(), source.get("href")) == ("The Japan Times",
                                                          "https://www.japantimes.co.jp/")
    assert article.xpath(".//*[contains(@class,'tags')]//a/@href") == [
        "/tags/north-korea/", "/tags/japan/", "/tags/south-korea/", "/tags/missile-defense/"]
    assert article.xpath(".//details[contains(@class,'comments')]")
    # Neighbours come from the same section, skipping the Trade Winds post in between.
    assert article.xpath(".//a[@rel='prev']/@href") == [f"/{SATELLITE_POST}/"]
    assert article.xpath(".//a[@rel='next']/@href") == [f"/{ICBM_POST}/"]


def test_demo_oldest_and_newest_posts_have_one_neighbour(demo_output):
    oldest = page(demo_output, SATELLITE_POST)
    assert not oldest.xpath("//article//a[@rel='prev']")
    assert oldest.xpath("//article//a[@rel='next']/@href") == [f"/{SPEC_POST}/"]
    newest = page(demo_output, "2017/09/11/new-sanctions-leave-the-oil-tap-half-open")
    assert not newest.xpath("//article//a[@rel='next']")


def test_demo_comments_false_post_has_no_toggle(demo_output):
    doc = page(demo_output, TPP_POST)
    assert doc.xpath("//article[contains(@class,'post')]//h1")
    assert not doc.xpath("//details")
    assert page(demo_output, SPEC_POST).xpath("//details[contains(@class,'comments')]")


def test_demo_footer_on_every_page(demo_output):
    pages = html_files(demo_output)
    assert len(pages) > 20
    for path in pages:
        copyright_text, links = footer_of(parse_html(path))
        assert copyright_text == "\u00a9 Marginal Note Media LLC 2005\u20132017", path
        assert links == DEMO_FOOTER, path


def test_demo_home_is_paginated_newest_first(demo_output):
    pages = [page(demo_output, ""), page(demo_output, "page/2"), page(demo_output, "page/3")]
    assert [len(listing_urls(doc)) for doc in pages] == [5, 5, 1]
    dates = [d for doc in pages for d in listing_dates(doc)]
    assert dates == sorted(dates, reverse=True)
    assert not (demo_output / "page" / "1").exists()
    assert not (demo_output / "page" / "4").exists()
    assert pages[0].xpath("//a[@rel='next']/@href") == ["/page/2/"]
    assert pages[1].xpath("//a[@rel='prev']/@href") == ["/"]


@pytest.mark.parametrize("section, count", [("north-korea-fallout", 4), ("trade-winds", 4),
                                            ("capitol-ledger", 3)])
def test_demo_section_index_lists_its_posts_newest_first(demo_output, section, count):
    doc = page(demo_output, section)
    dates = listing_dates(doc)
    assert len(dates) == count and dates == sorted(dates, reverse=True)
    labels = doc.xpath("//main//article[contains(@class,'summary')]"
                       "//*[contains(@class,'section-label')]")
    assert labels == []  # the page is the section's own: no label repeats it


def test_demo_relative_md_link_becomes_the_permalink(demo_output):
    doc = page(demo_output, ICBM_POST)
    hrefs = doc.xpath("//*[contains(@class,'post-body')]//a/@href")
    assert f"/{SPEC_POST}/" in hrefs
    assert not [h for h in hrefs if h.endswith(".md")]


@pytest.mark.parametrize("feed_path, section", [
    ("feed.xml", None), ("north-korea-fallout/feed.xml", "North Korea Fallout"),
    ("trade-winds/feed.xml", "Trade Winds"), ("capitol-ledger/feed.xml", "Capitol Ledger")])
def test_demo_feeds(demo_output, feed_path, section):
    parsed = feed(demo_output / feed_path)
    entries = parsed.entries
    assert entries
    dates = [parsedate_to_datetime(e.published) for e in entries]
    assert dates == sorted(dates, reverse=True)
    for entry in entries:
        assert entry.id.startswith(DEMO_BASE + "/")
        assert entry.link == (STEEL_LINK if entry.id == f"{DEMO_BASE}/{STEEL_POST}/"
                              else entry.id)
        assert (demo_output / entry.id[len(DEMO_BASE) + 1:] / "index.html").is_file()
        if section:
            assert section in [t.term for t in entry.tags]
    listing = feed_path.removesuffix("feed.xml")
    urls = listing_urls(page(demo_output, listing))
    if not listing:
        urls += listing_urls(page(demo_output, "page/2")) + listing_urls(page(demo_output,
                                                                              "page/3"))
    assert [e.id for e in entries] == [DEMO_BASE + url for url in urls]
    root = lxml.etree.fromstring((demo_output / feed_path).read_bytes())
    last_build = parsedate_to_datetime(root.findtext("channel/lastBuildDate"))
    assert last_build.year == 2017  # from the content, not the clock


def test_demo_site_feed_has_every_post_with_pub_dates_from_the_posts(demo_output):
    parsed = feed(demo_output / "feed.xml")
    assert len(parsed.entries) == 11
    by_link = {e.link: e for e in parsed.entries}
    spec = by_link[f"{DEMO_BASE}/{SPEC_POST}/"]
    assert parsedate_to_datetime(spec.published).isoformat() == "2016-06-29T16:40:00-04:00"
    doc = page(demo_output, SPEC_POST)
    published = doc.xpath("//article//time/@datetime")[0]
    assert parsedate_to_datetime(spec.published) == datetime.fromisoformat(published)


def test_demo_feed_content_has_absolute_links(demo_output):
    root = lxml.etree.fromstring((demo_output / "feed.xml").read_bytes())
    for encoded in root.xpath("//item/content:encoded/text()", namespaces=CONTENT_NS):
        html = lxml.html.fragment_fromstring(encoded, create_parent="div")
        for url in html.xpath("//a/@href | //img/@src"):
            assert url.startswith(("https://", "http://", "mailto:")), url
    icbm = root.xpath(f"//item[link='{DEMO_BASE}/{ICBM_POST}/']/content:encoded/text()",
                      namespaces=CONTENT_NS)[0]
    assert f"{DEMO_BASE}/{SPEC_POST}/" in lxml.html.fragment_fromstring(
        icbm, create_parent="div").xpath("//a/@href")


# --- fixture sites -------------------------------------------------------------------

def test_spec_front_matter_builds_alone(make_blog):
    output = build_ok(make_blog({SPEC_FILE: SPEC_EXAMPLE}))
    doc = page(output, SPEC_POST)
    assert one(doc, "//h1").text_content().startswith("U.S. Brings")
    assert doc.xpath("string(//*[contains(@class,'post-body')])").strip() == (
        "The body of the post.")
    assert feed(output / "feed.xml").entries[0].link == f"https://example.org/{SPEC_POST}/"


def test_section_index_is_paginated_newest_first(news_output):
    pages = [page(news_output, "north-korea-fallout"),
             page(news_output, "north-korea-fallout/page/2"),
             page(news_output, "north-korea-fallout/page/3")]
    titles = [t for doc in pages
              for t in doc.xpath("//main//article[contains(@class,'summary')]//h2/a/text()")]
    assert titles == ["North 5", "North 4", "North 3", "North 2", "North 1"]
    assert not (news_output / "north-korea-fallout" / "page" / "1").exists()
    assert not (news_output / "north-korea-fallout" / "page" / "4").exists()
    assert pages[1].xpath("//nav[contains(@class,'pagination')]//a/@href") == [
        "/north-korea-fallout/", "/north-korea-fallout/page/3/"]
    assert listing_urls(page(news_output, "trade-winds")) == [
        "/2016/06/20/trade-2/", "/2016/02/20/trade-1/"]


def test_home_is_paginated_the_same_way(news_output):
    docs = [page(news_output, ""), page(news_output, "page/2"), page(news_output, "page/3"),
            page(news_output, "page/4")]
    dates = [d for doc in docs for d in listing_dates(doc)]
    assert len(dates) == 7 and dates == sorted(dates, reverse=True)
    assert [len(listing_urls(doc)) for doc in docs] == [2, 2, 2, 1]
    assert not (news_output / "page" / "1").exists()
    assert not (news_output / "page" / "5").exists()


def test_footer_years_come_from_the_content_not_the_clock(news_output):
    for path in html_files(news_output):
        assert footer_of(parse_html(path)) == (
            "\u00a9 Example Media LLC 2010\u20132016", [("About Us", "/about/")]), path


def test_comments_false_post_has_no_toggle_but_others_do(news_output):
    assert not page(news_output, "2016/04/10/north-4").xpath("//details")
    toggle = page(news_output, "2016/05/10/north-5").xpath(
        "//details[contains(@class,'comments')]/summary")
    assert [s.text_content().strip() for s in toggle] == ["Show comments"]


def test_neighbours_stay_in_the_section(news_output):
    doc = page(news_output, "2016/02/10/north-2")  # Trade 1 is newer, but in another section
    assert doc.xpath("//article//a[@rel='prev']/@href") == ["/2016/01/10/north-1/"]
    assert doc.xpath("//article//a[@rel='next']/@href") == ["/2016/03/10/north-3/"]


def test_provider_none_shows_no_toggle_anywhere(make_blog):
    config = MINIMAL_CONFIG.split("[comments]")[0] + '[comments]\nprovider = "none"\n'
    output = build_ok(make_blog({"site.toml": config, **news_posts()}))
    for path in html_files(output):
        doc = parse_html(path)
        assert not doc.xpath("//details[contains(@class,'comments')]"), path
        assert not [s for s in doc.xpath("//script/@src") if "comments" in s], path


def test_relative_md_link_resolves_on_the_page_and_absolutely_in_the_feed(news_output):
    doc = page(news_output, "2016/02/20/trade-1")
    body = one(doc, "//*[contains(@class,'post-body')]")
    assert body.xpath(".//a/@href") == ["/2016/01/10/north-1/#top"]
    assert body.xpath(".//img/@src") == ["/posts/chart.png"]
    assert (news_output / "posts" / "chart.png").read_bytes() == b"\x89PNG\r\n\x1a\n"
    root = lxml.etree.fromstring((news_output / "trade-winds" / "feed.xml").read_bytes())
    [encoded] = root.xpath("//item[title='Trade 1']/content:encoded/text()",
                           namespaces=CONTENT_NS)
    html = lxml.html.fragment_fromstring(encoded, create_parent="div")
    assert html.xpath("//a/@href") == ["https://example.org/2016/01/10/north-1/#top"]
    assert html.xpath("//img/@src") == ["https://example.org/posts/chart.png"]


def test_site_feed_items_newest_first_with_permalinks(news_output):
    parsed = feed(news_output / "feed.xml")
    assert [e.title for e in parsed.entries] == [
        "Trade 2", "North 5", "North 4", "North 3", "Trade 1", "North 2", "North 1"]
    for entry in parsed.entries:
        assert entry.id == entry.link and entry.link.startswith("https://example.org/20")
    section = feed(news_output / "north-korea-fallout" / "feed.xml")
    assert [e.title for e in section.entries] == [f"North {n}" for n in range(5, 0, -1)]


def test_feed_item_limit_and_summary_only(make_blog):
    config = MINIMAL_CONFIG + "\n[feed]\nitems = 3\nfull_content = false\n"
    output = build_ok(make_blog({"site.toml": config, **news_posts()}))
    parsed = feed(output / "feed.xml")
    assert [e.title for e in parsed.entries] == ["Trade 2", "North 5", "North 4"]
    root = lxml.etree.fromstring((output / "feed.xml").read_bytes())
    assert root.xpath("//content:encoded", namespaces=CONTENT_NS) == []
    assert root.findtext("channel/item/description") == "Some words."


def test_last_build_date_comes_from_the_content(make_blog):
    site = make_blog({"content/posts/a.md": post_text(date="2016-06-29T16:40:00-04:00",
                                                      updated="2016-07-01T08:00:00-04:00"),
                      "content/posts/b.md": post_text(title="B", date="2016-06-30T10:00:00Z")})
    first = (build_ok(site, now="2030-01-01T00:00:00Z") / "feed.xml").read_bytes()
    second = (build_ok(site, now="2031-06-01T12:00:00Z") / "feed.xml").read_bytes()
    assert first == second
    root = lxml.etree.fromstring(first)
    assert parsedate_to_datetime(root.findtext("channel/lastBuildDate")).isoformat() == \
        "2016-07-01T08:00:00-04:00"


def test_naive_dates_are_read_in_the_site_timezone(make_blog):
    # 23:30 in New York on 29 June is already 30 June in UTC.
    output = build_ok(make_blog({"content/posts/a.md": post_text(date="2016-06-29 23:30")}))
    doc = page(output, "2016/06/29/a")
    assert doc.xpath("//article//time/@datetime")[0] == "2016-06-29T23:30:00-04:00"
    entry = feed(output / "feed.xml").entries[0]
    assert parsedate_to_datetime(entry.published).isoformat() == "2016-06-29T23:30:00-04:00"


def test_two_builds_are_byte_identical(make_blog, tmp_path):
    site = make_blog(news_posts())
    first = tree_snapshot(build_ok(site, "--output", str(tmp_path / "one")))
    build_ok(site, "--output", str(tmp_path / "two"), "--no-cache")
    assert tree_snapshot(tmp_path / "two") == first
    build_ok(site, "--output", str(tmp_path / "three"))  # from the parse cache
    assert tree_snapshot(tmp_path / "three") == first


def test_builds_are_identical_under_other_timezones_and_locales(make_blog, tmp_path):
    site = make_blog(news_posts())
    snapshots = []
    for index, (tz, lang) in enumerate([("Pacific/Kiritimati", "C.UTF-8"),
                                        ("America/Los_Angeles", "tr_TR.UTF-8")]):
        output = tmp_path / f"out{index}"
        env = {**os.environ, "TZ": tz, "LANG": lang, "LC_ALL": lang}
        result = _run_with_env(site, env, "--output", str(output))
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        snapshots.append(tree_snapshot(output))
    assert snapshots[0] == snapshots[1]


def _run_with_env(site: Path, env: dict[str, str], *args: str):
    return subprocess.run([sys.executable, str(BUILD_SCRIPT), "--site", str(site), *args],
                          capture_output=True, text=True, timeout=120, cwd=site, env=env)


def test_failed_build_leaves_the_previous_output_byte_identical(make_blog):
    site = make_blog(news_posts())
    output = build_ok(site)
    before = tree_snapshot(output)
    (site / "content/posts/north-3.md").write_text(post_text(date="2024-13-01"))
    result = build_in_process(site)
    assert result.returncode == 1
    assert tree_snapshot(output) == before


def test_rebuild_after_a_change_equals_a_clean_build(make_blog, tmp_path):
    site = make_blog(news_posts())
    build_ok(site)
    (site / "content/posts/north-2.md").write_text(post_text(title="North 2 Revised",
                                                        date="2016-02-10T09:00:00-05:00"))
    (site / "content/posts/trade-2.md").unlink()
    incremental = tree_snapshot(build_ok(site))
    clean = tmp_path / "clean"
    build_ok(site, "--output", str(clean), "--no-cache")
    assert incremental == tree_snapshot(clean)
    assert "trade-2" not in " ".join(incremental)


def test_missing_md_link_is_a_warning_with_file_and_line(make_blog):
    site = make_blog({"content/posts/a.md": post_text(body="First.\n\nSee [x](gone.md).\n")})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert ("warning: content/posts/a.md:8: link to 'gone.md': content/posts/gone.md does "
            "not exist") in result.stderr
    assert (site / "output/2016/06/29/a/index.html").is_file()


def test_base_url_option_changes_absolute_links(make_blog):
    output = build_ok(make_blog({"content/posts/a.md": post_text()}),
                      "--base-url", "https://preview.example/sub")
    doc = page(output, "2016/06/29/a")
    assert doc.xpath("//link[@rel='canonical']/@href") == [
        "https://preview.example/sub/2016/06/29/a/"]
    assert one(doc, "//*[contains(@class,'section-label')]//a").get("href") == \
        "/sub/north-korea-fallout/"
    assert feed(output / "feed.xml").entries[0].link == \
        "https://preview.example/sub/2016/06/29/a/"


def test_output_option_writes_elsewhere(make_blog, tmp_path):
    site = make_blog({"content/posts/a.md": post_text()})
    target = tmp_path / "elsewhere" / "public"
    build_ok(site, "--output", str(target))
    assert (target / "2016/06/29/a/index.html").is_file()
    assert not (site / "output").exists()


def test_drafts_option(make_blog):
    site = make_blog({"content/posts/a.md": post_text(),
                      "content/posts/draft.md": post_text(title="Draft", draft="true")})
    output = build_ok(site)
    assert not (output / "2016/06/29/draft").exists()
    assert [e.title for e in feed(output / "feed.xml").entries] == ["A Post"]
    output = build_ok(site, "--drafts")
    assert (output / "2016/06/29/draft/index.html").is_file()


def test_future_and_now_options(make_blog):
    site = make_blog({"content/posts/a.md": post_text(),
                      "content/posts/later.md": post_text(title="Later",
                                                      date="2026-03-01T09:00:00Z")})
    output = build_ok(site, now="2026-02-28T00:00:00Z")
    assert not (output / "2026").exists()
    assert footer_of(page(output, ""))[0] == "\u00a9 Example Media LLC 2010\u20132016"
    output = build_ok(site, "--future", now="2026-02-28T00:00:00Z")
    assert (output / "2026/03/01/later/index.html").is_file()
    output = build_ok(site, now="2026-03-01T09:00:00Z")
    assert (output / "2026/03/01/later/index.html").is_file()
    assert footer_of(page(output, ""))[0] == "\u00a9 Example Media LLC 2010\u20132026"


def test_bad_now_is_a_usage_error(make_blog):
    result = build_in_process(make_blog({"content/posts/a.md": post_text()}), now="tomorrow")
    assert result.returncode == 2
    assert "--now" in result.stderr


def test_cli_builds_the_demo_site_in_a_subprocess(demo_output):
    # demo_output ran build.py for real; check it left a complete, marked tree.
    assert (demo_output / ".marginalia-output").is_file()
    assert (demo_output / "404.html").is_file()
    assert not list(demo_output.parent.glob(".*staging*"))


def test_real_cli_exit_code_and_summary(make_blog):
    site = make_blog({"content/posts/a.md": post_text()})
    result = run_build(site, "--now", "2030-01-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "built 1 post (" in result.stdout
    assert (site / "output" / "index.html").is_file()
