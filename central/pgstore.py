"""The central office's store on PostgreSQL, for a fleet: several edged-central instances on a
shared subscription write one database (design/0027, addendum). The same tables and the same
code as the SQLite store (central/store.py): this module only adapts the connection, so the
SQL the store, the verifier and the reports write runs here too, translated at the edge.

Leases: an instance verifies a node only while it holds that node's PostgreSQL advisory lock
(session level, on this instance's connection). A dead instance's connection goes, its locks
with it, and the next verification pass of another instance takes the node over. Under
`edged-central run` each instance holds only its share (central/leases.py: rendezvous hashing
over the live instances, design/0104); ingest takes no lock across instances (its durable
transaction only inserts; the rows every instance updates are written apart, see ``_write``).

Messages are partitioned by the month the office received them (UTC, its own clock; design/0140):
a seq is the node's outbox counter, not a time, and its month is the outbox's first.
Blocking: call from a thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import itertools
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row

from central import versions
from central.intake import QUOTA_USE
from central.leases import owner
from central.pgshared import SharedRows
from central.pgdialect import (EDGE_US as EDGE_US, json_params as json_params, month_after, month_before,
                               month_number, near_month_edge as near_month_edge, partition_of,
                               repartition_steps, translate as translate, translate_ddl as translate_ddl)
from central.store import SCHEMA_VERSION, Batch, Store, now_us, schema_steps

_SCHEMA_LOCK = 0x65646765   # "edge": one instance creates or upgrades the schema at a time
_PARTITION_LOCK = 0x65646767  # one creator of a partition at a time
EDGE_LOCK = 0x65646768  # near a month's end, one instance's messages stored at a time (design/0213)
_INSERT_ROWS = re.compile(r"\s*INSERT (OR IGNORE )?INTO (\w+) \(([^)]*)\) VALUES\s*$")
_PLACEHOLDER = re.compile(r"%(%|s)")  # translate's placeholders and escaped percents (write_all)
_INSERT_MESSAGES = re.compile(r"\s*INSERT OR IGNORE INTO messages \(([^)]*)\)")
# a batch goes in by COPY into these (temporary, emptied at commit), then one INSERT .. SELECT
# each; EDGED_CENTRAL_PG_INGEST=rows keeps the row-by-row path (the benchmark compares the two)
_STAGE = {
    "messages": "node text, seq bigint, kind text, ts_us bigint, received_us bigint, payload text, month bigint",
    "retained": "topic text, node text, what text, received_us bigint, payload text",
    "nodes": "node text, site text, name text, first_us bigint, last_us bigint, max_seq bigint",
}
_FROM_STAGE = {
    # (node, seq) is unique within a receipt month by the key, and across the months either side by
    # the NOT EXISTS (a redelivery or a resend comes within days; another instance's clock may be a
    # little ahead across a month's end; design/0140, 0213)
    "messages": "INSERT INTO messages (node, seq, kind, ts_us, received_us, payload, month)"
                " SELECT * FROM stage_messages s WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.node = s.node"
                " AND m.seq = s.seq AND m.month IN ({before}, {after})) ORDER BY node, seq"
                " ON CONFLICT DO NOTHING",
    "retained": "INSERT INTO retained (topic, node, what, received_us, payload) SELECT * FROM stage_retained"
                " ORDER BY topic ON CONFLICT (topic) DO UPDATE SET received_us = excluded.received_us, payload = excluded.payload",
    "nodes": "INSERT INTO nodes (node, site, name, first_us, last_us, max_seq) SELECT * FROM stage_nodes"
             " ORDER BY node ON CONFLICT (node) DO UPDATE SET last_us = excluded.last_us,"
             " max_seq = greatest(nodes.max_seq, excluded.max_seq)",
}
# the instances sharing the store (central/leases.py): a heartbeat each, and their figures
_INSTANCES = ("CREATE TABLE IF NOT EXISTS instances (id text PRIMARY KEY, host text, pid bigint, backend bigint,"
              " started_us bigint, heartbeat_us bigint, figures jsonb)")
# a store made before design/0140 keeps its audit partitions by seq (and their default one);
# a new one keeps audit records in one table, archived with their messages' month
_DEFAULTS = ("messages", "audit")
_SEP, _NULL = "\x1e", "\x1f"  # insert_rows: between a column's values, and a null


def _text(v: Any) -> str | None:
    """A value as the text PostgreSQL reads back into its column's type (insert_rows)."""
    if v is None or isinstance(v, str):
        return v
    return str(int(v)) if isinstance(v, bool) else repr(v) if isinstance(v, float) else str(v)


