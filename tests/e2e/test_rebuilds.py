"""End-to-end: after any sequence of edits, an incremental build gives the bytes of a clean one.

The central promise of the cache (README, "Rebuilds are incremental"): parsed
posts and rendered pages are reused only when nothing they showed changed. A
hypothesis test drives a small inline site through random edits and, after
each, compares the incremental build with a clean --no-cache build of a fresh
copy of the same sources. Then: what a rebuild reports and which mtimes it
keeps, damaged caches and state, and the leftovers of a killed build.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import posixpath
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import lxml.html
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import BUILD_SCRIPT, PROJECT_DIR, CliRun, build_in_process, tree_snapshot
from marginalia.store import STATE_PATH
from marginalia.templates import DEFAULTS_DIR

NOW = "2030-01-01T00:00:00Z"
MARKER = ".marginalia-output"
SECTIONS = ("North Korea Fallout", "Trade Winds", "Capitol Ledger")
TITLES = ("Missile Drills", "Tariffs: Who Pays?", 'The "Deal" That Wasn\'t', "Budget Again",
          "Ünïcode Ñews")
# Around a year and month boundary in the site's zone, a tie, and one after NOW (held back).
DATES = ("2015-12-31T23:30:00-05:00", "2016-01-01T00:30:00", "2016-06-29T16:40:00-04:00",
         "2016-07-04", "2017-03-01T08:00:00Z", "2031-01-01T00:00:00Z")
TAG_SETS = ((), ("Japan",), ("Japan", "North Korea"), ("Trade", "China"),
            ("Budget", "Japan", "Trade"))
AUTHORS = ("", "Ann Lee", "Bo Park")
BODIES = (
    "The Japan Times:\n\n> A quoted passage.\n\nSome commentary.\n",
    "Short take.\n",
    "A footnote[^1] and a link to [the about page](/about/).\n\n[^1]: The note.\n",
    "Two paragraphs.\n\nWith *emphasis* and \"quotes\" -- smart ones.\n",
)
LAYOUT_FILES = ("base.html", "post.html", "section.html", "home.html",
                "partials/summary.html", "partials/footer.html")
SITE_TITLES = ("Test Blog", "Another Blog")
PER_PAGE = (1, 2, 3, 10)
FEED_ITEMS = (1, 2, 20)
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@dataclass(frozen=True)
class PostSpec:
    """One post of the model site; the file is written from these fields."""

    path: str  # under content/
    title: str
    section: str
    date: str
    tags: tuple[str, ...] = ()
    author: str = ""
    body: str = BODIES[0]
    draft: bool = False
    aliases: int = 0
    links_to: int | None = None  # key of a post whose .md file the body links to


@dataclass
class Model:
    """The whole site as plain values, so an operation is a small change to it."""

    posts: dict[int, PostSpec]
    next_key: int = 100
    title: str = SITE_TITLES[0]
    per_page: int = 2
    feed_items: int = 20
    layouts: dict[str, int] = field(default_factory=dict)  # file -> version, 0 = original
    css: int = 0
    renames: int = 0
    about: int = 0  # which version of the About Us page: its words, then its title

    def published(self, key: int) -> bool:
        post = self.posts.get(key)
        # Only the 2031 date in DATES is after NOW; a link to a held-back post is an error.
        return post is not None and not post.draft and post.date < NOW[:4]


def initial_model() -> Model:
    return Model(posts={
        1: PostSpec("content/posts/2016/drills.md", "Missile Drills 1", SECTIONS[0], DATES[2],
                    ("Japan", "North Korea"), "Ann Lee", BODIES[0], links_to=2),
        2: PostSpec("content/posts/2016/tariffs.md", "Tariffs: Who Pays? 2", SECTIONS[1],
                    DATES[1], ("Trade",), "", BODIES[1]),
        3: PostSpec("content/posts/2016/budget.md", "Budget Again 3", SECTIONS[2], DATES[3],
                    ("Budget",), "Bo Park", BODIES[2]),
        4: PostSpec("content/posts/2017/deal.md", 'The "Deal" That Wasn\'t 4', SECTIONS[1],
                    DATES[4], ("Trade", "China"), "Ann Lee", BODIES[3], aliases=1),
        5: PostSpec("content/posts/2015/eve.md", "Ünïcode Ñews 5", SECTIONS[0], DATES[0],
                    ("Japan",), "", BODIES[1]),
        6: PostSpec("content/posts/b/index.md", "Missile Drills 6", SECTIONS[0], DATES[2],
                    ("North Korea",), "Bo Park", "![A photo](photo.png)\n\nBundle words.\n"),
    })


def config_text(model: Model) -> str:
    sections = "".join(f'\n[[sections]]\nname = "{name}"\ndescription = "About {name}"\n'
                       for name in SECTIONS)
    return (f'title = "{model.title}"\ndescription = "Tests"\n'
            'base_url = "https://example.org/"\ntimezone = "America/New_York"\n'
            'publisher = "Example Media"\nauthor = "Desk Editor"\n'
            f"posts_per_page = {model.per_page}\n\n"
            '[[footer_links]]\nlabel = "About Us"\nurl = "/about/"\n'
            f"{sections}\n[feed]\nitems = {model.feed_items}\n")


def post_file(model: Model, key: int) -> str:
    post = model.posts[key]
    lines = ["---", f"title: {json.dumps(post.title, ensure_ascii=False)}",
             f"section: {post.section}", f"date: {post.date}",
             f"tags: {json.dumps(list(post.tags))}"]
    if post.author:
        lines.append(f"author: {post.author}")
    if post.draft:
        lines.append("draft: true")
    if post.aliases:
        lines.append("aliases: " + json.dumps([f"/old/{key}-{n}/" for n in range(post.aliases)]))
    body = post.body
    if post.links_to is not None and model.published(post.links_to):
        target = model.posts[post.links_to].path
        relative = posixpath.relpath(target, posixpath.dirname(post.path))
        body += f"\nSee [the earlier post]({relative}).\n"
    return "\n".join(lines) + "\n---\n" + body


def layout_text(name: str, version: int) -> str:
    original = (DEFAULTS_DIR / "layouts" / name).read_text(encoding="utf-8")
    if not version:
        return original
    edit = f"<!-- layout edit {version} -->\n"
    if version == 2:
        # A layout that reads every section's posts: its pages depend on all of them.
        edit += ("{% for s in site.sections %}{% for p in s.posts[:3] %}<i>{{ p.summary }}"
                 "</i>{% endfor %}{% endfor %}\n")
    # Text outside blocks of a child template is never shown, so edit inside 'main'.
    if "{% block main %}\n" in original:
        return original.replace("{% block main %}\n", "{% block main %}\n" + edit, 1)
    return original + edit


def site_files(model: Model) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "site.toml": config_text(model),
        "content/pages/about.md": ABOUT_VERSIONS[model.about],
        "content/posts/b/photo.png": PHOTO,
        "theme/style.css": ((DEFAULTS_DIR / "theme/style.css").read_text(encoding="utf-8")
                            + (f"\n.edit-{model.css} {{ color: red; }}\n" if model.css else "")),
    }
    for path in sorted((DEFAULTS_DIR / "layouts").rglob("*.html")):
        name = path.relative_to(DEFAULTS_DIR / "layouts").as_posix()
        files[f"layouts/{name}"] = layout_text(name, model.layouts.get(name, 0))
    for key, post in model.posts.items():
        files[post.path] = post_file(model, key)
    return files


def sync_site(site: Path, files: dict[str, str | bytes], before: dict[str, str | bytes]) -> None:
    """Write the files that differ from before and delete the ones that are gone."""
    for rel_path in set(before) - set(files):
        (site / rel_path).unlink()
    for rel_path, content in files.items():
        if before.get(rel_path) != content:
            path = site / rel_path
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")


# --- operations: (name, index, choice); indexes wrap around what exists -------------------

def _pick(model: Model, index: int, plain_only: bool = False) -> int | None:
    keys = sorted(k for k, p in model.posts.items()
                  if not (plain_only and p.path.endswith("/index.md")))
    return keys[index % len(keys)] if keys else None


def apply_operation(model: Model, operation: tuple[str, int, int]) -> None:
    name, index, choice = operation
    if name == "title":
        model.title = SITE_TITLES[choice % len(SITE_TITLES)]
        return
    if name == "per_page":
        model.per_page = PER_PAGE[choice % len(PER_PAGE)]
        return
    if name == "feed_items":
        model.feed_items = FEED_ITEMS[choice % len(FEED_ITEMS)]
        return
    if name == "layout":
        model.layouts[LAYOUT_FILES[index % len(LAYOUT_FILES)]] = choice % 3
        return
    if name == "css":
        model.css = choice % 3
        return
    if name == "about":
        model.about = choice % len(ABOUT_VERSIONS)
        return
    if name == "add":
        key, model.next_key = model.next_key, model.next_key + 1
        model.posts[key] = PostSpec(
            f"content/posts/2017/new-{key}.md", f"{TITLES[choice % len(TITLES)]} {key}",
            SECTIONS[index % len(SECTIONS)], DATES[choice % len(DATES)],
            TAG_SETS[index % len(TAG_SETS)], AUTHORS[choice % len(AUTHORS)],
            BODIES[index % len(BODIES)], links_to=_pick(model, choice))
        return
    key = _pick(model, index, plain_only=name == "rename")
    if key is None:
        return
    post = model.posts[key]
    if name == "delete":
        del model.posts[key]
        return
    if name == "rename":
        model.renames += 1
        year = ("2015", "2016", "2017", "misc")[choice % 4]
        model.posts[key] = replace(post, path=f"content/posts/{year}/moved-{key}-"
                                              f"{model.renames}.md")
        return
    changes = {
        "body": lambda: {"body": BODIES[choice % len(BODIES)]},
        "post_title": lambda: {"title": f"{TITLES[choice % len(TITLES)]} {key}"},
        "tags": lambda: {"tags": TAG_SETS[choice % len(TAG_SETS)]},
        "date": lambda: {"date": DATES[choice % len(DATES)]},
        "author": lambda: {"author": AUTHORS[choice % len(AUTHORS)]},
        "section": lambda: {"section": SECTIONS[choice % len(SECTIONS)]},
        "draft": lambda: {"draft": not post.draft},
        "alias": lambda: {"aliases": choice % 3},
    }[name]()
    model.posts[key] = replace(post, **changes)


ABOUT_VERSIONS = ("---\ntitle: About Us\nmenu: footer\n---\nWho we are.\n",
                  "---\ntitle: About Us\nmenu: footer\n---\nWho we are, and *why*.\n",
                  "---\ntitle: About This Site\nmenu: footer\nurl: /about/\n---\nWho we are.\n")
OPERATION_NAMES = ("about", "body", "post_title", "tags", "date", "author", "section", "draft",
                   "alias", "add", "delete", "rename", "layout", "css", "title", "per_page",
                   "feed_items")
# Steps that must leave output/ and what is beside it as they were (see run_edits); they
# change the model only for a moment, or, for strict_link and kill, as an ordinary edit.
FAILURE_NAMES = ("bad_yaml", "strict_link", "collision", "hand_edit", "kill")
KILL_DELAY_MS = 600  # a subprocess build of the model site takes about 0.3 s


def _step(name: str):
    last = st.integers(0, KILL_DELAY_MS) if name == "kill" else st.integers(0, 20)
    return st.tuples(st.just(name), st.integers(0, 20), last)


# (name, index, choice); for kill the last number is the delay before SIGKILL, in ms.
operations = st.sampled_from(OPERATION_NAMES + FAILURE_NAMES).flatmap(_step)


# --- builds -------------------------------------------------------------------------------

SOURCES = ("site.toml", "content", "layouts", "theme")
# A clean build is a pure function of the sources (test_build checks that two builds are
# byte-identical), so one clean build per distinct site is enough.
_clean_builds: dict[str, tuple[int, dict[str, bytes] | None]] = {}


def scratch_dir() -> Path:
    """A fresh folder, in memory where the system has one: these tests write many files."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="marginalia-incremental-",
                                 dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))


