"""The central office's store: the only code that knows its SQL (one SQLite file, WAL, through
sqlite-utils), with its schema (central/store/store_schema.py) and its reads (central/store/store_reads.py,
a mixin of Store). Every durable message is stored once, keyed by (node, seq); retained messages
keep only what each node last said (plus every birth); the verifier fills the derived
tables (audit records, heads, alarms, destructions, inspections, findings).

A node is named "site/node": node ids are unique only within a site. Blocking: call from a
thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import sqlite_utils

from central import finding_words
from central.intake import schema
from central.store import held, versions
from central.i18n import N_
from mqtt import kinds
from central.store.seqs import QUOTA_USE, QuotaUse, Seqs
from central.store.store_reads import Reads
from central.store.store_schema import DESTRUCTIONS_INSERT, SCHEMA_VERSION, STEPS, destruction_row, schema_steps
from storage import names
from storage.msg import Msg
from storage.time.clock import SYSTEM, Clock

DURABLE = tuple(k.name for k in kinds.DURABLE_KINDS)  # stored once each under its seq (mqtt/kinds.py)
SEQ_AHEAD_US = 600 * 1_000_000   # a seq (microseconds at the edge) this far past its receipt is implausible
KEEP_REJECTED = 4096              # bytes of a rejected message kept, as evidence
REJECTED_PER_DAY = 1000           # rejected messages kept (and findings) a node a day; the rest are counted
MAX_TOPIC = 512                   # characters of a topic
_RETAINED = kinds.RETAINED_KINDS | {kinds.CLOCK.name}  # a node's answer to the time request: its topic's newest
# kept as a retained state is, until the verifier makes it a clock sample (design/0310)
# refused at ingest with a finding and nothing kept: a seq far below the node's first (once a node
# and day), a publish the broker refused for its size, as the node reported it (design/0119)
NOT_KEPT = frozenset(("seq_below_first", "message_too_large"))
# what ingest writes (central/store/pgstore.py writes a batch its own way, by COPY, but for EDGED_CENTRAL_PG_INGEST=rows)
MESSAGES = "INSERT OR IGNORE INTO messages (node, seq, kind, ts_us, received_us, payload) VALUES (?, ?, ?, ?, ?, ?)"
RETAINED = ("INSERT INTO retained (topic, node, what, received_us, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT(topic)"
            " DO UPDATE SET received_us = excluded.received_us, payload = excluded.payload")
BIRTHS = ("INSERT OR IGNORE INTO births (node, ts_us, session, public_key, config_hash, received_us, payload)"
          " VALUES (?, ?, ?, ?, ?, ?, ?)")
NODES = ("INSERT INTO nodes (node, site, name, first_us, last_us, max_seq) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(node)"
         " DO UPDATE SET last_us = excluded.last_us, max_seq = {max}(nodes.max_seq, excluded.max_seq)")
NODES_SQLITE, NODES_PG = NODES.format(max="max"), NODES.format(max="greatest")  # held.py: declared side by side
SQLITE_ONLY, POSTGRESQL_ONLY = ("NODES_SQLITE",), ("NODES_PG",)
STATUS = "UPDATE nodes SET status = ?, status_us = ? WHERE node = ?"
_FINDING = "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail) VALUES "
NOT_KEPT_FINDING = _FINDING + "(?, ?, ?, ?, 'warning', ?, ?, ?, ?)"
FLOOD_FINDING = _FINDING + "(?, ?, ?, 'malformed_message', 'warning', ?, ?, ?, ?)"
TURNED_AWAY = _FINDING + "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
REJECTED_TODAY = "SELECT count(*) FROM rejected WHERE node = ? AND received_us >= ?"
REJECTED = "INSERT INTO rejected (node, topic, received_us, why, size, payload) VALUES (?, ?, ?, ?, ?, ?) RETURNING id"


class Batch(NamedTuple):
    """What one ingest transaction writes, sorted out of the messages (rows as the tables take them)."""
    durable: list[tuple[Any, ...]]    # messages: node, seq, kind, ts_us, received_us, payload
    retained: list[tuple[Any, ...]]   # retained: topic, node, what, received_us, payload (newest per topic)
    births: list[tuple[Any, ...]]     # births: node, ts_us, session, public_key, config_hash, received_us, payload
    nodes: list[tuple[Any, ...]]      # nodes: node, site, name, first_us, last_us, max_seq
    statuses: list[tuple[Any, ...]]   # status, status_us, node
    rejects: list[tuple[Any, ...]]    # node, site, topic, kind, why, payload
    received_us: int


def now_us(clock: Clock = SYSTEM) -> int:
    """The office's wall clock (storage/time/clock.py reads it; a test hands in a FakeClock)."""
    return clock.now_us()


