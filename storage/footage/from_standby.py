"""The catalog side of a box fetching its gap back from the site's standby (design/0115).

On the standby: the segments it recorded of a box's cameras over a time, with the hash each got
as it was written (what it serves; `served`). On the box: each segment that arrived, checked
against that hash, stored as an ordinary segment of its camera with `source = 'standby'` (the
footage is another box's recording, kept apart from what this box recorded itself, as
`backfilled` keeps the camera's own recording apart: design/0106), on the audit chain
(`segment.from_standby`, with the standby's name and the hash) in the transaction that completes
its row; and each gap's state of asking (`gaps.standby`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage import audit
from storage.footage import segment_rows
from storage.footage.segment_rows import FOOTAGE

if TYPE_CHECKING:
    import sqlite_utils

SOURCE = "standby"              # segment_rows.source of a segment fetched from the standby
ACTION = "segment.from_standby"  # its audit record
DONE, NONE = "done", "none"      # a gap's `standby`: fetched (all it had), or it had nothing
SERVED_COLUMNS = ("path", "start_us", "end_us", "bytes", "frames", "codec", "width", "height", "audio", "sha256")


# the standby ---------------------------------------------------------------------------------------
def served(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int) -> list[dict[str, Any]]:
    """The standby's footage of `camera` overlapping [from, to), by time, with its hash as written:
    what it offers a box (only its own recording: never what it fetched from elsewhere)."""
    cols = ", ".join(SERVED_COLUMNS)
    return [dict(r) for r in db.query(
        f"SELECT {cols} FROM segments WHERE camera = ? AND start_us < ? AND end_us > ? AND start_us > ?"
        f" AND {FOOTAGE} AND source = 'live' AND sha256 IS NOT NULL ORDER BY start_us",
        [camera, to_us, from_us, from_us - segment_rows.SEGMENT_LOOKBACK_US])]


def writing_in(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int) -> int:
    """How many of the standby's segments of `camera` overlapping [from, to) are still being
    written (not offered yet: their hash is not known): the box asks again later (design/0157)."""
    row = next(db.query(
        "SELECT count(*) AS n FROM segments WHERE camera = ? AND state = 'writing' AND source = 'live'"
        " AND start_us < ? AND coalesce(end_us, ?) > ? AND start_us > ?",
        [camera, to_us, to_us, from_us, from_us - segment_rows.SEGMENT_LOOKBACK_US]))
    return int(row["n"])


def is_served(db: sqlite_utils.Database, camera: str, path: str) -> dict[str, Any] | None:
    """The row of a segment the standby may hand out (its own footage of that camera), or None."""
    where, key = segment_rows.by_path(path)
    row = next(db.query(f"SELECT id, camera, path, sha256, bytes FROM segments WHERE id IN (SELECT id FROM segment_rows"
                        f" WHERE {where}) AND {FOOTAGE} AND source = 'live'", key), None)
    return dict(row) if row is not None and row["camera"] == camera else None


# the box ------------------------------------------------------------------------------------------
def open_gaps(db: sqlite_utils.Database, since_us: int) -> list[dict[str, Any]]:
    """The gaps not yet asked of the standby that ended after `since_us`, oldest first."""
    return [dict(r) for r in db.query("SELECT id, camera, from_us, to_us FROM gaps WHERE standby IS NULL"
                                      " AND to_us >= ? ORDER BY from_us", [since_us])]


def held(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int) -> list[dict[str, Any]]:
    """This box's footage of `camera` overlapping [from, to) (any source): start, end, hash."""
    return [dict(r) for r in db.query(
        f"SELECT start_us, end_us, sha256, source FROM segments WHERE camera = ? AND start_us < ? AND end_us > ?"
        f" AND start_us > ? AND {FOOTAGE} ORDER BY start_us",
        [camera, to_us, from_us, from_us - segment_rows.SEGMENT_LOOKBACK_US])]


def open_segment(db: sqlite_utils.Database, camera: str, start_us: int, path: str, now_us: int) -> None:
    """A segment from the standby about to be moved into place (its row first: design/0002)."""
    segment_rows.open_row(db, camera, start_us, path, now_us)
    where, key = segment_rows.by_path(path)
    db.execute(f"UPDATE segment_rows SET source = ? WHERE {where}", [SOURCE, *key])


def close_segment(db: sqlite_utils.Database, gap_id: int, camera: str, path: str, row: dict[str, Any],
                  standby: str, now_us: int) -> None:
    """Complete it with the hash it arrived with (checked against the standby's), and put it on
    the audit chain: one transaction."""
    fields = {k: row.get(k) for k in ("end_us", "bytes", "frames", "codec", "width", "height", "audio", "sha256")}
    with db.atomic():
        segment_rows.close(db, path, {**fields, "closed_us": now_us})
        audit.append(db, "edged", ACTION, {"camera": camera, "segment": path, "start_us": row["start_us"],
                                           "end_us": row["end_us"], "sha256": row["sha256"], "bytes": row["bytes"],
                                           "recorded_by": standby, "gap": gap_id,
                                           # the standby's whole segment it was cut from (design/0158)
                                           **({"cut_of": row["cut_of"]} if row.get("cut_of") else {})}, at_us=now_us)


def set_state(db: sqlite_utils.Database, gap_id: int, state: str) -> None:
    db.execute("UPDATE gaps SET standby = ? WHERE id = ?", [state, gap_id])


def in_progress(db: sqlite_utils.Database, since_us: int) -> list[dict[str, Any]]:
    """Gaps ended since `since_us` that were asked of the standby, and how many segments it gave back
    (edgectl status)."""
    return [dict(r) for r in db.query(
        "SELECT g.id, g.camera, g.from_us, g.to_us, g.standby, (SELECT count(*) FROM segments s WHERE s.camera = g.camera"
        " AND s.source = ? AND s.start_us < g.to_us AND s.end_us > g.from_us) AS segments FROM gaps g"
        " WHERE g.to_us >= ? AND g.standby IS NOT NULL ORDER BY g.from_us", [SOURCE, since_us])]
