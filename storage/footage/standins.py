"""When a standby stood in for another box (design/0107): one row a spell, opened when it
starts recording that box's cameras and closed when it stops (or, after a crash, when it
starts again). Each camera row names its box (`cameras.box`); the footage is the standby's own
segments of those cameras, under its retention."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils


def start(db: sqlite_utils.Database, box: str, recorded_by: str, cameras: list[str], why: str, at_us: int) -> None:
    db.execute("INSERT INTO standins (box, recorded_by, cameras, why, started_us) VALUES (?, ?, ?, ?, ?)",
               [box, recorded_by, json.dumps(sorted(cameras)), why, at_us])


def end(db: sqlite_utils.Database, box: str | None, at_us: int) -> None:
    """Close the open spell of `box` (None: every open one, as at start-up)."""
    if box is None:
        db.execute("UPDATE standins SET ended_us = ? WHERE ended_us IS NULL", [at_us])
    else:
        db.execute("UPDATE standins SET ended_us = ? WHERE ended_us IS NULL AND box = ?", [at_us, box])


def listing(db: sqlite_utils.Database, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.query("SELECT box, recorded_by, cameras, why, started_us, ended_us FROM standins"
                    " ORDER BY started_us DESC LIMIT ?", [limit])
    return [{**r, "cameras": json.loads(r["cameras"])} for r in rows]
