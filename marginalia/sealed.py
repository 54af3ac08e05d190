"""Plain values kept in a file between builds, behind a checksum.

marshal reads and writes nested lists, dicts, strings and numbers several times
faster than JSON, and yields only such values, never running anything. The
checksum makes a damaged or truncated file read as missing; callers check the
shape of what they get.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

DIGEST_SIZE = 16


def seal(magic: bytes, value: Any) -> bytes:
    """Return value as bytes that unseal gives back; raise ValueError for a value that
    is not plain data."""
    payload = marshal.dumps(value)
    return magic + hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest() + payload


def unseal(magic: bytes, data: bytes) -> Any:
    """Return what seal stored, or None when data is not an intact file of this kind."""
    head = len(magic) + DIGEST_SIZE
    if len(data) < head or not data.startswith(magic):
        return None
    payload = data[head:]
    if hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest() != data[len(magic):head]:
        return None
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None


def read_sealed(path: Path, magic: bytes) -> Any:
    """Read a sealed file; None when it is missing, a link, damaged or of another kind."""
    try:
        if path.is_symlink():
            return None
        return unseal(magic, path.read_bytes())
    except OSError:
        return None


def write_sealed(path: Path, magic: bytes, value: Any) -> None:
    """Write a sealed file whole or not at all; raise OSError or ValueError."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(seal(magic, value))
    os.replace(temporary, path)
