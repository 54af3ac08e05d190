"""Unit tests for marginalia.write: safe paths, the output checks, staging and the swap."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import sandbox_snapshot, tree_snapshot
from marginalia.errors import OutputError
from marginalia.model import OutputFile
from marginalia.store import Store, build_lock
from marginalia.write import (MARKER_NAME, check_output_dir, remove_stale_staging, safe_target,
                              spare_dir)
from marginalia.write import write_output as write_with_state


def files(contents: dict[str, str]) -> list[OutputFile]:
    return [OutputFile(rel_path, text.encode(), "test") for rel_path, text in contents.items()]


def write_output(outputs: list[OutputFile], output: Path):
    """Write as a build does: with the state of a site in the output's parent folder."""
    return write_with_state(outputs, output, Store(output.parent))


@pytest.mark.parametrize("rel_path, expected", [
    ("index.html", "index.html"),
    ("a/b/index.html", "a/b/index.html"),
    ("a/../b.html", "b.html"),
])
def test_safe_target_inside(tmp_path, rel_path, expected):
    assert safe_target(tmp_path, rel_path) == tmp_path / expected


@pytest.mark.parametrize("rel_path", ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "a\0b",
                                      ".", "a/..", "../" * 10 + "tmp/x"])
def test_safe_target_refuses_escapes(tmp_path, rel_path):
    with pytest.raises(OutputError):
        safe_target(tmp_path, rel_path)


def test_safe_target_refuses_a_symlink_out(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path, root / "up")
    with pytest.raises(OutputError, match="leaves the output folder"):
        safe_target(root.resolve(), "up/x.html")


