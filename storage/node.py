"""The `node` table: this box's facts as key/value text (site, version, heartbeat, the MQTT
marks, the key fingerprint, the disk identity): read by any, written by `set_values` on the
catalog writer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils


def values(db: sqlite_utils.Database, *keys: str) -> dict[str, str]:
    """Every key (none given) or just those keys that are set."""
    if not keys:
        return {r["key"]: r["value"] for r in db.query("SELECT key, value FROM node")}
    marks = ",".join("?" * len(keys))
    return {r["key"]: r["value"] for r in db.query(f"SELECT key, value FROM node WHERE key IN ({marks})", list(keys))}


def value(db: sqlite_utils.Database, key: str) -> str | None:
    return values(db, key).get(key)


def set_values(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    """Set these keys (a value as its text; None stored as NULL), in one transaction."""
    with db.atomic():
        for k, v in values.items():
            db.execute("INSERT INTO node (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       [k, None if v is None else str(v)])


def next_session(db: sqlite_utils.Database) -> int:
    """A counter of daemon starts, for the birth message: the central side sees restarts."""
    last = value(db, "session")
    session = int(last) + 1 if last else 1
    set_values(db, {"session": session})
    return session
