"""Serve the preview folder over HTTP: clean URLs, no caching, live reload, and a
page that shows the build's problems while there are any.

The rebuilder (serve.py) publishes each build's outcome to a PreviewState; the
HTTP threads read it to answer requests and to tell open tabs when to reload.
"""

from __future__ import annotations

import html
import mimetypes
import os
import re
import shutil
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Collection, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import BuildError
from .write import MARKER_NAME

EVENTS_PATH = "/__marginalia/events"
KEEPALIVE_SECONDS = 15.0
RELOAD_HISTORY = 64  # generations remembered, for tabs that reconnect late

CONTENT_TYPES = {
    ".html": "text/html", ".css": "text/css", ".js": "text/javascript",
    ".mjs": "text/javascript", ".json": "application/json", ".xml": "application/xml",
    ".txt": "text/plain", ".svg": "image/svg+xml", ".png": "image/png",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".avif": "image/avif", ".ico": "image/x-icon", ".woff": "font/woff",
    ".woff2": "font/woff2", ".pdf": "application/pdf", ".webmanifest":
    "application/manifest+json",
}
TEXT_TYPES = ("text/", "application/json", "application/xml", "image/svg+xml",
              "application/manifest+json")

LIVE_RELOAD_SCRIPT = """<script data-marginalia="live-reload">
(function () {
  // Injected by 'build.py serve' only; built files never hold it.
  var events = new EventSource("%(events)s?since=%(generation)d&path=" +
                                encodeURIComponent(location.pathname));
  events.addEventListener("reload", function () { events.close(); location.reload(); });
}());
</script>
"""


class PreviewState:
    """The last build's errors, pages shown ahead of it, and a generation number
    that tabs reload on, with the files each generation changed."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.generation = 0
        self.errors: tuple[BuildError, ...] = ()
        self.ahead: dict[str, bytes] = {}  # output path -> page, until the build is done
        # (generation, files it changed); None stands for every file.
        self.history: deque[tuple[int, frozenset[str] | None]] = deque(
            maxlen=RELOAD_HISTORY)
        self.stopping = False

    def publish(self, errors: Sequence[BuildError], reload: bool,
                changed: Collection[str] | None = None) -> None:
        """Record a build's outcome, drop the pages shown ahead of it, and wake every
        event stream if tabs showing the changed files (None: all) should reload."""
        with self.condition:
            self.errors = tuple(errors)
            self.ahead = {}
            if reload:
                self._advance(None if changed is None else frozenset(changed))

    def show_ahead(self, pages: dict[str, bytes]) -> None:
        """Serve these pages in place of the built ones until the next publish."""
        with self.condition:
            self.ahead = dict(pages)
            self._advance(frozenset(pages))

    def _advance(self, changed: frozenset[str] | None) -> None:
        self.generation += 1
        self.history.append((self.generation, changed))
        self.condition.notify_all()

    def snapshot(self) -> tuple[int, tuple[BuildError, ...]]:
        with self.condition:
            return self.generation, self.errors

    def page_ahead(self, rel_path: str) -> bytes | None:
        with self.condition:
            return self.ahead.get(rel_path)

    def changed_since(self, seen: int) -> frozenset[str] | None:
        """The files changed by the generations after seen; None when that may be any."""
        with self.condition:
            later = [changed for generation, changed in self.history if generation > seen]
            if len(later) != self.generation - seen or None in later:
                return None
            return frozenset().union(*later)

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Return the generation once it differs from seen, or after timeout."""
        with self.condition:
            self.condition.wait_for(lambda: self.generation != seen or self.stopping, timeout)
            return self.generation

    def stop(self) -> None:
        with self.condition:
            self.stopping = True
            self.condition.notify_all()