def build(site: Path, *args: str, report: Path | None = None):
    extra = ("--report", str(report)) if report else ()
    return build_in_process(site, *args, *extra, now=NOW)


def clean_build(site: Path, scratch: Path) -> tuple[int, dict[str, bytes] | None]:
    """Build a fresh copy of the site's sources with --no-cache into a fresh folder.

    A copy, so the clean build never writes the parse cache the incremental one reads.
    """
    digest = hashlib.sha256()
    for path in sorted(p for name in SOURCES for p in [site / name, *(site / name).rglob("*")]
                       if p.is_file()):
        digest.update(path.relative_to(site).as_posix().encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()
    if key not in _clean_builds:
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        for name in SOURCES:
            source = site / name
            if source.is_dir():
                shutil.copytree(source, scratch / name)
            elif source.exists():
                shutil.copy2(source, scratch / name)
        result = build(scratch, "--no-cache", "--output", str(scratch / "fresh-output"))
        snapshot = tree_snapshot(scratch / "fresh-output") if result.returncode == 0 else None
        _clean_builds[key] = (result.returncode, snapshot)
    return _clean_builds[key]


def mtimes(root: Path) -> dict[str, int]:
    """Map every published file to its mtime; the marker is rewritten on every build."""
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file() and p.name != MARKER}