def test_write_output_writes_files_and_marker(tmp_path):
    output = tmp_path / "output"
    written = write_output(files({"index.html": "home", "a/b/index.html": "b"}), output)
    assert sorted(written.added) == ["a/b/index.html", "index.html"]
    assert written.changed == () and written.removed == ()
    assert tree_snapshot(output) == {MARKER_NAME: (output / MARKER_NAME).read_bytes(),
                                     "a/b/index.html": b"b", "index.html": b"home"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache", "output"]


def test_write_output_replaces_the_whole_tree(tmp_path):
    output = tmp_path / "output"
    write_output(files({"old.html": "old", "keep.html": "same"}), output)
    written = write_output(files({"keep.html": "changed", "new.html": "new"}), output)
    assert (written.added, written.changed, written.removed) == (
        ("new.html",), ("keep.html",), ("old.html",))
    assert tree_snapshot(output) == {MARKER_NAME: (output / MARKER_NAME).read_bytes(),
                                     "keep.html": b"changed", "new.html": b"new"}


def test_rewrites_after_the_spare_tree_are_exact(tmp_path):
    output = tmp_path / "output"
    versions = [{"a.html": "1", "b/c.html": "1"}, {"a.html": "2"}, {"a.html": "2", "d.html": "3"},
                {"b/c.html": "4"}]
    for version in versions:
        write_output(files(version), output)
        snapshot = tree_snapshot(output)
        del snapshot[MARKER_NAME]
        assert snapshot == {k: v.encode() for k, v in version.items()}


SITE = {"index.html": "home", "2016/01/a/index.html": "a", "2016/01/b/index.html": "b"}


def published(output: Path) -> dict[str, bytes]:
    """Every file with its bytes, every symbolic link as b"link", and nothing else."""
    snapshot = tree_snapshot(output)
    del snapshot[MARKER_NAME]
    for path in output.rglob("*"):
        if path.is_symlink():
            snapshot[path.relative_to(output).as_posix()] = b"link"
    return snapshot


@pytest.mark.parametrize("meddle", [
    pytest.param(lambda out, away: (out / "2016/01/stray.html").write_text("x"),
                 id="stray-file"),
    pytest.param(lambda out, away: (out / "2016/01/a/new").mkdir()
                 or (out / "2016/01/a/new/x.html").write_text("x"), id="stray-folder"),
    pytest.param(lambda out, away: os.symlink(away, out / "2016/01/link"), id="symlink"),
    pytest.param(lambda out, away: (shutil.rmtree(out / "2016/01/b"),
                                    os.symlink(away, out / "2016/01/b")),
                 id="folder-became-symlink"),
    pytest.param(lambda out, away: (out / "2016/01/a/index.html").write_text("A"),
                 id="file-edited"),
    pytest.param(lambda out, away: (out / "2016/01/a/index.html").unlink(), id="file-removed"),
])
def test_changes_made_by_hand_never_reach_a_later_build(tmp_path, meddle):
    """The tree swapped out becomes the next build's staging tree: anything done to it
    after it was written is found and undone, and nothing is written through a link."""
    output, away = tmp_path / "output", tmp_path / "away"
    away.mkdir()
    write_output(files(SITE), output)
    meddle(output, away)
    for _ in range(3):
        write_output(files(SITE), output)
        assert published(output) == {k: v.encode() for k, v in SITE.items()}
    assert list(away.iterdir()) == []


@pytest.mark.parametrize("step", ["read_tree_state", "_verify_staging_tree", "TargetResolver",
                                  "swap_in"])
@pytest.mark.parametrize("with_spare", [False, True])
def test_ctrl_c_while_the_staging_tree_is_set_up_leaves_no_staging_folder(
        tmp_path, monkeypatch, step, with_spare):
    import marginalia.write as write

    output = tmp_path / "output"
    write_output(files({"index.html": "first"}), output)
    if with_spare:
        write_output(files({"index.html": "second"}), output)
    before = tree_snapshot(output)
    real = getattr(write, step)

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)  # the step runs, then Ctrl-C lands right after it
        raise KeyboardInterrupt

    monkeypatch.setattr(write, step, interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output(files({"index.html": "third"}), output)
    if step == "swap_in":  # interrupted once the new tree is in: all of it is there
        assert (output / "index.html").read_text() == "third"
    else:
        assert tree_snapshot(output) == before
    beside = {p.name for p in tmp_path.iterdir()} - {".cache", "output"}
    assert beside <= {".output.spare"}
    monkeypatch.undo()
    write_output(files({"index.html": "fourth"}), output)
    assert (output / "index.html").read_text() == "fourth"


def test_write_output_refuses_an_escaping_path_and_keeps_the_previous(tmp_path):
    output = tmp_path / "output"
    write_output(files({"index.html": "v1"}), output)
    before = sandbox_snapshot(tmp_path)
    with pytest.raises(OutputError):
        write_output([*files({"index.html": "v2"}), OutputFile("../evil.html", b"x", "test")],
                     output)
    assert sandbox_snapshot(tmp_path) == before


def test_stale_staging_with_marker_is_removed(tmp_path):
    output = tmp_path / "output"
    stale = tmp_path / ".output.staging-99999"
    stale.mkdir()
    (stale / MARKER_NAME).write_text("x")
    (stale / "half.html").write_text("half")
    remove_stale_staging(output)
    assert not stale.exists()


def test_foreign_staging_lookalike_is_left_alone(tmp_path):
    output = tmp_path / "output"
    lookalike = tmp_path / ".output.staging-12345"
    lookalike.mkdir()
    (lookalike / "precious.txt").write_text("mine")
    remove_stale_staging(output)
    assert (lookalike / "precious.txt").read_text() == "mine"


def test_retired_tree_is_restored_when_output_vanished(tmp_path):
    output = tmp_path / "output"
    retired = tmp_path / ".output.old-4242"
    retired.mkdir()
    (retired / MARKER_NAME).write_text("x")
    (retired / "index.html").write_text("previous")
    remove_stale_staging(output)
    assert (output / "index.html").read_text() == "previous"
    assert not retired.exists()


def test_check_output_dir_accepts_new_empty_and_own(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    check_output_dir(site / "output", site)
    (site / "output").mkdir()
    check_output_dir(site / "output", site)
    (site / "output" / "x.html").write_text("x")
    (site / "output" / MARKER_NAME).write_text("x")
    check_output_dir(site / "output", site)


def test_check_output_dir_refuses_foreign_files_unless_forced(tmp_path):
    site = tmp_path / "site"
    (site / "output").mkdir(parents=True)
    (site / "output" / "thesis.docx").write_text("years of work")
    with pytest.raises(OutputError, match="--force"):
        check_output_dir(site / "output", site)
    check_output_dir(site / "output", site, force=True)


@pytest.mark.parametrize("target", [".", "content", "layouts", "theme", "content/posts", "..",
                                    "../.."])
def test_check_output_dir_refuses_the_site_and_its_sources(tmp_path, target):
    site = tmp_path / "a" / "b" / "site"
    for name in ("content/posts", "layouts", "theme"):
        (site / name).mkdir(parents=True)
    with pytest.raises(OutputError, match="replace the site's own files"):
        check_output_dir(site / target, site, force=True)


def test_check_output_dir_refuses_home_and_root(tmp_path):
    for target in (Path("/"), Path.home()):
        with pytest.raises(OutputError):
            check_output_dir(target, tmp_path, force=True)


def test_check_output_dir_refuses_a_file(tmp_path):
    (tmp_path / "output").write_text("not a folder")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(tmp_path / "output", tmp_path, force=True)


def test_check_output_dir_refuses_a_symlink_unless_forced(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "output")
    with pytest.raises(OutputError, match="symbolic link"):
        check_output_dir(tmp_path / "output", tmp_path)


def test_build_lock_refuses_a_second_writer_and_creates_nothing(tmp_path):
    with build_lock(tmp_path):
        with pytest.raises(OutputError, match="another build"):
            with build_lock(tmp_path):
                pass
    with build_lock(tmp_path):  # released again
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_hands_back_no_spare_it_made(tmp_path):
    output = tmp_path / "output"
    write_output(files({"index.html": "v1"}), output)
    with pytest.raises(OutputError):
        write_output([*files({"index.html": "v2"}), OutputFile("../evil.html", b"x", "t")],
                     output)
    assert not spare_dir(output).exists()
    assert (output / "index.html").read_text() == "v1"


def test_a_spare_changed_by_a_failed_write_is_never_trusted(tmp_path):
    """The spare tree shares files with output/ through hard links; a build that failed
    midway leaves it marked, and the next build sweeps it rather than trust its record."""
    output = tmp_path / "output"
    for version in ("v1", "v2"):
        write_output(files({"index.html": version, "keep.html": "same"}), output)
    with pytest.raises(OutputError):
        write_output([*files({"index.html": "v3", "new.html": "n"}),
                      OutputFile("../evil.html", b"x", "t")], output)
    assert (spare_dir(output) / ".marginalia-building").exists()
    assert (output / "index.html").read_text() == "v2"
    write_output(files({"index.html": "v4", "keep.html": "same"}), output)
    assert published(output) == {"index.html": b"v4", "keep.html": b"same"}
    assert not list(output.rglob("*.tmp")) and not list(spare_dir(output).rglob("*.tmp"))


def test_linking_a_file_over_its_own_inode_leaves_no_temporary(tmp_path):
    """Renaming a link over another link of the same file does nothing in POSIX: the
    writer must not leave the temporary behind, nor write through it later."""
    output = tmp_path / "output"
    for _ in range(4):
        write_output(files({"index.html": "same", "a/b.html": "same too"}), output)
    assert not list(tmp_path.rglob("*.tmp"))
    assert (output / "index.html").stat().st_ino == (
        spare_dir(output) / "index.html").stat().st_ino
