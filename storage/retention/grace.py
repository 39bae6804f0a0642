"""Retention changes on the record and their grace period (design/0022): the policy in force
is compared with the one last recorded; a lowered maximum keeps its old value for the grace.

Blocking: runs on the catalog writer thread.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import sqlite_utils

from storage import audit
from storage.retention.changes import lowered_max, policy_changes
from storage.retention.plan import Grace

POLICY_KEY = "retention_policy"
NOTICE_KEY = "retention_notice_until"


def policy_doc(retention: Any, cameras: Iterable[Any]) -> dict[str, Any]:
    """The settings whose change goes on the record: min/max retention, reserve, on_full."""
    reserve = {"bytes": retention.reserve_bytes} if retention.reserve_bytes is not None else \
        {"percent": retention.reserve_percent}
    return {"min_us": retention.min_retention_us, "max_us": retention.max_retention_us, "reserve": reserve,
            "on_full": retention.on_full,
            "cameras": {c.id: {"min_us": c.min_retention_us, "max_us": c.max_retention_us} for c in cameras
                        if c.min_retention_us or c.max_retention_us}}


def record_policy(db: sqlite_utils.Database, doc: dict[str, Any], *, grace_us: int, now: int, actor: str,
                  source: dict[str, Any]) -> dict[str, Any] | None:
    """Compare the policy in force with the one last recorded; on a change write the audit
    record (old and new values), start the grace period of every lowered max, and remember
    the new policy. Returns the change ({changes, lowered, grace_until_us}) or None. The first
    policy a catalog sees is stored without a record: nothing changed."""
    old = _recorded(db)
    store = ("INSERT INTO node (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    if old is None:
        db.execute(store, [POLICY_KEY, json.dumps(doc, sort_keys=True)])
        return None
    changes = policy_changes(old, doc)
    if not changes:
        return None
    lowered = _lowered(db, old, doc)
    until = now + grace_us
    with db.atomic():
        for cam, (old_max, new_max) in lowered.items():
            db.execute("INSERT INTO retention_grace (camera, at_us, old_max_us, new_max_us, grace_until_us)"
                       " VALUES (?, ?, ?, ?, ?)", [cam, now, old_max, new_max, until])
        audit.append(db, actor, "retention.change", {
            "changes": changes, "old": old, "new": doc, "source": source, "grace_until_us": until,
            "lowered": {cam: {"old_max_us": a, "new_max_us": b} for cam, (a, b) in lowered.items()}}, at_us=now)
        db.execute(store, [POLICY_KEY, json.dumps(doc, sort_keys=True)])
        db.execute(store, [NOTICE_KEY, str(until)])
    return {"changes": changes, "lowered": lowered, "grace_until_us": until}


def _recorded(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The policy last recorded (None: this catalog has seen none)."""
    row = next(db.query("SELECT value FROM node WHERE key = ?", [POLICY_KEY]), None)
    return None if row is None else dict(json.loads(row["value"]))


def _lowered(db: sqlite_utils.Database, old: dict[str, Any], doc: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The cameras whose max `doc` lowers from `old`'s: every camera the catalog knows, and each either names."""
    cams = {r["id"] for r in db.query("SELECT id FROM cameras")} | set(old.get("cameras", {})) | \
        set(doc.get("cameras", {}))
    return lowered_max(old, doc, cams)


def notice_until(db: sqlite_utils.Database) -> int | None:
    """When the grace period of the last retention change ends (its alarm clears then)."""
    row = next(db.query("SELECT value FROM node WHERE key = ?", [NOTICE_KEY]), None)
    return None if row is None or row["value"] is None else int(row["value"])


def unrecorded_graces(db: sqlite_utils.Database, doc: dict[str, Any], *, grace_us: int, now: int) -> list[Grace]:
    """The maxima `doc` lowers that are not on the record yet: each keeps the recorded max, its
    grace as if it began now. A reload hands its config to the retention pass before
    `record_policy` has written the change (a step later, on the writer's queue behind the
    cameras' reload); a pass between the two must not destroy by the lower max at once."""
    old = _recorded(db)
    if old is None:
        return []
    return [Grace(cam, a, now + grace_us) for cam, (a, _) in _lowered(db, old, doc).items()]


def active_graces(db: sqlite_utils.Database, now: int) -> list[Grace]:
    return [Grace(r["camera"], r["old_max_us"], r["grace_until_us"]) for r in db.query(
        "SELECT camera, old_max_us, grace_until_us FROM retention_grace WHERE grace_until_us > ?", [now])]
