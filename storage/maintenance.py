"""The `maintenance` table (one row per window; at most one open, a unique index says so) and
the consistent copy of the catalog a window starts with (design/0033: the SQL lives here)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from storage.disk.fsutil import PRIVATE_FILE, private_dir
from storage.disk.hashing import sha256_file

if TYPE_CHECKING:
    import sqlite_utils


def open_window(db: sqlite_utils.Database) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM maintenance WHERE ended_us IS NULL"), None)


def window(db: sqlite_utils.Database, window_id: int) -> dict[str, Any]:
    return next(db.query("SELECT * FROM maintenance WHERE id = ?", [window_id]))


def recent(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM maintenance ORDER BY id DESC LIMIT ?", [limit]))


def begin(db: sqlite_utils.Database, *, reason: str, by: str, at_us: int, backup: dict[str, Any], verified: int,
          mismatches: list[str], attended_by: str | None, protected: dict[str, Any], vendor: str | None = None,
          footage_copy: dict[str, Any] | None = None) -> int:
    """Opens a window; returns its id. `backup`: backup_catalog's answer (and `same_disk`);
    `protected`: the footage on record (segments, bytes); `vendor`: the vendor who attends;
    `footage_copy`: storage/footage/footage_copy.py's answer when the window touches storage."""
    return cast(int, db.table("maintenance").insert({
        "vendor": vendor, "footage_copy": None if footage_copy is None else json.dumps(footage_copy),
        "reason": reason, "began_by": by, "began_us": at_us, "backup": backup["path"], "verified": verified,
        "mismatches": json.dumps(mismatches), "attended_by": attended_by, "protected_segments": protected["segments"],
        "protected_bytes": protected["bytes"], "backup_sha256": backup["sha256"],
        "backup_same_disk": int(backup["same_disk"])}).last_pk)


def note_yield(db: sqlite_utils.Database, window_id: int, segments: int, bytes_: int) -> None:
    """Footage destroyed during the window because the disk ran short (recording came first)."""
    db.execute("UPDATE maintenance SET yielded_segments = yielded_segments + ?, yielded_bytes = yielded_bytes + ?"
               " WHERE id = ?", [segments, bytes_, window_id])


def end(db: sqlite_utils.Database, window_id: int, *, by: str, at_us: int, note: str) -> None:
    db.execute("UPDATE maintenance SET ended_by = ?, ended_us = ?, end_note = ? WHERE id = ?",
               [by, at_us, note, window_id])


def password_pending(db: Any) -> list[dict[str, Any]]:
    """Closed vendor-attended windows after which no superuser password change is on record."""
    return list(db.query("SELECT * FROM maintenance WHERE vendor IS NOT NULL AND ended_us IS NOT NULL"
                         " AND password_changed_us IS NULL ORDER BY id"))


def password_changed(db: Any, window_ids: list[int], *, by: str, at_us: int) -> None:
    for i in window_ids:
        db.execute("UPDATE maintenance SET password_changed_us = ?, password_changed_by = ? WHERE id = ?",
                   [at_us, by, i])


def backup_catalog(source: Path, dest: Path) -> dict[str, Any]:
    """Copy the live catalog consistently (one read transaction) and check the copy."""
    private_dir(dest.parent)
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE))
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(dest))
    try:
        src.backup(dst)  # pages=-1: all in one step, a single snapshot
    finally:
        src.close()
        dst.close()
    copy = sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
    try:
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        segments = copy.execute("SELECT count(*) FROM segments").fetchone()[0]
    finally:
        copy.close()
    return {"path": str(dest), "check": check, "segments": segments, "bytes": dest.stat().st_size,
            "sha256": sha256_file(dest)}
