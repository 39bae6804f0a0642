"""The catalog opened read-only: no migration, no writer (edgectl's `audit verify --catalog`, the
benches, the office's readers). A room of its own so that edgectl, which imports it, loads neither
the schema nor sqlite_utils (0.4 s of CPU a call) until a catalog is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def open_readonly(path: Path) -> sqlite_utils.Database:
    if not path.exists():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    import sqlite_utils  # here, not at the top: see the module's docstring

    return sqlite_utils.Database(conn, execute_plugins=False)  # no installed plugin's code on it (storage/catalog.py)
