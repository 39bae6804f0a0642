"""A new catalog in a test process is a copy of one made once (tests/conftest.py installs it).

`storage.catalog.open_db` on a path with no file yet applies every migration, about 0.15 s on an
idle box and three times that on a loaded one; the pure tier made some 120 of them, a fifth of its
time. Here the first new catalog of the process is made by the real `open_db`, in a folder of its
own, and its bytes are written for each new one before the real `open_db` opens it (finding
every migration applied): the same schema, made by the same code. Daemons started by the tests
make theirs themselves; a catalog that already exists (an old one a migration test built) is
opened as it is."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import sqlite_utils

from storage import catalog

_real_open_db = catalog.open_db


@functools.cache
def _template() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.db"
        _real_open_db(path).conn.close()  # the last connection's close folds the WAL into the file
        return path.read_bytes()


def open_db(path: Path, *, synced: bool = True) -> sqlite_utils.Database:
    path = Path(path)
    if not os.path.lexists(path) and path.parent.is_dir():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # SQLite's own mode for a new file
        except OSError:
            fd = -1  # the real open_db says why
        if fd >= 0:
            with os.fdopen(fd, "wb") as f:
                f.write(_template())
    return _real_open_db(path, synced=synced)


def install() -> None:
    catalog.open_db = open_db