class PreviewServer(ThreadingHTTPServer):
    """Serve the preview folder with clean URLs, no caching and live reload."""

    daemon_threads = True

    def __init__(self, host: str, port: int, root: Path, state: PreviewState,
                 site_dir: Path):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.root = root
        self.state = state
        self.site_dir = site_dir
        self.base_path = "/"
        super().__init__((host, port), PreviewHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's full name, which can stall for
        # seconds on a machine with slow reverse DNS; nothing here uses the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a tab closed mid-response
        super().handle_error(request, client_address)


class PreviewHandler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "Marginalia-preview"

    def do_GET(self) -> None:
        self.respond(send_body=True)

    def do_HEAD(self) -> None:
        self.respond(send_body=False)

    def log_message(self, format: str, *args) -> None:
        pass  # the terminal is for build messages

    def respond(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        if url.path == EVENTS_PATH:
            self.stream_events(parse_qs(url.query), send_body)
            return
        generation, errors = self.server.state.snapshot()
        script = LIVE_RELOAD_SCRIPT % {"events": EVENTS_PATH, "generation": generation}
        if errors:
            page = render_error_page(errors, self.server.site_dir, script)
            self.send_bytes(HTTPStatus.INTERNAL_SERVER_ERROR, page, "text/html", send_body)
            return
        status, found = self.find(url.path)
        ahead = self.page_ahead(status, found)
        if ahead is not None:
            self.send_bytes(status, inject_script(ahead, script), "text/html", send_body)
            return
        if status == HTTPStatus.MOVED_PERMANENTLY:
            self.send_response(status)
            self.send_header("Location", str(found) + (f"?{url.query}" if url.query else ""))
            self.send_header("Content-Length", "0")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            return
        if found is None:
            self.send_bytes(HTTPStatus.NOT_FOUND, b"404 Not Found\n", "text/plain", send_body)
            return
        self.send_file(status, Path(found), script, send_body)

    def find(self, url_path: str) -> tuple[HTTPStatus, Path | str | None]:
        """Resolve a URL in the preview, tolerating the instant a build swaps it in."""
        for _ in range(40):
            status, found = resolve_request(self.server.root, self.server.base_path, url_path)
            if status != HTTPStatus.NOT_FOUND or self.server.root.is_dir():
                break
            time.sleep(0.025)
        if status == HTTPStatus.NOT_FOUND:
            not_found = self.server.root / "404.html"
            return status, (not_found if not_found.is_file() else None)
        return status, found

    def page_ahead(self, status: HTTPStatus, found: Path | str | None) -> bytes | None:
        """The page rendered ahead of the build for this file, if there is one."""
        rel_path = self.output_path(status, found)
        return self.server.state.page_ahead(rel_path) if rel_path else None

    def output_path(self, status: HTTPStatus, found: Path | str | None) -> str | None:
        if status != HTTPStatus.OK or not isinstance(found, Path):
            return None
        try:
            return found.relative_to(self.server.root).as_posix()
        except ValueError:
            return None

    def send_file(self, status: HTTPStatus, path: Path, script: str, send_body: bool) -> None:
        content_type = guess_content_type(path.name)
        try:
            handle = open(path, "rb")
        except OSError:
            self.send_bytes(HTTPStatus.NOT_FOUND, b"404 Not Found\n", "text/plain", send_body)
            return
        with handle:
            if content_type == "text/html":
                data = inject_script(handle.read(), script)
                self.send_bytes(status, data, content_type, send_body)
                return
            self.send_head(status, content_type, os.fstat(handle.fileno()).st_size)
            if send_body:
                shutil.copyfileobj(handle, self.wfile)

    def send_bytes(self, status: HTTPStatus, data: bytes, content_type: str,
                   send_body: bool) -> None:
        self.send_head(status, content_type, len(data))
        if send_body:
            self.wfile.write(data)

    def send_head(self, status: HTTPStatus, content_type: str, length: int) -> None:
        if content_type.startswith(TEXT_TYPES):
            content_type += "; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def stream_events(self, query: dict[str, list[str]], send_body: bool) -> None:
        """Send 'reload' each time a generation after the one the page was served at
        changes the tab's own file; a tab that does not say its page reloads on any."""
        state = self.server.state
        since = query.get("since", [""])[0]
        seen = int(since) if since.isdigit() else state.snapshot()[0]
        page = query.get("path", [None])[0]
        showing = self.output_path(*resolve_request(
            self.server.root, self.server.base_path, page)) if page else None
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not send_body:
            return
        try:
            self.wfile.write(b"retry: 1000\n\n")
            while True:
                current = state.wait_for_change(seen, KEEPALIVE_SECONDS)
                if state.stopping:
                    return
                if current != seen:
                    changed = state.changed_since(seen)
                    if changed is None or showing is None or showing in changed:
                        self.wfile.write(f"event: reload\ndata: {current}\n\n".encode())
                    seen = current
                else:
                    self.wfile.write(b": keep-alive\n\n")  # finds closed tabs
        except (ConnectionError, TimeoutError):
            return


def resolve_request(root: Path, base_path: str, url_path: str
                    ) -> tuple[HTTPStatus, Path | str | None]:
    """Map a URL path to a file under root: (200, file), (301, new URL) or (404, None)."""
    path = unquote(url_path)
    if not path.startswith(base_path):
        if path + "/" == base_path:
            return HTTPStatus.MOVED_PERMANENTLY, base_path
        return HTTPStatus.NOT_FOUND, None
    parts = [p for p in path[len(base_path):].split("/") if p]
    if any(p in (".", "..", MARKER_NAME) or "\0" in p or "\\" in p for p in parts):
        return HTTPStatus.NOT_FOUND, None
    target = root.joinpath(*parts)
    if target.is_dir():
        if not path.endswith("/"):
            return HTTPStatus.MOVED_PERMANENTLY, url_path + "/"
        target = target / "index.html"
    try:
        inside = target.resolve(strict=True).is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        inside = False
    return (HTTPStatus.OK, target) if inside and target.is_file() else (
        HTTPStatus.NOT_FOUND, None)


def guess_content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    return (CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0]
            or "application/octet-stream")


def inject_script(page: bytes, script: str) -> bytes:
    """Put the live-reload script before the last </body>, or at the end."""
    at = page.lower().rfind(b"</body>")
    if at == -1:
        return page + script.encode()
    return page[:at] + script.encode() + page[at:]


def render_error_page(errors: Sequence[BuildError], site_dir: Path, script: str) -> bytes:
    """Render the build's problems as a page: file, line, message and the lines around it."""
    items = []
    for error in errors:
        excerpt = source_excerpt(site_dir, error.path, error.line)
        kind = re.sub(r"(?<!^)(?=[A-Z])", " ", type(error).__name__).capitalize()
        items.append(
            f'<li><p class="where"><span class="kind">{esc(kind)}</span> '
            f'<code class="location">{esc(error.location())}</code></p>\n'
            f'<p class="message">{esc(error.message)}</p>\n'
            + (f"<pre>{excerpt}</pre>\n" if excerpt else "") + "</li>")
    count = f"{len(errors)} problems" if len(errors) > 1 else "1 problem"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Build failed: {count}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 50rem; margin: 2rem auto;
  padding: 0 1rem; color: #222; }}
h1 {{ color: #a00; font-size: 1.5rem; }}
ol {{ padding-left: 1.25rem; }} li {{ margin-bottom: 1.5rem; }}
.where {{ margin: 0; }} .kind {{ color: #666; }} code {{ font-weight: 600; }}
.message {{ margin: 0.25rem 0; white-space: pre-wrap; }}
pre {{ background: #f6f6f6; padding: 0.5rem; overflow-x: auto; }}
mark {{ background: #fdd; }}
</style>
</head>
<body>
<h1>The preview cannot be built: {count}</h1>
<ol class="build-errors">
{chr(10).join(items)}
</ol>
<p>Fix the file and save it; this page reloads by itself.</p>
{script}</body>
</html>
"""
    return page.encode("utf-8")


def source_excerpt(site_dir: Path, rel_path: str | None, line: int | None) -> str:
    """Return the escaped lines around line in a site file, the line itself marked."""
    if not rel_path or not line:
        return ""
    path = (site_dir / rel_path).resolve()
    try:
        if not path.is_relative_to(site_dir.resolve()) or not path.is_file():
            return ""
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    shown = []
    for number in range(max(1, line - 2), min(len(lines), line + 2) + 1):
        text = f"{number:>4} | {esc(lines[number - 1])}"
        shown.append(f"<mark>{text}</mark>" if number == line else text)
    return "\n".join(shown)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)
