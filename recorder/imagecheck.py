"""Image checks: decode one keyframe per camera every few seconds, off the recording path.

The camera thread copies a keyframe's bytes into a small bounded pool (ImageSampler) and goes
on remuxing; it never waits. A pool thread decodes that one packet alone (a fresh decoder
for the camera's codec and extradata), lets swscale shrink it (PyAV releases the GIL there), and measures the small picture
with numpy, and against the camera's reference picture when the daemon has sent one (`refer`).
The result goes to the daemon as an `image` event; the daemon decides what is an alarm
(thresholds, hysteresis) without numpy. design/0012, 0297.

How often: the pool measures what a check costs per camera (CPU of its thread) and what the
rest of the worker costs, and sets the interval by recorder/sample_budget.py (design/0078).
A motion camera detecting on its keyframes hands the detector's decoded picture instead of
the packet, so its check decodes nothing.
"""

from __future__ import annotations

import base64
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from recorder import picture_size, sample_budget
from recorder.check_budget import CheckBudget
from recorder.events import Emit, Image, Oversize
from storage.process.threadname import name_os_thread
from storage.lazy import lazy_import, loaded

if TYPE_CHECKING:
    import av
    import numpy as np

    from recorder.source import VideoIn
else:
    av = lazy_import("av")  # the daemon imports this module (its constants); the worker has PyAV already (design/0286)
    np = lazy_import("numpy")  # imported with the first picture, not at the worker's start (design/0025)
log = logging.getLogger(__name__)


# The analysed picture: small enough that numpy costs well under a millisecond, big enough
# that a heavy blur still shows (a 1080p picture is shrunk 6x, 720p 4x).
WIDTH, HEIGHT = 320, 180
# The thumbnail sent to the daemon (the reference picture it keeps) and compared here with that reference.
THUMB_W, THUMB_H = 64, 36
# `change` compares pictures block by block: a grid this size, a block changed when its mean
# absolute difference passes this many grey levels (0-255). A burnt-in clock changes a few
# blocks; compression and sensor noise in a still scene stay under the threshold.
GRID_W, GRID_H = 32, 18
BLOCK_DIFF = 3.0
# sharpness(): width of the box re-blur, in pixels of the analysed picture.
REBLUR = 5
# similarity(): box smoothing radius before the gradients, in thumbnail pixels. With 2, a
# pan of 1 thumbnail pixel (1.5 % of the width) still scores ~0.8, one of 5 pixels 0.0-0.3.
SIMILARITY_BLUR = 2

# The thresholds are the daemon's, in one table: edged/config/health.py HealthConfig (the [health]
# keys, per camera [cameras.health]); edged/rules/health.py applies them. What each measure here
# reads on the test clips (tests/support/health_clips.py), for choosing them:
# - dark: share of pixels below 16/255 [black 1.0, healthy 0.0]; mean luma [black 0, healthy 128].
# - overexposed: share of pixels at 250/255 or above [white 1.0]; a bright sky in part of the view
#   stays under half.
# - covered: luma standard deviation [black 0.02, healthy 65], whatever the brightness.
# - frozen: share of blocks changed since the previous sample [a frozen picture with a running
#   burnt-in clock 0.005-0.007, healthy 0.15]; a still scene with little sensor noise looks frozen too.
# - blurred: sharpness() [healthy 0.75, the blurred clip 0.27-0.32; a real photo: crisp 0.71, sigma
#   4 px blur at 720p 0.49, sigma 8 px 0.31; mandelbrot 0.49].
# - monochrome: mean chroma saturation [grey 0.0, black with noise 1.5, healthy 128, a green
#   circuit board 31]; only meaningful in daylight hours.
# - moved: similarity() with the reference [same scene 0.99, at dusk with noise 0.99, a pan of 5 %
#   of the width ~0.45, a different scene 0.16-0.20].
# Read them in this order: a dark, overexposed or covered picture also looks frozen, grey and
# edgeless, so those three stand alone and the later checks wait for a usable picture.


