"""Retrieval requests, grants and the export register in the catalog (R5, R7.1).

Blocking functions over a sqlite_utils.Database, run on the catalog writer thread. The rules
are edged/rules/retrieval.py; the transactions that apply them to these rows (filing and
deciding a request, using a grant, the periodic sweep) are edged/people.py's, so nothing here
imports from edged/.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Callable, cast

import sqlite_utils

from storage import audit
from storage.disk.fsutil import write_new
from storage.states.requests import APPROVED, FILED

ID_KEY_FILE = "request-id.key"


class GrantError(ValueError):
    """A grant that cannot be used: unknown, expired, already used, or for the other mode."""



# requests ---------------------------------------------------------------------------
def id_key(data_dir: Path) -> bytes:
    """The node's secret for citizens' ID hashes: made once, kept in the data folder (0600)."""
    path = Path(data_dir) / ID_KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    write_new(path, key, 0o600)
    return key


_JSON_COLS = ("cameras", "chain", "steps", "approvers")


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, **{k: json.loads(r[k]) for k in _JSON_COLS if k in r and r[k] is not None}}


def peek_grant(db: sqlite_utils.Database, grant_id: int) -> dict[str, Any] | None:
    """A grant as it stands, without using it."""
    row = next(db.query("SELECT * FROM grants WHERE id = ?", [int(grant_id)]), None)
    return None if row is None else _row(row)


def request_row(db: sqlite_utils.Database, request_id: int) -> dict[str, Any] | None:
    row = next(db.query("SELECT * FROM requests WHERE id = ?", [int(request_id)]), None)
    if row is None:
        return None
    grant = next(db.query("SELECT id FROM grants WHERE request_id = ?", [row["id"]]), None)
    return {**_row(row), "grant": None if grant is None else peek_grant(db, grant["id"])}


def list_requests(db: sqlite_utils.Database, *, state: str | None = None, kind: str | None = None,
                  filed_by: str | None = None, id_hmac: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    sql, params = "SELECT id FROM requests WHERE 1 = 1", []
    for col, value in (("state", state), ("kind", kind), ("filed_by", filed_by), ("citizen_id_hmac", id_hmac)):
        if value is not None:
            sql += f" AND {col} = ?"
            params.append(value)
    rows = db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    return [request_row(db, r["id"]) for r in list(rows)]  # type: ignore[misc]


def custodian_name(custodian: str) -> str:
    """Accept "alice" and the actor form "alice (os: root)"."""
    return custodian.split(" (", 1)[0].strip()


def record_export(db: sqlite_utils.Database, grant_id: int, *, out_dir: str, custodian: str, now_us: int,
                  bytes_: int | None = None, manifest_sha256: str | None = None,
                  detail: dict[str, Any] | None = None) -> int:
    """The export register's row for a copy made under a used grant (the export code calls it); a
    view grant's only as the staging export of a citizen's redacted copy (`detail` "redacted")."""
    grant = peek_grant(db, grant_id)
    if grant is None or grant["used_us"] is None or (grant["mode"] != "copy" and not (detail or {}).get("redacted")):
        raise GrantError(f"grant {grant_id} is not a used copy grant")
    with db.atomic():
        export_id = db.table("exports").insert({
            "grant_id": grant_id, "out_dir": out_dir, "cameras": json.dumps(grant["cameras"]),
            "from_us": grant["from_us"], "to_us": grant["to_us"], "custodian": custodian_name(custodian),
            "created_us": now_us, "bytes": bytes_, "manifest_sha256": manifest_sha256,
            "detail": None if detail is None else json.dumps(detail, sort_keys=True)}).last_pk
        audit.append(db, custodian, "export.done", {"export": export_id, "grant": grant_id, "out_dir": out_dir,
                                                    "bytes": bytes_, "manifest_sha256": manifest_sha256},
                     at_us=now_us)
    return cast(int, export_id)


def scrub(db: sqlite_utils.Database) -> None:
    """Leave no copy of purged data in the file: freed space is zeroed (secure_delete, set when
    the catalog opens) and the WAL, which holds the old pages, is folded in and emptied."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def purged_ids(db: sqlite_utils.Database) -> list[int]:
    return [r["id"] for r in db.query("SELECT id FROM requests WHERE purged_us IS NOT NULL")]


def _encoded(row: dict[str, Any]) -> dict[str, Any]:
    """The list columns (cameras, chain, steps, approvers) as JSON text."""
    return {k: json.dumps(v) if k in _JSON_COLS and v is not None else v for k, v in row.items()}


