"""An export's download at the desk counts as taken once its clips went out whole (issue 56,
design/0188): breaking each transfer just before its end kept it downloadable for ever (main:
10 of 10 broken tries started). The rule by a table, then the desk's download page on a real
aiohttp server whose transfers are cut, as a browser going away cuts them, inside the last piece."""

from __future__ import annotations

import asyncio
import base64
import types
from typing import Any, cast

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edged.rules.downloads import BUDGET, Download, download_of, zip_order
from edged.viewer.desk.app import Desk
from edged.viewer.desk.exports import Pages
from edged.viewer.desk.page import Ctx

PIECE = 64 * 1024
FILES = {"README.txt": b"r" * 900, "cam1-000.mp4": bytes(range(256)) * 1200, "manifest.json": b"{}" * 300}


def test_the_rule_counts_whole_clips_and_bytes_across_tries():
    files = [{"name": n, "bytes": len(b)} for n, b in sorted(FILES.items())]
    d = download_of({"files": files, "clips": [{"file": "cam1-000.mp4"}]})
    assert d.clips == {"cam1-000.mp4"} and d.size == sum(map(len, FILES.values()))
    assert [f["name"] for f in zip_order(files, d.clips)] == ["README.txt", "manifest.json", "cam1-000.mp4"]
    assert not d.taken()
    d.file_whole("README.txt")
    assert not d.taken(), "not footage"
    d.file_whole("cam1-000.mp4")
    assert d.taken(), "the clip went out whole"
    cut = Download(1000, frozenset({"c.mp4"}))
    for _ in range(BUDGET + 1):
        assert not cut.taken()
        cut.went_out(999)                     # each try broken one byte before its end
    assert cut.taken(), "the bytes of every try count: at most BUDGET + 1 tries"
    assert Download(10, frozenset(), ended=True).taken()


class CuttingDesk:
    """The desk's `export.read` over FILES; with `cut`, the browser goes away as the clip's last
    piece is read."""

    def __init__(self) -> None:
        self.request: web.Request | None = None
        self.cut = True

    async def run(self, _ctx: Any, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "export.receipt":  # the office's receipt (design/0375): none here, the box offline
            return {"export": args["export"], "receipt": None, "online": False}
        assert op == "export.read"
        data, offset = FILES[args["file"]], int(args["offset"])
        piece = data[offset:offset + PIECE]
        if self.cut and args["file"].endswith(".mp4") and offset + len(piece) >= len(data):
            assert self.request is not None and self.request.transport is not None
            self.request.transport.close()
        return {"size": len(data), "data": base64.b64encode(piece).decode()}

    def render(self, _ctx: Any, _title: str, body: str, status: int = 200) -> web.Response:
        return web.Response(status=status, text=body)


def test_a_download_broken_just_before_its_end_is_not_offered_for_ever():
    desk = CuttingDesk()
    pages = Pages(cast(Desk, desk))
    files = [{"name": n, "bytes": len(b)} for n, b in sorted(FILES.items())]
    pages.made[7] = ("carl", {"files": files, "clips": [{"file": "cam1-000.mp4"}]})
    pages.downloads[7] = download_of(pages.made[7][1])
    ctx = types.SimpleNamespace(account="carl")

    async def handler(request: web.Request) -> web.StreamResponse:
        desk.request = request
        return await pages.download(request, cast(Ctx, ctx))

    async def scenario() -> list[int]:
        app = web.Application()
        app.router.add_post("/desk/exports/{id}/download", handler)
        client = TestClient(TestServer(app))
        await client.start_server()
        started = []
        try:
            for _ in range(10):
                r = await client.post("/desk/exports/7/download")
                started.append(r.status)
                try:
                    await r.read()
                except aiohttp.ClientPayloadError:
                    pass   # the transfer broke off, as meant
                r.release()
        finally:
            await client.close()
        return started
    statuses = asyncio.run(scenario())
    print(f"broken downloads started: {statuses.count(200)} of 10")
    assert statuses.count(200) <= BUDGET + 1 and statuses[-1] == 409, statuses
