"""The applicant followed by the picture between the custodian's marks (design/0285): pure.

In "everything hidden except the applicant" the custodian marks the applicant's region on some frames; between two
marks the region follows the picture, not only the straight line of `plan.follow`:
- **Forward from each mark** (with a box, up to the next with one) a tracker follows the marked region: the region's
  luma, scaled down (`scale_for`), is matched by normalized cross-correlation (`match`) over a window around where
  it was predicted to be (its last place plus its last step); its template is refreshed slowly (`ALPHA` of the new
  look where the match is sure, `REFRESH`).
- **Backward from the next mark**, where there is one with a box, a second tracker follows the next mark's region
  back through the frames before it (at most `WINDOW_BYTES` of them are held, scaled down: the frames before that
  have the forward track only, as "partly" below).
- **Blended so both marks are met exactly**: on frame f between marks a and b, t = (f - a)/(b - a), the region's
  centre is (1 - t) x the forward track's + t x the backward one's, and its size the straight line's between the two
  marks' sizes. The custodian's marks always win: a marked frame keeps its mark.
- **Unsure, it hides more**: a match below `FLOOR` loses that direction's track for good (never picked up again on
  whatever looks alike) and the straight line takes its place in the blend (the other direction is trusted as near
  its own mark: "partly"; so are the frames before the next mark's backward pass reaches); both lost, the frame has
  the straight line (`plan.follow`, exactly); where the two directions disagree by more than `AGREE` of the region's
  size, the region around both (design/0326: the applicant is never hidden for a lost region; a moment to check).
  Elsewhere the region never grows beyond the marks' sizes: the tracker moves it, never widens it.
- **Only between two marks with a box**, where the two directions check each other: before the first mark, after the
  last and up to a mark without a box, the mark's region is held, as `plan.follow` holds it ("held"; a track from
  one mark alone drifted onto the moving parts of a test picture); after a mark without a box nothing is kept until
  the next mark with one.

Each frame says how its region was found (`Followed.how`): "mark", "tracked" (both directions), "partly" (one
direction lost, or beyond the frames held back: blended with the straight line), "line" (both lost: the straight
line), "unsure" (the directions disagreed: around both), "held" (a mark's region held, as above), "out" (no
region). The frames "partly", "line" and "unsure" are the ones for the custodian to scrub first.

`Follower` is fed the frames in order (the worker decodes them: media.py `follow`), asks only for those it needs
(`needs`), and is saved and taken up again (`state`, `restored`: design/0277). No file, no clock; the same frames
give the same boxes (the sums are of integers, exact in any order).
"""

from __future__ import annotations

import base64
import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from storage.lazy import lazy_import
from storage.redact.inside import spans
from storage.redact.ncc import match, match_cut
from storage.redact.plan import Box, Mark, PlanError, clamp, follow, lerp, union

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")  # at the job's first frame: the daemon imports this module and redacts rarely (design/0297)

WORK_WIDTH = 320       # the frames tracked are scaled down to at most about this wide,
TEMPLATE_LEAST = 16    # but never so far that a mark's shorter side is under this many pixels
TEMPLATE_MOST = 32     # the template is sampled on a grid of at most this many points a side
MIN_SIDE = 4           # a region smaller than this (scaled down) is not tracked: the straight line
SEARCH_LEAST, SEARCH_SHARE, SEARCH_MOST = 4, 0.3, 16   # the search window around the prediction, scaled pixels
FLOOR = 0.5            # a match below this loses the track (that direction is the straight line from there)
REFRESH = 0.75         # a match at least this sure refreshes the template,
KEEP = 8               # by 1/KEEP of the region's new look (ALPHA)
ALPHA = 1 / KEEP
UNIT = 64              # the template's values in 1/UNIT of a grey level (integers: exact sums)
AGREE = 0.25           # the two directions disagree beyond this share of the region's larger side
WINDOW_BYTES = 32 << 20  # the scaled-down frames held for a backward pass, at most
MARK, TRACKED, PARTLY, LINE, UNSURE, HELD, OUT = "mark", "tracked", "partly", "line", "unsure", "held", "out"
HOWS = (MARK, TRACKED, PARTLY, LINE, UNSURE, HELD, OUT)


@dataclass(frozen=True)
class Followed:
    """The applicant's region on one frame, how it was found (HOWS) and the tracks' lower match."""
    box: Box | None
    how: str
    score: float = 0.0


@dataclass(frozen=True)
class Tracker:
    """One direction's track: its template (sampled every `stride` scaled pixels), the region's
    top-left where it was found (scaled pixels) and its origin on the mark, its last step."""
    template: np.ndarray
    stride: int
    size: tuple[int, int]
    at: tuple[float, float]
    origin: tuple[float, float]
    step: tuple[float, float] = (0.0, 0.0)

    def moved(self, factor: int) -> tuple[float, float]:
        """How far the region moved from its mark, in the frame's own pixels."""
        return ((self.at[0] - self.origin[0]) * factor, (self.at[1] - self.origin[1]) * factor)


