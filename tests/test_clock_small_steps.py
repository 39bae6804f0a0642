"""Steps of any size are the host's, and every record follows the true time (design/0096), against
a real catalog with a FakeClock moving the wall clock (everything else real: the host clock watch,
the recorder's run clock, the segment rows and the gap book, the retention runner).

1. An NTP source that steps +0.4 s every 15 s eight times, then -0.3 s: the watch sums the steps
   and counts a host step each time the sum passes a second, at the moment the recorder's run
   clock cuts for it; what came before is re-stamped, so no gap row says footage is missing where
   it was recorded, nothing is flagged, and no camera is blamed for drift: the cameras agree with
   each other against the host.
2. A box that booted two years behind records, places a hold, logs a gap and an alarm; NTP
   corrects it and edged keeps running past the settling time (more than 10 minutes): nothing it
   recorded is destroyed, and no record is left on the old clock.
"""

from __future__ import annotations

import json

from edged.alarms import Alarms
from edged.i18n import A_, Msg
from edged.config import default_config
from edged.daemon.host_clock import HostClock
from edged.daemon.recording.gaps import CLOCK_STEP, Gaps
from edged.daemon.recording.segment_rows import SegmentRows
from edged.daemon.retention_runner import RetentionRunner
from edged.rules import camera_clock
from recorder import events
from recorder.timeline import RunClock
from storage import audit_report, cameras as camera_table
from storage.footage import gaps as gap_table, restamps
from storage.time import trusted_time as tt
from storage.alarm_kinds import CAMERA_OFFLINE
from storage.catalog import CatalogWriter, open_db
from storage.time.clock import FakeClock
from storage.disk.layout import segment_relpath
from storage.retention.holds import add_hold
from tests.support.catalog import alarms, audit_rows, rows

S = 1_000_000
D = 86_400 * S
YEAR = 365 * D
TRUE = 1_790_000_000 * S


