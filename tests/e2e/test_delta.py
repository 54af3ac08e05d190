"""End-to-end: a rebuild after edits to posts alone starts from the last build's snapshot.

build_edits either builds exactly what a clean build would, or declines, saying
why, without writing anything, leaving the build to the full pipeline. Each
case below checks one of the two.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import build_in_process, post_text, tree_snapshot, write_site
from marginalia.cli import read_now
from marginalia.delta import EditedBuild, build_edits
from marginalia.pipeline import BuildOptions
from marginalia.snapshot import SNAPSHOT_NAME

NOW = "2030-01-01T00:00:00Z"
LINKING = post_text("Ties That Bind", date="2016-07-02T09:00:00-04:00",
                    body="See [the drills](drills.md) and ![map](map.png).\n",
                    tags="[Japan]")


def site_files() -> dict[str, str | bytes]:
    return {
        "content/pages/about.md": "---\ntitle: About Us\nmenu: footer\n---\nWho we are.\n",
        "content/posts/drills.md": post_text("Missile Drills", body="First words.\n",
                                             tags="[Japan, Missile Defense]",
                                             dek='"Allies, pushed together."'),
        "content/posts/budget.md": post_text("Budget Again", section="Trade Winds",
                                             date="2016-07-01T10:00:00-04:00"),
        "content/posts/ties.md": LINKING,
        "content/posts/map.png": b"\x89PNG\r\n\x1a\nnot really",
        "content/posts/later.md": post_text("Later Post", date="2016-08-01T10:00:00-04:00",
                                            author="Ada Reyes"),
        "content/posts/draft.md": post_text("Not Yet", draft="true"),
        "content/posts/scheduled.md": post_text("Scheduled", date="2030-06-01T09:00:00Z"),
    }


@pytest.fixture
def site(tmp_path) -> Path:
    root = write_site(tmp_path / "site", site_files())
    first = build_in_process(root, now=NOW)
    assert first.returncode == 0, first.stderr
    assert (root / ".output.state" / SNAPSHOT_NAME).is_file()
    return root


def options(site: Path, now: str = NOW, **overrides) -> BuildOptions:
    return BuildOptions(site_dir=site.resolve(), output_dir=(site / "output").resolve(),
                        now=read_now(now), **overrides)


def edit(site: Path, rel_path: str, old: str, new: str) -> None:
    path = site / rel_path
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def clean_build(site: Path, scratch: Path) -> dict[str, bytes]:
    """Build a copy of the site's sources with no cache or state into a fresh folder."""
    copy = scratch / "clean"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("output", ".output*", ".cache"))
    result = build_in_process(copy, "--no-cache", now=NOW)
    assert result.returncode == 0, result.stderr
    return tree_snapshot(copy / "output")


def state(site: Path) -> dict[str, bytes]:
    """Everything a build writes: the output, its state and the caches."""
    return {f"{name}/{path}": data for name in ("output", ".output.state", ".cache")
            for path, data in tree_snapshot(site / name).items()}


# --- edits the snapshot handles ------------------------------------------------------------

@pytest.mark.parametrize("rel_path, old, new", [
    ("content/posts/drills.md", "First words.", "Other words, *emphasised*."),
    ("content/posts/drills.md", "Allies, pushed together.", "A new dek for the listings."),
    ("content/posts/drills.md", "Missile Defense]", "Missile Defense]\nsources:\n"
     "  - name: The Japan Times\n    url: https://www.japantimes.co.jp/"),
    ("content/posts/budget.md", "Some words.", "A [link](ties.md) to a post."),
    ("content/posts/ties.md", "See [the drills]", "Look at [the drills]"),
    ("content/posts/draft.md", "Some words.", "Still a draft."),
])
def test_an_edit_that_moves_no_post_gives_the_bytes_of_a_clean_build(site, tmp_path,
                                                                      rel_path, old, new):
    edit(site, rel_path, old, new)
    assert isinstance(build_edits(options(site)), EditedBuild)
    assert tree_snapshot(site / "output") == clean_build(site, tmp_path)


