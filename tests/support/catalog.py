"""The tests' one door to the catalog's tables (design/0033: SQL lives in storage/ and here).

A test reads rows and says what it looks for in Python, where a reader sees it:

    rows(d, "segments", lambda r: r["camera"] == "a" and r["state"] == "writing")
    rows(d, "audit", order="seq")

`src` is a running daemon's tests.support.daemon.Daemon (read-only, [] before the catalog
exists), a sqlite_utils Database or a sqlite3 connection. Rows come in the table's own order
(rowid) unless `order` names a column.
The few tests that damage a table on purpose (a tampered audit chain) do it through the
named functions at the end.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from central.store.store_schema import STEPS
from storage.footage import segment_rows

Row = dict[str, Any]
TABLES = frozenset({
    "accounts", "alarms", "audit", "cameras", "camera_references", "destructions", "exports", "gaps", "garbage",
    "grants", "holds", "inspection_runs", "inspections", "login_failures", "maintenance", "motion_events", "node",
    "not_recorded", "requests",
    "retention_passes", "segments", "sessions",
    "segment_rows", "camera_keys",  # how `segments` is stored (storage/footage/segment_rows.py)
    "restamps",  # corrections after a host clock step (storage/footage/restamps.py)
    "clock_corrections", "retention_grace", "account_events",  # design/0096's checks
    "messages", "nonces",  # storage/outbox.py's file, and the central office's store
    "standins",  # a standby's spells (storage/footage/standins.py)
    "intakes",  # a portable device's files taken in (storage/footage/intakes.py)
})


def rows(src: Any, table: str, where: Callable[[Row], bool] | None = None, *, order: str | None = None,
         desc: bool = False) -> list[Row]:
    """Every row of `table` for which `where(row)` holds, by rowid or by the column `order`."""
    if table not in TABLES:
        raise ValueError(f"no table {table!r} in the catalog")
    if isinstance(src, sqlite3.Connection):
        cur = src.execute(f"SELECT * FROM {table}")
        names = [c[0] for c in cur.description]
        found = [dict(zip(names, r)) for r in cur]
    else:
        found = [dict(r) for r in src.query(f"SELECT * FROM {table}")]
    if where is not None:
        found = [r for r in found if where(r)]
    if order is not None:
        found.sort(key=lambda r: (r[order] is not None, r[order]), reverse=desc)
    return found


def pragma(conn: sqlite3.Connection, name: str) -> Any:
    """A database file's figure (page_count, freelist_count, page_size, ...)."""
    if name not in ("page_count", "freelist_count", "page_size"):
        raise ValueError(f"no pragma {name!r} here")
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def one(src: Any, table: str, where: Callable[[Row], bool] | None = None) -> Row | None:
    """The first such row (by rowid), or None."""
    found = rows(src, table, where)
    return found[0] if found else None


def node_value(src: Any, key: str) -> str | None:
    row = one(src, "node", lambda r: r["key"] == key)
    return None if row is None else row["value"]


def audit_rows(src: Any, action: str | None = None) -> list[Row]:
    """Audit records in seq order (detail as stored, JSON text), of one action if given."""
    return rows(src, "audit", None if action is None else (lambda r: r["action"] == action), order="seq")


def alarms(src: Any, where: Callable[[Row], bool] | None = None, *, active: bool | None = None) -> list[Row]:
    """Alarm rows by id; `active` True: not cleared, False: cleared."""
    def keep(r: Row) -> bool:
        if active is not None and (r["cleared_us"] is None) != active:
            return False
        return where is None or where(r)
    return rows(src, "alarms", keep, order="id")


def add_segments(db: Any, segments: Any) -> None:
    """Insert segment rows given with the `segments` view's columns (camera, end_us, path, sha256
    hex, state name...): the view is read-only; storage/footage/segment_rows.py stores them. In one
    transaction (a catalog opened for writing commits each statement, each with its fsync: a test's
    thousands of rows took seconds)."""
    conn = db.conn
    if conn.in_transaction:
        segment_rows.insert(db, segments)
        return
    conn.execute("BEGIN")
    try:
        segment_rows.insert(db, segments)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# damaging the audit chain on purpose (tests/test_audit.py, tests/test_central.py) ----------
