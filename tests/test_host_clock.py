"""The host clock watch against a real catalog (design/0059): a box that booted two years
behind records, NTP steps it to the true time, then it steps back an hour. Retention destroys
nothing, each step is one host alarm and one audit record, what was recorded before a step is
re-stamped (the catalog keeps both stamps, the chain records it), and a camera's segments
never overlap in their corrected stamps. A FakeClock moves the wall clock; everything else is real."""

from __future__ import annotations

import json

from edged.alarms import Alarms
from edged.config import default_config
from edged.daemon import host_clock
from edged.daemon.host_clock import HostClock
from edged.daemon.recording.gaps import Gaps
from edged.daemon.recording.segment_rows import SegmentRows
from edged.daemon.retention_runner import RetentionRunner
from recorder import events
from storage import audit, cameras as camera_table, node as node_table
from storage.footage import restamps, segment_rows
from storage.footage import segments as segment_table
from storage.time import trusted_time as tt
from storage.catalog import CatalogWriter, open_db
from storage.time.clock import FakeClock
from storage.disk.layout import segment_relpath
from tests.support.catalog import alarms, audit_rows, rows

S = 1_000_000
H = 3600 * S
D = 86_400 * S
YEAR = 365 * D
TRUE = 1_790_000_000 * S
SETTLE = 60 * S


def record(writer: CatalogWriter, clock: FakeClock, data, n: int, camera: str = "door") -> None:
    """n segments of 10 s of the camera `door` (or `camera`), stamped by the (fake) host clock, written as
    they would be: the clock advances while each is recorded."""
    async def one() -> None:
        start = clock.now_us()
        path = segment_relpath(camera, start)
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).write_bytes(b"\0" * 1000)
        await writer.run(lambda c: segment_rows.open_row(c.db, camera, start, path, start))
        clock.advance(s=10)
        await writer.run(lambda c: segment_rows.close(c.db, path, {"end_us": start + 10 * S, "bytes": 1000}))
    return [one() for _ in range(n)]


def corrected_overlaps(db) -> list[tuple[int, int]]:
    """Overlaps among the segments placed in time by their corrected stamps (a flagged one's
    time is unknown: it is not placed)."""
    shift = {r["segment_id"]: r["shift_us"] for r in rows(db, "restamps")}
    segs = sorted(((r["start_us"] + shift.get(r["id"], 0), r["end_us"] + shift.get(r["id"], 0), r["id"])
                   for r in rows(db, "segments", lambda r: r["camera"] == "door")
                   if r["id"] not in shift or shift[r["id"]] is not None))
    return [(x[2], y[2]) for x, y in zip(segs, segs[1:]) if y[0] < x[1]]


