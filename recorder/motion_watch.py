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
import queue
import threading
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Iterator, Union, cast

from recorder import picture_size
from recorder.diagnose import scrub
from recorder.imagecheck import PictureTooBig, decode_keyframe
from recorder.motion import MotionDetector, MotionEnded, MotionEvents, MotionSettings, MotionStarted
from storage.lazy import lazy_import
from storage.time.clock import SYSTEM, Clock

if TYPE_CHECKING:
    import av
    import numpy as np
    from av.video.reformatter import VideoReformatter
else:
    av = lazy_import("av")  # on first use: the pool's spare worker is idle without PyAV (design/0291)
    np = lazy_import("numpy")  # on first use: the worker imports this before it has a motion camera

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
    thumb: bytes | None = None  # a small JPEG of the event's most moving picture


@dataclass(frozen=True)
class Lost:
    """The detection stream is down (once per outage): the camera must not go unrecorded."""
    camera: str
    error: str


@dataclass(frozen=True)
class Back:
    """Pictures arrive again after a Lost."""
    camera: str


Report = Callable[[Union[Started, Ended, Lost, Back]], None]


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
        self.failures = 0      # runs that ended (failed to connect, or lost)
        # Host time of media time 0 on this connection: the least (arrival - media) seen so
        # far, as design/0004's run clock does, so frames read in a burst (after the probe,
        # after a network stall) keep their real spacing.
        self.anchor_us: int | None = None
        self.last_error: str | None = None
        self._peak = 0.0
        self._peak_grey: np.ndarray | None = None  # the open event's most moving picture
        self._lost = False  # a Lost was reported and no picture has come since

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
        def us(t: float) -> int:
            return round(t * S)

        if isinstance(tr, MotionStarted):
            self._report(Started(self.camera, us(tr.start), us(tr.detected), tr.score))
        else:
            thumb = None
            if self._peak_grey is not None:
                try:
                    thumb = jpeg(self._peak_grey)
                except Exception as exc:  # noqa: BLE001 - an event without a thumbnail is still an event
                    log.warning("camera %s: motion thumbnail failed: %s", self.camera, exc)
            self._peak_grey = None
            self._report(Ended(self.camera, us(tr.start), us(tr.end), us(tr.record_until), tr.peak,
                               tr.frames, thumb))

    def _main(self) -> None:
        detector = MotionDetector(self.settings)
        events = MotionEvents.for_settings(self.settings)
        while not self._stop.is_set():
            try:
                self._run(detector, events)
                self.last_error = "the stream ended"
            except Exception as exc:  # noqa: BLE001 - any failure of a run means: reconnect
                self.last_error = scrub(str(exc)) or type(exc).__name__
            self.failures += 1
            ended = events.finish()
            if ended is not None:
                self._emit(ended)
            detector.reset()
            if not self._stop.is_set() and not self._lost:
                self._lost = True
                self._report(Lost(self.camera, self.last_error))
            if not self._stop.is_set():
                log.info("camera %s: motion detection stream lost (%s); retrying", self.camera,
                         self.last_error)
                self._stop.wait(self._retry_us / S)

    def _analyse(self, detector: MotionDetector, events: MotionEvents, t: float, grey: np.ndarray) -> None:
        """One picture: detect, keep the event's most moving picture (its thumbnail), report."""
        self.frames += 1
        if self._lost:
            self._lost = False
            self._report(Back(self.camera))
        verdict = detector.detect(t, grey)
        for tr in events.update(verdict):
            if isinstance(tr, MotionStarted):
                self._peak, self._peak_grey = verdict.score, grey.copy()
            self._emit(tr)
        if events.active and verdict.moving and verdict.score > self._peak:
            self._peak, self._peak_grey = verdict.score, grey.copy()

    def _run(self, detector: MotionDetector, events: MotionEvents) -> None:
        connect_us, read_us = self._timeouts
        container = av.open(self._url, options={"rtsp_transport": "tcp", "timeout": str(read_us)},
                            timeout=(connect_us / S, read_us / S))
        try:
            self.connects += 1
            stream = container.streams.video[0]
            ctx = stream.codec_context
            ctx.thread_count = 1  # many cameras per worker: one decoder thread each
            ctx.options = {"max_pixels": str(picture_size.MAX_PIXELS)}  # the decoder's own bound
            scaler = av.video.reformatter.VideoReformatter()
            self.anchor_us = None
            last_us = 0
            for frame in self._decoded(container, stream):
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
                self._analyse(detector, events, t_us / S, small_grey(scaler, frame))
        finally:
            container.close()


    @staticmethod
    def _decoded(container: Any, stream: Any) -> Iterator[av.VideoFrame]:
        """The stream's pictures; each keyframe's SPS (and the extradata's) is read before it
        is decoded: an absurd size ends the run (design/0063), reported as the stream lost."""
        extradata = stream.codec_context.extradata
        size = picture_size.declared_size(stream.codec_context.name, extradata)
        for packet in container.demux(stream):
            if packet.is_keyframe:
                size = picture_size.declared_size(stream.codec_context.name, extradata, bytes(packet))
            if picture_size.too_big(size):
                raise PictureTooBig(cast("tuple[int, int]", size))  # too big: declared
            yield from packet.decode()