def differences(before: dict[str, bytes], after: dict[str, bytes]) -> dict[str, list[str]]:
    old, new = set(before) - {MARKER}, set(after) - {MARKER}
    return {"added": sorted(new - old), "removed": sorted(old - new),
            "changed": sorted(p for p in old & new if before[p] != after[p])}


def assert_trees_equal(incremental: dict[str, bytes], clean: dict[str, bytes] | None) -> None:
    assert clean is not None, "the clean build failed"
    assert sorted(incremental) == sorted(clean), (
        f"only incremental: {sorted(set(incremental) - set(clean))}; "
        f"only clean: {sorted(set(clean) - set(incremental))}")
    differing = [p for p in incremental if incremental[p] != clean[p]]
    assert not differing, f"bytes differ from a clean build: {differing}"


def warm_builder():
    """Builds that share one WarmState, as the preview server's do, in this process."""
    from marginalia.cli import read_now
    from marginalia.errors import BuildError
    from marginalia.pipeline import BuildOptions, WarmState, build_site

    warm = WarmState()

    def build_warm(site: Path, *args: str, report: Path | None = None) -> CliRun:
        options = BuildOptions(site.resolve(), (site / "output").resolve(), read_now(NOW),
                               strict="--strict" in args)
        try:
            build_site(options, warm=warm)
        except BuildError as error:
            return CliRun(error.exit_code, "", str(error))
        return CliRun(0, "", "")
    return build_warm