def lock_key(node: str) -> int:
    """The advisory lock of a node ("site/node"): 64 bits of its SHA-256, signed as PostgreSQL's bigint."""
    return int.from_bytes(hashlib.sha256(b"edged-central:" + node.encode()).digest()[:8], "big", signed=True)


_STREAMS = itertools.count()  # each server-side cursor's name


class _Cursor:
    def __init__(self, cur: psycopg.Cursor, lastrowid: int | None = None):
        self._cur, self.lastrowid = cur, lastrowid

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class _Conn:
    """What the store's code uses of a sqlite3 connection and of sqlite-utils' Database."""

    def __init__(self, pg: psycopg.Connection):
        self.pg = pg
        self.total_changes = 0
        self.months: set[str] = set()  # the partitions of messages known to exist
        self.types: dict[str, dict[str, str]] = {}  # a table's columns' types (insert_rows)
        self.conn = self   # sqlite-utils' Database.conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        q = translate(sql)
        returning = bool(re.match(r"\s*INSERT INTO (rejected|findings)\b", q)) and "RETURNING" not in q
        cur = self.pg.cursor()
        cur.execute(q + (" RETURNING id" if returning else ""), json_params(sql, params))
        self.total_changes += max(cur.rowcount, 0)
        rowid = None
        if returning:
            row = cur.fetchone()
            rowid = None if row is None else row[0]
        return _Cursor(cur, rowid)

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
            params += json_params(one, values)
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
            cur.execute(translate(sql), json_params(sql, params))
            return iter(cur.fetchall())

    def close(self) -> None:
        self.pg.close()


