"""Each camera's footage timeline: where its footage last ended, why there is none since, and
the gap row before its next segment (docs/requirements.md, R1.1: a hole is on the record).

Fed by the supervisor with the workers' `Opened`, `Closed`/`Stranded` and state errors, and
told why recording stopped (a hold, a dead worker, a removed camera). A segment's `Closed`
comes after its hash, so usually after the next segment's `Opened` (design/0039); the gap
before a segment is then measured once the previous one is reported closed, as it is
measured after a dead worker's recovery (design/0025).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Iterable

from edged.daemon.recording.modes import MOTION_ENDED, file_hole
from recorder import events
from storage.footage import segments as segment_table
from storage.catalog import CatalogWriter
from storage.footage.events import NO_MOTION

NO_FOOTAGE = "no footage"  # i18n: a gap's reason, stored as data
STOPPED = "camera stopped"  # a recorder's end reason when it was told to stop  # i18n: data
# The recorder's end reason when the host clock stepped (recorder/camera.py): its run goes on, so
# the hole before the next segment is the step itself, no footage missing (design/0096); the
# host clock watch re-stamps what came before it.
CLOCK_STEP = "host clock step"  # i18n: data


def end_reason(reason: str, before: str | None) -> str:
    """Why a camera has no footage after a segment that ended for `reason`: a stop keeps the
    reason the camera was stopped for."""
    if reason == MOTION_ENDED:  # a motion camera's run ended: nothing to record until motion (design/0038)
        return NO_MOTION
    return before if reason == STOPPED and before is not None else reason


@dataclass(eq=False)
class Unclosed:
    """A segment opened and not yet reported closed (its hash may take a while)."""

    camera: str
    slot: int                     # the worker that has it open
    done: asyncio.Future[events.Closed | events.Stranded | None]  # the Closed or Stranded event; None if its worker ended first
    after: str | None = None      # an error the camera reported after closing it


class Gaps:
    def __init__(self, writer: CatalogWriter):
        self.writer = writer
        self.last_end: dict[str, int] = {}
        self.reason: dict[str, str] = {}                 # camera -> why it has no footage now
        self.recovering: dict[str, asyncio.Future[None]] = {}  # camera -> its open segments' recovery
        self.unclosed: dict[str, Unclosed] = {}          # path -> a segment not yet reported closed
        self.newest: dict[str, str] = {}                 # camera -> the path of its newest opened segment

    def expect_recovery(self, cams: Iterable[str], done: asyncio.Future[None]) -> None:
        """Segments of these cameras are being recovered until `done`: a gap before their
        next segment is measured from what the recovery finds."""
        for cam in cams:
            self.recovering[cam] = done

    def on_error(self, cam: str, error: str) -> None:
        """The camera's recorder reported it offline, with why."""
        self.reason[cam] = error
        newest = self.unclosed.get(self.newest.get(cam, ""))
        if newest is not None:  # the camera closed it before it said this: the error came after
            newest.after = error

    async def opened(self, ev: events.Opened, slot: int, tg: asyncio.TaskGroup | None) -> None:
        """A new segment: the gap before it, now or (in a task of `tg`) once what it waits for is done."""
        cam = ev.camera
        before = self.reason.get(cam)
        pending = self.recovering.pop(cam, None)
        prior = self.unclosed.get(self.newest.get(cam, ""))
        if pending is not None and not pending.done():  # measured once the recovery is done
            assert tg is not None
            tg.create_task(self._after_recovery(ev, before or NO_FOOTAGE, pending), name=f"gap-{cam}")
        elif prior is not None:  # measured once the previous segment is reported closed
            assert tg is not None
            tg.create_task(self._after_close(ev, prior, before), name=f"gap-{cam}")
        elif pending is not None:
            await self._after_recovery(ev, before or NO_FOOTAGE, pending)
        else:
            await self._hole(ev, self.last_end.get(cam), before or NO_FOOTAGE)
        self.unclosed[ev.path] = Unclosed(cam, slot, asyncio.get_running_loop().create_future())
        self.newest[cam] = ev.path

    def closed(self, ev: events.Closed | events.Stranded) -> None:
        """One event per close: where the camera's footage ends, and why, for its next gap."""
        cam = ev.camera
        unclosed = self.unclosed.pop(ev.path, None)
        self.last_end[cam] = ev.end_us
        if unclosed is None or unclosed.after is None:  # else a later error is the reason already
            self.reason[cam] = end_reason(ev.reason, self.reason.get(cam))
        if unclosed is not None:
            unclosed.done.set_result(ev)

    def forget(self, slot: int) -> None:
        """A worker ended: none of the segments it had open will be reported closed now."""
        for path, u in list(self.unclosed.items()):
            if u.slot == slot:
                del self.unclosed[path]
                u.done.set_result(None)
                if self.newest.get(u.camera) == path:
                    del self.newest[u.camera]

    async def _after_recovery(self, ev: events.Opened, reason: str, waited: asyncio.Future[None]) -> None:
        await waited
        before = await self.writer.run(lambda c: segment_table.last_end_before(c.db, ev.camera, ev.start_us))
        await self._hole(ev, before, NO_FOOTAGE if reason == CLOCK_STEP else reason)  # a worker died since the cut

    async def _after_close(self, ev: events.Opened, prior: Unclosed, before: str | None) -> None:
        """The camera's previous segment is still being hashed: its `Closed` says where it
        ended and why; the gap is measured from it, with the reason it would have had, had
        the close been reported before this open (`before`: the reason known at the open)."""
        closed = await prior.done
        if closed is None:  # its worker ended first: a recovery decides where it ended, or the next start does
            recovery = self.recovering.get(ev.camera)
            if recovery is not None:
                await self._after_recovery(ev, before or NO_FOOTAGE, recovery)
            return
        await self._hole(ev, closed.end_us, prior.after or end_reason(closed.reason, before))

    async def _hole(self, ev: events.Opened, prev: int | None, reason: str) -> None:
        """A hole before a new segment is a gap row (a run's segments abut exactly), or a
        `not_recorded` row when the policy made it (edged/daemon/recording/modes.py)."""
        if reason == CLOCK_STEP:
            return
        if prev is not None and ev.start_us > prev:
            await file_hole(self.writer, ev.camera, prev, ev.start_us, reason, ev.path)
