"""The periodic audit report (docs/requirements.md R7.2, R7.1): what the ethics office reads.

One read-only pass over the catalog for a period: accounts and their rights, requests,
viewings, exports, holds, destructions, inspections, failed logins, and the state of the
audit chain. Plain data out; edgectl renders it as text, JSON or an HTML file.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from storage import audit
from storage.footage import corrections


def _has(db: sqlite_utils.Database, table: str) -> bool:
    return db[table].exists()


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(db.query(sql, params))


DONE = "audit.done"  # the audit record that says a periodic audit was done, and by whom


def last_done(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest periodic audit on record (at_us, actor, detail), or None."""
    row = next(db.query("SELECT seq, at_us, actor, detail FROM audit WHERE action = ? ORDER BY seq DESC LIMIT 1",
                        [DONE]), None)
    return None if row is None else {**row, "at_us": corrections.true_us(db, row["seq"], row["at_us"]),
                                     "detail": json.loads(row["detail"]) if row["detail"] else {}}


def first_record_us(db: sqlite_utils.Database) -> int | None:
    """When the audit chain began (the installation): the first audit is due from then."""
    row = next(db.query("SELECT seq, at_us FROM audit ORDER BY seq LIMIT 1"), None)
    return None if row is None else corrections.true_us(db, row["seq"], row["at_us"])  # stamped on a wrong clock: design/0096


def build(db: sqlite_utils.Database, from_us: int, to_us: int, *, now_us: int) -> dict[str, Any]:
    """The audit report's data for [from, to). Over 60 lines: one query per section of the
    report, in the report's order, each as plain as the section it fills."""
    span = [from_us, to_us]
    accounts = []
    for a in _rows(db, "SELECT * FROM accounts ORDER BY name", []):
        events = _rows(db, "SELECT action, at_us, by, reason FROM account_events WHERE account = ? AND at_us >= ?"
                           " AND at_us < ? ORDER BY id", [a["name"], *span])
        accounts.append({"name": a["name"], "full_name": a["full_name"], "roles": json.loads(a["roles"]),
                         "cameras": None if a["cameras"] is None else json.loads(a["cameras"]),
                         "opened_us": a["opened_us"], "opened_by": a["opened_by"], "revoked_us": a["revoked_us"],
                         "revoked_by": a["revoked_by"], "events": events})
    requests = []
    for r in _rows(db, "SELECT r.*, g.id AS grant_id, g.used_us, g.used_by, g.expires_us FROM requests r"
                       " LEFT JOIN grants g ON g.request_id = r.id WHERE r.filed_us < ?"
                       " AND (r.closed_us IS NULL OR r.closed_us >= ? OR r.filed_us >= ?) ORDER BY r.id",
                   [to_us, from_us, from_us]):
        requests.append({k: r[k] for k in (
            "id", "kind", "state", "category", "mode", "from_us", "to_us", "requester_name", "filed_by", "filed_us",
            "due_us", "decided_by", "decided_us", "decision_reason", "flag", "grant_id", "used_us", "used_by",
            "purged_us")} | {"cameras": json.loads(r["cameras"]),
                             "late": bool(r["due_us"] and (r["decided_us"] or now_us) > r["due_us"])})
    viewings = _rows(db, "SELECT g.id AS grant_id, g.request_id, g.cameras, g.from_us, g.to_us, g.approver,"
                         " g.requester, g.used_us, g.used_by AS custodian, g.watcher FROM grants g"
                         " WHERE g.mode = 'view' AND g.used_us >= ? AND g.used_us < ? ORDER BY g.used_us", span)
    live = _rows(db, "SELECT seq, at_us, actor, action, detail FROM audit WHERE at_us >= ? AND at_us < ?"
                     " AND (action LIKE 'live.%' OR action LIKE 'playback.%' OR action LIKE 'viewing.%')"
                     " ORDER BY seq", span)
    exports = _rows(db, "SELECT e.id, e.grant_id, g.request_id, e.cameras, e.from_us, e.to_us, e.custodian,"
                        " e.created_us, e.bytes, e.manifest_sha256, e.out_dir, g.approver, g.requester"
                        " FROM exports e JOIN grants g ON g.id = e.grant_id"
                        " WHERE e.created_us >= ? AND e.created_us < ? ORDER BY e.id", span)
    for row in viewings + exports:
        row["cameras"] = json.loads(row["cameras"])
    holds = []
    for h in _rows(db, "SELECT * FROM holds WHERE placed_us < ? AND (ended_us IS NULL OR ended_us >= ?)"
                       " ORDER BY id", [to_us, from_us]):
        holds.append({**h, "cameras": None if h["cameras"] is None else json.loads(h["cameras"])})
    destructions = _rows(db, "SELECT camera, reason, count(*) AS segments, coalesce(sum(bytes), 0) AS bytes,"
                             " min(start_us) AS oldest_us, max(end_us) AS newest_us FROM destructions"
                             " WHERE destroyed_us >= ? AND destroyed_us < ? GROUP BY camera, reason"
                             " ORDER BY camera, reason", span)
    passes = _rows(db, "SELECT count(*) AS n FROM retention_passes WHERE started_us >= ? AND started_us < ?"
                       " AND destroyed > 0", span)[0]["n"]
    inspections = _rows(db, "SELECT id, kind, due_us, ran_us, ran_by, cameras, anomalies, inspector, signed_us,"
                            " supervisor, countersigned_us FROM inspection_runs WHERE ran_us >= ? AND ran_us < ?"
                            " ORDER BY ran_us", span) if _has(db, "inspection_runs") else []
    failures = _rows(db, "SELECT name, via, at_us, why FROM login_failures WHERE at_us >= ? AND at_us < ?"
                         " ORDER BY at_us", span)
    by_name: dict[str, int] = {}
    for f in failures:
        by_name[f["name"]] = by_name.get(f["name"], 0) + 1
    n, problem = audit.verify(db)
    return {
        "from_us": from_us, "to_us": to_us, "made_us": now_us,
        "accounts": accounts, "requests": requests, "viewings": viewings, "live_and_playback": live,
        "exports": exports, "holds": holds,
        "destructions": {"passes": passes, "by_camera": destructions,
                         "segments": sum(d["segments"] for d in destructions),
                         "bytes": sum(d["bytes"] for d in destructions)},
        "inspections": inspections,
        "failed_logins": {"total": len(failures), "by_account": by_name, "list": failures},
        "audit_chain": {"records": n, "intact": problem is None, "problem": problem, "head": audit.head(db)},
    }


def usage(db: sqlite_utils.Database, from_us: int, to_us: int) -> list[dict[str, Any]]:
    """The usage register (001 第十八點、附件5 影音應用記錄簿; design/0089): every grant used in
    [from, to), oldest first, with its request's requester and reason, what was done (viewed or
    copied, by which custodian, watched or received by whom) and the copy's export number."""
    out = _rows(db, "SELECT g.id AS grant_id, g.request_id, g.mode, g.cameras, g.from_us, g.to_us, g.used_us,"
                    " g.used_by AS custodian, g.watcher, g.approver, r.kind, r.category, r.reason,"
                    " r.requester_name, r.requester_org, r.filed_by,"
                    " (SELECT min(e.id) FROM exports e WHERE e.grant_id = g.id) AS export_id"
                    " FROM grants g JOIN requests r ON r.id = g.request_id"
                    " WHERE g.used_us >= ? AND g.used_us < ? ORDER BY g.used_us, g.id", [from_us, to_us])
    for row in out:
        row["cameras"] = json.loads(row["cameras"])
    return out
