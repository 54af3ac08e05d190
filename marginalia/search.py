"""Index the finished site for search with Pagefind, inside the build's one write.

Pagefind reads a folder of HTML and writes a folder of index files; it cannot
add or remove a single page. So once every page is staged, the pages worth
searching (posts and standing pages, never listings) are linked as staged into a
fresh folder under .cache/, Pagefind indexes that folder into another, and its
files go to the writer like any other output file: staged, recorded and swapped
in with the rest of the site, so a failed or killed indexing leaves output/ as
it was. The state remembers a digest of the indexed pages' bytes; while it
holds, the previous index files are handed to the writer again, as unchanged
pages are.
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2

from . import __version__
from .errors import BuildError, OutputCollisionError
from .model import OutputFile, Site
from .store import Store
from .urls import output_path
from .write import StagedOutput

BUNDLE_DIR = "pagefind"  # in the output; search.js loads pagefind.js from it
SEARCH_URL = "/search/"
WORK_DIR = ".cache/marginalia/search"
STATE_PREFIX = "search index "  # then the output folder
# Pagefind's own ready-made interfaces: the search page uses its JS API instead.
UNUSED_FILES = ("pagefind-ui.", "pagefind-modular-ui.", "pagefind-component-ui.",
                "pagefind-highlight.")
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
INSTALL_HINT = ("install it with: python -m pip install 'pagefind[extended]'; or build "
                "without search: --no-search, or [search] enabled = false in site.toml")

# What a build does with the index: make it when the indexed pages changed; keep
# the last one as it is, even when stale (a preview between pauses); or make none.
SEARCH_MODES = ("index", "keep", "off")
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")


class SearchIndexError(BuildError):
    """Pagefind is missing or failed."""


class IndexingStopped(Exception):
    """A preview stopped the indexing because an edit arrived; the build changed nothing."""


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    action: str  # "indexed", "unchanged", "kept", "none" or "disabled"
    pages: int  # pages the output's index covers
    seconds: float  # spent indexing, linking the pages included
    stale: bool = False  # the output's index does not match its pages

    def describe(self) -> str:
        """Say what happened to the index, for the build's summary line."""
        if self.action == "indexed":
            return f"search index: {self.pages} pages in {self.seconds:.2f} s"
        if self.action == "unchanged":
            return "search index unchanged"
        if self.action == "kept":
            return "search index kept" + (" (out of date)" if self.stale else "")
        if self.action == "none":
            return "no search index"
        return ""


def indexed_pages(site: Site) -> list[str]:
    """The output files the index covers: every post and standing page."""
    return sorted({output_path(item.url) for item in (*site.posts, *site.pages)})


def index_site(site: Site, files: Sequence[OutputFile], staged: StagedOutput, state: Store,
               site_dir: Path, mode: str, distrusted: Collection[str] = (),
               stop: Callable[[], bool] | None = None) -> SearchOutcome:
    """Hand the writer the search index of the staged site: the previous one when the
    indexed pages are unchanged, else one Pagefind makes now.

    stop, polled while Pagefind runs, abandons the build with IndexingStopped.
    """
    name = STATE_PREFIX + str(staged.output_dir)
    if not site.config.search.enabled:
        state.drop_blobs(state.blob_names(name))
        return SearchOutcome("disabled", 0, 0.0)
    _check_bundle_folder(files)
    pages = indexed_pages(site)
    staged_pages = [(rel_path, staged.manifest.get(rel_path)) for rel_path in pages]
    if any(entry is None for _, entry in staged_pages):
        # A page could not be staged: the writer fails this build when it finishes.
        return SearchOutcome("none", 0, 0.0, stale=True)
    before = state.blob(name)
    previous = _reusable_index(before, staged.live or {}, distrusted)
    binary = find_pagefind() if mode != "off" else None
    language = pagefind_language(site.config.language)
    key = _index_key(binary, [(p, entry[0]) for p, entry in staged_pages], language)
    fresh = isinstance(before, dict) and before.get("key") == key
    if previous is not None and (mode == "keep" or (mode == "index" and fresh)):
        for rel_path, digest in sorted(previous.items()):
            staged.place(OutputFile(rel_path, b"", "search index", digest=digest))
        return SearchOutcome("unchanged" if fresh else "kept", len(pages), 0.0,
                             stale=not fresh)
    if mode != "index" or not pages:
        return SearchOutcome("none", 0, 0.0, stale=bool(pages))
    if binary is None:
        raise SearchIndexError(f"the search index needs Pagefind, which is not installed; "
                               f"{INSTALL_HINT}", "site.toml")
    started = time.perf_counter()
    indexed: dict[str, str] = {}
    with _work_folder(site_dir) as work:
        mirror = work / "pages"
        _mirror_pages(str(staged.staging), pages, str(mirror))
        for rel_path, path in _run_pagefind(binary, mirror, work, language, stop):
            staged.place(OutputFile(rel_path, path.read_bytes(), "search index"))
            indexed[rel_path] = staged.manifest[rel_path][0]
    state.put_blob(name, {"key": key, "files": indexed})
    return SearchOutcome("indexed", len(pages), time.perf_counter() - started)


