"""Holds (R6) in the catalog: placed, approved or rejected, extended, released, expired.

Blocking functions over a sqlite_utils.Database, run on the catalog writer thread. The site's
rules for holds (who places them, whether an approver must agree, how long they last) are
edged/rules/holds.py's; the control socket applies them and writes the audit record with the
change (edged/control/holds.py). The retention shell reads `active_holds` (storage/retention/run.py).

A hold is `active`, or `pending` while it waits for an approver (design/0041): a pending hold
keeps its footage until it is decided or its `expires_us` (the end of its wait) passes, when it
ends as `lapsed`. The states are named in storage/states/holds.py (design/0033).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from storage import audit
from storage.footage.segment_rows import FOOTAGE, SEGMENT_LOOKBACK_US
from storage.retention.plan import Hold
from storage.states.holds import ACTIVE, EXPIRED, HOLD_STATES, LAPSED, PENDING, RELEASED


class HoldError(Exception):
    """A hold request that cannot be carried out, said plainly."""


def hold_from_row(r: dict[str, Any]) -> Hold:
    cams = None if r["cameras"] is None else frozenset(json.loads(r["cameras"]))
    return Hold(r["id"], cams, r["from_us"], r["to_us"], r["expires_us"])


def active_holds(db: sqlite_utils.Database, now: int) -> list[Hold]:
    """Every hold that keeps footage now: active ones and those awaiting an approver."""
    rows = db.query("SELECT * FROM holds WHERE ended_us IS NULL AND (expires_us IS NULL OR expires_us > ?)", [now])
    return [hold_from_row(r) for r in rows]


def add_hold(db: sqlite_utils.Database, *, kind: str, cameras: list[str] | None, from_us: int, to_us: int,
             reason: str, case_ref: str, placed_by: str, expires_us: int | None, now: int, state: str = ACTIVE,
             wanted_expires_us: int | None = None, review_us: int | None = None) -> dict[str, Any]:
    """A new hold's row. `state` PENDING: `expires_us` is the end of its wait for an approver and
    `wanted_expires_us` the expiry it gets when approved (None for a legal hold)."""
    if kind not in ("evidence", "legal"):
        raise HoldError(f"unknown hold kind {kind!r}: evidence or legal")
    if state not in HOLD_STATES:
        raise HoldError(f"unknown hold state {state!r}")
    if to_us <= from_us:
        raise HoldError("the hold's end must be after its start")
    if not reason.strip() or not case_ref.strip():
        raise HoldError("a hold needs a reason and a case reference")
    # an evidence hold keeps until released where the site's rule sets no term (issue 56)
    if (state == PENDING and expires_us is None) or (expires_us is not None and expires_us <= now):
        raise HoldError("an evidence hold needs an expiry in the future")
    if kind == "legal" and state == ACTIVE:
        expires_us = None
    if cameras is not None:
        known = {r["id"] for r in db.query("SELECT id FROM cameras")}
        unknown = sorted(set(cameras) - known)
        if unknown:
            raise HoldError(f"unknown camera(s): {', '.join(unknown)}")
    row = {"kind": kind, "cameras": None if cameras is None else json.dumps(sorted(set(cameras))),
           "from_us": from_us, "to_us": to_us, "reason": reason, "case_ref": case_ref, "placed_by": placed_by,
           "placed_us": now, "expires_us": expires_us, "state": state, "wanted_expires_us": wanted_expires_us,
           **({} if review_us is None else {"review_us": review_us})}
    hold_id = db.table("holds").insert(row).last_pk
    assert hold_id is not None
    return hold_row(db, hold_id)


def hold_row(db: sqlite_utils.Database, hold_id: int) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM holds WHERE id = ?", [hold_id]))
    if not rows:
        raise HoldError(f"no hold {hold_id}")
    row = rows[0]
    covered = next(db.query(
        "SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM segments WHERE " + FOOTAGE +
        " AND start_us < ? AND end_us > ? AND start_us > ?" + (  # by index: no segment is longer than the lookback
            " AND camera IN (SELECT camera FROM camera_keys)" if row["cameras"] is None else
            " AND camera IN (SELECT value FROM json_each(?))"),
        [row["to_us"], row["from_us"], row["from_us"] - SEGMENT_LOOKBACK_US]
        + ([] if row["cameras"] is None else [row["cameras"]])))
    return {**row, "cameras": None if row["cameras"] is None else json.loads(row["cameras"]),
            "segments": covered["n"], "bytes": covered["bytes"]}


def release_hold(db: sqlite_utils.Database, hold_id: int, *, actor: str, reason: str, approver: str | None,
                 now: int) -> dict[str, Any]:
    row = hold_row(db, hold_id)
    if row["ended_us"] is not None:
        raise HoldError(f"hold {hold_id} already ended ({row['ended_how']})")
    if not reason.strip():
        raise HoldError("releasing a hold needs a reason")
    if row["kind"] == "legal" and not approver:
        raise HoldError("releasing a legal hold needs an approver's session")
    db.execute("UPDATE holds SET ended_us = ?, ended_how = ?, ended_by = ?, end_reason = ?,"
               " approved_by = ? WHERE id = ?", [now, RELEASED, actor, reason, approver, hold_id])
    return hold_row(db, hold_id)


_CHANGEABLE = ("state", "expires_us", "decided_by", "decided_us", "decision_reason", "extended_by", "extended_us",
               "ended_us", "ended_how", "ended_by", "end_reason", "review_us")


def update_hold(db: sqlite_utils.Database, hold_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply a decision or an extension the rules worked out (edged/rules/holds.py)."""
    bad = sorted(set(changes) - set(_CHANGEABLE))
    if bad:
        raise HoldError(f"a hold's {', '.join(bad)} cannot be changed")
    cols = ", ".join(f"{k} = ?" for k in changes)
    db.execute(f"UPDATE holds SET {cols} WHERE id = ?", [*changes.values(), hold_id])
    return hold_row(db, hold_id)


def expire_holds(db: sqlite_utils.Database, now: int) -> list[int]:
    """Record the end of holds whose time is up: evidence holds expire, a pending hold that no
    approver decided in time lapses."""
    rows = list(db.query("SELECT id, state FROM holds WHERE ended_us IS NULL AND expires_us IS NOT NULL"
                         " AND expires_us <= ?", [now]))
    for r in rows:
        how = LAPSED if r["state"] == PENDING else EXPIRED
        with db.atomic():
            db.execute("UPDATE holds SET ended_us = expires_us, ended_how = ?, ended_by = 'edged' WHERE id = ?",
                       [how, r["id"]])
            audit.append(db, "edged", f"hold.{how}", {"id": r["id"]})
    return [r["id"] for r in rows]


def holds(db: sqlite_utils.Database, include_ended: bool = False) -> list[dict[str, Any]]:
    """Holds by id as hold_row shows them (in force only unless `include_ended`)."""
    sql = "SELECT id FROM holds" + ("" if include_ended else " WHERE ended_us IS NULL") + " ORDER BY id"
    return [hold_row(db, r["id"]) for r in list(db.query(sql))]


def open_reviews(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The holds in force that have a review date (legal holds, design/0076), as plain rows."""
    return list(db.query("SELECT id, kind, placed_by, review_us, state FROM holds WHERE ended_us IS NULL"
                         " AND review_us IS NOT NULL ORDER BY id"))
