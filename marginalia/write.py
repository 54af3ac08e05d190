"""Write output files: the only writes to the output, into the spare tree beside it,
which is swapped in at the end.

Beside output/ the build keeps one folder of its own, the spare tree: the site
as it was before the last build. The next build brings it to the new site file
by file (most files are unchanged: a hard link to the live file, or already
there), then exchanges it with output/ in one rename, so output/ is never seen
half made and the old site becomes the next spare. What each tree holds, with
the mtime of each of its folders, is recorded in the site's state; a folder
whose mtime moved was changed by someone else, and is searched for strays and
symbolic links before anything is written. While a build changes the spare it
carries a mark, so that a build that fails or is killed midway leaves a tree
that is never trusted again, only swept.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from .errors import OutputError
from .model import OutputFile
from .store import Store

MARKER_NAME = ".marginalia-output"
BUILDING_NAME = ".marginalia-building"  # in the spare tree while a build changes it
MARKER_TEXT = "Marginalia: this folder is generated and replaced on every build"
TREE_PREFIX = "tree "  # then the output folder and the tree's folder identity
AT_FDCWD, RENAME_EXCHANGE = -100, 2  # from <fcntl.h> and <linux/fs.h>
PROTECTED_DIRS = ("content", "layouts", "theme")


def check_output_dir(output_dir: Path, site_dir: Path, force: bool = False) -> None:
    """Refuse an output folder that a build could damage: the site, its sources, home, /."""
    output, site = output_dir.resolve(), site_dir.resolve()
    dangerous = {Path("/"), Path.home().resolve(), site,
                 *(site / name for name in PROTECTED_DIRS)}
    if output in dangerous or site.is_relative_to(output) or any(
            output.is_relative_to(site / name) for name in PROTECTED_DIRS):
        raise OutputError(f"refusing to use '{output_dir}' as the output folder: it would "
                          "replace the site's own files; choose a folder such as output/",
                          str(output_dir))
    if output_dir.is_symlink() and not force:
        raise OutputError("the output folder is a symbolic link; remove it or pass --force",
                          str(output_dir))
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError("the output path is a file, not a folder; move it away",
                          str(output_dir))
    if (output_dir.is_dir() and not (output_dir / MARKER_NAME).is_file()
            and any(output_dir.iterdir()) and not force):
        raise OutputError("the output folder holds files this tool did not make; empty it, "
                          "choose another --output, or pass --force to replace it",
                          str(output_dir))


@dataclass(frozen=True, slots=True)
class Staged:
    """What putting one file in the staging tree did."""

    output: OutputFile  # without its bytes
    digest: str
    entry: list | None  # its manifest entry; None when it was neither there nor given
    folder: str | None  # the staging folder written or linked into
    problem: OSError | None = None


@dataclass(frozen=True, slots=True)
class WriteSummary:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]


def write_output(files: Sequence[OutputFile], output_dir: Path, store: Store,
                 live: dict[str, list] | None = None) -> WriteSummary:
    """Write a whole site at once: see StagedOutput."""
    with StagedOutput(output_dir, store, live) as staged:
        for output in files:
            staged.place(output)
        return staged.finish()


class StagedOutput:
    """Bring the spare tree to the new site file by file, then swap it in.

    Files are written as they come, so the whole site never has to be held in
    memory; nothing reaches output/ before finish(), which also commits the
    site's state, once the tree is complete and before it is swapped in: the
    state only ever describes trees as they are.
    """

    def __init__(self, output_dir: Path, store: Store, live: dict[str, list] | None = None):
        self.output_dir = output_dir
        self.store = store
        self.live = live
        self.staging = spare_dir(output_dir)
        self.created = False  # whether this build made the spare tree

    def __enter__(self) -> StagedOutput:
        try:
            remove_stale_staging(self.output_dir)
            if self.live is None:
                self.live = read_tree_state(self.store, self.output_dir, self.output_dir).files
            self.staged = self._claim_spare()
            self.untouched = _verify_staging_tree(self.staging, self.staged)
            self.resolve = TargetResolver(self.staging, trusted_tree=True)
            self.staging_dir, self.live_dir = str(self.staging), str(self.output_dir)
            self.folders: set[str] = set()  # folders written to in the staging tree
            self.manifest: dict[str, list] = {}
            self.changed: list[str] = []
            self.missing: list[str] = []
            self.conflicts: list[OSError] = []
        except OSError as exc:
            self._fail(exc)
        # Ctrl-C at any point once the staging tree exists: __exit__ is not called for
        # __enter__, so clean up here.
        except BaseException as error:
            self.__exit__(type(error), error, None)
            raise
        return self

    def _claim_spare(self) -> TreeState:
        """Mark the spare tree as being changed and return what it held, as recorded;
        make an empty one when there is none to trust."""
        spare = self.staging
        if not _is_our_tree(spare):
            if spare.exists() or spare.is_symlink():
                _remove_tree(spare)
            spare.mkdir(parents=True)
            self.created = True
        building = spare / BUILDING_NAME
        state = TreeState({}, None) if building.exists() else read_tree_state(
            self.store, spare, self.output_dir)
        building.touch()
        return state

    def place(self, output: OutputFile) -> OutputFile:
        """Put one file in the staging tree; return it without its bytes, which are
        on disk now, but with their digest."""
        return self.record(self.stage(output))

    def stage(self, output: OutputFile) -> Staged:
        """Put one file in the staging tree and say what was done, without noting it in
        the build's record: a forked render worker stages the pages it makes, and the
        build records them as they come back."""
        rel_path = output.rel_path
        check_rel_path(rel_path)
        digest = output.digest or content_digest(output)
        in_staging, in_live = self.staged.files.get(rel_path), self.live.get(rel_path)
        entry, folder, problem = None, None, None
        # Unchanged bytes keep the live file's mtime and changed bytes always get a fresh
        # one, so mtime-based sync tools upload exactly the changes.
        try:
            if (in_staging and in_staging[0] == digest and in_staging == in_live
                    and _matches(f"{self.staging_dir}/{rel_path}", in_staging)):
                entry = in_staging
            elif (in_live and in_live[0] == digest
                  and _matches(f"{self.live_dir}/{rel_path}", in_live)):
                entry, folder = _link_file(rel_path, in_live, self.resolve,
                                           self.output_dir, self.folders)
            elif output.content or not output.digest or output.copy_from:
                entry, folder = _write_file(output, digest, self.resolve, self.folders)
        except OSError as exc:
            problem = exc
        kept = replace(output, content=b"", digest=digest) if output.content else output
        return Staged(kept, digest, entry, folder, problem)

    def record(self, staged: Staged) -> OutputFile:
        """Note a staged file in the build's record; return it without its bytes."""
        rel_path = staged.output.rel_path
        in_live = self.live.get(rel_path)
        if in_live and in_live[0] != staged.digest:
            self.changed.append(rel_path)
        if isinstance(staged.problem, (IsADirectoryError, NotADirectoryError, FileExistsError)):
            # One file would need another to be a folder: the collision check, which
            # needs every file first, reports it with both sources.
            self.conflicts.append(staged.problem)
        elif staged.problem is not None:
            self._fail(staged.problem, staged.output)
        elif staged.entry is None:
            self.missing.append(rel_path)
        else:
            self.manifest[rel_path] = staged.entry
            if staged.folder is not None:
                self.folders.add(staged.folder)
        return staged.output

    def finish(self) -> WriteSummary:
        """Remove what the new site no longer has, record the tree, commit the site's
        state and swap the tree in."""
        if self.missing:
            raise ReusedFilesChanged(self.missing)
        try:
            if self.conflicts:
                raise self.conflicts[0]
            removed_from = _remove_leftovers(self.staging_dir, self.staged.files,
                                             self.manifest)
            _write_marker(self.staging)
            root = len(self.resolve.root_dir) + 1  # every folder is under it, normalised
            written = _with_ancestors([f[root:] for f in self.folders] + removed_from)
            trees = [self.staging] + ([self.output_dir] if _is_our_tree(self.output_dir)
                                      else [])
            forget_other_trees(self.store, self.output_dir, trees)
            write_tree_state(self.store, self.staging, self.output_dir, self.manifest,
                             {f: m for f, m in self.untouched.items() if f not in written})
            self.store.commit()
            (self.staging / BUILDING_NAME).unlink()
            swap_in(self.staging, self.output_dir)
        except OSError as exc:
            self._fail(exc)
        live = self.live or {}
        return WriteSummary(added=tuple(sorted(set(self.manifest) - set(live))),
                            changed=tuple(self.changed),
                            removed=tuple(sorted(set(live) - set(self.manifest))))

    def __exit__(self, kind, error, traceback) -> None:
        # A spare tree that was there stays, marked as changed; one made here goes.
        if error is not None and self.created:
            shutil.rmtree(self.staging, ignore_errors=True)

    def _fail(self, exc: OSError, output: OutputFile | None = None) -> NoReturn:
        """Report a failed write by what the editor knows, the source and the output
        path, never by the spare tree or a temporary file, which they never see."""
        self.__exit__(OSError, exc, None)
        reason = _describe_os_error(exc)
        if output is None:
            raise OutputError(f"cannot write the output ({reason}); the previous site is "
                              "untouched", str(self.output_dir)) from None
        raise OutputError(f"cannot write '{_abbreviate(output.rel_path)}' in the output "
                          f"({reason}); the previous site is untouched",
                          output.source) from None