class PgStore(SharedRows, Store):
    """Store on PostgreSQL: ``url`` is a libpq URL (postgresql://user:password@host:port/db)."""

    def __init__(self, url: str, *, readonly: bool = False, clock: Callable[[], int] = now_us,
                 migrate: bool = False):
        self.path = None  # type: ignore[assignment]
        self.now_us = clock
        self._lock_fd = None
        self.url = url
        try:
            pg = psycopg.connect(url, autocommit=True, connect_timeout=10,
                                 application_name=f"edged-central {os.getpid()}")  # which instance holds what
        except psycopg.OperationalError as exc:
            raise ConnectionError(f"cannot reach the PostgreSQL store ({_redact(url)}): "
                                  f"{str(exc).strip().splitlines()[0]}; check [storage] url and that the "
                                  "server runs") from None
        self.db = _Conn(pg)  # type: ignore[assignment]
        self.held: set[str] = set()
        self.readonly = readonly
        self.me: str | None = None   # under `edged-central run`: this instance, and
        self.members: Callable[[], Sequence[str]] = lambda: ()  # the live ones (central/leases.py)
        self.write_s = 0.0   # time in ingest transactions (the operator's view: write waits)
        self.retries = 0     # ingest transactions done again after a deadlock
        self.known: set[str] = set()  # nodes whose row this connection saw made
        SharedRows.__init__(self)  # the rows every instance rewrites (central/pgshared.py)
        if readonly:  # status, reports, the dashboard: PostgreSQL refuses their writes, as SQLite's mode=ro does
            pg.execute("SET default_transaction_read_only = on")
            self._check(self.schema_version(), migrate)
        else:
            self._create(migrate)
            for name, cols in _STAGE.items():  # this session's own, for _write
                pg.execute(f"CREATE TEMP TABLE stage_{name} ({cols}) ON COMMIT DELETE ROWS")

    def _check(self, version: int, migrate: bool) -> None:
        if not migrate and (why := versions.refusal(version, SCHEMA_VERSION, _redact(self.url))):
            self.pg.close()
            raise versions.SchemaError(why)

    def schema_version(self) -> int:
        if self.pg.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:  # type: ignore[index]
            return 0
        row = self.pg.execute("SELECT max(version) FROM schema_version").fetchone()
        return int((row[0] if row else None) or 0)

    def set_schema_version(self, version: int) -> None:
        self.pg.execute("DELETE FROM schema_version")
        self.pg.execute("INSERT INTO schema_version VALUES (%s)", [version])

    def ddl(self, sql: str) -> str:
        return translate_ddl(sql)

    def migration_steps(self, version: int) -> list[str]:
        """Version 7 on a store whose messages are partitioned by seq first moves them into the
        partitions by receipt month (design/0140); instances must be stopped (central/migrate.py)."""
        out = super().migration_steps(version)
        if version == 7 and self.pg.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'month'"
        ).fetchone() is None:
            out = repartition_steps() + out
        return out

    def _create(self, migrate: bool) -> None:
        """A new store made at this version; one at another refused unless ``migrate`` (design/0121:
        no schema change inside `run`, `edged-central migrate` makes it)."""
        with self.pg.transaction():
            self.pg.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
            self.pg.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            version = self.schema_version()
            if version == 0 and self.pg.execute("SELECT to_regclass('messages')").fetchone()[0] is None:  # type: ignore[index]
                for sql in schema_steps(0):
                    self.pg.execute(translate_ddl(sql))
                self.set_schema_version(SCHEMA_VERSION)
            else:
                self._check(version, migrate)
            self.pg.execute(_INSTANCES)
            self.pg.execute(QUOTA_USE)
            for table in _DEFAULTS:  # a store made before audit was partitioned keeps its plain table
                if self.pg.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)",
                                   [table]).fetchone():
                    self.pg.execute(f"CREATE TABLE IF NOT EXISTS {table}_default PARTITION OF {table} DEFAULT")

    @property
    def pg(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn: psycopg.Connection[tuple[Any, ...]] = self.db.pg  # type: ignore[attr-defined]
        return conn

    def close(self) -> None:
        if not self.pg.closed:
            try:
                self.settle()
            except psycopg.Error:  # figures the node's next batch sets again
                pass
        self.db.close()  # the advisory locks go with the session

    @contextlib.contextmanager
    def writing(self, durable: bool = True) -> Iterator[Any]:
        """One write transaction; no lock across instances (issue 43: one advisory lock for every
        ingest transaction of every instance was most of three instances' time). Rows are taken
        in key order (node, topic), as the verifier takes its nodes', so no two transactions wait
        on each other in a cycle; if one does, PostgreSQL ends it and ``_write`` does it again.
        Not ``durable``: a commit that does not wait for the WAL to reach the disk (atomic all the
        same; lost in a crash, it is done again: the verifier's pass, the nodes' newest figures)."""
        with self.pg.transaction():
            if not durable:
                self.pg.execute("SET LOCAL synchronous_commit = off")
            yield self.db

    def _write(self, b: Batch) -> int:
        """The batch by COPY (one round trip a table, no per-row statement): the measured
        difference is in bench/central_pg.py's output and design/0027's addendum. Two
        transactions (design/0104): the durable one only inserts (messages, births, turned-away
        messages, a new node's row), so instances never wait on each other's commits; the rows
        every instance updates (retained states, the nodes' newest figures and status) follow in
        one that holds them for no disk write. The broker's messages are acknowledged after the
        first; a crash between the two loses only figures the next batch of the node sets again."""
        if self.readonly:  # as PostgreSQL refuses a read-only session's writes (status, reports, the dashboard)
            raise psycopg.errors.ReadOnlySqlTransaction("the store was opened read-only")
        started = time.monotonic()
        try:
            if os.environ.get("EDGED_CENTRAL_PG_INGEST") == "rows":
                return self._again(lambda: super(PgStore, self)._write(b))
            new = self._again(lambda: self._durable(b))
            self._hold(b)
            if time.monotonic() - self._settled >= self.coalesce_s:
                self._settle()
            return new
        finally:
            self.write_s += time.monotonic() - started

    def _again(self, fn: Callable[[], int]) -> int:
        for attempt in range(3):
            try:
                return fn()
            except psycopg.errors.DeadlockDetected:
                self.retries += 1
                if attempt == 2:
                    raise  # the store thread fails; the broker sends the batch again
            except psycopg.errors.CheckViolation:
                if attempt == 2 or not self.db.months:  # type: ignore[attr-defined]
                    raise
                # a month this connection saw was archived since (design/0120): its partition is
                # gone, so a late message of it makes a fresh one
                self.db.months.clear()  # type: ignore[attr-defined]
        return 0

    def _stage(self, cur: psycopg.Cursor, name: str, rows: Sequence[Sequence[Any]], sql: str) -> int:
        with cur.copy(f"COPY stage_{name} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(sql)
        return max(cur.rowcount, 0)

    def _durable(self, b: Batch) -> int:
        new = 0
        fresh = [r for r in b.nodes if r[0] not in self.known]
        with self.writing() as conn, self.pg.cursor() as cur:
            if b.durable:
                month = month_number(b.received_us)
                if near_month_edge(b.received_us):
                    # two instances storing one message (a redelivery) each side of the month's end
                    # would each miss the other's uncommitted row: they take turns, and the NOT
                    # EXISTS of the later one (its own snapshot, after the lock) sees the earlier's.
                    # Taken before the new month's partition is made: that holds the messages table
                    # till its commit, and a turn taken after it would wait in a cycle
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [EDGE_LOCK])
                conn._partitions([month])
                new = self._stage(cur, "messages", [(*r, month) for r in b.durable],
                                  _FROM_STAGE["messages"].format(before=month_before(month),
                                                                 after=month_after(month)))
            if fresh:  # a node's first row (its figures follow in _shared): no row another instance updates
                self._stage(cur, "nodes", fresh, "INSERT INTO nodes (node, site, name, first_us, last_us, max_seq)"
                            " SELECT * FROM stage_nodes s WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node = s.node)"
                            " ORDER BY node ON CONFLICT DO NOTHING")  # a row that exists: not even waited for
            conn.executemany("INSERT OR IGNORE INTO births (node, ts_us, session, public_key, config_hash, received_us,"
                             " payload) VALUES (?, ?, ?, ?, ?, ?, ?)", sorted(b.births))
            for node, site, topic, kind, why, payload in b.rejects:
                self._reject(conn, node, site, topic, kind, why, payload, b.received_us)
        self.known.update(r[0] for r in fresh)
        return new

    def _shared(self, b: Batch, counts: dict[str, int]) -> int:
        if self.coalesce_s:  # under run: a row another transaction holds waits for the next second
            self._left = None
            with self.writing(durable=False), self.pg.cursor() as cur:  # the retained states first, apart,
                self._unlocked(cur, b._replace(nodes=[], statuses=[]))
            for part in _parts(b._replace(retained=[])):  # so the nodes' rows, which verifiers update, are
                with self.writing(durable=False) as conn, self.pg.cursor() as cur:  # held a moment, a few
                    done = self._unlocked(cur, part)  # hundred at a time (issue 53: a verifier waited for a
                    for status in part.statuses:      # transaction of every node's)
                        if status[2] in done:
                            conn.execute("UPDATE nodes SET status = ?, status_us = ? WHERE node = ?", list(status))
            with self.writing(durable=False) as conn, self.pg.cursor() as cur:  # the minute's counts apart:
                self._count(cur, conn, b, counts)  # every instance counts every node's, and the nodes' rows a
            return 0                                # verifier waits for are not held meanwhile (issue 53)
        with self.writing(durable=False) as conn, self.pg.cursor() as cur:
            for name, rows in (("retained", b.retained), ("nodes", b.nodes)):
                if rows:
                    self._stage(cur, name, rows, _FROM_STAGE[name])
            for status in b.statuses:
                conn.execute("UPDATE nodes SET status = ?, status_us = ? WHERE node = ?", list(status))
            self._count(cur, conn, b, counts)
        return 0

    def stream(self, sql: str, params: list[Any], batch: int = 5000) -> Iterator[dict[str, Any]]:
        """A server-side cursor (in its own transaction, or in ``reading()``'s beside others)."""
        outer = self.pg.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with self.pg.transaction() if outer else contextlib.nullcontext(), \
                self.pg.cursor(name=f"stream_{next(_STREAMS)}", row_factory=dict_row) as cur:
            cur.itersize = batch
            cur.execute(translate(sql), json_params(sql, params))
            yield from cur

    def reading(self) -> contextlib.AbstractContextManager[Any]:
        return self.pg.transaction()

    def lease(self, node: str) -> bool:
        """True while this instance holds the node (its advisory lock, taken now if free). Under
        `edged-central run` (``me`` set), only a node of this instance's share: one of another's
        is let go of (between two nodes' passes, never in one)."""
        if self.me is not None and owner(node, self.members()) != self.me:
            if node in self.held:
                self.pg.execute("SELECT pg_advisory_unlock(%s)", [lock_key(node)])
                self.held.discard(node)
            return False
        if node in self.held:
            return True
        row = self.pg.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(node)]).fetchone()
        got = row is not None and row[0]
        if got:
            self.held.add(node)
        return bool(got)

    def rebalance(self) -> None:
        """Take the leases of this instance's share of every known node, and let go of the rest,
        two round trips whatever the count (before a verification pass: a share holds its
        nodes' locks also while they have nothing new, so the split shows and stays put)."""
        if self.me is None:
            return
        members = self.members()
        nodes = [r[0] for r in self.pg.execute("SELECT node FROM nodes").fetchall()]
        mine = {n for n in nodes if owner(n, members) == self.me}
        gone = sorted(self.held - mine)
        if gone:
            self.pg.execute("SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k", [[lock_key(n) for n in gone]])
            self.held -= set(gone)
        want = sorted(mine - self.held)
        if want:
            keys = {lock_key(n): n for n in want}
            got = self.pg.execute("SELECT k FROM unnest(%s::bigint[]) AS k WHERE pg_try_advisory_lock(k)",
                                  [list(keys)]).fetchall()
            self.held |= {keys[k] for (k,) in got}