def test_successive_edits_each_start_from_the_snapshot_the_last_one_left(site, tmp_path):
    for words in ("One.", "Two, with a [link](later.md).", "Three."):
        text = post_text("Missile Drills", body=words + "\n", tags="[Japan, Missile Defense]",
                         dek='"Allies, pushed together."')
        (site / "content/posts/drills.md").write_text(text, encoding="utf-8")
        assert isinstance(build_edits(options(site)), EditedBuild)
        assert tree_snapshot(site / "output") == clean_build(site, tmp_path)
    # A later full build agrees with what the snapshot builds left in the caches.
    result = build_in_process(site, now=NOW)
    assert result.returncode == 0, result.stderr
    assert tree_snapshot(site / "output") == clean_build(site, tmp_path)


def test_an_edit_keeps_the_mtime_of_every_file_it_does_not_change(site):
    before = {p: p.stat().st_mtime_ns for p in (site / "output").rglob("*") if p.is_file()}
    old_bytes = {p: p.read_bytes() for p in before}
    edit(site, "content/posts/later.md", "Some words.", "Different words.")
    assert isinstance(build_edits(options(site)), EditedBuild)
    changed = [p for p in before if p.read_bytes() != old_bytes[p]]
    assert changed and all(p.stat().st_mtime_ns > before[p] for p in changed)
    assert all(p.stat().st_mtime_ns == before[p] for p in before
               if p not in changed and p.name != ".marginalia-output")


def test_touching_a_file_without_changing_it_rebuilds_nothing(site):
    before = tree_snapshot(site / "output")
    for path in (site / "content").rglob("*.md"):
        path.write_bytes(path.read_bytes())
    written = build_edits(options(site)).written
    assert (written.added, written.changed, written.removed) == ((), (), ())
    assert tree_snapshot(site / "output") == before


# --- everything else is left to the full pipeline, untouched -------------------------------

def declines(site: Path, build_options: BuildOptions | None = None, because: str = "") -> None:
    before = state(site)
    reason = build_edits(build_options or options(site))
    assert isinstance(reason, str) and because in reason, reason
    assert state(site) == before


MOVED = "content/posts/drills.md moved"


@pytest.mark.parametrize("rel_path, old, new, because", [
    ("content/posts/drills.md", "2016-06-29T16:40:00-04:00", "2016-06-28T16:40:00-04:00",
     MOVED),
    ("content/posts/drills.md", "[Japan, Missile Defense]", "[Japan]", MOVED),
    ("content/posts/drills.md", "section: North Korea Fallout", "section: Trade Winds", MOVED),
    ("content/posts/drills.md", 'title: "Missile Drills"', 'title: "Missile Tests"', MOVED),
    ("content/posts/later.md", "author: Ada Reyes", "author: Bo Lind",
     "content/posts/later.md moved"),
    ("content/posts/drills.md", 'title: "Missile Drills"', 'title: "Missile Drills"\ndraft: true',
     MOVED),
    ("content/posts/draft.md", "draft: true", "draft: false", "content/posts/draft.md moved"),
    ("content/posts/drills.md", "First words.", "A [broken link](/nowhere/).",
     "a page links to nothing"),
    ("content/posts/drills.md", "First words.", "A link to [a draft](draft.md).",
     "content/posts/drills.md links to a file that is not published"),
    ("content/posts/drills.md", "date: 2016", "date: 2016-13-01\nupdated: 2016",
     "content/posts/drills.md has a problem"),
    ("content/pages/about.md", "Who we are.", "Who we are now.",
     "content/pages/about.md changed"),
    ("site.toml", 'title = "Test Blog"', 'title = "Another Blog"',
     "site.toml changed"),
    ("site.toml", "posts_per_page = 2", "posts_per_page = [", "site.toml has a problem"),
    ("site.toml", 'timezone = "America/New_York"', 'timezone = "Europe/Paris"',
     "site.toml changed"),
])
def test_an_edit_that_moves_a_post_or_touches_the_rest_is_declined(site, rel_path, old, new,
                                                                    because):
    edit(site, rel_path, old, new)
    declines(site, because=because)


