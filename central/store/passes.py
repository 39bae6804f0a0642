"""A node's verification pass in the store (issue 53, design/0137, 0270): the statements the
verifier (central/verifier/verifier.py, verifier_kinds.py, verifier_gaps.py, evidence.py) reads a
page's evidence with and writes what it concluded with, each a named function over the store's
connection (``db``, in the pass's transaction). Moved here from the verifier (issue 80), whose
checks and bookkeeping stay there. On PostgreSQL a pass's rows go in through the store's
`rows_sql` (one array a column) and its statements together through `write_all` (one round trip).
Blocking: the verifier's thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from central.store import footage, store_schema
from central.store.held import GRANT_IS, GRANT_IS_PG, REQUEST_IS, REQUEST_IS_PG, dialect, fill, json_values, pick

ROWS = 300          # rows of one multi-row INSERT (SQLite binds at most 32,766 values)
PG_ROWS = 5000      # rows of one rows_sql statement (PostgreSQL: a few arrays, no placeholder a value)
VERIFIED_ROWS = 500  # messages marked verified by one statement (SQLite)
# the head of each table's multi-row INSERT a pass writes (its rows' VALUES follow)
INSERTS = {
    "audit": "INSERT INTO audit (node, seq_local, at_us, actor, action, detail, prev_hash, hash, msg_seq) VALUES ",
    "heads": "INSERT OR IGNORE INTO heads (node, msg_seq, seq_local, hash, at_us, sig, valid, source) VALUES ",
    "coverage": "INSERT INTO coverage (node, camera, from_us, to_us, kind) VALUES ",
    "findings": "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
                " VALUES ",
    "days": "INSERT INTO destruction_days (node, camera, day, reason, verdict, segments, bytes, youngest_days) VALUES ",
    "destructions": store_schema.DESTRUCTIONS_INSERT,
    "retention_heard": "INSERT INTO retention_heard (node, destroyed_id, destroyed_us) VALUES ",
    "footage_heard": "INSERT OR IGNORE INTO footage_heard (node, first_id, last_id, heard_us) VALUES ",
    "footage_evidence": footage.EVIDENCE,
}
DAYS_UPSERT = (" ON CONFLICT (node, camera, day, reason, verdict) DO UPDATE SET"
               " segments = destruction_days.segments + excluded.segments,"
               " bytes = destruction_days.bytes + excluded.bytes,"
               " youngest_days = {min}(destruction_days.youngest_days, excluded.youngest_days)")
HEARD_UPSERT = (" ON CONFLICT (node) DO UPDATE SET destroyed_us = {max}(retention_heard.destroyed_us, excluded.destroyed_us),"
                " destroyed_id = coalesce({max}(retention_heard.destroyed_id, excluded.destroyed_id),"
                " retention_heard.destroyed_id, excluded.destroyed_id)")  # what an upsert a destruction left
# the larger and smaller of two: SQLite's two-argument max and min, PostgreSQL's greatest and least
# (declared side by side, held.py), the only words of these upserts the engines spell apart
UPSERTS = {"days": DAYS_UPSERT.format(min="min"), "retention_heard": HEARD_UPSERT.format(max="max"),
           "footage_evidence": footage.EVIDENCE_UPSERT}
UPSERTS_PG = {"days": DAYS_UPSERT.format(min="least"), "retention_heard": HEARD_UPSERT.format(max="greatest"),
              "footage_evidence": footage.EVIDENCE_UPSERT}
AUDIT_HASHES = "SELECT seq_local, hash FROM audit WHERE node = ? AND seq_local BETWEEN ? AND ?"
AUDIT_HASH = "SELECT hash FROM audit WHERE node = ? AND seq_local = ?"
BY_GRANT = "SELECT * FROM audit WHERE node = ? AND action IN ('request.approve', 'grant.use') AND ({grants})"
BY_GRANT_PG = "SELECT * FROM audit WHERE node = ? AND action IN ('request.approve', 'grant.use') AND ({grants_pg})"
BY_REQUEST = "SELECT * FROM audit WHERE node = ? AND action = 'request.file' AND ({requests})"
BY_REQUEST_PG = "SELECT * FROM audit WHERE node = ? AND action = 'request.file' AND ({requests_pg})"
CRITICAL_KNOWN = "SELECT key FROM findings WHERE key IN ({marks})"
NODE = "SELECT * FROM nodes WHERE node = ?"
NODES = "SELECT node, site, name FROM nodes ORDER BY node"
PAGE = "SELECT seq, kind, received_us, payload FROM messages WHERE node = ? AND verified = 0 ORDER BY seq LIMIT ?"
BIRTHS = "SELECT ts_us, received_us, payload, checked FROM births WHERE node = ? ORDER BY ts_us"
RULES = "SELECT ts_us, payload FROM births WHERE node = ? ORDER BY ts_us"
EVERY_BIRTH = "SELECT payload FROM births"
CONFIG_HASH = "UPDATE nodes SET config_hash = ? WHERE node = ?"
NODE_DONE = ("UPDATE nodes SET verified_seq = ?, public_key = ?, session = ?, head_seq = ?, head_hash = ?,"
             " head_at_us = ?, config_hash = ? WHERE node = ?")
VERIFIED_PG = "UPDATE messages SET verified = 1 WHERE node = ? AND seq = ANY(string_to_array(?, ',')::bigint[])"
VERIFIED = "UPDATE messages SET verified = 1 WHERE node = ? AND seq IN ({marks})"
CHECKED = "UPDATE births SET checked = 1 WHERE node = ? AND ts_us IN ({marks})"
FINDING = ("INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
HEAD = ("INSERT OR IGNORE INTO heads (node, msg_seq, seq_local, hash, at_us, sig, valid, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
ALARM = ("INSERT OR IGNORE INTO alarms (node, id, raised_us, kind, severity, camera, message, said)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
ALARM_CLEARED = "UPDATE alarms SET cleared_us = ? WHERE node = ? AND id = ? AND cleared_us IS NULL"
INSPECTION = ("INSERT INTO inspections (node, run, kind, due_us, ran_us, signed_us, countersigned_us, inspector,"
              " supervisor, cameras) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node, run) DO UPDATE SET"
              " signed_us = excluded.signed_us, countersigned_us = excluded.countersigned_us,"
              " inspector = excluded.inspector, supervisor = excluded.supervisor")
APPROVAL = ("SELECT * FROM audit WHERE node = ? AND action = 'request.approve'"
            " AND {grant} ORDER BY seq_local LIMIT 1")
FILING = "SELECT * FROM audit WHERE node = ? AND action = 'request.file' AND {request} ORDER BY seq_local LIMIT 1"
USES = "SELECT count(*) FROM audit WHERE node = ? AND action = 'grant.use' AND {grant} AND seq_local < ?"
RESEND = "SELECT asked_us, nonce, tries FROM resends WHERE node = ? AND first_seq = ?"
ASKED = ("INSERT INTO resends (node, first_seq, last_seq, asked_us, nonce, tries) VALUES (?, ?, ?, ?, ?, 1)"
         " ON CONFLICT (node, first_seq) DO UPDATE SET asked_us = excluded.asked_us,"
         " nonce = excluded.nonce, tries = resends.tries + 1")
REPLIES = "SELECT payload FROM messages WHERE node = ? AND kind = 'reply' ORDER BY seq DESC LIMIT 200"
VERIFIED_ONE = "SELECT count(*) FROM messages WHERE node = ? AND seq = ? AND verified = 1"
GAPS = "SELECT key, detail FROM findings WHERE node = ? AND kind = 'seq_gap'"
HELD_BETWEEN = "SELECT count(*) FROM messages WHERE node = ? AND seq BETWEEN ? AND ?"
GAP_NOW = "UPDATE findings SET kind = ?, severity = ?, message = ?, detail = ? WHERE key = ?"
FINDING_DETAIL = "SELECT detail FROM findings WHERE key = ?"
ALL_HASHES = "SELECT seq_local, hash FROM audit WHERE node = ?"
Statement = tuple[str, list[Any]]
# each declared beside SQLite's: the seqs as one text; a JSON field compared (held.py); greatest and least
POSTGRESQL_ONLY = ("VERIFIED_PG", "BY_GRANT_PG", "BY_REQUEST_PG", "UPSERTS_PG")
SQLITE_ONLY = ("BY_GRANT", "BY_REQUEST", "UPSERTS")


def _rows(db: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.execute(sql, list(params)).fetchall()]


def _count(db: Any, sql: str, params: Sequence[Any]) -> int:
    return int(db.execute(sql, list(params)).fetchone()[0])


# a pass's reads --------------------------------------------------------------------------------------
def node(db: Any, name: str) -> dict[str, Any] | None:
    """The node's row (None: no such node)."""
    return next(db.query(NODE, [name]), None)