def split_topic(topic: str) -> tuple[str, str, str] | None:
    """("site/node", site, rest) of ``edged/v1/<site>/<node>/<rest>``, or None."""
    parts = topic.split("/", 4)
    if len(parts) < 5 or parts[0] != "edged" or parts[1] != "v1" or not (names.is_name(parts[2])
                                                                          and names.is_name(parts[3])):
        return None  # a site or node that is no name (storage/names.py, design/0315) is no node's
    return f"{parts[2]}/{parts[3]}", parts[2], parts[4]


Route = tuple[str, str, str, str | None]  # node, site, rest, kind (a kind the box sends, mqtt/kinds.py; None: not
#                                          stored)
_ROUTES: dict[str, Route | None] = {}
ROUTES_MAX = 100_000  # topics remembered (a fleet's are a few per camera); past it the memory starts afresh
ROUTE_TOPIC = 128     # characters of a topic remembered at most (a real one has about 50): the memory stays small


def route(topic: str) -> Route | None:
    """split_topic and the kind of message the rest names, remembered per topic: ingest asks it of
    every message, and a fleet sends the same topics over and over."""
    r = _ROUTES.get(topic, False)
    if r is not False:
        return r  # type: ignore[return-value]
    where = split_topic(topic)
    if where is not None:
        r = (*where, kinds.kind_of(where[2]))
    else:
        r = None
    if len(topic) <= ROUTE_TOPIC:
        if len(_ROUTES) >= ROUTES_MAX:
            _ROUTES.clear()
        _ROUTES[topic] = r
    return r


def _too_large(t: dict[str, Any]) -> Msg:
    """The node's report of a publish its broker refused for its size, in words."""
    return Msg(N_("the node's {kind} message {seq} of {bytes} bytes was refused by its broker (at most {limit}): the "
                  "office never received it; make it smaller or raise the broker's bound"),
               kind=t.get('kind'), seq=t.get('seq'), bytes=t.get('bytes'), limit=t.get('limit'))


