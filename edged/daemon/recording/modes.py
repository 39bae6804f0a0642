"""What the daemon does with the recording modes (design/0038), beside the supervisor.

- `motion` worker events become catalog rows (storage/footage/events.py) and, when MQTT is on, messages
  on the durable `event` topic (start, then end with the peak score; `publish` is set by the
  composition root, edged/app.py).
- A hole in a `motion` camera's footage while its stream is up is `no motion`, not a gap: when
  such a camera's stream comes up, the outage before it (if any) is filed as the gap it is,
  and from then on the hole is the policy's (`not_recorded`, no gap alarm, no gap seconds).
- After a SIGHUP the reason for the hole to come follows the camera's new and old mode.
"""

from __future__ import annotations

import base64
import logging
from typing import Any, Awaitable, Callable

from edged.alarms import Alarms
from edged.config import CameraConfig
from edged.i18n import Msg, A_
from recorder import events
from storage.footage import events as event_table, gaps as gap_table
from storage.alarm_kinds import MOTION_DETECTION_LOST
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock
from storage.process import logs
from storage.footage.events import LIVE_MODE, NO_MOTION, NOT_RECORDED_REASONS

log = logging.getLogger(__name__)

MOTION_ENDED = "motion ended"  # the worker's close reason (recorder/modes.py)  # i18n: stored as data


async def file_hole(writer: CatalogWriter, cam: str, from_us: int, to_us: int, reason: str, path: str) -> None:
    """A hole before a new segment: by policy (no motion, live mode) a `not_recorded` row,
    else a gap row."""
    if reason in NOT_RECORDED_REASONS:
        await writer.run(lambda c: event_table.add_not_recorded(c.db, cam, from_us, to_us, reason))
        return
    await writer.run(lambda c: gap_table.add(c.db, cam, from_us, to_us, reason))
    log.info("camera %s: gap of %.1f s (%s)", cam, (to_us - from_us) / 1e6, reason,
             **logs.fields(camera=cam, segment=path))


def hole_reason(before: CameraConfig | None, after: CameraConfig, default: str) -> str:
    """Why the camera's footage has a hole until its next segment, after a config change."""
    if after.mode == "motion":
        return NO_MOTION
    if before is not None and before.mode == "live":
        return LIVE_MODE
    return default


class MotionLog:
    def __init__(self, writer: CatalogWriter, clock: Clock = SYSTEM,
                 publish: Callable[[dict[str, Any]], Awaitable[Any]] | None = None):
        self.writer = writer
        self.clock = clock
        self.publish = publish  # the MQTT `event` topic (a port the composition root connects)

    async def on_motion(self, ev: events.Motion) -> None:
        cam, now = ev.camera, self.clock.now_us()
        if ev.phase == "start":
            event_id = await self.writer.run(lambda c: event_table.started(c.db, cam, ev.start_us, now))
            body = {"id": event_id, "camera": cam, "phase": "start", "start_us": ev.start_us, "score": ev.peak,
                    "at_us": ev.at}
        else:
            thumb = base64.b64decode(ev.thumb) if ev.thumb else None
            end_us = ev.end_us
            assert end_us is not None, "an end carries its end (recorder/modes.py)"
            event_id = await self.writer.run(lambda c: event_table.ended(
                c.db, cam, ev.start_us, end_us, ev.peak, thumb, now))
            body = {"id": event_id, "camera": cam, "phase": "end", "start_us": ev.start_us, "end_us": end_us,
                    "peak": ev.peak, "at_us": ev.at}
        if self.publish is not None:
            await self.publish(body)

    async def on_detection(self, ev: events.Detection, alarms: Alarms | None) -> None:
        """The worker lost (or got back) a camera's detection stream; it records continuously meanwhile."""
        if alarms is not None:
            await alarms.set(not ev.up, MOTION_DETECTION_LOST,
                             Msg(A_("camera {camera}: motion detection lost ({why}); recording continuously "
                                    "until it "
                                    "is back"), camera=ev.camera, why=ev.error), camera=ev.camera)

    async def stream_up(self, cam: str, at_us: int, last_end: dict[str, int], gap_reason: dict[str, str]) -> None:
        """A `motion` camera's stream is up: the hole so far (an outage, a restart) is a gap;
        from now on, until motion, it is the policy's."""
        if gap_reason.get(cam) == NO_MOTION:
            return
        prev = last_end.get(cam)
        if prev is not None and at_us > prev:
            reason = gap_reason.get(cam, "no footage")
            await self.writer.run(lambda c: gap_table.add(c.db, cam, prev, at_us, reason))
            log.info("camera %s: gap of %.1f s (%s)", cam, (at_us - prev) / 1e6, reason)
        last_end[cam] = at_us
        gap_reason[cam] = NO_MOTION

    async def stream_down(self, cam: str, at_us: int, last_end: dict[str, int], gap_reason: dict[str, str]) -> None:
        """A `motion` camera's stream is lost while it recorded nothing: the hole up to now was
        the policy's; what follows is an outage (a gap, filed at the next footage)."""
        prev = last_end.get(cam)
        if gap_reason.get(cam) == NO_MOTION and prev is not None and at_us > prev:
            await self.writer.run(lambda c: event_table.add_not_recorded(c.db, cam, prev, at_us, NO_MOTION))
            last_end[cam] = at_us