def set_audit(db: Any, seq: int, **values: Any) -> None:
    """Overwrite columns of one audit record, as an attacker with the file would."""
    cols = ", ".join(f"{k} = ?" for k in values)
    db.execute(f"UPDATE audit SET {cols} WHERE seq = ?", [*values.values(), seq])


def delete_audit(db: Any, seq: int, *, and_after: bool = False) -> None:
    """Delete one record (or it and every later one)."""
    db.execute("DELETE FROM audit WHERE seq >= ?" if and_after else "DELETE FROM audit WHERE seq = ?", [seq])


def shift_audit(db: Any, after: int, by: int) -> None:
    """Renumber the records with seq > `after` by `by` (two steps: seq is unique)."""
    db.execute("UPDATE audit SET seq = -(seq + ?) WHERE seq > ?", [by, after])
    db.execute("UPDATE audit SET seq = -seq WHERE seq < 0")


def swap_audit(db: Any, a: int, b: int) -> None:
    """Swap two records' places in the chain."""
    db.execute("UPDATE audit SET seq = ? WHERE seq = ?", [-a, a])
    db.execute("UPDATE audit SET seq = ? WHERE seq = ?", [a, b])
    db.execute("UPDATE audit SET seq = ? WHERE seq = ?", [b, -a])


def insert_audit(db: Any, record: Row) -> None:
    db.execute("INSERT INTO audit (seq, at_us, actor, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [record[k] for k in ("seq", "at_us", "actor", "action", "detail", "prev_hash", "hash")])


def delete_messages(db: Any, seqs: list[int]) -> None:
    """Lose outbox messages (storage/outbox.py's file), as a broken disk would."""
    db.execute(f"DELETE FROM messages WHERE seq IN ({','.join('?' * len(seqs))})", seqs)


def set_node(db: Any, key: str, value: str | None) -> None:
    """Set (or with None, delete) a node value behind the daemon's back."""
    if value is None:
        db.execute("DELETE FROM node WHERE key = ?", [key])
    else:
        db.execute("INSERT INTO node (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   [key, value])


def central_put_retained(store, node: str, rows: list[tuple[str, str, str]]) -> None:
    """Write (topic, what, payload) into an edged-central store's retained table as they are,
    as a store from before the schema check could hold them."""
    store.db.conn.executemany("INSERT OR REPLACE INTO retained (topic, node, what, received_us, payload)"
                              " VALUES (?, ?, ?, 1, ?)", [(t, node, w, p) for t, w, p in rows])


def central_put_alarm(store, node: str, alarm_id, raised_us: int) -> None:
    store.db.conn.execute("INSERT INTO alarms (node, id, raised_us) VALUES (?, ?, ?)", [node, alarm_id, raised_us])


def central_put_birth(store, node: str, ts_us: int, payload: str) -> None:
    with store.writing() as conn:
        conn.execute("INSERT INTO births (node, ts_us, received_us, payload) VALUES (?, ?, ?, ?)",
                     [node, ts_us, ts_us, payload])


def central_put_coverage(store, node: str, camera: str, from_us: int, to_us: int, kind: str = "live") -> None:
    with store.writing() as conn:
        conn.execute("INSERT INTO coverage (node, camera, from_us, to_us, kind) VALUES (?, ?, ?, ?, ?)",
                     [node, camera, from_us, to_us, kind])


def central_clock_table(samples: list[tuple[int, int]]) -> Any:
    """An in-memory SQLite clock_samples table (schema 8) holding node 'n''s (sent_us, node_us),
    each heard a second after it was sent (tests/test_central_clock_prune.py)."""
    import sqlite3

    from central.store.store_schema import _SCHEMA_8
    db = sqlite3.connect(":memory:")
    for stmt in _SCHEMA_8:
        db.execute(stmt)
    db.executemany("INSERT INTO clock_samples (node, sent_us, node_us, received_us, mono_us, boot) VALUES"
                   " ('n', ?, ?, ?, NULL, 'b')", [(s, n, s + 1_000_000) for s, n in samples])
    return db


def central_clock_cut(db: Any, before_us: int | None) -> list[int]:
    """Delete node 'n''s samples sent before ``before_us`` (None: none); the sent_us left, in order."""
    if before_us is not None:
        db.execute("DELETE FROM clock_samples WHERE node = 'n' AND sent_us < ?", [before_us])
    return [r[0] for r in db.execute("SELECT sent_us FROM clock_samples ORDER BY sent_us").fetchall()]


def central_clock_count(store) -> tuple[int, int | None]:
    """(how many clock samples the store holds, the lowest reading of a node's clock among them)."""
    row = store.db.execute("SELECT count(*), min(node_us) FROM clock_samples").fetchone()
    return int(row[0]), row[1]


def central_coverage_starts(store) -> list[int]:
    """from_us of every row of an edged-central store's coverage table, in order."""
    return [r["from_us"] for r in store.db.query("SELECT from_us FROM coverage ORDER BY from_us")]


def central_day_rows(store) -> list[tuple]:
    """Every destruction_days row of an edged-central store, sorted (issue 53's two shapes compared)."""
    return sorted(tuple(r.values()) for r in store.db.query(
        "SELECT camera, day, reason, verdict, segments, bytes, youngest_days FROM destruction_days"))


def central_retention_heard(store) -> list[tuple]:
    """retention_heard's rows (the newest segment destroyed, the office's receipt of the newest)."""
    return [tuple(r) for r in store.db.execute("SELECT node, destroyed_id, destroyed_us FROM retention_heard"
                                               " ORDER BY node").fetchall()]


def central_unverified(store) -> int:
    return store.db.execute("SELECT count(*) FROM messages WHERE verified = 0").fetchone()[0]


def central_forge_payload(store, seq: int, payload: str) -> None:
    """A stored message's payload replaced (what ingest's schema check would have refused)."""
    store.db.execute("UPDATE messages SET payload = ? WHERE seq = ?", [payload, seq])


def central_verdicts(store) -> list[tuple[str, str]]:
    """(day, verdict) of every destruction_days row of an edged-central store."""
    return [(r["day"], r["verdict"]) for r in store.db.query("SELECT day, verdict FROM destruction_days ORDER BY day")]


# edged-central on PostgreSQL (tests/test_central_postgres.py) ---------------------------------------
CENTRAL_PG_DIALECT = [  # (a held statement, as central/store/pgdialect.py `translate` sends it to PostgreSQL): the
    # placeholders and SQLite's INSERT OR IGNORE only (issue 80: where the engines differ, both forms are declared)
    ("SELECT * FROM nodes WHERE node = ?", "SELECT * FROM nodes WHERE node = %s"),
    ("INSERT OR IGNORE INTO heads (a) VALUES (?)", "INSERT INTO heads (a) VALUES (%s) ON CONFLICT DO NOTHING"),
    ("SELECT max(version) FROM v", "SELECT max(version) FROM v"),
    ("max_seq = greatest(nodes.max_seq, excluded.max_seq)", "max_seq = greatest(nodes.max_seq, excluded.max_seq)"),
    ("AND json_extract(detail, '$.grant') = ?", "AND json_extract(detail, '$.grant') = %s"),  # no longer rewritten
    ("WHERE x LIKE '5%'", "WHERE x LIKE '5%%'"),
]
CENTRAL_PG_DDL = ("CREATE TABLE f (id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL) WITHOUT ROWID",
                  "CREATE TABLE f (id BIGSERIAL PRIMARY KEY, at_us BIGINT NOT NULL)")


# a finding's message rewritten in place: one part of a combined write (central/store/pgstore.py write_all)
CENTRAL_FINDING_MESSAGE_SQL = "UPDATE findings SET message = ? WHERE key = ?"


def central_pg_day_rows(pg) -> list[tuple]:
    """Every destruction_days row of a PostgreSQL store (a psycopg connection), by node and bytes."""
    return pg.execute("SELECT node, camera, day, reason, verdict, segments, bytes, youngest_days"
                      " FROM destruction_days ORDER BY node, bytes").fetchall()


def central_pg_leases(conn) -> list[tuple[str, int]]:
    """(application_name, advisory lock key as an unsigned 64-bit number) of every granted
    advisory lock of a PostgreSQL server (a psycopg connection)."""
    return conn.execute("SELECT a.application_name, (l.classid::bigint << 32) | l.objid::bigint FROM pg_locks l"
                        " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
                        " AND l.granted AND l.objsubid = 1").fetchall()


def central_pg_hold_node(conn, node: str) -> None:
    """Hold a node's row in an open transaction of ``conn`` (a psycopg connection), as a
    verifier's pass holds the rows of the nodes it verified till its commit."""
    conn.execute("SELECT * FROM nodes WHERE node = %s FOR UPDATE", [node])


def central_pg_hold_retained(conn, topic: str) -> None:
    """Hold a retained state's row in an open transaction of ``conn`` (a psycopg connection), as
    another instance's second of retained states holds it till its commit."""
    conn.execute("SELECT 1 FROM retained WHERE topic = %s FOR UPDATE", [topic])


def central_pg_hold_advisory(conn, key: int) -> None:
    """Hold an advisory lock in an open transaction of ``conn`` (a psycopg connection)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def central_pg_advisory_waiters(url: str) -> int:
    """The sessions waiting for an advisory lock."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        return int(c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0])


def central_pg_backend_gone(url: str, pid: int) -> bool:
    """The server has let session `pid` go (a client's close returns before its backend exits)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0


def central_messages(store) -> int:
    return store.db.execute("SELECT count(*) FROM messages").fetchone()[0]


def central_messages_by_node(store) -> list[dict]:
    return list(store.db.query("SELECT node, count(*) AS n, sum(verified) AS verified FROM messages GROUP BY node"))


def outbox_as_schema_1(conn) -> None:
    """A box's outbox.db as the first schema left it (before the history of issue 43)."""
    conn.execute("DROP TABLE sent")
    conn.execute("PRAGMA user_version = 1")


def central_seqs(db, node: str) -> list[int]:
    """The seqs of a node's durable messages in a central store (a Store's db, or a sqlite3 connection)."""
    return [r[0] for r in db.execute("SELECT seq FROM messages WHERE node = ? ORDER BY seq", [node]).fetchall()]


def central_clock_answers(db, node: str) -> int:
    """How many of the office's time questions a node answered (the office's clock samples of it)."""
    return db.execute("SELECT count(*) FROM clock_samples WHERE node = ?", [node]).fetchone()[0]


def central_heads(store, node: str) -> list[tuple[int, int]]:
    """(seq_local, valid) of every head the office kept of a node, in seq order."""
    return [(r["seq_local"], r["valid"]) for r in store.db.query(
        "SELECT seq_local, valid FROM heads WHERE node = ? ORDER BY seq_local, msg_seq", [node])]


def central_audit_seqs(store, node: str) -> list[int]:
    """The seq_local of every audit record on the node's chain at the office."""
    return [r["seq_local"] for r in store.db.query("SELECT seq_local FROM audit WHERE node = ? ORDER BY seq_local",
                                                  [node])]


def central_audit_top(db, node: str) -> int:
    """The highest audit seq_local of a node a central store holds (0: none)."""
    return db.execute("SELECT coalesce(max(seq_local), 0) FROM audit WHERE node = ?", [node]).fetchone()[0]


def central_resends(db, node: str | None = None) -> tuple[int, int | None]:
    """(the gaps the office asked a node for again, the most asks of one), issue 43."""
    if node is None:
        return db.execute("SELECT count(*), max(tries) FROM resends").fetchone()
    return db.execute("SELECT count(*), max(tries) FROM resends WHERE node = ?", [node]).fetchone()


def central_replies(db, node: str) -> list[dict]:
    """The command replies of a node a central store holds, parsed."""
    return [json.loads(r[0]) for r in db.execute(
        "SELECT payload FROM messages WHERE node = ? AND kind = 'reply'", [node]).fetchall()]


def audit_top(d) -> int:
    """The highest seq of a daemon's audit table."""
    return d.query("SELECT max(seq) AS seq FROM audit")[0]["seq"]


def central_add_audit(conn, node: str, seq_local: int, at_us: int, actor: str, action: str, detail: str,
                      msg_seq: int) -> None:
    """One audit record straight into a central store's audit table (a judging test's fixture)."""
    conn.execute("INSERT INTO audit (node, seq_local, at_us, actor, action, detail, prev_hash, hash, msg_seq)"
                 " VALUES (?, ?, ?, ?, ?, ?, 'p', 'h', ?)", [node, seq_local, at_us, actor, action, detail, msg_seq])


def central_add_alarm(conn, node: str, alarm_id: str, raised_us: int, cleared_us: int | None, camera: str) -> None:
    """One camera's alarm straight into a central store's alarms table (a month's fixture)."""
    conn.execute("INSERT INTO alarms (node, id, raised_us, kind, severity, camera, message, cleared_us)"
                 " VALUES (?, ?, ?, 'camera_offline', 'critical', ?, 'camera unreachable', ?)",
                 [node, alarm_id, raised_us, camera, cleared_us])


def central_pg_plan_naming(store, node: str, action: str, texts: list[str]) -> str:
    """PostgreSQL's plan of central/store/pgstore.py's audit_naming (a batch of grants, by their text)."""
    return "\n".join(r[0] for r in store.db.pg.execute(
        "EXPLAIN SELECT * FROM audit WHERE node = %s AND action = %s AND (detail::jsonb ->> 'grant') = ANY(%s)"
        " ORDER BY seq_local", [node, action, texts]))


def central_pg_stored_twice(store, node: str, seq: int, month: int) -> None:
    """A second copy of a stored message, unverified, in another receipt month (``month``: YYYYMM,
    its partition made already): what two instances each side of a month's end could both keep."""
    store.db.execute("INSERT INTO messages (node, seq, kind, ts_us, received_us, payload, month) SELECT node, seq,"
                     " kind, ts_us, received_us, payload, ? FROM messages WHERE node = ? AND seq = ? AND month <> ?",
                     [month, node, seq, month])


def central_pg_partitions(store, table: str = "messages") -> dict[str, int]:
    """{partition of messages (or audit): its rows} of a PostgreSQL central store."""
    parts = [r["name"] for r in store.db.query(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ?", [table])]
    counts = {p: store.db.execute(f"SELECT count(*) FROM {p}").fetchone()[0] for p in parts}
    return {p: n for p, n in counts.items() if n or not p.endswith("_default")}  # the default one, if it holds rows


# The schema itself (design/0096: every time column on storage/time/stamped.py's lists; ids never reused).
def table_columns(db: Any, table: str) -> list[Row]:
    """name, type, notnull, pk of each column of `table`."""
    return [dict(r) for r in db.query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", [table])]


def schema_sql(db: Any, name: str) -> str | None:
    row = next(db.query("SELECT sql FROM sqlite_master WHERE name = ?", [name]), None)
    return None if row is None else row["sql"]


def index_names(db: Any, table: str) -> set[str]:
    return {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                        [table])}


def insert_row(db: Any, table: str, values: Row) -> None:
    """One row as given (a test's made-up row in any table)."""
    if table not in TABLES | {"node"}:
        raise ValueError(f"no table {table!r} in the catalog")
    db.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
               list(values.values()))


def delete_all(db: Any, table: str) -> None:
    """Every row of `table` gone, as retention takes a motion event with its footage."""
    if table not in TABLES:
        raise ValueError(f"no table {table!r} in the catalog")
    db.execute(f"DELETE FROM {table}")


def integrity(db: Any) -> str:
    return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def central_destruction_days(store) -> dict[str, int]:
    """verdict -> segments over every destruction_days row of an edged-central store."""
    out: dict[str, int] = {}
    for r in store.db.query("SELECT verdict, segments FROM destruction_days"):
        out[r["verdict"]] = out.get(r["verdict"], 0) + r["segments"]
    return out


def central_clock_samples(store, node: str, samples: list[tuple[int, int, int, str]]) -> None:
    """Clock samples (sent_us, node_us, received_us, boot) of a node, as central/verifier/clock_samples.py
    keeps them from its answers to the office's time requests (design/0310)."""
    with store.writing(durable=False):
        for sent, node_us, received, boot in samples:
            store.db.execute("INSERT INTO clock_samples (node, sent_us, node_us, received_us, mono_us, boot) VALUES"
                             " (?, ?, ?, ?, NULL, ?)", [node, sent, node_us, received, boot])


def central_clock_rows(store, table: str) -> list[dict[str, Any]]:
    """Every row of the office's clock_asks or clock_samples (design/0310)."""
    assert table in ("clock_asks", "clock_samples"), table
    return list(store.db.query(f"SELECT * FROM {table} ORDER BY node, sent_us"))


def central_record_of(store, node: str) -> dict[str, Any]:
    """What the office took as a node's record: its alarms' ids, its destructions and footage ranges counted."""
    return {"alarms": [r["id"] for r in store.db.query("SELECT id FROM alarms WHERE node = ? ORDER BY id", [node])],
            "destructions": store.db.execute("SELECT count(*) FROM destructions WHERE node = ?", [node]).fetchone()[0],
            "footage_ranges": store.db.execute("SELECT count(*) FROM footage_heard WHERE node = ?", [node]).fetchone()[0]}


_MADE = re.compile(r"^\s*CREATE TABLE IF NOT EXISTS (\w+)", re.I)
_WIDENED = re.compile(r"^\s*ALTER TABLE (\w+) ADD COLUMN (\w+)", re.I)
_INDEXED = re.compile(r"^\s*CREATE INDEX IF NOT EXISTS (\w+) ON (\w+)", re.I)


def central_undo_steps(after: int) -> list[str]:
    """What takes a store made at SCHEMA_VERSION back to schema ``after``, read off the schema's steps
    (central/store/store_schema.py STEPS): each table a later step made dropped, each column a later
    step added to an older table dropped, each index a later step made on an older table dropped (design/0420);
    a step's index goes with its table, its rows with their table or column (design/0361: a new step needs
    no line here)."""
    later = [sql for v in sorted(STEPS) if v > after for sql in STEPS[v]]
    tables = [m.group(1) for sql in later if (m := _MADE.match(sql))]
    columns = [(m.group(1), m.group(2)) for sql in later if (m := _WIDENED.match(sql)) and m.group(1) not in tables]
    indexes = [m.group(1) for sql in later if (m := _INDEXED.match(sql)) and m.group(2) not in tables]
    return [f"DROP INDEX IF EXISTS {i}" for i in reversed(indexes)] + \
        [f"ALTER TABLE {t} DROP COLUMN {c}" for t, c in reversed(columns)] + [f"DROP TABLE {t}" for t in reversed(tables)]


# a scratch step (a new table, its index, a column of an older table and of its own) and what undoes it
CENTRAL_SCRATCH_STEP = ["CREATE TABLE IF NOT EXISTS scratch (node TEXT NOT NULL)",
                        "CREATE INDEX IF NOT EXISTS scratch_node ON scratch(node)",
                        "ALTER TABLE intakes ADD COLUMN scratched_us INTEGER", "ALTER TABLE scratch ADD COLUMN seen INTEGER"]
CENTRAL_SCRATCH_UNDONE = ["ALTER TABLE intakes DROP COLUMN scratched_us", "DROP TABLE scratch"]
CENTRAL_SCRATCH_DROPS = {"DROP TABLE intakes", "DROP TABLE scratch"}  # undone from schema 9


def central_as_schema(store, version: int) -> None:
    """An edged-central store, SQLite or PostgreSQL, as schema ``version`` left it (central_undo_steps)."""
    pg = getattr(store, "pg", None)
    with store.writing():
        for sql in central_undo_steps(version):
            (pg.execute if pg is not None else store.db.execute)(sql)
        store.set_schema_version(version)


def central_add_destruction(conn, node: str, seq: int, destroyed_us: int, verdict: str) -> None:
    """One destruction straight into a central store's destructions table (a re-judging's fixture)."""
    conn.execute("INSERT INTO destructions (node, seq, n, site, camera, destroyed_us, reason, verdict)"
                 " VALUES (?, ?, 0, 's', 'cam', ?, 'max_retention', ?)", [node, seq, destroyed_us, verdict])


def central_plan(store, sql: str, params: list[Any]) -> str:
    """The plan either engine makes for ``sql`` (as the store sends it) after ANALYZE of its tables."""
    pg = getattr(store, "pg", None)
    if pg is not None:
        from central.store.pgdialect import translate

        pg.execute("ANALYZE destructions")
        return "\n".join(r[0] for r in pg.execute("EXPLAIN " + translate(sql), params))
    store.db.execute("ANALYZE")
    return "\n".join(str(r[-1]) for r in store.db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def central_as_schema_2(store) -> None:
    """An edged-central SQLite store as schema 2 left it (every later step's tables and columns
    dropped: central_undo_steps)."""
    for sql in central_undo_steps(2):
        store.db.execute(sql)
    store.db.execute("PRAGMA user_version=2")


def central_schema(store) -> tuple[int, int]:
    """(the SQLite store's schema version, rows in footage_heard)."""
    return (store.db.execute("PRAGMA user_version").fetchone()[0],
            store.db.execute("SELECT count(*) FROM footage_heard").fetchone()[0])


def central_pg_tables(store, prefix: str) -> list[str]:
    """The tables of a PostgreSQL central store whose names start with ``prefix``."""
    return [r["relname"] for r in store.db.query("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p')"
                                                 " AND relname LIKE ?", [prefix + "%"])]


def central_schema_version(path) -> int:
    """The schema version of an edged-central SQLite store file, read without opening it as a Store."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def central_pg_run(url: str, statements: list[str]) -> None:
    """Run ``statements`` on the PostgreSQL database at ``url`` (an administrator's, e.g. a role's GRANTs)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        for sql in statements:
            c.execute(sql)


def central_pg_writes_refused(url: str) -> dict[str, str]:
    """{write: the error PostgreSQL gave} for writes a read-only role must be refused (each its own
    transaction, the session not read-only: the role's grants alone refuse them)."""
    import psycopg

    writes = {"insert": "INSERT INTO findings (key, node, site, kind, severity, found_us, message, detail)"
                        " VALUES ('k', 's/n', 's', 'x', 'info', 1, 'm', '{}')",
              "update": "UPDATE nodes SET status = 'gone'", "delete": "DELETE FROM messages",
              "drop": "DROP TABLE archives", "create": "CREATE TABLE evil (x int)"}
    out = {}
    with psycopg.connect(url, autocommit=True) as c:
        for name, sql in writes.items():
            try:
                c.execute(sql)
                out[name] = "ALLOWED"
            except psycopg.Error as exc:
                out[name] = type(exc).__name__
    return out


def central_pg_switch_wal(url: str) -> str:
    """Close the server's current WAL segment (so an archive receives it whole); its file name."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        return c.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]


def central_pg_in_recovery(url: str) -> bool | None:
    """Whether the server at ``url`` is still replaying WAL (None: it takes no connection yet)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:
            return c.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    except psycopg.OperationalError:
        return None


def central_pg_as_schema_4(url: str) -> None:
    """A PostgreSQL central store as schema 4 left it (every later step's tables and columns dropped:
    central_undo_steps)."""
    central_pg_run(url, [*central_undo_steps(4), "UPDATE schema_version SET version = 4"])


def central_count(store, table: str) -> int:
    """The rows of a central store's table."""
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def central_destructions(store) -> list[dict[str, Any]]:
    """The central store's destructions one by one (design/0141), in (node, seq, n) order."""
    return list(store.db.query("SELECT * FROM destructions ORDER BY node, seq, n"))


def central_pg_add_node(url: str, node: str) -> None:
    """A node's row, as its first message makes it ("site/name")."""
    site, name = node.split("/", 1)
    central_pg_run(url, [f"INSERT INTO nodes (node, site, name, first_us, last_us) VALUES ('{node}', '{site}',"
                         f" '{name}', 1, 1)"])


def central_pg_as_schema_5(url: str, rows: list[tuple]) -> None:
    """A PostgreSQL central store as schema 5 left it: messages partitioned by the month of their seq
    (a partition for each seq month of ``rows``, and the default one), and none of the later steps'
    tables and columns (central_undo_steps).
    ``rows``: (node, seq, kind, ts_us, received_us, payload, verified)."""
    stmts = [*central_undo_steps(5), "DROP TABLE messages",
             "CREATE TABLE messages (node TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, ts_us BIGINT,"
             " received_us BIGINT NOT NULL, payload TEXT NOT NULL, verified BIGINT NOT NULL DEFAULT 0,"
             " PRIMARY KEY (node, seq)) PARTITION BY RANGE (seq)",
             "CREATE INDEX messages_todo ON messages(node, seq) WHERE verified = 0",
             "CREATE TABLE messages_default PARTITION OF messages DEFAULT"]
    for y, m in sorted({(d.year, d.month) for d in (datetime.fromtimestamp(r[1] / 1e6, timezone.utc) for r in rows)}):
        lo = int(datetime(y, m, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
        hi = int(datetime(y + m // 12, m % 12 + 1, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
        stmts.append(f"CREATE TABLE messages_{y:04d}_{m:02d} PARTITION OF messages FOR VALUES FROM ({lo}) TO ({hi})")
    stmts.append("UPDATE schema_version SET version = 5")
    central_pg_run(url, stmts)
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany("INSERT INTO messages (node, seq, kind, ts_us, received_us, payload, verified)"
                                  " VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


def central_pg_pretend_instance(conn, instance: str) -> None:
    """A live instance's heartbeat row, on ``conn``'s session (a psycopg connection kept open)."""
    now = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    conn.execute(f"INSERT INTO instances (id, host, pid, backend, started_us, heartbeat_us, figures) VALUES"
                 f" (%s, 'h', pg_backend_pid(), pg_backend_pid(), {now}, {now}, '{{}}')", [instance])


def central_pg_drained(conn) -> tuple[int, dict[str, str]]:
    """(resends asked, {dead instance id: the instance that drained its broker session}) on a
    PostgreSQL store (design/0210)."""
    asked = int(conn.execute("SELECT count(*) FROM resends").fetchone()[0])
    by = {r[0]: r[1] for r in conn.execute("SELECT id, figures->>'session_drained_by' FROM instances"
                                           " WHERE figures ? 'session_drained_by'").fetchall()}
    return asked, by


# every statement the office's store holds, compiled on both engines (tests/test_central_statements.py, design/0351)
CENTRAL_ARCHIVING_TABLE = "CREATE TABLE archiving_test (LIKE messages INCLUDING ALL)"  # a detached month's, for DROP
CENTRAL_REFUSED_BY_SQLITE = "SELECT greatest(seq, ?) FROM messages"  # PostgreSQL's word, no function of SQLite's
CENTRAL_REFUSED_BY_POSTGRESQL = "SELECT nope FROM messages WHERE node = ?"  # a column no table has