# --- failure steps ------------------------------------------------------------------------

# What may sit beside output/ in the site folder: the sources, the tool's state under
# .cache/, and the spare tree. Anything else (a lock, a state folder, a staging folder, a
# temporary file) is a leftover.
ALLOWED_BESIDE_OUTPUT = frozenset({*SOURCES, ".cache", "output", ".output.spare"})
BROKEN_FRONT_MATTER = (
    '---\ntitle: "Unclosed\nsection: Trade Winds\ndate: 2016-07-04\n---\nBody.\n',
    "---\ntitle: Open List\nsection: Trade Winds\ndate: 2016-07-04\ntags: [Japan, Trade\n"
    "---\nBody.\n",
    "---\ntitle: Bad\n  section: Trade Winds\n date: 2016-07-04\n---\nBody.\n",
)
BROKEN_LINK_BODY = "A link to [x](/2016/01/01/nope/) that goes nowhere.\n"
HAND_EDIT = b"\n<!-- edited by hand -->\n"


def beside_output(site: Path) -> set[str]:
    """The names in output/'s parent folder, output/ itself left out."""
    return {p.name for p in site.iterdir()} - {"output"}


def assert_nothing_left_beside_output(site: Path, step) -> None:
    output = site / "output"
    assert output.is_dir() and not output.is_symlink(), (step, "output/ is not a folder")
    strays = sorted(beside_output(site) - ALLOWED_BESIDE_OUTPUT)
    assert not strays, (step, f"left beside output/: {strays}")
    temporary = sorted(p.relative_to(output).as_posix() for p in output.rglob("*")
                       if p.name.endswith(".tmp"))
    assert not temporary, (step, f"temporary files in output/: {temporary}")


def assert_same_entries_beside_output(site: Path, before: set[str], step) -> None:
    """After a failed step only the spare tree may have come or gone."""
    moved = sorted((beside_output(site) ^ before) - {".output.spare"})
    assert not moved, (step, f"entries beside output/ came or went: {moved}")


def killed_build(site: Path, delay: float) -> subprocess.CompletedProcess:
    """Run a build as run_build does and SIGKILL it after delay seconds."""
    process = subprocess.Popen([sys.executable, str(BUILD_SCRIPT), "--site", str(site),
                                "--now", NOW], cwd=site, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)  # not reaped yet, so the pid is still its own
        _, stderr = process.communicate(timeout=120)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, "", stderr)


