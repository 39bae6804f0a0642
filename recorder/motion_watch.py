"""A camera's detection thread: decode its detection stream, detect motion, report. design/0038.

One dedicated thread per camera in `motion` mode with a `detect_url` (the sub-stream): it
opens the stream with PyAV (RTSP over TCP), decodes every frame, has swscale shrink it to the
analysed size in grey (one cached reformatter; the GIL is released there), runs the detector
and the event machine, and hands each transition to `report` with wall-clock times in
microseconds (a frame's time is its arrival on the host clock, the clock the recording's
packets are placed on). It never touches the recording thread; the record gate is how they
meet. A lost stream closes the open event (finish()), waits and reconnects, until stop().
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Union

import av
from av.video.reformatter import Interpolation, VideoReformatter

from recorder.camera import scrub
from recorder.motion import MotionDetector, MotionEnded, MotionEvents, MotionSettings, MotionStarted
from storage.clock import SYSTEM, Clock

log = logging.getLogger(__name__)

ANALYSED = (160, 90)  # width, height handed to the detector (16:9; other shapes are stretched)
S = 1_000_000


@dataclass(frozen=True)
class Started:
    camera: str
    start_us: int      # the first moving picture
    detected_us: int   # the picture that confirmed it
    score: float


@dataclass(frozen=True)
class Ended:
    camera: str
    start_us: int
    end_us: int
    record_until_us: int
    peak: float
    frames: int


Report = Callable[[Union[Started, Ended]], None]


class MotionWatch:
    def __init__(self, camera: str, url: str, settings: MotionSettings, report: Report, *,
                 connect_timeout_us: int = 5 * S, read_timeout_us: int = 10 * S,
                 retry_us: int = 2 * S, clock: Clock = SYSTEM):
        self.camera = camera
        self._url = url
        self.settings = settings
        self._report = report
        self._timeouts = (connect_timeout_us, read_timeout_us)
        self._retry_us = retry_us
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="motion-%s" % camera, daemon=True)
        self.frames = 0        # pictures analysed
        self.connects = 0
        # Host time of media time 0 on this connection: the least (arrival - media) seen so
        # far, as design/0004's run clock does, so frames read in a burst (after the probe,
        # after a network stall) keep their real spacing.
        self.anchor_us: int | None = None
        self.last_error: str | None = None

    def start(self) -> MotionWatch:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to end; True once it has (it notices within a frame or a read timeout)."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _emit(self, tr: MotionStarted | MotionEnded) -> None:
        us = lambda t: round(t * S)  # noqa: E731
        if isinstance(tr, MotionStarted):
            self._report(Started(self.camera, us(tr.start), us(tr.detected), tr.score))
        else:
            self._report(Ended(self.camera, us(tr.start), us(tr.end), us(tr.record_until), tr.peak,
                               tr.frames))

    def _main(self) -> None:
        detector = MotionDetector(self.settings)
        events = MotionEvents.for_settings(self.settings)
        while not self._stop.is_set():
            try:
                self._run(detector, events)
                self.last_error = "the stream ended"
            except Exception as exc:  # noqa: BLE001 - any failure of a run means: reconnect
                self.last_error = scrub(str(exc)) or type(exc).__name__
            ended = events.finish()
            if ended is not None:
                self._emit(ended)
            detector.reset()
            if not self._stop.is_set():
                log.info("camera %s: motion detection stream lost (%s); retrying", self.camera,
                         self.last_error)
                self._stop.wait(self._retry_us / S)

    def _run(self, detector: MotionDetector, events: MotionEvents) -> None:
        connect_us, read_us = self._timeouts
        container = av.open(self._url, options={"rtsp_transport": "tcp", "timeout": str(read_us)},
                            timeout=(connect_us / S, read_us / S))
        try:
            self.connects += 1
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1  # many cameras per worker: one decoder thread each
            scaler = VideoReformatter()
            self.anchor_us = None
            last_us = 0
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return
                arrival = self._clock.now_us()
                media = frame.time
                if media is None:
                    t_us = arrival
                else:
                    media_us = round(media * S)
                    off = arrival - media_us
                    self.anchor_us = off if self.anchor_us is None else min(self.anchor_us, off)
                    t_us = self.anchor_us + media_us
                t_us = max(t_us, last_us + 1)  # the anchor only moves back: keep time going forward
                last_us = t_us
                t = t_us / S
                grey = scaler.reformat(frame, ANALYSED[0], ANALYSED[1], "gray",
                                       interpolation=Interpolation.AREA).to_ndarray()
                self.frames += 1
                for tr in events.update(detector.detect(t, grey)):
                    self._emit(tr)
        finally:
            container.close()
