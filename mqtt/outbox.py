"""The durable outbox: alarm, audit, retention and inspection messages (and command replies)
are written here before they are sent, and deleted only once the broker acknowledges them.

paho-mqtt keeps QoS 1 messages in memory only (FIELD-NOTES.md), so a restart while the
uplink is down would lose them; this SQLite file (``<data_dir>/outbox.db``, WAL,
synchronous=FULL) is what makes "never lose an alarm" true. It also holds the per-node
sequence counter and the command nonces seen, so neither resets on a restart.

Sequence numbers: one counter for every message of the node, raised in the same transaction
as the insert, so a number is never given twice and the central side sees any gap. A new
file starts the counter at the wall clock in microseconds: an outbox.db lost with the disk
restarts far above any number the old one gave (a jump the central side sees as a gap)
instead of reusing them. 64-bit, and below 2**53 for two centuries, so JSON readers in
JavaScript get exact values.

The bound (``outbox_max``): at the bound the outbox is "full" (reported through a callback
the daemon turns into an alarm) and refuses retention, inspection and reply messages; alarm
and audit messages still go in, into a reserve of a tenth of the bound (at least 100). Past
the reserve they are refused too. A refusal is never silent: the caller gets `OutboxFull`,
and the count of refused messages per kind is kept in the file and published in `state`.
The flag clears once the backlog is down to 90 % of the bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("edged.mqtt")
OUTBOX_FILE = "outbox.db"
ESSENTIAL = frozenset({"alarm", "audit"})  # kinds that may use the reserve past the bound
MAX_WAITING_PUTS = 10_000                  # callers waiting for a commit at once
_SCHEMA_VERSION = 1


def now_us() -> int:
    return time.time_ns() // 1000


class OutboxError(Exception):
    """The outbox could not store a message (disk full, I/O error, a damaged file)."""


class OutboxFull(OutboxError):
    """The outbox refused a message: it was NOT stored and will not be sent."""

    def __init__(self, kind: str, pending: int, limit: int):
        super().__init__(kind, pending, limit)
        self.kind, self.pending, self.limit = kind, pending, limit

    def __str__(self) -> str:
        return (f"MQTT outbox full ({self.pending} messages waiting, bound {self.limit}): "
                f"{self.kind} message refused")


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    kind: str
    topic: str
    payload: bytes
    correlation: bytes | None = None  # MQTT v5 correlation data of a command reply


def frame(seq: int, ts_us: int, body_json: str) -> bytes:
    """Put seq and ts_us first in an already-serialized JSON object."""
    inner = body_json[1:-1].strip()
    return (f'{{"seq":{seq},"ts_us":{ts_us}' + (f",{inner}" if inner else "") + "}").encode()


def encode_body(body: dict[str, Any]) -> tuple[int | None, str]:
    """Serialize on the caller's side, so a later change to the dict cannot leak in and a
    value JSON cannot carry fails where it was passed; seq and ts_us are set by the outbox."""
    if not isinstance(body, dict):
        raise TypeError(f"an MQTT message body must be a dict, not {type(body).__name__}")
    ts = body.get("ts_us")
    rest = {k: v for k, v in body.items() if k not in ("seq", "ts_us")}
    return (ts if isinstance(ts, int) and not isinstance(ts, bool) else None), json.dumps(rest, separators=(",", ":"))


class Outbox:
    """Plain synchronous operations on outbox.db; only the outbox thread calls them."""

    def __init__(self, path: Path, limit: int):
        self.limit = limit
        self.hard_limit = limit + max(100, limit // 10)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self._migrate()
        self.count = self.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        self.refused = {r[0][len("refused:"):]: r[1] for r in
                        self.conn.execute("SELECT key, value FROM meta WHERE key LIKE 'refused:%'")}
        self.full = self.count >= self.limit

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= _SCHEMA_VERSION:
            return
        with self._tx():  # one statement at a time: executescript() would commit early
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            self.conn.execute("""
                CREATE TABLE IF NOT EXISTS messages (
                    seq INTEGER PRIMARY KEY,        -- the per-node sequence number in the payload
                    kind TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,          -- JSON, seq and ts_us included
                    correlation BLOB,               -- MQTT v5 correlation data (command replies)
                    queued_us INTEGER NOT NULL
                )""")
            self.conn.execute("CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_us INTEGER NOT NULL)")
            self.conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', ?)", [now_us()])
            self.conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    # messages -----------------------------------------------------------------------------
    def put_many(self, items: list[tuple[str, str, int | None, str, bytes | None]], at_us: int
                 ) -> list[int | OutboxFull]:
        """Store (kind, topic, ts_us, body_json, correlation) items in one transaction (one
        fsync for all); each gets its seq, or an OutboxFull if the bound refused it."""
        results: list[int | OutboxFull] = []
        count = self.count
        refused = dict(self.refused)
        with self._tx():
            last = self.conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0]
            rows = []
            for kind, topic, ts_us, body_json, correlation in items:
                if count >= (self.hard_limit if kind in ESSENTIAL else self.limit):
                    refused[kind] = refused.get(kind, 0) + 1
                    results.append(OutboxFull(kind, count, self.limit))
                    continue
                last += 1
                count += 1
                rows.append((last, kind, topic, frame(last, ts_us or at_us, body_json), correlation, at_us))
                results.append(last)
            self.conn.executemany("INSERT INTO messages (seq, kind, topic, payload, correlation, queued_us)"
                                  " VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", [last])
            for kind, n in refused.items():
                if n != self.refused.get(kind):
                    self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key)"
                                      " DO UPDATE SET value = excluded.value", [f"refused:{kind}", n])
        self.count, self.refused = count, refused
        if count >= self.limit or len(rows) < len(items):
            self.full = True
        return results

    def pending(self, after: int, limit: int) -> list[Message]:
        """The oldest messages with seq > after, in order."""
        cur = self.conn.execute("SELECT seq, kind, topic, payload, correlation FROM messages"
                                " WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit])
        return [Message(*row) for row in cur]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete acknowledged messages, many in one transaction."""
        seqs = list(seqs)
        deleted = 0
        with self._tx():
            for i in range(0, len(seqs), 500):
                chunk = seqs[i:i + 500]
                marks = ",".join("?" * len(chunk))
                deleted += self.conn.execute(f"DELETE FROM messages WHERE seq IN ({marks})", chunk).rowcount
        self.count -= deleted
        if self.full and self.count * 10 <= self.limit * 9:
            self.full = False
        return deleted

    def last_seq(self) -> int:
        return self.conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0]

    def stats(self) -> dict[str, Any]:
        return {"pending": self.count, "limit": self.limit, "full": self.full,
                "refused": dict(sorted(self.refused.items()))}

    # command nonces -----------------------------------------------------------------------
    def use_nonce(self, nonce: str, expires_us: int, at_us: int) -> bool:
        """Remember a command nonce until it expires; False if it was seen before (a replay)."""
        with self._tx():
            self.conn.execute("DELETE FROM nonces WHERE expires_us < ?", [at_us])
            cur = self.conn.execute("INSERT OR IGNORE INTO nonces (nonce, expires_us) VALUES (?, ?)",
                                    [nonce, expires_us])
            return cur.rowcount == 1


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the connection is in autocommit)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