async def test_steps_forward_two_years_and_back_an_hour_destroy_nothing_and_restamp(tmp_path):
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    clock = FakeClock(TRUE - 2 * YEAR, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        al = Alarms(writer, clock)
        host = HostClock(writer, al, clock, settle_us=SETTLE, sync=lambda: tt.Sync(False))
        await host.start()
        runner = RetentionRunner(cfg, writer, al, clock=clock, distrust=host.why_untrusted)
        for seg in record(writer, clock, data, 3):     # two years behind: stamped 2024-ish
            await seg
            assert await host.tick() is None
        assert (await runner.pass_once()).destroyed == 0

        clock.step(2 * YEAR)                           # NTP steps the clock to the true time
        assert "stepped 2.0 years forward just now" in host.why_untrusted()
        assert (await runner.pass_once()).destroyed == 0   # before the watch's next reading: nothing goes
        step = await host.tick()
        assert step is not None and step.size_us == 2 * YEAR
        assert host.untrusted() and (await runner.pass_once()).destroyed == 0
        for seg in record(writer, clock, data, 2):     # recording goes on, on the true clock
            await seg
            await host.tick()
        clock.advance(us=SETTLE)
        await host.tick()
        assert not host.untrusted()
        assert (await runner.pass_once()).destroyed == 0   # settled: the re-stamped footage is young

        clock.step(-H)                                 # and back one hour
        await host.tick()
        for seg in record(writer, clock, data, 2):
            await seg
            await host.tick()
        assert (await runner.pass_once()).destroyed == 0
    finally:
        await writer.close()

    db = open_db(data / "catalog.db")
    steps = alarms(db, lambda r: r["kind"] == "host_clock_step")
    assert [a["detail"] and json.loads(a["detail"])["step_us"] for a in steps] == [2 * YEAR, -H]
    assert alarms(db, lambda r: r["kind"] == "clock_drift") == []
    assert len(audit_rows(db, "host.clock_step")) == 2
    fixes = [json.loads(r["detail"]) for r in audit_rows(db, "segments.restamp")]
    M = tt.RESTAMP_MARGIN_US  # the correction errs toward a gap, never an overlap
    assert [(f["first_id"], f["last_id"], f["shift_us"]) for f in fixes] == [(1, 3, 2 * YEAR - M), (1, 5, -H - M)]
    got = {r["id"]: r["shift_us"] for r in restamps.corrected(db)}
    assert got == {1: 2 * YEAR - H - 2 * M, 2: 2 * YEAR - H - 2 * M, 3: 2 * YEAR - H - 2 * M, 4: -H - M, 5: -H - M}
    original = {r["id"]: r["start_us"] for r in rows(db, "segments")}
    assert original[1] == TRUE - 2 * YEAR                                             # the catalog keeps both
    assert corrected_overlaps(db) == []
    assert audit.verify(db)[1] is None
    assert len(rows(db, "segments")) == 7
    assert all((data / r["path"]).exists() for r in rows(db, "segments"))


def flagged_ids(db) -> list[int]:
    return [r["segment_id"] for r in rows(db, "restamps", lambda r: r["shift_us"] is None)]


async def test_a_step_back_across_a_restart_flags_the_new_runs_segments_until_ntp_corrects_it(tmp_path):
    """Restarted 5 s after a clean stop with the clock 20 s behind: the new run's first segments
    are stamped inside the last run's; they are flagged (one alarm), nothing placed overlaps,
    nothing is destroyed, and when NTP corrects the clock during the run they are re-stamped."""
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:  # the last run: 3 segments on a true clock, then a clean stop
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: tt.Sync(False))
        await host.start()
        for seg in record(writer, clock, data, 3):
            await seg
            await host.tick()
        await writer.run(lambda c: node_table.set_values(c.db, {"stopped_us": clock.now_us()}))
    finally:
        await writer.close()

    back = 20 * S
    clock = FakeClock(TRUE + 35 * S - back, monotonic=5.0)   # rebooted 5 s later, the clock 20 s behind
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        al = Alarms(writer, clock)
        host = HostClock(writer, al, clock, settle_us=SETTLE, sync=lambda: tt.Sync(False))
        await host.start()
        assert host.untrusted()                            # behind the record: one host_clock_step
        runner = RetentionRunner(cfg, writer, al, clock=clock, distrust=host.why_untrusted)
        for seg in record(writer, clock, data, 3):         # the first two inside what the last run recorded
            await seg
            await host.tick()
        assert host.flagged == 2
        clock.advance(us=SETTLE)
        await host.tick()
        assert (await runner.pass_once()).destroyed == 0
        db = open_db(data / "catalog.db")
        assert flagged_ids(db) == [4, 5] and corrected_overlaps(db) == []
        (alarm,) = alarms(db, lambda r: r["kind"] == "segments_flagged", active=True)
        assert json.loads(alarm["detail"])["segments"] == 2
        db.conn.close()

        clock.step(back)                                   # NTP corrects the clock during the run
        await host.tick()                                  # what this run recorded is re-stamped: true at last
        for seg in record(writer, clock, data, 1):
            await seg
            await host.tick()
    finally:
        await writer.close()

    db = open_db(data / "catalog.db")
    assert flagged_ids(db) == []
    assert {r["id"]: r["shift_us"] for r in restamps.corrected(db)} == {i: back - tt.RESTAMP_MARGIN_US for i in (4, 5, 6)}
    assert corrected_overlaps(db) == []
    assert alarms(db, lambda r: r["kind"] == "segments_flagged", active=True) == []
    assert len(alarms(db, lambda r: r["kind"] == "host_clock_step")) == 2
    flags = [json.loads(f["detail"])["ids"] for f in audit_rows(db, "segments.flagged")]
    assert flags == [[4], [5]]                               # each flagged as it was recorded
    fix = json.loads(audit_rows(db, "segments.restamp")[-1]["detail"])
    assert (fix["first_id"], fix["last_id"], fix["were_flagged"]) == (4, 6, 2)
    assert audit.verify(db)[1] is None
    assert len(rows(db, "segments")) == 7 and all((data / r["path"]).exists() for r in rows(db, "segments"))


