"""The one file a build keeps for the next: .cache/marginalia/state.sqlite.

It holds what the parse stage parsed (an index of every content file, and post
bodies by the hash of their text), what the render stage rendered for each output
folder, what each output tree holds, and where each published post was, to warn
when one moves. It is plain data: SQLite tables of text, and plain values sealed
with marshal behind a checksum (marshal yields only values, never runs code). A
file that is missing, truncated, damaged, or written by another version reads as
empty, with a note saying why, and is replaced whole at the next commit: it is
never trusted.

Nothing is written before commit(), which runs every change in one transaction
once the new output is complete; a build that fails or is killed before then
leaves the file as it was.
"""

from __future__ import annotations

import fcntl
import hashlib
import marshal
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import __version__
from .errors import OutputError

STATE_PATH = ".cache/marginalia/state.sqlite"
SCHEMA_ID = f"marginalia-state 1 {__version__}"
SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL,
    checksum BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bodies (text_hash TEXT PRIMARY KEY, html TEXT NOT NULL,
    checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (target TEXT NOT NULL, rel_path TEXT NOT NULL,
    key TEXT NOT NULL, digest TEXT NOT NULL, used_site INTEGER NOT NULL,
    links TEXT NOT NULL, broken TEXT NOT NULL, PRIMARY KEY (target, rel_path));
CREATE TABLE IF NOT EXISTS groups (target TEXT NOT NULL, name TEXT NOT NULL,
    key TEXT NOT NULL, used_site INTEGER NOT NULL, PRIMARY KEY (target, name))
"""

Change = Callable[[sqlite3.Connection], None]


class Store:
    """The saved state of a site, read once when a build starts, written once at its end.

    fresh is True when nothing could be read (no file, --no-cache, or an unusable
    one): every reader then starts empty, and commit() writes a new file.
    """

    def __init__(self, site_dir: Path, read: bool = True):
        self.path = site_dir / STATE_PATH
        self.note = ""  # why the saved state was not used, for -v
        self._reader: sqlite3.Connection | None = None
        self._changes: list[Change] = []
        self._blobs: dict[str, Any] = {}
        if read:
            self._reader, self.note = _open_reader(self.path)
        self.fresh = self._reader is None

    def rows(self, query: str, parameters: tuple = ()) -> list[tuple]:
        """Run a query, returning no rows when the file turns out to be damaged."""
        if self._reader is None:
            return []
        try:
            return self._reader.execute(query, parameters).fetchall()
        except sqlite3.Error as exc:
            # Whatever was read before is checked row by row; the file is replaced whole.
            self.note = self.note or f"ignored the saved state in {self.path}: it is damaged ({exc})"
            self.fresh = True
            self.close()
            return []

    def blob(self, name: str) -> Any:
        """The plain value stored under name, or None when it is missing or damaged."""
        if name in self._blobs:
            return self._blobs[name]
        found = self.rows("SELECT data, checksum FROM blobs WHERE name = ?", (name,))
        if not found or not isinstance(found[0][0], bytes):
            return None
        data, checksum = found[0]
        if _checksum(data) != checksum:
            return None
        try:
            return marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return None

    def put_blob(self, name: str, value: Any) -> None:
        """Store a plain value at commit; raise ValueError for one that is not plain."""
        data = marshal.dumps(value)
        self._blobs[name] = value
        self.change(lambda db: db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)",
                                          (name, data, _checksum(data))))

    def blob_names(self, prefix: str) -> list[str]:
        escaped = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return [name for (name,) in self.rows(
            "SELECT name FROM blobs WHERE name LIKE ? ESCAPE '!'", (escaped + "%",))]

    def drop_blobs(self, names: list[str]) -> None:
        if names:
            self.change(lambda db: db.executemany("DELETE FROM blobs WHERE name = ?",
                                                  [(name,) for name in names]))

    def change(self, change: Change) -> None:
        """Run change(connection) in commit's transaction, in the order given."""
        self._changes.append(change)

    def discard_changes(self) -> None:
        self._changes, self._blobs = [], {}

    def commit(self) -> None:
        """Apply every change in one transaction. A file that cannot be kept only makes
        the next build slower, so failing to write it is not an error."""
        self.close()
        if not self._changes:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.fresh or self.path.is_symlink() or not self.path.is_file():
                _remove(self.path)
            _write(self.path, self._changes)
        except (OSError, sqlite3.Error):
            try:
                _remove(self.path)
            except OSError:
                pass
        self._changes = []

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _checksum(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _open_reader(path: Path) -> tuple[sqlite3.Connection | None, str]:
    if not path.exists() and not path.is_symlink():
        return None, ""
    if path.is_symlink() or not path.is_file():
        return None, f"ignored the saved state in {path}: it is not a plain file"
    try:
        reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 check_same_thread=False)
        row = reader.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
    except sqlite3.Error as exc:
        return None, f"ignored the saved state in {path}: it is damaged ({exc})"
    if row is None or row[0] != SCHEMA_ID:
        reader.close()
        return None, (f"ignored the saved state in {path}: it was written by another "
                      "version")
    return reader, ""


def _remove(path: Path) -> None:
    for stale in (path, path.with_name(path.name + "-journal")):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)


def _write(path: Path, changes: list[Change]) -> None:
    writer = sqlite3.connect(path, timeout=30)
    try:
        # A cache need not survive a power cut: one that does not is found damaged and
        # replaced. Not waiting for the disk saves a large part of a small rebuild.
        writer.execute("PRAGMA synchronous = OFF")
        with writer:
            for statement in filter(str.strip, SCHEMA.split(";")):
                writer.execute(statement)
            row = writer.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
            if row is not None and row[0] != SCHEMA_ID:
                raise sqlite3.DatabaseError("another version's state")
            writer.execute("INSERT OR REPLACE INTO info VALUES ('schema', ?)", (SCHEMA_ID,))
            for change in changes:
                change(writer)
    finally:
        writer.close()


@contextmanager
def build_lock(site_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold the site's lock, so that two builds never share its state or output.

    The lock is on the site's folder itself: taking it creates no file.
    """
    try:
        handle = os.open(site_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OutputError(f"cannot open the site folder ({exc.strerror})",
                          str(site_dir)) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise OutputError("another build of this site is running; wait for it to "
                              "finish, then run again", str(site_dir)) from None
        yield
    finally:
        os.close(handle)  # which releases the lock
