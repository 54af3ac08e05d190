"""The search page in Chromium, with the site served under a path (/blog/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import MINIMAL_CONFIG, blog_files, post_text, run_build, serving, write_site
from marginalia.search import find_pagefind

from .conftest import QuietHandler
from .test_accessibility import blocking, describe

BASE = "/blog"
CONFIG = MINIMAL_CONFIG.replace('base_url = "https://example.org/"',
                                'base_url = "https://example.org/blog/"')
TARIFFS = "The commentary weighs the tariffs."
POSTS = {
    "content/posts/missile.md": post_text(
        title="Missile Drills", date="2016-06-29T16:40:00-04:00", tags="[North Korea]",
        body="The Japan Times:\n\n> Drills will go ahead.\n\n"
             "Only this commentary says zanzibar. " + TARIFFS + "\n"),
    "content/posts/steel.md": post_text(
        title="Steel Buyers", section="Trade Winds", date="2017-06-29T12:00:00-04:00",
        body="Reuters:\n\n> Orders move forward.\n\n" + TARIFFS + "\n"),
    "content/posts/farm.md": post_text(
        title="Farm States Brace", section="Trade Winds", date="2016-11-21T09:45:00-05:00",
        body="The Des Moines Register:\n\n> Soybean prices fell.\n\n" + TARIFFS + "\n"),
}

pytestmark = pytest.mark.skipif(find_pagefind() is None, reason="Pagefind is not installed")


class UnderPath(QuietHandler):
    """Serve the output folder at /blog/, and nothing outside it."""

    def translate_path(self, path: str) -> str:
        if path != BASE and not path.startswith(BASE + "/"):
            return str(Path(self.directory) / "no-such-file")
        return super().translate_path(path[len(BASE):] or "/")


@pytest.fixture(scope="module")
def blog_url(tmp_path_factory) -> Iterator[str]:
    site = write_site(tmp_path_factory.mktemp("search") / "site",
                      blog_files({"site.toml": CONFIG, **POSTS}))
    result = run_build(site, "--now", "2030-01-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    with serving(UnderPath, site / "output") as port:
        yield f"http://127.0.0.1:{port}{BASE}"


def search(page, blog_url: str, words: str) -> None:
    """Type words into the search page as a reader would; wait for the results."""
    page.goto(f"{blog_url}/search/")
    page.get_by_label("Search posts and pages").fill(words)
    page.wait_for_function("""() => {
        const said = document.querySelector('#search-status').textContent;
        const items = [...document.querySelectorAll('.search-results li')];
        // An item is filled in when its page's data has arrived.
        return said.startsWith('No results') || (said.includes('result') &&
            items.length > 0 && items.every(item => item.querySelector('h2 a')));
    }""")


def result_links(page) -> list[str]:
    return page.locator(".search-results h2 a").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))")


def test_a_word_from_one_commentary_finds_that_post_with_the_match_marked(open_page,
                                                                          blog_url):
    page = open_page()
    search(page, blog_url, "zanzibar")
    assert page.locator("#search-status").inner_text() == "1 result for \u201czanzibar\u201d"
    assert result_links(page) == [f"{BASE}/2016/06/29/missile/"]
    first = page.locator(".search-results li").first
    assert first.locator("h2").inner_text() == "Missile Drills"
    # Pagefind marks the whole word as it was written, its full stop included.
    assert first.locator(".search-excerpt mark").all_inner_texts() == ["zanzibar."]
    assert first.locator("time").get_attribute("datetime") == "2016-06-29"
    assert first.locator("time").inner_text() == "June 29, 2016"
    first.locator("h2 a").click()
    page.wait_for_url(f"{blog_url}/2016/06/29/missile/")
    assert not page.external_requests()


def test_a_section_filter_narrows_the_results(open_page, blog_url):
    page = open_page()
    search(page, blog_url, "tariffs")
    assert len(result_links(page)) == 3
    page.get_by_label("Section", exact=True).select_option("Trade Winds")
    page.wait_for_function("document.querySelectorAll('.search-results li').length === 2")
    assert sorted(result_links(page)) == [f"{BASE}/2016/11/21/farm/",
                                          f"{BASE}/2017/06/29/steel/"]
    assert "section=Trade+Winds" in page.url
    page.get_by_label("Order", exact=True).select_option("newest")
    page.wait_for_function("document.querySelector('.search-results h2 a') && "
                           "document.querySelector('.search-results h2 a')"
                           ".textContent === 'Steel Buyers'")
    assert result_links(page) == [f"{BASE}/2017/06/29/steel/", f"{BASE}/2016/11/21/farm/"]


def test_a_word_only_in_navigation_finds_nothing(open_page, blog_url):
    page = open_page()
    page.goto(f"{blog_url}/2016/06/29/missile/")
    assert "Fallout" in page.locator("header.masthead").text_content()
    page.locator("header.masthead a.search-link").click()
    page.wait_for_url(f"{blog_url}/search/")
    search(page, blog_url, "fallout")
    assert page.locator("#search-status").inner_text() == "No results for \u201cfallout\u201d."
    assert result_links(page) == []


def test_the_address_carries_the_query(open_page, blog_url):
    page = open_page()
    page.goto(f"{blog_url}/search/?q=zanzibar")
    page.wait_for_selector(".search-results li")
    assert page.get_by_label("Search posts and pages").input_value() == "zanzibar"
    assert result_links(page) == [f"{BASE}/2016/06/29/missile/"]


def test_one_search_downloads_little(open_page, blog_url):
    page = open_page()
    page.goto(f"{blog_url}/search/")
    page.wait_for_function("!document.querySelector('.search-form').hidden && "
                           "document.querySelector('#search-status').textContent === ''")
    sizes: dict[str, int] = {}
    page.on("response", lambda response: sizes.__setitem__(response.url,
                                                           len(response.body())))
    page.get_by_label("Search posts and pages").fill("zanzibar")
    page.wait_for_selector(".search-results li")
    index = {url: size for url, size in sizes.items() if f"{BASE}/pagefind/" in url}
    assert index and sum(index.values()) < 50_000, index


def test_without_javascript_the_page_says_so(open_page, blog_url):
    page = open_page(java_script_enabled=False)
    page.goto(f"{blog_url}/search/")
    assert page.locator(".search-form").is_hidden()
    assert "Search needs JavaScript" in page.locator("main").inner_text()


def test_search_page_has_no_accessibility_violations(open_page, blog_url, axe):
    page = open_page(color_scheme="light")
    search(page, blog_url, "tariffs")
    page.get_by_label("Section", exact=True).focus()
    wcag = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                  "wcag21aa"]}}
    results = axe.run(page, options={"resultTypes": ["violations"], **wcag})
    violations = results.response["violations"]
    page.emulate_media(color_scheme="dark")
    dark = blocking(axe, page, runOnly={"type": "rule", "values": ["color-contrast"]})
    assert not violations and not dark, (
        f"light:\n{describe(violations)}\ndark:\n{describe(dark)}")


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe
    return Axe()