async def test_at_start_footage_a_past_run_stamped_behind_the_one_before_is_flagged(tmp_path, monkeypatch):
    """A run two years behind that ended before NTP corrected its clock, after a true one: at
    the next start its segments are found (ids are given in recording order), flagged on the
    record with one host alarm, and kept by retention on the true clock. The detector reads the
    catalog in batches (two here) and retention judges no age until it has read it all; it keeps
    its place for the next run."""
    monkeypatch.setattr(host_clock, "ORDER_BATCH", 2)
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        for seg in record(writer, clock, data, 2):          # a true run (no watch: an edged before 0059)
            await seg
        clock.step(-2 * YEAR)
        for seg in record(writer, clock, data, 3):          # a run two years behind
            await seg
        clock.step(2 * YEAR + H)                            # the clock true again at this start
        al = Alarms(writer, clock)
        host = HostClock(writer, al, clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))
        await host.start()
        runner = RetentionRunner(cfg, writer, al, clock=clock, distrust=host.why_age_unjudged)
        assert "being checked (segment ids 2 of 5)" in host.why_age_unjudged() and not host.untrusted()
        await host.tick()
        await host.tick()
        assert host.flagged == 3 and host.caught_up()
        clock.advance(us=SETTLE)
        await host.tick()
        assert not host.untrusted() and host.why_age_unjudged() == ""
        assert (await runner.pass_once()).destroyed == 0   # two years "old" by their stamps: kept
        await host.tick()
        assert host.flagged == 3
        again = HostClock(writer, al, clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))  # the next run
        await again.start()
        assert again.caught_up() and again.flagged == 3
    finally:
        await writer.close()
    db = open_db(data / "catalog.db")
    assert flagged_ids(db) == [3, 4, 5]
    shown = segment_table.between(db, TRUE - 3 * YEAR, TRUE + D, "door")  # edgectl segments, exports
    assert [(r["id"], r["restamped"], r["shift_us"]) for r in shown] == [
        (3, 1, None), (4, 1, None), (5, 1, None), (1, 0, None), (2, 0, None)]
    assert [json.loads(f["detail"])["ids"] for f in audit_rows(db, "segments.flagged")] == [[3, 4], [5]]  # by batch
    assert audit.verify(db)[1] is None
    (alarm,) = alarms(db, lambda r: r["kind"] == "segments_flagged")
    assert json.loads(alarm["detail"])["segments"] == 3 and alarm["cleared_us"] is None
    assert len(rows(db, "segments")) == 5


async def test_a_restart_with_the_clock_a_third_of_a_second_behind_is_flagged_not_forgiven(tmp_path):
    """Under the step threshold and the history slack (no host_clock_step), but the new run's
    first segment shares 0.3 s with the last run's last one: it is flagged (design/0059, the
    slack is the jitter of two anchors, 0.1 s); the run after it is placed, no overlap."""
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))
        await host.start()
        for seg in record(writer, clock, data, 2):
            await seg
            await host.tick()
    finally:
        await writer.close()
    clock = FakeClock(TRUE + 20 * S - 300_000, monotonic=5.0)   # restarted at once, 0.3 s behind
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))
        await host.start()
        assert not host.untrusted()                             # no step the clock watch can see
        for seg in record(writer, clock, data, 2):
            await seg
            await host.tick()
        assert host.flagged == 1
    finally:
        await writer.close()
    db = open_db(data / "catalog.db")
    assert flagged_ids(db) == [3] and corrected_overlaps(db) == []
    assert alarms(db, lambda r: r["kind"] == "host_clock_step") == []
    (alarm,) = alarms(db, lambda r: r["kind"] == "segments_flagged", active=True)
    assert json.loads(alarm["detail"])["segments"] == 1


async def test_a_camera_first_on_record_in_a_run_stamped_behind_is_flagged_too(tmp_path):
    """The new run's clock is 20 s behind the last run's end; the camera `gate` records for the
    first time in this run, so it has nothing of its own to be compared with: its segments that
    begin before the last run's footage ended are flagged all the same (design/0059, the run's
    floor). The old detector compared each camera with its own footage only: none flagged."""
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(c.db, [{"id": cam, "name": cam, "url": "synthetic:", "enabled": 1}
                                                            for cam in ("door", "gate")], c.clock.now_us()))
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))
        await host.start()
        for seg in record(writer, clock, data, 2):
            await seg
            await host.tick()
    finally:
        await writer.close()
    clock = FakeClock(TRUE, monotonic=5.0)   # restarted at once, its clock 20 s behind the last end
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))
        await host.start()
        for seg in record(writer, clock, data, 3, camera="gate"):
            await seg
            await host.tick()
    finally:
        await writer.close()
    db = open_db(data / "catalog.db")
    gate = [r["id"] for r in rows(db, "segments", lambda r: r["camera"] == "gate")]
    assert flagged_ids(db) == gate[:2]     # 0-10 s and 10-20 s are before the floor; 20-30 s is not
    (alarm,) = alarms(db, lambda r: r["kind"] == "segments_flagged", active=True)
    assert json.loads(alarm["detail"])["segments"] == 2


