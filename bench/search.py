#!/usr/bin/env python3
"""What search costs: indexing time, index size and what one search downloads.

    python bench/search.py [--sizes 1000,10000] [--repeat 3] [--no-browser]

For each size, a generated site (bench/generate.py, seeded) is built once cold,
then the index is made again --repeat times by builds that change one post's words
(the median is reported, beside the build's whole time). The index size is the
bytes of output/pagefind/ (and gzip-compressed, as a host serves it). Then, unless
--no-browser, the site is served on a local port and Debian's Chromium (driven by
Playwright) opens /search/, types a word of one post's commentary, waits for the
first results and counts the bytes fetched from pagefind/ (the loader, its WASM, the
index chunks and the results' fragments).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
CHROMIUM = "/usr/bin/chromium"
NOW = "2027-01-01T00:00:00Z"


def build(site: Path) -> tuple[float, float]:
    """Build the site; return the build's wall time and the indexing time it reported."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "marginalia", "build", "--site", str(site),
                             "--now", NOW], capture_output=True, text=True, cwd=site)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr)
    said = [line for line in result.stdout.splitlines() if line.startswith("search index:")]
    seconds = float(said[-1].split(" in ")[1].split()[0]) if said else 0.0
    return wall, seconds


def index_size(output: Path) -> tuple[int, int]:
    files = [p for p in (output / "pagefind").rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    # Pagefind's index chunks are gzipped already; the JS and WASM are not.
    packed = sum(len(gzip.compress(p.read_bytes(), 6)) if p.suffix in (".js", ".wasm")
                 else p.stat().st_size for p in files)
    return raw, packed


def edit_one_post(site: Path, round_: int) -> None:
    post = sorted((site / "content").rglob("*.md"))[0]
    post.write_text(post.read_text("utf-8") + f"\nAn added line, round {round_}.\n", "utf-8")


def search_download(output: Path, word: str) -> tuple[int, int]:
    """Bytes and requests fetched from pagefind/ by one search in Chromium."""
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(output))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fetched: list[int] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--no-first-run"])
            page = browser.new_page()

            def count(response) -> None:
                if "/pagefind/" in response.url:
                    fetched.append(len(response.body()))

            page.on("response", count)
            page.goto(f"http://127.0.0.1:{server.server_port}/search/")
            page.fill("#search-query", word)
            page.wait_for_selector("#search-results li", timeout=60_000)
            page.wait_for_load_state("networkidle")
            browser.close()
    finally:
        server.shutdown()
    return sum(fetched), len(fetched)


def a_rare_word(site: Path) -> str:
    """A word of the commentary of one post that few others have: the generated posts'
    slugs are made of their titles' words, so the last word of the newest slug."""
    newest = sorted((site / "content").rglob("*.md"))[-1]
    return newest.stem.split("-")[-1]


def measure(size: int, repeat: int, browser: bool, root: Path) -> dict[str, object]:
    site = root / f"site-{size}"
    subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--posts", str(size),
                    "--out", str(site), "--engine", "marginalia"], check=True,
                   stdout=subprocess.DEVNULL)
    cold_wall, cold_index = build(site)
    walls, indexing = [], []
    for round_ in range(repeat):
        edit_one_post(site, round_)
        wall, seconds = build(site)
        walls.append(wall)
        indexing.append(seconds)
    raw, packed = index_size(site / "output")
    row: dict[str, object] = {
        "posts": size, "cold build s": round(cold_wall, 1), "cold indexing s": round(cold_index, 1),
        "edit build s": round(statistics.median(walls), 1),
        "edit indexing s": round(statistics.median(indexing), 1),
        "index MB": round(raw / 1e6, 1), "index MB gzip": round(packed / 1e6, 1)}
    if browser:
        got, requests = search_download(site / "output", a_rare_word(site))
        row["one search kB"], row["requests"] = round(got / 1e3), requests
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="marginalia-search-bench-"))
    try:
        rows = [measure(int(size), args.repeat, not args.no_browser, root)
                for size in args.sizes.split(",")]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    heads = list(rows[0])
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for row in rows:
        print("| " + " | ".join(str(row.get(head, "")) for head in heads) + " |")


if __name__ == "__main__":
    main()
