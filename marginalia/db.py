"""The two SQLite files the build keeps between runs: opened with care, never trusted.

Both hold plain text and JSON. A file that is missing, damaged, or written by
another version or configuration reads as empty; one that cannot be written is
replaced by a new one.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path


def open_reader(path: Path, schema_id: str) -> sqlite3.Connection | None:
    """Open a state file read-only, or return None unless it was written for schema_id."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        row = reader.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
    except sqlite3.Error:
        row = None
    if row is None or row[0] != schema_id:
        reader.close()
        return None
    return reader


def fetch_all(reader: sqlite3.Connection | None, query: str) -> list[tuple]:
    """Run a query, returning no rows when the file turns out to be damaged."""
    if reader is None:
        return []
    try:
        return reader.execute(query).fetchall()
    except sqlite3.Error:
        return []


def write(path: Path, schema: str, schema_id: str,
          changes: Callable[[sqlite3.Connection, bool], None]) -> None:
    """Apply changes(connection, fresh) in one transaction.

    fresh is True when the file was started anew, because it was missing, damaged
    or foreign; changes must then write everything rather than a difference.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or (path.exists() and not path.is_file()):
            # SQLite writes through a link: whatever it points at is not ours to change.
            _remove(path)
        try:
            _write_once(path, schema, schema_id, changes, fresh=False)
        except (sqlite3.Error, _Foreign):
            path.unlink(missing_ok=True)
            try:
                _write_once(path, schema, schema_id, changes, fresh=True)
            except sqlite3.Error:
                path.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be kept only makes the next build slower


class _Foreign(Exception):
    pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _write_once(path: Path, schema: str, schema_id: str,
                changes: Callable[[sqlite3.Connection, bool], None], fresh: bool) -> None:
    existed = path.is_file() and path.stat().st_size > 0
    writer = sqlite3.connect(path, timeout=30)
    try:
        # A cache need not survive a power cut: one that does not is found damaged and
        # rebuilt. Not waiting for the disk saves a large part of a small rebuild.
        writer.execute("PRAGMA synchronous = OFF")
        with writer:
            writer.execute("CREATE TABLE IF NOT EXISTS info "
                           "(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = writer.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
            if existed and not fresh and (row is None or row[0] != schema_id):
                raise _Foreign
            for statement in filter(str.strip, schema.split(";")):
                writer.execute(statement)
            writer.execute("INSERT OR REPLACE INTO info VALUES ('schema', ?)", (schema_id,))
            changes(writer, fresh or not existed)
    finally:
        writer.close()
