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
from edged.i18n import A_, Msg
from storage import cameras as camera_table
from storage.health import inspections
from storage.retention import holds
from storage.catalog import CatalogWriter
from storage.time.clock import FakeClock
from storage.disk.layout import CATALOG_FILE

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
            # scope first, and the answer of a hold that does not exist (issue 56)
            for op, what in ((hold_ops.hold_show, "hold not shown"), (hold_ops.hold_release, "hold not released"),
                             (hold_ops.hold_approve, "hold not approved"), (hold_ops.hold_extend, "hold not extended")):
                with pytest.raises(RequestError) as outside:
                    await op({"id": evidence_hold, "expires_us": now + 10**9, "reason": "r"}, LOBBY)
                with pytest.raises(RequestError) as nowhere:
                    await op({"id": 999, "expires_us": now + 10**9, "reason": "r"}, LOBBY)
                assert str(outside.value) == f"{what}: no hold {evidence_hold}", str(outside.value)
                assert str(nowhere.value) == f"{what}: no hold 999", str(nowhere.value)

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


def test_reads_keep_to_the_scope_as_if_the_rest_were_not_there(tmp_path):
    """Requests, grants and alarms (issue 45 item 3): a custodian of one camera reads neither
    another camera's requests (the requester's name, contact and reason) nor its alarms, and the
    answer for one is the answer for a request that does not exist; an account's and a request's
    alarms go only to the roles that act on them."""
    from edged.alarms import Alarms
    from edged.config import parse_config
    from edged.control.retrieval import RequestOps
    from edged.control.status import StatusOps
    from edged.rules import roles
    from storage import alarm_kinds
    from storage.people import retrieval_store

    clock = FakeClock()
    now = clock.now_us()
    cfg = parse_config({"site": {"id": "s1"}, "storage": {"data_dir": str(tmp_path)},
                        "cameras": [{"id": "lobby", "url": "rtsp://127.0.0.1:9/a"},
                                    {"id": "evidence", "url": "rtsp://127.0.0.1:9/b"}]})
    clerk = Caller(os_user="cl", account="clerk", roles=("viewer",), cameras=("lobby",))
    auditor = Caller(os_user="au", account="audrey", roles=("auditor",))

    async def scenario() -> None:
        writer = CatalogWriter(tmp_path / CATALOG_FILE, clock)
        await writer.start()
        try:
            def fill(c) -> dict[str, int]:
                camera_table.sync(c.db, [camera_row(cam) for cam in cfg.cameras], now)
                ids = {}
                for cam in ("lobby", "evidence"):
                    ids[cam] = retrieval_store.insert_request(c.db, {
                        "kind": "citizen", "state": "filed", "category": "dispute", "reason": f"seen at {cam}",
                        "cameras": [cam], "from_us": now - 10**9, "to_us": now, "mode": "view",
                        "requester_name": "Wang", "requester_contact": "0912", "filed_by": "someone",
                        "filed_us": now})
                return ids
            ids = await writer.run(fill)
            ops = RequestOps(cfg, writer, None, clock)
            assert [r["id"] for r in await ops.listing({}, LOBBY)] == [ids["lobby"]]
            assert (await ops.show({"id": ids["lobby"]}, LOBBY))["reason"] == "seen at lobby"
            with pytest.raises(RequestError) as outside:
                await ops.show({"id": ids["evidence"]}, LOBBY)
            with pytest.raises(RequestError) as nowhere:
                await ops.show({"id": 999}, LOBBY)
            assert str(outside.value) == str(nowhere.value).replace("999", str(ids["evidence"]))
            assert len(await ops.listing({}, ROOT)) == 2

            alarms = Alarms(writer, clock)
            await alarms.raise_(alarm_kinds.VIDEO_DARK, Msg(A_("dark")), camera="lobby")
            await alarms.raise_(alarm_kinds.VIDEO_DARK, Msg(A_("dark")), camera="evidence")
            await alarms.raise_(alarm_kinds.ACCOUNT_OPENED, Msg(A_("opened")), about="carol")
            status = StatusOps(lambda: cfg, writer, CatalogReader(tmp_path), clock)
            seen = {(a["kind"], a.get("camera")) for a in await status.alarms({}, clerk)}
            assert seen == {("video_dark", "lobby")}, seen
            seen = {(a["kind"], a.get("camera")) for a in await status.alarms({}, auditor)}
            assert ("account_opened", None) in seen and len(seen) == 3
            assert len(await status.alarms({}, ROOT)) == 3
        finally:
            await writer.close()
    asyncio.run(scenario())
    # the rule, pure: who reads which alarm
    assert not roles.sees_alarm(["custodian"], None, "account", None)
    assert roles.sees_alarm(["auditor"], ("lobby",), "request", None)
    assert not roles.sees_alarm(["viewer"], ("lobby",), "file", None)
    assert roles.sees_alarm(["viewer"], ("lobby",), "host", None)


