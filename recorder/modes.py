"""A camera's recording mode inside the worker (R1.2; design/0038).

`continuous` records every packet (the camera thread as it always was); `live` reads the
stream (health, image checks, the viewer) and writes nothing; `motion` routes every packet
through a record gate (recorder/gate.py) and a pre-roll buffer (recorder/preroll.py), fed by
a detection thread: on the camera's `detect_url` (MotionWatch) or on the main stream's
keyframes, which the camera thread offers without ever waiting (KeyframeWatch).

MotionRecording is what the camera thread holds for a `motion` camera; it also turns the
detector's reports into `motion` worker events (start, then end with the peak score and a
small JPEG thumbnail) for the daemon. The worker command carries the settings as JSON
(recorder.motion.settings_json / settings_of).
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from recorder.events import Detection, Emit, Motion
from recorder.imagecheck import CameraSamples
from recorder.gate import RecordGate, Route
from recorder.motion import settings_of
from recorder.motion_watch import Back, Ended, KeyframeWatch, Lost, MotionWatch, Started
from recorder.preroll import Buffered, PreRollBuffer
from storage.lazy import lazy_import
from storage.time.clock import SYSTEM, Clock

if TYPE_CHECKING:
    import av

    from recorder.source import VideoIn
else:
    av = lazy_import("av")  # on first use: the pool's spare worker is idle without PyAV (design/0291)

log = logging.getLogger(__name__)

CONTINUOUS, MOTION, LIVE = "continuous", "motion", "live"
MODES = (CONTINUOUS, MOTION, LIVE)
# The reason a motion run's segment closes (the daemon files the hole after it as "no motion").
MOTION_ENDED = "motion ended"
# A camera's pre-roll buffer never holds more: 4 Mbit/s for pre_roll 30 s + slack + a GOP is
# ~17 MB; a camera whose GOP does not fit gets an incomplete pre-roll, not the worker's memory.
BUFFER_BYTES = 24 * 1024 * 1024



class MotionRecording:
    """The gate, buffer and detection thread of one camera in `motion` mode. The camera
    thread calls new_run(), offer() and route(); the detection thread calls the gate and
    emits the `motion` events; neither waits for the other."""

    def __init__(self, camera: str, spec: dict[str, Any], detect_url: str | None, emit: Emit, *, clock: Clock = SYSTEM,
                 connect_timeout_us: int = 5_000_000, read_timeout_us: int = 10_000_000):
        self.camera = camera
        self._emit = emit
        self._clock = clock
        settings = settings_of(spec["settings"])
        self.post_roll_us = round(settings.post_roll * 1_000_000)
        self.buffer = PreRollBuffer(int(spec["pre_roll_us"]), BUFFER_BYTES)
        self.gate = RecordGate(self.buffer)
        self.keyframes: KeyframeWatch | None = None
        if detect_url:
            self.watch: MotionWatch = MotionWatch(camera, detect_url, settings, self._report, clock=clock,
                                                  connect_timeout_us=connect_timeout_us,
                                                  read_timeout_us=read_timeout_us)
        else:
            self.watch = self.keyframes = KeyframeWatch(camera, settings, self._report, clock=clock)

    def start(self) -> None:
        self.watch.start()

    def stop(self, timeout: float | None = 2.0) -> None:
        self.watch.stop(timeout)

    # the camera thread ------------------------------------------------------------------------
    def new_run(self, video: VideoIn) -> None:
        self.gate.reset()
        if self.keyframes is not None:
            ctx = video.codec_context
            self.keyframes.new_run(ctx.name, ctx.extradata)

    def offer(self, packet: av.Packet[Any], at_us: int, check: CameraSamples | None = None) -> bool:
        """A keyframe, for detection on the main stream (copied; never waits). With `check`
        (an image check is due), the detector hands its decoded picture to the image checks:
        True when it will, so the camera thread does not offer the packet there too."""
        if self.keyframes is None:
            return False
        self.keyframes.offer(bytes(packet), at_us, check)
        return check is not None

    def route(self, packet: av.Packet[Any] | av.AudioFrame, at_us: int, video: bool) -> Route:
        """A picture, or sound as the segment takes it (an AAC packet, or frames to encode)."""
        key = video and isinstance(packet, av.Packet) and packet.is_keyframe
        return self.gate.route(Buffered(at_us, key, getattr(packet, "size", 0), video, (packet, at_us)))

    # the detection thread ---------------------------------------------------------------------
    def _report(self, r: Started | Ended | Lost | Back) -> None:
        now = self._clock.now_us()
        if isinstance(r, Lost):
            # Fail-safe (design/0038): without detection the camera records until it is back.
            self.gate.motion_started(now)
            self._emit(Detection(self.camera, False, r.error, now))
            log.warning("camera %s: motion detection lost (%s): recording continuously until it is back",
                        self.camera, r.error)
        elif isinstance(r, Back):
            self.gate.motion_ended(now + self.post_roll_us)
            self._emit(Detection(self.camera, True, None, now))
            log.info("camera %s: motion detection is back", self.camera)
        elif isinstance(r, Started):
            self.gate.motion_started(r.start_us)
            self._emit(Motion(self.camera, "start", r.start_us, round(r.score, 5), now))
            log.info("camera %s: motion started", self.camera)
        else:
            self.gate.motion_ended(r.record_until_us)
            self._emit(Motion(self.camera, "end", r.start_us, round(r.peak, 5), now, r.end_us, r.record_until_us,
                              r.frames, None if r.thumb is None else base64.b64encode(r.thumb).decode()))
            log.info("camera %s: motion ended (%.1f s)", self.camera, (r.end_us - r.start_us) / 1e6)
