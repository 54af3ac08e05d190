"""One Chromium and one HTTP server per session, serving the built demo on 127.0.0.1."""

from __future__ import annotations

import http.server
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import serving

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


def is_external(url: str) -> bool:
    """Tell whether a request leaves this machine (data:, blob: and about: stay)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS


def is_redirect_page(path: Path) -> bool:
    """Tell whether an HTML file only forwards the reader (an alias's meta refresh)."""
    tree = lxml.html.parse(str(path)).getroot()
    return bool(tree.xpath("//meta[translate(@http-equiv, 'REFSH', 'refsh') = 'refresh']"))


def post_files(output: Path) -> list[Path]:
    """Return the demo's post pages: those under /YYYY/, less alias redirects."""
    return [path for path in sorted(output.glob("[0-9][0-9][0-9][0-9]/**/index.html"))
            if not is_redirect_page(path)]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def site_url(demo_output: Path) -> Iterator[str]:
    """Serve the built demo at http://127.0.0.1:PORT/ for the whole session."""
    with serving(QuietHandler, demo_output) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def demo_pages(demo_output: Path) -> dict[str, str]:
    """Pick one page of each kind from the built demo: {kind: site-relative URL}."""
    posts = post_files(demo_output)
    assert posts, "the demo built no post pages"
    post = posts[0]
    tree = lxml.html.parse(str(post)).getroot()
    section = tree.xpath("//*[contains(@class, 'section-label')]//a/@href")
    tag = tree.xpath("//a[@rel='tag']/@href")
    assert section and tag, f"{post} links to no section or tag page"
    pages = {"post": "/" + post.parent.relative_to(demo_output).as_posix() + "/",
             "home": "/", "section": section[0], "tag": tag[0], "standing": "/about/"}
    # Kinds the demo may grow: included when the build makes them.
    for kind, pattern in (("archive", "archive/**/index.html"),
                          ("author", "authors/*/index.html")):
        found = sorted(demo_output.glob(pattern))
        if found:
            pages[kind] = "/" + found[-1].parent.relative_to(demo_output).as_posix() + "/"
    return pages


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium once per session; skip when it is not installed."""
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"{CHROMIUM_PATH} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser) -> Iterator[Callable[..., Page]]:
    """Return a function opening a page in a fresh context; page.requests lists every URL.

    Requests that would leave the machine are recorded, then aborted, so a test never
    waits on the network; a test may route a host itself to stub it.
    """
    contexts = []

    def open_(width: int = 1280, height: int = 900, **context_options) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      **context_options)
        contexts.append(context)
        context.route(is_external, lambda route: route.abort())
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.external_requests = lambda: [u for u in page.requests if is_external(u)]
        return page

    yield open_
    for context in contexts:
        context.close()