def test_the_sync_reader_reads_this_machines_kernel_without_crashing():
    """The ctypes struct is the kernel's (208 bytes on 64-bit Linux); whatever this box says (a
    container without NTP says unsynchronised, maxerror 16 s), the answer is well formed."""
    import ctypes
    import platform

    got = host_clock.read_sync()
    assert got.synced in (True, False, None)
    if platform.system() == "Linux" and ctypes.sizeof(ctypes.c_long) == 8:
        assert ctypes.sizeof(host_clock._Timex) == 208
        assert got.source == "adjtimex" and isinstance(got.maxerror_us, int) and got.maxerror_us >= 0
        assert got.synced is (got.maxerror_us < tt.MAXERROR_UNSYNCED_US)


async def test_an_unsynchronised_host_clock_is_one_alarm_after_the_grace_and_clears_when_synchronised(tmp_path):
    data = default_config(tmp_path).storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    said = [tt.Sync(False, "adjtimex", 16_000_000, True)]
    try:
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: said[-1],
                         unsynced_grace_us=600 * S)
        await host.start()
        for _ in range(3):                              # within the grace: no alarm
            clock.advance(s=199)
            await host.tick()
        db = open_db(data / "catalog.db")
        assert alarms(db, lambda r: r["kind"] == "host_clock_unsynced") == []
        assert json.loads(rows(db, "node", lambda r: r["key"] == "host_clock")[0]["value"])["synced"] is False
        clock.advance(s=4)
        await host.tick()                               # 601 s after start
        await host.tick()                               # raised once, not again each reading
        (alarm,) = alarms(db, lambda r: r["kind"] == "host_clock_unsynced")
        assert alarm["cleared_us"] is None and json.loads(alarm["detail"])["maxerror_us"] == 16_000_000
        said.append(tt.Sync(True, "adjtimex", 40_000, False))   # chrony reached a server
        await host.tick()
        assert alarms(db, lambda r: r["kind"] == "host_clock_unsynced", active=True) == []
        state = json.loads(rows(db, "node", lambda r: r["key"] == "host_clock")[0]["value"])
        assert state["synced"] is True and state["since_us"] == clock.now_us()
        said.append(tt.Sync(None))                      # cannot tell: left as it is
        await host.tick()
        said.append(tt.Sync(False, "adjtimex", 16_000_000, True))   # its source gone: raised again at once
        await host.tick()
        assert len(alarms(db, lambda r: r["kind"] == "host_clock_unsynced", active=True)) == 1
        assert len(alarms(db, lambda r: r["kind"] == "host_clock_unsynced")) == 2
        from edged.cli.edgectl import host_clock_text  # edgectl status's line
        shown = json.loads(rows(db, "node", lambda r: r["key"] == "host_clock")[0]["value"])
        assert host_clock_text(shown).startswith("NOT synchronised since") and "16.0 s" in host_clock_text(shown)
        assert host_clock_text({**shown, "synced": True}).startswith("synchronised (adjtimex) since")
    finally:
        await writer.close()


async def test_a_site_without_ntp_on_purpose_has_no_unsynced_alarm_only_a_status_line(tmp_path):
    """`[time] ntp = false` (design/0059): the unsynchronised clock is said in `edgectl status`,
    never raised; an alarm raised before the setting (a reload) is cleared. Fails on the old
    code, which raised it after the grace whatever the site said."""
    data = default_config(tmp_path).storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    expected = [False]
    try:
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE,
                         sync=lambda: tt.Sync(False, "adjtimex", 16_000_000, True), unsynced_grace_us=600 * S,
                         ntp_expected=lambda: expected[-1])
        await host.start()
        for _ in range(4):
            clock.advance(s=400)
            await host.tick()
        db = open_db(data / "catalog.db")
        assert alarms(db, lambda r: r["kind"] == "host_clock_unsynced") == []
        shown = json.loads(rows(db, "node", lambda r: r["key"] == "host_clock")[0]["value"])
        from edged.cli.edgectl import host_clock_text
        assert shown["ntp_expected"] is False and "[time] ntp = false" in host_clock_text(shown)
        expected.append(True)                           # NTP expected again (a reload): raised
        await host.tick()
        assert len(alarms(db, lambda r: r["kind"] == "host_clock_unsynced", active=True)) == 1
        expected.append(False)                          # and off again: cleared at once
        await host.tick()
        assert alarms(db, lambda r: r["kind"] == "host_clock_unsynced", active=True) == []
    finally:
        await writer.close()


