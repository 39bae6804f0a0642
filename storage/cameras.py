"""The `cameras` table (one row per camera ever configured; rows are never deleted, footage
refers to them) and `camera_references` (the reference picture a camera is compared with).
Camera state changes and stats are Catalog methods (the recorder's hot path)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

# The states a camera's row can have: storage/states/cameras.py.
_JSON = ("health", "image", "compliance_reasons")


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
