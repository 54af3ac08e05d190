"""Write output files: the only writes, into a staging folder swapped in at the end."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from .errors import OutputError
from .model import OutputFile
from .sealed import read_sealed, write_sealed

MARKER_NAME = ".marginalia-output"
MANIFEST_SUFFIX = ".manifest"
MANIFEST_MAGIC = b"MRGTREE1"
MARKER_TEXT = "Marginalia: this folder is generated and replaced on every build"
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


@contextmanager
def build_lock(output_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock beside output/ so two builds never interleave."""
    lock_path = output_dir.parent / f".{output_dir.name}.lock"
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+b")
    except OSError as exc:
        raise OutputError(f"cannot create the output folder's lock ({exc.strerror}); check "
                          "that the folder is writable", str(lock_path)) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError("another build is writing this output folder; wait for it "
                              "to finish, then run again", str(output_dir)) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class WriteSummary:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]


def write_output(files: Sequence[OutputFile], output_dir: Path,
                 live: dict[str, list] | None = None) -> WriteSummary:
    """Write a whole site at once: see StagedOutput."""
    with StagedOutput(output_dir, live) as staged:
        for output in files:
            staged.place(output)
        return staged.finish()


class StagedOutput:
    """Bring a staging tree to the new site file by file, then swap it in.

    The tree swapped out is kept as a spare beside output/ and becomes the next
    staging tree, so a rebuild rewrites only the files that differ instead of
    recreating thousands of folders. A manifest beside the trees says what each
    holds, with the mtime of each of its folders: a folder whose mtime moved was
    changed by someone else, and is searched for strays and symbolic links before
    anything is written. Files are written as they come, so the whole site never
    has to be held in memory; nothing reaches output/ before finish().
    """

    def __init__(self, output_dir: Path, live: dict[str, list] | None = None):
        self.output_dir = output_dir
        self.live = live
        self.staging = output_dir.parent / f".{output_dir.name}.staging-{os.getpid()}"
        self.from_spare = False

    def __enter__(self) -> StagedOutput:
        remove_stale_staging(self.output_dir)
        if self.live is None:
            self.live = read_manifest(self.output_dir, self.output_dir)
        try:
            self.from_spare = _take_staging_tree(self.output_dir, self.staging)
            self.staged = read_tree_state(self.staging, self.output_dir)
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

    def place(self, output: OutputFile) -> OutputFile:
        """Put one file in the staging tree; return it without its bytes, which are
        on disk now, but with their digest."""
        rel_path = output.rel_path
        check_rel_path(rel_path)
        digest = output.digest or content_digest(output)
        in_staging, in_live = self.staged.files.get(rel_path), self.live.get(rel_path)
        if in_live and in_live[0] != digest:
            self.changed.append(rel_path)
        # Unchanged bytes keep the live file's mtime and changed bytes always get a fresh
        # one, so mtime-based sync tools upload exactly the changes.
        try:
            if (in_staging and in_staging[0] == digest and in_staging == in_live
                    and _matches(f"{self.staging_dir}/{rel_path}", in_staging)):
                self.manifest[rel_path] = in_staging
            elif (in_live and in_live[0] == digest
                  and _matches(f"{self.live_dir}/{rel_path}", in_live)):
                self.manifest[rel_path] = _link_file(rel_path, in_live, self.resolve,
                                                     self.output_dir, self.folders)
            elif output.content or not output.digest or output.copy_from:
                self.manifest[rel_path] = _write_file(output, digest, self.resolve,
                                                      self.folders)
            else:
                self.missing.append(rel_path)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            # One file would need another to be a folder: the collision check, which
            # needs every file first, reports it with both sources.
            self.conflicts.append(exc)
        except OSError as exc:
            self._fail(exc)
        return replace(output, content=b"", digest=digest) if output.content else output

    def keep_live(self) -> None:
        """Keep every live file that nothing placed: for a build that rendered only
        what changed. A file changed by hand since it was written is reported by
        finish(), as for any reused file."""
        staged, staging_dir = self.staged.files, self.staging_dir
        for rel_path, entry in self.live.items():
            if rel_path in self.manifest:
                continue
            if staged.get(rel_path) == entry and _matches(
                    f"{staging_dir}/{rel_path}", entry):
                self.manifest[rel_path] = entry
            else:
                self.place(OutputFile(rel_path, b"", rel_path, digest=entry[0], links=None))

    def finish(self) -> WriteSummary:
        """Remove what the new site no longer has, record the tree and swap it in."""
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
            write_manifest(self.staging, self.output_dir, self.manifest,
                           {f: m for f, m in self.untouched.items() if f not in written})
            swap_in(self.staging, self.output_dir)
            _forget_other_manifests(self.output_dir)
        except OSError as exc:
            self._fail(exc)
        live = self.live or {}
        return WriteSummary(added=tuple(sorted(set(self.manifest) - set(live))),
                            changed=tuple(self.changed),
                            removed=tuple(sorted(set(live) - set(self.manifest))))

    def __exit__(self, kind, error, traceback) -> None:
        if error is None or not self.staging.exists():
            return
        if self.from_spare and not isinstance(error, OSError):
            # The tree is still known by its checks, so the next build can start from it.
            _return_spare_tree(self.staging, self.output_dir)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)

    def _fail(self, exc: OSError) -> NoReturn:
        shutil.rmtree(self.staging, ignore_errors=True)
        where = exc.filename or str(self.output_dir)
        hint = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"cannot write the output ({hint}); the previous site is "
                          "untouched", str(where)) from None


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
    temporary = tree / f"{MARKER_NAME}.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, marker)


