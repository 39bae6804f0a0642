"""Reads and marks on the `segments` and `gaps` tables beyond the recorder's own path (which
is Catalog's): reports, the tamper mark, the maintenance hash check. How segment rows are
stored, and every write to them: storage/segment_rows.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from storage import segment_rows
from storage.catalog import (COMPLETE, FOOTAGE, RECOVERED, SEGMENT_LOOKBACK_US, SEGMENT_STATES, TAMPERED,
                             WRITING)

if TYPE_CHECKING:
    import sqlite_utils


def mark_tampered(db: sqlite_utils.Database, path: str, note: str) -> bool:
    """A cataloged segment's file was changed by something other than edged; False: not ours
    (or marked already)."""
    changed = segment_rows.update(db, path, {"state": TAMPERED, "note": note},
                                  f" AND state != {segment_rows.code(TAMPERED)}")
    return bool(changed)


def state_of(db: sqlite_utils.Database, path: str) -> str | None:
    where, key = segment_rows.by_path(path)
    row = next(db.query(f"SELECT state FROM segment_rows WHERE {where}", key), None)
    return None if row is None else SEGMENT_STATES[row["state"]]


def footage_count(db: sqlite_utils.Database) -> int:
    return cast(int, next(db.query("SELECT count(*) AS n FROM segments WHERE " + FOOTAGE))["n"])


def has_footage(db: sqlite_utils.Database) -> bool:
    """Any footage at all (one index probe a camera, not a count of every row)."""
    return bool(next(db.query(f"SELECT EXISTS (SELECT 1 FROM segments WHERE camera IN (SELECT camera FROM camera_keys)"
                              f" AND {FOOTAGE}) AS x"))["x"] == 1)


def newest_footage_path(db: sqlite_utils.Database) -> str | None:
    """The path of the newest footage: each camera's newest by index, then the newest of those."""
    footage = f"s.state IN ({segment_rows.code(COMPLETE)}, {segment_rows.code(RECOVERED)})"
    row = next(db.query(
        "SELECT path FROM segments WHERE id IN (SELECT (SELECT s.id FROM segment_rows s WHERE s.cam = k.num AND"
        f" {footage} ORDER BY s.start_us DESC LIMIT 1) FROM camera_keys k) ORDER BY start_us DESC LIMIT 1"), None)
    return None if row is None else row["path"]


def footage_hashes_since(db: sqlite_utils.Database, since_us: int) -> list[dict[str, Any]]:
    """path, camera, sha256 of the footage that ended at or after `since_us` (maintenance's check),
    by index: no segment is longer than SEGMENT_LOOKBACK_US."""
    return list(db.query("SELECT path, camera, sha256 FROM segments WHERE camera IN (SELECT camera FROM camera_keys)"
                         " AND start_us > ? AND " + FOOTAGE + " AND end_us >= ? AND sha256 IS NOT NULL",
                         [since_us - SEGMENT_LOOKBACK_US, since_us]))


def summary(db: sqlite_utils.Database) -> dict[str, Any]:
    """Footage: count, bytes, oldest start, newest end; and how many segments are being written."""
    seg = next(db.query("SELECT count(*) AS n, sum(bytes) AS bytes, min(start_us) AS oldest,"
                        " max(end_us) AS newest FROM segments WHERE " + FOOTAGE))
    # the number inline: the partial index segment_rows_writing then counts them
    open_n = next(db.query(f"SELECT count(*) AS n FROM segment_rows WHERE state = {segment_rows.code(WRITING)}"))["n"]
    return {"segments": seg["n"], "bytes": seg["bytes"] or 0, "oldest_us": seg["oldest"],
            "newest_us": seg["newest"], "open": open_n}
