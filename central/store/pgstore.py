"""The central office's store on PostgreSQL, for a fleet: several edged-central instances on a shared
subscription write one database (design/0027, addendum). The same tables and the same code as the SQLite
store (central/store/store.py): this module, central/store/pgconn.py (the connection) and central/store/pgdialect.py
(the SQL) only adapt the connection, so the SQL the store, the verifier and the reports write runs here too.

Leases (central/store/pgleases.py, a mixin): an instance verifies a node only while it holds that
node's PostgreSQL advisory lock; ingest takes no lock across instances (its durable transaction only
inserts; the rows every instance updates are written apart, see ``_write``).

Messages are partitioned by the month the office received them (UTC, its own clock; design/0140):
a seq is the node's outbox counter, not a time, and its month is the outbox's first.
Blocking: call from a thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import json
import itertools
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from central.store import versions
from central.store.seqs import QUOTA_USE, AnchorRow, Seqs
from central.store.pgleases import Leases, lock_key as lock_key
from central.store.pgshared import SharedRows
from central.store.pgconn import PgConn
from central.store.pgdialect import (EDGE_US as EDGE_US, month_after, month_before,
                               month_number, near_month_edge as near_month_edge,
                               repartition_steps, translate as translate, translate_ddl as translate_ddl)
from central.store.store import Batch, Store, now_us
from central.store.store_reads import UNCHECKED_BIRTHS as UNCHECKED
from central.store.store_schema import SCHEMA_VERSION, schema_steps

_SCHEMA_LOCK = 0x65646765   # "edge": one instance creates or upgrades the schema at a time
EDGE_LOCK = 0x65646768  # near a month's end, one instance's messages stored at a time (design/0213)
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
# Seqs's anchors of many nodes (central/store/seqs.py AnchorRow), by the indexes Seqs.load uses
_ANCHORS = ("SELECT n.node, (SELECT min(seq) FROM messages m WHERE m.node = n.node), l.seq, l.received_us,"
            " b.received_us, b.payload FROM unnest(%s::text[]) AS n(node)"
            " LEFT JOIN LATERAL (SELECT seq, received_us FROM messages m WHERE m.node = n.node"
            " ORDER BY seq DESC LIMIT 1) l ON true"
            " LEFT JOIN LATERAL (SELECT received_us, payload FROM births b WHERE b.node = n.node"
            " ORDER BY ts_us DESC LIMIT 1) b ON true")
# the instances sharing the store (central/intake/leases.py): a heartbeat each, and their figures
_INSTANCES = ("CREATE TABLE IF NOT EXISTS instances (id text PRIMARY KEY, host text, pid bigint, backend bigint,"
              " started_us bigint, heartbeat_us bigint, figures jsonb)")
# a store made before design/0140 keeps its audit partitions by seq (and their default one);
# a new one keeps audit records in one table, archived with their messages' month
_DEFAULTS = ("messages", "audit")


_STREAMS = itertools.count()  # each server-side cursor's name


class PgStore(Leases, SharedRows, Store):
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
        self.db = PgConn(pg)  # type: ignore[assignment]
        self.readonly = readonly
        self.me: str | None = None   # under `edged-central run`: this instance, and
        self.members: Callable[[], Sequence[str]] = lambda: ()  # the live ones (central/intake/leases.py)
        self.write_s = 0.0   # time in ingest transactions (the operator's view: write waits)
        self.retries = 0     # ingest transactions done again after a deadlock
        self.known: set[str] = set()  # nodes whose row this connection saw made
        Leases.__init__(self)  # which nodes this instance verifies (central/store/pgleases.py)
        SharedRows.__init__(self)  # the rows every instance rewrites (central/store/pgshared.py)
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
        partitions by receipt month (design/0140); instances must be stopped (central/store/migrate.py)."""
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
                self._settle(everything=False)
            return new
        finally:
            self.write_s += time.monotonic() - started

    def _new_seqs(self) -> Seqs:
        return Seqs(self.db, self._anchor_rows)

    def _anchor_rows(self, nodes: Sequence[str]) -> list[AnchorRow]:
        """Seqs's anchors of ``nodes`` in one statement (three a node by Seqs.load): each by its
        index, as Seqs.load reads them."""
        return self.pg.execute(_ANCHORS, [list(nodes)]).fetchall()

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
            if b.retained:
                with self.writing(durable=False), self.pg.cursor() as cur:  # the retained states first, apart,
                    self._unlocked(cur, b._replace(nodes=[], statuses=[]))
            for part in _parts(b._replace(retained=[])):  # so the nodes' rows, which verifiers update, are
                with self.writing(durable=False) as conn, self.pg.cursor() as cur:  # held a moment, a few
                    done = self._unlocked(cur, part)  # hundred at a time (issue 53: a verifier waited for a
                    for status in part.statuses:      # transaction of every node's)
                        if status[2] in done:
                            conn.execute("UPDATE nodes SET status = ?, status_us = ? WHERE node = ?", list(status))
            if counts:
                with self.writing(durable=False) as conn, self.pg.cursor() as cur:  # the minute's counts apart:
                    self._count(cur, conn, b, counts)  # every instance counts every node's, and the nodes' rows
            return 0                                    # a verifier waits for are not held meanwhile (issue 53)
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
            cur.execute(translate(sql), list(params))
            yield from cur

    def reading(self) -> contextlib.AbstractContextManager[Any]:
        return self.pg.transaction()

    def audit_naming(self, node: str, action: str, field: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Store.audit_naming in one index scan of an array (an OR of 200 JSON comparisons took
        8 ms to plan and run): by the field's text, so grant "7" comes with grant 7 (the caller,
        central/report/report.py, keeps only the JSON value it asked for)."""
        if field not in ("grant", "request"):
            raise ValueError(field)
        if not values:
            return []
        with self.pg.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SELECT * FROM audit WHERE node = %s AND action = %s AND (detail::jsonb ->> '{field}') = ANY(%s)"
                        " ORDER BY seq_local", [node, action, [v if isinstance(v, str) else json.dumps(v) for v in values]])
            return cur.fetchall()

    def todo_nodes(self, births: bool = True) -> list[str]:
        """Under `run`, of the nodes this instance holds, a probe each (issue 53: not every node, each pass, by each)."""
        if self.me is None:
            return super().todo_nodes(births)
        return sorted(r[0] for r in self.pg.execute("SELECT n FROM unnest(%s::text[]) AS n WHERE EXISTS (SELECT 1 FROM"
                      " messages m WHERE m.node = n AND m.verified = 0)" + (UNCHECKED if births else ""), [sorted(self.held)]))


NODES_A_TRANSACTION = 200  # nodes' figures written by one transaction (their rows held till it commits)


def _parts(b: Batch) -> list[Batch]:
    """``b``'s nodes' figures and statuses in parts of NODES_A_TRANSACTION nodes, in node order;
    a status of a node without figures goes with the last part. None when there is neither."""
    parts = [b._replace(nodes=b.nodes[i:i + NODES_A_TRANSACTION])
             for i in range(0, len(b.nodes), NODES_A_TRANSACTION)] or ([b._replace(nodes=[])] if b.statuses else [])
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