class EditRun:
    """The model site, its folder and what its last successful build published."""

    def __init__(self, root: Path, warm: bool):
        self.root, self.warm = root, warm
        self.site, self.report = root / "site", root / "report.json"
        self.output = self.site / "output"
        self.build = warm_builder() if warm else globals()["build"]
        self.model = initial_model()
        self.files = site_files(self.model)
        sync_site(self.site, self.files, {})
        first = self.build(self.site)
        assert first.returncode == 0, first.stderr
        assert_trees_equal(tree_snapshot(self.output), self.clean()[1])
        assert_nothing_left_beside_output(self.site, "first build")
        self.previous, self.previous_mtimes = tree_snapshot(self.output), mtimes(self.output)
        self.hand_edited: set[str] = set()  # changed in output/ by hand since the last build

    def clean(self) -> tuple[int, dict[str, bytes] | None]:
        return clean_build(self.site, self.root / "clean")

    def sync(self) -> None:
        new_files = site_files(self.model)
        sync_site(self.site, new_files, self.files)
        self.files = new_files

    def write_sources(self, files: dict[str, str | bytes]) -> None:
        """Put other sources in place for a moment; sync() puts the model's back."""
        sync_site(self.site, files, self.files)
        self.files = files

    def build_and_check(self, step, *args: str) -> CliRun:
        """An ordinary build: it does what a clean build does, and when that fails, it
        leaves output/ as it was."""
        on_disk = tree_snapshot(self.output)
        result = self.build(self.site, *args, report=self.report)
        clean_code, clean = self.clean()
        assert result.returncode == clean_code, (step, result.stderr)
        assert_nothing_left_beside_output(self.site, step)
        if result.returncode != 0:
            assert tree_snapshot(self.output) == on_disk, (step, "a failed build changed output/")
            return result
        reported = None
        if not self.warm:
            reported = json.loads(self.report.read_text(encoding="utf-8"))["changes"]
        self.check_published(step, clean, reported)
        return result

    def check_published(self, step, clean, reported: dict[str, list] | None) -> None:
        """output/ holds a new successful build: compare it with the clean build, the
        report and the mtimes of the last one, and make it the last one."""
        current = tree_snapshot(self.output)
        try:
            assert_trees_equal(current, clean)
        except AssertionError as error:
            raise AssertionError((step, str(error))) from None
        # A page changed by hand is put back; what the report and its mtime say about it
        # is left open.
        skip = self.hand_edited
        if reported is not None:
            assert ({k: sorted(set(v) - skip) for k, v in reported.items()}
                    == {k: sorted(set(v) - skip)
                        for k, v in differences(self.previous, current).items()}), step
        current_mtimes = mtimes(self.output)
        kept = [p for p in current_mtimes if self.previous.get(p) == current[p] and p not in skip]
        moved = [p for p in kept if current_mtimes[p] != self.previous_mtimes[p]]
        assert not moved, (step, f"unchanged files got a new mtime: {moved}")
        # Sync tools upload a file whose size differs or whose mtime is newer.
        rewritten = [p for p in current_mtimes
                     if p in self.previous and self.previous[p] != current[p]]
        stale = [p for p in rewritten if current_mtimes[p] <= self.previous_mtimes[p]]
        assert not stale, (step, f"changed files kept an old mtime: {stale}")
        self.previous, self.previous_mtimes = current, current_mtimes
        self.hand_edited = set()

    def failing_build(self, step, *args: str) -> None:
        """A build that must fail with exit 1 and leave output/ as it was."""
        on_disk = tree_snapshot(self.output)
        result = self.build(self.site, *args, report=self.report)
        assert result.returncode == 1, (step, result.returncode, result.stderr)
        assert tree_snapshot(self.output) == on_disk, (step, "a failed build changed output/")
        assert_nothing_left_beside_output(self.site, step)
        if not self.warm:
            assert json.loads(self.report.read_text(encoding="utf-8"))["ok"] is False, step

    def step(self, step: tuple[str, int, int]) -> None:
        name, index, choice = step
        if name not in FAILURE_NAMES:
            apply_operation(self.model, step)
            self.sync()
            self.build_and_check(step)
            return
        if name == "kill" and self.warm:
            return  # a preview build runs in the server's process
        beside = beside_output(self.site)
        getattr(self, name)(step, index, choice)
        assert_nothing_left_beside_output(self.site, step)
        if name != "strict_link":  # which may end with a successful build
            assert_same_entries_beside_output(self.site, beside, step)

    # --- one method per failure step, each called with (step, index, choice) --------------

    def bad_yaml(self, step, index: int, choice: int) -> None:
        """A post, new or one that was built before, whose front matter is not YAML."""
        key = _pick(self.model, index) if choice % 2 == 0 else None
        path = (self.model.posts[key].path if key is not None
                else f"content/posts/2016/broken-{self.model.next_key}.md")
        self.write_sources({**self.files, path: BROKEN_FRONT_MATTER[index % 3]})
        self.failing_build(step)
        self.sync()

    def strict_link(self, step, index: int, choice: int) -> None:
        """A published post with a broken link: --strict refuses it; without --strict it
        is built with a warning (when choice is even) or it is taken away again."""
        beside = beside_output(self.site)
        key, self.model.next_key = self.model.next_key, self.model.next_key + 1
        self.model.posts[key] = PostSpec(
            f"content/posts/2016/nowhere-{key}.md", f"Nowhere {key}",
            SECTIONS[index % len(SECTIONS)], DATES[choice % 5], body=BROKEN_LINK_BODY)
        self.sync()
        self.failing_build(step, "--strict")
        assert_same_entries_beside_output(self.site, beside, step)
        if choice % 2 == 0:
            result = self.build_and_check(step)
            if result.returncode == 0 and not self.warm:
                assert "/2016/01/01/nope/" in result.stderr, (step, "no warning")
        else:
            del self.model.posts[key]
            self.sync()

    def collision(self, step, index: int, choice: int) -> None:
        """A second post with the file name, date and section of one that is published,
        or two new twins: both claim one permalink."""
        published = sorted(k for k in self.model.posts if self.model.published(k)
                           and not self.model.posts[k].path.endswith("/index.md"))
        twins = Model(**{**vars(self.model), "posts": dict(self.model.posts)})
        first = self.model.next_key
        if published and choice % 2 == 0:
            original = self.model.posts[published[index % len(published)]]
        else:
            original = PostSpec(f"content/posts/2016/twin-{first}.md", f"Twin {first}",
                                SECTIONS[index % len(SECTIONS)], DATES[choice % 5])
            twins.posts[first] = original
        twin_path = f"content/posts/twins/{posixpath.basename(original.path)}"
        twins.posts[first + 1] = replace(original, path=twin_path,
                                         body=BODIES[choice % len(BODIES)], links_to=None,
                                         aliases=0)
        self.write_sources(site_files(twins))
        self.failing_build(step)
        self.sync()

    def hand_edit(self, step, index: int, choice: int) -> None:
        """Append to a file in output/ or delete it; the next build puts it back."""
        names = sorted(p for p in tree_snapshot(self.output) if p != MARKER)
        rel_path = names[(index * 21 + choice) % len(names)]
        path = self.output / rel_path
        if choice % 2 == 0:
            with path.open("ab") as handle:  # in place, as an editor without backups does
                handle.write(HAND_EDIT)
        else:
            path.unlink()
        self.hand_edited.add(rel_path)
        self.build_and_check(step)

    def kill(self, step, index: int, delay_ms: int) -> None:
        """An edit, then a build killed at a random moment; then an ordinary build."""
        apply_operation(self.model, (OPERATION_NAMES[index % len(OPERATION_NAMES)], index,
                                     delay_ms % 21))
        self.sync()
        beside, on_disk = beside_output(self.site), tree_snapshot(self.output)
        result = killed_build(self.site, delay_ms / 1000)
        clean_code, clean = self.clean()
        assert result.returncode in (-signal.SIGKILL, clean_code), (step, result.stderr)
        assert_nothing_left_beside_output(self.site, (step, "killed"))
        assert_same_entries_beside_output(self.site, beside, (step, "killed"))
        current = tree_snapshot(self.output)
        if result.returncode == 0:
            self.check_published((step, "killed"), clean, None)
        elif current != on_disk:
            # Killed after the new tree was swapped in but before the process ended: all
            # of the new build or none of it.
            assert result.returncode == -signal.SIGKILL and clean_code == 0, (
                step, "a failed build changed output/")
            self.check_published((step, "killed after the swap"), clean, None)
        self.build_and_check((step, "after the kill"))


