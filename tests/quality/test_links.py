"""Every internal link and asset of the demo resolves, on disk and served under a sub-path."""

from __future__ import annotations

import http.server
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import lxml.html
import pytest

from conftest import serving

URL_ATTRIBUTES = ("href", "src", "poster", "action", "data")
PREFIX_BASE_URL = "https://example.org/blog/"


def page_links(html_bytes: bytes) -> Iterator[str]:
    """Yield every URL a page links to or loads, srcset candidates included."""
    tree = lxml.html.document_fromstring(html_bytes)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name in URL_ATTRIBUTES:
            value = element.get(name)
            if value is not None and value.strip():
                yield value.strip()
        for candidate in (element.get("srcset") or "").split(","):
            if candidate.strip():
                yield candidate.split()[0]


def page_ids(html_bytes: bytes) -> set[str]:
    tree = lxml.html.document_fromstring(html_bytes)
    return ({e.get("id") for e in tree.iter() if isinstance(e.tag, str) and e.get("id")}
            | {e.get("name") for e in tree.iter("a") if e.get("name")})


def url_of(rel_path: str) -> str:
    """Map an output file to its site URL: a/index.html -> /a/, 404.html -> /404.html."""
    if rel_path == "index.html":
        return "/"
    return "/" + (rel_path[:-len("index.html")] if rel_path.endswith("/index.html")
                  else rel_path)


def file_for(output: Path, path: str) -> Path | None:
    """Return the file a web server would send for a URL path, or None."""
    target = output / unquote(path).lstrip("/")
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() and output.resolve() in target.resolve().parents else None


def find_broken_links(output: Path, base_url: str) -> list[str]:
    """Check every internal link of every page against the files in output."""
    base_path = urlsplit(base_url).path
    problems, ids_cache = [], {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids_cache:
            ids_cache[path] = page_ids(path.read_bytes())
        return ids_cache[path]

    for page in sorted(output.rglob("*.html")):
        rel_path = page.relative_to(output).as_posix()
        page_url = base_url + url_of(rel_path).lstrip("/")
        for link in page_links(page.read_bytes()):
            parts = urlsplit(link)
            if parts.scheme in ("mailto", "tel", "data"):
                continue
            if rel_path == "404.html" and not parts.scheme and not link.startswith(("/", "#")):
                problems.append(f"{rel_path}: relative link '{link}' breaks when the "
                                "not-found page is served at another address")
            absolute, fragment = urldefrag(urljoin(page_url, link))
            if not absolute.startswith(base_url):
                if urlsplit(absolute).netloc == urlsplit(base_url).netloc:
                    problems.append(f"{rel_path}: '{link}' is outside the site's base path")
                continue
            path = urlsplit(absolute).path[len(base_path) - 1:]
            target = file_for(output, path)
            if target is None:
                problems.append(f"{rel_path}: '{link}' -> no file for {path}")
            elif fragment and target.suffix == ".html" and unquote(fragment) not in ids_of(target):
                problems.append(f"{rel_path}: '{link}' -> no id '{fragment}' in "
                                f"{target.relative_to(output).as_posix()}")
    return problems


def test_every_internal_link_resolves_to_a_file(demo_output: Path, demo_base_url: str):
    assert (demo_output / "index.html").is_file()
    problems = find_broken_links(demo_output, demo_base_url)
    assert not problems, f"{len(problems)} broken links:\n" + "\n".join(problems)


def test_link_check_finds_a_broken_link_and_fragment(tmp_path: Path):
    """Guard the crawler: a missing page and a missing id are both reported."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<!DOCTYPE html><html><body><h2 id="here">x</h2>'
        '<a href="/a/#here">ok</a><a href="/a/#gone">bad id</a>'
        '<a href="/missing/">bad page</a><img src="../a/index.html"></body></html>')
    problems = "\n".join(find_broken_links(tmp_path, "https://x.example/"))
    assert "no id 'gone'" in problems and "'/missing/'" in problems
    assert "#here" not in problems and "../a/index.html" not in problems


class PrefixHandler(http.server.SimpleHTTPRequestHandler):
    """Serve a folder under a path prefix only, as a host serving a site at /blog/ would."""

    prefix = "/blog/"

    def send_head(self):
        if not self.path.startswith(self.prefix):
            self.send_error(404, "outside the site's path prefix")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        return super().translate_path("/" + path[len(self.prefix):])

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture(scope="module")
def prefixed_site(tmp_path_factory, build_demo) -> Iterator[str]:
    """Build the demo for https://example.org/blog/ and serve it at 127.0.0.1/blog/."""
    output = build_demo(tmp_path_factory.mktemp("prefixed") / "output",
                        "--base-url", PREFIX_BASE_URL)
    with serving(PrefixHandler, output) as port:
        yield f"http://127.0.0.1:{port}/blog/"


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error), b""


def test_every_link_from_the_home_page_is_served_under_a_sub_path(prefixed_site: str):
    local_root = prefixed_site
    local_origin = local_root[:-len("/blog/")]
    queue, seen, broken, fetched = deque([(local_root, "start")]), {local_root}, [], 0
    while queue and fetched < 2000:
        url, referrer = queue.popleft()
        status, content_type, body = fetch(url)
        fetched += 1
        if status != 200:
            broken.append(f"{url[len(local_origin):]} -> {status} (linked from {referrer})")
            continue
        if content_type != "text/html":
            continue
        for link in page_links(body):
            absolute = urldefrag(urljoin(url, link))[0]
            if absolute.startswith(PREFIX_BASE_URL):
                absolute = local_root + absolute[len(PREFIX_BASE_URL):]
            if urlsplit(absolute).netloc != urlsplit(local_root).netloc:
                continue
            if absolute not in seen:
                seen.add(absolute)
                queue.append((absolute, url[len(local_origin):]))
    assert fetched > 10, f"the crawl reached only {fetched} URLs"
    assert any(u.endswith(".css") for u in seen) and any(u.endswith(".js") for u in seen)
    assert not broken, f"{len(broken)} broken links under /blog/:\n" + "\n".join(broken)
