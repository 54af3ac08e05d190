"""`build.py serve` end to end: a real server in a subprocess, edited while it runs."""

from __future__ import annotations

import http.client
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pytest

from conftest import BUILD_SCRIPT, post_text

NOW = "2026-01-01T09:00:00Z"
POST = "content/north-korea-fallout/first.md"
POST_URL = "/2016/06/29/first/"
WAIT = 15.0  # generous: CI machines are slow, and every wait polls


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, what: str, timeout: float = WAIT):
    """Poll check() until it returns something truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def tree(self):
        return lxml.html.document_fromstring(self.body)

    def reload_scripts(self) -> list:
        return self.tree.xpath('//script[@data-marginalia="live-reload"]')

    def generation(self) -> str:
        """Return the build generation the injected script listens from."""
        [script] = self.reload_scripts()
        return re.search(r"since=(\d+)", script.text).group(1)


class EventReader(threading.Thread):
    """Read a Server-Sent Events stream on a raw connection, queueing each event's name."""

    def __init__(self, port: int, since: str, page: str | None = None):
        super().__init__(daemon=True)
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT * 2)
        query = f"since={since}" + (f"&path={quote(page, safe='')}" if page else "")
        self.connection.request("GET", f"/__marginalia/events?{query}")
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")
        self.events: queue.Queue[str] = queue.Queue()

    def run(self) -> None:
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    self.events.put(line.split(":", 1)[1].strip())
        except (OSError, ValueError):
            pass

    def expect(self, name: str, what: str) -> None:
        try:
            event = self.events.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no '{name}' event after {what}")
        assert event == name

    def expect_none(self, what: str) -> None:
        assert self.events.empty(), f"a tab reloaded after {what}"

    def close(self) -> None:
        self.connection.close()


class Server:
    """A `build.py serve` subprocess writing its output to files, so it never blocks."""

    def __init__(self, site_dir: Path, port: int, log_dir: Path):
        self.site_dir, self.port = site_dir, port
        self.stdout_path, self.stderr_path = log_dir / "serve.out", log_dir / "serve.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(BUILD_SCRIPT), "serve", "--site", str(site_dir),
                 "--port", str(port), "--now", NOW],
                stdout=out, stderr=err, cwd=site_dir, start_new_session=True,
                # A shell that runs us in the background may ignore SIGINT; Python only
                # turns SIGINT into KeyboardInterrupt when it starts with the default.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def get(self, path: str) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return Response(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def wait_ready(self) -> None:
        def ready():
            if self.process.poll() is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.stderr}")
            try:
                return self.get("/").status in (200, 500)
            except OSError:
                return False
        wait_until(ready, "the server to answer", timeout=60)
        assert f"http://127.0.0.1:{self.port}/" in self.stdout

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=WAIT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)


@pytest.fixture
def serve_site(make_site, tmp_path):
    """Start serve on a fixture site; always kill it at the end."""
    servers: list[Server] = []

    def start(files: dict[str, str]) -> Server:
        site_dir = make_site(files)
        server = Server(site_dir, free_port(), tmp_path)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.kill()


SITE = {
    "content/pages/about.md": '---\ntitle: "About Us"\n---\nWho we are.\n',  # footer link
    POST: post_text(title="First Post", slug="first", body="Original words.\n"),
    "content/trade-winds/unfinished.md": post_text(
        title="Unfinished Thoughts", section="Trade Winds", slug="unfinished",
        date="2017-01-02T10:00:00-05:00", draft="true", body="Half an argument.\n"),
    "content/trade-winds/scheduled.md": post_text(
        title="Scheduled Column", section="Trade Winds", slug="scheduled",
        date="2030-05-01T08:00:00-04:00", body="Not yet.\n"),
}


def edit_post(site_dir: Path, old: str, new: str) -> None:
    path = site_dir / POST
    path.write_text(path.read_text().replace(old, new))


def staging_leftovers(site_dir: Path) -> list[str]:
    cache = site_dir / ".cache"
    return sorted(p.name for p in cache.iterdir()
                  if ".staging-" in p.name or ".old-" in p.name)


def test_serve_edit_break_fix_and_stop(serve_site):
    server = serve_site(SITE)
    site_dir = server.site_dir

    page = server.get(POST_URL)
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    assert len(page.reload_scripts()) == 1
    assert "Original words." in page.tree.text_content()
    built = site_dir / ".cache/preview" / POST_URL.strip("/") / "index.html"
    assert built.is_file()
    assert b"__marginalia" not in built.read_bytes()
    assert not any(b"__marginalia" in p.read_bytes()
                   for p in (site_dir / ".cache/preview").rglob("*.html"))
    assert not (site_dir / "output").exists()

    events = EventReader(server.port, page.generation(), POST_URL)
    events.start()
    try:
        edit_post(site_dir, "Original words.", "Edited words, live.")
        events.expect("reload", "editing the post")
        wait_until(lambda: "Edited words, live." in server.get(POST_URL).tree.text_content(),
                   "the edited text")

        edit_post(site_dir, "date: 2016-06-29T16:40:00-04:00", "date: 2016-13-45 <b>&")
        events.expect("reload", "breaking the post")
        # A build that read the file halfway through its save may fail first; the
        # build after it names the line.
        wait_until(lambda: (f"{POST}:4: date" in server.stderr
                            and server.get(POST_URL).status == 500), "the error's line")
        for url in (POST_URL, "/", "/style.css"):
            broken = server.get(url)
            assert broken.status == 500, url
            [location] = broken.tree.xpath('//code[@class="location"]')
            assert location.text_content() == f"{POST}:4"
            [message] = broken.tree.xpath('//p[@class="message"]')
            assert "'2016-13-45 <b>&' is not a date" in message.text_content()
            assert not broken.tree.xpath("//p[@class='message']//b")
            assert len(broken.reload_scripts()) == 1
        assert f"{POST}:4: date '2016-13-45 <b>&' is not a date" in server.stderr

        edit_post(site_dir, "date: 2016-13-45 <b>&", "date: 2016-06-29T16:40:00-04:00")
        events.expect("reload", "fixing the post")
        fixed = wait_until(lambda: (page := server.get(POST_URL)).status == 200 and page,
                           "the fixed page")
        assert "Edited words, live." in fixed.tree.text_content()
    finally:
        events.close()

    assert server.interrupt() == 0
    assert "Traceback" not in server.stderr
    assert staging_leftovers(site_dir) == []
    assert not (site_dir / "output").exists()