def content_digest(output: OutputFile) -> str:
    """Hash a file's bytes; a copied file is known by its source's size and mtime."""
    if output.copy_from:
        info = os.stat(output.copy_from)
        return f"copy:{info.st_size}:{info.st_mtime_ns}"
    return hashlib.blake2b(output.content, digest_size=16).hexdigest()


def state_dir(output_dir: Path) -> Path:
    """The folder beside output/ where what each tree holds is remembered."""
    return output_dir.parent / f".{output_dir.name}.state"


def _manifest_path(tree: Path, output_dir: Path) -> Path:
    # Kept outside the tree, so published bytes never change with mtimes; a tree is
    # known by its folder's inode, which survives the renames of a swap.
    info = tree.stat()
    return state_dir(output_dir) / f"{info.st_dev}-{info.st_ino}{MANIFEST_SUFFIX}"


@dataclass(frozen=True, slots=True)
class TreeState:
    files: dict[str, list]  # rel_path -> [digest, size, mtime_ns]
    folders: dict[str, int] | None  # rel_path ("" for the root) -> mtime_ns; None if unknown


def read_manifest(tree: Path, output_dir: Path) -> dict[str, list]:
    """Return {rel_path: [digest, size, mtime_ns]} for a tree we made, or {}."""
    return read_tree_state(tree, output_dir).files


# Manifests this process wrote or read, by path, with the identity of the file: a
# preview that rebuilds again and again need not decode them each time.
_known_manifests: dict[str, tuple[tuple[int, ...], TreeState]] = {}


def manifest_identity(output_dir: Path) -> list[int] | None:
    """Identify the live output's manifest file, which every build replaces."""
    try:
        return list(_file_identity(_manifest_path(output_dir, output_dir)))
    except OSError:
        return None


def _file_identity(path: Path) -> tuple[int, ...]:
    info = path.stat()
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _remember_manifest(path: Path, state: TreeState) -> None:
    if len(_known_manifests) > 8:
        _known_manifests.clear()
    _known_manifests[str(path)] = (_file_identity(path), state)


def read_tree_state(tree: Path, output_dir: Path) -> TreeState:
    """Return what a tree we made holds, or an empty state when that is not known."""
    unknown = TreeState({}, None)
    try:
        if not (tree / MARKER_NAME).is_file():
            return unknown
        path = _manifest_path(tree, output_dir)
        known = _known_manifests.get(str(path))
        if known is not None and known[0] == _file_identity(path):
            return known[1]
        data = read_sealed(path, MANIFEST_MAGIC)
    except OSError:
        return unknown
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return unknown
    files, folders = data["files"], data.get("folders")
    if not all(map(_is_manifest_entry, files.values())):
        files = {path: entry for path, entry in files.items() if _is_manifest_entry(entry)}
    if not (isinstance(folders, dict) and all(type(m) is int for m in folders.values())):
        folders = None
    state = TreeState(files, folders)
    _remember_manifest(path, state)
    return state


def _is_manifest_entry(entry: object) -> bool:
    return (type(entry) is list and len(entry) == 3 and type(entry[0]) is str
            and type(entry[1]) is int and type(entry[2]) is int)


