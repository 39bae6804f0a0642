"""A granted viewing's scrub timeline at the box (issue 42 item 6, design/0114): its bands and its
thumbnails, for the open playback view only and inside its grant.

`GET /api/view/{id}/strip?camera=C`: the grant's range for camera C as bands (footage, backfilled,
stood-in, gap, none) and its number of slots (edged/viewer/scrub.py).
`GET /api/view/{id}/thumb?camera=C&slot=N`: slot N's thumbnail, JPEG (204: no key frame there).
`POST /api/view/{id}/jump {"at": "115/11/24 14:30:05"}`: the viewing goes to a moment typed or
picked in the page's calendar, inside the grant (refused in words outside it; design/0113).

Each read checks what a segment read checks: the session's own open viewing, a camera of its
grant, a slot of its range, before the viewing's deadline; a refusal reads nothing. Each is on
the audit record through the ReadLedger (edged/control/reads.py: a record a minute per person,
action, camera and day; `footage.list` for the bands, `footage.thumbnail` for the pictures).
Thumbnails are decoded in a media worker process of the viewing's own (edged/viewer/thumb_read.py,
at a low priority), one at a time on the box, each slot at most once: the answer is cached
(a slot without a key frame too) and a slot asked for twice at once waits for the one decode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from edged.i18n import _, calendar, normalise, speaking, zone
from edged.viewer.frames import WorkerGone
from edged.viewer.media_client import Worker
from edged.viewer.playback import RecordedTrack
from edged.viewer.desk.app import LANG_COOKIE
from edged.viewer.scrub import THUMB_WIDTH, jump, moment_text, slot_bounds, slot_count, slot_pieces, strip, \
    thumb_refusal

log = logging.getLogger(__name__)

CACHE = 1024           # slots' answers kept (about 5 KB a thumbnail)
ANSWER_S = 10.0        # a worker silent this long on one thumbnail is killed


@dataclass(frozen=True)
class Reader:
    """Who reads, as the ReadLedger keys it: the account (the actor) and the session."""

    account: str
    token: str

    def __str__(self) -> str:
        return self.account


class Thumbs:
    def __init__(self, viewer: Any):
        self.viewer = viewer
        self.reads: Any = None   # edged.control.reads.ReadLedger, the daemon's one (edged/app.py)
        self.cache: OrderedDict[tuple[int, str, int], bytes | None] = OrderedDict()
        self.pending: dict[tuple[int, str, int], asyncio.Future[bytes | None]] = {}
        self.workers: dict[str, Worker] = {}   # view id -> its thumbnail worker
        self.decoding = asyncio.Semaphore(1)   # one decode at a time on the box
        self.decoded = 0                        # decodes run (tests read it)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/view/{id}/strip", self.strip)
        app.router.add_get("/api/view/{id}/thumb", self.thumb)
        app.router.add_post("/api/view/{id}/jump", self.jump)

    def _calendar(self, request: web.Request) -> tuple[str, Any, str]:
        """The page's language (the person's, else the site's), its calendar and the site's zone."""
        site = self.viewer.cfg.site
        lang = normalise(request.cookies.get(LANG_COOKIE)) or site.language
        return lang, zone(site.timezone), calendar(lang)

    async def _view(self, request: web.Request) -> tuple[Any, str, dict[str, Any]]:
        """The session's open playback and the camera asked for; HTTP errors in words otherwise."""
        token, s = await self.viewer._session(request)
        view = self.viewer.views.open.get(request.match_info["id"])
        if view is None or view.token != token or view.kind != "playback" or view.grant is None:
            raise _json_error(404, _("no such open playback"))
        return view, request.query.get("camera") or view.camera, s

    async def _record(self, s: dict[str, Any], token: str, action: str, detail: dict[str, Any], camera: str,
                      a: int, b: int) -> None:
        if self.reads is None:   # a viewer without the daemon's ledger: every read in full
            await self.viewer.access.audit(s["account"], action, detail)
        else:
            await self.reads.record(Reader(s["account"], token), action, detail, [camera], a, b)

    async def strip(self, request: web.Request) -> web.Response:
        view, camera, s = await self._view(request)
        g = view.grant
        refused = thumb_refusal(g, camera, 0, self.viewer.clock.now_us(), view.deadline_us)
        if refused:
            return web.json_response({"error": refused}, status=403)
        rows, gaps, standins = await self.viewer.access.timeline(camera, g["from_us"], g["to_us"])
        await self._record(s, view.token, "footage.list", {"cameras": [camera], "from_us": g["from_us"],
                                                           "to_us": g["to_us"], "grant": g["id"], "view": view.id},
                           camera, g["from_us"], g["to_us"])
        _lang, tz, cal = self._calendar(request)
        return web.json_response({"camera": camera, "from_us": g["from_us"], "to_us": g["to_us"],
                                  "from_text": moment_text(g["from_us"], tz, cal),   # the jump field's first value
                                  "slots": slot_count(g["from_us"], g["to_us"]),
                                  "bands": strip(camera, g["from_us"], g["to_us"], rows, gaps, standins)})

    async def thumb(self, request: web.Request) -> web.StreamResponse:
        view, camera, s = await self._view(request)
        g = view.grant
        try:
            slot = int(request.query.get("slot", ""))
        except ValueError:
            slot = -1
        ended = getattr(view.track, "state", "") == "ended"
        refused = thumb_refusal(g, camera, slot, self.viewer.clock.now_us(), view.deadline_us) or \
            (_("the viewing is over") if ended else None)
        if refused:
            return web.json_response({"error": refused}, status=403)
        a, b = slot_bounds(g["from_us"], g["to_us"], slot) or (0, 0)
        await self._record(s, view.token, "footage.thumbnail", {"cameras": [camera], "from_us": a, "to_us": b,
                                                                "grant": g["id"], "view": view.id}, camera, a, b)
        jpeg = await self.picture(view.id, (g["id"], camera, slot), a, b)
        if jpeg is None:
            return web.Response(status=204)
        return web.Response(body=jpeg, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=600"})

    async def jump(self, request: web.Request) -> web.Response:
        """The viewing goes to a moment typed or picked in the page's calendar, inside its grant:
        the page's field and its answer speak the page's language, as the desk's forms do."""
        view, _camera, _s = await self._view(request)
        typed = (await self.viewer._body(request)).get("at")
        lang, tz, cal = self._calendar(request)
        with speaking(lang):
            if not isinstance(view.track, RecordedTrack) or view.track.state == "ended":
                return web.json_response({"error": _("the viewing is over")}, status=409)
            to = jump(typed if isinstance(typed, str) else "", view.grant, tz, cal)
        if to.at_us is None:
            return web.json_response({"error": to.refusal, "text": to.text}, status=409)
        view.recorded.seek(to.at_us)   # the track keeps it inside the range too (edged/viewer/playback.py)
        return web.json_response({"at_us": to.at_us, "text": to.text})

    async def picture(self, view_id: str, key: tuple[int, str, int], a: int, b: int) -> bytes | None:
        """The slot's thumbnail: from the cache, from a decode already under way, or decoded now."""
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        if key in self.pending:
            return await asyncio.shield(self.pending[key])
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        try:
            jpeg = await self._decode(view_id, key[1], a, b)
            self.cache[key] = jpeg
            while len(self.cache) > CACHE:
                self.cache.popitem(last=False)
            future.set_result(jpeg)
            return jpeg
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()   # read: nobody else may be waiting
            raise
        finally:
            del self.pending[key]

    async def _decode(self, view_id: str, camera: str, a: int, b: int) -> bytes | None:
        rows = await self.viewer.access.footage(camera, a, b)
        data = self.viewer.cfg.storage.data_dir
        pieces = [[str(data / r["path"]), r["start_us"], r["end_us"]] for r in slot_pieces(rows, a, b)]
        if not pieces:
            return None
        async with self.decoding:
            self.decoded += 1
            return await asyncio.to_thread(self._ask, view_id, {"pieces": pieces, "lo_us": a, "hi_us": b,
                                                                "width": THUMB_WIDTH})

    def _ask(self, view_id: str, cmd: dict[str, Any]) -> bytes | None:
        """Blocking (a thread): one command to the viewing's worker, started at its first."""
        worker = self.workers.get(view_id)
        if worker is None:
            worker = self.workers[view_id] = Worker({"op": "thumbs"})
        deadline = threading.Timer(ANSWER_S, worker.kill)
        deadline.daemon = True
        deadline.start()
        try:
            header, payload = worker.ask({"thumb": cmd})
            return payload if header.get("found") else None
        except (WorkerGone, ValueError) as exc:
            log.warning("a thumbnail worker ended: %s; no thumbnail, the viewing goes on", exc)
            self.workers.pop(view_id, None)
            worker.close()
            return None
        finally:
            deadline.cancel()

    async def closed(self, view: Any) -> None:
        """The viewing ended: its worker ends, its grant's thumbnails leave the cache."""
        worker = self.workers.pop(view.id, None)
        if worker is not None:
            await asyncio.to_thread(worker.close)
        if view.grant is not None:
            for key in [k for k in self.cache if k[0] == view.grant["id"]]:
                del self.cache[key]


def _json_error(status: int, message: str) -> web.HTTPException:
    cls = {404: web.HTTPNotFound, 403: web.HTTPForbidden}[status]
    return cls(text=json.dumps({"error": message}), content_type="application/json")
