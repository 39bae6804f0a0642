"""The desk's ZIP carries the office's receipt (issue 90 item 5; design/0375): a real export of real
segments signed by a box the office enrolled, its receipt made as edged-central makes it, served to
the desk's download page (edged/viewer/desk/exports.py, on a real aiohttp server) as the box's
`export.read` and `export.receipt` serve them; the ZIP unpacked and judged by the stand-alone
checker: CHECKED, "signing time corroborated by the office", with a list a day after the office's
time. Without the receipt (the box offline) the ZIP is the export as made, and reads NOT CHECKED
with that list (judged from its footage's end plus the wait, design/0374)."""

from __future__ import annotations

import asyncio
import base64
import io
import shutil
import types
import zipfile
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edged.rules.downloads import download_of
from edged.viewer.desk.app import Desk
from edged.viewer.desk.exports import Pages
from edged.viewer.desk.page import Ctx
from storage.export import evidence as export
from storage.export.origin import GRACE_US
from tests.test_clip_origin import (  # noqa: F401  (the fixtures: an office, two enrolled boxes, cam1's footage)
    checker, crl_file, fleet, genuine,
)
from tests.test_signing_time import HEARD, office_receipt

# the office's fleet of tests/test_clip_origin.py (ffmpeg's clip) and the checker in its own process (design/0473)
pytestmark = pytest.mark.process


class BoxDesk:
    """The box's export ops over a staged folder, as the desk reaches them (edged/control/export.py)."""

    def __init__(self, staged: Path) -> None:
        self.staged = staged
        self.asked: list[str] = []

    async def run(self, _ctx: Any, op: str, args: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(op)
        if op == "export.receipt":
            path = self.staged / export.RECEIPT
            return {"export": args["export"], "receipt": path.read_text() if path.exists() else None, "online": True}
        assert op == "export.read"
        data = (self.staged / args["file"]).read_bytes()
        return {"size": len(data), "data": base64.b64encode(data[int(args["offset"]):]).decode()}

    def render(self, _ctx: Any, _title: str, body: str, status: int = 200) -> web.Response:
        return web.Response(status=status, text=body)


def _zip_of(staged: Path) -> tuple[zipfile.ZipFile, list[str]]:
    """The desk's download of the export staged in `staged`, as made (its files then: no receipt)."""
    desk = BoxDesk(staged)
    pages = Pages(cast(Desk, desk))
    made = {"files": [{"name": f.name, "bytes": f.stat().st_size} for f in sorted(staged.iterdir())
                      if f.name != export.RECEIPT], "clips": [{"file": "cam1.mp4"}]}
    pages.made[3], pages.downloads[3] = ("carl", made), download_of(made)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await pages.download(request, cast(Ctx, types.SimpleNamespace(account="carl")))

    async def fetch() -> bytes:
        app = web.Application()
        app.router.add_post("/desk/exports/{id}/download", handler)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            r = await client.post("/desk/exports/3/download")
            assert r.status == 200, await r.text()
            return await r.read()
        finally:
            await client.close()
    return zipfile.ZipFile(io.BytesIO(asyncio.run(fetch()))), desk.asked


def test_the_desks_zip_carries_the_offices_receipt_and_verifies_with_it(fleet, genuine, tmp_path):
    staged = tmp_path / "staged"
    shutil.copytree(genuine, staged)
    office_receipt(fleet, staged)   # kept beside the staged export, as the box keeps it
    z, asked = _zip_of(staged)
    assert "export.receipt" in asked, asked
    assert f"export-3/{export.RECEIPT}" in z.namelist(), z.namelist()
    z.extractall(tmp_path / "out")
    crl = crl_file(fleet, HEARD + GRACE_US, "crl-zip-day-after-receipt.pem")
    code, j = checker(str(tmp_path / "out" / "export-3"), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 0 and j["signing_time"]["corroborated"] is True and j["unlisted"] == [], j


def test_without_the_receipt_the_zip_is_the_export_as_made(fleet, genuine, tmp_path):
    staged = tmp_path / "staged"
    shutil.copytree(genuine, staged)
    z, _ = _zip_of(staged)
    assert f"export-3/{export.RECEIPT}" not in z.namelist(), z.namelist()
    z.extractall(tmp_path / "out")
    crl = crl_file(fleet, HEARD + GRACE_US, "crl-zip-day-after-receipt.pem")
    code, j = checker(str(tmp_path / "out" / "export-3"), "--ca", str(fleet["ca"]), "--crl", str(crl))
    assert code == 3 and j["signing_time"]["corroborated"] is False, j
