"""What a reader finds around the posts: the archive, tags and feeds linked from every
page, times with their zone, page titles, labels and the favicon."""

from __future__ import annotations

from pathlib import Path

import feedparser
import html5lib
import lxml.etree
import pytest

from conftest import MINIMAL_CONFIG, blog_files, build_in_process, post_text, write_site

SUMMER_POST = "/2016/06/29/summer-drills/"
PAGES = {"post": SUMMER_POST, "home": "/", "home, page 2": "/page/2/",
         "section": "/north-korea-fallout/", "tag": "/tags/korea/", "tag index": "/tags/",
         "author": "/authors/ann-writer/", "standing page": "/about/",
         "archive": "/archive/", "year archive": "/2016/", "month archive": "/2016/06/",
         "404": "/404.html"}
LISTING_FEEDS = {"/": "feed.xml", "/page/2/": "feed.xml",
                 "/north-korea-fallout/": "north-korea-fallout/feed.xml",
                 "/north-korea-fallout/page/2/": "north-korea-fallout/feed.xml",
                 "/trade-winds/": "trade-winds/feed.xml", "/tags/korea/": "tags/korea/feed.xml"}


def news_site() -> dict[str, str]:
    posts = {
        "summer-drills": post_text("Summer Drills", date="2016-06-29T16:40:00-04:00",
                            tags="[Korea]", author='"Ann Writer"'),
        "winter-launch": post_text("Winter Launch", date="2016-01-10T09:00:00-05:00",
                            tags="[Korea]", author='"Ann Writer"'),
        "spring-talks": post_text("Spring Talks", date="2016-04-02T12:00:00-04:00", tags="[Korea]"),
        "tariff-week": post_text("Tariff Week", section="Trade Winds",
                           date="2016-06-20T09:00:00-04:00", tags="[Korea, Trade]"),
    }
    return blog_files({f"content/posts/{name}.md": text for name, text in posts.items()})


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    """The same site built at the root of a host and under /blog/: {base path: output}."""
    built = {}
    for base_path in ("/", "/blog/"):
        config = MINIMAL_CONFIG.replace('"https://example.org/"',
                                        f'"https://example.org{base_path}"')
        site = write_site(tmp_path_factory.mktemp("nav"), {**news_site(), "site.toml": config})
        result = build_in_process(site)
        assert result.returncode == 0, result.stderr
        built[base_path] = site / "output"
    return built


@pytest.fixture(scope="module")
def output(outputs) -> Path:
    return outputs["/"]


def output_file(output: Path, url: str) -> Path:
    return output / (url.lstrip("/") + "index.html" if url.endswith("/") else url.lstrip("/"))


def parse(path: Path):
    return html5lib.parse(path.read_bytes(), treebuilder="lxml",
                          namespaceHTMLElements=False).getroot()


def reader_pages(output: Path) -> list[Path]:
    """Every HTML page but the alias redirects."""
    return [path for path in sorted(output.rglob("*.html"))
            if not parse(path).xpath("//meta[@http-equiv='refresh']")]


def text_of(element) -> str:
    return " ".join("".join(element.itertext()).split())


@pytest.mark.parametrize("base_path", ["/", "/blog/"])
def test_archive_and_tags_are_linked_from_every_kind_of_page(outputs, base_path):
    output = outputs[base_path]
    for kind, url in PAGES.items():
        path = output_file(output, url)
        assert path.is_file(), f"the fixture builds no {kind} page at {url}"
        footer = parse(path).xpath("//footer")[0]
        links = {a.get("href"): text_of(a) for a in footer.xpath(".//nav//a")}
        assert links.get(f"{base_path}archive/") == "Archive", (kind, links)
        assert links.get(f"{base_path}tags/") == "Tags", (kind, links)
    assert (output / "archive" / "index.html").is_file()
    assert (output / "tags" / "index.html").is_file()


@pytest.mark.parametrize("base_path", ["/", "/blog/"])
def test_footer_links_the_site_feed_on_every_page(outputs, base_path):
    output = outputs[base_path]
    for path in reader_pages(output):
        hrefs = parse(path).xpath("//footer//a/@href")
        assert f"{base_path}feed.xml" in hrefs, path
    assert feedparser.parse((output / "feed.xml").read_bytes()).bozo == 0


@pytest.mark.parametrize("base_path", ["/", "/blog/"])
@pytest.mark.parametrize("listing, feed", LISTING_FEEDS.items())
def test_each_listing_shows_a_link_to_its_own_feed(outputs, base_path, listing, feed):
    output = outputs[base_path]
    main = parse(output_file(output, listing)).xpath("//main")[0]
    links = [a for a in main.xpath(".//a[@href]") if a.get("href") == base_path + feed]
    assert len(links) == 1, f"{listing}: {main.xpath('.//a/@href')}"
    assert "feed" in text_of(links[0]).lower()
    assert not links[0].xpath("ancestor-or-self::*[@hidden or contains(@class, 'hidden')]")
    parsed = feedparser.parse((output / feed).read_bytes())
    assert parsed.bozo == 0 and parsed.entries


def test_a_listing_without_a_feed_links_to_none(output):
    main = parse(output_file(output, PAGES["author"])).xpath("//main")[0]
    assert not main.xpath(".//a[contains(@href, 'feed.xml') or contains(@href, 'atom.xml')]")


