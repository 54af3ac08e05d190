"""End-to-end: failed, killed, concurrent and damaged builds keep their promises.

A failed build leaves output/ byte for byte as it was and nothing new beside it;
the only entries the tool may make beside output/ are output/ itself and one
spare folder, `.output.spare` (`.X.spare` for `--output X`); everything else it
keeps lives under SITE/.cache/. A build killed outright leaves no process behind.
Two builds at once never mix their files. A damaged state store is ignored, and
said to be. Whatever happened before, the next good build equals a clean one.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from marginalia.templates import DEFAULTS_DIR

from conftest import (BUILD_SCRIPT, FIXED_NOW, PROJECT_DIR, blog_files, build_in_process,
                      post_text, run_build, sandbox_snapshot, tree_snapshot, write_site)

MARKER = ".marginalia-output"
GENERATE = PROJECT_DIR / "bench" / "generate.py"
KILL_POSTS = 600  # on 2 cores, a cold build runs parse, then render workers, ~3 s each
RACE_POSTS = 300  # enough for both stages to fork workers; a cold build lasts a few seconds

POSTS = {
    "content/posts/a.md": post_text(title="First", date="2016-06-01T09:00:00-04:00"),
    "content/posts/b.md": post_text(title="Second", date="2016-06-02T09:00:00-04:00",
                                    section="Trade Winds", tags="[Tariffs, Ports]"),
    "content/posts/c.md": post_text(title="Third", date="2016-06-03T09:00:00-04:00",
                                    body="Third words, with *emphasis*.\n"),
    "content/posts/d.md": post_text(title="Fourth", date="2016-06-04T09:00:00-04:00",
                                    tags="[Tariffs]"),
}
BROKEN_LINK_POST = post_text(title="Linker", date="2016-06-05T09:00:00-04:00",
                             body="See [that](/2016/01/01/nope/).\n")
BAD_YAML_POST = ("---\ntitle: [unclosed\nsection: North Korea Fallout\n"
                 "date: 2016-06-06T09:00:00-04:00\n---\nWords.\n")


# --- helpers --------------------------------------------------------------------------

def build(site: Path, *args: str) -> subprocess.CompletedProcess:
    """The command line in a subprocess, on a fixed clock."""
    return run_build(site, "--now", FIXED_NOW, *args)


def make_blog(root: Path, extra: dict[str, str] | None = None) -> Path:
    return write_site(root / "site", blog_files({**POSTS, **(extra or {})}))


def copy_sources(site: Path, dest: Path) -> Path:
    """Copy what an editor keeps (site.toml, content/, layouts/, theme/), nothing built."""
    dest.mkdir(parents=True)
    shutil.copy(site / "site.toml", dest / "site.toml")
    for name in ("content", "layouts", "theme"):
        if (site / name).is_dir():
            shutil.copytree(site / name, dest / name)
    return dest


def clean_build(site: Path, scratch: Path) -> dict[str, bytes]:
    """Build a fresh copy of the site's sources with --no-cache into a fresh folder."""
    scratch.mkdir(parents=True, exist_ok=True)
    copy = copy_sources(site, scratch / f"clean-{len(os.listdir(scratch))}")
    result = build(copy, "--no-cache")
    assert result.returncode == 0, result.stderr
    return tree_snapshot(copy / "output")


