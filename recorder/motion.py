"""Motion detection over small grey pictures: numpy only, no I/O, no clock. design/0037.

The caller decodes (a sub-stream, or the main stream's keyframes) and hands each grey picture
with its media time to MotionDetector.detect(); MotionEvents turns the per-frame verdicts into
events (start, end, peak score). Both are plain objects over numpy arrays and floats, so the
worker thread, a benchmark and a test drive them the same way.

Per picture:
1. shrink to about ANALYSIS_HEIGHT rows by block means (sensor noise averages out), then a
   3x3 binomial blur;
2. re-light the background and the earlier picture to this picture's light: a least-squares
   gain and offset fitted over the unmasked pixels (once more without the pixels that still
   differ), so lights switched on, a cloud or the iris change no pixel's verdict;
3. a pixel moves when it differs by more than the threshold (from `sensitivity`) from BOTH
   the background (a slow running average) and the earlier picture (the newest one at least
   COMPARE_SECONDS older, so the verdict does not depend on the frame rate). The background
   alone would count a ghost (what stopped or left) for as long as the average takes to
   forget it; the earlier picture alone would count noise twice. A burnt-in clock changes
   once a second, so it is still in most pictures;
4. the score is the moving fraction of the whole picture (masked pixels never move); the
   picture moves when the score reaches `min_area`;
5. when most of the unmasked picture differs from the background at once (an IR switch, a
   light change the gain/offset fit could not follow), the background restarts from this
   picture and it does not count as motion;
6. the background follows the scene with a time constant of `background_seconds`, twenty
   times slower where pixels move, so a parked car becomes scene and a passer-by does not.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Union, cast

from storage.lazy import lazy_import

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")  # not at import: edged.config imports this module before the workers get their cameras

# Rows of the analysed picture: 360p shrinks 4x, 720p 8x, 1080p 12x. A person 10 m from a
# wide lens is still a blob of ~50 pixels here; a noise speck is gone.
ANALYSIS_HEIGHT = 90
# How far back the "earlier picture" is: one frame at 5 fps, three at 15 fps. A person
# walking slowly still moves a few analysed pixels in that time.
COMPARE_SECONDS = 0.2
# At or below this (after the blur) a pixel is crushed black, at or above 255 minus it burnt
# white: its detail is lost, and a light change cannot be undone there.
CRUSHED = 6.0


# mask regions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rect:
    """An ignored rectangle, frame-relative: (0, 0) top-left, (1, 1) bottom-right."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "x1", "y1"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                raise ValueError("%s must be a fraction of the picture between 0 and 1, not %r"
                                 % (name, v))
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError("a rectangle needs x0 < x1 and y0 < y1, got %r" % (self,))


@dataclass(frozen=True)
class Polygon:
    """An ignored polygon, frame-relative corners in order (at least three)."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError("a polygon needs at least 3 corners, got %d" % len(self.points))
        for p in self.points:
            if (len(p) != 2 or not all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in p)):
                raise ValueError("a polygon corner is [x, y], fractions between 0 and 1, not %r"
                                 % (p,))


Region = Union[Rect, Polygon]


def mask_array(regions: Iterable[Region], width: int, height: int) -> np.ndarray:
    """A (height, width) bool array, True where a pixel's centre is inside any region."""
    xs = (np.arange(width, dtype=np.float64) + 0.5) / width
    ys = (np.arange(height, dtype=np.float64) + 0.5) / height
    gx, gy = np.meshgrid(xs, ys)
    out = np.zeros((height, width), dtype=bool)
    for r in regions:
        if isinstance(r, Rect):
            out |= (gx >= r.x0) & (gx < r.x1) & (gy >= r.y0) & (gy < r.y1)
        else:
            inside = np.zeros_like(out)
            pts = r.points
            for (xa, ya), (xb, yb) in zip(pts, pts[1:] + pts[:1]):
                if ya == yb:
                    continue  # a horizontal edge crosses no horizontal ray
                crosses = (ya > gy) != (yb > gy)
                x_at = xa + (gy - ya) * (xb - xa) / (yb - ya)
                inside ^= crosses & (gx < x_at)  # even-odd rule
            out |= inside
    return out


