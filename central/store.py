"""The central office's store: the only code that knows its SQL (one SQLite file, WAL, through
sqlite-utils). Every durable message is stored once, keyed by (node, seq); retained messages
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import sqlite_utils

from central import finding_words, schema, versions
from central.i18n import N_
from central.intake import QUOTA_USE, QuotaUse, Seqs
from storage.msg import Msg
from storage.time.clock import SYSTEM, Clock

SCHEMA_VERSION = 7
DURABLE = ("alarm", "audit", "retention", "inspection", "ethics", "event", "footage")
SEQ_AHEAD_US = 600 * 1_000_000   # a seq (microseconds at the edge) this far past its receipt is implausible
KEEP_REJECTED = 4096              # bytes of a rejected message kept, as evidence
REJECTED_PER_DAY = 1000           # rejected messages kept (and findings) a node a day; the rest are counted
MAX_TOPIC = 512                   # characters of a topic
_RETAINED = frozenset(("status", "birth", "state", "camera"))
# refused at ingest with a finding and nothing kept: a seq far below the node's first (once a node
# and day), a publish the broker refused for its size, as the node reported it (design/0119)
NOT_KEPT = frozenset(("seq_below_first", "message_too_large"))

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS messages (
        node TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ts_us INTEGER,
        received_us INTEGER NOT NULL, payload TEXT NOT NULL,
        PRIMARY KEY (node, seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS retained (
        topic TEXT PRIMARY KEY, node TEXT NOT NULL, what TEXT NOT NULL, received_us INTEGER NOT NULL,
        payload TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS retained_node ON retained(node)",
    """CREATE TABLE IF NOT EXISTS births (
        node TEXT NOT NULL, ts_us INTEGER NOT NULL, session INTEGER, public_key TEXT, config_hash TEXT,
        received_us INTEGER NOT NULL, payload TEXT NOT NULL, checked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (node, ts_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS nodes (
        node TEXT PRIMARY KEY, site TEXT NOT NULL, name TEXT NOT NULL,
        first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, status TEXT, status_us INTEGER,
        verified_seq INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL DEFAULT 0,
        public_key TEXT, session INTEGER, config_hash TEXT,
        head_seq INTEGER, head_hash TEXT, head_at_us INTEGER)""",
    """CREATE TABLE IF NOT EXISTS audit (
        node TEXT NOT NULL, seq_local INTEGER NOT NULL, at_us INTEGER NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        msg_seq INTEGER NOT NULL, PRIMARY KEY (node, seq_local)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS audit_action ON audit(action, at_us)",
    # the approval and filing of a grant, looked up for every access (central/verifier.judge_in_store)
    "CREATE INDEX IF NOT EXISTS audit_grant ON audit(node, action, json_extract(detail, '$.grant'))",
    "CREATE INDEX IF NOT EXISTS audit_request ON audit(node, action, json_extract(detail, '$.request'))",
    """CREATE TABLE IF NOT EXISTS heads (
        node TEXT NOT NULL, msg_seq INTEGER NOT NULL, seq_local INTEGER NOT NULL, hash TEXT NOT NULL,
        at_us INTEGER NOT NULL, sig TEXT NOT NULL, valid INTEGER NOT NULL, source TEXT NOT NULL,
        PRIMARY KEY (node, msg_seq, seq_local)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS alarms (
        node TEXT NOT NULL, id TEXT NOT NULL, raised_us INTEGER NOT NULL, kind TEXT, severity TEXT,
        camera TEXT, message TEXT, cleared_us INTEGER, PRIMARY KEY (node, id, raised_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS destruction_days (
        node TEXT NOT NULL, camera TEXT NOT NULL, day TEXT NOT NULL, reason TEXT NOT NULL,
        verdict TEXT NOT NULL, segments INTEGER NOT NULL, bytes INTEGER NOT NULL,
        youngest_days REAL, PRIMARY KEY (node, camera, day, reason, verdict)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS inspections (
        node TEXT NOT NULL, run INTEGER NOT NULL, kind TEXT, due_us INTEGER, ran_us INTEGER,
        signed_us INTEGER, countersigned_us INTEGER, inspector TEXT, supervisor TEXT, cameras TEXT,
        PRIMARY KEY (node, run)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS findings (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, node TEXT NOT NULL, site TEXT NOT NULL,
        kind TEXT NOT NULL, severity TEXT NOT NULL, found_us INTEGER NOT NULL, about_us INTEGER,
        message TEXT NOT NULL, detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS findings_site ON findings(site, found_us)",
]
# version 2 (issue 28): every stored message is verified, not only those above a cursor; what
# failed the schema or the seq check is kept apart (bounded), as evidence
_SCHEMA_2 = [
    "ALTER TABLE messages ADD COLUMN verified INTEGER NOT NULL DEFAULT 0",
    "UPDATE messages SET verified = 1 WHERE seq <= coalesce((SELECT verified_seq FROM nodes n"
    " WHERE n.node = messages.node), 0)",
    "CREATE INDEX IF NOT EXISTS messages_todo ON messages(node, seq) WHERE verified = 0",
    """CREATE TABLE IF NOT EXISTS rejected (
        id INTEGER PRIMARY KEY, node TEXT NOT NULL, topic TEXT NOT NULL, received_us INTEGER NOT NULL,
        why TEXT NOT NULL, size INTEGER NOT NULL, payload TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rejected_node ON rejected(node, received_us)",
]
# version 3 (issue 39, design/0095): when the office first heard of each piece of footage, on its
# own clock (the receipt of the `footage` message that named it): ages are judged by it
_SCHEMA_3 = [
    """CREATE TABLE IF NOT EXISTS footage_heard (
        node TEXT NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
        heard_us INTEGER NOT NULL, PRIMARY KEY (node, first_id)) WITHOUT ROWID""",
]

# version 4 (issue 43 item 2): the resends the office asked a node for, one per gap; (issue 44,
# design/0115) the time each node's footage of a camera covers, by kind, from its `footage`
# messages: a camera's time is counted once, whichever boxes hold it (central/coverage.py)
_SCHEMA_4 = [
    """CREATE TABLE IF NOT EXISTS resends (
        node TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, asked_us INTEGER NOT NULL,
        nonce TEXT NOT NULL, tries INTEGER NOT NULL, PRIMARY KEY (node, first_seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS coverage (
        node TEXT NOT NULL, camera TEXT NOT NULL, from_us INTEGER NOT NULL, to_us INTEGER NOT NULL,
        kind TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS coverage_camera ON coverage(camera, from_us)",
]

# version 5 (issue 43 item 4, design/0120): the months archived out of the store, each file's
# SHA-256 and signed manifest anchored here (central/archiving.py)
_SCHEMA_5 = [
    """CREATE TABLE IF NOT EXISTS archives (
        month TEXT PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL,
        file TEXT NOT NULL, manifest TEXT NOT NULL, archived_us INTEGER NOT NULL, restored_us INTEGER)""",
]

# version 6 (issue 51, design/0122): what the office holds of when each footage range was recorded
# beyond its receipt (the message's stamp, the node's clock offset seen then, the footage it
# fetched later), and each node's newest destruction heard: ages judged on every clock and delay,
# and the watch for footage kept past its maximum (central/retention_watch.py)
_SCHEMA_6 = [
    """CREATE TABLE IF NOT EXISTS footage_evidence (
        node TEXT NOT NULL, first_id INTEGER NOT NULL, stamp_us INTEGER, offset_us INTEGER,
        from_us INTEGER, to_us INTEGER, carried TEXT, PRIMARY KEY (node, first_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS retention_heard (
        node TEXT PRIMARY KEY, destroyed_id INTEGER, destroyed_us INTEGER NOT NULL)""",
]

# version 7 (issue 53 items 3 and 5, design/0141): each destruction one by one, as the verifier
# judged it, for the auditor's month (read by site and time, never by scanning the messages),
# archived with the receipt month of the message that said it (node, seq); the destructions the
# office stored before version 7 are drawn from their messages, judged only per camera-day
UNJUDGED = "unjudged"
_SCHEMA_7 = [
    """CREATE TABLE IF NOT EXISTS destructions (
        node TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL, site TEXT NOT NULL, camera TEXT NOT NULL,
        destroyed_us INTEGER NOT NULL, reason TEXT, verdict TEXT NOT NULL, segment_id INTEGER, sha256 TEXT,
        bytes INTEGER, start_us INTEGER, end_us INTEGER, PRIMARY KEY (node, seq, n)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS destructions_site ON destructions(site, destroyed_us)",
    "CREATE INDEX IF NOT EXISTS destructions_bad ON destructions(site, destroyed_us) WHERE verdict <> 'ok'",
    "INSERT OR IGNORE INTO destructions (node, seq, n, site, camera, destroyed_us, reason, verdict, segment_id,"
    " sha256, bytes, start_us, end_us) SELECT messages.node, seq, 0, nodes.site, json_extract(payload, '$.camera'),"
    " CAST(json_extract(payload, '$.destroyed_us') AS INTEGER), json_extract(payload, '$.reason'),"
    f" '{UNJUDGED}', CAST(json_extract(payload, '$.segment_id') AS INTEGER), json_extract(payload, '$.sha256'),"
    " CAST(json_extract(payload, '$.bytes') AS INTEGER), CAST(json_extract(payload, '$.start_us') AS INTEGER),"
    " CAST(json_extract(payload, '$.end_us') AS INTEGER) FROM messages JOIN nodes ON nodes.node = messages.node"
    " WHERE kind = 'retention' AND verified = 1 AND json_extract(payload, '$.camera') IS NOT NULL"
    " AND json_extract(payload, '$.destroyed_us') IS NOT NULL",
]

DESTRUCTIONS_INSERT = ("INSERT OR IGNORE INTO destructions (node, seq, n, site, camera, destroyed_us, reason, verdict,"
                      " segment_id, sha256, bytes, start_us, end_us) VALUES ")


def destruction_row(node: str, site: str, seq: int, n: int, m: dict[str, Any], verdict: str) -> tuple[Any, ...]:
    """A row of ``destructions``: the ``n``-th destruction of the node's message ``seq``."""
    return (node, seq, n, site, m["camera"], m["destroyed_us"], m.get("reason"), verdict, _int(m.get("segment_id")),
            _str(m.get("sha256")), _int(m.get("bytes")), _int(m.get("start_us")), _int(m.get("end_us")))


# each version's statements (central/migrate.py runs them a version a transaction)
STEPS = {1: _SCHEMA, 2: _SCHEMA_2, 3: _SCHEMA_3, 4: _SCHEMA_4, 5: _SCHEMA_5, 6: _SCHEMA_6, 7: _SCHEMA_7}


def schema_steps(version: int) -> list[str]:
    """The statements that bring a store at `version` to SCHEMA_VERSION."""
    return [sql for v in sorted(STEPS) if v > version for sql in STEPS[v]]


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
    if len(parts) < 5 or parts[0] != "edged" or parts[1] != "v1":
        return None
    return f"{parts[2]}/{parts[3]}", parts[2], parts[4]


Route = tuple[str, str, str, str | None]  # node, site, rest, kind (a DURABLE kind, "reply", "status", "birth",
#                                          "state", "camera", or None: not stored)
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
        rest = where[2]
        if rest in DURABLE:
            kind: str | None = rest
        elif rest.startswith("cmd/") and rest.endswith("/reply"):
            kind = "reply"
        elif rest in ("status", "birth", "state"):
            kind = rest
        elif rest.startswith("camera/") and rest.endswith("/state"):
            kind = "camera"
        else:
            kind = None
        r = (*where, kind)
    else:
        r = None
    if len(topic) <= ROUTE_TOPIC:
        if len(_ROUTES) >= ROUTES_MAX:
            _ROUTES.clear()
        _ROUTES[topic] = r
    return r


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return v[:128] if isinstance(v, str) else None


def _too_large(t: dict[str, Any]) -> Msg:
    """The node's report of a publish its broker refused for its size, in words."""
    return Msg(N_("the node's {kind} message {seq} of {bytes} bytes was refused by its broker (at most {limit}): the "
                  "office never received it; make it smaller or raise the broker's bound"),
               kind=t.get('kind'), seq=t.get('seq'), bytes=t.get('bytes'), limit=t.get('limit'))


class Store:
    _seqs: Seqs | None = None          # each node's seqs so far (central/intake.py), made at the first batch
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
        self.db = sqlite_utils.Database(conn)
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
        """A schema statement in this store's dialect (central/pgstore.py translates)."""
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
        on its lock); central/pgstore.py holds a lease per node."""
        return True

    def rebalance(self) -> None:
        """Take this instance's share of the nodes' leases: nothing to share on SQLite."""

    def settle(self) -> None:
        """Write the rows held back from the batches (central/pgstore.py): none on SQLite."""

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
        the schema (central/schema.py) or whose seq lies past its receipt is kept apart in
        `rejected` and is a finding of its node; ``refused`` are (topic, kind, why, payload)
        the caller turned away (a quota) and are recorded the same way.
        """
        durable: list[tuple[Any, ...]] = []
        retained: dict[str, tuple[Any, ...]] = {}
        births: list[tuple[Any, ...]] = []
        rejects: list[tuple[str, str, str, str, str, bytes]] = []  # node, site, topic, kind, why, payload
        seen: dict[str, tuple[str, int]] = {}   # node -> (site, highest seq in the batch)
        kind: str | None
        seqs = self._seqs = self._seqs or Seqs(self.db)
        seqs.batch()
        for topic, kind, why, payload in refused:
            where = split_topic(topic)
            if where is not None:
                rejects.append((where[0], where[1], topic, kind, why, payload))
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

    def _write(self, b: Batch) -> int:
        """One batch in one transaction; returns the durable messages that were new."""
        with self.writing() as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO messages (node, seq, kind, ts_us, received_us, payload)"
                             " VALUES (?, ?, ?, ?, ?, ?)", b.durable)
            new = conn.total_changes - before
            conn.executemany("INSERT INTO retained (topic, node, what, received_us, payload) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT(topic) DO UPDATE SET received_us = excluded.received_us,"
                             " payload = excluded.payload", b.retained)
            conn.executemany("INSERT OR IGNORE INTO births (node, ts_us, session, public_key, config_hash, received_us,"
                             " payload) VALUES (?, ?, ?, ?, ?, ?, ?)", b.births)
            conn.executemany(
                "INSERT INTO nodes (node, site, name, first_us, last_us, max_seq) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(node) DO UPDATE SET last_us = excluded.last_us,"
                " max_seq = max(nodes.max_seq, excluded.max_seq)", b.nodes)
            for status in b.statuses:
                conn.execute("UPDATE nodes SET status = ?, status_us = ? WHERE node = ?", list(status))
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
                "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
                " VALUES (?, ?, ?, ?, 'warning', ?, ?, ?, ?)",
                [f"{node}:{kind}:{day if kind == 'seq_below_first' else digest}", node, site, kind, received_us,
                 received_us, why[:400], finding_words.detail_json(
                     why if isinstance(why, Msg) else why[:400],
                     {"topic": topic[:300], "size": len(payload)} if kind != "message_too_large"
                     else {"topic": topic[:300], "refused": json.loads(payload)})])
            return
        kept = conn.execute("SELECT count(*) FROM rejected WHERE node = ? AND received_us >= ?",
                            [node, day * 86_400_000_000]).fetchone()[0]
        if kept >= REJECTED_PER_DAY:  # a flood of bad messages: one finding says so, the rest are dropped
            conn.execute(
                "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
                " VALUES (?, ?, ?, 'malformed_message', 'warning', ?, ?, ?, ?)",
                [f"{node}:malformed_flood:{day}", node, site, received_us, received_us,
                 flood := Msg(N_("more than {most} messages turned away today; the rest of today's are not kept"),
                              most=REJECTED_PER_DAY), finding_words.detail_json(flood, {})])
            return
        cur = conn.execute("INSERT INTO rejected (node, topic, received_us, why, size, payload) VALUES (?, ?, ?, ?, ?, ?)",
                           [node, topic, received_us, why, len(payload),
                            payload[:KEEP_REJECTED].decode("utf-8", "replace")])
        severity = "critical" if kind in ("seq_implausible", "seq_beyond_rate") else "warning"
        key = f"{node}:{kind}:{digest}" if kind != "quota_exceeded" else f"{node}:{kind}:{why.split(':', 1)[0]}:" \
            f"{received_us // 86_400_000_000}"
        what = topic.split("/", 4)[-1]
        conn.execute(
            "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key, node, site, kind, severity, received_us, received_us, f"{what[:80]}: {why[:300]}",
             finding_words.detail_json(finding_words.turned_away(what[:80], why if isinstance(why, Msg) else why[:300]),
                                       {"topic": topic[:300], "rejected": cur.lastrowid, "size": len(payload)})])

    def destroyed(self, node: str, site: str, seq: int, n: int, m: dict[str, Any], verdict: str) -> None:
        """One destruction as the verifier judged it (in its pass's transaction): the ``n``-th of the
        node's message ``seq`` (design/0141). A verifier's pass writes many a statement
        (central/evidence.py) with the same row."""
        self.db.execute(DESTRUCTIONS_INSERT + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        list(destruction_row(node, site, seq, n, m, verdict)))

    # reads ----------------------------------------------------------------------------------
    def stream(self, sql: str, params: list[Any], batch: int = 5000) -> Iterator[dict[str, Any]]:
        """The rows of ``sql`` as dicts, as they are read: never all of them in memory (central/pgstore.py:
        a server-side cursor, ``batch`` rows a round trip)."""
        cur = self.db.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row))

    # the auditor's month, a section at a time (central/month.py, design/0273): cursors, never a list
    def reading(self) -> contextlib.AbstractContextManager[Any]:
        """Reads that keep several cursors open side by side (central/report.each_camera_day): one
        transaction on PostgreSQL (central/pgstore.py); nothing on SQLite."""
        return contextlib.nullcontext()

    def audit_accesses(self, node: str, actions: Sequence[str], start_us: int, end_us: int, *,
                       by_time: bool = False) -> Iterator[dict[str, Any]]:
        """The node's audit records of ``actions`` at [start, end), in its order (``by_time``: by
        their time), as they are read."""
        ph = ",".join("?" * len(actions))
        return self.stream(f"SELECT * FROM audit WHERE node = ? AND action IN ({ph}) AND at_us >= ? AND at_us < ?"
                           f" ORDER BY {'at_us, ' if by_time else ''}seq_local", [node, *actions, start_us, end_us])

    def alarms_between(self, node: str, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
        """The node's alarms open at some time of [start, end), oldest first, as they are read."""
        return self.stream("SELECT * FROM alarms WHERE node = ? AND raised_us < ? AND"
                           " (cleared_us IS NULL OR cleared_us >= ?) ORDER BY raised_us, id", [node, end_us, start_us])

    def destruction_days(self, node: str, first_day: str, last_day: str, *,
                         stream: bool = False) -> Iterator[dict[str, Any]]:
        """The node's camera-day summaries of destructions (verdict, reason) of local days [first,
        last], by day (``stream``: as they are read)."""
        sql, params = ("SELECT * FROM destruction_days WHERE node = ? AND day >= ? AND day <= ? ORDER BY day, camera",
                       [node, first_day, last_day])
        return self.stream(sql, params) if stream else self.db.query(sql, params)

    def destroyed_cameras(self, node: str, first_day: str, last_day: str) -> list[str]:
        """The cameras the node destroyed footage of on local days [first, last]."""
        return [r["camera"] for r in self.db.query("SELECT DISTINCT camera FROM destruction_days WHERE node = ? AND"
                                                   " day >= ? AND day <= ? ORDER BY camera", [node, first_day, last_day])]

    def inspection_runs(self, node: str, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
        """The node's inspection runs at [start, end), oldest first."""
        return self.db.query("SELECT * FROM inspections WHERE node = ? AND ran_us >= ? AND ran_us < ? ORDER BY ran_us",
                             [node, start_us, end_us])

    def findings_between(self, site: str, start_us: int, end_us: int,
                         kinds: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """The site's findings about [start, end) (of ``kinds``: all), newest first as ``findings()``
        lists them, as they are read, without the 100,000 rows' limit."""
        sql = "SELECT * FROM findings WHERE site = ? AND coalesce(about_us, found_us) >= ? AND coalesce(about_us, found_us) < ?"
        params: list[Any] = [site, start_us, end_us]
        if kinds is not None:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += list(kinds)
        for r in self.stream(sql + " ORDER BY id DESC", params):
            yield finding_words.read(r)

    def nodes(self, site: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM nodes", []
        if site:
            sql, params = sql + " WHERE site = ?", [site]
        return list(self.db.query(sql + " ORDER BY node", params))

    def retained_of(self, node: str) -> dict[str, Any]:
        """{"status": text, "birth": dict, "state": dict, "cameras": {id: dict}} as last said."""
        out: dict[str, Any] = {"status": None, "birth": None, "state": None, "cameras": {}}
        for r in self.db.query("SELECT topic, what, payload, received_us FROM retained WHERE node = ?", [node]):
            if r["what"] == "status":
                out["status"] = r["payload"] or None
                continue
            try:
                body = json.loads(r["payload"]) if r["payload"] else None
            except ValueError:
                body = None
            if r["what"] == "camera":
                out["cameras"][r["topic"].rsplit("/", 2)[-2]] = body
            else:
                out[r["what"]] = body
        return out

    def findings(self, *, site: str | None = None, node: str | None = None, severity: str | None = None,
                 since_us: int | None = None, until_us: int | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM findings WHERE 1 = 1", list[str | int]()
        for col, val in (("site", site), ("node", node), ("severity", severity)):
            if val:
                sql += f" AND {col} = ?"
                params.append(val)
        if since_us is not None:
            sql += " AND coalesce(about_us, found_us) >= ?"
            params.append(since_us)
        if until_us is not None:
            sql += " AND coalesce(about_us, found_us) < ?"
            params.append(until_us)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [finding_words.read(r) for r in rows]

    def finding_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.db.query("SELECT node, severity, count(*) AS n FROM findings GROUP BY node, severity"):
            out.setdefault(r["node"], {})[r["severity"]] = r["n"]
        return out

    def open_alarms(self, site: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT a.* FROM alarms a JOIN nodes n ON n.node = a.node WHERE a.cleared_us IS NULL"
        params: list[Any] = []
        if site:
            sql += " AND n.site = ?"
            params.append(site)
        return list(self.db.query(sql + " ORDER BY a.raised_us", params))

    def rejected(self, node: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Messages turned away at ingest (schema, seq, quota), newest first."""
        sql, params = "SELECT * FROM rejected", []
        if node:
            sql, params = sql + " WHERE node = ?", [node]
        return list(self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))

    def unverified(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM messages WHERE verified = 0").fetchone()[0])

    def heads(self, node: str) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM heads WHERE node = ? AND valid = 1 ORDER BY seq_local, at_us",
                                  [node]))

    def audit_hash(self, node: str, seq_local: int) -> str | None:
        row = self.db.execute("SELECT hash FROM audit WHERE node = ? AND seq_local = ?", [node, seq_local]).fetchone()
        return None if row is None else row[0]