class Store(Reads):
    _seqs: Seqs | None = None          # each node's seqs so far (central/store/seqs.py), made at the first batch
    _quota_use: QuotaUse | None = None

    def __init__(self, path: Path, *, readonly: bool = False, clock: Callable[[], int] = now_us,
                 migrate: bool = False):
        """``migrate``: open a store of another schema version (`edged-central migrate` only)."""
        self.path = Path(path)
        self.now_us = clock  # the office's wall clock, injected: every age it judges is on it (design/0095)
        self._lock_fd: IO[str] | None = None
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no central store at {self.path}: run `edged-central run` first")
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        self.db = sqlite_utils.Database(conn, execute_plugins=False)  # as storage/catalog.py: no plugin's code
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        version = self.schema_version()
        if version == 0 and not readonly and not self.db.table_names():  # a new store: made at this version
            with self.db.atomic():
                for sql in schema_steps(0):
                    self.db.execute(sql)
                self.set_schema_version(SCHEMA_VERSION)
        elif not migrate and (why := versions.refusal(version, SCHEMA_VERSION, str(self.path))):
            conn.close()
            raise versions.SchemaError(why)
        if not readonly:
            self.db.execute(QUOTA_USE)  # instances sharing the file count each node's messages in it (design/0119)

    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.db.execute(f"PRAGMA user_version={int(version)}")

    def ddl(self, sql: str) -> str:
        """A schema statement in this store's dialect (central/store/pgstore.py translates)."""
        return sql

    def migration_steps(self, version: int) -> list[str]:
        """The statements that bring this store from ``version - 1`` to ``version``, in its dialect."""
        return [self.ddl(sql) for sql in STEPS[version]]

    def close(self) -> None:
        self.db.conn.close()
        if self._lock_fd is not None:
            self._lock_fd.close()

    def lease(self, node: str) -> bool:
        """Whether this instance verifies the node: always, on SQLite (one file, the writers queue
        on its lock); central/store/pgstore.py holds a lease per node."""
        return True

    def rebalance(self) -> None:
        """Take this instance's share of the nodes' leases: nothing to share on SQLite."""

    def settle(self) -> None:
        """Write the rows held back from the batches (central/store/pgstore.py): none on SQLite."""

    @contextlib.contextmanager
    def writing(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (``durable=False``: one whose loss in a crash is harmless, as the
        verifier's: it is done again; PostgreSQL then commits without waiting for the disk). Instances sharing the file (a shared subscription) queue on a
        lock file first: SQLite's own busy handler sleeps up to 100 ms per retry, which halved
        the rate of two instances; a flock wakes the next writer the moment the lock is free."""
        if self._lock_fd is None:
            self._lock_fd = open(self.path.with_name(self.path.name + ".lock"), "a")
        lock = self._lock_fd
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    # ingest ---------------------------------------------------------------------------------
    def ingest(self, batch: Iterable[tuple[str, bytes]], received_us: int,
               refused: Iterable[tuple[str, str, str, bytes]] = ()) -> int:
        """Store one batch of (topic, payload); returns the durable messages that were new.

        Idempotent: a durable message seen before (same node and seq) is ignored; retained
        messages are coalesced to the newest per topic within the batch. A message that fails
        the schema (central/intake/schema.py) or whose seq lies past its receipt is kept apart in
        `rejected` and is a finding of its node; ``refused`` are (topic, kind, why, payload)
        the caller turned away (a quota) and are recorded the same way.
        """
        rejects: list[tuple[str, str, str, str, str, bytes]] = []  # node, site, topic, kind, why, payload
        seqs = self._seqs = self._seqs or self._new_seqs()
        if seqs.rows is not None and seqs.fresh:  # the batch's new nodes' anchors in one read (PostgreSQL's
            # store), while batches bring new nodes (once all are known, no pass over the batch)
            batch = list(batch)
            seqs.batch(r[0] for r in map(route, (m[0] for m in batch)) if r is not None)
        else:
            seqs.batch()
        for topic, kind, why, payload in refused:
            where = split_topic(topic)
            if where is not None:
                rejects.append((where[0], where[1], topic, kind, why, payload))
        durable, retained, births, seen = _sort(batch, received_us, seqs, rejects)
        if not seen and not rejects:
            return 0
        for node, site, *_ in rejects:
            seen.setdefault(node, (site, 0))
        # in key order: two instances writing the same rows lock them in the same order (no deadlock)
        nodes = sorted((node, site, node.split("/", 1)[1], received_us, received_us, top)
                       for node, (site, top) in seen.items())
        statuses = sorted((text or "gone", received_us, node)
                          for (_t, node, what, _r, text) in retained.values() if what == "status")
        return self._write(Batch(durable, sorted(retained.values()), births, nodes, statuses, rejects, received_us))

    def _new_seqs(self) -> Seqs:
        """The nodes' anchors (central/store/seqs.py), each read at its node's first message
        (SQLite: no round trip to save)."""
        return Seqs(self.db)

    def _write(self, b: Batch) -> int:
        """One batch in one transaction; returns the durable messages that were new."""
        with self.writing() as conn:
            before = conn.total_changes
            conn.executemany(MESSAGES, b.durable)
            new = conn.total_changes - before
            conn.executemany(RETAINED, b.retained)
            conn.executemany(BIRTHS, b.births)
            conn.executemany(held.pick(conn, NODES_SQLITE, NODES_PG), b.nodes)
            for status in b.statuses:
                conn.execute(STATUS, list(status))
            for node, site, topic, kind, why, payload in b.rejects:
                self._reject(conn, node, site, topic, kind, why, payload, b.received_us)
            self._quota_use = self._quota_use or QuotaUse()
            self._quota_use.count(conn, b.durable, b.received_us)  # with every instance's (design/0119)
        return new

    def _reject(self, conn: sqlite3.Connection, node: str, site: str, topic: str, kind: str, why: str,
                payload: bytes, received_us: int) -> None:
        """Keep a turned-away message (its first KEEP_REJECTED bytes) and make it a finding of its node."""
        digest = hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()[:16]
        day = received_us // 86_400_000_000
        if kind in NOT_KEPT:  # a finding only: nothing of the message is kept
            conn.execute(
                NOT_KEPT_FINDING,
                [f"{node}:{kind}:{day if kind == 'seq_below_first' else digest}", node, site, kind, received_us,
                 received_us, why[:400], finding_words.detail_json(
                     why if isinstance(why, Msg) else why[:400],
                     {"topic": topic[:300], "size": len(payload)} if kind != "message_too_large"
                     else {"topic": topic[:300], "refused": json.loads(payload)})])
            return
        kept = conn.execute(REJECTED_TODAY, [node, day * 86_400_000_000]).fetchone()[0]
        if kept >= REJECTED_PER_DAY:  # a flood of bad messages: one finding says so, the rest are dropped
            conn.execute(
                FLOOD_FINDING,
                [f"{node}:malformed_flood:{day}", node, site, received_us, received_us,
                 flood := Msg(N_("more than {most} messages turned away today; the rest of today's are not kept"),
                              most=REJECTED_PER_DAY), finding_words.detail_json(flood, {})])
            return
        rejected = conn.execute(REJECTED, [node, topic, received_us, why, len(payload),
                                           payload[:KEEP_REJECTED].decode("utf-8", "replace")]).fetchone()[0]
        severity = "critical" if kind in ("seq_implausible", "seq_beyond_rate") else "warning"
        key = f"{node}:{kind}:{digest}" if kind != "quota_exceeded" else f"{node}:{kind}:{why.split(':', 1)[0]}:" \
            f"{received_us // 86_400_000_000}"
        what = topic.split("/", 4)[-1]
        conn.execute(
            TURNED_AWAY,
            [key, node, site, kind, severity, received_us, received_us, f"{what[:80]}: {why[:300]}",
             finding_words.detail_json(finding_words.turned_away(what[:80], why if isinstance(why, Msg) else why[:300]),
                                       {"topic": topic[:300], "rejected": rejected, "size": len(payload)})])

    def destroyed(self, node: str, site: str, seq: int, n: int, m: dict[str, Any], verdict: str) -> None:
        """One destruction as the verifier judged it (in its pass's transaction): the ``n``-th of the
        node's message ``seq`` (design/0141). A verifier's pass writes many a statement
        (central/verifier/evidence.py) with the same row."""
        self.db.execute(DESTRUCTIONS_INSERT + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        list(destruction_row(node, site, seq, n, m, verdict)))


def _sort(batch: Iterable[tuple[str, bytes]], received_us: int, seqs: Seqs,
          rejects: list[tuple[str, str, str, str, str, bytes]]
          ) -> tuple[list[tuple[Any, ...]], dict[str, tuple[Any, ...]], list[tuple[Any, ...]], dict[str, tuple[str, int]]]:
    """A batch's messages sorted by what ingest writes of them: (the durable rows, the retained
    rows by topic, the births, node -> (site, highest seq in the batch)); what is turned away goes
    to ``rejects`` (node, site, topic, kind, why, payload)."""
    durable: list[tuple[Any, ...]] = []
    retained: dict[str, tuple[Any, ...]] = {}
    births: list[tuple[Any, ...]] = []
    seen: dict[str, tuple[str, int]] = {}   # node -> (site, highest seq in the batch)
    kind: str | None
    for topic, payload in batch:
        r = route(topic)
        if r is None:
            continue
        node, site, _rest, kind = r
        if len(topic) > MAX_TOPIC:
            rejects.append((node, site, topic[:MAX_TOPIC], "malformed_message",
                            Msg(N_("a topic of {length} characters (at most {most})"), length=len(topic),
                                most=MAX_TOPIC), payload))
            continue
        if kind is None:
            continue
        try:
            body, text = schema.check_text(kind, payload)
        except schema.Malformed as exc:
            rejects.append((node, site, topic, "malformed_message", exc.said, payload))
            continue
        if kind in _RETAINED:
            retained[topic] = (topic, node, kind, received_us, text)
            if node not in seen:
                seen[node] = (site, 0)
            if kind == "birth" and body is not None:
                births.append((node, body.get("ts_us") or received_us, body.get("session"), body.get("public_key"),
                               body.get("config_hash"), received_us, text))
                seqs.birth(node, body, received_us)
            elif kind == "state" and body is not None and body.get("too_large"):  # the node's refused publishes
                rejects.extend((node, site, topic, "message_too_large", _too_large(t), json.dumps(t).encode())
                               for t in body["too_large"])
            continue
        seq = body["seq"]
        if seq > received_us + SEQ_AHEAD_US:
            rejects.append((node, site, topic, "seq_implausible",
                            Msg(N_("seq {seq} is {ahead} s past the time it was received: seqs are the node's "
                                   "microseconds, so it was forged or the node's clock is wrong"),
                                seq=seq, ahead=f"{(seq - received_us) / 1e6:.0f}"), payload))
            continue
        verdict = seqs.judge(node, seq, received_us)  # by the node's rate and its first seq (design/0119)
        if verdict is not None:
            rejects.append((node, site, topic, *verdict, payload))
            continue
        durable.append((node, seq, kind, body.get("ts_us"), received_us, text))
        s = seen.get(node)
        if s is None or s[1] < seq:
            seen[node] = (site, seq)
    return durable, retained, births, seen