@dataclass(slots=True)
class _Put:
    kind: str
    topic: str
    ts_us: int | None
    body_json: str
    correlation: bytes | None
    future: asyncio.Future


class OutboxWriter:
    """Runs every outbox call on one dedicated thread (as storage.catalog.CatalogWriter does),
    so the event loop never waits for an fsync. Puts that arrive while the thread is busy are
    committed together: one fsync for a burst, which is what lets an outage's backlog build
    and drain at thousands of messages a second."""

    def __init__(self, path: Path, limit: int, on_full: Callable[[bool], None] | None = None):
        self.path = path
        self.limit = limit
        self.on_full = on_full
        self.full = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mqtt-outbox")
        self._box: Outbox | None = None
        self._lock = threading.Lock()
        self._queued: list[_Put] = []
        self._slots = asyncio.Semaphore(MAX_WAITING_PUTS)

    def _open(self) -> Outbox:
        if self._box is None:
            try:
                self._box = Outbox(self.path, self.limit)
            except (sqlite3.Error, OSError) as exc:
                raise OutboxError(f"cannot open the MQTT outbox {self.path}: {exc}") from exc
        return self._box

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(outbox, *args)`` on the outbox thread (opening the file on first use)."""
        loop = asyncio.get_running_loop()

        def call() -> tuple[T, bool]:
            box = self._open()
            return fn(box, *args), box.full

        result, full = await loop.run_in_executor(self._pool, call)
        self._note_full(full)
        return result

    async def put(self, kind: str, topic: str, body: dict[str, Any], correlation: bytes | None = None) -> int:
        """Store one message durably; returns its seq once committed, or raises OutboxFull."""
        ts_us, body_json = encode_body(body)
        async with self._slots:
            loop = asyncio.get_running_loop()
            put = _Put(kind, topic, ts_us, body_json, correlation, loop.create_future())
            with self._lock:
                self._queued.append(put)
            # Shielded: once queued, the commit happens even if this caller is cancelled, so
            # the message is either stored and sent, or (OutboxFull) refused and counted.
            try:
                await asyncio.shield(self.run(self._commit_queued, loop))
            except OutboxError:
                with self._lock:  # the file did not open: this put must not go out later
                    self._queued = [p for p in self._queued if p is not put]
                raise
            return await put.future

    def _commit_queued(self, box: Outbox, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        if not batch:
            return  # an earlier call committed this caller's put with its own
        try:
            results: list[Any] = box.put_many(
                [(p.kind, p.topic, p.ts_us, p.body_json, p.correlation) for p in batch], now_us())
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
            results = [OutboxError(f"cannot write the MQTT outbox {self.path}: {exc}")] * len(batch)
        loop.call_soon_threadsafe(_settle, batch, results)

    async def ack(self, seqs: list[int]) -> int:
        return await self.run(Outbox.ack, seqs)

    async def pending(self, after: int, limit: int) -> list[Message]:
        return await self.run(Outbox.pending, after, limit)

    def _note_full(self, full: bool) -> None:
        if full != self.full:
            self.full = full
            if full:
                log.error("MQTT outbox full: %d messages wait for the broker; only alarm and audit messages "
                          "are still accepted", self.limit)
            else:
                log.info("MQTT outbox below its bound again")
            if self.on_full is not None:
                try:
                    self.on_full(full)
                except Exception:  # the daemon's callback must not stop reporting
                    log.exception("outbox-full callback failed")

    async def close(self) -> None:
        """Close the file; a later call reopens it (an alarm raised during shutdown is kept)."""
        def close() -> None:
            if self._box is not None:
                self._box.close()
                self._box = None
        await asyncio.get_running_loop().run_in_executor(self._pool, close)


def _settle(batch: list[_Put], results: list[Any]) -> None:
    for put, result in zip(batch, results):
        if put.future.done():
            continue  # the caller was cancelled; the message is stored all the same
        if isinstance(result, BaseException):
            put.future.set_exception(result)
        else:
            put.future.set_result(result)
