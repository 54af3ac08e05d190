"""Find the site's content files and read them: the only reads of content/."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError, ContentError
from .model import ContentFile, SourceFile

CONTENT_DIR = "content"
PAGES_DIR = "pages"
MAX_SOURCE_BYTES = 4 * 1024 * 1024
# A file changed this recently may change again within the file system's timestamp
# resolution without its signature changing; it is read again next time.
SETTLE_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class Discovered:
    sources: tuple[ContentFile, ...]  # Markdown files, not yet read
    assets: tuple[str, ...]  # rel_paths of non-Markdown files under content/
    errors: tuple[BuildError, ...] = ()  # files that cannot be used


def discover_sources(site_dir: Path) -> Discovered:
    """List every Markdown file under content/ with its signature, and the other files."""
    content_dir = site_dir / CONTENT_DIR
    if not content_dir.is_dir():
        return Discovered((), ())
    errors: list[BuildError] = []
    sources, assets = [], []
    prefix = len(str(site_dir)) + 1
    settled_before = time.time_ns() - SETTLE_NS
    for path, info in _walk(content_dir, site_dir, errors):
        rel_path = path[prefix:].replace(os.sep, "/")
        if not is_content_file(rel_path):
            continue
        signature = signature_of(info)
        settled = max(info.st_mtime_ns, info.st_ctime_ns) < settled_before
        if is_markdown(rel_path):
            if info.st_size > MAX_SOURCE_BYTES:
                errors.append(_too_big(info.st_size, rel_path))
                continue
            sources.append(ContentFile(rel_path, kind_of(rel_path), path, signature,
                                       settled=settled))
        else:
            assets.append(rel_path)
    return Discovered(tuple(sources), tuple(assets), tuple(errors))


def signature_of(info: os.stat_result) -> str:
    """Size, mtime, inode and ctime: equal means unchanged since the file was last seen."""
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}:{info.st_ctime_ns}"


def is_markdown(rel_path: str) -> bool:
    return rel_path.lower().endswith((".md", ".markdown"))


def is_content_file(rel_path: str) -> bool:
    """Markdown files, and every other file whose name does not start with a dot."""
    return is_markdown(rel_path) or not rel_path.rsplit("/", 1)[-1].startswith(".")


def walk_files(top: Path, site_dir: Path, errors: list[BuildError]) -> list[Path]:
    """List regular files under top in a stable order, refusing links that leave the site."""
    return [Path(path) for path, _ in _walk(top, site_dir, errors)]


def _walk(top: Path, site_dir: Path,
          errors: list[BuildError]) -> list[tuple[str, os.stat_result]]:
    """Return (path, stat) of every regular file under top, sorted by path."""
    found: list[tuple[str, os.stat_result]] = []
    root = site_dir.resolve()
    pending = [str(top)]
    seen_dirs: set[tuple[int, int]] = set()
    while pending:
        directory = pending.pop()
        try:
            info = os.stat(directory)
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
            if entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                continue
            if entry.is_symlink() and not _link_stays_inside(entry.path, root):
                errors.append(ContentError(
                    "symbolic link points outside the site; copy the file in instead",
                    _rel(entry.path, site_dir)))
                continue
            try:
                info = entry.stat()
            except OSError:
                errors.append(ContentError("broken symbolic link; remove it or fix its target",
                                           _rel(entry.path, site_dir)))
                continue
            if stat.S_ISDIR(info.st_mode):
                subdirs.append(entry.path)
            elif stat.S_ISREG(info.st_mode):
                found.append((entry.path, info))
        pending.extend(reversed(subdirs))
    # Sort as '/'-separated paths, whatever the platform's separator.
    return sorted(found, key=lambda item: item[0].replace(os.sep, "/"))


def _link_stays_inside(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def _rel(path: str, site_dir: Path) -> str:
    try:
        return Path(path).relative_to(site_dir).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _too_big(size: int, rel_path: str) -> ContentError:
    return ContentError(f"file is {size / 1048576:.1f} MiB, over the "
                        f"{MAX_SOURCE_BYTES // 1048576} MiB limit for a post; "
                        "split it or move large data out of content/", rel_path)


def kind_of(rel_path: str) -> str:
    parts = rel_path.split("/")
    return "page" if len(parts) > 2 and parts[1] == PAGES_DIR else "post"


def read_source(found: ContentFile) -> SourceFile:
    """Read one Markdown file, checking its size and encoding."""
    return read_source_at(found.path, found.rel_path)


def read_source_at(path: Path | str, rel_path: str) -> SourceFile:
    """Read the Markdown file at path, known in messages as rel_path."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise ContentError(f"cannot read this file: {exc.strerror}", rel_path) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise _too_big(os.stat(path).st_size, rel_path)
    return decode_source(data, rel_path)


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
    return SourceFile(rel_path, text, kind_of(rel_path))


class SourceTexts(Mapping[str, str]):
    """The text of every content file found, read only when a message needs a line."""

    def __init__(self, found: Sequence[ContentFile]):
        self._found = {f.rel_path: f for f in found}
        self._texts: dict[str, str] = {}

    def __getitem__(self, rel_path: str) -> str:
        if rel_path not in self._texts:
            found = self._found[rel_path]
            try:
                self._texts[rel_path] = read_source(found).text
            except ContentError:
                self._texts[rel_path] = ""
        return self._texts[rel_path]

    def __contains__(self, rel_path: object) -> bool:
        return rel_path in self._found

    def __iter__(self) -> Iterator[str]:
        return iter(self._found)

    def __len__(self) -> int:
        return len(self._found)
