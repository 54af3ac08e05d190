"""Shared fixtures: inline fixture sites and a way to run the real command line."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = PROJECT_DIR / "build.py"

MINIMAL_CONFIG = """\
title = "Test Blog"
description = "A blog for tests"
base_url = "https://example.org/"
language = "en"
timezone = "America/New_York"
publisher = "Example Media LLC"
copyright_start_year = 2010
posts_per_page = 2

[[footer_links]]
label = "About Us"
url = "/about/"

[[sections]]
name = "North Korea Fallout"
description = "Fallout"

[[sections]]
name = "Trade Winds"
description = "Trade"

[comments]
provider = "giscus"

[comments.giscus]
repo = "example/comments"
repo_id = "R_1"
category = "Comments"
category_id = "C_1"
"""


# The front matter example from the product spec, which must always build.
SPEC_FRONT_MATTER = """\
---
title: "U.S. Brings South Korea and Japan Together for Missile Defense Drills"
section: North Korea Fallout
date: 2016-06-29T16:40:00-04:00
dek: "Two reluctant allies are being pushed together."
sources:
  - name: The Japan Times
    url: https://www.japantimes.co.jp/
tags: [North Korea, Japan, South Korea, Missile Defense]
comments: true
---
"""


def post_text(title: str = "A Post", section: str = "North Korea Fallout",
              date: str = "2016-06-29T16:40:00-04:00", body: str = "Some words.\n",
              **fields: str) -> str:
    """Return the text of a post file with the given front matter fields."""
    lines = [f'title: "{title}"', f"section: {section}", f"date: {date}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


def write_site(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write a site from {relative path: text}; site.toml defaults to a minimal one."""
    files = {"site.toml": MINIMAL_CONFIG, **files}
    for rel_path, content in files.items():
        path = root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content) if content.startswith("\n") else content,
                            encoding="utf-8")
    return root


def run_build(site_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run build.py as an editor would, in a subprocess."""
    return subprocess.run([sys.executable, str(BUILD_SCRIPT), "--site", str(site_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=site_dir)


@contextlib.contextmanager
def serving(handler_class: type, directory: Path) -> Iterator[int]:
    """Serve a folder on 127.0.0.1 with the given handler class; yield the port."""
    handler = functools.partial(handler_class, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Map every file under root to its bytes, to compare trees exactly."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def make_site(tmp_path):
    """Return a function that writes a fixture site and returns its folder."""
    def make(files: dict[str, str | bytes] | None = None) -> Path:
        return write_site(tmp_path / "site", files or {})
    return make


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory) -> Path:
    """Build the demo site once per session and return its output folder."""
    output = tmp_path_factory.mktemp("demo") / "output"
    result = run_build(PROJECT_DIR, "--output", str(output))
    assert result.returncode == 0, result.stderr
    return output


FIXED_NOW = "2030-01-01T00:00:00Z"


@dataclass
class CliRun:
    """What one in-process run of the command line returned and printed."""

    returncode: int
    stdout: str
    stderr: str


def build_in_process(site_dir: Path, *args: str, now: str | None = FIXED_NOW) -> CliRun:
    """Run the command line in this process (faster than run_build) and capture its output."""
    from marginalia.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["build", "--site", str(site_dir), *(["--now", now] if now else []), *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors
            code = exc.code if isinstance(exc.code, int) else 2
    return CliRun(code, out.getvalue(), err.getvalue())


def cli(*argv: str):
    """Run the command line in this process; return (exit code, stdout, stderr)."""
    from marginalia.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def parse_html(path: Path):
    """Parse an output page with lxml.html and return the document root."""
    import lxml.html

    return lxml.html.document_fromstring(path.read_bytes())


def sandbox_snapshot(root: Path, skip: str | None = None) -> dict[str, tuple]:
    """Map every entry under root (files, folders, links) to what it is and holds."""
    entries: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if skip and (rel == skip or rel.startswith(skip + "/")):
            continue
        if path.is_symlink():
            entries[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            entries[rel] = ("dir",)
        else:
            entries[rel] = ("file", path.read_bytes())
    return entries


@pytest.fixture
def site_config():
    """A checked Config for the minimal fixture site, for unit tests of single stages."""
    from marginalia.config import parse_config

    return parse_config(MINIMAL_CONFIG, Path("/site"))


ABOUT_PAGE = '---\ntitle: "About Us"\n---\nWho we are.\n'


def blog_files(files: dict[str, str | bytes] | None = None) -> dict[str, str | bytes]:
    """Add the page MINIMAL_CONFIG's footer link points at (footer links must resolve)."""
    return {"content/pages/about.md": ABOUT_PAGE, **(files or {})}


@pytest.fixture
def make_blog(tmp_path):
    """Like make_site, with the About page the minimal config's footer links to."""
    def make(files: dict[str, str | bytes] | None = None) -> Path:
        return write_site(tmp_path / "site", blog_files(files))
    return make