def test_a_broken_post_is_left_for_the_full_build_to_report(site):
    edit(site, "content/posts/drills.md", 'title: "Missile Drills"', "title: [unclosed")
    declines(site)
    before = state(site)
    result = build_in_process(site, now=NOW)
    assert result.returncode == 1
    assert result.stderr.startswith("content/posts/drills.md:3:8: YAML:")
    assert state(site) == before


@pytest.mark.parametrize("change, because", [
    ("add", "added to, removed from or renamed in content/"),
    ("remove", "added to, removed from or renamed in content/"),
    ("asset", "content/posts/map.png changed"),
    ("layout", "a layout, the theme"),
    ("theme", "a layout, the theme")])
def test_a_change_beyond_post_text_is_declined(site, change, because):
    if change == "add":
        (site / "content/posts/new.md").write_text(post_text("New"), encoding="utf-8")
    elif change == "remove":
        (site / "content/posts/budget.md").unlink()
    elif change == "asset":
        (site / "content/posts/map.png").write_bytes(b"\x89PNG\r\n\x1a\nanother picture")
    elif change == "layout":
        layout = site / "layouts" / "post.html"
        layout.parent.mkdir(exist_ok=True)
        default = Path(__file__).resolve().parents[2] / "layouts" / "post.html"
        layout.write_text(default.read_text(encoding="utf-8") + "\n<!-- mine -->\n",
                          encoding="utf-8")
    else:
        (site / "theme").mkdir()
        (site / "theme" / "style.css").write_text("body { color: red; }\n", encoding="utf-8")
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    declines(site, because=because)


def test_the_clock_passing_a_scheduled_post_is_declined(site):
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    declines(site, options(site, now="2030-06-02T00:00:00Z"), "a post's date or expiry")
    assert isinstance(build_edits(options(site, now="2030-05-31T00:00:00Z")), EditedBuild)


@pytest.mark.parametrize("overrides", [{"base_url": "https://preview.example/"},
                                       {"drafts": True}, {"no_cache": True}])
def test_other_options_than_the_last_build_are_declined(site, overrides):
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    declines(site, options(site, **overrides))


def declined_edit_builds_as_clean(site: Path, scratch: Path) -> None:
    """Edit a post's words: the snapshot declines, and the full build is right."""
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    assert isinstance(build_edits(options(site)), str)
    result = build_in_process(site, now=NOW)
    assert result.returncode == 0, result.stderr
    assert tree_snapshot(site / "output") == clean_build(site, scratch)


SNAPSHOT_DAMAGE = {
    "missing": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-100]),
    "one byte flipped": lambda p: p.write_bytes(
        p.read_bytes()[:-10] + bytes([p.read_bytes()[-10] ^ 1]) + p.read_bytes()[-9:]),
    "garbage": lambda p: p.write_bytes(os.urandom(4096)),
    "a link": lambda p: (p.unlink(), p.symlink_to(p.parent / "elsewhere")),
}


@pytest.mark.parametrize("damage", list(SNAPSHOT_DAMAGE))
def test_a_damaged_snapshot_is_ignored(site, tmp_path, damage):
    SNAPSHOT_DAMAGE[damage](site / ".output.state" / SNAPSHOT_NAME)
    declined_edit_builds_as_clean(site, tmp_path)


def test_output_changed_by_another_build_is_declined(site, tmp_path):
    other = build_in_process(site, "--base-url", "https://preview.example/", now=NOW)
    assert other.returncode == 0, other.stderr
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    declines(site)


