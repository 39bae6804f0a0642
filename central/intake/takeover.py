"""A dead instance's broker session, taken over by a live one (issue 53, design/0210).

In a shared group the broker deals each message to one member's session; a member killed
without a goodbye keeps its session until `[broker] session_expiry`, and the broker goes on
dealing it a share of every node's messages meanwhile (a third of them, with three instances),
then drops them with the session. Every box then had a gap to be asked for again (design/0180:
a box's resend held its node 36-62 s).

Every instance's heartbeat row in the store (central/store/instances.py) is named by its MQTT client id.
When an instance's row is no longer live (its store connection closed, or its heartbeat stale),
one live instance (the rendezvous owner of the dead id among the live ones, as a node's lease)
connects to the broker *as the dead member*: the same client id, clean start off, so the broker
hands it the dead session with everything queued there. It unsubscribes at once (the broker
deals it nothing new), stores and acknowledges what the session held exactly as its own
messages (central/ingest.py's store thread), and once nothing more comes and all is
acknowledged it disconnects with a session expiry of 0: the session is gone, the broker deals
the group's messages to the live members only. A drain cut short (this instance stopped or
died) leaves the session with its expiry, for the next owner to drain. It then marks the dead
row (its figures' `session_drained_by`), so the drain runs once a death; a restarted instance's
heartbeat writes its figures afresh.

An instance taken for dead that is not (its store connection lost, its broker connection fine)
takes its session back when the broker tells it that it was taken over (paho reconnects with
clean start off); the drain's connection is then closed by the broker and never retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from central.intake import leases, subscriber

log = logging.getLogger("edged.central")
CONNECT_S = 30.0   # the broker must hand the session over within this
QUIET_S = 1.0      # a drain ends once nothing came this long and everything that came is acknowledged
DRAIN_S = 600.0    # the longest a drain runs (a session holding a long outage's messages)
RETRY_S = 60.0     # a drain that failed (the broker refused the client id) is tried again this much later
MARK = "session_drained_by"


# the pure part ----------------------------------------------------------------------------------
def to_drain(rows: Iterable[dict[str, Any]], live: tuple[str, ...], me: str) -> list[tuple[str, int]]:
    """The dead instances whose sessions ``me`` drains: (client id, the heartbeat it was last seen
    at) for each row not live, not drained since, whose rendezvous owner among ``live`` is ``me``."""
    if me not in live:
        return []  # this instance is not live itself: the live ones do it
    return [(r["id"], r["heartbeat_us"]) for r in rows
            if r["id"] not in live and MARK not in (r.get("figures") or {}) and leases.owner(r["id"], live) == me]


# the shell --------------------------------------------------------------------------------------
class Takeover:
    """Drains dead members' sessions into ``put`` (central/ingest.py's `Ingest.put`)."""

    def __init__(self, settings: subscriber.Settings, marked: Callable[[str, str, str, int, int], None], me: str,
                 put: Callable[[subscriber.Subscriber, int, list[subscriber.Message]], None]):
        """``marked``: (the figure, this instance, the dead one, its last heartbeat, messages taken)
        written on the dead one's row in the store (central/store/instances.py `mark_drained`)."""
        self.settings, self.marked, self.me, self.put = settings, marked, me, put
        self.active: dict[str, subscriber.Subscriber] = {}
        self.failed: dict[str, float] = {}  # client id -> monotonic time a failed drain may be tried again
        self.drained = 0     # messages taken from dead members' sessions
        self.sessions = 0    # sessions drained
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def consider(self, live: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
        """After each heartbeat (central/store/instances.py's thread): start a drain for each dead member
        this instance owns that is not being drained already."""
        now = time.monotonic()
        for dead, seen in to_drain(rows, live, self.me):
            with self._lock:
                if self.stopping.is_set() or dead in self.active or self.failed.get(dead, 0.0) > now:
                    continue
                sub = subscriber.Subscriber(subscriber.Settings(
                    host=self.settings.host, port=self.settings.port, client_id=dead,
                    subscription=self.settings.subscription, username=self.settings.username,
                    password=self.settings.password, ca_file=self.settings.ca_file,
                    keepalive_s=self.settings.keepalive_s, session_expiry_s=self.settings.session_expiry_s,
                    drain=True), self._nowhere)
                sub.on_batch = self._into(sub)
                self.active[dead] = sub
            threading.Thread(target=self._run, args=(dead, seen, sub), name=f"central-drain-{dead}"[:40],
                             daemon=True).start()

    @staticmethod
    def _nowhere(_g: int, _b: list[subscriber.Message]) -> None:
        raise AssertionError("i18n: a drain's batch before its sink was set")

    def _into(self, sub: subscriber.Subscriber) -> Callable[[int, list[subscriber.Message]], None]:
        return lambda g, b: self.put(sub, g, b)

    def _run(self, dead: str, seen: int, sub: subscriber.Subscriber) -> None:
        began = time.monotonic()
        try:
            n = self.drain(sub)
            if n is None:
                log.warning("could not take over the broker session of instance %s, gone since its heartbeat "
                            "(%s); trying again in %g s", dead, sub.status, RETRY_S)
                self.failed[dead] = time.monotonic() + RETRY_S
                return
            self.mark(dead, seen, n)
            self.drained += n
            self.sessions += 1
            log.info("took over the broker session of instance %s, gone: %d messages queued to it stored, "
                     "the session ended (%.1f s)", dead, n, time.monotonic() - began)
        except Exception:  # noqa: BLE001 - the next heartbeat tries again
            log.exception("draining the session of instance %s failed", dead)
            self.failed[dead] = time.monotonic() + RETRY_S
        finally:
            with self._lock:
                self.active.pop(dead, None)

    def drain(self, sub: subscriber.Subscriber) -> int | None:
        """Connect as the dead member, take what its session holds, end it; the messages taken
        (None: the broker did not hand the session over)."""
        sub.start()
        ended = False
        try:
            deadline = time.monotonic() + CONNECT_S
            while not sub.unsubscribed.is_set():
                if sub.left.is_set() or time.monotonic() > deadline or self.stopping.is_set():
                    return None
                sub.unsubscribed.wait(0.1)
            deadline = time.monotonic() + DRAIN_S
            seen, quiet_since = -1, time.monotonic()
            while time.monotonic() < deadline and not sub.left.is_set() and not self.stopping.is_set():
                now = time.monotonic()
                if sub.received != seen:
                    seen, quiet_since = sub.received, now
                elif sub.acked >= seen and now - quiet_since >= QUIET_S:
                    ended = True
                    return seen
                time.sleep(0.1)  # a poll of the counters the network and store threads move
            return None
        finally:  # emptied: the session ends now; else it keeps its expiry and the next owner drains it
            sub.stop(end_session=ended)

    def mark(self, dead: str, seen: int, n: int) -> None:
        """The dead row, marked drained (unless its instance came back meanwhile): the store's
        (central/store/instances.py `mark_drained`, handed in as ``marked``)."""
        self.marked(MARK, self.me, dead, seen, n)

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            subs = list(self.active.values())
        for s in subs:
            s.stop()