def assert_same_tree(actual: dict[str, bytes], expected: dict[str, bytes]) -> None:
    """Tree equality with a short message (a plain == would print megabytes)."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    assert not (missing or extra or changed), (
        f"the trees differ: missing {missing[:10]} ({len(missing)}), "
        f"extra {extra[:10]} ({len(extra)}), changed {changed[:10]} ({len(changed)})")


def stray_entries(output: Path) -> list[str]:
    """Entries in output/ that no site has: temporaries and hidden files bar the marker."""
    return sorted(p.relative_to(output).as_posix() for p in output.rglob("*")
                  if p.name.endswith(".tmp")
                  or (p.name.startswith(".") and p.relative_to(output).as_posix() != MARKER))


def identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def assert_only_allowed_beside(output: Path, sources: set[str] = frozenset()) -> None:
    """The output's parent holds its own entries (sources), output/, at most one spare
    folder and, when it is the site folder, .cache/: nothing else the tool made."""
    allowed = set(sources) | {output.name, f".{output.name}.spare"}
    if (output.parent / "site.toml").is_file():
        allowed.add(".cache")
    found = set(os.listdir(output.parent))
    assert found <= allowed, f"unexpected beside {output.name}/: {sorted(found - allowed)}"
    spare = output.parent / f".{output.name}.spare"
    if spare.exists() or spare.is_symlink():
        assert spare.is_dir() and not spare.is_symlink()
    if output.exists() or output.is_symlink():
        assert output.is_dir() and not output.is_symlink()


def without(snapshot: dict[str, tuple], *prefixes: str) -> dict[str, tuple]:
    return {rel: entry for rel, entry in snapshot.items()
            if not any(rel == p or rel.startswith(p + "/") for p in prefixes)}


def generate_corpus(posts: int, out: Path) -> Path:
    subprocess.run([sys.executable, str(GENERATE), "--posts", str(posts), "--out", str(out),
                    "--engine", "marginalia"], check=True, capture_output=True, timeout=120)
    return out


# --- 1. a strict failure between builds with a warning (regression) --------------------

@pytest.mark.parametrize("runner", ["subprocess", "in-process"])
def test_strict_failures_between_warning_builds_leave_output_clean(tmp_path, runner):
    """Regression: build, add a broken link, build (warning), --strict (fails), build...
    left '.tmp' files in output/ and, a few builds later, failed with 'File exists'."""
    site = make_blog(tmp_path)
    output = site / "output"

    def run(*args: str):
        return build(site, *args) if runner == "subprocess" else build_in_process(site, *args)

    def check(step: str) -> None:
        assert stray_entries(output) == [], f"after {step}"

    result = run()
    assert result.returncode == 0, result.stderr
    check("the first build")
    (site / "content/posts/linker.md").write_text(BROKEN_LINK_POST)
    result = run()
    assert result.returncode == 0, result.stderr
    assert "content/posts/linker.md" in result.stderr
    check("the build with a warning")
    for cycle in range(1, 6):
        before, index = tree_snapshot(output), identity(output / "index.html")
        result = run("--strict")
        assert result.returncode == 1, f"cycle {cycle}: {result.stderr}"
        assert "content/posts/linker.md" in result.stderr
        check(f"the --strict build of cycle {cycle}")
        assert_same_tree(tree_snapshot(output), before)
        assert identity(output / "index.html") == index, f"cycle {cycle}: index.html replaced"
        result = run()
        assert result.returncode == 0, f"cycle {cycle}: {result.stderr}"
        assert "content/posts/linker.md" in result.stderr, f"cycle {cycle}: no warning"
        check(f"the build after the --strict one in cycle {cycle}")
    assert_same_tree(tree_snapshot(output), clean_build(site, tmp_path / "clean"))


# --- 2. nothing but output/ and one spare beside output/ --------------------------------

def failing_post_layout(title: str) -> str:
    """The default post layout, failing on an undefined variable for one post only."""
    layout = (DEFAULTS_DIR / "layouts" / "post.html").read_text(encoding="utf-8")
    assert "{% block main %}" in layout
    return layout.replace("{% block main %}", "{% block main %}"
                          f'{{% if post.title == "{title}" %}}{{{{ undefined_thing.x }}}}'
                          "{% endif %}", 1)


LAYOUTS = ["default", "elsewhere"]  # SITE/output, or --output OTHER/www


def output_of(tmp_path: Path, layout: str) -> Path:
    return tmp_path / "site" / "output" if layout == "default" else tmp_path / "pub" / "www"


def output_args(tmp_path: Path, layout: str) -> tuple[str, ...]:
    return () if layout == "default" else ("--output", str(output_of(tmp_path, layout)))


TWIN = post_text(title="Twin", date="2016-07-01T09:00:00-04:00")
FIRST_BUILD_FAILURES = {  # files that make a first build fail, and what stderr names
    # Two posts with one file name, date and section claim one permalink.
    "collision": ({"content/posts/twin.md": TWIN, "content/posts/2016/twin.md": TWIN},
                  ["content/posts/twin.md", "content/posts/2016/twin.md"]),
    # Fails while rendering, once most pages are already made.
    "template-error": ({"layouts/post.html": failing_post_layout("Third")}, ["undefined_thing"]),
}


@pytest.mark.parametrize("failure", FIRST_BUILD_FAILURES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_failing_first_build_creates_nothing_anywhere(tmp_path, layout, failure):
    files, named = FIRST_BUILD_FAILURES[failure]
    site = make_blog(tmp_path, files)
    if layout == "elsewhere":
        (tmp_path / "pub").mkdir()
    before = sandbox_snapshot(tmp_path)
    result = build(site, *output_args(tmp_path, layout))
    assert result.returncode == 1, result.stderr
    for name in named:
        assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox_snapshot(tmp_path) == before


@pytest.mark.parametrize("layout", LAYOUTS)
def test_only_output_and_one_spare_beside_output(tmp_path, layout):
    site = make_blog(tmp_path)
    output = output_of(tmp_path, layout)
    output.parent.mkdir(exist_ok=True)
    sources = set(os.listdir(output.parent))
    before = sandbox_snapshot(tmp_path)
    steps = [
        lambda: None,
        lambda: (site / "content/posts/e.md").write_text(
            post_text(title="Fifth", date="2016-06-07T09:00:00-04:00")),
        lambda: (site / "content/posts/c.md").write_text(
            post_text(title="Third", date="2016-06-03T09:00:00-04:00", body="New words.\n")),
        lambda: None,
        lambda: (site / "content/posts/a.md").unlink(),
    ]
    for number, step in enumerate(steps, start=1):
        step()
        result = build(site, *output_args(tmp_path, layout))
        assert result.returncode == 0, f"build {number}: {result.stderr}"
        assert_only_allowed_beside(output, sources)
    (site / "content/posts/bad.md").write_text(BAD_YAML_POST)
    assert build(site, *output_args(tmp_path, layout)).returncode == 1
    assert_only_allowed_beside(output, sources)
    # Beyond output/, the spare and SITE/.cache/, only the edits above changed anything.
    ours = ("site/.cache", output.relative_to(tmp_path).as_posix(),
            output.parent.relative_to(tmp_path).joinpath(f".{output.name}.spare").as_posix())
    after = without(sandbox_snapshot(tmp_path), *ours)
    edited = ("site/content/posts/a.md", "site/content/posts/bad.md", "site/content/posts/c.md",
              "site/content/posts/e.md")
    assert without(after, *edited) == without(without(before, *ours), *edited)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_failing_rebuild_changes_nothing_outside_the_cache(tmp_path, layout):
    site = make_blog(tmp_path)
    output = output_of(tmp_path, layout)
    output.parent.mkdir(exist_ok=True)
    assert build(site, *output_args(tmp_path, layout)).returncode == 0
    (site / "content/posts/e.md").write_text(
        post_text(title="Fifth", date="2016-06-07T09:00:00-04:00"))
    assert build(site, *output_args(tmp_path, layout)).returncode == 0
    (site / "content/posts/bad.md").write_text(BAD_YAML_POST)
    before = sandbox_snapshot(tmp_path, skip="site/.cache")
    index = identity(output / "index.html")
    result = build(site, *output_args(tmp_path, layout))
    assert result.returncode == 1
    assert "content/posts/bad.md" in result.stderr
    assert sandbox_snapshot(tmp_path, skip="site/.cache") == before
    assert identity(output / "index.html") == index


def test_a_late_template_error_leaves_output_and_its_folder_unchanged(tmp_path):
    site = make_blog(tmp_path)
    output = site / "output"
    assert build(site).returncode == 0
    (site / "content/posts/e.md").write_text(
        post_text(title="Fifth", date="2016-06-07T09:00:00-04:00"))
    assert build(site).returncode == 0
    write_site(site, {"layouts/post.html": failing_post_layout("Second")})
    before_tree, index = tree_snapshot(output), identity(output / "index.html")
    before_listing = sorted(os.listdir(site))
    before_rest = without(sandbox_snapshot(tmp_path), "site/.cache", "site/.output.spare")
    result = build(site)
    assert result.returncode == 1, result.stderr
    assert "undefined_thing" in result.stderr
    assert "Traceback" not in result.stderr
    assert_same_tree(tree_snapshot(output), before_tree)
    assert identity(output / "index.html") == index
    assert sorted(os.listdir(site)) == before_listing
    assert without(sandbox_snapshot(tmp_path), "site/.cache", "site/.output.spare") == before_rest


# --- 3. a killed build leaves no process ------------------------------------------------

needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/stat"),
                                reason="finds a build's processes in /proc")


def _proc_stat(pid: int | str) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def _descendants(root: int) -> dict[int, tuple[str, int, int]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _proc_stat(name)) is not None:
            table[int(name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = {}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found[child] = table[child]
                stack.append(child)
    return found


def _running(pid: int, started: int) -> bool:
    """Whether this very process (not a later one with its pid) exists and is no zombie."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z" and stat[2] == started


