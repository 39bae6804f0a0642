"""Which instance verifies which node (issue 43, design/0104): every live edged-central instance
on one PostgreSQL store holds its share of the nodes, by rendezvous hashing over the live
instances, so the shares move only as far as they must when an instance joins or leaves.

The pure part (``owner``, ``split``, ``live``) takes plain data and no clock. The shell
(``Membership``) is a thread with a connection of its own: it registers this instance in the
store's ``instances`` table, writes a heartbeat (the database's clock, so the instances' clocks
need not agree) with the instance's figures every HEARTBEAT_S, and reads back the live instances.
An instance is live while its heartbeat is younger than STALE_US and the connection that writes
it is still open (a killed instance's connection goes at once: its share moves at the others'
next heartbeat, not STALE_US later). The verifier's store (central/store/pgstore.py) takes and lets go
of the nodes' advisory locks as the live set says; the lock, not this hash, keeps a node to one
instance at a time while the shares move.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

log = logging.getLogger("edged.central")
HEARTBEAT_S = 2.0          # a heartbeat (and a sample of the instance's lock waits) this often
STALE_US = 15_000_000      # an instance whose heartbeat is older is taken for gone
FORGET_US = 86_400_000_000  # a gone instance's row is removed this long after its last heartbeat
DB_NOW = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"


# the pure part ----------------------------------------------------------------------------------
def weight(instance: str, node: str) -> int:
    """The node's score at one instance: the highest score among the live instances wins it."""
    return int.from_bytes(hashlib.sha256(f"{instance}\0{node}".encode()).digest()[:8], "big")


def owner(node: str, instances: Sequence[str]) -> str | None:
    """The live instance that verifies ``node`` (None while no instance is live)."""
    return max(instances, key=lambda i: (weight(i, node), i)) if instances else None


class Owners:
    """``owner``, remembered (a verifier's pass asks it of every node twice, a hash an instance
    each: issue 53): functools' LRU cache of the node and the live instances, at most MAX."""

    MAX = 100_000

    def __init__(self) -> None:
        self._owner = functools.lru_cache(maxsize=self.MAX)(owner)

    def __call__(self, node: str, instances: Sequence[str]) -> str | None:
        return self._owner(node, tuple(instances))


def split(nodes: Iterable[str], instances: Sequence[str]) -> dict[str, int]:
    """How many of ``nodes`` each instance holds."""
    out = dict.fromkeys(instances, 0)
    for n in nodes:
        o = owner(n, instances)
        if o is not None:
            out[o] += 1
    return out


def live(rows: Iterable[dict[str, Any]], now_us: int, connected: set[int]) -> tuple[str, ...]:
    """The live instances of ``rows`` (id, heartbeat_us, backend): a heartbeat younger than
    STALE_US and its connection still open (``connected``: the server's backend pids)."""
    return tuple(sorted(r["id"] for r in rows
                        if now_us - r["heartbeat_us"] < STALE_US and r["backend"] in connected))


# the shell --------------------------------------------------------------------------------------
class Membership:
    """This instance in the store's ``instances`` table, and the live instances as last read."""

    def __init__(self, url: str, instance: str, figures: Callable[[], dict[str, Any]],
                 on_read: Callable[[tuple[str, ...], list[dict[str, Any]]], None] | None = None):
        self.url, self.me, self.figures = url, instance, figures
        self.on_read = on_read  # (the live instances, every row) after each heartbeat: central/intake/takeover.py
        self.instances: tuple[str, ...] = (instance,)  # before the first read: this one alone
        self.lock_wait_s = 0.0  # sampled: HEARTBEAT_S for each heartbeat that found a session waiting
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def members(self) -> tuple[str, ...]:
        return self.instances

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="central-members", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        import psycopg

        conn = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                           application_name=f"edged-central {os.getpid()} members")
                self.beat(conn)
            except Exception as exc:  # noqa: BLE001 - the store is away: keep the last view and retry
                log.warning("instance heartbeat failed (%s); retrying in %g s", str(exc).strip()[:200], HEARTBEAT_S)
                conn = None
            self._stop.wait(HEARTBEAT_S)
        if conn is not None and not conn.closed:
            try:  # a clean stop: the others take this instance's share at their next heartbeat
                conn.execute("DELETE FROM instances WHERE id = %s", [self.me])
            except Exception:  # noqa: BLE001 - its heartbeat goes stale all the same
                pass
            conn.close()

    def beat(self, conn: Any) -> None:
        """One heartbeat: this instance's row, its figures, and the live instances read back."""
        from psycopg.types.json import Jsonb

        me = f"edged-central {os.getpid()}"  # this process's sessions (the store's, the verifier's, this one)
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE (application_name = %s OR application_name LIKE %s)"
            " AND wait_event_type = 'Lock'", [me, me + " %"]).fetchone()[0]
        if waiting:
            self.lock_wait_s += HEARTBEAT_S
        figures = {**self.figures(), "lock_wait_s": self.lock_wait_s}
        conn.execute(
            f"INSERT INTO instances (id, host, pid, backend, started_us, heartbeat_us, figures)"
            f" VALUES (%s, %s, %s, pg_backend_pid(), {DB_NOW}, {DB_NOW}, %s)"
            f" ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, backend = excluded.backend,"
            f" heartbeat_us = excluded.heartbeat_us, figures = excluded.figures,"
            f" started_us = CASE WHEN instances.pid = excluded.pid THEN instances.started_us"
            f" ELSE excluded.started_us END",
            [self.me, socket.gethostname(), os.getpid(), Jsonb(figures)])
        conn.execute(f"DELETE FROM instances WHERE heartbeat_us < {DB_NOW} - %s", [FORGET_US])
        live, rows, _now = read(conn)
        self.instances = live or (self.me,)
        if self.on_read is not None:
            self.on_read(live, rows)


def read(conn: Any) -> tuple[tuple[str, ...], list[dict[str, Any]], int]:
    """(the live instances, every instance's row, the database's clock) from a psycopg connection."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT id, host, pid, backend, started_us, heartbeat_us, figures FROM instances"
                           " ORDER BY id").fetchall()
        connected = {r["pid"] for r in cur.execute("SELECT pid FROM pg_stat_activity").fetchall()}
        now = cur.execute(f"SELECT {DB_NOW} AS now").fetchone()["now"]
    return live(rows, now, connected), rows, now
