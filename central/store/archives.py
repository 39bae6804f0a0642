"""A month of the store archived (issue 43 item 4, design/0120, 0140) and the SQLite store backed
up (design/0121), in the store: the statements `edged-central archive`, `restore` and `backup`
(central/archive/) read, anchor and drop with, each a named function (``store``: the Store;
``pg``: a PgStore's psycopg connection, None on SQLite). Moved out of central/archive/ (issue 80),
whose files, hashes and manifests stay there. Blocking (a command)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

# what the verifier drew from the month's messages, archived with them (design/0140): each table's
# rows brought by a message of the month ({T} is the table), and which of them stay in the store
# because a later month's checks read them (the accesses and the approvals they are judged by, and
# each node's newest chain head); the rest of the derived tables (camera-day destructions, alarms,
# inspections, findings) are the month's summary and stay
DERIVED: dict[str, tuple[str, str]] = {
    "audit": ("m.node = {T}.node AND m.seq = {T}.msg_seq",
              "{T}.action NOT IN ('request.file', 'request.approve', 'grant.use', 'export.done', 'playback.start')"),
    "heads": ("m.node = {T}.node AND m.seq = {T}.msg_seq",
              "{T}.msg_seq < (SELECT max(h.msg_seq) FROM heads h WHERE h.node = {T}.node)"),
    "destructions": ("m.node = {T}.node AND m.seq = {T}.seq", "1 = 1"),
}
TABLES = (*DERIVED, "rejected")  # archived with the month, in this order (before the messages they are found by)
ANCHORED = "SELECT * FROM archives WHERE month = ?"
EVERY = "SELECT * FROM archives ORDER BY month"
NOT_RESTORED = "SELECT * FROM archives WHERE restored_us IS NULL ORDER BY month"
HELD = "SELECT count(*) FROM messages WHERE received_us >= ? AND received_us < ?"
UNVERIFIED = "SELECT count(*) FROM messages WHERE verified = 0 AND received_us >= ? AND received_us < ?"
ROWS = "SELECT {cols} FROM messages WHERE received_us >= ? AND received_us < ? ORDER BY node, seq"
ROWS_OF = "SELECT {cols} FROM {source} ORDER BY node, seq"
EXISTS = "SELECT to_regclass(%s)"
DETACH = "ALTER TABLE messages DETACH PARTITION {part}"
RENAME = "ALTER TABLE {part} RENAME TO {held}"
UNANCHOR = "DELETE FROM archives WHERE month = ?"
ANCHOR = ("INSERT INTO archives (month, rows, bytes, sha256, file, manifest, archived_us, restored_us)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, NULL)")
DROP_ROWS = "DELETE FROM messages WHERE received_us >= ? AND received_us < ?"
DROP_TABLE = "DROP TABLE {source}"
RESTORED = "UPDATE archives SET restored_us = ? WHERE month = ?"
MESSAGES = "INSERT OR IGNORE INTO messages ({cols}) VALUES ({marks})"
DERIVED_ROW = "INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})"
COUNT = "SELECT count(*) FROM messages"
# PostgreSQL's own (a partition detached, its table read and dropped), declared beside the rest
POSTGRESQL_ONLY = ("ROWS_OF", "EXISTS", "DETACH", "RENAME", "DROP_TABLE")


def derived_where(table: str, source: str) -> str:
    """The condition (two parameters: the month's receipt range) of ``table``'s rows archived with
    the month whose messages are in ``source``; ``rejected`` (turned-away messages) goes by its
    own receipt."""
    if table == "rejected":
        return "rejected.received_us >= ? AND rejected.received_us < ?"
    join, keep = DERIVED[table]
    return (f"{keep} AND EXISTS (SELECT 1 FROM {source} m WHERE {join} AND m.received_us >= ?"
            " AND m.received_us < ?)").replace("{T}", table)


def _one(store: Any, sql: str, params: list[Any]) -> Any:
    row = store.db.execute(sql, params).fetchone()
    return None if row is None else row[0]


def anchored(store: Any, month: str) -> dict[str, Any] | None:
    """The month's anchor (its file, SHA-256, manifest; restored_us) or None."""
    return next(store.db.query(ANCHORED, [month]), None)


def every(store: Any) -> list[dict[str, Any]]:
    """Every month archived out of the store, in order."""
    return list(store.db.query(EVERY))


def not_restored(store: Any) -> list[dict[str, Any]]:
    return list(store.db.query(NOT_RESTORED))


def held(store: Any, start: int, end: int) -> int:
    """How many messages received at [start, end) the store holds."""
    return int(_one(store, HELD, [start, end]) or 0)


def unverified(store: Any, start: int, end: int) -> int:
    return int(_one(store, UNVERIFIED, [start, end]) or 0)


def exists(pg: Any, table: str) -> bool:
    """Whether the PostgreSQL store has ``table``."""
    return pg.execute(EXISTS, [table]).fetchone()[0] is not None


def detach(pg: Any, part: str, held_as: str) -> None:
    """The month's partition detached from the messages and renamed ``held_as``, in one transaction."""
    with pg.transaction():
        pg.execute(DETACH.format(part=part))
        pg.execute(RENAME.format(part=part, held=held_as))


def rows(store: Any, pg: Any, source: str, cols: Sequence[str], start: int, end: int,
         batch: int) -> Iterator[tuple[Any, ...]]:
    """The month's messages (``cols``), by (node, seq): on SQLite by receipt, on PostgreSQL from
    the detached ``source`` through a server-side cursor (``batch`` rows a round trip)."""
    if pg is None:
        yield from store.db.conn.execute(ROWS.format(cols=", ".join(cols)), [start, end])
        return
    with pg.transaction(), pg.cursor(name="archive") as cur:  # server side: a month never in memory
        cur.itersize = batch
        cur.execute(ROWS_OF.format(cols=", ".join(cols), source=source))
        yield from cur


def derived_rows(store: Any, table: str, source: str, start: int, end: int) -> Iterator[dict[str, Any]]:
    """``table``'s rows archived with the month, as they are read."""
    return store.stream(f"SELECT * FROM {table} WHERE {derived_where(table, source)}", [start, end])  # type: ignore[no-any-return]


def anchor_and_drop(conn: Any, pg: Any, month: str, anchor: Sequence[Any], source: str, start: int, end: int) -> None:
    """In the caller's transaction: the month anchored (``anchor``: rows, bytes, sha256, file,
    manifest, archived_us), its derived rows and turned-away messages dropped, then its messages."""
    conn.execute(UNANCHOR, [month])
    conn.execute(ANCHOR, [month, *anchor])
    for table in TABLES:  # before the messages they are found by
        conn.execute(f"DELETE FROM {table} WHERE {derived_where(table, source)}", [start, end])
    if pg is None:
        conn.execute(DROP_ROWS, [start, end])
    else:
        pg.execute(DROP_TABLE.format(source=source))


def restored(conn: Any, month: str, now_us: int) -> None:
    conn.execute(RESTORED, [now_us, month])


def put_messages(conn: Any, cols: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Messages back (a row stored already is left as it is)."""
    conn.executemany(MESSAGES.format(cols=", ".join(cols), marks=", ".join("?" * len(cols))), rows)


def put_derived(conn: Any, table: str, row: dict[str, Any]) -> None:
    """A derived row back (``table`` one of TABLES, its columns named by identifiers only)."""
    if table not in TABLES:
        raise ValueError(f"not a table archived with a month: {table!r}")
    cols = [c for c in row if c.isidentifier()]
    conn.execute(DERIVED_ROW.format(table=table, cols=", ".join(cols), marks=", ".join("?" * len(cols))),
                 [row[c] for c in cols])


def check_copy(dst: sqlite3.Connection) -> tuple[str, int, int]:
    """A backup's copy made one file and checked: (integrity_check's word, its schema version, its messages)."""
    dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one file, no -wal beside it
    ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
    version = dst.execute("PRAGMA user_version").fetchone()[0]
    return ok, version, dst.execute(COUNT).fetchone()[0]
