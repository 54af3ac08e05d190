"""Standing pages: built at clean URLs, linked from the footer, never listed as posts."""

from __future__ import annotations

import feedparser
import lxml.etree

from conftest import ABOUT_PAGE, MINIMAL_CONFIG, build_in_process, parse_html, post_text

SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def footer_links(page_path):
    doc = parse_html(page_path)
    return [(a.text_content().strip(), a.get("href"))
            for a in doc.xpath("//footer//nav[@aria-label='Publication']//a")]


def test_every_demo_footer_link_lands_on_a_built_page(demo_output):
    links = footer_links(demo_output / "index.html")
    assert [label for label, _ in links] == [
        "About Us", "Masthead", "Submissions", "Advertise", "Customer Service"]
    for label, href in links:
        page = demo_output / href.strip("/") / "index.html"
        assert page.is_file(), f"{label} -> {href} is not built"
        assert parse_html(page).xpath("string(//main//h1)").strip() == label


def test_masthead_links_each_author_to_a_built_author_page(demo_output):
    doc = parse_html(demo_output / "masthead" / "index.html")
    authors = [a.get("href") for a in doc.xpath("//main//a[contains(@href, '/authors/')]")]
    assert len(authors) == 3
    for href in authors:
        assert (demo_output / href.strip("/") / "index.html").is_file(), href


def test_demo_pages_never_appear_in_feeds_or_listings(demo_output):
    page_urls = {"https://marginalnote.example/about/", "https://marginalnote.example/masthead/"}
    for feed in demo_output.rglob("feed.xml"):
        parsed = feedparser.parse(feed.read_bytes())
        assert parsed.bozo == 0
        assert page_urls.isdisjoint(entry.link for entry in parsed.entries), feed
    listings = [demo_output / "index.html", demo_output / "archive" / "index.html",
                *demo_output.glob("tags/*/index.html"), *demo_output.glob("authors/*/index.html")]
    for listing in listings:
        hrefs = parse_html(listing).xpath("//main//a/@href")
        assert "/about/" not in hrefs and "/masthead/" not in hrefs, listing


def test_demo_pages_are_in_the_sitemap(demo_output):
    locs = lxml.etree.parse(str(demo_output / "sitemap.xml")).xpath(
        "//s:loc/text()", namespaces=SITEMAP_NS)
    for slug in ("about", "masthead", "submissions", "advertise", "customer-service"):
        assert f"https://marginalnote.example/{slug}/" in locs


def test_footer_is_built_from_pages_when_site_toml_lists_no_links(make_site):
    config = MINIMAL_CONFIG.replace('[[footer_links]]\nlabel = "About Us"\nurl = "/about/"\n', "")
    site = make_site({
        "site.toml": config,
        "content/pages/b.md": '---\ntitle: "Second"\nmenu: footer\norder: 2\n---\nB\n',
        "content/pages/a.md": '---\ntitle: "First"\nmenu: footer\norder: 1\n---\nA\n',
        "content/pages/h.md": '---\ntitle: "Tips"\nmenu: header\n---\nSend tips.\n',
        "content/posts/p.md": post_text("A Post"),
    })
    assert build_in_process(site).returncode == 0
    assert footer_links(site / "output" / "index.html") == [("First", "/a/"), ("Second", "/b/")]
    nav = parse_html(site / "output" / "index.html").xpath("//header//nav//a/@href")
    assert "/h/" in nav


def test_page_and_post_claiming_one_url_is_an_error_naming_both(make_site):
    config = MINIMAL_CONFIG.replace('permalink', '#').replace(
        'posts_per_page = 2', 'posts_per_page = 2\npermalink = "/{slug}/"')
    site = make_site({
        "site.toml": config,
        "content/pages/about.md": ABOUT_PAGE,
        "content/pages/clash.md": '---\ntitle: "Clash"\n---\nPage.\n',
        "content/posts/clash.md": post_text("Clash"),
    })
    result = build_in_process(site)
    assert result.returncode == 1
    assert "content/pages/clash.md" in result.stderr and "content/posts/clash.md" in result.stderr
    assert not (site / "output").exists()


def test_two_pages_claiming_one_url_is_an_error_naming_both(make_site):
    site = make_site({
        "content/pages/about.md": ABOUT_PAGE,
        "content/pages/team.md": '---\ntitle: "Team"\nurl: /about/\n---\nUs.\n',
    })
    result = build_in_process(site)
    assert result.returncode == 1
    assert "content/pages/about.md" in result.stderr and "content/pages/team.md" in result.stderr


def test_page_front_matter_is_checked_and_escaped(make_site):
    site = make_site({"content/pages/about.md": ABOUT_PAGE,
                      "content/pages/x.md": '---\ntitle: "<script>x</script>"\nmenue: footer\n---\n'})
    result = build_in_process(site)
    assert result.returncode == 1
    assert "content/pages/x.md:3:" in result.stderr and 'did you mean "menu"' in result.stderr
    site_ok = site / "content" / "pages" / "x.md"
    site_ok.write_text('---\ntitle: "<script>x</script>"\n---\n', encoding="utf-8")
    assert build_in_process(site).returncode == 0
    doc = parse_html(site / "output" / "x" / "index.html")
    assert doc.xpath("//main//script") == []
    assert doc.xpath("string(//main//h1)") == "<script>x</script>"