NODES_A_TRANSACTION = 200  # nodes' figures written by one transaction (their rows held till it commits)


def _parts(b: Batch) -> list[Batch]:
    """``b``'s nodes' figures and statuses in parts of NODES_A_TRANSACTION nodes, in node order;
    a status of a node without figures goes with the last part."""
    parts = [b._replace(nodes=b.nodes[i:i + NODES_A_TRANSACTION])
             for i in range(0, len(b.nodes), NODES_A_TRANSACTION)] or [b._replace(nodes=[])]
    named = [{r[0] for r in p.nodes} for p in parts]
    rest = {st[2] for st in b.statuses} - set().union(*named)
    return [p._replace(statuses=[st for st in b.statuses if st[2] in names or (k == len(parts) - 1 and st[2] in rest)])
            for k, (p, names) in enumerate(zip(parts, named))]


def open_store(url: str | None, db_path: Any, *, readonly: bool = False, clock: Callable[[], int] = now_us,
               migrate: bool = False) -> Store:
    """The configured store: PostgreSQL when [storage] url is set, else the embedded SQLite file.
    versions.SchemaError: the store is at another schema version (and not ``migrate``)."""
    if url:
        return PgStore(url, readonly=readonly, clock=clock, migrate=migrate)
    return Store(db_path, readonly=readonly, clock=clock, migrate=migrate)


def _redact(url: str) -> str:
    """The URL without its password (the house rule: no password in a log or an error)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
