"""The register's month is the site's: `edgectl inspect list/report --month` asks the daemon for
the month, which bounds it in the site's zone ([site] timezone), as the desk's inspections page
does. edgectl bounded it in the host's zone, so on a host kept on UTC at a site in Asia/Taipei,
an inspection made on the 1st before 08:00 was in the month before for edgectl and in its own
for the desk (a fresh clone's run found it at 00:27 on 1 December, Taipei time)."""

from __future__ import annotations

import asyncio
import types
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from edged.config.health import InspectionConfig
from edged.control.inspections import InspectionOps
from edged.control.operation import CatalogReader
from edged.control.protocol import RequestError
from edged.control.server import Caller
from edged.viewer.desk.inspections import month_of as desk_month_of
from storage.catalog import CatalogWriter
from storage.disk.layout import CATALOG_FILE
from storage.health import inspections
from storage.time.clock import FakeClock

ROOT = Caller(os_user="root", uid=0)
# 16:27 UTC on 30 November is 00:27 on 1 December in Taipei
AT = int(datetime(2026, 11, 30, 16, 27, tzinfo=timezone.utc).timestamp() * 1_000_000)


def test_a_month_asked_for_is_bounded_in_the_sites_zone(tmp_path):
    clock = FakeClock(AT)

    async def scenario():
        writer = CatalogWriter(tmp_path / CATALOG_FILE, clock)
        await writer.start()
        await writer.run(lambda c: inspections.add_run(c.db, kind="manual", due_us=None, ran_us=AT, ran_by="x", records=[
            {"camera": "lobby", "items": {"picture": {"ok": True}}, "ok": True, "anomalies": ""}]))
        try:
            runner = types.SimpleNamespace(cfg=types.SimpleNamespace(inspection=InspectionConfig(
                register_due_day=0), cameras=(), site=types.SimpleNamespace(timezone="Asia/Taipei")),
                deadlines=types.SimpleNamespace(tz=None))
            ops = InspectionOps(None, runner, CatalogReader(tmp_path), clock)
            december = await ops.listing({"month": "2026-12"}, ROOT)
            november = await ops.listing({"month": "2026-11"}, ROOT)
            this = await ops.listing({"month": ""}, ROOT)
            roc = await ops.listing({"month": "115/12"}, ROOT)  # as the site's forms write it, as the desk takes it
            with pytest.raises(RequestError, match="write it as YYYY-MM"):
                await ops.listing({"month": "December"}, ROOT)
            return december, november, this, roc
        finally:
            await writer.close()

    december, november, this, roc = asyncio.run(scenario())
    assert len(december["runs"]) == 1 and november["runs"] == []
    assert this["month"] == "2026-12" and len(this["runs"]) == 1
    start = datetime.fromtimestamp(december["from_us"] / 1e6, timezone.utc)
    assert start == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)  # 1 December 00:00 in Taipei
    assert (roc["month"], roc["from_us"], roc["to_us"]) == (december["month"], december["from_us"], december["to_us"])
    # the desk's page bounds every month as the daemon does (one rule: edged/rules/deadlines.py typed_month)
    ctx = types.SimpleNamespace(tz=ZoneInfo("Asia/Taipei"), now_us=AT)
    for typed, answer in (("2026-12", december), ("115/12", roc), ("", this), ("2026-11", november)):
        assert desk_month_of(typed, ctx) == (answer["month"], answer["from_us"], answer["to_us"])
    assert desk_month_of("December", ctx) == desk_month_of("", ctx)  # the page shows this month, as before


def test_edgectl_takes_the_month_in_either_form_and_refuses_anything_else_before_asking():
    from edged.cli.display import UsageError
    from edged.cli.health import _month
    assert (_month("2026-11"), _month("115/11"), _month(None)) == ("2026-11", "115/11", "")
    with pytest.raises(UsageError, match="write it as YYYY-MM"):
        _month("November")