def test_a_page_edited_by_hand_in_output_is_rendered_again(site, tmp_path):
    [page] = (site / "output").rglob("budget-again/index.html")
    with open(page, "ab") as handle:  # in place: same inode, same folder mtime
        handle.write(b"<!-- edited by hand -->")
    declined_edit_builds_as_clean(site, tmp_path)


def test_a_failed_full_build_keeps_the_snapshot_in_step_with_the_output(site, tmp_path):
    edit(site, "content/posts/drills.md", "date: 2016", "date: 2016-13-01\nupdated: 2016")
    assert build_in_process(site, now=NOW).returncode == 1
    edit(site, "content/posts/drills.md", "date: 2016-13-01\nupdated: 2016", "date: 2016")
    edit(site, "content/posts/later.md", "Some words.", "Different words.")
    assert isinstance(build_edits(options(site)), EditedBuild)
    assert tree_snapshot(site / "output") == clean_build(site, tmp_path)


def test_a_damaged_record_of_changes_is_declined(site):
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    assert isinstance(build_edits(options(site)), EditedBuild)
    changes = site / ".output.state" / (SNAPSHOT_NAME + ".changes")
    changes.write_bytes(changes.read_bytes()[:-3])
    edit(site, "content/posts/later.md", "Some words.", "Different words.")
    declines(site)


def test_many_changes_are_folded_into_the_snapshot(site, tmp_path, monkeypatch):
    monkeypatch.setattr("marginalia.snapshot.MAX_CHANGED_POSTS", 1)
    changes = site / ".output.state" / (SNAPSHOT_NAME + ".changes")
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    assert isinstance(build_edits(options(site)), EditedBuild)
    assert changes.is_file()
    edit(site, "content/posts/later.md", "Some words.", "Different words.")
    assert isinstance(build_edits(options(site)), EditedBuild)
    assert not changes.exists()
    edit(site, "content/posts/budget.md", "Some words.", "Fewer words.")
    assert isinstance(build_edits(options(site)), EditedBuild)
    assert tree_snapshot(site / "output") == clean_build(site, tmp_path)


def test_pages_whose_layout_reads_every_post_are_rendered_again(tmp_path):
    """Post pages with a sidebar of one section's deks show other posts' words: with
    enough posts to fill several groups of post pages, most are in no edited group."""
    default = (Path(__file__).resolve().parents[2] / "layouts" / "post.html").read_text(
        encoding="utf-8")
    sidebar = ("{% block main %}<aside>{% for p in site.sections[0].posts %}{{ p.dek }} "
               "{% endfor %}</aside>")
    assert "{% block main %}" in default
    fillers = {f"content/posts/filler-{n}.md": post_text(
        f"Filler {n}", section="Trade Winds", date=f"2015-{n % 12 + 1:02d}-{n % 28 + 1:02d}")
        for n in range(150)}
    files = {**site_files(), **fillers,
             "layouts/post.html": default.replace("{% block main %}", sidebar, 1)}
    root = write_site(tmp_path / "site", files)
    assert build_in_process(root, now=NOW).returncode == 0
    edit(root, "content/posts/drills.md", "Allies, pushed together.", "Allies, at odds.")
    assert isinstance(build_edits(options(root)), EditedBuild)
    pages = list((root / "output").rglob("filler-*/index.html"))
    assert len(pages) == 150
    assert all("Allies, at odds." in page.read_text(encoding="utf-8") for page in pages)
    assert tree_snapshot(root / "output") == clean_build(root, tmp_path)


def test_verbose_output_says_how_the_build_went_about_it(site):
    edit(site, "content/posts/drills.md", "First words.", "Other words.")
    result = build_in_process(site, "-v", now=NOW)
    assert "from the last build's snapshot: 1 edited post read again" in result.stdout
    (site / "content/posts/new.md").write_text(post_text("New"), encoding="utf-8")
    result = build_in_process(site, "-v", now=NOW)
    assert ("full build: files were added to, removed from or renamed in content/"
            in result.stdout)
