"""Every op that names a camera keeps to the account's cameras (R4.2; issue 27): `hold
list/show`, `inspect list/show` and `camera set-reference` ignored the scope, so a lobby
custodian could re-baseline the evidence-room camera and clear its `camera_moved`. Two scoped
accounts against a real catalog."""

from __future__ import annotations

import asyncio
import types

import pytest

from edged.control.holds import HoldOps
from edged.control.inspections import InspectionOps
from edged.control.operation import CatalogReader
from edged.control.protocol import RequestError
from edged.config import CameraConfig
from edged.config.health import InspectionConfig
from edged.control.server import Caller
from edged.daemon.recording.supervisor import camera_row
from storage import cameras as camera_table, inspections
from storage.retention import holds
from storage.catalog import CatalogWriter
from storage.clock import FakeClock
from storage.layout import CATALOG_FILE

LOBBY = Caller(os_user="ann", account="lobby-custodian", roles=("custodian",), cameras=("lobby",))
EVIDENCE = Caller(os_user="bob", account="evidence-custodian", roles=("custodian",), cameras=("evidence",))
ROOT = Caller(os_user="root", uid=0)  # no account: the box's own reports, every camera


class Monitor:
    def __init__(self):
        self.rebaselined: list[str] = []

    async def set_reference(self, camera: str, actor: str) -> dict:
        self.rebaselined.append(camera)
        return {"camera": camera, "by": actor}


def test_two_scoped_accounts_see_and_touch_only_their_cameras(tmp_path):
    clock = FakeClock()
    now = clock.now_us()

    async def scenario():
        writer = CatalogWriter(tmp_path / CATALOG_FILE, clock)
        await writer.start()

        def fill(c) -> tuple[int, int]:
            camera_table.sync(c.db, [camera_row(CameraConfig(id=cam, name=cam, url=f"rtsp://127.0.0.1/{cam}")) for cam in ("lobby", "evidence")],
                              c.clock.now_us())
            common = dict(kind="evidence", from_us=now - 10**9, to_us=now, reason="r", case_ref="c", placed_by="x",
                          expires_us=now + 10**12, now=now)
            lobby = holds.add_hold(c.db, cameras=["lobby"], **common)["id"]
            evidence = holds.add_hold(c.db, cameras=["evidence"], **common)["id"]
            holds.add_hold(c.db, cameras=None, **common)  # every camera: no scoped account's alone
            ok = {"picture": {"ok": True}}
            run = inspections.add_run(c.db, kind="manual", due_us=None, ran_us=now, ran_by="x", records=[
                {"camera": "lobby", "items": ok, "ok": True, "anomalies": ""},
                {"camera": "evidence", "items": {"picture": {"ok": False}}, "ok": False, "anomalies": "moved"}])
            return lobby, evidence, run

        lobby_hold, evidence_hold, run = await writer.run(fill)
        try:
            reader = CatalogReader(tmp_path)
            hold_ops = HoldOps(writer, None, reader)
            monitor = Monitor()
            runner = types.SimpleNamespace(cfg=types.SimpleNamespace(inspection=InspectionConfig(
                register_due_day=0), cameras=(), site=types.SimpleNamespace(timezone=None)),
                deadlines=types.SimpleNamespace(tz=None))
            insp = InspectionOps(monitor, runner, reader, clock)

            assert [h["id"] for h in await hold_ops.hold_list({}, LOBBY)] == [lobby_hold]
            assert [h["id"] for h in await hold_ops.hold_list({}, EVIDENCE)] == [evidence_hold]
            assert len(await hold_ops.hold_list({}, ROOT)) == 3
            assert (await hold_ops.hold_show({"id": lobby_hold}, LOBBY))["cameras"] == ["lobby"]
            with pytest.raises(RequestError, match="hold not shown: lobby-custodian has no rights on evidence"):
                await hold_ops.hold_show({"id": evidence_hold}, LOBBY)

            seen = (await insp.listing({"from_us": 0, "to_us": now + 1}, LOBBY))["runs"]
            assert [[r["camera"] for r in x["records"]] for x in seen] == [["lobby"]]
            assert (seen[0]["cameras"], seen[0]["anomalies"]) == (1, 0)
            shown = await insp.show({"run": run}, EVIDENCE)
            assert [r["camera"] for r in shown["records"]] == ["evidence"] and shown["anomalies"] == 1
            assert len((await insp.show({"run": run}, ROOT))["records"]) == 2

            with pytest.raises(RequestError, match="reference not set: lobby-custodian has no rights on evidence"):
                await insp.set_reference({"camera": "evidence"}, LOBBY)
            await insp.set_reference({"camera": "evidence"}, EVIDENCE)
            return monitor.rebaselined
        finally:
            await writer.close()

    assert asyncio.run(scenario()) == ["evidence"]
