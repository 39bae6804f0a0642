"""A box made of the box's own code, as the office hears it hour by hour (issue 86, design/0364): the
office's side, outages and deliveries in pieces are tests/support/time_fleet.py's; the box is not.

Its segments are rows of a real catalog (storage/footage/segment_rows.py); a step of its clock is
re-stamped as the host clock watch does it (storage/footage/restamps.py `shift` by
storage/time/trusted_time.py `restamp_shift`); each hour its retention takes what is past the maximum
by its corrected stamps (storage/retention/run.py `candidates`, `destroy`, on its own clock); it tells
of its footage (storage/retention/report.py `footage_since`) and reports its destructions
(`destructions_after`, edged/daemon/reporting.py `retention_messages`), each framed as its outbox
frames it (storage/outbox.py `frame`); it answers the office's time requests with
mqtt/office_time.py `answer_message`. Every instant given here is true time; the box's clock is true
time plus its offset then (`Plan.steps`); a step falls on a segment boundary (the recorder cuts there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edged.daemon.reporting import retention_messages
from mqtt import office_time
from storage import catalog, node as node_table
from storage.disk import layout
from storage.footage import restamps, segment_rows
from storage.outbox import frame
from storage.retention import run
from storage.retention.plan import Destroy, Limits, Policy
from storage.retention.report import FIRST_KEY, FOOTAGE_KEY, SPANS_KEY, destructions_after, footage_since
from storage.time import trusted_time as tt
from tests.support import time_fleet as tf

CAM = "cam"


class _BoxClock:
    def __init__(self, box: "RealBox"):
        self.box = box

    def now_us(self) -> int:
        return self.box.stamp(self.box.now)


class RealBox(tf.Fleet):
    """tf.Fleet's office and deliveries, with the box's own catalog, re-stamps, retention and reports."""

    def __init__(self, store: Any, clock: Any, verifier: Any, plan: tf.Plan, data_dir: Path):
        super().__init__(store, clock, verifier, plan)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.db = catalog.open_db(data_dir / "catalog.db")
        footage_since(self.db)  # its first call marks where the office's hearing starts (nothing yet)
        self.now = tf.T0
        self.applied = 0          # the steps re-stamped so far (Plan.steps in order)
        self.gone_mark = 0        # the newest destruction id reported
        self.restamped = 0        # segments re-stamped, as restamps.shift counted them
        self.record_until: int | None = None  # its cameras stop recording then (true time)
        self.alarm_every = False  # it raises a durable alarm each hour (a disk's health, say)

    def _step_due(self, t: int) -> None:
        """Re-stamp what was stamped before each step at or before ``t`` not yet re-stamped."""
        steps = sorted(self.plan.steps)
        while self.applied < len(steps) and steps[self.applied][0] <= t:
            at, _new = steps[self.applied]
            self.applied += 1
            before, after = self.offset(at - 1), self.offset(at)
            if before == after or at <= tf.T0:
                continue
            step = tt.Step(after - before, at - 1 + before, at + after, at_mono_us=at - tf.T0)
            with self.db.conn:
                self.restamped += restamps.shift(self.db, 0, restamps.newest_id(self.db), tt.restamp_shift(step),
                                                 at + after, {"step_us": step.size_us})

    def _send(self, kind: str, t: int, body: dict[str, Any]) -> None:
        self.seq += 1
        self.outbox.append((f"{tf.BASE}/{kind}", frame(self.seq, self.stamp(t), json.dumps(body))))

    def hour(self, t: int) -> None:
        seg = self.plan.segment_us
        while tf.T0 + (self.recorded + 1) * seg <= min(t, self.record_until or t):
            start = tf.T0 + self.recorded * seg
            self._step_due(start)
            a, b = self.stamp(start), self.stamp(start + seg - 1) + 1
            segment_rows.insert(self.db, [{"camera": CAM, "start_us": a, "end_us": b, "bytes": 10, "sha256": "0" * 64,
                                           "state": "complete", "source": "live", "created_us": a, "closed_us": b,
                                           "path": layout.segment_relpath(CAM, a)}])
            self.recorded += 1
        self._step_due(t)
        self.now = t
        if self.plan.announce:
            got = footage_since(self.db)
            spans_to = [r.pop(SPANS_KEY) for r in got if SPANS_KEY in r]
            for row in got:
                self._send("footage", t, row)
            if got:  # as edged/daemon/reporting.py `_footage` keeps its place
                node_table.set_values(self.db, {FOOTAGE_KEY: max(r["last_id"] for r in got),
                                                FIRST_KEY: got[-1]["first_id"],
                                                **({SPANS_KEY: spans_to[-1]} if spans_to else {})})
        if self.alarm_every:
            self._send("alarm", t, {"action": "raise", "id": f"disk-{t // tf.HOUR}", "kind": "disk_health"})
        if not any(a <= t < b for a, b in self.plan.stopped):
            limits = Limits(int(self.plan.min_days * tf.DAY), int(self.plan.max_days * tf.DAY))
            clock = _BoxClock(self)
            due, _cut = run.candidates(self.db, Policy(limits, {}, 0), [CAM], clock.now_us(), 0, set())
            if due:
                run.destroy(self.db, self.data_dir, [Destroy(s, "max_retention") for s in due], t // tf.HOUR,
                            unlink=lambda _p: None, clock=clock)
        gone = destructions_after(self.db, self.gone_mark, 100_000)
        if gone:
            self.gone_mark = gone[-1]["id"]
            for m in retention_messages(gone):
                self._send("retention", t, m)
            self.destroyed += len(gone)

    def answer(self, t: int) -> None:
        """The office's time request at ``t``, answered at once by the box's own answer (a second's round trip)."""
        nonce = f"n{t}"
        with self.store.writing(durable=False):
            tf.clock_samples.asked(self.store.db, [(tf.NODE, nonce, t)], t)
        question = {"nonce": nonce, "at_us": t}
        body = office_time.answer_message(question, self.key.sign, self.stamp(t + tf.S // 2), t - tf.T0 + tf.DAY, "b1")
        self.clock.now = t + tf.S
        self.store.ingest([(f"{tf.BASE}/clock", body)], t + tf.S)
        self.verifier.take_clock_samples()
        self.answered += 1

    def close(self) -> None:
        self.db.conn.close()
