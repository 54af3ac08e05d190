"""axe-core finds no serious or critical accessibility problem, in light or dark mode."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

BLOCKING_IMPACTS = ("serious", "critical")
PAGE_KINDS = ("post", "home", "section", "tag", "standing", "archive", "author")


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary[:300]}")
    return "\n".join(lines)


def blocking(axe: Axe, page, **options) -> list[dict]:
    results = axe.run(page, options={"resultTypes": ["violations"], **options})
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_page_has_no_serious_accessibility_violations(open_page, site_url, demo_pages, axe,
                                                      kind):
    if kind not in demo_pages:
        pytest.skip(f"the demo builds no {kind} page")
    page = open_page(color_scheme="light")
    page.goto(site_url + demo_pages[kind])
    light = blocking(axe, page)
    # The dark scheme changes colours only, so there the contrast rule is the one to rerun.
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    dark = blocking(axe, page, runOnly={"type": "rule", "values": ["color-contrast"]})
    assert not light and not dark, (
        f"{demo_pages[kind]}:\nlight scheme:\n{describe(light)}\n"
        f"dark scheme:\n{describe(dark)}")


def test_axe_reports_a_contrast_failure(open_page, site_url, demo_pages, axe):
    """Guard the gate: grey on grey text must be reported as a serious violation."""
    page = open_page()
    page.goto(site_url + demo_pages["standing"])
    page.add_style_tag(content="main p { color: #bbb !important; background: #ccc !important; }")
    assert "color-contrast" in {v["id"] for v in blocking(axe, page)}
