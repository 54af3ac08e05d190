"""Write output files: the only writes, into a staging folder swapped in at the end."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError
from .model import OutputFile

MARKER_NAME = ".marginalia-output"
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


def write_output(files: Sequence[OutputFile], output_dir: Path) -> WriteSummary:
    """Bring a staging tree to the new site, then swap it in; say what differs from before.

    The tree swapped out is kept as a spare beside output/ and becomes the next
    staging tree, so a rebuild rewrites only the files that differ instead of
    recreating thousands of folders. A manifest of hashes in each tree's marker
    file says what it holds.
    """
    staging = output_dir.parent / f".{output_dir.name}.staging-{os.getpid()}"
    try:
        remove_stale_staging(output_dir)
        live = read_manifest(output_dir, output_dir)
        _take_staging_tree(output_dir, staging)
        staged = read_manifest(staging, output_dir)
        keep = {f.rel_path for f in files} | {MARKER_NAME}
        _remove_everything_else(staging, keep)
        resolve = TargetResolver(staging, trusted_tree=True)
        folders: set[str] = set()  # folders known to exist in the staging tree
        manifest: dict[str, list] = {}
        changed: list[str] = []
        for output in files:
            target = resolve(output.rel_path)
            digest = output.digest or content_digest(output)
            if output.rel_path in live and live[output.rel_path][0] != digest:
                changed.append(output.rel_path)
            manifest[output.rel_path] = _place_file(
                output, digest, target, staged.get(output.rel_path),
                live.get(output.rel_path), output_dir, folders)
        _write_marker(staging)
        write_manifest(staging, output_dir, manifest)
        swap_in(staging, output_dir)
        _forget_other_manifests(output_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        where = exc.filename or str(output_dir)
        hint = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"cannot write the output ({hint}); the previous site is "
                          "untouched", str(where)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return WriteSummary(added=tuple(sorted(set(manifest) - set(live))),
                        changed=tuple(changed),
                        removed=tuple(sorted(set(live) - set(manifest))))


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
    return state_dir(output_dir) / f"{info.st_dev}-{info.st_ino}.json"


def read_manifest(tree: Path, output_dir: Path) -> dict[str, list]:
    """Return {rel_path: [digest, size, mtime_ns]} for a tree we made, or {}."""
    try:
        if not (tree / MARKER_NAME).is_file():
            return {}
        files = json.loads(_manifest_path(tree, output_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {path: entry for path, entry in files.items() if _is_manifest_entry(entry)}


def _is_manifest_entry(entry: object) -> bool:
    return (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in entry[1:]))


def write_manifest(tree: Path, output_dir: Path, files: dict[str, list]) -> None:
    path = _manifest_path(tree, output_dir)
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(files, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def _forget_other_manifests(output_dir: Path) -> None:
    keep = set()
    for tree in (output_dir, output_dir.parent / f".{output_dir.name}.spare"):
        if tree.is_dir():
            keep.add(_manifest_path(tree, output_dir).name)
    for path in state_dir(output_dir).glob("*-*.json"):
        if path.name not in keep:
            path.unlink(missing_ok=True)


def _take_staging_tree(output_dir: Path, staging: Path) -> None:
    """Claim the spare tree as this build's staging folder, or start an empty one."""
    spare = output_dir.parent / f".{output_dir.name}.spare"
    if spare.is_dir() and not spare.is_symlink() and (spare / MARKER_NAME).is_file():
        os.rename(spare, staging)
    else:
        if spare.exists() or spare.is_symlink():
            _remove_tree(spare)
        staging.mkdir(parents=True)


def _place_file(output: OutputFile, digest: str, target: str, staged: list | None,
                live: list | None, output_dir: Path, folders: set[str]) -> list:
    """Make target hold the file: unchanged bytes keep the live file's mtime, changed
    bytes always get a fresh one, so mtime-based sync tools upload exactly the changes."""
    # Plain strings, not Path objects: this runs once for every file of the site.
    live_path = os.path.join(output_dir, output.rel_path)
    if live and live[0] == digest and _matches(live_path, live):
        if staged and staged == live and _matches(target, staged):
            return staged
        source = live_path
    elif output.content or not output.digest or output.copy_from:
        source = None
    else:
        raise OSError(errno.ENOENT, "a reused file is missing from the live output",
                      live_path)
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name}.tmp")
    if folder not in folders:
        os.makedirs(folder, exist_ok=True)
        folders.add(folder)
    if source is not None:
        os.link(source, temporary)
    elif output.copy_from:
        shutil.copyfile(output.copy_from, temporary)
    else:
        with open(temporary, "wb") as handle:
            handle.write(output.content)
    os.replace(temporary, target)
    info = os.stat(target)
    return [digest, info.st_size, info.st_mtime_ns]


def _matches(path: str, entry: list) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and [info.st_size, info.st_mtime_ns] == entry[1:]


def _remove_everything_else(root: Path, keep: set[str]) -> None:
    """Delete whatever the staging tree holds besides the new site's files: old pages,
    strays, and every symbolic link, so that nothing in it can point elsewhere."""
    def sweep(directory: str, prefix: str) -> bool:
        empty = True
        with os.scandir(directory) as entries:
            for entry in entries:
                rel_path = prefix + entry.name
                if entry.is_symlink():
                    os.unlink(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    if sweep(entry.path, rel_path + "/"):
                        os.rmdir(entry.path)
                    else:
                        empty = False
                elif rel_path in keep:
                    empty = False
                else:
                    os.unlink(entry.path)
        return empty

    sweep(str(root), "")


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
        self.trusted_tree = trusted_tree
        self.folders: dict[str, str] = {"": str(self.root)}

    def __call__(self, rel_path: str) -> str:
        if not rel_path or rel_path.startswith("/") or "\\" in rel_path or "\0" in rel_path:
            raise OutputError(f"unsafe output path '{rel_path}'", rel_path)
        parent, _, name = rel_path.rpartition("/")
        if name in ("", ".", ".."):
            raise OutputError(f"output path '{rel_path}' does not name a file", rel_path)
        folder = self.folders.get(parent)
        if folder is None:
            joined = self.root / parent
            resolved = Path(os.path.normpath(joined)) if self.trusted_tree else joined.resolve()
            if not resolved.is_relative_to(self.root):
                raise OutputError(f"output path '{rel_path}' leaves the output folder",
                                  rel_path)
            folder = self.folders[parent] = str(resolved)
        return os.path.join(folder, name)


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