def insert_request(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """A new request's row (cameras, chain and steps as lists); returns its id."""
    return cast(int, db.table("requests").insert(_encoded(row)).last_pk)


def update_request(db: sqlite_utils.Database, request_id: int, changes: dict[str, Any]) -> None:
    values = _encoded(changes)
    cols = ", ".join(f"{k} = ?" for k in values)
    db.execute(f"UPDATE requests SET {cols} WHERE id = ?", [*values.values(), request_id])


def close_request(db: sqlite_utils.Database, request_id: int, state: str, closed_us: int) -> None:
    update_request(db, request_id, {"state": state, "closed_us": closed_us})


def insert_grant(db: sqlite_utils.Database, grant: dict[str, Any]) -> int:
    return cast(int, db.table("grants").insert(_encoded(grant)).last_pk)


def mark_grant_used(db: sqlite_utils.Database, grant_id: int, *, used_us: int, used_by: str, watcher: str) -> bool:
    """False if the grant was used already (the single writer thread makes that impossible; kept
    as the guard)."""
    cur = db.execute("UPDATE grants SET used_us = ?, used_by = ?, watcher = ? WHERE id = ? AND used_us IS NULL",
                     [used_us, used_by, watcher, int(grant_id)])
    return cur.rowcount == 1


def allow_whole_picture(db: sqlite_utils.Database, grant_id: int, *, by: str, reason: str, at_us: int) -> bool:
    """An approver's allowance of the whole picture on a grant not used yet (design/0276); False if
    it was used or allowed meanwhile (the single writer thread makes that impossible; the guard)."""
    cur = db.execute("UPDATE grants SET unredacted_by = ?, unredacted_reason = ?, unredacted_us = ? WHERE id = ?"
                     " AND used_us IS NULL AND unredacted_by IS NULL", [by, reason, at_us, int(grant_id)])
    return cur.rowcount == 1


def export_row(db: sqlite_utils.Database, export_id: int) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM exports WHERE id = ?", [export_id]), None)


def export_of_manifest(db: sqlite_utils.Database, manifest_sha256: str) -> dict[str, Any] | None:
    """The newest export whose signed manifest has that SHA-256 (id, out_dir): where the office's
    receipt for it goes (design/0318)."""
    return next(db.query("SELECT id, out_dir FROM exports WHERE manifest_sha256 = ? ORDER BY id DESC LIMIT 1",
                         [manifest_sha256]), None)


def redacted_exports(db: sqlite_utils.Database, grant_id: int) -> list[dict[str, Any]]:
    """The staging exports a grant was used for, for its citizen's redacted copy (design/0232,
    0277): id, custodian, created_us, out_dir; the newest first."""
    return list(db.query("SELECT id, custodian, created_us, out_dir FROM exports WHERE grant_id = ?"
                         " AND json_extract(detail, '$.redacted') = 1 ORDER BY id DESC", [int(grant_id)]))


def undecided_since(db: sqlite_utils.Database, filed_before_us: int) -> list[dict[str, Any]]:
    """Requests still `filed` that were filed at or before the time: id, filed_us."""
    return list(db.query("SELECT id, filed_us FROM requests WHERE state = ? AND filed_us <= ?",
                         [FILED, filed_before_us]))


def unused_grants_expired(db: sqlite_utils.Database, now_us: int) -> list[dict[str, Any]]:
    """Approved requests whose grant expired unused: id, grant_id, expires_us."""
    return list(db.query("SELECT r.id, g.id AS grant_id, g.expires_us FROM requests r JOIN grants g"
                         " ON g.request_id = r.id WHERE r.state = ? AND g.used_us IS NULL"
                         " AND g.expires_us <= ?", [APPROVED, now_us]))


def closed_unpurged(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [_row(r) for r in list(db.query("SELECT * FROM requests WHERE closed_us IS NOT NULL AND purged_us IS NULL"))]


def open_requests(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Requests filed or approved, not yet used, rejected or lapsed."""
    return [_row(r) for r in list(db.query("SELECT * FROM requests WHERE state IN (?, ?)", [FILED, APPROVED]))]


def purge_request(db: sqlite_utils.Database, request_id: int, changes: dict[str, Any]) -> None:
    """Every personal field of a request (R5.7): its own (`changes`, from the rules), its grant's
    (requester, watcher) and its exports' recipient and receipt signer. The audit chain never held them."""
    update_request(db, request_id, changes)
    db.execute("UPDATE grants SET requester = NULL, watcher = NULL WHERE request_id = ?", [request_id])
    db.execute("UPDATE exports SET detail = json_set(detail, '$.recipient', NULL, '$.receipt_signed_by', NULL)"
               " WHERE detail IS NOT NULL AND grant_id IN (SELECT id FROM grants WHERE request_id = ?)", [request_id])


def purge_backup(path: Path, ids: list[int], purged: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """The live catalog's purges repeated in a catalog backup (a maintenance copy): the requests it
    purged (`ids`), whatever state the copy caught them in, the same fields, no record (the
    backup's chain stays as it was and still verifies). `purged(request)`: the rules' changes
    (edged/rules/retrieval.py). Returns how many requests."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        db = sqlite_utils.Database(conn, execute_plugins=False)  # as storage/catalog.py
        wanted = set(ids)
        due = [_row(r) for r in list(db.query("SELECT * FROM requests WHERE purged_us IS NULL"))
               if r["id"] in wanted]
        with db.atomic():
            for req in due:
                purge_request(db, req["id"], purged(req))
        if due:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
        return len(due)
    finally:
        conn.close()
