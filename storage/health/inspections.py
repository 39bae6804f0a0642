"""The `inspection_runs` and `inspections` tables: one run (scheduled or by hand) with one
record per camera, signed by the inspector and countersigned by the supervisor (R3)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import sqlite_utils

SCHEDULED = "scheduled"  # a run's kind; the other is what `edgectl inspect run` says (a person's)


def add_run(db: sqlite_utils.Database, *, kind: str, due_us: int | None, ran_us: int, ran_by: str,
            records: list[dict[str, Any]]) -> int:
    """A run and its per-camera records (camera, items, ok, anomalies); returns the run's id."""
    run_id = db.table("inspection_runs").insert({
        "kind": kind, "due_us": due_us, "ran_us": ran_us, "ran_by": ran_by, "cameras": len(records),
        "anomalies": sum(not r["ok"] for r in records)}).last_pk
    for r in records:
        db.table("inspections").insert({"run_id": run_id, "camera": r["camera"], "at_us": ran_us,
                                  "items": json.dumps(r["items"]), "ok": int(r["ok"]), "anomalies": r["anomalies"],
                                  "unit": r.get("unit") or None})
    return cast(int, run_id)


def run_of(db: sqlite_utils.Database, run_id: int) -> dict[str, Any] | None:
    """A run with its records (items parsed), or None."""
    run = next(db.query("SELECT * FROM inspection_runs WHERE id = ?", [run_id]), None)
    if run is None:
        return None
    run["records"] = [{**r, "items": json.loads(r["items"])} for r in db.query(
        "SELECT * FROM inspections WHERE run_id = ? ORDER BY camera", [run_id])]
    return run


def runs_between(db: sqlite_utils.Database, start_us: int, end_us: int) -> list[dict[str, Any]]:
    ids = [r["id"] for r in db.query(
        "SELECT id FROM inspection_runs WHERE ran_us >= ? AND ran_us < ? ORDER BY ran_us", [start_us, end_us])]
    return [run for i in ids if (run := run_of(db, i)) is not None]


def sign(db: sqlite_utils.Database, run_id: int, signer: str, at_us: int, handling: dict[str, str],
         repairs: set[str] | None = None) -> None:
    """The inspector's signature, with what was done about each camera's anomalies and, where
    the site asks (`repairs` not None), which cameras a repair was requested for."""
    for cam, text in handling.items():
        db.execute("UPDATE inspections SET handling = ? WHERE run_id = ? AND camera = ?", [text, run_id, cam])
    if repairs is not None:
        for r in db.query("SELECT camera FROM inspections WHERE run_id = ?", [run_id]):
            db.execute("UPDATE inspections SET repair = ? WHERE run_id = ? AND camera = ?",
                       [int(r["camera"] in repairs), run_id, r["camera"]])
    db.execute("UPDATE inspection_runs SET inspector = ?, signed_us = ? WHERE id = ?", [signer, at_us, run_id])


def countersign(db: sqlite_utils.Database, run_id: int, signer: str, at_us: int, units: list[str] | None = None) -> None:
    """The supervisor's countersignature: of the whole run, or (`units`) of those units' rows
    ("" the rows of no unit); the run is countersigned once its last row is, by all who signed."""
    if units is None:
        db.execute("UPDATE inspections SET supervisor = ?, countersigned_us = ? WHERE run_id = ? "
                   "AND countersigned_us IS NULL", [signer, at_us, run_id])
    else:
        for unit in units:
            db.execute("UPDATE inspections SET supervisor = ?, countersigned_us = ? WHERE run_id = ? "
                       "AND coalesce(unit, '') = ? AND countersigned_us IS NULL", [signer, at_us, run_id, unit])
    left = next(db.query("SELECT count(*) AS n FROM inspections WHERE run_id = ? AND countersigned_us IS NULL",
                         [run_id]))["n"]
    if not left:
        names = [r["supervisor"] for r in db.query(
            "SELECT supervisor, min(countersigned_us) AS t FROM inspections WHERE run_id = ? GROUP BY supervisor "
            "ORDER BY t, supervisor", [run_id])]
        db.execute("UPDATE inspection_runs SET supervisor = ?, countersigned_us = ? WHERE id = ?",
                   ["; ".join(n for n in names if n) or signer, at_us, run_id])


def unsigned_scheduled_due_before(db: sqlite_utils.Database, before_us: int) -> list[int]:
    return [r["id"] for r in db.query(
        "SELECT id FROM inspection_runs WHERE kind = ? AND signed_us IS NULL AND due_us < ? ORDER BY id",
        [SCHEDULED, before_us])]


def last_scheduled_due(db: sqlite_utils.Database) -> int | None:
    return cast("int | None",
                next(db.query("SELECT max(due_us) AS d FROM inspection_runs WHERE kind = ?", [SCHEDULED]))["d"])


def not_countersigned(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """(id, ran_us) of every run whose register entry is not complete: the supervisor has not
    countersigned it yet (R3.2: the month's register goes to the supervisor)."""
    return [(r["id"], r["ran_us"]) for r in db.query(
        "SELECT id, ran_us FROM inspection_runs WHERE countersigned_us IS NULL ORDER BY id")]