def _describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.ENAMETOOLONG:
        return ("a file or folder name is too long for the file system; shorten the "
                "slug, url or alias that makes it")
    return exc.strerror or str(exc)


def _abbreviate(rel_path: str, limit: int = 100) -> str:
    return rel_path if len(rel_path) <= limit else f"{rel_path[:limit - 21]}…{rel_path[-20:]}"


def spare_dir(output_dir: Path) -> Path:
    """The one folder a build keeps beside the output: the site before the last build."""
    return output_dir.parent / f".{output_dir.name}.spare"


def _is_our_tree(tree: Path) -> bool:
    return tree.is_dir() and not tree.is_symlink() and (tree / MARKER_NAME).is_file()


def _with_ancestors(folders: Iterable[str]) -> set[str]:
    """The '/'-separated folders given, every folder above them, and the root ("")."""
    found = {""}
    for folder in folders:
        folder = "" if folder == "." else folder.replace(os.sep, "/")
        while folder not in found:
            found.add(folder)
            folder = folder.rpartition("/")[0]
    return found


def _write_marker(tree: Path) -> None:
    """Mark a tree as ours, leaving an up-to-date marker (and its mtime) alone."""
    marker = tree / MARKER_NAME
    text = MARKER_TEXT + "\n"
    try:
        if not marker.is_symlink() and marker.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    _replace(str(marker), lambda temporary: _write_new(temporary, text.encode("utf-8")))


