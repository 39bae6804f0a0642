"""The `cameras` table (one row per camera ever configured; rows are never deleted, footage
refers to them) and `camera_references` (the reference picture a camera is compared with):
the rows made to match the config, the recorder's state changes and stats (its hot path, on
the catalog writer), the health monitor's verdicts, and the reads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

# The states a camera's row can have: storage/states/cameras.py.
_JSON = ("health", "image", "compliance_reasons")
# The columns of a camera's inventory entry (R3.5): a change to one is a change of the camera list.
INVENTORY = ("name", "enabled", "location", "kind", "purpose", "coverage", "manager", "contact", "recording_period",
             "machine_room", "asset_number")


def sync(db: sqlite_utils.Database, cameras: Iterable[dict[str, Any]], now_us: int) -> None:
    """Make the camera rows match the config; rows of removed cameras stay (footage). A
    camera added, removed, or whose inventory entry changed gets `listed_us` = now."""
    cameras = list(cameras)
    with db.atomic():
        before = {r["id"]: r for r in db.query("SELECT * FROM cameras")}
        db.execute("UPDATE cameras SET listed_us = ? WHERE configured = 1 AND id NOT IN (SELECT value FROM"
                   " json_each(?))", [now_us, json.dumps([c["id"] for c in cameras])])
        db.execute("UPDATE cameras SET configured = 0")
        for cam in cameras:
            old = before.get(cam["id"])
            changed = old is None or not old["configured"] or any(
                k in INVENTORY and old.get(k) != v for k, v in cam.items())
            db.table("cameras").upsert({**cam, "configured": 1, **({"listed_us": now_us} if changed else {})},
                                       pk="id")


def set_state(db: sqlite_utils.Database, camera: str, state: str, error: str | None, at_us: int,
              reconnects: int | None = None, last_packet_us: int | None = None, kind: str | None = None) -> None:
    """A state change. The error (its words and its kind) is kept while the camera is not
    recording (a retry does not blank it); the reconnect count and the last frame's time
    come with it (design/0024)."""
    db.execute(
        "UPDATE cameras SET state = ?, last_error = CASE WHEN ? = 'recording' THEN NULL"
        " ELSE coalesce(?, last_error) END,"
        " error_kind = CASE WHEN ? = 'recording' THEN NULL WHEN ? IS NOT NULL THEN ? ELSE error_kind END,"
        " state_since_us = CASE WHEN state = ? THEN state_since_us ELSE ? END,"
        " reconnects = coalesce(?, reconnects), last_packet_us = coalesce(?, last_packet_us) WHERE id = ?",
        [state, state, error, state, error, kind, state, at_us, reconnects, last_packet_us, camera],
    )


# The columns the recorder's stats set, every one at each flush (edged/daemon/recording/supervisor.py `_flush_stats`)
STATS = ("fps", "bitrate", "codec", "width", "height", "audio", "last_packet_us", "lateness_us", "reconnects",
         "ts_fixes", "keyframe_interval", "clock_skew_us", "updated_us")
_SET_STATS = f"UPDATE cameras SET {', '.join(f'{c} = ?' for c in STATS)} WHERE id = ?"


def set_stats(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """The recorder's stats, a row a camera (`id` and every column of STATS), every few seconds for as long as
    edged runs: one fixed UPDATE a camera, not sqlite-utils' `update`, which read the table's names, its columns
    and the row itself before each (3-6 ms of the writer a flush, design/0514). A camera with no row sets nothing."""
    with db.atomic():
        db.conn.executemany(_SET_STATS, [[*(row[c] for c in STATS), row["id"]] for row in rows])


def ids(db: sqlite_utils.Database) -> list[str]:
    """Every camera with a row (configured now or once)."""
    return [r["id"] for r in db.query("SELECT id FROM cameras ORDER BY id")]


def exists(db: sqlite_utils.Database, camera: str) -> bool:
    return next(db.query("SELECT 1 AS x FROM cameras WHERE id = ?", [camera]), None) is not None


def state_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many configured cameras are in each state."""
    return {r["state"]: r["n"] for r in db.query(
        "SELECT state, count(*) AS n FROM cameras WHERE configured = 1 GROUP BY state")}


def configured(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The configured cameras' rows as stored (JSON columns as text)."""
    return list(db.query("SELECT * FROM cameras WHERE configured = 1"))


def listing(db: sqlite_utils.Database, include_removed: bool = False) -> list[dict[str, Any]]:
    """Camera rows by id with their JSON columns parsed (edgectl cameras)."""
    rows = list(db.query("SELECT * FROM cameras WHERE configured = 1 OR ? ORDER BY id", [int(include_removed)]))
    for r in rows:
        for col in _JSON:
            r[col] = json.loads(r[col]) if r.get(col) else None
    return rows


def set_health(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """The health monitor's verdicts (state, compliance, image and health as JSON text)."""
    with db.atomic():
        for row in rows:
            db.execute("UPDATE cameras SET state = ?, compliance = ?, compliance_reasons = ?, image = ?, health = ?"
                       " WHERE id = ?", [row["state"], row["compliance"], row["compliance_reasons"], row["image"],
                                         row["health"], row["id"]])


def references(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every camera's reference picture: camera, thumb (bytes), width, height, set_by, set_us."""
    return list(db.query("SELECT * FROM camera_references"))


def set_reference(db: sqlite_utils.Database, camera: str, thumb: bytes, width: int, height: int, set_by: str,
                  set_us: int) -> None:
    db.execute("INSERT OR REPLACE INTO camera_references (camera, thumb, width, height, set_by, set_us)"
               " VALUES (?, ?, ?, ?, ?, ?)", [camera, thumb, width, height, set_by, set_us])