def run_edits(edits: list[tuple[str, int, int]], warm: bool = False) -> None:
    """Build, then after each edit build incrementally and check it against a clean build.

    Also: a failed build leaves output/ alone, the report's changes are exactly what
    differs on disk, and a file whose bytes did not change keeps its mtime. With
    warm, every build shares what a preview server keeps between builds.

    Between the edits come failure steps (FAILURE_NAMES): front matter that is not YAML,
    a broken link under --strict, two posts with one permalink, a file of output/ changed
    by hand, a build killed with SIGKILL. A failed build leaves output/ byte for byte as
    it was; after every step, nothing but the spare tree is left beside output/.
    """
    root = scratch_dir()
    try:
        run = EditRun(root, warm)
        for edit in edits:
            run.step(edit)
    finally:
        shutil.rmtree(root, ignore_errors=True)


EDIT_SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow])


@EDIT_SETTINGS
@given(st.lists(operations, min_size=1, max_size=5))
# Every failure step at least once, whatever is drawn: a broken link kept and built with a
# warning, a collision with a published post, both hand edits, kills early and late.
@example([("strict_link", 0, 0), ("hand_edit", 4, 0), ("collision", 1, 0), ("body", 0, 1)])
@example([("kill", 9, 150), ("bad_yaml", 2, 0), ("kill", 1, 450), ("hand_edit", 3, 1),
          ("strict_link", 1, 1)])
def test_incremental_build_equals_clean_build_after_any_edits(edits):
    run_edits(edits)


@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=6))
def test_preview_builds_that_keep_state_equal_clean_builds(edits):
    run_edits(edits, warm=True)


def test_incremental_build_after_renaming_a_linked_post_equals_clean_build():
    """Regression: the parse cache was keyed by text alone, so a renamed file kept its old path."""
    # Post 2 is the target of post 1's relative .md link.
    run_edits([("rename", 1, 0)])


def test_incremental_build_after_renaming_a_post_equals_clean_build():
    # Post 3 moves to the date of posts 1 and 6, so the order of the three (on the home
    # page, two to a page) follows their file names; then post 3 is renamed, text unchanged.
    run_edits([("date", 2, 2), ("rename", 2, 3)])


# --- targeted cases -----------------------------------------------------------------------

@pytest.fixture
def model_site(tmp_path) -> tuple[Path, Model]:
    """The model site, written and built once into output/."""
    model = initial_model()
    site = tmp_path / "site"
    sync_site(site, site_files(model), {})
    result = build(site)
    assert result.returncode == 0, result.stderr
    return site, model


def edit_and_build(site: Path, model: Model, *edits: tuple[str, int, int], report=None):
    before = site_files(model)
    for edit in edits:
        apply_operation(model, edit)
    sync_site(site, site_files(model), before)
    return build(site, report=report)


def post_page(site: Path, slug: str) -> Path:
    """The page of the post with this slug: the one in a day's folder, not a tag's."""
    [page] = [p for p in (site / "output").rglob("index.html")
              if p.parent.name == slug and p.parent.parent.name.isdigit()]
    return page