def nodes(db: Any) -> list[dict[str, Any]]:
    """Every node's name, site and name, in order."""
    return list(db.query(NODES))


def page(db: Any, name: str, most: int) -> list[tuple[Any, ...]]:
    """(seq, kind, received_us, payload) of the node's first ``most`` messages not verified, by seq."""
    return _rows(db, PAGE, [name, most])


def births(db: Any, name: str) -> list[dict[str, Any]]:
    """The node's births (ts_us, received_us, payload, checked), by ts_us."""
    return list(db.query(BIRTHS, [name]))


def rules(db: Any, name: str) -> list[dict[str, Any]]:
    """The node's births (ts_us, payload), by ts_us."""
    return list(db.query(RULES, [name]))


def every_birth(db: Any) -> list[str]:
    """Every birth's payload, of every node."""
    return [r["payload"] for r in db.query(EVERY_BIRTH)]


def audit_hashes(db: Any, name: str, lo: int, hi: int) -> list[tuple[Any, ...]]:
    """(seq_local, hash) of the node's audit records at [lo, hi]."""
    return _rows(db, AUDIT_HASHES, [name, lo, hi])


def audit_hash(db: Any, name: str, seq_local: int) -> str | None:
    got = _rows(db, AUDIT_HASH, [name, seq_local])
    return got[0][0] if got else None


