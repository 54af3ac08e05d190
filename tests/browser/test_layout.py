"""Pages fit a phone screen and load nothing from other hosts; screenshots for review."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import is_redirect_page

PHONE, DESKTOP = 390, 1280
SCREENSHOT_KINDS = ("post", "home", "section")


def pages_to_check(demo_output: Path) -> list[str]:
    """Every page of the demo but alias redirects, and only a few of the many tag pages."""
    urls, tag_pages = [], 0
    for path in sorted(demo_output.rglob("*.html")):
        if is_redirect_page(path):
            continue
        rel_path = path.relative_to(demo_output).as_posix()
        if rel_path.startswith("tags/") and rel_path != "tags/index.html":
            tag_pages += 1
            if tag_pages > 3:
                continue
        urls.append("/" + rel_path.removesuffix("index.html"))
    return urls


def test_no_page_scrolls_sideways_or_calls_other_hosts_on_a_phone(open_page, site_url,
                                                                  demo_pages, demo_output):
    urls = sorted({*demo_pages.values(), *pages_to_check(demo_output)})
    page = open_page(width=PHONE, height=844)
    problems = []
    for url in urls:
        page.requests.clear()
        page.goto(site_url + url, wait_until="load")
        page.evaluate("document.fonts.ready.then(() => true)")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE:
            wide = page.evaluate("""(limit) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > limit + 0.5)
                .slice(0, 3).map(e => e.tagName.toLowerCase()
                    + (e.className ? '.' + String(e.className).replace(/ /g, '.') : ''))""",
                                 PHONE)
            problems.append(f"{url}: scrollWidth {width} > {PHONE}; too wide: {wide}")
        problems += [f"{url}: requested {request}" for request in page.external_requests()]
    assert not problems, "\n".join(problems)


def test_a_page_with_an_external_resource_is_caught(open_page, site_url, demo_pages):
    """Guard the gate: a stylesheet from a CDN shows up as an external request."""
    page = open_page()
    page.goto(site_url + demo_pages["standing"])
    page.requests.clear()
    page.evaluate("""() => { const l = document.createElement('link'); l.rel = 'stylesheet';
        l.href = 'https://fonts.example.com/x.css'; document.head.append(l); }""")
    page.wait_for_load_state("networkidle")
    assert page.external_requests() == ["https://fonts.example.com/x.css"]


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_save_screenshots(open_page, site_url, demo_pages, project_dir, width):
    folder = project_dir / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page = open_page(width=width, height=844 if width == PHONE else 900)
    for kind in SCREENSHOT_KINDS:
        page.goto(site_url + demo_pages[kind])
        path = folder / f"{kind}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
