"""The `alarms` table: one row per alarm raised, under a stable key (one active row per key),
cleared by setting `cleared_us`. Written on the catalog writer by edged/alarms.py only, which
takes each kind's severity from storage/alarm_kinds.py (tests/test_alarm_kinds.py checks that
nothing else raises); read by anyone."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils


def raise_alarm(db: sqlite_utils.Database, key: str, kind: str, severity: str, camera: str | None, message: str,
                detail: dict[str, Any] | None, now_us: int) -> bool:
    """Raise (or refresh) the alarm with this stable key; True if it is new."""
    detail_json = None if detail is None else json.dumps(detail, sort_keys=True)
    cur = db.execute(
        "UPDATE alarms SET severity = ?, message = ?, detail = ?, updated_us = ?"
        " WHERE key = ? AND cleared_us IS NULL", [severity, message, detail_json, now_us, key])
    if cur.rowcount:
        return False
    db.execute(
        "INSERT INTO alarms (key, kind, severity, camera, message, detail, raised_us, updated_us)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [key, kind, severity, camera, message, detail_json, now_us, now_us])
    return True


def clear_alarm(db: sqlite_utils.Database, key: str, now_us: int) -> bool:
    """Clear the active alarm of this key; False if none was active."""
    cur = db.execute("UPDATE alarms SET cleared_us = ? WHERE key = ? AND cleared_us IS NULL", [now_us, key])
    return bool(cur.rowcount)


def listing(db: sqlite_utils.Database, include_cleared: bool = False) -> list[dict[str, Any]]:
    """Alarm rows by the time raised (the active ones unless `include_cleared`)."""
    where = "" if include_cleared else " WHERE cleared_us IS NULL"
    return list(db.query("SELECT * FROM alarms" + where + " ORDER BY raised_us"))


def active(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The active alarms, by the time raised."""
    return listing(db)