@dataclass
class Reaper:
    """Every process a test started, ended at teardown if a build left it running."""

    builds: list[subprocess.Popen] = field(default_factory=list)
    pids: dict[int, int] = field(default_factory=dict)  # pid -> start time

    def end_all(self) -> None:
        for pid, started in self.pids.items():
            if _running(pid, started):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.builds:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def reaper():
    kept = Reaper()
    yield kept
    kept.end_all()


@dataclass
class Killed:
    seen: dict[int, int]  # every descendant seen while the build ran: pid -> start time
    workers: dict[int, int]  # the worker processes running when it was killed
    at: float  # seconds into the build


def kill_build_during(site: Path, generation: int, delay: float, reaper: Reaper,
                      log: Path) -> Killed:
    """Start a cold build and SIGKILL its parent process alone once the given generation
    of child processes (1: the parse stage's workers, 2: the render stage's, 3: Pagefind)
    has run delay s."""
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, str(BUILD_SCRIPT), "--site", str(site),
                                 "--now", FIXED_NOW], cwd=site, stdout=subprocess.DEVNULL,
                                stderr=stderr, start_new_session=True)
    reaper.builds.append(proc)
    seen: dict[int, int] = {}
    current: set[int] = set()
    count, since, started = 0, 0.0, time.monotonic()
    while proc.poll() is None:
        found = _descendants(proc.pid)
        for pid, (_, _, start) in found.items():
            seen.setdefault(pid, start)
            reaper.pids.setdefault(pid, start)
        workers = {pid for pid, (state, ppid, _) in found.items()
                   if ppid == proc.pid and state != "Z"}
        now = time.monotonic()
        if workers and not workers & current:
            count, since, current = count + 1, now, set(workers)
        else:
            current |= workers
        if count == generation and workers and now - since >= delay:
            os.kill(proc.pid, signal.SIGKILL)  # the parent only, never its group
            proc.wait()
            return Killed(seen, {pid: seen[pid] for pid in workers}, now - started)
        assert now - started < 120, "the build did not reach the moment in 120 s"
        time.sleep(0.02)
    pytest.fail(f"the build ended (exit {proc.returncode}) after {count} generation(s) of "
                f"workers, before generation {generation} had run {delay} s: "
                + log.read_text(errors="replace")[-2000:])


