"""A person resolves a segment flagged for a host clock that was behind (design/0059, issue 26):
the custodian, with a written reason, through the control operation `flags.resolve` (edgectl
flags resolve). The flag stays, shown as resolved (who, when, why) in the lists and the export
manifest's entries; the audit chain records it; the `segments_flagged` alarm clears when none is
left unresolved; the footage, its stamps and its row are untouched and retention still never
destroys it by age. A real catalog and the real watch; a FakeClock steps the wall clock."""

from __future__ import annotations

import json

import pytest

from edged.alarms import Alarms
from edged.cli import flags as ctl_flags
from edged.config import default_config
from edged.control.flags import FlagOps
from edged.control.operation import CatalogReader
from edged.control.protocol import RequestError
from edged.control.server import Caller
from edged.daemon.host_clock import HostClock
from edged.daemon.retention_runner import RetentionRunner
from storage import audit, cameras as camera_table
from storage.time import trusted_time as tt
from storage.footage import segments as segment_table
from storage.catalog import CatalogWriter, open_db
from storage.time.clock import FakeClock
from storage.export.plan import corrected_stamps
from tests.support.catalog import alarms, audit_rows, rows
from tests.test_host_clock import S, SETTLE, TRUE, YEAR, record
from storage import alarm_kinds as kinds

CUSTODIAN = Caller(os_user="ann", account="ann", roles=("custodian",))
YARD_ONLY = Caller(os_user="bob", account="bob", roles=("custodian",), cameras=("yard",))


async def test_a_custodian_resolves_flags_with_a_reason_and_the_footage_stays(tmp_path):
    cfg = default_config(tmp_path)
    data = cfg.storage.data_dir
    clock = FakeClock(TRUE, monotonic=100.0)
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: camera_table.sync(c.db, [{"id": cam, "name": cam, "url": "synthetic:", "enabled": 1}
                                                            for cam in ("door", "yard")], c.clock.now_us()))
        for seg in record(writer, clock, data, 2):      # a true run
            await seg
        clock.step(-H_BACK)
        for seg in record(writer, clock, data, 2):      # a run behind it (flagged at the next start)
            await seg
        clock.step(H_BACK + 60 * S)
        al = Alarms(writer, clock)
        host = HostClock(writer, al, clock, settle_us=SETTLE, sync=lambda: tt.Sync(True))
        await host.start()
        assert host.flagged == 2
        reader = CatalogReader(data)
        ops = FlagOps(writer, reader, host.recount, clock)
        listed = (await ops.listing({}, CUSTODIAN))["flags"]
        assert [r["id"] for r in listed] == [3, 4] and listed[0]["resolved_us"] is None

        with pytest.raises(RequestError, match="give a reason"):
            await ops.resolve({"ids": [3], "reason": "  "}, CUSTODIAN)
        with pytest.raises(RequestError, match="not a flagged, unresolved segment of your cameras: 1"):
            await ops.resolve({"ids": [1, 3], "reason": "checked"}, CUSTODIAN)   # 1 is not flagged: nothing done
        with pytest.raises(RequestError, match="3"):
            await ops.resolve({"ids": [3], "reason": "checked"}, YARD_ONLY)      # not the caller's camera
        with pytest.raises(RequestError, match="name the segment ids"):
            await ops.resolve({"reason": "checked"}, CUSTODIAN)
        assert host.flagged == 2 and audit_rows(open_db(data / "catalog.db"), "segments.flag_resolved") == []

        why = "watched both: the door's clock display reads a year earlier; the box's RTC battery is flat"
        got = await ops.resolve({"ids": [3], "reason": why}, CUSTODIAN)
        assert [r["id"] for r in got["resolved"]] == [3] and got["unresolved"] == 1 and host.flagged == 1
        (alarm,) = alarms(open_db(data / "catalog.db"), lambda r: r["kind"] == kinds.SEGMENTS_FLAGGED.name, active=True)
        assert json.loads(alarm["detail"])["segments"] == 1    # its count follows
        with pytest.raises(RequestError, match="3"):
            await ops.resolve({"ids": [3], "reason": "again"}, CUSTODIAN)        # resolved once
        got = await ops.resolve({"all": True, "camera": "door", "reason": "the same run"}, CUSTODIAN)
        assert [r["id"] for r in got["resolved"]] == [4] and got["unresolved"] == 0 and host.flagged == 0

        assert (await ops.listing({}, CUSTODIAN))["flags"] == []
        every = (await ops.listing({"all": True}, CUSTODIAN))["flags"]
        assert [(r["id"], r["resolved_by"], r["resolved_reason"]) for r in every] == [
            (3, "ann", why), (4, "ann", "the same run")]
        assert "flagged, resolved by ann at" in ctl_flags.resolution(every[0]) and why in ctl_flags.resolution(every[0])

        clock.advance(us=SETTLE)
        await host.tick()
        runner = RetentionRunner(cfg, writer, al, clock=clock, distrust=host.why_age_unjudged)
        assert (await runner.pass_once()).destroyed == 0    # a year "old" by its stamps: still never by age
        await host.tick()
        assert host.flagged == 0                             # the watch does not raise it again
    finally:
        await writer.close()

    db = open_db(data / "catalog.db")
    assert alarms(db, lambda r: r["kind"] == kinds.SEGMENTS_FLAGGED.name, active=True) == []
    (rec,) = [json.loads(r["detail"]) for r in audit_rows(db, "segments.flag_resolved")][:1]
    assert rec == {"segments": 1, "first_id": 3, "ids": [3], "cameras": ["door"], "reason": why}
    assert [r["actor"] for r in audit_rows(db, "segments.flag_resolved")] == ["ann", "ann"]
    assert audit.verify(db)[1] is None
    shown = {r["id"]: corrected_stamps(r) for r in segment_table.between(db, TRUE - 2 * YEAR, TRUE + YEAR, "door")}
    assert shown[1] == {} and shown[3]["flagged"] and shown[3]["resolved"]["by"] == "ann"
    assert shown[3]["resolved"]["reason"] == why and shown[4]["resolved"]["reason"] == "the same run"
    flags = {r["segment_id"]: r for r in rows(db, "restamps")}
    assert flags[3]["shift_us"] is None and flags[4]["shift_us"] is None   # still flagged: time unknown
    assert len(rows(db, "segments")) == 4 and all((data / r["path"]).exists() for r in rows(db, "segments"))
    assert rows(db, "destructions") == []


H_BACK = 365 * 86_400 * S