def test_serve_shows_an_edit_ahead_of_the_rebuild_and_reloads_only_tabs_it_changed(
        serve_site):
    server = serve_site(SITE)
    tabs = {url: EventReader(server.port, server.get(url).generation(), url)
            for url in (POST_URL, "/page/2/", "/about/")}
    for tab in tabs.values():
        tab.start()
    try:
        edit_post(server.site_dir, "Original words.", "Reworded, shown at once.")
        tabs[POST_URL].expect("reload", "editing the post")
        page = server.get(POST_URL)
        assert "Reworded, shown at once." in page.tree.text_content()
        assert len(page.reload_scripts()) == 1
        wait_until(lambda: "rebuilt in" in server.stdout, "the full rebuild")
        assert "showing the edited page" in server.stdout
        # The second home page lists its opening words; About Us shows nothing of it.
        tabs["/page/2/"].expect("reload", "the rebuild changed the home page")
        time.sleep(0.5)  # a second reload, if one were sent, would be here by now
        tabs[POST_URL].expect_none("the rebuild of a page it already showed")
        tabs["/about/"].expect_none("an edit that did not change it")
        built = server.site_dir / ".cache/preview" / POST_URL.strip("/") / "index.html"
        assert b"Reworded, shown at once." in built.read_bytes()
        assert b"__marginalia" not in built.read_bytes()
    finally:
        for tab in tabs.values():
            tab.close()
    assert server.interrupt() == 0
    assert "Traceback" not in server.stderr


def test_serve_shows_drafts_and_scheduled_posts_with_clean_urls(serve_site):
    server = serve_site(SITE)

    draft = server.get("/2017/01/02/unfinished/")
    assert draft.status == 200
    assert draft.tree.xpath('//*[contains(@class, "status-draft")]')
    scheduled = server.get("/2030/05/01/scheduled/")
    assert scheduled.status == 200
    assert scheduled.tree.xpath('//*[contains(@class, "status-scheduled")]')
    summaries = [summary for url in ("/", "/page/2/")  # two posts a page
                 for summary in server.get(url).tree.xpath('//article[@class="summary"]')]
    marked = {summary.findtext(".//h2/a"): summary.xpath('string(.//*[@class and '
                                                         'contains(@class, "status")])')
              for summary in summaries}
    assert marked == {"First Post": "", "Unfinished Thoughts": "Draft",
                      "Scheduled Column": "Scheduled"}

    moved = server.get(POST_URL.rstrip("/"))
    assert (moved.status, moved.headers["Location"]) == (301, POST_URL)
    missing = server.get("/no/such/page/")
    assert missing.status == 404
    assert "Page not found" in missing.tree.findtext(".//title")
    assert len(missing.reload_scripts()) == 1
    assert server.get("/.marginalia-output").status == 404
    assert server.get("/../site.toml").status == 404
    feed = server.get("/feed.xml")
    assert feed.status == 200 and "xml" in feed.headers["Content-Type"]
    assert b"__marginalia" not in feed.body

    assert server.interrupt() == 0
    assert "Traceback" not in server.stderr


def test_serve_survives_a_broken_template(serve_site):
    server = serve_site(SITE)
    events = EventReader(server.port, server.get("/").generation())
    events.start()
    try:
        # The site had no layouts/ folder: the watcher must notice the new one.
        layout = server.site_dir / "layouts/post.html"
        layout.parent.mkdir()
        layout.write_text("<p>\n{% if post.title %}\n<b>{{ post.title }}</b>\n")
        events.expect("reload", "adding a broken layout")
        broken = wait_until(lambda: (r := server.get(POST_URL)).status == 500 and r,
                            "the template error page")
        [location] = broken.tree.xpath('//code[@class="location"]')
        assert location.text_content().startswith("layouts/post.html:")
        assert "layouts/post.html:" in server.stderr

        layout.unlink()
        events.expect("reload", "removing the broken layout")
        assert wait_until(lambda: server.get(POST_URL).status == 200, "the page to come back")
    finally:
        events.close()
    assert server.interrupt() == 0
    assert "Traceback" not in server.stderr


def test_serve_refuses_a_port_in_use(make_site, tmp_path):
    site_dir = make_site(SITE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(BUILD_SCRIPT), "serve", "--site", str(site_dir),
             "--port", str(port), "--now", NOW],
            capture_output=True, text=True, timeout=60, cwd=site_dir)
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (site_dir / ".cache").exists()