def test_post_time_shows_its_zone_and_keeps_the_offset(output):
    for url, shown, machine in [
            (SUMMER_POST, "June 29, 2016, 4:40 PM EDT", "2016-06-29T16:40:00-04:00"),
            ("/2016/01/10/winter-launch/", "January 10, 2016, 9:00 AM EST",
             "2016-01-10T09:00:00-05:00")]:
        [time] = parse(output_file(output, url)).xpath("//article//p[@class='meta']//time")
        assert (text_of(time), time.get("datetime")) == (shown, machine)


def test_post_date_links_to_its_month(output):
    [link] = parse(output_file(output, SUMMER_POST)).xpath("//a[@class='date']")
    assert link.get("href") == "/2016/06/" and link.xpath("time")


def test_section_listing_leaves_out_its_own_label(output):
    def labels(url: str) -> list[str]:
        return parse(output_file(output, url)).xpath(
            "//main//article[contains(@class, 'summary')]"
            "//*[contains(@class, 'section-label')]//a/@href")

    assert labels("/north-korea-fallout/") == [] == labels("/trade-winds/")
    assert parse(output_file(output, "/north-korea-fallout/")).xpath(
        "//main//article[contains(@class, 'summary')]//h2/a")
    assert labels("/") == ["/north-korea-fallout/", "/trade-winds/"]
    assert labels("/tags/korea/") == ["/north-korea-fallout/", "/trade-winds/"]
    assert parse(output_file(output, SUMMER_POST)).xpath(
        "//article//*[contains(@class, 'section-label')]//a/@href") == ["/north-korea-fallout/"]


def test_year_archive_separates_each_title_from_its_section(output):
    items = parse(output_file(output, "/2016/")).xpath("//main//ul[@class='archive-list']/li")
    assert [text_of(li) for li in items][:2] == [
        "Jun 29 Summer Drills \u00b7 North Korea Fallout",
        "Jun 20 Tariff Week \u00b7 Trade Winds"]


def test_later_pages_of_a_listing_are_titled_by_their_number(output):
    def title(url: str) -> str:
        return text_of(parse(output_file(output, url)).xpath("//head/title")[0])

    assert title("/") == "Test Blog"
    assert title("/page/2/") == "Page 2 | Test Blog"
    assert title("/north-korea-fallout/") == "North Korea Fallout | Test Blog"
    assert title("/north-korea-fallout/page/2/") == "North Korea Fallout, page 2 | Test Blog"


@pytest.mark.parametrize("base_path", ["/", "/blog/"])
def test_every_page_links_the_default_favicon(outputs, base_path):
    output = outputs[base_path]
    pages = reader_pages(output)
    assert len(pages) > 15
    for path in pages:
        assert parse(path).xpath("//head/link[@rel='icon']/@href") == [
            f"{base_path}favicon.svg"], path
    svg = lxml.etree.parse(str(output / "favicon.svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize("setting, href, built", [
    ("theme/icons/mark.png", "/icons/mark.png", "icons/mark.png"),
    ("content/images/mark.png", "/images/mark.png", "images/mark.png"),
    ("https://cdn.example/mark.png", "https://cdn.example/mark.png", None),
])
def test_favicon_setting_chooses_the_icon(make_blog, setting, href, built):
    png = b"\x89PNG\r\n\x1a\nmark"
    config = MINIMAL_CONFIG.replace("posts_per_page = 2",
                                    f'posts_per_page = 2\nfavicon = "{setting}"')
    site = make_blog({"site.toml": config, "theme/icons/mark.png": png,
                      "content/images/mark.png": png,
                      "content/posts/a.md": post_text("Alpha")})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    for path in reader_pages(site / "output"):
        assert parse(path).xpath("//head/link[@rel='icon']/@href") == [href], path
    if built:
        assert (site / "output" / built).read_bytes() == png


def test_missing_favicon_stops_the_build_at_its_line(make_blog):
    config = MINIMAL_CONFIG.replace("posts_per_page = 2",
                                    'posts_per_page = 2\nfavicon = "theme/nothing.png"')
    site = make_blog({"site.toml": config, "content/posts/a.md": post_text("Alpha")})
    result = build_in_process(site)
    assert result.returncode == 2
    line = config.splitlines().index('favicon = "theme/nothing.png"') + 1
    assert f"site.toml:{line}:" in result.stderr and "theme/nothing.png" in result.stderr
    assert not (site / "output").exists()


def test_a_sites_own_summary_sees_each_listing_pages_variables(tmp_path):
    """The engine's summary is rendered once per post and section; a site's own may use
    anything its listing page has, so it is rendered on every page that shows the post."""
    summary = ('<article class="summary"><h2>{{ item.title }}</h2>'
               '<p class="shown-on">{{ page_url }} {{ pager.number }}</p></article>\n')
    site = write_site(tmp_path, {**news_site(), "layouts/partials/summary.html": summary})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    for url in ("/", "/page/2/", "/north-korea-fallout/", "/north-korea-fallout/page/2/",
                "/tags/korea/", "/tags/korea/page/2/", "/authors/ann-writer/"):
        shown = parse(output_file(site / "output", url)).xpath(
            "//p[@class='shown-on']/text()")
        number = url.rstrip("/").rpartition("/")[2] if "/page/" in url else "1"
        assert shown and set(shown) == {f"{url} {number}"}, url
