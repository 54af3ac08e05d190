"""`build.py serve` in Chromium: an edit reloads the tab that shows it, and no other."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BUILD_SCRIPT, post_text

POST = "content/north-korea-fallout/first.md"
POST_URL = "/2016/06/29/first/"
WAIT_MS = 15_000
SITE = {
    "content/pages/about.md": '---\ntitle: "About Us"\n---\nWho we are.\n',
    POST: post_text(title="First Post", slug="first", body="Original words.\n"),
}


@pytest.fixture
def preview(make_site, tmp_path):
    """Run `build.py serve` on a small site; yield (site folder, base URL, its stdout file)."""
    site_dir = make_site(SITE)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.out"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(BUILD_SCRIPT), "serve", "--site", str(site_dir),
             "--port", str(port), "--now", "2026-01-01T09:00:00Z"],
            stdout=out, stderr=subprocess.STDOUT, cwd=site_dir, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "serving http" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        yield site_dir, f"http://127.0.0.1:{port}", log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def count_loads(page) -> list[str]:
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    return loads


def test_an_edit_reloads_its_own_tab_once_and_leaves_others_alone(open_page, preview):
    site_dir, base, log = preview
    post_tab, about_tab = open_page(), open_page()
    post_loads, about_loads = count_loads(post_tab), count_loads(about_tab)
    post_tab.goto(base + POST_URL)
    about_tab.goto(base + "/about/")
    assert post_tab.locator("article").inner_text().count("Original words.") == 1

    path = site_dir / POST
    path.write_text(path.read_text().replace("Original words.", "Words seen at once."))

    post_tab.wait_for_function("document.body.innerText.includes('Words seen at once.')",
                               timeout=WAIT_MS)
    deadline = time.monotonic() + WAIT_MS / 1000
    while "rebuilt in" not in log.read_text():
        assert time.monotonic() < deadline, "the full rebuild never finished"
        time.sleep(0.05)
    post_tab.wait_for_timeout(700)  # room for a second reload, were one sent
    assert "showing the edited page" in log.read_text()
    assert post_loads == [base + POST_URL] * 2
    assert about_loads == [base + "/about/"]