@pytest.mark.parametrize("flags", [(), ("--no-cache",)])
def test_no_change_rebuild_reports_nothing_and_touches_nothing(model_site, tmp_path, flags):
    """--no-cache parses and renders everything again, and still leaves every file
    whose bytes did not change as it was, mtime included."""
    site, _ = model_site
    before, before_mtimes = tree_snapshot(site / "output"), mtimes(site / "output")
    report = tmp_path / "report.json"
    result = build(site, *flags, report=report)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["ok"] is True
    assert data["changes"] == {"added": [], "changed": [], "removed": []}
    assert tree_snapshot(site / "output") == before
    assert mtimes(site / "output") == before_mtimes


def test_unchanged_files_keep_their_mtime_when_another_post_changes(model_site, tmp_path):
    site, model = model_site
    budget, drills = post_page(site, "budget"), post_page(site, "drills")
    budget_mtime, drills_mtime = budget.stat().st_mtime_ns, drills.stat().st_mtime_ns
    time.sleep(0.01)
    report = tmp_path / "report.json"
    result = edit_and_build(site, model, ("body", 0, 1), report=report)  # post 1 = drills
    assert result.returncode == 0, result.stderr
    changes = json.loads(report.read_text(encoding="utf-8"))["changes"]
    assert drills.relative_to(site / "output").as_posix() in changes["changed"]
    assert budget.relative_to(site / "output").as_posix() not in changes["changed"]
    assert budget.stat().st_mtime_ns == budget_mtime
    assert drills.stat().st_mtime_ns > drills_mtime
    body = lxml.html.document_fromstring(drills.read_bytes()).xpath(
        "string(//div[@class='post-body'])")
    assert "Short take." in body


def test_a_file_that_changed_gets_a_newer_mtime_even_when_reverted(model_site):
    """Regression: bytes from two builds ago came back from the spare tree with their old
    mtime, older than the deployed copy, so `aws s3 sync` (size or newer mtime) skipped them."""
    site, model = model_site
    page = post_page(site, "budget")
    first = (page.read_bytes(), page.stat().st_mtime_ns)
    time.sleep(0.01)
    assert edit_and_build(site, model, ("body", 2, 3)).returncode == 0  # post 3 = budget
    second = (page.read_bytes(), page.stat().st_mtime_ns)
    time.sleep(0.01)
    assert edit_and_build(site, model, ("body", 2, 2)).returncode == 0  # back to the first
    third = (page.read_bytes(), page.stat().st_mtime_ns)
    assert first[0] != second[0] and third[0] == first[0]
    assert second[1] > first[1]
    assert third[1] > second[1], "the reverted page is older than the one it replaced"


# --- damaged caches and state -------------------------------------------------------------

def state_files(site: Path) -> list[Path]:
    """The state's files; the image cache beside it holds only derived pictures."""
    return [p for p in (site / ".cache" / "marginalia").rglob("*")
            if p.is_file() and "images" not in p.relative_to(site / ".cache").parts]


def reshape(path: Path, value, blob_prefix: str = "") -> None:
    """Replace every entry of the state by value: each entry of a sealed value (resealed
    with a valid checksum, so only the check of its shape can refuse it), and each
    column but the key of the other tables. With blob_prefix, only those sealed values."""
    with sqlite3.connect(path) as connection:
        for name, data in connection.execute("SELECT name, data FROM blobs").fetchall():
            if not name.startswith(blob_prefix):
                continue
            payload = marshal.loads(data)
            entries = payload.get("files", payload) if isinstance(payload, dict) else payload
            if isinstance(entries, dict):
                for key in list(entries):
                    entries[key] = value
            else:
                payload = value
            data = marshal.dumps(payload)
            connection.execute("UPDATE blobs SET data = ?, checksum = ? WHERE name = ?",
                               (data, hashlib.blake2b(data, digest_size=16).digest(), name))
        tables = [] if blob_prefix else connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        for (table,) in tables:
            if table in ("info", "blobs"):
                continue
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")
                       if not row[5]]  # row[5]: part of the primary key
            for column in columns:
                connection.execute(f"UPDATE {table} SET {column} = ?",
                                   (value if isinstance(value, int) else json.dumps(value),))
    connection.close()