# pure measures ----------------------------------------------------------------------------------
def _blocks(a: np.ndarray) -> np.ndarray:
    """Mean of each cell of the GRID_W x GRID_H grid (edges that don't divide are dropped)."""
    h, w = a.shape
    bh, bw = max(1, h // GRID_H), max(1, w // GRID_W)
    gh, gw = min(GRID_H, h), min(GRID_W, w)
    return cast("np.ndarray", a[:gh * bh, :gw * bw].reshape(gh, bh, gw, bw).mean(axis=(1, 3)))


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of grid blocks whose mean absolute difference between a and b passes
    BLOCK_DIFF. Two grey pictures (or thumbnails) of one shape; 0.0 = nothing changed.

    Block-wise with a per-block threshold, so a small region that always changes (a
    burnt-in clock) stays a small fraction, and noise spread over the picture counts nothing.
    """
    if a.shape != b.shape:
        raise ValueError("pictures differ in size: %s vs %s" % (a.shape, b.shape))
    diff = np.abs(a.astype(np.float32) - b.astype(np.float32))
    return float((_blocks(diff) > BLOCK_DIFF).mean())


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Box blur of width 2r+1 in both directions, edges repeated (same shape out)."""
    k = 2 * r + 1
    p = np.pad(a, r, mode="edge")
    c = np.cumsum(np.pad(p, ((1, 0), (0, 0))), axis=0)
    p = (c[k:] - c[:-k]) / k
    c = np.cumsum(np.pad(p, ((0, 0), (1, 0))), axis=1)
    return cast("np.ndarray", (c[:, k:] - c[:, :-k]) / k)


def _gradients(a: np.ndarray) -> np.ndarray:
    """Horizontal and vertical differences of a smoothed picture, as one vector."""
    g = _box(a.astype(np.float32), SIMILARITY_BLUR)
    return np.concatenate(((g[:, 1:] - g[:, :-1]).ravel(), (g[1:, :] - g[:-1, :]).ravel()))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two grey pictures of one shape are, -1..1 (1 = the same scene).

    Zero-mean normalised cross-correlation of their gradient images: edges stay where they
    are when the light changes (gain and offset cancel out) and under noise, and move or
    vanish when the camera is turned. The smoothing lets a shake of a thumbnail pixel pass.
    A picture without edges (black, covered) scores 0.
    """
    if a.shape != b.shape:
        raise ValueError("pictures differ in size: %s vs %s" % (a.shape, b.shape))
    x, y = _gradients(a), _gradients(b)
    x -= x.mean()
    y -= y.mean()
    den = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
    if den < 1e-3 * x.size:
        return 0.0
    return float(np.dot(x, y) / den)


def _reblur(g: np.ndarray) -> tuple[float, float]:
    """(fine detail, detail a re-blur removes) along the rows of g, for sharpness()."""
    c = np.cumsum(np.vstack((np.zeros((1, g.shape[1]), np.float32), g)), axis=0)
    blurred = (c[REBLUR:] - c[:-REBLUR]) / REBLUR
    same = g[REBLUR // 2:REBLUR // 2 + blurred.shape[0]]
    d_f = np.abs(np.diff(same, axis=0))
    d_b = np.abs(np.diff(blurred, axis=0))
    return float(d_f.sum()), float(np.maximum(0, d_f - d_b).sum())


def sharpness(grey: np.ndarray) -> float:
    """A focus measure, 0..1, that does not depend much on content or light.

    Crete-Roffet's re-blur idea: blur the picture again and see how much of its fine detail
    (neighbour differences) that removes. A sharp picture loses much, a blurred one little.
    Measured on the downscaled picture, where sensor noise is already averaged away.
    """
    g = grey.astype(np.float32)
    fv, lv = _reblur(g)
    fh, lh = _reblur(np.ascontiguousarray(g.T))
    return (lv + lh) / (fv + fh) if fv + fh > 0 else 0.0


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """THUMB_W x THUMB_H uint8 by block means (the grey picture is 5x that size)."""
    h, w = grey.shape
    fy, fx = h // THUMB_H, w // THUMB_W
    t = grey[:THUMB_H * fy, :THUMB_W * fx].reshape(THUMB_H, fy, THUMB_W, fx).mean(axis=(1, 3))
    return cast("np.ndarray", np.clip(np.rint(t), 0, 255).astype(np.uint8))


def encode_thumb(thumb: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(thumb, dtype=np.uint8).tobytes()).decode()


def decode_thumb(text: str) -> np.ndarray:
    """encode_thumb's text (a reference picture the daemon sent back) as a THUMB_H x THUMB_W uint8 picture."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(THUMB_H, THUMB_W)


def measure(grey: np.ndarray, u: np.ndarray, v: np.ndarray, previous: np.ndarray | None) -> dict[str, Any]:
    """Every metric of one picture: full-range grey (0-255) and its two chroma planes."""
    g = grey.astype(np.float32)
    n = g.size
    sat = np.hypot(u.astype(np.float32) - 128, v.astype(np.float32) - 128)
    return {
        "luma": round(float(g.mean()), 2),
        "dark": round(float(np.count_nonzero(grey < 16)) / n, 4),
        "bright": round(float(np.count_nonzero(grey >= 250)) / n, 4),
        "contrast": round(float(g.std()), 2),
        "sharpness": round(sharpness(g), 4),
        "colour": round(float(sat.mean()), 2),
        "change": None if previous is None or previous.shape != grey.shape
        else round(changed_fraction(previous, grey), 4),
    }


def plane(frame: av.VideoFrame, i: int) -> np.ndarray:
    """One plane of a frame as a 2-D array, without the line padding (no copy)."""
    p = frame.planes[i]
    return np.frombuffer(cast(memoryview, p), np.uint8).reshape(p.height, p.line_size)[:, :p.width]


# the worker's sampler -----------------------------------------------------------------------------
@dataclass(eq=False)
class CameraSamples:
    """One camera's sampling state: what the camera thread hands over, what the pool keeps.

    Only one sample of a camera is in the pool at a time (`busy`), so its previous picture is
    never used by two threads at once.
    """

    camera: str
    pool: ImageSampler
    phase: float = 0.0  # where in the interval its checks fall due (recorder/sample_budget.py, design/0561)
    codec: str | None = None
    extradata: bytes | None = None
    busy: bool = False
    skipped: int = 0
    previous: np.ndarray | None = None
    cost_us: float | None = None  # CPU one check of this camera costs (running mean, us)
    failed: bool = False  # a decode failed: said once in the log, then quietly counted
    oversize: bool = False  # this connection declared an absurd picture size: said once
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_run(self, stream: VideoIn) -> None:
        """A (re)connection: the decoder is set up from this stream's codec and extradata."""
        ctx = stream.codec_context
        self.codec, self.extradata = ctx.name, ctx.extradata
        self.oversize = False

    def next_due(self, due_us: int, now_us: int) -> int:
        """The check after one due at `due_us`, taken now: its slot of the interval in force (design/0561)."""
        return sample_budget.next_check_us(due_us, now_us, self.pool.interval_us, self.phase)

    def offer(self, packet: av.Packet[Any], at_us: int) -> None:
        """Called on the camera thread with a keyframe: copy it into the pool, never wait."""
        with self.lock:
            if self.busy or self.codec is None:
                self.skipped += 1
                return
            self.busy = True
        try:
            self.pool.queue.put_nowait((self, self.codec, self.extradata, bytes(packet), at_us))
        except queue.Full:
            with self.lock:
                self.busy = False
                self.skipped += 1

    def offer_frame(self, frame: av.VideoFrame, at_us: int) -> None:
        """A keyframe the motion detector has already decoded (recorder/motion_watch.py
        KeyframeWatch): checked without a second decode. Never waits."""
        with self.lock:
            if self.busy:
                self.skipped += 1
                return
            self.busy = True
        try:
            self.pool.queue.put_nowait((self, self.codec, self.extradata, frame, at_us))
        except queue.Full:
            with self.lock:
                self.busy = False
                self.skipped += 1

    def missed(self) -> None:
        """A due sample that never reached the pool (the detector's queue was full)."""
        with self.lock:
            self.skipped += 1

    def _done(self, ok: bool) -> int:
        """Free the camera for its next sample; the samples skipped since the last event."""
        with self.lock:
            self.busy = False
            if not ok:
                self.skipped += 1
                return 0
            skipped, self.skipped = self.skipped, 0
            return skipped


class ImageSampler(CheckBudget):
    """A worker's pool: a few threads behind a bounded queue. A full queue skips a sample. It
    measures its checks and sets the interval in force (CheckBudget, design/0078)."""

    def __init__(self, emit: Emit, threads: int = 2, depth: int = 16, phase_offset: float | None = None, **budget: Any):
        """`budget`: CheckBudget's shortest_us, longest_us, share, review_us (recorder/check_budget.py); `phase_offset`:
        the first camera's phase (random: each worker's cameras spread from their own place, design/0561)."""
        CheckBudget.__init__(self, **budget)
        self.emit = emit
        self.phase_offset = random.random() if phase_offset is None else phase_offset
        self.placed = 0  # cameras given a phase so far
        # camera -> (the reference's set_us, its thumbnail): replaced whole, read by the pool's threads
        self.references: dict[str, tuple[int, np.ndarray]] = {}
        self.queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(depth)
        self.threads = [threading.Thread(target=self._run, name=f"imagecheck-{i}", daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def refer(self, camera_id: str, set_us: int, thumb: str) -> None:
        """The camera's reference picture, from the daemon (its `reference` command): each sample
        of the camera is compared with it from now on, whichever thread or connection takes it."""
        try:
            self.references = {**self.references, camera_id: (set_us, decode_thumb(thumb))}
        except ValueError as exc:  # not a thumbnail: its samples go on without a likeness
            log.warning("camera %s: reference picture refused (%s)", camera_id, exc)

    def camera(self, camera_id: str) -> CameraSamples:
        cam = CameraSamples(camera_id, self, sample_budget.phase(self.placed, self.phase_offset))
        self.placed += 1
        self.cameras.add(cam)
        return cam

    def close(self, timeout: float = 10) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join(timeout)

    def _run(self) -> None:
        name_os_thread("imagecheck")
        while (job := self.queue.get()) is not None:
            loaded(np)  # its import is paid here, on the pool, once; not on a camera's thread
            cam, codec, extradata, data, at_us = job
            try:
                event = check(cam, codec, extradata, data, at_us, self.references.get(cam.camera))
            except PictureTooBig as exc:  # said once per connection, as an alarm (design/0063)
                if not cam.oversize:
                    cam.oversize = True
                    log.warning("camera %s: %s", cam.camera, exc)
                    self.emit(Oversize(cam.camera, exc.size[0], exc.size[1], "image check", job[-1]))
                cam._done(False)
                continue
            except Exception as exc:  # noqa: BLE001 - a bad picture skips a sample, never the pool
                (log.debug if cam.failed else log.warning)(
                    "camera %s: cannot check a picture (%s); counting it as skipped", cam.camera, exc)
                cam.failed = True
                cam._done(False)
                continue
            cam.failed = False
            self.charge(cam, event.pop("cpu_us"))
            self.emit(Image(**event, skipped=cam._done(True), interval_us=self.interval_us))


class PictureTooBig(ValueError):
    """The stream declares a picture no camera sends (recorder/picture_size.py): not decoded."""

    def __init__(self, size: tuple[int, int]):
        super().__init__(f"the stream declares a {size[0]}x{size[1]} picture, larger than any camera's "
                         f"({picture_size.MAX_SIDE} a side, {picture_size.MAX_PIXELS} pixels): not decoded")
        self.size = size


def decode_keyframe(codec: str, extradata: bytes | None, data: bytes) -> av.VideoFrame:
    """Decode one keyframe alone, unless its SPS declares an absurd size (PictureTooBig; the
    decoder's own `max_pixels` bound backs that up). A fresh single-threaded decoder per sample
    costs ~20 us and holds no reference frames between samples (a kept one held ~4 MB per camera)."""
    size = picture_size.declared_size(codec, extradata, data)
    if picture_size.too_big(size):
        assert size is not None
        raise PictureTooBig(size)
    ctx = av.CodecContext.create(codec, "r")
    if extradata:
        ctx.extradata = extradata
    ctx.options = {"max_pixels": str(picture_size.MAX_PIXELS)}
    ctx.thread_count = 1
    frames = ctx.decode(av.Packet(data)) or ctx.decode(None)  # type: ignore[attr-defined]  # a video decoder's
    if not frames:  # (a decoder with delay needs the flush)
        raise ValueError("the keyframe decoded to no picture")
    return cast(av.VideoFrame, frames[0])


_scalers = threading.local()


def scaler() -> av.video.reformatter.VideoReformatter:
    """This thread's picture scaler: one a pool thread, not one a camera (each holds its scaling
    tables for the picture size, ~0.4 MB at 1080p; design/0079 "Memory")."""
    scaler: av.video.reformatter.VideoReformatter | None = getattr(_scalers, "scaler", None)
    if scaler is None:
        scaler = _scalers.scaler = av.video.reformatter.VideoReformatter()
    return scaler


def check(cam: CameraSamples, codec: str, extradata: bytes | None, data: bytes | av.VideoFrame,
          at_us: int, reference: tuple[int, np.ndarray] | None = None) -> dict[str, Any]:
    """Decode (unless `data` is a picture decoded already), shrink and measure one keyframe, and
    compare it with the camera's `reference` (its set_us and thumbnail), if any: the `Image`
    event's fields (all but `skipped`, `interval_us`), and `cpu_us`, this thread's CPU."""
    t0, c0 = time.perf_counter(), time.thread_time_ns()
    frame = data if isinstance(data, av.VideoFrame) else decode_keyframe(codec, extradata, data)
    small = scaler().reformat(frame, width=WIDTH, height=HEIGHT, format="yuv420p", interpolation="AREA",
                              dst_color_range=av.video.reformatter.ColorRange.JPEG,
                              threads=1)  # (PyAV's default starts a thread per core for each scaler)
    grey = plane(small, 0).copy()  # kept as the next sample's `previous`
    metrics = measure(grey, plane(small, 1), plane(small, 2), cam.previous)
    metrics["width"], metrics["height"] = frame.width, frame.height
    cam.previous = grey
    thumb = thumbnail(grey)
    return {"camera": cam.camera, "at": at_us, "metrics": metrics, "thumb": encode_thumb(thumb),
            "similarity": None if reference is None else round(similarity(reference[1], thumb), 4),
            "reference_at": None if reference is None else reference[0],
            "decode_ms": round((time.perf_counter() - t0) * 1000, 2), "cpu_us": (time.thread_time_ns() - c0) / 1000}
