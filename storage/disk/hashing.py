"""SHA-256 of segment files. Blocking: call it from a thread, never the event loop."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class NotThere(Exception):
    """The path no longer names the file that was written (its disk went away)."""


def _check(st: os.stat_result, path: Path, dev: int, ino: int) -> None:
    if (st.st_dev, st.st_ino) != (dev, ino):
        raise NotThere(f"{path} is now another file (device {st.st_dev}, not {dev})")


def same_file(path: Path, dev: int, ino: int) -> None:
    """NotThere unless `path` still names the file (device, inode) that was written."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotThere(f"{path} is not there") from None
    _check(st, path, dev, ino)


def sha256_same_file(path: Path, dev: int, ino: int) -> str:
    """Hash the file at `path` only if it is still the file (device, inode) that was written."""
    h = hashlib.sha256()
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise NotThere(f"{path} is not there") from None
    with f:
        _check(os.fstat(f.fileno()), path, dev, ino)
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
