"""A box as the central office hears it over weeks, hour by hour, for issue 73's cases (design/0310):
it records segments, tells of them in `footage` messages, destroys them by age in hourly retention
passes, answers the office's time requests while it is online (each answer made a clock sample
through the office's own path: central/verifier/clock_samples.py), and keeps its messages in its
outbox while it is offline, to deliver them when it is back, in as many pieces as a case asks,
with the verifier run between. Every instant here is true time; the box's clock is true time plus
its offset then (`steps`). The real store (SQLite or PostgreSQL) and the real verifier judge.

Runs on a tree without the exchange too (the figures before issue 73: bench/office_verdicts.py):
then the box's answers are not made samples, as that office would not.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Callable
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edged.daemon.reporting import retention_messages
from mqtt.commands import canonical
from storage.keys import nodekey

try:  # the office's side of the exchange (issue 73); absent before it
    from central.verifier import clock_samples
except ImportError:  # pragma: no cover - the figures before issue 73 only
    clock_samples = None  # type: ignore[assignment]

S = 1_000_000
HOUR = 3600 * S
DAY = 24 * HOUR
T0 = 1_795_000_000 * S - (1_795_000_000 * S) % DAY  # a midnight (UTC)
UTC = ZoneInfo("UTC")
NODE, BASE = "s/n1", "edged/v1/s/n1"


@dataclass
class Plan:
    """What the box does: its rules, its segments, when it is offline, when its retention pass
    stops, its clock's offset over time, and the segments it destroys at another age than the rule's."""
    days: int                                  # hours simulated: days * 24, from T0
    max_days: float = 30
    min_days: float = 30
    segment_us: int = 135 * S                  # 640 segments a day
    offline: list[tuple[int, int]] = field(default_factory=list)   # [from, to) of true time: no answers, no delivery
    stopped: list[tuple[int, int]] = field(default_factory=list)   # [from, to): its retention pass destroys nothing
    steps: list[tuple[int, int]] = field(default_factory=list)     # (from true time, offset of its clock from then)
    violate: dict[int, int] = field(default_factory=dict)          # segment index -> the true age it is destroyed at
    forge: bool = False                        # its record of those says it destroyed them at the rule's age
    pieces: int = 1                            # a backlog is delivered in this many pieces, the verifier between
    answer_after: int = 0                      # of those pieces, after how many the box's first answer is heard
    verify_every: int = 24                     # hours between the verifier's runs while online
    first_heard: int | None = None             # the office first hears the box then (its outbox held till then)
    announce: bool = True                      # it tells of its footage (`footage` messages)
    own_clock: bool = False                    # its retention judges age on its own clock (a box before issue 73)


class Fleet:
    """One box and the office hearing it (``store``: a Store or PgStore on ``clock``; ``verifier``)."""

    def __init__(self, store: Any, clock: Any, verifier: Any, plan: Plan):
        self.store, self.clock, self.verifier, self.plan = store, clock, verifier, plan
        self.key = nodekey.NodeKey(Ed25519PrivateKey.generate())
        self.seq = T0 - DAY   # the outbox's counter (a node's seqs are its microseconds when made)
        self.outbox: list[tuple[str, bytes]] = []
        self.segments: list[tuple[int, int]] = []  # (index, true end) not yet destroyed
        self.recorded = 0
        self.destroyed = 0
        self.answered = 0
        self.heard_once = False
        birth = {"ts_us": T0 - DAY, "session": 1, "config_hash": "a", "cameras": [{"id": "cam"}],
                 "public_key": self.key.public_b64,
                 "retention": {"min_days": plan.min_days, "max_days": plan.max_days}}
        self.outbox.append((f"{BASE}/birth", json.dumps(birth).encode()))

    # the box's clock and messages ---------------------------------------------------------------
    def offset(self, t: int) -> int:
        return ([0] + [o for at, o in sorted(self.plan.steps) if at <= t])[-1]

    def stamp(self, t: int) -> int:
        return t + self.offset(t)

    def _queue(self, kind: str, t: int, body: dict[str, Any]) -> None:
        self.seq += 1
        self.outbox.append((f"{BASE}/{kind}", json.dumps({"seq": self.seq, "ts_us": self.stamp(t), **body}).encode()))

    def online(self, t: int) -> bool:
        if self.plan.first_heard is not None and t < self.plan.first_heard:
            return False
        return not any(a <= t < b for a, b in self.plan.offline)

    def hour(self, t: int) -> None:
        """True time ``t`` (an hour's end): the hour's segments and their footage message, a retention pass."""
        seg = self.plan.segment_us
        first = self.recorded
        while T0 + (self.recorded + 1) * seg <= t:
            self.recorded += 1
            self.segments.append((self.recorded, T0 + self.recorded * seg))
        if self.recorded > first and self.plan.announce:
            a, b = first + 1, self.recorded
            self._queue("footage", t, {"first_id": a, "last_id": b, "from_us": self.stamp(T0 + first * seg),
                                       "to_us": self.stamp(T0 + b * seg), "segments": b - a + 1, "cameras": 1,
                                       "spans": {"cam": [[self.stamp(T0 + first * seg), self.stamp(T0 + b * seg),
                                                          "live"]]}})
        if any(a <= t < b for a, b in self.plan.stopped):
            return
        gone = []
        for sid, end in list(self.segments):
            age = self.stamp(t) - self.stamp(end) if self.plan.own_clock else t - end
            if age >= int(self.plan.violate.get(sid, self.plan.max_days * DAY)):
                self.segments.remove((sid, end))
                said = (self.stamp(end) + int(self.plan.max_days * DAY) if self.plan.forge and sid in self.plan.violate
                        else self.stamp(t))
                gone.append({"camera": "cam", "reason": "max_retention", "start_us": self.stamp(end - seg),
                             "end_us": self.stamp(end), "destroyed_us": said, "bytes": 10, "segment_id": sid,
                             "path": f"cam/{sid}.mp4", "sha256": "0" * 64, "pass_id": t // HOUR,
                             "free_before": None, "reserve": None})
        for m in retention_messages(gone):
            self._queue("retention", t, m)
        self.destroyed += len(gone)

    # the office ----------------------------------------------------------------------------------
    def answer(self, t: int) -> None:
        """The office's time request at ``t``, answered at once (a second's round trip)."""
        if clock_samples is None:
            return
        nonce = f"n{t}"
        with self.store.writing(durable=False):
            clock_samples.asked(self.store.db, [(NODE, nonce, t)], t)
        body = {"nonce": nonce, "at_us": t, "node_us": self.stamp(t + S // 2), "mono_us": t - T0 + DAY,
                "boot": "b1"}
        body["sig"] = base64.b64encode(self.key.sign(canonical(body))).decode()
        self.clock.now = t + S
        self.store.ingest([(f"{BASE}/clock", json.dumps(body).encode())], t + S)
        self.verifier.take_clock_samples()  # the office takes it (the verifier, every 2 s in the field)
        self.answered += 1

    def deliver(self, t: int) -> None:
        """The outbox, heard at ``t``: after an outage in `pieces`, the verifier run between, the
        box's first answer after `answer_after` of them."""
        msgs, self.outbox = self.outbox, []
        if not self.heard_once:  # its first contact: its birth and first pass (the office takes its key), an answer
            self.clock.now = t
            self.store.ingest(msgs, t)
            self.verify(t + S)
            self.heard_once = True
            self.answer(t + 2 * S)
            return
        back = len(msgs) > 40  # a backlog
        n = self.plan.pieces if back else 1
        cuts = [len(msgs) * k // n for k in range(n + 1)]
        for k in range(n):
            if back and k == self.plan.answer_after:
                self.answer(t + k * 2 * S)
            self.clock.now = t + k * 2 * S + S // 2
            self.store.ingest(msgs[cuts[k]:cuts[k + 1]], self.clock.now)
            if n > 1:
                self.verify(self.clock.now)
        if not back or self.plan.answer_after >= n:
            self.answer(t + n * 2 * S + S)

    def verify(self, t: int) -> None:
        self.clock.now = t
        self.verifier.run_once(t)

    def run(self, until_days: float | None = None, on_hour: Callable[[int], None] | None = None) -> None:
        hours = int((until_days if until_days is not None else self.plan.days) * 24)
        if self.online(T0):
            self.deliver(T0)  # heard before it records: its birth, its first pass, its first answer
        for h in range(1, hours + 1):
            t = T0 + h * HOUR
            self.hour(t)
            if self.online(t):
                self.deliver(t)
                if h % self.plan.verify_every == 0:
                    self.verify(t + 30 * S)
            if on_hour is not None:
                on_hour(t)
        self.verify(T0 + hours * HOUR + 60 * S)
        self.verify(T0 + hours * HOUR + 2 * HOUR)  # the watch runs at most hourly


def outcome(store: Any) -> dict[str, Any]:
    """What the office concluded: destructions by verdict, and the retention findings by kind and severity."""
    from central import finding_words
    from tests.support.catalog import central_destruction_days

    kinds: dict[str, int] = {}
    for f in store.findings(limit=100_000):
        if f["kind"] in finding_words.RETENTION or f["kind"] == "destruction_unverified":
            key = f"{f['kind']} ({f['severity']})"
            kinds[key] = kinds.get(key, 0) + 1
    return {"verdicts": central_destruction_days(store), "findings": kinds}