def small_grey(scaler: VideoReformatter, frame: av.VideoFrame) -> np.ndarray:
    return scaler.reformat(frame, ANALYSED[0], ANALYSED[1], "gray", interpolation=av.video.reformatter.Interpolation.AREA,
                           threads=1).to_ndarray()  # (PyAV's default starts a thread per core per scaler)


def jpeg(grey: np.ndarray) -> bytes:
    """A small grey JPEG of an analysed picture (an event's thumbnail, a few kB)."""
    h, w = grey.shape
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = w - w % 2, h - h % 2, "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(grey[:ctx.height, :ctx.width]), format="gray")
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


class KeyframeWatch(MotionWatch):
    """Motion on the main stream's keyframes, for a camera without a `detect_url`: the camera
    thread offers each keyframe's bytes (never waiting: a full queue drops it, counted), this
    thread decodes it alone and detects with start_frames = 1 (a GOP apart, one moving
    picture is the evidence there is). design/0038."""

    QUEUE = 4

    def __init__(self, camera: str, settings: MotionSettings, report: Report, *, clock: Clock = SYSTEM):
        super().__init__(camera, "", replace(settings, start_frames=1), report, clock=clock)
        self._q: queue.Queue[tuple[str, bytes | None, bytes, int, Any]] = queue.Queue(self.QUEUE)
        self._codec: tuple[str, bytes | None] = ("h264", None)
        self.skipped = 0

    def new_run(self, codec: str, extradata: bytes | None) -> None:
        """A (re)connection of the camera: its codec and extradata decode the next keyframes."""
        self._codec = (codec, extradata)

    def offer(self, data: bytes, at_us: int, check: Any = None) -> None:
        """A keyframe; `check` (recorder/imagecheck.py CameraSamples) also gets its decoded picture."""
        try:
            self._q.put_nowait((*self._codec, data, at_us, check))
        except queue.Full:
            self.skipped += 1
            if check is not None:
                check.missed()

    def _run(self, detector: MotionDetector, events: MotionEvents) -> None:
        scaler = av.video.reformatter.VideoReformatter()
        while not self._stop.is_set():
            try:
                codec, extradata, data, at_us, check = self._q.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                frame = decode_keyframe(codec, extradata, data)
            except PictureTooBig as exc:  # not decoded: lost until a sane keyframe (design/0063)
                self.last_error = str(exc)
                if not self._lost:
                    self._lost = True
                    self._report(Lost(self.camera, self.last_error))
                if check is not None:  # the image check says so in its own words (its Oversize)
                    check.offer(data, at_us)
                continue
            except Exception as exc:  # noqa: BLE001 - one undecodable keyframe is skipped
                self.last_error = str(exc)
                if check is not None:
                    check.missed()
                continue
            if check is not None:  # the image check of this keyframe: no second decode (design/0078)
                check.offer_frame(frame, at_us)
            self._analyse(detector, events, at_us / S, small_grey(scaler, frame))