def find_pagefind() -> Path | None:
    """Pagefind's binary, as its Python package finds it (PAGEFIND_BINARY_PATH first)."""
    try:
        from pagefind.service import get_executable
        binary = get_executable()
    except (ImportError, OSError):
        return None
    return binary if binary is not None and binary.is_file() else None


def _check_bundle_folder(files: Sequence[OutputFile]) -> None:
    prefix = BUNDLE_DIR + "/"
    taken = [f for f in files if f.rel_path.startswith(prefix)]
    if taken:
        raise OutputCollisionError(
            f"'{taken[0].rel_path}' from {taken[0].source} is in {prefix}, the folder of "
            "the search index; move it elsewhere, or set [search] enabled = false",
            taken[0].source)


def _reusable_index(before: object, live: dict[str, list],
                    distrusted: Collection[str]) -> dict[str, str] | None:
    """The previous index's files, when the live output holds each of them as recorded."""
    if not isinstance(before, dict) or not isinstance(before.get("files"), dict):
        return None
    files = before["files"]
    if not files or not all(isinstance(d, str) and rel_path not in distrusted
                            and (live.get(rel_path) or [None])[0] == d
                            for rel_path, d in files.items()):
        return None
    return files


def _index_key(binary: Path | None, pages: list[tuple[str, str]], language: str) -> str:
    """Digest the indexed pages' bytes and the indexer that reads them."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{language}\0".encode())
    if binary is not None:
        info = binary.stat()
        digest.update(f"{binary}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    digest.update(f"{__version__}\0".encode())
    for rel_path, page_digest in pages:
        digest.update(f"{rel_path}\0{page_digest}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@contextmanager
def _work_folder(site_dir: Path) -> Iterator[Path]:
    """A new folder under .cache/ for one indexing, removed when done. What a killed
    build left there goes first: the build lock makes this build its only user."""
    root = site_dir / WORK_DIR
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        root.unlink()
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.iterdir():
        _remove(leftover)
    work = Path(tempfile.mkdtemp(dir=root, prefix="run-"))
    try:
        yield work
    finally:
        _remove(work)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _mirror_pages(staging_dir: str, pages: list[str], mirror: str) -> None:
    """Make a new folder hold the staged pages under their output paths, as links.

    Pagefind numbers pages in the order it lists folders, and a folder lists its
    entries in the order they were made: making them in one fixed order keeps the
    index the same, byte for byte, whatever order the output was written in.
    """
    made: set[str] = set()
    for rel_path in sorted(pages):
        source, target = f"{staging_dir}/{rel_path}", f"{mirror}/{rel_path}"
        folder = target.rpartition("/")[0]
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        try:
            os.link(source, target)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, target)


def pagefind_language(language: str) -> str:
    """The site's language as Pagefind is told it, which is more robust than letting
    it read each page's lang attribute (it panics on some values that are not tags)."""
    tag = language.strip().lower()
    return tag if LANGUAGE_TAG.fullmatch(tag) else "unknown"


