"""The `gaps` table: a camera's time not recorded (an outage, a storage hold), one row each,
added on the catalog writer by the recording control plane (edged/daemon/recording/gaps.py and
modes.py) and read by status and the health monitor (an export plan reads them itself,
storage/export/plan.py). A hole by policy (no motion, live mode) is no gap but a `not_recorded`
row of storage/footage/events.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from storage.footage import corrections

if TYPE_CHECKING:
    import sqlite_utils


def add(db: sqlite_utils.Database, camera: str, from_us: int, to_us: int, reason: str) -> None:
    """A gap of the camera's footage from `from_us` to `to_us`, and why. From the end of a segment
    re-stamped after a host clock step, it starts where that segment truly ended (design/0096)."""
    from_us += corrections.segment_shift(db, camera, from_us)
    if to_us <= from_us:
        return  # the hole was the step itself
    db.execute("INSERT INTO gaps (camera, from_us, to_us, reason) VALUES (?, ?, ?, ?)", [camera, from_us, to_us, reason])


def count_since(db: sqlite_utils.Database, since_us: int) -> int:
    return cast(int, next(db.query("SELECT count(*) AS n FROM gaps WHERE to_us >= ?", [since_us]))["n"])


def between(db: sqlite_utils.Database, start_us: int, end_us: int,
            cameras: list[str] | None = None) -> list[dict[str, Any]]:
    """Gaps overlapping [start, end), by camera then time; `cameras` None: every camera."""
    sql = "SELECT * FROM gaps WHERE from_us < ? AND to_us >= ?"
    params: list[Any] = [end_us, start_us]
    if cameras is not None:
        sql += f" AND camera IN ({','.join('?' * len(cameras))})"
        params += cameras
    return list(db.query(sql + " ORDER BY camera, from_us", params))


def seconds_since(db: sqlite_utils.Database, since_us: int, until_us: int) -> dict[str, float]:
    """Seconds of recorded gaps per camera inside [since, until) (the health monitor's day)."""
    rows = db.query("SELECT camera, sum(min(to_us, ?) - max(from_us, ?)) AS us FROM gaps"
                    " WHERE to_us > ? GROUP BY camera", [until_us, since_us, since_us])
    return {r["camera"]: r["us"] / 1e6 for r in rows}