class Recorder:
    """One camera's run as recorder/camera.py records it: stamps from its run clock (anchored once,
    cut and moved by exactly the step when the host clock stepped more than a second since the
    anchor), a segment every 30 s on the media clock, its events through the segment rows."""

    def __init__(self, clock: FakeClock, data, rows_: SegmentRows, camera: str = "door"):
        self.clock, self.data, self.rows, self.camera = clock, data, rows_, camera
        wall, mono = clock.now_us(), self.mono()
        self.run = RunClock(wall - mono, wall, mono)
        self.path: str | None = None
        self.start = 0
        self.cuts: list[int] = []      # monotonic seconds of each cut for a host clock step

    def mono(self) -> int:
        return round(self.clock.monotonic() * S)

    async def _batch(self, ev) -> None:
        async def guarded(aw) -> bool:
            await aw
            return True

        self.rows.begin(0)
        if isinstance(ev, events.Opened):
            await self.rows.opened(ev, 0, None)
        else:
            self.rows.closed(ev, 0)
        await self.rows.commit(0, guarded)

    async def open(self) -> None:
        mono = self.mono()
        self.start = self.run.wall(mono)
        self.path = segment_relpath(self.camera, self.start)
        (self.data / self.path).parent.mkdir(parents=True, exist_ok=True)
        (self.data / self.path).write_bytes(b"\0" * 1000)
        await self._batch(events.Opened(self.camera, self.path, self.start, self.clock.now_us(), self.run.basis))

    async def close(self, reason: str) -> None:
        assert self.path is not None
        end = self.run.wall(self.mono())
        await self._batch(events.Closed(self.camera, self.path, end, reason, "0" * 64, self.clock.now_us(), 1000))

    async def reconnect(self) -> None:
        """A new run after an outage: a fresh anchor on the host clock as it is now."""
        wall, mono = self.clock.now_us(), self.mono()
        self.run = RunClock(wall - mono, wall, mono)
        await self.open()

    async def second(self) -> None:
        """A second of packets: cut at a host clock step, or at the 30 s boundary."""
        wall, mono = self.clock.now_us(), self.mono()
        if self.run.stepped(wall, mono):
            await self.close(CLOCK_STEP)
            self.cuts.append(mono // S)
            self.run = self.run.after_step(wall, mono)
            await self.open()
        elif self.run.wall(mono) - self.start >= 30 * S:
            await self.close("boundary")
            await self.open()


def flagged_ids(db) -> list[int]:
    return sorted(r["segment_id"] for r in rows(db, "restamps") if r["shift_us"] is None)


def corrected_overlaps(db) -> list[tuple[int, int]]:
    shift = {r["segment_id"]: r["shift_us"] for r in rows(db, "restamps")}
    segs = sorted((r["start_us"] + shift.get(r["id"], 0), r["end_us"] + shift.get(r["id"], 0), r["id"])
                  for r in rows(db, "segments") if r["end_us"] is not None)
    return [(x[2], y[2]) for x, y in zip(segs, segs[1:]) if y[0] < x[1] - tt.ORDER_SLACK_US]


async def test_small_steps_summed_are_host_steps_no_gap_no_flag_no_camera_blamed(tmp_path):
    data = default_config(tmp_path).storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        host = HostClock(writer, Alarms(writer, clock), clock, sync=lambda: tt.Sync(True))
        await host.start()
        cam = Recorder(clock, data, SegmentRows(writer, Gaps(writer), None, None, None, host.book))
        await cam.open()
        counted: list[tuple[int, int]] = []   # (monotonic second, size) of each host step the watch counts
        for t in range(1, 181):
            if t % 15 == 0 and t <= 120:
                clock.step(400_000)           # +0.4 s, eight times
            elif t == 135:
                clock.step(-300_000)          # then -0.3 s
            clock.advance(s=1)
            await cam.second()
            step = await host.tick()
            if step is not None:
                counted.append((cam.mono() // S, step.size_us))
        await cam.close("camera stopped")
        await host.tick()
    finally:
        await writer.close()

    # each 1.2 s of summed steps is one host step, at the second the recorder cut for it; the last
    # 0.5 s (+0.8 -0.3) passes no threshold, for the watch and the recorder alike
    assert [size for _t, size in counted] == [1_200_000, 1_200_000]
    assert [t for t, _size in counted] == cam.cuts
    db = open_db(data / "catalog.db")
    # one episode: one alarm, updated in place (design/0155); each step on the audit chain
    (alarm,) = alarms(db, lambda r: r["kind"] == "host_clock_step")
    assert {k: json.loads(alarm["detail"])[k] for k in ("step_us", "steps", "net_us")} == \
        {"step_us": 1_200_000, "steps": 2, "net_us": 2_400_000}
    assert gap_table.count_since(db, 0) == 0          # no gap row where footage was recorded
    assert flagged_ids(db) == [] and corrected_overlaps(db) == []
    assert alarms(db, lambda r: r["kind"] in ("clock_drift", "segments_flagged")) == []
    # the cameras' clocks are true; the host ran 2.9 s ahead of them: they agree, none is blamed
    skews = {"door": -2_900_000, "yard": -2_850_000, "gate": -2_950_000}
    tolerance = {c: 2 * S for c in skews}
    assert camera_clock.blamable(skews, tolerance, host_trusted=True) == {c: False for c in skews}
    # ... while one camera off on its own, against the others and the host, is
    assert camera_clock.blamable({"door": 30 * S, "yard": 0, "gate": 100_000}, tolerance, host_trusted=True) == \
        {"door": True, "yard": False, "gate": False}
    assert camera_clock.blamable({"door": 30 * S}, tolerance, host_trusted=True) == {"door": False}  # alone: no
    assert camera_clock.blamable({"door": 30 * S}, tolerance, True, host_corroborated=True) == {"door": True}
    assert camera_clock.blamable({"door": 30 * S, "yard": 0}, tolerance, host_trusted=False) == \
        {"door": False, "yard": False}


async def test_after_a_two_year_step_nothing_recorded_is_destroyed_and_no_record_stays_on_the_old_clock(tmp_path):
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    wrong = TRUE - 2 * YEAR
    clock = FakeClock(wrong, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        al = Alarms(writer, clock)
        host = HostClock(writer, al, clock, sync=lambda: tt.Sync(False))   # the real settling time, 10 min
        await host.start()
        runner = RetentionRunner(cfg, writer, al, clock=clock, distrust=host.why_untrusted)
        cam = Recorder(clock, data, SegmentRows(writer, Gaps(writer), None, None, None, host.book))
        await cam.open()
        for _ in range(90):                     # 90 s recorded two years behind
            clock.advance(s=1)
            await cam.second()
            await host.tick()
        at = clock.now_us()
        await writer.run(lambda c: add_hold(c.db, kind="evidence", cameras=None, from_us=at - 60 * S, to_us=at,
                                            reason="case", case_ref="c-1", placed_by="custodian",
                                            expires_us=at + 30 * D, now=at))
        await writer.run(lambda c: gap_table.add(c.db, "door", at - 20 * S, at - 10 * S, "the stream stalled"))
        await al.set(True, CAMERA_OFFLINE, Msg(A_("camera {camera}: offline"), camera="door"), camera="door")
        await cam.close("disconnect")           # the camera drops its session ...
        clock.step(2 * YEAR)                    # NTP corrects the clock
        await host.tick()
        clock.advance(s=5)
        await cam.reconnect()                   # ... and is back 5 s later: a gap filed after the correction
        for _ in range(11 * 60):                # and edged keeps running past the settling time
            clock.advance(s=1)
            await cam.second()
            await host.tick()
            if clock.monotonic() % 60 < 1:
                assert (await runner.pass_once()).destroyed == 0
        assert not host.untrusted()
        assert (await runner.pass_once()).destroyed == 0
        await cam.close("camera stopped")
    finally:
        await writer.close()

    db = open_db(data / "catalog.db")
    assert rows(db, "destructions") == []
    old = TRUE - D                              # anything before this is on the old clock
    assert [h for h in rows(db, "holds") if h["placed_us"] < old or h["expires_us"] < TRUE + 29 * D] == []
    assert [g for g in rows(db, "gaps") if g["from_us"] < old] == []
    (outage,) = [g for g in rows(db, "gaps") if g["reason"] == "disconnect"]
    assert 5 * S <= outage["to_us"] - outage["from_us"] <= 7 * S   # not two years
    assert [a for a in rows(db, "alarms") if a["raised_us"] < old] == []
    assert restamps.true_span(db)[0] >= old
    assert audit_report.first_record_us(db) is None or audit_report.first_record_us(db) >= old
    assert len(audit_rows(db, "records.restamp")) == 1
