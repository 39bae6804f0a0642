"""Backfill from the camera's own recording (design/0106): after a gap of a camera whose config
says `edge_recording = true`, fetch the gap's time from the camera's recording (ONVIF Profile G)
and store it as segments of that camera marked `backfilled`.

Off the recording path: one task of its own, one camera and one gap at a time, the replay read
on a thread of its own (recorder/replay.py) paced to [backfill] cap_mbit (design/0115), the catalog written through
the one writer like any other part. Never on footage edged has: only the gap's interval is
asked for, and only frames inside it are kept (edged/rules/backfill.py). The gap row records
the time fetched up to, so a backfill interrupted (a stop, a crash, the camera gone) resumes
there; one that cannot be done ends `given up` with a reason a technician can read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Coroutine, Mapping, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from edged import edge_recording
from edged.config import Config
from edged.config.cameras import CameraConfig
from edged.daemon.integrity import TamperGuard
from edged.i18n import Msg
from edged.rules import backfill as rules
from edged.rules import camera_clock as cc
from recorder.replay import BackfillFile, Frame, Replay, provenance
from recorder.rtsp_session import RtspFailure
from storage.footage import backfill as store
from storage.process import logs
from storage.disk import layout
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import SYSTEM, Clock, wait_or_stop

log = logging.getLogger("edged.daemon.backfill")
T = TypeVar("T")
POLL_S = float(os.environ.get("EDGED_BACKFILL_POLL_S", "30"))  # how often the gaps are looked at (tests: less)
ONVIF_TIMEOUT_S = 15.0
FRAME_US = 40_000             # a frame's length when the replay names no frame rate
REFUSED_STATUS = {401, 403, 404, 405, 451, 453, 454, 455, 459, 461, 551}
OVERWRITTEN_STATUS = 457      # Invalid Range: the camera no longer holds that time


async def _off_loop(work: Coroutine[Any, Any, T]) -> T:
    """An ONVIF call on a thread with a loop of its own: zeep parses its WSDL files synchronously
    (design/0085), which must not stall the daemon's loop."""
    return await asyncio.to_thread(asyncio.run, asyncio.wait_for(work, ONVIF_TIMEOUT_S))


async def _call(fn: Callable[[str], None], arg: str) -> None:
    fn(arg)


def _credentials(url: str) -> tuple[str | None, str | None]:
    parts = urlsplit(url)
    return (unquote(parts.username) if parts.username is not None else None,
            unquote(parts.password) if parts.password is not None else None)


def _with_credentials(uri: str, user: str | None, password: str | None) -> str:
    """The replay URI (cameras answer it without credentials) with the camera's login."""
    if not user:
        return uri
    parts = urlsplit(uri)
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{auth}@{host}", parts.path, parts.query, parts.fragment))