async def test_a_segment_whose_row_comes_after_the_restamp_gets_the_shift_it_missed(tmp_path):
    """A worker stamps a segment on the clock before a step, but its batch reaches the catalog
    only after the watch re-stamped for the step (seen on a loaded box): the row gets the shift
    when it is written, by the clock its worker says it stamped it on, on the audit chain; a
    segment stamped on the new clock gets none, and nothing is flagged or overlaps."""
    data = default_config(tmp_path).storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(
            c.db, [{"id": "door", "name": "door", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        host = HostClock(writer, Alarms(writer, clock), clock, settle_us=SETTLE, sync=lambda: tt.Sync(False))
        await host.start()
        rows_ = SegmentRows(writer, Gaps(writer), None, None, None, host.book)

        async def guarded(aw) -> bool:
            await aw
            return True

        async def arrives(start: int, basis: int) -> None:
            """The worker's batch: the segment's Opened, then its Closed 10 s later."""
            path = segment_relpath("door", start)
            (data / path).parent.mkdir(parents=True, exist_ok=True)
            (data / path).write_bytes(b"\0" * 1000)
            for ev in (events.Opened("door", path, start, clock.now_us(), basis),
                       events.Closed("door", path, start + 10 * S, "boundary", "0" * 64, clock.now_us(), 1000)):
                rows_.begin(0)
                if isinstance(ev, events.Opened):
                    await rows_.opened(ev, 0, None)
                else:
                    rows_.closed(ev, 0)
                await rows_.commit(0, guarded)

        for seg in record(writer, clock, data, 2):
            await seg
            assert await host.tick() is None
        late_start, late_basis = clock.now_us(), tt.basis(clock.now_us(), round(clock.monotonic() * S))
        clock.advance(s=10)
        clock.step(-H)                                  # the step, while the segment's batch is on its way
        assert (await host.tick()).size_us == -H        # re-stamps the two rows it can see
        await arrives(late_start, late_basis)           # then the row: stamped on the clock before the step
        now_start = clock.now_us()
        await arrives(now_start, tt.basis(now_start, round(clock.monotonic() * S)))  # on the new clock
        clock.advance(s=10)
        await host.tick()
    finally:
        await writer.close()

    db = open_db(data / "catalog.db")
    M = tt.RESTAMP_MARGIN_US
    fixes = [json.loads(r["detail"]) for r in audit_rows(db, "segments.restamp")]
    assert [(f["first_id"], f["last_id"], f["shift_us"], f.get("late")) for f in fixes] == [
        (1, 2, -H - M, None), (3, 3, -H - M, True)]
    assert {r["segment_id"]: r["shift_us"] for r in rows(db, "restamps")} == {1: -H - M, 2: -H - M, 3: -H - M}
    assert flagged_ids(db) == [] and corrected_overlaps(db) == []
    assert audit.verify(db)[1] is None


async def test_the_settling_warning_is_logged_once_an_episode(tmp_path, caplog):
    """Issue 79: the seconds left to settle count down at every pass; the warning is said once a
    reason while the clock may not judge age, and again in the next episode (43 lines in 4 minutes
    at 5 s passes before)."""
    cfg = default_config(tmp_path)
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(cfg.storage.data_dir / "catalog.db", clock)
    await writer.start()
    reasons = ["the host clock was stepped 1.0 h back just now"] + \
        [f"the host clock was stepped 1.0 h back; settling for another {s} s" for s in (60, 55, 50, 45)] + \
        ["", "the host clock was stepped 2.0 s forward; settling for another 60 s",
         "the host clock was stepped 2.0 s forward; settling for another 55 s"]
    now = iter(reasons)
    try:
        runner = RetentionRunner(cfg, writer, Alarms(writer, clock), clock=clock, distrust=lambda: next(now))
        for _ in reasons:
            runner._why_untrusted()
    finally:
        await writer.close()
    said = [r.getMessage() for r in caplog.records if "destroys nothing by age" in r.getMessage()]
    assert len(said) == 3, said  # the step, its settling (one line), the next episode's settling
