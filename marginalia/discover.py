"""Find and read the site's content files: the only reads of content/."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError, ContentError
from .model import SourceFile

CONTENT_DIR = "content"
PAGES_DIR = "pages"
MAX_SOURCE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Discovered:
    sources: tuple[SourceFile, ...]
    assets: tuple[str, ...]  # rel_paths of non-Markdown files under content/
    errors: tuple[BuildError, ...] = ()  # files that could not be read


def discover_sources(site_dir: Path) -> Discovered:
    """Read every Markdown file under content/ and list the other files there."""
    content_dir = site_dir / CONTENT_DIR
    if not content_dir.is_dir():
        return Discovered((), ())
    errors: list[BuildError] = []
    sources, assets = [], []
    for path in walk_files(content_dir, site_dir, errors):
        rel_path = path.relative_to(site_dir).as_posix()
        if path.suffix.lower() in (".md", ".markdown"):
            try:
                sources.append(read_source(path, rel_path))
            except ContentError as error:
                errors.append(error)
        elif not path.name.startswith("."):
            assets.append(rel_path)
    return Discovered(tuple(sources), tuple(assets), tuple(errors))


def walk_files(top: Path, site_dir: Path, errors: list[BuildError]) -> list[Path]:
    """List regular files under top in a stable order, refusing links that leave the site."""
    found: list[Path] = []
    root = site_dir.resolve()
    pending = [top]
    seen_dirs: set[tuple[int, int]] = set()
    while pending:
        directory = pending.pop()
        try:
            info = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            errors.append(ContentError(f"cannot read this folder: {exc.strerror}",
                                       _rel(directory, site_dir)))
            continue
        if (info.st_dev, info.st_ino) in seen_dirs:
            errors.append(ContentError("symbolic link loop; remove the link",
                                       _rel(directory, site_dir)))
            continue
        seen_dirs.add((info.st_dev, info.st_ino))
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                continue
            if entry.is_symlink() and not _link_stays_inside(path, root):
                errors.append(ContentError(
                    "symbolic link points outside the site; copy the file in instead",
                    _rel(path, site_dir)))
                continue
            try:
                mode = path.stat().st_mode
            except OSError:
                errors.append(ContentError("broken symbolic link; remove it or fix its target",
                                           _rel(path, site_dir)))
                continue
            if stat.S_ISDIR(mode):
                subdirs.append(path)
            elif stat.S_ISREG(mode):
                found.append(path)
        pending.extend(reversed(subdirs))
    return sorted(found, key=lambda p: p.as_posix())


def _link_stays_inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def _rel(path: Path, site_dir: Path) -> str:
    try:
        return path.relative_to(site_dir).as_posix()
    except ValueError:
        return path.as_posix()


def read_source(path: Path, rel_path: str) -> SourceFile:
    """Read one Markdown file, checking its size and encoding first."""
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise ContentError(f"file is {size / 1048576:.1f} MiB, over the "
                           f"{MAX_SOURCE_BYTES // 1048576} MiB limit for a post; "
                           "split it or move large data out of content/", rel_path)
    return decode_source(path.read_bytes(), rel_path)


def decode_source(data: bytes, rel_path: str) -> SourceFile:
    """Decode UTF-8 (a BOM is allowed) and normalise newlines to LF."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ContentError(f"byte 0x{data[exc.start]:02x} is not valid UTF-8; "
                           "save the file as UTF-8", rel_path, line, column) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = rel_path.split("/")
    kind = "page" if len(parts) > 2 and parts[1] == PAGES_DIR else "post"
    return SourceFile(rel_path, text, kind)
