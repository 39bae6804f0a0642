"""The durable outbox: alarm, audit, retention and inspection messages (and command replies)
are written here before they are sent, and deleted only once the broker acknowledges them.

paho-mqtt keeps QoS 1 messages in memory only (resent after a reconnect, lost with the
process), so a restart while the uplink is down would lose them; this SQLite file (``<data_dir>/outbox.db``, WAL,
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

History (issue 43): an acknowledged message moves to the `sent` table, where it stays
``history_us`` (`[mqtt] outbox_history`, 14 days) after its PUBACK, so the central office can
ask for it again (the signed `cmd/resend`, mqtt/reporter.py) when it never reached the office:
a broker acknowledged it and then died, or an office instance that took it was killed. A
resend copies the rows back into `messages` byte for byte (the same seq and payload), and says
which seqs of the range it no longer has. The history counts against nothing: its bound is its age.

This module is the file and its SQL (design/0033); mqtt/outbox.py runs it on its own thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from storage.time.clock import SYSTEM, Clock

OUTBOX_FILE = "outbox.db"
ESSENTIAL = frozenset({"alarm", "audit"})  # kinds that may use the reserve past the bound
_SCHEMA_VERSION = 2
HISTORY_US = 14 * 86_400_000_000   # acknowledged messages kept for a resend ([mqtt] outbox_history)
PRUNE_EVERY_US = 60_000_000      # the history is pruned on an ack at most this often
RESEND_MAX = 100_000             # seqs one resend may cover


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
    text = json.dumps(rest, separators=(",", ":"), ensure_ascii=False)  # UTF-8: Chinese names as written
    return (ts if isinstance(ts, int) and not isinstance(ts, bool) else None), text


class Outbox:
    """Plain synchronous operations on outbox.db; only the outbox thread calls them."""

    def __init__(self, path: Path, limit: int, clock: Clock = SYSTEM, history_us: int = HISTORY_US):
        self.clock = clock
        self.history_us = history_us
        self._pruned_us = 0
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
        if version == 1:
            with self._tx():
                self._history_table()
                self.conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
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
            self.conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', ?)", [self.clock.now_us()])
            self._history_table()
            self.conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _history_table(self) -> None:
        self.conn.execute("""
            CREATE TABLE IF NOT EXISTS sent (
                seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
                acked_us INTEGER NOT NULL       -- its PUBACK; kept history_us after it
            )""")
        self.conn.execute("CREATE INDEX IF NOT EXISTS sent_acked ON sent(acked_us)")

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
        """Move acknowledged messages into the history, many in one transaction (a command's
        reply too: it has a seq the office counts, so it may be asked for again)."""
        seqs = list(seqs)
        deleted = 0
        now = self.clock.now_us()
        with self._tx():
            for i in range(0, len(seqs), 500):
                chunk = seqs[i:i + 500]
                marks = ",".join("?" * len(chunk))
                self.conn.execute(f"INSERT OR REPLACE INTO sent (seq, kind, topic, payload, acked_us)"
                                  f" SELECT seq, kind, topic, payload, ? FROM messages WHERE seq IN ({marks})",
                                  [now, *chunk])
                deleted += self.conn.execute(f"DELETE FROM messages WHERE seq IN ({marks})", chunk).rowcount
            if now - self._pruned_us >= PRUNE_EVERY_US:
                self._pruned_us = now
                self.conn.execute("DELETE FROM sent WHERE acked_us < ?", [now - self.history_us])
        self.count -= deleted
        if self.full and self.count * 10 <= self.limit * 9:
            self.full = False
        return deleted

    def resend(self, first: int, last: int) -> tuple[int, list[list[int]]]:
        """Put the history's messages first..last back in line to be sent again (the same seq and
        bytes); returns how many, and the ranges [a, b] of seqs below the counter it no longer has
        (older than the history, or never written: a refused put takes no seq)."""
        if last < first or last - first >= RESEND_MAX:
            raise ValueError(f"a resend covers 1 to {RESEND_MAX} seqs, not {first}..{last}")
        now = self.clock.now_us()
        with self._tx():
            cur = self.conn.execute("INSERT OR IGNORE INTO messages (seq, kind, topic, payload, correlation, queued_us)"
                                    " SELECT seq, kind, topic, payload, NULL, ? FROM sent WHERE seq BETWEEN ? AND ?",
                                    [now, first, last])
            requeued = cur.rowcount
            have = [r[0] for r in self.conn.execute(
                "SELECT seq FROM messages WHERE seq BETWEEN ? AND ? ORDER BY seq", [first, last])]
        self.count += requeued
        top = min(last, self.last_seq())
        missing: list[list[int]] = []
        expect = first
        for seq in [*have, top + 1]:
            if seq > expect and expect <= top:
                missing.append([expect, min(seq - 1, top)])
            expect = max(expect, seq + 1)
        return requeued, missing

    def requeue_since(self, since_us: int) -> int | None:
        """Put back in line every message acknowledged at or after ``since_us`` (the broker took
        it for a session that may have expired since: issue 53); returns the lowest seq put
        back, or None."""
        with self._tx():
            low = self.conn.execute("SELECT min(seq) FROM sent WHERE acked_us >= ?", [since_us]).fetchone()[0]
            if low is None:
                return None
            cur = self.conn.execute("INSERT OR IGNORE INTO messages (seq, kind, topic, payload, correlation, queued_us)"
                                    " SELECT seq, kind, topic, payload, NULL, ? FROM sent WHERE acked_us >= ?",
                                    [self.clock.now_us(), since_us])
        self.count += cur.rowcount
        return cast(int, low)

    def last_seq(self) -> int:
        return cast(int, self.conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0])

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
