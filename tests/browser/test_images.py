"""In Chromium: the demo's lead image loads a width that suits the screen, and no
picture moves the page when it arrives."""

from __future__ import annotations

import lxml.html
import pytest

LAYOUT_SHIFT = """() => new Promise(resolve => {
    let total = 0;
    new PerformanceObserver(list => {
        for (const entry of list.getEntries()) {
            if (!entry.hadRecentInput) { total += entry.value; }
        }
    }).observe({type: "layout-shift", buffered: true});
    setTimeout(() => resolve(total), 500);
})"""


@pytest.fixture(scope="module")
def lead_post(demo_output) -> str:
    """The URL of a demo post whose page opens with a lead image."""
    for path in sorted(demo_output.glob("20*/*/*/*/index.html")):
        root = lxml.html.parse(str(path)).getroot()
        if root.xpath("//article//picture//img[@loading='eager']"):
            return "/" + path.parent.relative_to(demo_output).as_posix() + "/"
    pytest.fail("no demo post has a lead image")


@pytest.mark.parametrize("width, density, wanted", [
    (390, 1, 480), (390, 2, 960), (1280, 1, 960), (1280, 2, 1440)])
def test_the_lead_image_loads_a_width_for_the_screen(open_page, site_url, lead_post,
                                                      width, density, wanted):
    page = open_page(width=width, device_scale_factor=density)
    page.goto(site_url + lead_post)
    image = page.locator("article picture img").first
    image.evaluate("img => img.decode()")
    current = image.evaluate("img => img.currentSrc")
    assert current.endswith(f"-{wanted}.webp"), current
    # Only that one file of the picture was fetched.
    fetched = [url for url in page.requests if "/images/" in url and "card" not in url]
    assert fetched == [current]
    assert not page.external_requests()


def test_pictures_do_not_move_the_page(open_page, site_url, lead_post):
    page = open_page(width=390)
    page.goto(site_url + lead_post)
    page.wait_for_load_state("networkidle")
    sizes = page.locator("img").evaluate_all(
        "images => images.map(img => [img.getAttribute('width'), img.getAttribute('height')])")
    assert sizes and all(w and h for w, h in sizes)
    assert page.evaluate(LAYOUT_SHIFT) < 0.01
