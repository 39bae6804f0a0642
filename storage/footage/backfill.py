"""The catalog side of backfill from the camera's own recording (design/0106): the gaps' backfill
state and progress, and the backfilled segments (segment_rows.source = 'backfilled'), each
opened before its file is written and completed with its hash as written, on the audit chain
(so reported over MQTT with every audit record) in the transaction that completes it.

The states and reasons are edged/rules/backfill.py's; stored here as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage import audit
from storage.footage import segment_rows

if TYPE_CHECKING:
    import sqlite_utils

BACKFILLED = "backfilled"  # segment_rows.source of a segment fetched from the camera's recording
ACTION = "segment.backfilled"  # the audit record of each one


def open_gaps(db: sqlite_utils.Database, cameras: list[str]) -> list[dict[str, Any]]:
    """The gaps of these cameras whose backfill is not done or given up, oldest first."""
    if not cameras:
        return []
    return list(db.query(f"SELECT * FROM gaps WHERE camera IN ({','.join('?' * len(cameras))})"
                         " AND (backfill IS NULL OR backfill = 'pending') ORDER BY from_us", cameras))


def gap(db: sqlite_utils.Database, gap_id: int) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM gaps WHERE id = ?", [gap_id]), None)


def backfilled_in(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int) -> list[tuple[int, int]]:
    """(start, end) of the camera's backfilled segments starting inside [from, to) (a `writing`
    one a crash left: its end as the recovery found it, or its start)."""
    rows = db.query("SELECT start_us, end_us FROM segments WHERE camera = ? AND start_us >= ? AND start_us < ?"
                    " AND source = ?", [camera, from_us, to_us, BACKFILLED])
    return [(r["start_us"], r["end_us"] if r["end_us"] is not None else r["start_us"]) for r in rows]


def held_in(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int) -> list[tuple[int, int]]:
    """(start, end) of the camera's footage overlapping [from, to), whatever its source (recorded
    live, fetched from the standby, backfilled): what a backfill must not fetch again."""
    rows = db.query(f"SELECT start_us, end_us FROM segments WHERE camera = ? AND start_us < ? AND end_us > ?"
                    f" AND start_us > ? AND {segment_rows.FOOTAGE}",
                    [camera, to_us, from_us, from_us - segment_rows.SEGMENT_LOOKBACK_US])
    return [(r["start_us"], r["end_us"]) for r in rows]


def set_state(db: sqlite_utils.Database, gap_id: int, state: str, note: str | None = None) -> None:
    db.execute("UPDATE gaps SET backfill = ?, backfill_note = ? WHERE id = ?", [state, note, gap_id])


def open_segment(db: sqlite_utils.Database, camera: str, start_us: int, path: str, now_us: int) -> None:
    """A backfilled segment about to be written (its row first: design/0002)."""
    segment_rows.open_row(db, camera, start_us, path, now_us)
    where, key = segment_rows.by_path(path)
    db.execute(f"UPDATE segment_rows SET source = ? WHERE {where}", [BACKFILLED, *key])


def close_segment(db: sqlite_utils.Database, gap_id: int, camera: str, path: str, start_us: int,
                  fields: dict[str, Any], now_us: int) -> None:
    """Complete it with its hash as written, move the gap's progress to its end, and put it on
    the audit chain: one transaction."""
    with db.atomic():
        segment_rows.close(db, path, {**fields, "closed_us": now_us})
        db.execute("UPDATE gaps SET backfill_to_us = max(coalesce(backfill_to_us, 0), ?) WHERE id = ?",
                   [fields["end_us"], gap_id])
        audit.append(db, "edged", ACTION, {"camera": camera, "segment": path, "start_us": start_us,
                                           "end_us": fields["end_us"], "sha256": fields.get("sha256"),
                                           "frames": fields.get("frames"), "gap": gap_id}, at_us=now_us)


def in_progress(db: sqlite_utils.Database, since_us: int) -> list[dict[str, Any]]:
    """The gaps being backfilled, and the ones given up that ended since `since_us` (for `edgectl
    status`), each with `filled_us`: how much of it the backfilled segments hold (a gap given up
    half way says how much was filled before the reason it stopped)."""
    return list(db.query(
        "SELECT g.id, g.camera, g.from_us, g.to_us, g.backfill, g.backfill_to_us, g.backfill_note,"
        " (SELECT coalesce(sum(min(s.end_us, g.to_us) - max(s.start_us, g.from_us)), 0) FROM segments s"
        "  WHERE s.camera = g.camera AND s.source = ? AND s.start_us < g.to_us AND s.end_us > g.from_us"
        "  AND s.start_us >= g.from_us - ?) AS filled_us"
        " FROM gaps g WHERE g.backfill = 'pending' OR (g.backfill = 'given up' AND g.to_us >= ?) ORDER BY g.from_us",
        [BACKFILLED, segment_rows.SEGMENT_LOOKBACK_US, since_us]))