def assert_all_gone(killed: Killed, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while True:
        left = sorted(pid for pid, started in killed.seen.items() if _running(pid, started))
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, (f"{len(left)} of the build's {len(killed.seen)} processes outlived "
                      f"its parent by {within} s: {left}")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Generated corpora by size, each written once per module and copied per test."""
    root = tmp_path_factory.mktemp("corpora")
    made: dict[int, Path] = {}

    def corpus(posts: int) -> Path:
        if posts not in made:
            made[posts] = generate_corpus(posts, root / f"posts-{posts}")
        return made[posts]
    return corpus


@pytest.fixture(scope="module")
def race_clean(corpora, tmp_path_factory) -> dict[str, bytes]:
    """A clean --no-cache build of the RACE_POSTS corpus."""
    return clean_build(corpora(RACE_POSTS), tmp_path_factory.mktemp("race-clean"))


MOMENTS = {  # which generation of child processes (1: parse workers, 2: render workers,
    # 3: the search indexer), seconds after it appeared
    "parse": (1, 0.5),
    "render-early": (2, 0.2),
    "render-late": (2, 0.7),
    "search-index": (3, 0.3),
}


@needs_proc
@pytest.mark.parametrize("moment", MOMENTS)
def test_workers_die_with_a_killed_build(tmp_path, corpora, reaper, moment):
    site = tmp_path / "site"
    shutil.copytree(corpora(KILL_POSTS), site)
    generation, delay = MOMENTS[moment]
    killed = kill_build_during(site, generation, delay, reaper, tmp_path / "build.log")
    assert killed.workers, "no worker processes were running when the build was killed"
    assert_all_gone(killed)
    assert_only_allowed_beside(site / "output", {"site.toml", "content"})


@needs_proc
def test_a_build_after_a_killed_one_equals_a_clean_build(tmp_path, corpora, race_clean,
                                                         reaper):
    site = tmp_path / "site"
    shutil.copytree(corpora(RACE_POSTS), site)
    killed = kill_build_during(site, 2, 0.2, reaper, tmp_path / "build.log")
    assert killed.workers
    assert_all_gone(killed)
    assert_only_allowed_beside(site / "output", {"site.toml", "content"})
    result = build(site)
    assert result.returncode == 0, result.stderr
    assert_same_tree(tree_snapshot(site / "output"), race_clean)
    assert_only_allowed_beside(site / "output", {"site.toml", "content"})


# --- 4. two builds at once --------------------------------------------------------------

@pytest.mark.parametrize("run", range(3))
def test_two_builds_at_once_never_mix(tmp_path, corpora, race_clean, reaper, run):
    site = tmp_path / "site"
    shutil.copytree(corpora(RACE_POSTS), site)
    command = [sys.executable, str(BUILD_SCRIPT), "--site", str(site), "--now", FIXED_NOW]
    logs = [tmp_path / f"build-{n}.log" for n in range(2)]
    builds = []
    for log in logs:
        with open(log, "wb") as stderr:
            builds.append(subprocess.Popen(command, cwd=site, stdout=subprocess.DEVNULL,
                                           stderr=stderr))
    reaper.builds.extend(builds)
    outcomes = [(proc.wait(timeout=120), log.read_text(errors="replace"))
                for proc, log in zip(builds, logs)]
    for code, stderr in outcomes:
        assert "Traceback" not in stderr
        assert code == 0 or "another build" in stderr.lower(), (code, stderr[-2000:])
    assert any(code == 0 for code, _ in outcomes), outcomes
    assert_same_tree(tree_snapshot(site / "output"), race_clean)


# --- 5. a damaged state store is ignored --------------------------------------------------

SIDECARS = ("-wal", "-shm", "-journal")


def truncate_to_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def random_bytes(path: Path) -> None:
    rng = random.Random(path.name)
    path.write_bytes(rng.randbytes(max(path.stat().st_size, 4096)))


def foreign_schema(path: Path) -> None:
    path.unlink()
    if path.name.endswith(SIDECARS):
        return
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE info (key, value)")
        db.execute("INSERT INTO info VALUES ('schema', 'marginalia-state 0')")
        db.execute("CREATE TABLE junk (a, b, c)")
        db.executemany("INSERT INTO junk VALUES (?, ?, ?)",
                       [(n, f"row {n}", b"\x00\xff" * n) for n in range(50)])
    db.close()


DAMAGE = {"truncated": truncate_to_half, "random-bytes": random_bytes,
          "foreign-schema": foreign_schema}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_state_store_is_ignored_and_said_to_be(tmp_path, damage):
    site = make_blog(tmp_path)
    for _ in range(2):
        result = build(site)
        assert result.returncode == 0, result.stderr
    store = site / ".cache" / "marginalia"
    damaged = sorted(p for p in store.rglob("*") if p.is_file())
    assert damaged, "a build kept nothing under .cache/marginalia/"
    for path in damaged:
        DAMAGE[damage](path)
    post = site / "content/posts/c.md"
    post.write_text(post.read_text() + "\nA sentence added after the damage.\n")
    result = build(site, "-v")
    assert result.returncode == 0, result.stderr
    assert_same_tree(tree_snapshot(site / "output"), clean_build(site, tmp_path / "clean"))
    lines = (result.stdout + "\n" + result.stderr).lower().splitlines()
    assert any("ignored" in line and "state" in line for line in lines), (
        f"no line says the state was ignored:\n{result.stdout}\n{result.stderr}")


# --- 6. a hand edit in output/, a failed build, then a good build ---------------------------

def hand_edit(output: Path) -> None:
    index = output / "index.html"
    index.write_bytes(index.read_bytes() + b"<!-- edited by hand -->")
    (output / "2016/06/02/b/index.html").write_text("<p>replaced by hand</p>")
    (output / "about/index.html").unlink()


FAILURES = {  # what breaks the build, the flags of the failing build, what fixes it
    "no-failure": ({}, (), "remove"),  # the hand edits alone
    "bad-yaml": ({"content/posts/bad.md": BAD_YAML_POST}, (), "remove"),
    "strict-broken-link": ({"content/posts/linker.md": BROKEN_LINK_POST}, ("--strict",), "keep"),
    "template-error": ({"layouts/post.html": failing_post_layout("Third")}, (), "remove"),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_good_build_after_a_hand_edit_and_a_failed_one_equals_a_clean_one(tmp_path, failure):
    files, flags, fix = FAILURES[failure]
    site = make_blog(tmp_path)
    output = site / "output"
    for _ in range(2):
        result = build(site)
        assert result.returncode == 0, result.stderr
    hand_edit(output)
    if files:
        write_site(site, files)
        result = build(site, *flags)
        assert result.returncode == 1, result.stderr
    if fix == "remove":
        for rel_path in files:
            (site / rel_path).unlink()
    clean = clean_build(site, tmp_path / "clean")
    for attempt in range(2):
        result = build(site)
        assert result.returncode == 0, result.stderr
        assert_same_tree(tree_snapshot(output), clean)
        assert stray_entries(output) == []
