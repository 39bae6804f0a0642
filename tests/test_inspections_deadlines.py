"""Tracked deadlines with the daemon's own parts on a real catalog and an injected FakeClock
(issue 17 item 6): a month's inspection register not countersigned by the due day raises
`register_overdue`, which clears when the supervisor countersigns; the periodic audit falls due
N months after installation, `audit report --done` records it (and by whom) on the audit chain,
clears `audit_overdue`, and the report shows the settings in force."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from edged.alarms import Alarms
from edged.config import load_config
from edged.control.audit import AuditOps
from edged.control.operation import CatalogReader
from edged.control.protocol import RequestError
from edged.cli.audit import report_text
from edged.daemon.camera_states import CameraStates
from edged.daemon.health_monitor import HealthMonitor
from edged.daemon.inspection_runner import InspectionRunner
from storage import audit
from storage.catalog import CatalogWriter
from storage.time.clock import FakeClock
from tests.support.catalog import alarms, audit_rows
from tests.support.configs import MINIMAL, write
from storage import alarm_kinds as kinds

TAIPEI = ZoneInfo("Asia/Taipei")
H = 3600 * 1_000_000


def at(y, m, d, h=0, mi=0) -> int:
    return int(datetime(y, m, d, h, mi, tzinfo=TAIPEI).timestamp()) * 1_000_000


async def active(writer: CatalogWriter, key: str) -> list[dict]:
    return await writer.run(lambda c: alarms(c.db, lambda r: r["key"] == key, active=True))


async def test_a_late_register_and_an_overdue_audit_raise_and_clear(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    cfg = load_config(write(tmp_path, MINIMAL + f'[storage]\ndata_dir = "{data}"\n[inspection]\nregister_due_day = 5\n'
                                       '[audit]\nevery_months = 6\n[[cameras]]\nid = "door"\nurl = "rtsp://10.0.0.9/x"\n'
                                       '[cameras.health]\nmin_pixels = 0\n'))
    clock = FakeClock(at(2026, 10, 20, 10))
    writer = CatalogWriter(data / "catalog.db", clock)
    await writer.start()
    try:
        await writer.run(lambda c: audit.append(c.db, "root", "data.init", {}, at_us=clock.now_us()))  # installed
        al = Alarms(writer, clock)
        runner = InspectionRunner(cfg, writer, HealthMonitor(cfg, writer, al, CameraStates(clock), clock), al, clock)
        runner.deadlines.tz = TAIPEI
        run = await runner.run_now("manual", None, "tech")       # an inspection on 20 October

        clock.advance(at(2026, 11, 5, 23, 59) - clock.now_us())  # the last minute of the 5th: not late yet
        state = await runner.deadlines.check()
        assert state["registers_late"] == [] and not await active(writer, kinds.REGISTER_OVERDUE.name)
        clock.advance(at(2026, 11, 6) - clock.now_us())          # the 6th, 00:00: October's register is late
        state = await runner.deadlines.check()
        assert state["registers_late"] == [{"month": "2026-10", "due_us": at(2026, 11, 6), "runs": [run["id"]]}]
        late = (await active(writer, kinds.REGISTER_OVERDUE.name))[0]
        assert late["severity"] == "warning" and "2026-10 was due by 2026-11-05" in late["message"] and "edgectl" not in late["message"]

        await runner.sign(run["id"], "Chen", "tech", {})
        assert await active(writer, kinds.REGISTER_OVERDUE.name), "signed is not enough: the supervisor countersigns"
        await runner.countersign(run["id"], "Lin", "boss")        # done: the alarm clears at once
        assert not await active(writer, kinds.REGISTER_OVERDUE.name)

        # The audit: due six months after installation (20 October), by the end of 20 April.
        clock.advance(at(2027, 4, 20, 23) - clock.now_us())
        state = await runner.deadlines.check()
        assert state["audit_due_us"] == at(2027, 4, 21) and not await active(writer, kinds.AUDIT_OVERDUE.name)
        clock.advance(2 * H)
        await runner.deadlines.check()
        overdue = (await active(writer, kinds.AUDIT_OVERDUE.name))[0]
        assert "due by 2027-04-20" in overdue["message"] and "none is on record" in overdue["message"]

        ops = AuditOps(writer, CatalogReader(data, lambda: None), clock, cfg_of=lambda: cfg,
                       deadlines=runner.deadlines)
        await ops.report({"from_us": at(2026, 10, 1)}, "eth")   # read (a surprise check, 003 §13), not recorded
        assert await active(writer, kinds.AUDIT_OVERDUE.name), "only a recorded audit moves the due date"
        report = await ops.report({"from_us": at(2026, 10, 1), "done": {"name": "Auditor Wang", "note": "ok"}}, "eth")
        assert not await active(writer, kinds.AUDIT_OVERDUE.name)
        done = await writer.run(lambda c: audit_rows(c.db, "audit.done"))
        assert len(done) == 1 and done[0]["actor"] == "eth" and "Auditor Wang" in done[0]["detail"]
        assert report["settings"]["sha256"] in done[0]["detail"]
        assert report["deadlines"]["audit_due_us"] == at(2027, 10, 22)  # six months from the audit on 21 April
        assert report["deadlines"]["last_audit"]["by"] == "Auditor Wang"
        # The settings in force: retention per camera, policy, thresholds (the camera's own), hashes.
        s = report["settings"]
        door = s["in_force"]["cameras"][0]
        assert door["id"] == "door" and door["min_retention_us"] == cfg.retention.min_retention_us
        assert door["health"] == {"min_pixels": 0} and "url" not in door
        assert s["in_force"]["health"]["min_pixels"] == 1_000_000
        assert set(s["in_force"]["policy"]["kinds"]) == set(cfg.policy.kinds)
        assert len(s["config_file_sha256"]) == 64
        text = report_text(report)
        for part in ("Settings in force: retention", "Settings in force: cameras", "request policy",
                     "health thresholds", "Deadlines", "audit recorded as done by Auditor Wang", s["sha256"]):
            assert part in text, part
        ok = await writer.run(lambda c: audit.verify(c.db))
        assert ok[1] is None
        # An audit without a name is refused and records nothing.
        with pytest.raises(RequestError, match="name"):
            await ops.report({"from_us": at(2026, 10, 1), "done": {"name": " "}}, "eth")
        assert len(await writer.run(lambda c: audit_rows(c.db, "audit.done"))) == 1
    finally:
        await writer.close()