class Backfill:
    def __init__(self, cfg: Callable[[], Config], writer: CatalogWriter, data_dir: Path,
                 guard: TamperGuard | None = None, clock: Clock = SYSTEM, poll_s: float = POLL_S,
                 settle_us: int = rules.SETTLE_US, cap_bytes_s: int | None = None):
        self.cfg, self.writer, self.data_dir, self.guard, self.clock = cfg, writer, data_dir, guard, clock
        self.poll_s, self.settle_us, self.cap_bytes_s = poll_s, settle_us, cap_bytes_s
        # cap_bytes_s None: the config's [backfill] cap_mbit, as reloaded; the segment and fragment
        # lengths are always the config's [storage] ones, as the recorder's (one grid, declared once)
        self.on_segment: Callable[[], None] | None = None  # after each backfilled segment is stored (tests)
        self.current: dict[str, Any] | None = None  # the gap being fetched (camera, from, to, fetched to)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.once(stopping)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a backfill never ends the daemon; tried again next round
                log.error("backfill: %s", exc, exc_info=True)
            if await wait_or_stop(stopping, self.poll_s, self.clock):
                return

    async def once(self, stopping: asyncio.Event) -> bool:
        """Backfill the next gap, if there is one; whether there was."""
        cfg = self.cfg()
        edge = {c.id: c for c in cfg.cameras if c.enabled and c.edge_recording}
        if not edge:
            return False
        gaps = await self.writer.run(lambda c: store.open_gaps(c.db, list(edge)))
        gap = rules.next_gap(gaps, set(edge), self.clock.now_us(), self.settle_us, standby=cfg.backfill.standby is not None)
        if gap is None:
            return False
        await self.gap(dict(gap), edge[gap["camera"]], stopping)
        return True

    async def _end(self, gap: Mapping[str, Any], outcome: rules.Done | rules.GiveUp, why: str = "") -> None:
        cam = gap["camera"]
        if isinstance(outcome, rules.Done):
            await self.writer.run(lambda c: store.set_state(c.db, gap["id"], rules.DONE))
            log.info("camera %s: gap %d backfilled from the camera's recording", cam, gap["id"], **logs.fields(camera=cam))
            return
        reason = Msg(outcome.reason, why=why[:300])  # English in the log; the template for edgectl's reader
        note = json.dumps({"text": str(reason), **reason.stored()}, ensure_ascii=False)
        await self.writer.run(lambda c: store.set_state(c.db, gap["id"], rules.GIVEN_UP, note))
        log.warning("camera %s: the backfill of gap %d was given up: %s", cam, gap["id"], reason,
                    **logs.fields(camera=cam))

    async def gap(self, gap: dict[str, Any], cam: CameraConfig, stopping: asyncio.Event) -> None:
        where = cc.endpoint(cam.onvif, cam.url)
        if where is None:
            await self._end(gap, rules.GiveUp(rules.NO_RECORDING))
            return
        user, password = _credentials(cam.url)
        try:
            rec = await _off_loop(edge_recording.find(*where, user, password))
        except edge_recording.NoEdgeRecording:
            await self._end(gap, rules.GiveUp(rules.NO_RECORDING))
            return
        except Exception as exc:  # noqa: BLE001 - no answer, a refused login: said as it is
            await self._end(gap, rules.GiveUp(rules.UNREACHABLE), str(exc) or type(exc).__name__)
            return
        cid, g_from, g_to = gap["camera"], gap["from_us"], gap["to_us"]
        done = await self.writer.run(lambda c: store.backfilled_in(c.db, cid, g_from, g_to))
        held = await self.writer.run(lambda c: store.held_in(c.db, cid, g_from, g_to))
        start = rules.resume_point(g_from, gap.get("backfill_to_us"), done)
        # only what is still missing: the standby's footage, fetched first, is not asked again (design/0115)
        todo = [(a, b, rules.plan(a, b, a, rec.from_us, rec.until_us)) for a, b in rules.missing(start, g_to, [*held, *done])]
        fetches = [(a, b, d) for a, b, d in todo if isinstance(d, rules.Fetch)]
        if not fetches:
            await self._end(gap, next((d for _a, _b, d in todo if isinstance(d, rules.GiveUp)), rules.Done()))
            return
        await self.writer.run(lambda c: store.set_state(c.db, gap["id"], rules.PENDING))
        try:
            uri = await _off_loop(edge_recording.replay_uri(*where, user, password, rec.token))
        except Exception as exc:  # noqa: BLE001 - a fault: the camera refuses replay
            await self._end(gap, rules.GiveUp(rules.REFUSED), str(exc) or type(exc).__name__)
            return
        ended: tuple[rules.GiveUp, str] | None = next(((d, "") for _a, _b, d in todo if isinstance(d, rules.GiveUp)), None)
        for a, b, decision in fetches:
            failure, broke = await self._hole(gap, cam.id, a, b, decision, _with_credentials(uri, user, password), stopping)
            if stopping.is_set() or broke:
                return  # resumed at the next start (or round), from the progress on the gap's row
            ended = ended or failure
        await self._end(gap, *(ended or (rules.Done(), "")))

    async def _hole(self, gap: dict[str, Any], cam: str, a: int, b: int, decision: rules.Fetch, url: str,
                    stopping: asyncio.Event) -> tuple[tuple[rules.GiveUp, str] | None, bool]:
        """Fetch one stretch [a, b) of the gap the box lacks; (why it ended short, whether it broke off)."""
        self.current = {"camera": cam, "from_us": gap["from_us"], "to_us": gap["to_us"], "fetched_to_us": a}
        stop = threading.Event()
        relay = asyncio.create_task(self._relay(stopping, stop))
        began = time.monotonic()
        try:
            fetched_to, stored_us, failure, broke = await asyncio.to_thread(
                self._fetch, asyncio.get_running_loop(), {**gap, "to_us": b}, cam, url, decision, stop)
        finally:
            relay.cancel()
            self.current = None
        if stopping.is_set() or (broke and failure is None):
            return None, True
        took = time.monotonic() - began
        # what the camera sent and was stored, not the stretch asked for (a start it overwrote is not fetched)
        log.info("camera %s: %.1f s of its recording fetched in %.1f s (%.1f times real time)", cam,
                 stored_us / 1e6, took, stored_us / 1e6 / max(took, 1e-3), **logs.fields(camera=cam))
        if failure is not None:
            return failure, False
        after = rules.after_fetch(b, fetched_to, decision, a)
        return (after, "") if isinstance(after, rules.GiveUp) else None, False

    @staticmethod
    async def _relay(stopping: asyncio.Event, stop: threading.Event) -> None:
        await stopping.wait()
        stop.set()

    def _fetch(self, loop: asyncio.AbstractEventLoop, gap: Mapping[str, Any], cam: str, url: str,
               asked: rules.Fetch, stop: threading.Event) -> tuple[int, int, tuple[rules.GiveUp, str] | None, bool]:
        """On a thread: replay `asked`, store the frames inside the gap; (fetched up to, time
        stored, failure, whether the replay broke off: then the gap stays pending, resumed at the
        next round). Cut at the site's segment and fragment lengths, as the recorder cuts."""
        def catalog(fn: Callable[[Catalog], T]) -> T:
            return asyncio.run_coroutine_threadsafe(self.writer.run(fn), loop).result()

        cfg = self.cfg()
        cap = self.cap_bytes_s if self.cap_bytes_s is not None else cfg.backfill.cap_bytes_s
        replay = Replay(url, asked.start_us, asked.end_us, stop=stop, cap_bytes_s=cap, pace=rules.pace_s)
        out: BackfillFile | None = None
        rel = ""
        broke: str | None = None
        fetched_to = asked.start_us
        stored = 0
        try:
            try:
                replay.open()
            except RtspFailure as exc:
                if exc.status == OVERWRITTEN_STATUS:
                    return fetched_to, 0, (rules.GiveUp(rules.OVERWRITTEN), ""), False
                return fetched_to, 0, (rules.GiveUp(rules.REFUSED if exc.status in REFUSED_STATUS else rules.UNREACHABLE),
                                    str(exc)), False
            assert replay.media is not None
            frame_us = round(1_000_000 / replay.media.framerate) if replay.media.framerate else FRAME_US
            frame: Frame
            for frame in replay.frames():
                if stop.is_set():  # edged is stopping: what is written is closed, the rest waits for the next start
                    break
                if not rules.keep(frame.t_us, asked.start_us, gap["to_us"]):
                    continue
                if out is None and not frame.key:
                    continue  # a segment starts at a keyframe
                if out is None or rules.cut(out.start_us, frame.t_us, frame.key, cfg.storage.segment_length_us):
                    if out is not None:
                        stored += (fetched_to := self._close(catalog, loop, gap, cam, rel, out)) - out.start_us
                        out = None
                    rel = layout.segment_relpath(cam, frame.t_us)
                    now = self.clock.now_us()
                    catalog(lambda c: store.open_segment(c.db, cam, frame.t_us, rel, now))  # done before it returns
                    if self.guard is not None:  # told before the file exists: the tamper watcher knows it is ours
                        asyncio.run_coroutine_threadsafe(_call(self.guard.opened, rel), loop).result()
                    out = BackfillFile(self.data_dir / rel, replay.media, replay.codec, frame, cfg.storage.fragment_length_us,
                                       frame_us, provenance(cfg.site.id, cfg.site.node, cam, frame.t_us))
                out.write(frame)
                if self.current is not None:
                    self.current["fetched_to_us"] = frame.t_us
        except (RtspFailure, OSError) as exc:
            log.warning("camera %s: the replay of its recording broke off: %s", cam, exc, **logs.fields(camera=cam))
            broke = str(exc) or type(exc).__name__
        finally:
            if out is not None:
                stored += (fetched_to := self._close(catalog, loop, gap, cam, rel, out)) - out.start_us
            replay.close()
        if broke is not None:  # not a hole in the camera's recording: tried again, from the progress
            return fetched_to, stored, None if fetched_to > asked.start_us else (rules.GiveUp(rules.UNREACHABLE), broke), True
        return fetched_to, stored, None, False

    def _close(self, catalog: Callable[[Callable[[Catalog], object]], object], loop: asyncio.AbstractEventLoop,
               gap: Mapping[str, Any], cam: str, rel: str, out: BackfillFile) -> int:
        fields = out.close()
        fields["end_us"] = min(fields["end_us"], gap["to_us"])  # its last frame's length never reaches past the gap
        if self.guard is not None:
            loop.call_soon_threadsafe(self.guard.closed, rel)
        now = self.clock.now_us()
        catalog(lambda c: store.close_segment(c.db, gap["id"], cam, rel, out.start_us, fields, now))
        if self.on_segment is not None:
            self.on_segment()
        return int(fields["end_us"])
