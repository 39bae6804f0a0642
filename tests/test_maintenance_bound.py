"""A maintenance window ends by itself (issue 27): one left open held back all destruction for
ever. The bound is [maintenance] max_window (8 h); `maintenance_ending` warns before it, and the
end is on the record as the bound's. `--verify` is bounded too. Real catalog, a clock moved by hand."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import types

import pytest

from edged.alarms import Alarms
from edged.config.upkeep import MaintenanceConfig
from edged.daemon import maintenance as mt
from storage.catalog import CatalogWriter
from storage.time.clock import FakeClock
from storage.disk.layout import CATALOG_FILE
from tests.support.catalog import alarms, audit_rows, rows
from storage import alarm_kinds as kinds

H = 3600 * 1_000_000
M = 60 * 1_000_000


@pytest.mark.parametrize("elapsed,max_us,due,next_at", [
    (0, 8 * H, None, 8 * H - 30 * M),
    (7 * H + 29 * M, 8 * H, None, 8 * H - 30 * M),
    (7 * H + 30 * M, 8 * H, "warn", 8 * H),
    (8 * H, 8 * H, "end", 8 * H),
    (30 * M, 40 * M, "warn", 40 * M),  # a short bound warns in its last quarter
    (29 * M, 40 * M, None, 30 * M),
])
def test_window_due(elapsed, max_us, due, next_at):
    assert mt.window_due(1_000, 1_000 + elapsed, max_us) == (due, 1_000 + next_at)


def test_a_forgotten_window_warns_then_ends_on_the_record(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    clock = FakeClock()
    ended: list[bool] = []

    async def scenario():
        writer = CatalogWriter(data / CATALOG_FILE, clock)
        await writer.start()
        try:
            cfg = types.SimpleNamespace(storage=types.SimpleNamespace(data_dir=data),
                                        maintenance=MaintenanceConfig(max_window_us=2 * H),
                                        accounts=types.SimpleNamespace(keep_backups=3))
            m = mt.Maintenance(cfg, writer, Alarms(writer, clock), clock, after_end=lambda: ended.append(True))
            with pytest.raises(mt.MaintenanceError, match="at most 24h"):
                await m.begin("disk swap", "tech", verify_us=30 * 24 * H, attended_by="Wang")
            await m.begin("disk swap", "tech", attended_by="Wang")
            assert await m.check_bound() == 60.0 and m.protecting()
            clock.advance(2 * H - 29 * M)  # within the last half hour
            await m.check_bound()
            with sqlite3.connect(data / CATALOG_FILE) as db:
                warned = alarms(db, lambda r: r["kind"] == kinds.MAINTENANCE_ENDING.name, active=True)
            assert len(warned) == 1 and "ends by itself" in warned[0]["message"] and m.window is not None
            clock.advance(29 * M)
            await m.check_bound()
            assert m.window is None and m.protecting() is None and ended == [True]
        finally:
            await writer.close()

    asyncio.run(scenario())
    with sqlite3.connect(data / CATALOG_FILE) as db:
        db.row_factory = sqlite3.Row
        end = audit_rows(db, "maintenance.end")
        assert [(r["actor"], json.loads(r["detail"])["ended_by_bound"]) for r in end] == [("edged", True)]
        assert alarms(db, lambda r: r["kind"] == kinds.MAINTENANCE_ENDING.name, active=True) == []
        [row] = rows(db, "maintenance")
        assert row["ended_by"] == "edged" and "max_window" in row["end_note"]
