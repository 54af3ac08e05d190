#!/usr/bin/env python3
"""Measure how soon `build.py serve` shows an edit, on a generated corpus.

For each edit, one sentence is appended to a post while a tab listens for
reloads on that post's page, as the browser's live-reload script does. Printed
per edit: seconds from the save to the reload event, to the edited page being
served, and to the full rebuild's line in serve's output.

    python bench/preview.py --posts 10000 --edits 5
"""

from __future__ import annotations

import argparse
import http.client
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

BENCH_DIR = Path(__file__).resolve().parent
BUILD = BENCH_DIR.parent / "build.py"
sys.path.insert(0, str(BENCH_DIR))

from generate import write_site  # noqa: E402  (a sibling script, not a package)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)
    return value


def get(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()


def listen_for_reload(port: int, page: str, since: str) -> threading.Event:
    """Open the event stream a tab on page would, and set the event at its first reload."""
    reloaded = threading.Event()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", f"/__marginalia/events?since={since}&path={quote(page)}")
    response = connection.getresponse()

    def read() -> None:
        for line in response:
            if line.startswith(b"event: reload"):
                reloaded.set()
                return
    threading.Thread(target=read, daemon=True).start()
    return reloaded


def url_of(site: Path, post: Path) -> str:
    """The post's URL, found in the preview's output by its slug."""
    slug = post.stem
    [page] = (site / ".cache/preview").glob(f"[0-9]*/*/*/{slug}/index.html")
    return "/" + page.parent.relative_to(site / ".cache/preview").as_posix() + "/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--site", type=Path, default=None,
                        help="an existing generated site to use (default: generate one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        site = args.site or Path(scratch) / "site"
        if args.site is None:
            write_site("marginalia", args.posts, site)
        port = free_port()
        log = Path(scratch) / "serve.out"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(BUILD), "serve", "--site", str(site), "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=site)
        try:
            started = time.perf_counter()
            wait_for(lambda: "serving http" in log.read_text(), 1800, "the first build")
            print(f"first preview build: {time.perf_counter() - started:.1f} s")
            rng = random.Random(7)
            posts = sorted((site / "content").rglob("*.md"))
            rows = []
            for step in range(args.edits):
                post = rng.choice(posts)
                page = url_of(site, post)
                html = get(port, page).decode()
                since = html.split("since=")[1].split("&")[0].split('"')[0]
                reloaded = listen_for_reload(port, page, since)
                rebuilds = log.read_text().count("rebuilt in")
                sentence = f"A sentence for preview step {step}."
                time.sleep(0.2)  # let the stream connect
                saved = time.perf_counter()
                with open(post, "a", encoding="utf-8") as handle:
                    handle.write(f"\n{sentence}\n")
                reloaded.wait(120)
                reload_at = time.perf_counter() - saved
                wait_for(lambda: sentence.encode() in get(port, page), 120, "the edited page")
                shown_at = time.perf_counter() - saved
                wait_for(lambda: log.read_text().count("rebuilt in") > rebuilds, 120,
                         "the full rebuild")
                rebuilt_at = time.perf_counter() - saved
                rows.append((reload_at, shown_at, rebuilt_at))
                print(f"edit {step + 1}: reload {reload_at:.3f} s, page served "
                      f"{shown_at:.3f} s, full rebuild {rebuilt_at:.2f} s")
                time.sleep(0.5)
            for label, column in zip(("reload", "page served", "full rebuild"), zip(*rows)):
                print(f"median {label}: {statistics.median(column):.3f} s")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