def test_a_grant_outside_the_custodians_scope_is_no_grant_before_its_mode(tmp_path):
    """Issue 56: a lobby custodian using the evidence camera's view grant for a copy was told
    "grant N is for viewing, not a copy"; now the answer is that of a grant that does not exist."""
    from edged import people
    from edged.config import parse_config
    from storage.catalog import open_db
    from storage.people import retrieval_store
    from storage.people.retrieval_store import GrantError

    cfg = parse_config({"site": {"id": "s1"}, "storage": {"data_dir": str(tmp_path)},
                        "cameras": [{"id": "lobby", "url": "rtsp://127.0.0.1:9/a"},
                                    {"id": "evidence", "url": "rtsp://127.0.0.1:9/b"}]})
    db, now = open_db(tmp_path / CATALOG_FILE), FakeClock().now_us()
    camera_table.sync(db, [camera_row(cam) for cam in cfg.cameras], now)
    people.add_account(db, "lobby-custodian", "a-long-password-1", ["custodian"], ["lobby"], by="admin", reason="r",
                       now_us=now)
    request = retrieval_store.insert_request(db, {
        "kind": "citizen", "state": "approved", "category": "dispute", "reason": "r", "cameras": ["evidence"],
        "from_us": now - 10**9, "to_us": now, "mode": "view", "requester_name": "Wang", "filed_by": "x",
        "filed_us": now})
    grant = retrieval_store.insert_grant(db, {"request_id": request, "cameras": ["evidence"], "from_us": now - 10**9,
                                              "to_us": now, "mode": "view", "approver": "alice", "created_us": now,
                                              "expires_us": now + 10**12})
    answers = []
    for grant_id in (grant, 999):
        with pytest.raises(GrantError) as refused:
            people.use_grant(db, grant_id, custodian="lobby-custodian", watcher="Wang", mode="copy", now_us=now)
        answers.append(str(refused.value).replace(str(grant_id), "N"))
    assert answers[0] == answers[1] == "no grant N", answers


def test_the_viewers_playback_checks_the_scope_before_naming_a_grants_mode(tmp_path):
    """Issue 56: a lobby custodian's playback of the evidence camera's copy grant was told it is
    for a copy; now it is told what a grant that does not exist is told."""
    import json
    from types import SimpleNamespace
    from typing import cast

    from aiohttp import web

    from edged import people
    from edged.config import parse_config
    from edged.viewer.http import COOKIE
    from edged.viewer.server import Viewer
    from storage.people import retrieval_store

    cfg = parse_config({"site": {"id": "s1"}, "storage": {"data_dir": str(tmp_path)},
                        "cameras": [{"id": "lobby", "url": "rtsp://127.0.0.1:9/a"},
                                    {"id": "evidence", "url": "rtsp://127.0.0.1:9/b"}]})
    clock = FakeClock()
    now = clock.now_us()

    async def scenario() -> list[tuple[int, str]]:
        writer = CatalogWriter(tmp_path / CATALOG_FILE, clock)
        await writer.start()
        try:
            def fill(c) -> int:
                camera_table.sync(c.db, [camera_row(cam) for cam in cfg.cameras], now)
                people.add_account(c.db, "lobby-custodian", "a-long-password-1", ["custodian"], ["lobby"], by="admin",
                                   reason="r", now_us=now)
                request = retrieval_store.insert_request(c.db, {
                    "kind": "citizen", "state": "approved", "category": "dispute", "reason": "r",
                    "cameras": ["evidence"], "from_us": now - 10**9, "to_us": now, "mode": "copy",
                    "requester_name": "Wang", "filed_by": "x", "filed_us": now})
                return retrieval_store.insert_grant(c.db, {
                    "request_id": request, "cameras": ["evidence"], "from_us": now - 10**9, "to_us": now,
                    "mode": "copy", "approver": "alice", "created_us": now, "expires_us": now + 10**12})
            grant = await writer.run(fill)
            viewer = Viewer(cfg, writer, clock)
            s = await viewer.access.login("lobby-custodian", "a-long-password-1", client="192.0.2.5")
            answers = []
            for grant_id in (grant, 999):
                async def body(grant_id: int = grant_id) -> dict:
                    return {"grant": grant_id, "watcher": "Wang"}
                request = SimpleNamespace(cookies={COOKIE: s["token"]}, json=body)
                response = await viewer.playback(cast(web.Request, request))
                text = cast(bytes, response.body).decode()
                answers.append((response.status, json.loads(text)["error"].replace(str(grant_id), "N")))
            return answers
        finally:
            await writer.close()
    outside, nowhere = asyncio.run(scenario())
    assert outside == nowhere == (404, "no grant N"), (outside, nowhere)