def every_hash(db: Any, name: str) -> dict[int, str]:
    """seq_local -> hash of every audit record of the node the office received."""
    return {r[0]: r[1] for r in _rows(db, ALL_HASHES, [name])}


def people(db: Any, name: str, field: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    """The node's approvals and grant uses whose detail's grant is one of ``values`` (``field``
    "grant"), or its filings whose request is (``field`` "request"): the store's JSON comparison."""
    pair = (BY_GRANT, BY_GRANT_PG) if field == "grant" else (BY_REQUEST, BY_REQUEST_PG)
    return list(db.query(fill(pick(db, *pair), len(values)), [name, *json_values(db, list(values))]))


def critical_known(db: Any, keys: Sequence[str]) -> list[str]:
    """Those of ``keys`` the store holds a finding of."""
    return [r[0] for r in _rows(db, fill(CRITICAL_KNOWN, len(keys)), list(keys))]


def _json(db: Any, sql: str) -> str:
    """A statement comparing a JSON field with a value, in ``db``'s engine's words (held.py)."""
    pg = dialect(db) == "postgresql"
    return sql.format(grant=GRANT_IS_PG if pg else GRANT_IS, request=REQUEST_IS_PG if pg else REQUEST_IS)


def approval(db: Any, name: str, grant: Any) -> dict[str, Any] | None:
    return next(db.query(_json(db, APPROVAL), [name, *json_values(db, [grant])]), None)


def filing(db: Any, name: str, request: Any) -> dict[str, Any] | None:
    return next(db.query(_json(db, FILING), [name, *json_values(db, [request])]), None)


def earlier_uses(db: Any, name: str, grant: Any, seq_local: Any) -> int:
    return _count(db, _json(db, USES), [name, *json_values(db, [grant]), seq_local])


def resend(db: Any, name: str, first: int) -> dict[str, Any] | None:
    """The office's last request of the node's messages from ``first`` (asked_us, nonce, tries)."""
    return next(db.query(RESEND, [name, first]), None)


def replies(db: Any, name: str) -> list[str]:
    """The payloads of the node's newest 200 replies, newest first."""
    return [r[0] for r in _rows(db, REPLIES, [name])]


def verified_before(db: Any, name: str, seq: int) -> bool:
    return _count(db, VERIFIED_ONE, [name, seq]) > 0


def gaps(db: Any, name: str) -> list[dict[str, Any]]:
    """The node's seq_gap findings (key, detail)."""
    return list(db.query(GAPS, [name]))


def held_between(db: Any, name: str, first: int, last: int) -> int:
    """How many of the node's messages [first, last] the store holds."""
    return _count(db, HELD_BETWEEN, [name, first, last])


# a pass's writes -----------------------------------------------------------------------------------
def config_hash(db: Any, name: str, value: str | None) -> None:
    db.execute(CONFIG_HASH, [value, name])


def node_done(name: str, cursor: int, key: Any, session: Any, head: dict[str, Any], config: Any) -> Statement:
    """The statement writing the node's row at the end of its pass, not run."""
    return NODE_DONE, [cursor, key, session, head.get("seq"), head.get("hash"), head.get("at_us"), config, name]


def verified(db: Any, name: str, done: Sequence[int]) -> list[Statement]:
    """The statements marking a pass's messages verified, not run: on PostgreSQL one, the seqs as one
    text (a statement of one text whatever the count, prepared once); else a few hundred a statement."""
    if hasattr(db, "write_all"):
        return [(VERIFIED_PG, [name, ",".join(map(str, done))])] if done else []
    return [(fill(VERIFIED, len(chunk)), [name, *chunk])
            for chunk in (done[i:i + VERIFIED_ROWS] for i in range(0, len(done), VERIFIED_ROWS))]


def checked(name: str, stamps: Sequence[int]) -> Statement:
    """The statement marking the node's births of ``stamps`` checked, not run."""
    return fill(CHECKED, len(stamps)), [name, *stamps]


def run(db: Any, statements: Sequence[Statement]) -> None:
    for sql, params in statements:
        db.execute(sql, params)


def finding(db: Any, row: Sequence[Any]) -> int:
    """A finding row kept unless one of its key is; 1 if it was new."""
    return int(db.execute(FINDING, list(row)).rowcount or 0)


def head(db: Any, row: Sequence[Any]) -> None:
    db.execute(HEAD, list(row))


def alarm(db: Any, row: Sequence[Any]) -> None:
    db.execute(ALARM, list(row))


def alarm_cleared(db: Any, name: str, alarm_id: Any, at: Any) -> None:
    db.execute(ALARM_CLEARED, [at, name, alarm_id])


def inspection(db: Any, row: Sequence[Any]) -> None:
    db.execute(INSPECTION, list(row))


def asked(db: Any, name: str, first: int, last: int, now: int, nonce: str) -> None:
    db.execute(ASKED, [name, first, last, now, nonce])


def finding_detail(db: Any, key: str) -> str | None:
    """A finding's stored detail (JSON), None: no such finding."""
    row = next(iter(db.query(FINDING_DETAIL, [key])), None)
    return None if row is None else row["detail"]


def finding_now(key: str, kind: str, severity: str, message: Any, detail: str) -> Statement:
    """The statement restating a finding kept before (a count it carries on), run with a pass's writes."""
    return GAP_NOW, [kind, severity, message, detail, key]


def gap_now(db: Any, key: str, kind: str, severity: str, message: Any, detail: str) -> None:
    db.execute(GAP_NOW, [kind, severity, message, detail, key])


def inserts(db: Any, table: str, rows: list[tuple[Any, ...]]) -> list[Statement]:
    """Rows of ``table`` in multi-row statements, not run: the store's rows_sql (PostgreSQL: one
    array a column), else VALUES lists."""
    many = getattr(db, "rows_sql", None)
    step = PG_ROWS if many is not None else ROWS
    tail = pick(db, UPSERTS.get(table, ""), UPSERTS_PG.get(table, ""))
    out = []
    for i in range(0, len(rows), step):
        chunk = rows[i:i + step]
        if many is not None:
            out.append(many(INSERTS[table], chunk, tail))
            continue
        one = "(" + ", ".join("?" * len(chunk[0])) + ")"
        out.append((INSERTS[table] + ", ".join([one] * len(chunk)) + tail, [v for r in chunk for v in r]))
    return out


def write(db: Any, parts: Sequence[Statement]) -> int:
    """The statements in order: on PostgreSQL in one (each table written once in it), else one by
    one; how many statements were sent."""
    together = getattr(db, "write_all", None)
    if together is not None and parts:
        together(parts)
        return 1
    run(db, parts)
    return len(parts)


def savepoint(db: Any, name: str) -> None:
    db.conn.execute(f"SAVEPOINT {name}")


def rollback_to(db: Any, name: str) -> None:
    db.conn.execute(f"ROLLBACK TO {name}")


def release(db: Any, name: str) -> None:
    db.conn.execute(f"RELEASE {name}")