def _run_pagefind(binary: Path, pages: Path, work: Path, language: str,
                  stop: Callable[[], bool] | None) -> Iterator[tuple[str, Path]]:
    """Index the pages into work/bundle; yield each file the site serves, by output path."""
    log_path = work / "pagefind.log"
    command = [str(binary), "--site", str(pages), "--output-path", "bundle", "--silent",
               "--force-language", language]
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(command, cwd=work, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=_dies_with(os.getpid()))
        except OSError as exc:
            raise SearchIndexError(f"cannot run Pagefind ({exc.strerror or exc}); "
                                   f"{INSTALL_HINT}", "site.toml") from None
        try:
            code = _wait(process, stop)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    bundle = work / "bundle"
    if code != 0 or not (bundle / "pagefind.js").is_file():
        said = log_path.read_text(encoding="utf-8", errors="replace").strip()
        said = " ".join(said.splitlines()[-3:])[:400] or "no message"
        raise SearchIndexError(f"Pagefind failed to index the site (exit code {code}: "
                               f"{said}); the previous site is untouched",
                               "site.toml")
    make_reproducible(bundle)
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.name.startswith(UNUSED_FILES):
            yield f"{BUNDLE_DIR}/{path.relative_to(bundle).as_posix()}", path


def _wait(process: subprocess.Popen, stop: Callable[[], bool] | None) -> int:
    if stop is None:
        return process.wait()
    while True:
        try:
            return process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            if stop():
                raise IndexingStopped() from None


def _dies_with(parent: int) -> Callable[[], None] | None:
    """Make Pagefind end when the build does, however it ends (SIGKILL included)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):  # not Linux
        return None

    def request() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the build died before the request was made
            os._exit(1)

    return request


# Pagefind 1.5 writes each filter's values, and the list of filters and of sorts, in
# hash-map order, which changes from run to run; the rest of its bundle follows the
# pages' order as the file system lists them. Sorting those lists (and renaming the
# files named by their hash) makes two runs on one machine give the same bytes.
SIGNATURE = b"pagefind_dcd"


def make_reproducible(bundle: Path) -> None:
    """Make Pagefind's index depend on the pages alone.

    Pagefind numbers pages in the order it comes upon them, which depends on the
    file system (two builds of the same pages were seen to differ), and writes
    filters in hash-map order. So pages are numbered again in the order
    of their fragments' hashes (which come from their content), and filters and
    sorts are put in order. A bundle this does not fully understand is left as it is.
    """
    entry_path = bundle / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for language, info in entry["languages"].items():
        meta_path = bundle / f"pagefind.{info['hash']}.pf_meta"
        meta = _read_packed(meta_path)
        if not _is_meta(meta):
            continue
        chunk_paths = [bundle / "index" / f"{chunk[2]}.pf_index" for chunk in meta[2]]
        chunks = [_read_packed(path, exactly=False) for path in chunk_paths]
        filter_paths = [bundle / "filter" / f"{old_hash}.pf_filter" for _, old_hash in meta[3]]
        tables = [_read_packed(path) for path in filter_paths]
        if not (all(map(_is_word_chunk, chunks)) and all(map(_is_filter_table, tables))):
            continue
        number = _canonical_numbers(meta[1])
        try:
            for chunk in chunks:
                for word in chunk[0]:
                    word[1] = _renumbered_entries(word[1], number)
                    for variant in word[2] if len(word) > 2 else ():
                        variant[1] = _renumbered_entries(variant[1], number)
            for table in tables:
                for value in table[1]:
                    value[1] = sorted(number[page] for page in value[1])
                table[1].sort(key=lambda value: value[0])
        except KeyError:  # a page number beyond the pages: not a bundle we understand
            continue
        for chunk, path, named in zip(chunks, chunk_paths, meta[2]):
            named[2] = _write_packed(path, f"{language}_", chunk, 7)
        filters = [[name, _write_packed(path, f"{language}_", table, 7)]
                   for (name, _), path, table in zip(meta[3], filter_paths, tables)]
        for sort in meta[4]:  # pages of equal value stay in Pagefind's order: see post.html
            sort[1] = [number[page] for page in sort[1]]
        meta[1] = sorted(meta[1], key=lambda page: page[0])
        meta[3] = sorted(filters)
        meta[4].sort(key=lambda sort: sort[0])
        info["hash"] = _write_packed(meta_path, f"pagefind.{language}_", meta, 13)
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                          encoding="utf-8")


def _is_meta(meta: object) -> bool:
    """[version, pages [[hash, words]], chunks [[from, to, hash]], filters, sorts]"""
    if not (isinstance(meta, list) and len(meta) >= 5
            and all(isinstance(part, list) for part in meta[1:5])):
        return False
    hashes = [page[0] if isinstance(page, list) and page else None for page in meta[1]]
    count = len(hashes)
    return (all(isinstance(h, str) for h in hashes) and len(set(hashes)) == count
            and all(isinstance(c, list) and len(c) == 3 and isinstance(c[2], str)
                    for c in meta[2])
            and all(isinstance(f, list) and len(f) == 2 for f in meta[3])
            and all(isinstance(s, list) and len(s) == 2 and isinstance(s[1], list)
                    and all(isinstance(n, int) and 0 <= n < count for n in s[1])
                    for s in meta[4]))


def _is_word_chunk(chunk: object) -> bool:
    """[[[word, entries, [[variant, entries], ...]], ...]], where entries are
    [[page number less the previous one, ...], ...]"""
    return (isinstance(chunk, list) and len(chunk) == 1 and isinstance(chunk[0], list)
            and all(isinstance(word, list) and len(word) in (2, 3) and _are_entries(word[1])
                    and (len(word) == 2 or (isinstance(word[2], list) and all(
                        isinstance(variant, list) and len(variant) == 2
                        and _are_entries(variant[1]) for variant in word[2])))
                    for word in chunk[0]))


def _are_entries(entries: object) -> bool:
    return isinstance(entries, list) and all(
        isinstance(entry, list) and entry and isinstance(entry[0], int) and entry[0] >= 0
        for entry in entries)


def _is_filter_table(table: object) -> bool:
    """[name, [[value, [page numbers]], ...]]"""
    return (isinstance(table, list) and len(table) == 2 and isinstance(table[1], list)
            and all(isinstance(value, list) and len(value) == 2
                    and isinstance(value[1], list)
                    and all(isinstance(n, int) for n in value[1]) for value in table[1]))


def _canonical_numbers(pages: list) -> dict[int, int]:
    """Each page's number, as Pagefind gave it, to its rank by fragment hash."""
    order = sorted(range(len(pages)), key=lambda n: pages[n][0])
    return {old: new for new, old in enumerate(order)}