def scale_for(width: int, marks: Sequence[Mark]) -> int:
    """By how much the frames are scaled down to track in them (an integer, at least 1)."""
    sides = [min(m.box[2], m.box[3]) for m in marks if m.box is not None]
    least = min(sides) if sides else TEMPLATE_LEAST
    return max(1, min(math.ceil(width / WORK_WIDTH), least // TEMPLATE_LEAST))


def work_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """The scaled-down frame's width and height."""
    return max(1, width // factor), max(1, height // factor)


def _patch(small: np.ndarray, x: int, y: int, size: tuple[int, int], stride: int) -> np.ndarray:
    w, h = size
    return small[y:y + h:stride, x:x + w:stride].astype(np.int64)


def start(small: np.ndarray, box: Box, factor: int) -> Tracker | None:
    """A track of `box` (the frame's pixels) on `small` (the frame scaled down by `factor`, 8-bit
    luma), or None where there is nothing to follow (the region too small, or flat)."""
    height, width = small.shape
    x0, y0 = round(box[0] / factor), round(box[1] / factor)
    x1, y1 = round((box[0] + box[2]) / factor), round((box[1] + box[3]) / factor)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    w, h = x1 - x0, y1 - y0
    if w < MIN_SIDE or h < MIN_SIDE:
        return None
    stride = max(1, math.ceil(max(w, h) / TEMPLATE_MOST))
    seen = _patch(small, x0, y0, (w, h), stride)
    if int(seen.max()) - int(seen.min()) < 4:
        return None
    return Tracker(seen * UNIT, stride, (w, h), (float(x0), float(y0)), (float(x0), float(y0)))


def advance(tracker: Tracker, small: np.ndarray, least: int = SEARCH_LEAST) -> tuple[Tracker | None, float]:
    """`tracker` one frame on (in its direction) in `small`: the track moved, or None where it is
    lost (the best match below FLOOR, or the region more than half out of the picture: near an edge
    each place is scored by the part of the region inside, ncc.match_cut, design/0558); and the
    match. `least`: the search window's least reach, scaled pixels each way."""
    w, h = tracker.size
    reach = max(least, min(SEARCH_MOST, round(SEARCH_SHARE * max(w, h))))
    guess = (round(tracker.at[0] + tracker.step[0]), round(tracker.at[1] + tracker.step[1]))
    height, width = small.shape
    if reach <= guess[0] <= width - w - reach and reach <= guess[1] <= height - h - reach:
        found = match(small, tracker.template, tracker.stride, tracker.size, guess, reach)
    else:   # the window reaches an edge: the region may be partly out of the picture (design/0558)
        found = match_cut(small, tracker.template, tracker.stride, guess, reach)
    if found is None or found[2] < FLOOR:
        return None, found[2] if found else 0.0
    x, y, score = found
    template = tracker.template
    whole = 0 <= round(x) <= width - w and 0 <= round(y) <= height - h
    if score >= REFRESH and whole:   # a slow refresh, in integers: (1 - 1/KEEP) of the template and 1/KEEP of the new look
        seen = _patch(small, round(x), round(y), tracker.size, tracker.stride)
        if seen.shape == template.shape:
            template = ((KEEP - 1) * template + seen * UNIT + KEEP // 2) // KEEP
    step = (x - tracker.at[0], y - tracker.at[1])
    return Tracker(template, tracker.stride, tracker.size, (x, y), tracker.origin, step), score


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _at(centre: tuple[float, float], size: tuple[int, int]) -> Box:
    return (round(centre[0] - size[0] / 2), round(centre[1] - size[1] / 2), size[0], size[1])


Moved = tuple[float, float, float]   # (dx, dy, match) from a mark's region, the frame's pixels


def tracker_state(tr: Tracker | None) -> dict[str, Any] | None:
    if tr is None:
        return None
    return {"template": base64.b64encode(tr.template.astype("<i4").tobytes()).decode(),
            "shape": list(tr.template.shape), "stride": tr.stride, "size": list(tr.size),
            "at": list(tr.at), "origin": list(tr.origin), "step": list(tr.step)}


def tracker_from(raw: dict[str, Any] | None) -> Tracker | None:
    if raw is None:
        return None
    shape = tuple(int(v) for v in raw["shape"])
    template = np.frombuffer(base64.b64decode(raw["template"]), dtype="<i4").astype(np.int64).reshape(shape)
    w, h = (int(v) for v in raw["size"])
    ax, ay = (float(v) for v in raw["at"])
    ox, oy = (float(v) for v in raw["origin"])
    sx, sy = (float(v) for v in raw["step"])
    return Tracker(template, int(raw["stride"]), (w, h), (ax, ay), (ox, oy), (sx, sy))


class Follower:
    """The applicant's region followed through a clip of `frames` frames, fed its frames scaled
    down by `factor` (`scale_for`) one at a time, in order (`feed`); `result` once all are fed.
    `window`: how many scaled-down frames a backward pass may hold (WINDOW_BYTES' worth)."""

    def __init__(self, marks: Sequence[Mark], frames: int, factor: int, window: int) -> None:
        self.marks = sorted(marks, key=lambda m: m.frame)
        if len({m.frame for m in self.marks}) != len(self.marks):
            raise PlanError("two marks on one frame: keep one")
        self.by_frame = {m.frame: m for m in self.marks}
        self.frames, self.factor, self.window = frames, factor, max(0, window)
        self.upto = 0                            # frames fed (or taken from a saved state)
        self.forward: dict[int, Moved] = {}
        self.backward: dict[int, Moved] = {}
        self.tracker: Tracker | None = None      # the forward track under way
        self.inside: dict[int, list[Box]] = {}   # faces the detector found in and near the region (design/0326)
        self.held: list[tuple[int, np.ndarray]] = []   # the frames before the next mark, for its backward pass
        self.starts = [m.frame for m in self.marks]
        # per mark: the frames its backward pass covers (only back to a mark with a box: between two)
        self.spans: list[tuple[int, int]] = []
        for j, m in enumerate(self.marks):
            prev = self.marks[j - 1] if j else None
            if m.box is None or prev is None or prev.box is None:
                self.spans.append((m.frame, m.frame))
            else:
                self.spans.append((max(prev.frame + 1, m.frame - self.window), m.frame))

    def _ahead(self, frame: int) -> int | None:
        """The index of the first mark on or after `frame`."""
        j = bisect.bisect_left(self.starts, frame)
        return j if j < len(self.marks) else None

    def _between(self, frame: int) -> tuple[Mark, Mark] | None:
        """The marks before and after `frame` when both have a box and it is not marked itself."""
        j = bisect.bisect_left(self.starts, frame)
        if j == 0 or j == len(self.marks) or self.starts[j] == frame:
            return None
        a, b = self.marks[j - 1], self.marks[j]
        return (a, b) if a.box is not None and b.box is not None else None

    def needs(self, frame: int) -> bool:
        """Whether `feed` wants frame `frame`'s picture (else it may be given None)."""
        if frame < self.upto:
            j = self._ahead(self.upto)   # a resumed run: the frames held for the backward pass under way
            return j is not None and self.spans[j][0] <= frame < self.spans[j][1]
        m = self.by_frame.get(frame)
        if m is not None:
            return self._starts_track(frame) or self.spans[self.starts.index(frame)][0] < frame
        j = self._ahead(frame)
        held = j is not None and self.spans[j][0] <= frame < self.spans[j][1]
        return held or (self._between(frame) is not None and self.tracker is not None)

    def feed(self, frame: int, small: np.ndarray | None) -> None:
        """Frame `frame` (every frame from 0, in order; `small` None where `needs` said no)."""
        j = self._ahead(frame)
        if small is not None and j is not None and self.spans[j][0] <= frame < self.spans[j][1]:
            self.held.append((frame, small))
        if frame < self.upto:
            return
        self.upto = frame + 1
        mark = self.by_frame.get(frame)
        if mark is None:
            if self._between(frame) is not None:
                if self.tracker is not None and small is not None:
                    self.tracker, score = advance(self.tracker, small)
                    if self.tracker is not None:
                        self.forward[frame] = (*self.tracker.moved(self.factor), score)
                else:
                    self.tracker = None   # lost: no entry, the straight line in the blend
            return
        if mark.box is not None and small is not None:
            back = start(small, mark.box, self.factor)
            for f, picture in reversed(self.held):
                if back is None:
                    break
                back, score = advance(back, picture)
                if back is not None:
                    self.backward[f] = (*back.moved(self.factor), score)
        self.held = []
        self.tracker = (start(small, mark.box, self.factor)
                        if mark.box is not None and small is not None and self._starts_track(frame) else None)

    def _starts_track(self, frame: int) -> bool:
        """Whether a forward track starts at the mark on `frame` (it has a box, and so has the next)."""
        j = self.starts.index(frame)
        return (self.marks[j].box is not None and j + 1 < len(self.marks)
                and self.marks[j + 1].box is not None)

    def state(self) -> dict[str, Any]:
        """What was tracked so far, as JSON (the frames held for a backward pass are not in it:
        a run taken up again decodes them again)."""
        def moved(d: dict[int, Moved]) -> dict[str, list[float]]:
            return {str(k): list(v) for k, v in d.items()}
        return {"upto": self.upto, "factor": self.factor, "window": self.window,
                "forward": moved(self.forward), "backward": moved(self.backward), "tracker": tracker_state(self.tracker),
                "inside": {str(k): [list(b) for b in v] for k, v in self.inside.items()}}

    @classmethod
    def restored(cls, marks: Sequence[Mark], frames: int, factor: int, window: int,
                 state: dict[str, Any] | None) -> Follower:
        """A follower taken up from `state` (`Follower.state`), or from the start where there is
        none or it was saved with another scale or window."""
        f = cls(marks, frames, factor, window)
        if not state or state.get("factor") != factor or state.get("window") != f.window:
            return f

        def moved(raw: dict[str, Any]) -> dict[int, Moved]:
            return {int(k): (float(v[0]), float(v[1]), float(v[2])) for k, v in raw.items()}
        f.upto = int(state["upto"])
        f.forward, f.backward = moved(state["forward"]), moved(state["backward"])
        f.tracker = tracker_from(state.get("tracker"))
        f.inside = {int(k): [(int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in v]
                    for k, v in (state.get("inside") or {}).items()}
        return f

    def guess(self, frame: int) -> Box | None:
        """The region on `frame` once it is fed (the forward track's and the straight line's, both):
        where the detector looks for faces in and near it (inside.py, design/0326)."""
        line = follow(self.marks, frame)
        fwd, between = self.forward.get(frame), self._between(frame)
        if line is None or fwd is None or between is None or (a := between[0].box) is None:
            return line
        return union(line, (round(a[0] + fwd[0]), round(a[1] + fwd[1]), line[2], line[3]))

    def result(self) -> list[Followed]:
        """Each frame's region (once every frame is fed)."""
        return [self.at(f) for f in range(self.frames)]

    def at(self, frame: int) -> Followed:
        mark = self.by_frame.get(frame)
        if mark is not None:
            return Followed(mark.box, MARK if mark.box is not None else OUT, 1.0)
        line = follow(self.marks, frame)
        if line is None:
            return Followed(None, OUT)
        between = self._between(frame)
        if between is None:   # before the first mark, after the last, before one without a box: held
            return Followed(line, HELD)
        a, b = between
        assert a.box is not None and b.box is not None
        fwd, bwd = self.forward.get(frame), self.backward.get(frame)
        if fwd is None and bwd is None:
            return Followed(line, LINE)
        t = (frame - a.frame) / (b.frame - a.frame)
        size = (line[2], line[3])
        lc = _centre(lerp(a.box, b.box, t))   # a direction lost (or beyond the frames held back): the line
        fc = (_centre(a.box)[0] + fwd[0], _centre(a.box)[1] + fwd[1]) if fwd else lc
        bc = (_centre(b.box)[0] + bwd[0], _centre(b.box)[1] + bwd[1]) if bwd else lc
        score = min(v[2] for v in (fwd, bwd) if v is not None)
        if fwd and bwd and math.hypot(fc[0] - bc[0], fc[1] - bc[1]) > AGREE * max(size):
            return Followed(union(_at(fc, size), _at(bc, size)), UNSURE, score)
        centre = ((1 - t) * fc[0] + t * bc[0], (1 - t) * fc[1] + t * bc[1])
        return Followed(_at(centre, size), TRACKED if fwd and bwd else PARTLY, score)


def follow_frames(pictures: Sequence[np.ndarray], marks: Sequence[Mark], factor: int = 1,
                  window: int | None = None) -> list[Followed]:
    """Every frame's region over scaled-down frames held in memory (the tests', and a short
    clip's): the worker feeds a `Follower` as it decodes instead."""
    f = Follower(marks, len(pictures), factor, len(pictures) if window is None else window)
    for i, picture in enumerate(pictures):
        f.feed(i, picture if f.needs(i) else None)
    return f.result()


def window_for(width: int, height: int, factor: int) -> int:
    """How many scaled-down frames a backward pass may hold."""
    w, h = work_size(width, height, factor)
    return WINDOW_BYTES // (w * h)


CHECK = (PARTLY, LINE, UNSURE)   # the frames for the custodian to scrub first


def to_check(hows: Sequence[str], rate: float) -> list[list[float]]:
    """The moments of the clip, [from, to] in seconds (each frame's start; two places), whose
    region was not followed both ways (CHECK), joined where they touch: what the desk lists."""
    return spans([i for i, how in enumerate(hows) if how in CHECK], rate)


def clamped(followed: Sequence[Followed], width: int, height: int) -> list[Box | None]:
    """The regions cut to the frame (as the plan keeps them)."""
    return [clamp(f.box, width, height) if f.box is not None else None for f in followed]
