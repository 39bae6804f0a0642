"""`edged-central backup` (issue 43 item 4, design/0121): a consistent copy of the embedded SQLite
store while instances keep writing, through SQLite's online backup API (pages copied a step at
a time; a write meanwhile restarts the copy of what changed, so the copy is one moment of the
store), written to FILE.part, fsynced, checked (`PRAGMA integrity_check`, the schema version),
then renamed. A PostgreSQL store is backed up by PostgreSQL's own tools: a base backup
(`pg_basebackup`) and a WAL archive, restored into a fresh server (docs/ref/central.md; tested
in tests/test_central_postgres.py). Blocking (a command)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from central.store import archives

PAGES = 4096  # pages a step: the writers wait at most one step's copy


class BackupError(Exception):
    """What a person can put right; the text says what to do."""


def backup(db_path: Path, out: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    if not db_path.exists():
        raise BackupError(f"no central store at {db_path}: nothing to back up")
    if out.exists():
        raise BackupError(f"{out} exists already: choose another file (a backup never overwrites one)")
    part = out.with_name(out.name + ".part")
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(part)
        try:
            def step(_status: int, remaining: int, total: int) -> None:
                progress(f"backup: {total - remaining} of {total} pages copied")
            src.backup(dst, pages=PAGES, progress=step)
            ok, version, messages = archives.check_copy(dst)
        finally:
            dst.close()
    finally:
        src.close()
    if ok != "ok":
        part.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check ({ok}): nothing was written; check the disk")
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, out)
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    progress(f"backup: written to {out}, integrity checked")
    return {"file": str(out), "bytes": out.stat().st_size, "schema_version": version, "messages": messages}