def write_manifest(tree: Path, output_dir: Path, files: dict[str, list],
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
    path = _manifest_path(tree, output_dir)
    path.parent.mkdir(exist_ok=True)
    write_sealed(path, MANIFEST_MAGIC, {"files": files, "folders": folders})
    _remember_manifest(path, TreeState(files, folders))


def _forget_other_manifests(output_dir: Path) -> None:
    keep = set()
    for tree in (output_dir, output_dir.parent / f".{output_dir.name}.spare"):
        if tree.is_dir():
            keep.add(_manifest_path(tree, output_dir).name)
    for path in state_dir(output_dir).glob("*-*.*"):
        if path.name not in keep and path.suffix in (MANIFEST_SUFFIX, ".json"):
            path.unlink(missing_ok=True)


def _take_staging_tree(output_dir: Path, staging: Path) -> bool:
    """Claim the spare tree as this build's staging folder, or start an empty one;
    return whether there was a spare."""
    spare = output_dir.parent / f".{output_dir.name}.spare"
    if spare.is_dir() and not spare.is_symlink() and (spare / MARKER_NAME).is_file():
        os.rename(spare, staging)
        return True
    if spare.exists() or spare.is_symlink():
        _remove_tree(spare)
    staging.mkdir(parents=True)
    return False


class ReusedFilesChanged(Exception):
    """Files the build meant to reuse from the live output were changed there by hand."""

    def __init__(self, paths: list[str]):
        super().__init__(", ".join(paths))
        self.paths = paths


def _return_spare_tree(staging: Path, output_dir: Path) -> None:
    try:
        os.rename(staging, output_dir.parent / f".{output_dir.name}.spare")
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def _link_file(rel_path: str, live: list, resolve: TargetResolver, output_dir: Path,
               folders: set[str]) -> list:
    """Link a live file into the staging tree; its manifest entry is the live one, whose
    size and mtime were just checked, since a link is the same file."""
    target = _target(rel_path, resolve, folders)
    source = f"{output_dir}/{rel_path}"
    try:
        os.link(source, target)  # a file the tree does not have yet is made in place
    except FileExistsError:
        _replace(target, lambda temporary: os.link(source, temporary))
    return list(live)


def _write_file(output: OutputFile, digest: str, resolve: TargetResolver,
                folders: set[str]) -> list:
    """Write or copy one file into the staging tree; return its manifest entry."""
    target = _target(output.rel_path, resolve, folders)
    if output.copy_from:
        _replace(target, lambda temporary: shutil.copyfile(output.copy_from, temporary))
        return _entry(target, digest)
    try:
        handle = open(target, "xb")  # a file the tree does not have yet is made in place
    except FileExistsError:
        _replace(target, lambda temporary: Path(temporary).write_bytes(output.content))
    else:
        with handle:
            handle.write(output.content)
    return _entry(target, digest)


def _target(rel_path: str, resolve: TargetResolver, folders: set[str]) -> str:
    """Where a file goes in the staging tree, its folder made once per build."""
    target = resolve(rel_path)
    folder = target.rpartition("/")[0]
    if folder not in folders:
        os.makedirs(folder, exist_ok=True)
        folders.add(folder)
    return target


def _replace(target: str, make: Callable[[str], object]) -> None:
    """Replace a file through a temporary one beside it, so it is never seen half made."""
    folder, _, name = target.rpartition("/")
    temporary = f"{folder}/.{name}.tmp"
    make(temporary)
    os.replace(temporary, target)


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
        _sweep(str(root), "", {MARKER_NAME}, set())
        return {}
    top, known = str(root), {*staged.files, MARKER_NAME}
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
    if (not rel_path or rel_path.startswith("/") or "\\" in rel_path or "\0" in rel_path
            or any(part in ("", ".", "..") for part in rel_path.split("/"))):
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
    """Replace output_dir by staging; the old tree becomes the spare for the next build."""
    retired = output_dir.parent / f".{output_dir.name}.old-{os.getpid()}"
    spare = output_dir.parent / f".{output_dir.name}.spare"
    had_ours = (output_dir / MARKER_NAME).is_file() and not output_dir.is_symlink()
    if output_dir.is_symlink():
        output_dir.unlink()
    elif output_dir.exists():
        os.rename(output_dir, retired)
    os.rename(staging, output_dir)
    if retired.exists():
        if had_ours and not spare.exists():
            os.rename(retired, spare)
        else:
            _remove_tree(retired)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_staging(output_dir: Path) -> None:
    """Remove staging and retired folders left by a killed build, only if they are ours."""
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