def _renumbered_entries(entries: list, number: dict[int, int]) -> list:
    """A word's pages, each numbered anew, in order, each number less the previous one."""
    absolute, at = [], 0
    for entry in entries:
        at += entry[0]
        absolute.append((number[at], entry[1:]))
    absolute.sort(key=lambda item: item[0])
    renumbered, previous = [], 0
    for page, rest in absolute:
        renumbered.append([page - previous, *rest])
        previous = page
    return renumbered


def _read_packed(path: Path, exactly: bool = True) -> Any:
    """Read a gzipped, signed CBOR file of Pagefind's; None unless it is one, and, when
    exactly, unless it encodes back to the same bytes. (Word chunks, most of the
    index, are checked by their shape instead: encoding them twice costs seconds.)"""
    try:
        data = gzip.decompress(path.read_bytes())
        value = cbor2.loads(data[len(SIGNATURE):])
    except (OSError, ValueError, EOFError, gzip.BadGzipFile, cbor2.CBORError):
        return None
    if not data.startswith(SIGNATURE) or (exactly and SIGNATURE + cbor2.dumps(value) != data):
        return None
    return value


def _write_packed(old_path: Path, prefix: str, value: object, length: int) -> str:
    """Write value in place of old_path, named by its digest; return the new hash."""
    data = SIGNATURE + cbor2.dumps(value)
    name = prefix + hashlib.sha256(data).hexdigest()[:length]
    stem = name.removeprefix("pagefind.")
    path = old_path.with_name(name + old_path.suffix)
    path.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
    if path != old_path:
        old_path.unlink()
    return stem

