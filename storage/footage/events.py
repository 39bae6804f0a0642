"""Motion events and the stretches a camera records nothing by policy (design/0038).

`motion_events`: one row per event of a camera in `motion` mode (start, end, peak score, a
small JPEG thumbnail), opened when the worker reports its start and completed at its end.
Events are footage metadata: retention destroys an event with the last footage that shows it,
and records how many it destroyed (destroy_with, called inside the destruction's transaction).

`not_recorded`: a hole in a camera's footage that is not a gap (no outage, no alarm): a camera
in `motion` mode between events, one in `live` mode. The reasons are named only here.
Tables: storage/schema/migrations.py m011_motion_events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import sqlite_utils

NO_MOTION = "no motion"
LIVE_MODE = "live mode (not recorded by policy)"
NOT_RECORDED_REASONS = (NO_MOTION, LIVE_MODE)


def started(db: sqlite_utils.Database, camera: str, start_us: int, now_us: int) -> int:
    """A new event; an event of this camera still open (its end was lost: a worker died) is
    left as it is, without an end."""
    return cast(int, db.execute("INSERT INTO motion_events (camera, start_us, created_us) VALUES (?, ?, ?)",
                                [camera, start_us, now_us]).lastrowid)


def ended(db: sqlite_utils.Database, camera: str, start_us: int, end_us: int, peak: float, thumb: bytes | None,
          now_us: int) -> int:
    """Complete the camera's open event that started at start_us (or add it whole, if its start
    was not seen: the daemon restarted in between); returns its id."""
    row = next(db.query("SELECT id FROM motion_events WHERE camera = ? AND start_us = ? AND end_us IS NULL"
                        " ORDER BY id DESC LIMIT 1", [camera, start_us]), None)
    if row is None:
        return cast(int, db.execute("INSERT INTO motion_events (camera, start_us, end_us, peak, thumb, created_us)"
                                    " VALUES (?, ?, ?, ?, ?, ?)",
                                    [camera, start_us, end_us, peak, thumb, now_us]).lastrowid)
    db.execute("UPDATE motion_events SET end_us = ?, peak = ?, thumb = ? WHERE id = ?", [end_us, peak, thumb, row["id"]])
    return cast(int, row["id"])


def listing(db: sqlite_utils.Database, cameras: list[str] | None, since_us: int | None, until_us: int | None,
            limit: int, thumbs: bool = False) -> list[dict[str, Any]]:
    """Events by start time; `cameras` None: all. Thumbnails only when asked (bytes)."""
    cols = "id, camera, start_us, end_us, peak, created_us" + (", thumb" if thumbs else "")
    sql = f"SELECT {cols} FROM motion_events WHERE 1 = 1"
    params: list[Any] = []
    if cameras is not None:
        sql += " AND camera IN (%s)" % ",".join("?" * len(cameras))
        params += cameras
    if since_us is not None:
        sql += " AND coalesce(end_us, start_us) >= ?"
        params.append(since_us)
    if until_us is not None:
        sql += " AND start_us < ?"
        params.append(until_us)
    return list(db.query(sql + " ORDER BY start_us, id LIMIT ?", [*params, limit]))


def add_not_recorded(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int, reason: str) -> None:
    if reason not in NOT_RECORDED_REASONS:
        raise ValueError(f"not a reason for recording nothing by policy: {reason!r}")
    db.execute("INSERT INTO not_recorded (camera, from_us, to_us, reason) VALUES (?, ?, ?, ?)",
               [camera, from_us, to_us, reason])


def not_recorded_between(db: sqlite_utils.Database, start_us: int, end_us: int,
                         cameras: list[str] | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM not_recorded WHERE from_us < ? AND to_us >= ?"
    params: list[Any] = [end_us, start_us]
    if cameras is not None:
        sql += " AND camera IN (%s)" % ",".join("?" * len(cameras))
        params += cameras
    return list(db.query(sql + " ORDER BY from_us", params))


def destroy_with(db: sqlite_utils.Database, camera: str, start_us: int, end_us: int) -> list[int]:
    """After a segment [start, end) of `camera` is destroyed: the events it showed that no
    remaining segment of the camera shows are destroyed too; returns their ids."""
    overlapping = "s.camera = e.camera AND s.start_us <= coalesce(e.end_us, e.start_us) AND " \
                  "coalesce(s.end_us, s.start_us) >= e.start_us"
    ids = [r["id"] for r in db.query(
        "SELECT id FROM motion_events e WHERE camera = ? AND start_us <= ? AND coalesce(end_us, start_us) >= ?"
        f" AND NOT EXISTS (SELECT 1 FROM segments s WHERE {overlapping})", [camera, end_us, start_us])]
    if ids:
        db.execute("DELETE FROM motion_events WHERE id IN (%s)" % ",".join("?" * len(ids)), ids)
    return ids
