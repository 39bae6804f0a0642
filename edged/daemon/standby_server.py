"""The standby's side of a box's gap fetched back (design/0115): it serves what it recorded of a
box's cameras to that box only, over HTTPS with mutual TLS (edged/daemon/peers.py makes the
contexts and checks the other side's certificate).

A standby enrolled while it runs (design/0157): until its certificate from the office is there it
does not serve, says so in `edgectl status` (the node row's `standby_serving`) and in one
`standby_not_serving` alarm, and looks again every ENROL_POLL_S; once enrolled it serves, and a
certificate installed again later (re-enrolled) is loaded for the next connections, no restart.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from edged.alarms import Alarms
from edged.config import Config
from edged.daemon.office_crl import OfficeCrl
from edged.daemon.peers import CHUNK, NotEnrolled, peer_identity, server_context
from edged.daemon.served_ledger import ServedLedger
from edged.i18n import Msg, A_
from edged.rules import from_standby as rules
from storage import node as node_table
from storage.alarm_kinds import STANDBY_NOT_SERVING
from storage.catalog import CatalogWriter
from storage.footage import from_standby as store
from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM, Clock, wait_or_stop

if TYPE_CHECKING:  # aiohttp's server is imported by a standby that serves, off the loop (`run`, design/0286)
    from aiohttp import web

log = logging.getLogger("edged.daemon.peers")
ENROL_POLL_S = float(os.environ.get("EDGED_ENROL_POLL_S", "5"))  # how often a standby looks for its certificate
SERVING_KEY = "standby_serving"  # the node row's value: whether it serves its boxes, and why not


def _chain_stamp(data_dir: Path) -> tuple[tuple[int, int], ...]:
    """When the certificate, the CA and the key were last written (a re-enrolment changes them)."""
    out = []
    for name in (nodecert.CERT_FILE, nodecert.CA_FILE, nodekey.KEY_FILE):
        try:
            st = (data_dir / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)


class StandbyServer:
    def __init__(self, cfg: Callable[[], Config], writer: CatalogWriter, data_dir: Path, clock: Clock = SYSTEM,
                 crl: OfficeCrl | None = None, alarms: Alarms | None = None, poll_s: float = ENROL_POLL_S):
        self.cfg, self.writer, self.data_dir, self.clock = cfg, writer, Path(data_dir), clock
        self.crl = crl if crl is not None else OfficeCrl(self.data_dir)  # checked before serving any box
        self.alarms, self.poll_s = alarms, poll_s
        self.served = 0  # segments handed out since the start (status)
        self.ledger = ServedLedger(writer)  # each segment handed out on the audit chain, coalesced (design/0133)
        self.why_not: str | None = None  # why it does not serve, as last said

    async def run(self, stopping: asyncio.Event) -> None:
        listen = self.cfg().backfill.listen
        if listen is None:
            return
        ctx = await self._until_enrolled(stopping)
        if ctx is None:
            return
        await asyncio.to_thread(importlib.import_module, "aiohttp.web")  # off the loop, once (design/0286)
        from aiohttp import web

        await self.crl.load()
        app = web.Application()
        app.router.add_get("/v1/segments", self._segments)
        app.router.add_get("/v1/segment", self._segment)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, _, port = listen.rpartition(":")
        site = web.TCPSite(runner, host.strip("[]"), int(port), ssl_context=ctx)
        try:
            await site.start()
            log.info("serving the boxes it stands in for their gaps on %s (mutual TLS)", listen)
            await self._say(None)
            await asyncio.gather(self.ledger.run(stopping), self._reload_when_enrolled_again(ctx, stopping))
        except OSError as exc:  # the address is taken, or not this box's
            await self._say(str(exc))
        finally:
            await runner.cleanup()
            await self.ledger.flush(final=True)

    async def _until_enrolled(self, stopping: asyncio.Event) -> ssl.SSLContext | None:
        """The server's TLS context once the box has its certificate (None: edged is stopping)."""
        while True:
            try:
                return await asyncio.to_thread(server_context, self.data_dir)
            except (NotEnrolled, OSError, ssl.SSLError) as exc:
                await self._say(str(exc) or type(exc).__name__)
            if await wait_or_stop(stopping, self.poll_s, self.clock):
                return None

    async def _reload_when_enrolled_again(self, ctx: ssl.SSLContext, stopping: asyncio.Event) -> None:
        """A certificate installed again (`edgectl enrol --install`) serves the next connections."""
        stamp = await asyncio.to_thread(_chain_stamp, self.data_dir)
        while not await wait_or_stop(stopping, self.poll_s, self.clock):
            now = await asyncio.to_thread(_chain_stamp, self.data_dir)
            if now == stamp:
                continue
            stamp = now
            try:
                await asyncio.to_thread(server_context, self.data_dir)  # the new files load together: then use them
                await asyncio.to_thread(self._load, ctx)
            except (NotEnrolled, OSError, ssl.SSLError) as exc:
                log.error("the standby's new certificate does not load: %s; it serves with the one before", exc)
                continue
            log.info("the standby's certificate was installed again: serving with it from now on")

    def _load(self, ctx: ssl.SSLContext) -> None:
        folder = self.data_dir
        ctx.load_cert_chain(folder / nodecert.CERT_FILE, folder / nodekey.KEY_FILE)
        ctx.load_verify_locations(cafile=folder / nodecert.CA_FILE)

    async def _say(self, why: str | None) -> None:
        """Whether it serves its boxes: the node row for `edgectl status`, and the alarm."""
        if why == self.why_not and why is not None:
            return
        first = self.why_not is None and why is not None
        self.why_not = why
        value = json.dumps({"serving": why is None, "why": why, "since_us": self.clock.now_us()})
        await self.writer.run(lambda c: node_table.set_values(c.db, {SERVING_KEY: value}))
        if why is not None and first:
            log.error("the standby cannot serve its boxes their gaps: %s", why)
        if self.alarms is None:
            return
        if why is None:
            await self.alarms.clear(STANDBY_NOT_SERVING.key())
        else:
            await self.alarms.raise_(STANDBY_NOT_SERVING, Msg(A_(
                "this standby cannot hand its boxes what it recorded of their gaps: {why}"), why=why[:300]),
                {"why": why[:300]})

    def _box(self, request: web.Request) -> tuple[nodecert.Identity, frozenset[str]]:
        """The box asking, and the cameras it may have; 403 for anyone else."""
        from aiohttp import web  # loaded by `run` before any request: a look-up

        cfg = self.cfg()
        try:
            tls = request.transport.get_extra_info("ssl_object") if request.transport else None
            who = peer_identity(tls.getpeercert(binary_form=True) if tls else None, self.data_dir, self.clock.now_us(),
                                self.crl.crl)
        except nodecert.CertError as exc:
            raise web.HTTPForbidden(text=f"not an enrolled box of this site: {exc}") from None  # i18n: the journal's and another box's (machine to machine)
        if not rules.may_ask(who.site, who.node, cfg.site.id, cfg.standby.boxes):
            raise web.HTTPForbidden(text=f"{who.name} is not a box this standby stands in for")  # i18n: the journal's and another box's (machine to machine)
        return who, rules.cameras_for(who.node, ((c.id, c.box) for c in cfg.standby.cameras))

    async def _segments(self, request: web.Request) -> web.Response:
        from aiohttp import web  # loaded by `run` before any request: a look-up

        who, cameras = self._box(request)
        box = who.node
        camera = request.query.get("camera", "")
        try:
            from_us, to_us = int(request.query["from_us"]), int(request.query["to_us"])
        except (KeyError, ValueError):
            raise web.HTTPBadRequest(text="from_us and to_us: microseconds since the epoch") from None  # i18n: the journal's and another box's (machine to machine)
        if camera not in cameras:
            raise web.HTTPForbidden(text=f"camera {camera!r} is not one this standby records for {box}")  # i18n: the journal's and another box's (machine to machine)
        rows = await self.writer.run(lambda c: store.served(c.db, camera, from_us, to_us))
        writing = await self.writer.run(lambda c: store.writing_in(c.db, camera, from_us, to_us))
        return web.json_response({"node": self.cfg().site.node, "segments": rows, "writing": writing})

    async def _segment(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web  # loaded by `run` before any request: a look-up

        who, cameras = self._box(request)
        camera, path = request.query.get("camera", ""), request.query.get("path", "")
        row = await self.writer.run(lambda c: store.is_served(c.db, camera, path)) if camera in cameras else None
        if row is None:
            raise web.HTTPNotFound(text="no such segment of a camera this standby records for you")  # i18n: the journal's and another box's (machine to machine)
        self.served += 1
        await self.ledger.record(who.name, camera, int(row["id"]), int(row["bytes"] or 0))
        return web.FileResponse(self.data_dir / row["path"], chunk_size=CHUNK)