def content_digest(output: OutputFile) -> str:
    """Hash a file's bytes; a copied file is known by its source's size and mtime."""
    if output.copy_from:
        info = os.stat(output.copy_from)
        return f"copy:{info.st_size}:{info.st_mtime_ns}"
    return hashlib.blake2b(output.content, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class TreeState:
    files: dict[str, list]  # rel_path -> [digest, size, mtime_ns]
    folders: dict[str, int] | None  # rel_path ("" for the root) -> mtime_ns; None if unknown


def _tree_name(tree: Path, output_dir: Path) -> str:
    # A tree is known by its folder's identity, which survives the renames of a swap.
    info = tree.stat()
    return f"{TREE_PREFIX}{output_dir} {info.st_dev}-{info.st_ino}"


def read_tree_state(store: Store, tree: Path, output_dir: Path) -> TreeState:
    """Return what a tree we made holds, or an empty state when that is not known."""
    unknown = TreeState({}, None)
    try:
        if not (tree / MARKER_NAME).is_file():
            return unknown
        data = store.blob(_tree_name(tree, output_dir))
    except OSError:
        return unknown
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return unknown
    files, folders = data["files"], data.get("folders")
    if not all(map(_is_manifest_entry, files.values())):
        files = {path: entry for path, entry in files.items() if _is_manifest_entry(entry)}
    if not (isinstance(folders, dict) and all(type(m) is int for m in folders.values())):
        folders = None
    return TreeState(files, folders)


def _is_manifest_entry(entry: object) -> bool:
    return (type(entry) is list and len(entry) == 3 and type(entry[0]) is str
            and type(entry[1]) is int and type(entry[2]) is int)


def write_tree_state(store: Store, tree: Path, output_dir: Path, files: dict[str, list],
                     unchanged_folders: dict[str, int] | None = None) -> None:
    """Record the tree's files and the mtime of each of its folders, now that it is done.

    unchanged_folders gives the mtimes of folders known untouched since they were read.
    """
    known = unchanged_folders or {}
    root = str(tree)
    folders: dict[str, int] = {}
    for folder in _with_ancestors(rel_path.rpartition("/")[0] for rel_path in files):
        mtime = known.get(folder)
        folders[folder] = mtime if mtime is not None else os.lstat(
            os.path.join(root, folder) if folder else root).st_mtime_ns
    store.put_blob(_tree_name(tree, output_dir), {"files": files, "folders": folders})


def forget_other_trees(store: Store, output_dir: Path, trees: list[Path]) -> None:
    keep = {_tree_name(tree, output_dir) for tree in trees}
    store.drop_blobs([name for name in store.blob_names(f"{TREE_PREFIX}{output_dir} ")
                      if name not in keep])


class ReusedFilesChanged(Exception):
    """Files the build meant to reuse from the live output were changed there by hand."""

    def __init__(self, paths: list[str]):
        super().__init__(", ".join(paths))
        self.paths = paths


def _link_file(rel_path: str, live: list, resolve: TargetResolver, output_dir: Path,
               folders: set[str]) -> tuple[list, str]:
    """Link a live file into the staging tree; its manifest entry is the live one, whose
    size and mtime were just checked, since a link is the same file. Return the entry
    and the folder linked into."""
    target = _target(rel_path, resolve, folders)
    source = f"{output_dir}/{rel_path}"
    try:
        os.link(source, target)  # a file the tree does not have yet is made in place
    except FileExistsError:
        if not os.path.samestat(os.lstat(source), os.lstat(target)):
            _replace(target, lambda temporary: os.link(source, temporary))
    return list(live), target.rpartition("/")[0]


def _write_file(output: OutputFile, digest: str, resolve: TargetResolver,
                folders: set[str]) -> tuple[list, str]:
    """Write or copy one file into the staging tree; return its manifest entry and the
    folder written to."""
    target = _target(output.rel_path, resolve, folders)
    if output.copy_from:
        _replace(target, lambda temporary: _copy_new(output.copy_from, temporary))
    else:
        try:
            _write_new(target, output.content)  # a file the tree lacks is made in place
        except FileExistsError:
            _replace(target, lambda temporary: _write_new(temporary, output.content))
    return _entry(target, digest), target.rpartition("/")[0]


def _write_new(path: str, content: bytes) -> None:
    """Write a file that must not exist yet: never through another file's inode."""
    with open(path, "xb") as handle:
        handle.write(content)


def _copy_new(source: str, path: str) -> None:
    with open(source, "rb") as reader, open(path, "xb") as writer:
        shutil.copyfileobj(reader, writer)


def _target(rel_path: str, resolve: TargetResolver, folders: set[str]) -> str:
    """Where a file goes in the staging tree, its folder made once per build."""
    target = resolve(rel_path)
    folder = target.rpartition("/")[0]
    if folder not in folders:
        os.makedirs(folder, exist_ok=True)
        folders.add(folder)
    return target


def _replace(target: str, make: Callable[[str], object]) -> None:
    """Replace a file through a temporary one beside it, so it is never seen half made.

    make(path) must create path exclusively; the name is new each time, so a
    temporary left by a killed build is never written through.
    """
    folder, _, name = target.rpartition("/")
    while True:
        temporary = f"{folder}/.{name}.{secrets.token_hex(6)}.tmp"
        try:
            make(temporary)
            break
        except FileExistsError:
            continue
    try:
        os.replace(temporary, target)
    finally:
        # Renaming a link over another link of the same file does nothing at all.
        if os.path.lexists(temporary):
            os.unlink(temporary)


def _entry(path: str, digest: str) -> list:
    info = os.stat(path)
    return [digest, info.st_size, info.st_mtime_ns]


def _matches(path: str, entry: list) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and [info.st_size, info.st_mtime_ns] == entry[1:]


def _verify_staging_tree(root: Path, staged: TreeState) -> dict[str, int]:
    """Make the staging tree hold nothing but files on its record, without links.

    Only folders changed since the record are searched; with no record, every file
    goes. Return the folders found as recorded, with their mtimes.
    """
    if staged.folders is None:
        _sweep(str(root), "", {MARKER_NAME, BUILDING_NAME}, set())
        return {}
    top, known = str(root), {*staged.files, MARKER_NAME, BUILDING_NAME}
    known_folders = set(staged.folders)
    verified: dict[str, int] = {}
    for folder, mtime in staged.folders.items():
        path = f"{top}/{folder}" if folder else top
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(path)
        elif info.st_mtime_ns != mtime:
            _sweep(path, folder + "/" if folder else "", known, known_folders)
        else:
            verified[folder] = mtime
    return verified


def _remove_leftovers(top: str, staged: dict[str, list], placed: dict[str, list]) -> list[str]:
    """Delete files of the staging tree's record that the new site does not have, and
    folders left empty; return the folders changed by it."""
    emptied = set()
    for rel_path in staged:
        if rel_path not in placed:
            try:
                os.unlink(os.path.join(top, rel_path))
            except FileNotFoundError:
                pass
            emptied.add(rel_path.rpartition("/")[0])
    changed = []
    for folder in sorted(emptied, key=lambda f: -f.count("/")):
        changed.append(folder)
        while folder:
            try:
                os.rmdir(os.path.join(top, folder))
            except OSError:
                break
            folder = folder.rpartition("/")[0]
            changed.append(folder)
    return changed


def _sweep(directory: str, prefix: str, keep: set[str], known_folders: set[str]) -> bool:
    """Delete every file under directory that is not kept, and every symbolic link, so
    that nothing in the tree can point elsewhere; folders on record are left to their
    own check. Return whether the folder is now empty."""
    empty = True
    with os.scandir(directory) as entries:
        for entry in entries:
            rel_path = prefix + entry.name
            if entry.is_symlink():
                os.unlink(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                if rel_path in known_folders:
                    empty = False
                elif _sweep(entry.path, rel_path + "/", keep, known_folders):
                    os.rmdir(entry.path)
                else:
                    empty = False
            elif rel_path in keep:
                empty = False
            else:
                os.unlink(entry.path)
    return empty


def check_rel_path(rel_path: str) -> None:
    """Refuse an output path that is not plainly a file inside the output folder."""
    wrapped = f"/{rel_path}/"
    if (not rel_path or rel_path[0] == "/" or "\\" in rel_path or "\0" in rel_path
            or "//" in wrapped or "/./" in wrapped or "/../" in wrapped):
        raise OutputError(f"unsafe output path '{rel_path}'", rel_path)


def safe_target(root: Path, rel_path: str) -> Path:
    """Resolve rel_path under root, refusing anything that would land outside it."""
    return Path(TargetResolver(root)(rel_path))


class TargetResolver:
    """safe_target for a whole build, resolving each folder once.

    With trusted_tree, the tree is known to hold no symbolic link (write_output
    sweeps them out first), so resolving a path is plain normalisation and needs
    no system call; the containment check is the same either way.
    """

    def __init__(self, root: Path, trusted_tree: bool = False):
        self.root = root.resolve()
        self.root_dir = str(self.root)
        self.inside = self.root_dir.rstrip("/") + "/"  # what every path below it starts with
        self.trusted_tree = trusted_tree
        self.folders: dict[str, str] = {"": self.root_dir}

    def __call__(self, rel_path: str) -> str:
        if not rel_path or rel_path.startswith("/") or "\\" in rel_path or "\0" in rel_path:
            raise OutputError(f"unsafe output path '{rel_path}'", rel_path)
        parent, _, name = rel_path.rpartition("/")
        if name in ("", ".", ".."):
            raise OutputError(f"output path '{rel_path}' does not name a file", rel_path)
        folder = self.folders.get(parent)
        if folder is None:
            if self.trusted_tree:
                folder = os.path.normpath(f"{self.root_dir}/{parent}")
            else:
                folder = str((self.root / parent).resolve())
            if folder != self.root_dir and not folder.startswith(self.inside):
                raise OutputError(f"output path '{rel_path}' leaves the output folder",
                                  rel_path)
            self.folders[parent] = folder
        return f"{folder}/{name}"


def swap_in(staging: Path, output_dir: Path) -> None:
    """Put staging in output_dir's place; the old tree takes staging's, to be the spare
    of the next build, unless it was not ours."""
    if output_dir.is_symlink():
        output_dir.unlink()
    if not output_dir.exists():
        os.rename(staging, output_dir)
        return
    ours = _is_our_tree(output_dir)
    if not _exchange(staging, output_dir):
        retired = output_dir.parent / f".{output_dir.name}.old-{os.getpid()}"
        os.rename(output_dir, retired)
        os.rename(staging, output_dir)
        os.rename(retired, staging)
    if not ours:
        _remove_tree(staging)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one step (Linux's renameat2); False where that is not had."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second),
                 RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_staging(output_dir: Path) -> None:
    """Put back an output folder that a swap without renameat2 left aside when it was
    killed, and remove what older versions kept beside the output."""
    parent = output_dir.parent
    if not parent.is_dir():
        return
    if not output_dir.exists():
        retired = sorted(parent.glob(f".{output_dir.name}.old-*"))
        if retired and (retired[0] / MARKER_NAME).is_file():
            os.rename(retired[0], output_dir)
    for prefix in (f".{output_dir.name}.staging-", f".{output_dir.name}.old-"):
        for leftover in parent.glob(prefix + "*"):
            if leftover.is_dir() and not leftover.is_symlink() and (
                    leftover / MARKER_NAME).is_file():
                shutil.rmtree(leftover, ignore_errors=True)
    legacy_state = parent / f".{output_dir.name}.state"
    if legacy_state.is_dir() and not legacy_state.is_symlink() and all(
            p.suffix in (".manifest", ".sqlite", ".snapshot", ".changes", ".json")
            for p in legacy_state.iterdir()):
        shutil.rmtree(legacy_state, ignore_errors=True)
    legacy_lock = parent / f".{output_dir.name}.lock"
    if legacy_lock.is_file() and not legacy_lock.is_symlink() and (
            legacy_lock.stat().st_size == 0):
        legacy_lock.unlink()