def other_version(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE info SET value = 'marginalia-state 0' WHERE key = 'schema'")
    connection.close()


CORRUPTIONS = {
    "truncated": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(b"\x00\xff{not json"),
    "half": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "a list": lambda p: p.write_text("[1, 2, 3]", encoding="utf-8"),
    "another version": other_version,
    "empty entries": lambda p: reshape(p, {}),
    "entries as numbers": lambda p: reshape(p, 5),
    "entries as empty lists": lambda p: reshape(p, []),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_damaged_state_is_ignored(model_site, tmp_path, corruption):
    site, model = model_site
    assert state_files(site) == [site / STATE_PATH]
    CORRUPTIONS[corruption](site / STATE_PATH)
    result = edit_and_build(site, model, ("body", 0, 3))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    code, clean = clean_build(site, tmp_path / "clean")
    assert code == 0
    assert_trees_equal(tree_snapshot(site / "output"), clean)


@pytest.mark.parametrize("corruption", ["truncated", "garbage", "another version"])
def test_damaged_state_does_not_bring_back_deleted_pages(model_site, tmp_path, corruption):
    """Regression: with the spare tree's manifest unreadable, its old pages were published."""
    site, model = model_site
    # After a deletion, the spare tree (the build before last) holds pages that must go.
    assert edit_and_build(site, model, ("delete", 2, 0)).returncode == 0
    CORRUPTIONS[corruption](site / STATE_PATH)
    result = edit_and_build(site, model, ("body", 0, 3))
    assert result.returncode == 0, result.stderr
    code, clean = clean_build(site, tmp_path / "clean")
    assert_trees_equal(tree_snapshot(site / "output"), clean)


@pytest.mark.parametrize("value", [{}, 5, [], "text"])
def test_a_parse_index_of_the_wrong_shape_is_ignored(model_site, tmp_path, value):
    site, model = model_site
    reshape(site / STATE_PATH, value, blob_prefix="parsed ")
    result = edit_and_build(site, model, ("post_title", 2, 0))
    assert result.returncode == 0, result.stderr
    code, clean = clean_build(site, tmp_path / "clean")
    assert_trees_equal(tree_snapshot(site / "output"), clean)


def test_a_parse_index_changed_behind_its_back_is_not_used(model_site, tmp_path):
    """The index carries a checksum: one edited in place, even to valid values, is
    parsed again rather than trusted."""
    site, _ = model_site
    with sqlite3.connect(site / STATE_PATH) as connection:
        for name, data in connection.execute("SELECT name, data FROM blobs").fetchall():
            if name.startswith("parsed "):
                index = marshal.loads(data)
                for row in index.values():
                    row[0] = ""  # no signature: every file is read again
                    row[3][0] = "Forged title"
                connection.execute("UPDATE blobs SET data = ? WHERE name = ?",
                                   (marshal.dumps(index), name))
    connection.close()
    result = build(site)
    assert result.returncode == 0, result.stderr
    assert not any(b"Forged" in data for data in tree_snapshot(site / "output").values())
    code, clean = clean_build(site, tmp_path / "clean")
    assert_trees_equal(tree_snapshot(site / "output"), clean)


@pytest.mark.parametrize("html", ["<p>planted</p>", 5, ""])
def test_damaged_post_bodies_are_parsed_again(model_site, tmp_path, html):
    site, model = model_site
    with sqlite3.connect(site / STATE_PATH) as connection:
        connection.execute("UPDATE bodies SET html = ?", (html,))
    connection.close()
    # A change to the templates re-renders every post page, so every body is needed.
    result = edit_and_build(site, model, ("layout", 0, 1))
    assert result.returncode == 0, result.stderr
    assert not any(b"planted" in data for data in tree_snapshot(site / "output").values())
    code, clean = clean_build(site, tmp_path / "clean")
    assert_trees_equal(tree_snapshot(site / "output"), clean)


def test_stale_staging_of_a_killed_build_is_removed(model_site, tmp_path):
    site, model = model_site
    stale = site / ".output.staging-99999"
    (stale / "2016").mkdir(parents=True)
    (stale / MARKER).write_text("Marginalia\n", encoding="utf-8")
    (stale / "2016" / "half-written.html").write_text("<p>half", encoding="utf-8")
    result = edit_and_build(site, model, ("post_title", 0, 3))
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert not list(site.glob(".output.staging-*"))
    code, clean = clean_build(site, tmp_path / "clean")
    assert_trees_equal(tree_snapshot(site / "output"), clean)


def test_a_folder_without_the_marker_beside_output_is_left_alone(model_site):
    site, _ = model_site
    foreign = site / ".output.staging-4242"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours", encoding="utf-8")
    assert build(site).returncode == 0
    assert (foreign / "keep.txt").read_text(encoding="utf-8") == "not ours"


def test_build_killed_mid_swap_restores_and_rebuilds_cleanly(model_site, tmp_path):
    site, model = model_site
    # Killed between renaming output/ away and renaming staging into place.
    (site / "output").rename(site / ".output.old-99999")
    stale = site / ".output.staging-99999"
    stale.mkdir()
    (stale / MARKER).write_text("Marginalia\n", encoding="utf-8")
    result = edit_and_build(site, model, ("date", 1, 4))
    assert result.returncode == 0, result.stderr
    assert not list(site.glob(".output.old-*")) and not list(site.glob(".output.staging-*"))
    code, clean = clean_build(site, tmp_path / "clean")
    assert_trees_equal(tree_snapshot(site / "output"), clean)
