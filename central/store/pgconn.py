"""What central/store/store.py's code uses of a sqlite3 connection and of sqlite-utils' Database, on a
psycopg connection (`PgConn`): each statement translated (central/store/pgdialect.py), many rows sent as
one array a column, a month's partition of the messages made the first time a row needs it.
Split from central/store/pgstore.py (issue 57, design/0283), whose PgStore holds one of these as `db`.
Blocking: call from a thread, never from the event loop.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row

from central.store.pgdialect import month_number, partition_of, translate

_PARTITION_LOCK = 0x65646767  # one creator of a partition at a time
_INSERT_ROWS = re.compile(r"\s*INSERT (OR IGNORE )?INTO (\w+) \(([^)]*)\) VALUES\s*$")
_PLACEHOLDER = re.compile(r"%(%|s)")  # translate's placeholders and escaped percents (write_all)
_INSERT_MESSAGES = re.compile(r"\s*INSERT OR IGNORE INTO messages \(([^)]*)\)")
_SEP, _NULL = "\x1e", "\x1f"  # insert_rows: between a column's values, and a null


def _text(v: Any) -> str | None:
    """A value as the text PostgreSQL reads back into its column's type (insert_rows)."""
    if v is None or isinstance(v, str):
        return v
    return str(int(v)) if isinstance(v, bool) else repr(v) if isinstance(v, float) else str(v)


class _Cursor:
    def __init__(self, cur: psycopg.Cursor):
        self._cur = cur

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class PgConn:
    """What the store's code uses of a sqlite3 connection and of sqlite-utils' Database."""

    dialect = "postgresql"  # central/store/held.py picks a statement declared for each engine by it

    def __init__(self, pg: psycopg.Connection):
        self.pg = pg
        self.total_changes = 0
        self.months: set[str] = set()  # the partitions of messages known to exist
        self.types: dict[str, dict[str, str]] = {}  # a table's columns' types (insert_rows)
        self.conn = self   # sqlite-utils' Database.conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        cur = self.pg.cursor()
        cur.execute(translate(sql), list(params))
        self.total_changes += max(cur.rowcount, 0)
        return _Cursor(cur)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        m = _INSERT_MESSAGES.match(sql)
        if m:  # each row in its receipt's month (the row-by-row ingest, a restore): named, not the server's
            cols = [c.strip() for c in m.group(1).split(",")]
            at = cols.index("received_us")
            rows = [(*r, month_number(r[at])) for r in rows]
            sql = sql.replace(m.group(1), m.group(1) + ", month", 1).replace("?)", "?, ?)", 1)
            self._partitions({r[-1] for r in rows})
        with self.pg.cursor() as cur:
            cur.executemany(translate(sql), rows)
            self.total_changes += max(cur.rowcount, 0)

    def insert_rows(self, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        """``head`` ("INSERT [OR IGNORE] INTO t (cols) VALUES ") of every row at once: one array a
        column through unnest, a statement of a few hundred bytes however many rows (a multi-row
        VALUES of thousands of placeholders cost psycopg ~15 ms to parse each time, issue 53)."""
        self.execute(*self.rows_sql(head, rows, tail))

    def write_all(self, parts: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Several INSERT and UPDATE statements (SQLite's dialect, each with its parameters) in one
        statement and one round trip: each a data-modifying WITH of its own (design/0270). Each
        must touch rows no other one touches (PostgreSQL runs them on one snapshot, in no set
        order): a pass's tables are each written once. The placeholders are numbered here
        ($1 ...), so psycopg does not split a long statement of many parameters each time."""
        if len(parts) == 1:
            self.execute(*parts[0])
            return
        numbers = itertools.count(1)
        sql, params = [], []
        for k, (one, values) in enumerate(parts):
            text = _PLACEHOLDER.sub(lambda m: "%" if m.group(1) == "%" else f"${next(numbers)}", translate(one))
            sql.append(f"w{k} AS ({text})")
            params += list(values)
        with psycopg.RawCursor(self.pg) as cur:
            cur.execute("WITH " + ", ".join(sql) + " SELECT 1", params)

    def rows_sql(self, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> tuple[str, list[Any]]:
        """insert_rows' statement (SQLite's dialect) and its parameters, not run (write_all)."""
        m = _INSERT_ROWS.match(head)
        if m is None:
            raise ValueError(f"not a multi-row insert: {head[:80]}")
        table, cols = m.group(2), [c.strip() for c in m.group(3).split(",")]
        types = self._types(table)
        arrays: list[str] = []
        params: list[Any] = []
        for k, c in enumerate(cols):
            col = [r[k] for r in rows]
            kinds = set(map(type, col))
            # a column of one type (nearly every one) converted at once: a call a value was ~8 % of a pass
            texts = col if kinds == {str} else list(map(str, col)) if kinds == {int} else [_text(v) for v in col]
            if type(None) in kinds:
                joined = _SEP.join(_NULL if t is None else t for t in texts)
                nulls = sum(t is None for t in texts)
            else:  # no null: no test a value (two generators a value were ~10 % of a day's page, design/0270)
                joined, nulls = _SEP.join(cast("list[str]", texts)), 0
            if joined.count(_SEP) == len(texts) - 1 and joined.count(_NULL) == nulls and joined != "":
                params.append(joined)  # a column as one text, split by the server (no array to dump)
                arrays.append(f"string_to_array(?, E'\\x1e', E'\\x1f')::{types[c]}[]")
            else:  # a value holding a separator, or one empty text alone: a text array
                params.append(texts)
                arrays.append(f"?::text[]::{types[c]}[]")
        return (f"INSERT {m.group(1) or ''}INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({', '.join(arrays)}){tail}",
                params)

    def _types(self, table: str) -> dict[str, str]:
        got = self.types.get(table)
        if got is None:
            got = self.types[table] = dict(self.pg.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = %s::regclass"
                " AND attnum > 0 AND NOT attisdropped", [table]).fetchall())
        return got

    def _exists(self, name: str) -> bool:
        return bool((self.pg.execute("SELECT to_regclass(%s)", [name]).fetchone() or [None])[0])

    def _partitions(self, months: Iterable[int]) -> None:
        """Each receipt month of messages its own partition, made when its first row comes (under a
        lock of its own): a month is detached and archived whole once it is over (design/0140).
        The receipt is the office's clock, so a node's counter makes no partition of its own."""
        for month in months:
            name = partition_of(month)
            if name in self.months:
                continue
            if not self._exists(name):
                self.pg.execute("SELECT pg_advisory_xact_lock(%s)", [_PARTITION_LOCK])  # one creator at a time
                self.pg.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF messages"
                                f" FOR VALUES FROM ({month}) TO ({month + 1})")
            self.months.add(name)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        with self.pg.cursor(row_factory=dict_row) as cur:
            cur.execute(translate(sql), list(params))
            return iter(cur.fetchall())

    def close(self) -> None:
        self.pg.close()