# picture helpers -------------------------------------------------------------------------------
def shrink(grey: np.ndarray, rows: int = ANALYSIS_HEIGHT) -> np.ndarray:
    """Block means by the largest whole factor that leaves at least `rows` rows (float32)."""
    if grey.ndim != 2:
        raise ValueError("a grey picture is a 2-D array, got shape %r" % (grey.shape,))
    h, w = grey.shape
    f = max(1, h // rows)
    if f == 1:
        return grey.astype(np.float32)
    h2, w2 = h // f, w // f
    a = grey[:h2 * f, :w2 * f].reshape(h2, f, w2, f)
    return cast("np.ndarray", a.mean(axis=(1, 3), dtype=np.float32))


def blur(a: np.ndarray) -> np.ndarray:
    """3x3 binomial blur ([1 2 1] each way), edges repeated."""
    p = np.pad(a, 1, mode="edge")
    rows = p[:-2] + 2 * p[1:-1] + p[2:]
    return cast("np.ndarray", (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) * np.float32(1 / 16))


def relight(ref: np.ndarray, cur: np.ndarray, valid: np.ndarray, threshold: float) -> np.ndarray:
    """`ref` with `cur`'s light: cur ~ gain * ref + offset over `valid` pixels, fitted twice
    (the second time without the pixels the first fit left more than `threshold` apart, so
    a moving object does not bend the fit). Clipped to 0-255 like the picture. The fit uses
    every other pixel each way: two numbers from ~3,600 pixels are as good as from 14,400.
    Pixels `ref` saw crushed or burnt that the new light would show are taken from `cur`."""
    r, c, use = ref[::2, ::2], cur[::2, ::2], valid[::2, ::2]
    gain, offset = 1.0, 0.0
    for _ in range(2):
        ru, cu = r[use], c[use]
        if ru.size < 16:
            break
        n = ru.size
        rm, cm = float(ru.sum()) / n, float(cu.sum()) / n  # (ndarray.mean() costs 10 us more)
        rd = ru - np.float32(rm)
        var = float(np.dot(rd, rd)) / n
        gain = float(np.dot(rd, cu - np.float32(cm))) / n / var if var > 1e-3 else 1.0
        gain = min(4.0, max(0.25, gain))
        offset = cm - gain * rm
        use = valid[::2, ::2] & (np.abs(c - (r * np.float32(gain) + np.float32(offset))) <= threshold)
    pred = np.clip(ref * np.float32(gain) + np.float32(offset), 0, 255)
    # Where `ref` was crushed to black (or burnt to white) and the new light would show
    # detail there, nothing says what that detail is: take the picture as it is now.
    blind = None
    if offset > threshold:
        blind = ref <= CRUSHED
    if gain * 255 + offset < 255 - threshold:
        burnt = ref >= 255 - CRUSHED
        blind = burnt if blind is None else blind | burnt
    return pred if blind is None else np.where(blind, cur, pred)


# settings, verdicts, detector ------------------------------------------------------------------
@dataclass(frozen=True)
class MotionSettings:
    """A camera's motion settings (the config's `[cameras.motion]`, plain data)."""

    # 1-100, higher finds fainter change: the grey-level step a pixel needs (see threshold).
    sensitivity: int = 50
    # The moving fraction of the whole picture that counts as motion (0.003: ~40 analysed
    # pixels, a person ~15 m from a wide lens).
    min_area: float = 0.003
    # Ignored regions (a burnt-in clock, a tree, a road beyond the fence).
    masks: tuple[Region, ...] = ()
    # How fast the background follows a still scene (time constant, seconds).
    background_seconds: float = 5.0
    # Moving pictures in a row that start an event, and seconds without motion that end it.
    start_frames: int = 2
    post_roll: float = 10.0
    # Beyond this fraction of the unmasked picture changed at once, it is light, not motion.
    global_change: float = 0.6

    def __post_init__(self) -> None:
        def bad(name: str, want: str) -> ValueError:
            return ValueError("motion %s must be %s, not %r" % (name, want, getattr(self, name)))

        if (not isinstance(self.sensitivity, int) or isinstance(self.sensitivity, bool)
                or not 1 <= self.sensitivity <= 100):
            raise bad("sensitivity", "a whole number from 1 to 100")
        if not isinstance(self.min_area, (int, float)) or not 0 < self.min_area < 1:
            raise bad("min_area", "a fraction of the picture above 0 and below 1")
        if not isinstance(self.background_seconds, (int, float)) or self.background_seconds <= 0:
            raise bad("background_seconds", "a positive number of seconds")
        if (not isinstance(self.start_frames, int) or isinstance(self.start_frames, bool)
                or not 1 <= self.start_frames <= 50):
            raise bad("start_frames", "a whole number from 1 to 50")
        if not isinstance(self.post_roll, (int, float)) or not 0 <= self.post_roll <= 3600:
            raise bad("post_roll", "a number of seconds from 0 to 3600")
        if not isinstance(self.global_change, (int, float)) or not 0 < self.global_change <= 1:
            raise bad("global_change", "a fraction above 0, at most 1")
        if not all(isinstance(m, (Rect, Polygon)) for m in self.masks):
            raise bad("masks", "rectangles or polygons")

    @property
    def threshold(self) -> float:
        """Grey levels (0-255, after shrink and blur) a pixel must change by: 50 -> 20."""
        return 4.0 + (100 - self.sensitivity) * 0.32


def _region_json(r: Region) -> list[Any]:
    return [r.x0, r.y0, r.x1, r.y1] if isinstance(r, Rect) else [list(p) for p in r.points]


def _region_of(v: list[Any]) -> Region:
    if len(v) == 4 and all(isinstance(x, (int, float)) for x in v):
        return Rect(*v)
    return Polygon(tuple((p[0], p[1]) for p in v))


def settings_json(s: MotionSettings) -> dict[str, Any]:
    """MotionSettings as plain JSON (the worker command carries them so)."""
    return {"sensitivity": s.sensitivity, "min_area": s.min_area, "masks": [_region_json(m) for m in s.masks],
            "background_seconds": s.background_seconds, "start_frames": s.start_frames,
            "post_roll": s.post_roll, "global_change": s.global_change}


def settings_of(d: dict[str, Any]) -> MotionSettings:
    return MotionSettings(**{**d, "masks": tuple(_region_of(m) for m in d.get("masks", ()))})


@dataclass(frozen=True)
class FrameVerdict:
    """One picture's result: `score` is the moving fraction of the picture."""

    t: float
    score: float
    moving: bool
    light: bool = False  # the background restarted: a change of light, not motion


@dataclass
class MotionDetector:
    """Per camera: keeps the background and the recent pictures; one detect() per picture."""

    settings: MotionSettings = field(default_factory=MotionSettings)
    _bg: np.ndarray | None = field(default=None, init=False, repr=False)
    _recent: deque[tuple[float, np.ndarray]] = field(default_factory=deque, init=False, repr=False)
    _valid: np.ndarray | None = field(default=None, init=False, repr=False)
    _t: float | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        """Forget the scene (a reconnect, new settings): the next picture is the background."""
        self._bg = self._valid = self._t = None
        self._recent.clear()

    def detect(self, t: float, grey: np.ndarray) -> FrameVerdict:
        """The verdict on a grey picture (uint8, any size) taken at `t` seconds (any clock that
        only goes forward; going back starts over)."""
        s = self.settings
        cur = blur(shrink(grey))
        if self._bg is None or self._bg.shape != cur.shape or self._t is None or t <= self._t:
            # First picture, a new size, or time went back (a new run): start over.
            self._restart(t, cur)
            self._valid = ~mask_array(s.masks, cur.shape[1], cur.shape[0])
            return FrameVerdict(t, 0.0, False)
        valid = cast("np.ndarray", self._valid)  # set with the first picture's background, above
        thr = s.threshold
        bg = relight(self._bg, cur, valid, thr)
        prev = relight(self._earlier(t), cur, valid, thr)
        changed = (np.abs(cur - bg) > thr) & valid
        n_valid = int(valid.sum())
        if n_valid and int(changed.sum()) > s.global_change * n_valid:
            self._restart(t, cur)
            return FrameVerdict(t, 0.0, False, light=True)
        moved = changed & (np.abs(cur - prev) > thr)
        score = float(moved.sum()) / moved.size
        alpha = 1.0 - math.exp(-min(t - self._t, s.background_seconds) / s.background_seconds)
        rate = np.where(moved, np.float32(alpha / 20), np.float32(alpha))
        self._bg = bg + rate * (cur - bg)
        self._recent.append((t, cur))
        self._t = t
        return FrameVerdict(t, score, score >= s.min_area)

    def _restart(self, t: float, cur: np.ndarray) -> None:
        self._bg, self._t = cur, t
        self._recent.clear()
        self._recent.append((t, cur))

    def _earlier(self, t: float) -> np.ndarray:
        """The newest picture at least COMPARE_SECONDS before `t` (else the oldest kept);
        older ones are dropped."""
        recent = self._recent
        while len(recent) >= 2 and recent[1][0] <= t - COMPARE_SECONDS + 1e-6:
            recent.popleft()
        return recent[0][1]


# events ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MotionStarted:
    """Motion confirmed at `detected`; it began with the picture at `start`."""

    start: float
    detected: float
    score: float


@dataclass(frozen=True)
class MotionEnded:
    """`start`..`end` is the motion (first to last moving picture); footage is due until
    `record_until` (end + post_roll). `peak` is the highest score, `frames` the moving ones."""

    start: float
    end: float
    record_until: float
    peak: float
    frames: int


Transition = Union[MotionStarted, MotionEnded]


@dataclass
class MotionEvents:
    """The event state machine: idle -> (start_frames moving pictures in a row) -> active ->
    (post_roll seconds without a moving picture) -> idle. A moving picture during the
    post-roll extends the event; it does not start a new one."""

    start_frames: int = 2
    post_roll: float = 10.0
    _run: int = field(default=0, init=False)
    _run_start: float = field(default=0.0, init=False)
    _run_peak: float = field(default=0.0, init=False)
    _active: bool = field(default=False, init=False)
    _start: float = field(default=0.0, init=False)
    _last: float = field(default=0.0, init=False)
    _peak: float = field(default=0.0, init=False)
    _frames: int = field(default=0, init=False)

    @classmethod
    def for_settings(cls, s: MotionSettings) -> MotionEvents:
        return cls(start_frames=s.start_frames, post_roll=s.post_roll)

    @property
    def active(self) -> bool:
        return self._active

    def _end(self) -> MotionEnded:
        self._active = False
        return MotionEnded(self._start, self._last, self._last + self.post_roll, self._peak,
                           self._frames)

    def update(self, v: FrameVerdict) -> list[Transition]:
        """The transitions this verdict causes, in order (at most an end, then a start)."""
        out: list[Transition] = []
        if self._active and v.t - self._last >= self.post_roll:
            out.append(self._end())
        if not v.moving:
            self._run = 0
            return out
        if self._active:
            self._last, self._frames = v.t, self._frames + 1
            self._peak = max(self._peak, v.score)
            return out
        if self._run == 0:
            self._run_start, self._run_peak = v.t, 0.0
        self._run += 1
        self._run_peak = max(self._run_peak, v.score)
        if self._run >= self.start_frames:
            self._active = True
            self._start, self._last = self._run_start, v.t
            self._peak, self._frames = self._run_peak, self._run
            self._run = 0
            out.append(MotionStarted(self._start, v.t, self._peak))
        return out

    def finish(self) -> MotionEnded | None:
        """Close an open event when the pictures stop (end of stream, reconnect, stop)."""
        self._run = 0
        return self._end() if self._active else None
