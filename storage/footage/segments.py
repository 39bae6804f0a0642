"""Reads of the `segments` view (and the tamper mark): a time range (edgectl segments, export,
the viewer), where a camera's footage ends (gaps, the host clock's history), the start-up tail
(reconcile), reports, the maintenance hash check. How segment rows are stored, and every
write to them: storage/footage/segment_rows.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from storage import node
from storage.footage import segment_rows
from storage.footage.segment_rows import (BOX_CAMERAS, COMPLETE, FOOTAGE, MISSING, RECOVERED, SEGMENT_LOOKBACK_US,
                                          SEGMENT_STATES, STORAGE_LOST_NOTE, TAMPERED, WRITING)

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


def between(db: sqlite_utils.Database, start_us: int, end_us: int, camera: str | None = None,
            limit: int = 1000, state: str | None = None) -> list[dict[str, Any]]:
    """Segments overlapping [start, end), by camera then time (edgectl segments, export); only
    those in `state` if given (`edgectl segments --state missing`: the full list a
    `footage.missing` record counts, design/0091)."""
    # A host clock correction (design/0059) rides along: `restamped` 1 with `shift_us` (NULL:
    # flagged for a person, its time unknown; `resolved_*`: who resolved the flag, when, why, and
    # the time they gave it, design/0096).
    # The range is of the original stamps.
    sql = ("SELECT segments.*, r.segment_id IS NOT NULL AS restamped, r.shift_us AS shift_us,"
           " r.resolved_us AS resolved_us, r.resolved_by AS resolved_by, r.resolved_reason AS resolved_reason,"
           " r.resolved_shift_us AS resolved_shift_us FROM segments"
           " LEFT JOIN restamps r ON r.segment_id = segments.id"
           " WHERE camera IN (SELECT id FROM cameras) AND start_us < ? AND start_us > ?"
           " AND coalesce(end_us, start_us) >= ?")
    params: list[Any] = [end_us, start_us - SEGMENT_LOOKBACK_US, start_us]
    if camera is not None:
        sql += " AND camera = ?"
        params.append(camera)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    return list(db.query(sql + " ORDER BY camera, start_us LIMIT ?", [*params, limit]))


def stranded_since(db: sqlite_utils.Database, since_us: int) -> list[dict[str, Any]]:
    """Segments marked missing because their disk went away (by the tail, with an index)."""
    return list(db.query(
        f"SELECT * FROM segments WHERE camera IN ({BOX_CAMERAS}) AND start_us >= ? AND state = ?"
        " AND note LIKE ? ORDER BY start_us", [since_us, MISSING, STORAGE_LOST_NOTE + "%"]))


def last_end(db: sqlite_utils.Database, camera: str) -> int | None:
    """The end of the camera's newest footage (None: it has none)."""
    return last_end_before(db, camera, None)


def last_end_before(db: sqlite_utils.Database, camera: str, before_us: int | None) -> int | None:
    """The end of the camera's footage that started before `before_us` (None: any): the segment
    a new one follows. By index, never a scan of the camera's year: the newest such start, then
    the ends of the segments that started up to SEGMENT_LOOKBACK_US before it (none is longer).
    A max(end_us) over every earlier row took 8-19 s on a year of 60 s segments (bench/desk),
    on the writer thread, at every new segment and for each camera at start."""
    cond, params = ("", [camera]) if before_us is None else (" AND start_us < ?", [camera, before_us])
    newest = next(db.query("SELECT start_us FROM segments WHERE camera = ?" + cond + " AND " + FOOTAGE
                           + " ORDER BY start_us DESC LIMIT 1", params), None)
    if newest is None:
        return None
    row = next(db.query("SELECT max(end_us) AS e FROM segments WHERE camera = ?" + cond
                        + " AND start_us >= ? AND " + FOOTAGE,
                        [*params, newest["start_us"] - SEGMENT_LOOKBACK_US]))
    return cast("int | None", row["e"])


def clock_history(db: sqlite_utils.Database) -> tuple[int | None, int | None]:
    """(newest footage's end, last clean stop): a host clock earlier than either went back
    while edged was down (storage/trusted_time.behind_history). Per camera, by index; the box's
    own cameras only: a portable device's stamps are its claim, never a reading of the box's
    clock (design/0380)."""
    cams = [r["id"] for r in db.query(BOX_CAMERAS)]
    ends = [e for e in (last_end(db, c) for c in cams) if e is not None]
    stopped = node.value(db, "stopped_us")
    stop = int(stopped) if stopped not in (None, "None") else None
    return max(ends, default=None), stop


def latest_start(db: sqlite_utils.Database) -> int | None:
    """The newest start of any configured-or-once camera's segment: the box's own cameras (a
    portable device's claim may be years off: the start-up tail is the box's recording, design/0380)."""
    # Per camera, so each max() is one index probe (a plain max() scans the whole index).
    return cast("int | None", next(db.query(
        "SELECT max((SELECT max(start_us) FROM segments WHERE camera = cameras.id)) AS s FROM cameras"
        f" WHERE id IN ({BOX_CAMERAS})"))["s"])
