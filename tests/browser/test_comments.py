"""The comment thread stays off the network until a reader opens it, by mouse or keyboard."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest
import yaml
from playwright.sync_api import expect

from .conftest import post_files

STUB_SCRIPT = """
document.querySelector('.giscus').insertAdjacentHTML(
  'beforeend', '<p class="stub-thread">A stub comment thread</p>');
"""


def post_pages(output: Path) -> list[tuple[str, lxml.html.HtmlElement]]:
    """Return (url, tree) for each post page."""
    pages = []
    for path in post_files(output):
        url = "/" + path.parent.relative_to(output).as_posix() + "/"
        pages.append((url, lxml.html.parse(str(path)).getroot()))
    return pages


def titles_with_comments_off(project_dir: Path) -> set[str]:
    titles = set()
    for path in (project_dir / "content" / "posts").rglob("*.md"):
        match = re.match(r"---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), re.S)
        fields = yaml.safe_load(match[1]) if match else {}
        if fields.get("comments") is False:
            titles.add(fields["title"])
    return titles


@pytest.fixture(scope="module")
def commented_post(demo_output: Path) -> str:
    for url, tree in post_pages(demo_output):
        if tree.xpath("//details[contains(concat(' ', @class, ' '), ' comments ')]"):
            return url
    pytest.fail("no post page of the demo has a comments box")


def stub_giscus(page) -> list[str]:
    """Answer giscus.app with a script that draws a fake thread; return the requests made."""
    calls: list[str] = []

    def fulfil(route):
        calls.append(route.request.url)
        route.fulfill(status=200, content_type="text/javascript", body=STUB_SCRIPT,
                      headers={"Access-Control-Allow-Origin": "*"})

    page.route("https://giscus.app/**", fulfil)
    return calls


def test_thread_is_closed_and_off_the_network_until_opened(open_page, site_url, commented_post):
    page = open_page()
    calls = stub_giscus(page)
    page.goto(site_url + commented_post, wait_until="networkidle")
    box = page.locator("details.comments")
    summary = box.locator("summary")
    expect(box).to_have_count(1)
    expect(box).not_to_have_attribute("open", re.compile(".*"))
    expect(box.locator(".comments-thread")).to_be_hidden()
    expect(summary).to_have_text("Show comments")
    assert page.external_requests() == [] and calls == []

    summary.click()
    expect(page.locator(".stub-thread")).to_be_visible()
    expect(summary).to_have_text("Hide comments")
    assert len(calls) == 1 and calls[0].startswith("https://giscus.app/client.js")

    summary.click()
    expect(box.locator(".comments-thread")).to_be_hidden()
    expect(summary).to_have_text("Show comments")
    summary.click()
    expect(page.locator(".stub-thread")).to_have_count(1)
    expect(page.locator(".stub-thread")).to_be_visible()
    assert len(calls) == 1, f"the provider script was loaded {len(calls)} times"
    assert [u for u in page.external_requests() if "giscus.app" not in u] == []


def test_thread_opens_and_closes_with_the_keyboard(open_page, site_url, commented_post):
    page = open_page()
    calls = stub_giscus(page)
    page.goto(site_url + commented_post)
    summary = page.locator("details.comments > summary")
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('details.comments > summary')"):
            break
    else:
        pytest.fail("Tab never reached the 'Show comments' control")
    page.keyboard.press("Enter")
    expect(page.locator(".stub-thread")).to_be_visible()
    expect(summary).to_have_text("Hide comments")
    page.keyboard.press("Space")
    expect(page.locator("details.comments .comments-thread")).to_be_hidden()
    expect(summary).to_have_text("Show comments")
    summary.focus()
    page.keyboard.press("Space")
    expect(page.locator(".stub-thread")).to_be_visible()
    assert len(calls) == 1


def test_post_with_comments_off_has_no_comments_box(open_page, site_url, demo_output,
                                                    project_dir):
    titles = titles_with_comments_off(project_dir)
    assert titles, "the demo has no post with 'comments: false'"
    urls = [url for url, tree in post_pages(demo_output)
            if tree.findtext(".//h1") and tree.findtext(".//h1").strip() in titles]
    assert len(urls) == len(titles), f"pages for {titles} not found: {urls}"
    for url in urls:
        page = open_page()
        page.goto(site_url + url, wait_until="networkidle")
        expect(page.locator("details.comments")).to_have_count(0)
        assert not [u for u in page.requests if "comments" in u.rsplit("/", 1)[-1]], \
            "a post without comments still loads the comments script"
        assert page.external_requests() == []


def test_thread_is_a_plain_disclosure_without_javascript(open_page, site_url, commented_post):
    page = open_page(java_script_enabled=False)
    page.goto(site_url + commented_post)
    box = page.locator("details.comments")
    expect(box).not_to_have_attribute("open", re.compile(".*"))
    box.locator("summary").click()
    expect(box).to_have_attribute("open", "")
    # Playwright disables scripts without switching the parser, so <noscript> stays
    # unrendered here; that the box opens at all is what a reader without JS needs.
    expect(box.locator(".comments-thread")).to_be_visible()
    assert page.external_requests() == []


FAILURE_TEXT = "Comments could not be loaded"


def test_blocked_provider_shows_a_failure_and_try_again_retries(open_page, site_url,
                                                                commented_post):
    page = open_page()
    blocked: list[str] = []

    def block(route):
        blocked.append(route.request.url)
        route.abort()

    page.route("https://giscus.app/**", block)
    page.goto(site_url + commented_post)
    box = page.locator("details.comments")
    status = box.locator(".comments-status")
    box.locator("summary").click()
    expect(status).to_contain_text(FAILURE_TEXT, timeout=3000)
    assert len(blocked) == 1
    retry = status.get_by_role("button", name="Try again")
    retry.click()
    expect(status).to_contain_text(FAILURE_TEXT, timeout=3000)
    assert len(blocked) == 2, "Try again did not ask the provider again"

    page.unroute("https://giscus.app/**")
    calls = stub_giscus(page)
    status.get_by_role("button", name="Try again").click()
    expect(page.locator(".stub-thread")).to_have_count(1)
    expect(page.locator(".stub-thread")).to_be_visible()
    expect(status).to_be_hidden()
    assert len(calls) == 1
    expect(box.locator("summary")).to_have_text("Hide comments")


def test_silent_provider_shows_loading_then_a_failure_after_the_timeout(open_page, site_url,
                                                                        commented_post):
    page = open_page()
    page.route("https://giscus.app/**", lambda route: None)  # never answers
    page.goto(site_url + commented_post)
    box = page.locator("details.comments")
    box.evaluate("box => { box.dataset.timeout = '1'; }")
    box.locator("summary").click()
    status = box.locator(".comments-status")
    expect(status).to_have_text("Loading comments\u2026")
    expect(status).to_contain_text(FAILURE_TEXT, timeout=4000)
    expect(status.get_by_role("button", name="Try again")).to_be_visible()
