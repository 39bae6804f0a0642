"""Every record follows the true time (design/0096): when a host clock step is corrected, what the
catalog stamped on the wrong clock moves with the footage. The columns are storage/time/stamped.py's;
the window and the shift are the host clock watch's (edged/daemon/host_clock.py): every value
stamped on the old clock since the watch last knew it right lies in [from_us, to_us] of that
clock, and moves by the same shift as the segments (storage/restamps.shift). Each correction is
a `clock_corrections` row and an audit record; the audit chain itself is never rewritten, so
its stamps are read through `true_us`.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from storage import audit
from storage.time import stamped
from storage.footage.segment_rows import SEGMENT_LOOKBACK_US


def move(db: sqlite_utils.Database, from_us: int, to_us: int, shift_us: int, at_us: int,
         detail: dict[str, Any] | None = None) -> dict[str, int]:
    """Move every host-clock stamp in [from_us, to_us] by `shift_us` (a deadline with the stamp it
    was computed from), in one transaction, on the record. Returns the rows moved per table."""
    moved: dict[str, int] = {}
    window = [from_us, to_us]
    with db.atomic():
        for s in stamped.HOST:
            n = 0
            if s.derived:  # before `by` moves: it says which rows' deadlines were computed on the wrong clock
                sets = ", ".join(f"{c} = {c} + ?" for c in s.derived)
                n += db.execute(f"UPDATE {s.table} SET {sets} WHERE {s.by} BETWEEN ? AND ?",
                                [shift_us] * len(s.derived) + window).rowcount
            narrow = f" AND {s.narrow}" if s.narrow else ""
            for col in s.own:
                n += db.execute(f"UPDATE {s.table} SET {col} = {col} + ? WHERE {col} BETWEEN ? AND ?{narrow}",
                                [shift_us, *window]).rowcount
            if n:
                moved[s.table] = n
        moved_node = _move_node(db, from_us, to_us, shift_us)
        if moved_node:
            moved["node"] = moved_node
        rec = audit.append(db, "edged", "records.restamp", {"from_us": from_us, "to_us": to_us, "shift_us": shift_us,
                                                            "rows": moved, **(detail or {})}, at_us=at_us)
        db.execute("INSERT INTO clock_corrections (from_us, to_us, shift_us, at_us, audit_seq) VALUES (?, ?, ?, ?, ?)",
                   [from_us, to_us, shift_us, at_us, rec["seq"]])
    return moved


def _move_node(db: sqlite_utils.Database, from_us: int, to_us: int, shift_us: int) -> int:
    n = 0
    for key in stamped.NODE_KEYS:
        n += db.execute("UPDATE node SET value = CAST(value AS INTEGER) + ? WHERE key = ? AND "
                        "CAST(value AS INTEGER) BETWEEN ? AND ?", [shift_us, key, from_us, to_us]).rowcount
    for key, field in stamped.NODE_JSON.items():
        row = next(db.query("SELECT value FROM node WHERE key = ?", [key]), None)
        try:
            value = json.loads(row["value"]) if row and row["value"] else None
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get(field), int) and from_us <= value[field] <= to_us:
            value[field] += shift_us
            db.execute("UPDATE node SET value = ? WHERE key = ?", [json.dumps(value), key])
            n += 1
    return n


def true_us(db: sqlite_utils.Database, seq: int, us: int | None) -> int | None:
    """The audit record `seq`'s stamp (never rewritten) on the true clock: moved by each
    correction made after it (its record comes later in the chain) whose window holds it, in
    order. A record made after a correction is on the corrected clock, whatever its value."""
    if us is None:
        return None
    for r in db.query("SELECT from_us, to_us, shift_us FROM clock_corrections WHERE audit_seq > ? ORDER BY id",
                      [seq]):
        if r["from_us"] <= us <= r["to_us"]:
            us += r["shift_us"]
    return us


def segment_shift(db: sqlite_utils.Database, camera: str, end_us: int) -> int:
    """The re-stamp of the camera's segment that ended at `end_us` as stamped (0: none): a gap
    filed after a correction, from the end of a segment recorded before the step, starts where
    that segment truly ended (storage/gaps.add)."""
    row = next(db.query(
        "SELECT r.shift_us FROM segments s JOIN restamps r ON r.segment_id = s.id WHERE s.camera = ? AND "
        "s.start_us > ? AND s.start_us <= ? AND s.end_us = ? AND r.shift_us IS NOT NULL",
        [camera, end_us - SEGMENT_LOOKBACK_US, end_us, end_us]), None)
    return 0 if row is None else int(row["shift_us"])
