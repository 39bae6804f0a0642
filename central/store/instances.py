"""The instances sharing a PostgreSQL store (issue 43, design/0104): this instance's row in the
store's ``instances`` table, its heartbeat, the live instances read back, a dead one's row marked
drained (central/intake/takeover.py). Moved here from central/intake/leases.py (issue 80: the
office's SQL is its store's; the rendezvous rules stay there, pure).

``Membership`` is a thread with a connection of its own: it registers this instance, writes a
heartbeat (the database's clock, so the instances' clocks need not agree) with the instance's
figures every HEARTBEAT_S, and reads back the live instances (central/intake/leases.py `live`).
PostgreSQL's own statements (the table exists on PostgreSQL only): psycopg's placeholders.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from central.intake import leases

log = logging.getLogger("edged.central")
DIALECT = "postgresql"  # every statement here: the table exists on PostgreSQL only
HEARTBEAT_S = 2.0          # a heartbeat (and a sample of the instance's lock waits) this often
FORGET_US = 86_400_000_000  # a gone instance's row is removed this long after its last heartbeat
DB_NOW = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
LOCK_WAITS = ("SELECT count(*) FROM pg_stat_activity WHERE (application_name = %s OR application_name LIKE %s)"
              " AND wait_event_type = 'Lock'")  # this instance's sessions waiting on a lock
BEAT = (f"INSERT INTO instances (id, host, pid, backend, started_us, heartbeat_us, figures)"
        f" VALUES (%s, %s, %s, pg_backend_pid(), {DB_NOW}, {DB_NOW}, %s)"
        f" ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, backend = excluded.backend,"
        f" heartbeat_us = excluded.heartbeat_us, figures = excluded.figures,"
        f" started_us = CASE WHEN instances.pid = excluded.pid THEN instances.started_us"
        f" ELSE excluded.started_us END")
FORGET = f"DELETE FROM instances WHERE heartbeat_us < {DB_NOW} - %s"
LEAVE = "DELETE FROM instances WHERE id = %s"
ROWS = "SELECT id, host, pid, backend, started_us, heartbeat_us, figures FROM instances ORDER BY id"
SESSIONS = "SELECT pid FROM pg_stat_activity"
NOW = f"SELECT {DB_NOW} AS now"
DRAINED = (f"UPDATE instances SET figures = coalesce(figures, '{{}}'::jsonb) || jsonb_build_object("
           f"%s::text, %s::text, 'session_drained_us', {DB_NOW}, 'session_drained', %s::bigint)"
           f" WHERE id = %s AND heartbeat_us = %s")


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
                conn.execute(LEAVE, [self.me])
            except Exception:  # noqa: BLE001 - its heartbeat goes stale all the same
                pass
            conn.close()

    def beat(self, conn: Any) -> None:
        """One heartbeat: this instance's row, its figures, and the live instances read back."""
        from psycopg.types.json import Jsonb

        me = f"edged-central {os.getpid()}"  # this process's sessions (the store's, the verifier's, this one)
        waiting = conn.execute(LOCK_WAITS, [me, me + " %"]).fetchone()[0]
        if waiting:
            self.lock_wait_s += HEARTBEAT_S
        figures = {**self.figures(), "lock_wait_s": self.lock_wait_s}
        conn.execute(BEAT, [self.me, socket.gethostname(), os.getpid(), Jsonb(figures)])
        conn.execute(FORGET, [FORGET_US])
        live, rows, _now = read(conn)
        self.instances = live or (self.me,)
        if self.on_read is not None:
            self.on_read(live, rows)


def read(conn: Any) -> tuple[tuple[str, ...], list[dict[str, Any]], int]:
    """(the live instances, every instance's row, the database's clock) from a psycopg connection."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(ROWS).fetchall()
        connected = {r["pid"] for r in cur.execute(SESSIONS).fetchall()}
        now = cur.execute(NOW).fetchone()["now"]
    return leases.live(rows, now, connected), rows, now


def mark_drained(url: str, mark: str, me: str, dead: str, seen: int, n: int) -> None:
    """The dead instance's row marked drained by ``me`` (``mark``: the figure's name; n messages
    taken), unless its instance came back meanwhile (its heartbeat is no longer ``seen``)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(DRAINED, [mark, me, n, dead, seen])
