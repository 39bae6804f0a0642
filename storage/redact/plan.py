"""What a citizen's redacted copy hides in each frame (design/0170): pure, plain data in and out.

Two modes, in the site's words at the desk:
- EVERYTHING ("everything hidden except the applicant"): each frame filled solid but for the
  applicant's region, which the custodian marks on some frames and the copy follows between them
  (`follow`: linear between two marks, held from the first mark back and from the last on, and a
  mark without a box says the applicant is out of the picture from there; the worker follows the
  picture between the marks where it can, storage/redact/track.py, design/0285, and hands the
  regions in as `followed`, the straight line where it cannot).
- FACES ("faces hidden except the applicant's"): each face the detector found is filled solid,
  followed between the frames the detector ran on (`tracks`, `track_boxes`: a face found on two
  detection frames is hidden on every frame between them, and COAST frames before and after, so
  a face the detector misses once, or that walks in between two runs, is still hidden; the
  worker follows each by the picture too, storage/redact/facetrack.py, design/0290, and hands
  the faces in per frame as `faces_on`), but the applicant's: their face's track, anchored on
  the custodian's marks and joined where one track takes it up (storage/redact/applicant.py,
  design/0430, handed in per frame as `shown`; without it, the face most inside the marks'
  line, `applicants_face`); the custodian adds boxes the detector missed.

Boxes are (x, y, w, h) in the frame's pixels. Nothing here reads a clock, a file or a picture:
the media worker (storage/redact/media.py) hands in the detector's boxes and applies the plan.
A face's box is widened by PAD of its size on each side (hair, ears, a turned head) before it is
filled; the fill is solid (never a blur, which can be undone).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Container, Iterable, Sequence

Box = tuple[int, int, int, int]
EVERYTHING, FACES = "everything", "faces"
MODES = (EVERYTHING, FACES)
PAD = 0.25          # a face's box widened by this share of its width/height on each side
PAD_LEAST = 6       # and by at least this many pixels (a small face's box is a few pixels off)
TALL = 1.6          # a face's mask at least this many times as high as wide before it is widened (face_mask)
SAME_FACE = 0.5     # a second box this much inside the applicant's (widened) face is theirs too (two tracks of it)
COAST = 3           # frames a track is held past its last detection and before its first
MATCH_IOU = 0.2     # a detection continues a track when it overlaps the track's predicted box this much
MAX_GAP = 12        # frames a track may go undetected and still be joined (then interpolated) across
APPLICANT_INSIDE = 0.5  # the face most inside the applicant's region, at least this share, is theirs
MOST_KEPT = 0.5     # an applicant's region over this share of the picture hides too little: refused (issue 74)
COVERED = "the applicant's region covers"   # the refusal's words, as the worker's error carries them


@dataclass(frozen=True)
class Mark:
    """The custodian's mark on frame `frame`: the applicant's region, or None (not in the picture)."""
    frame: int
    box: Box | None


@dataclass(frozen=True)
class FramePlan:
    """One frame's redaction: fill the whole frame but `keep` (EVERYTHING), and fill each of
    `masks` (always, in both modes)."""
    fill_all: bool
    keep: Box | None
    masks: tuple[Box, ...] = ()


@dataclass
class Track:
    """One face followed across detection frames: {frame: box} where the detector found it."""
    seen: dict[int, Box] = field(default_factory=dict)

    def last(self) -> tuple[int, Box]:
        frame = max(self.seen)
        return frame, self.seen[frame]


class PlanError(ValueError):
    """A redaction the custodian asked for cannot be made as asked; the message says why."""


def clamp(box: Box, width: int, height: int) -> Box | None:
    """`box` cut to the frame; None when nothing of it is left."""
    x, y, w, h = box
    x1, y1 = x + w, y + h   # conditionals, not max/min: a frame's faces are cut every frame (issue 75)
    x0, y0 = x if x > 0 else 0, y if y > 0 else 0
    x1, y1 = x1 if x1 < width else width, y1 if y1 < height else height
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def pad(box: Box, share: float = PAD, least: int = 0) -> Box:
    """`box` widened by `share` of its size on each side, and by at least `least` pixels."""
    x, y, w, h = box
    dx, dy = round(w * share), round(h * share)
    dx, dy = dx if dx > least else least, dy if dy > least else least
    return (x - dx, y - dy, w + 2 * dx, h + 2 * dy)


def face_mask(box: Box) -> Box:
    """What is filled for a face the detector found at `box`: the box made at least TALL times as
    high as it is wide, downwards (a head turned away is narrow, and the detector's box of it is a
    face's usual shape, its chin left out: issue 75's crowd, design/0325), then widened by PAD
    (and PAD_LEAST) on each side."""
    return pad(_tall(box), PAD, PAD_LEAST)


def _tall(box: Box) -> Box:
    """`box` made at least TALL times as high as it is wide, downwards (face_mask, before it is widened)."""
    return (box[0], box[1], box[2], max(box[3], round(TALL * box[2])))


def stranger_masks(face: Box, theirs: Sequence[Box]) -> list[Box]:
    """A stranger's `face_mask` with its margin (PAD, the TALL extension) cut back where it would fall on one
    of `theirs` (the applicant's face boxes on the frame); the stranger's own box stays filled whole, so a face
    that truly overlaps theirs is still hidden, and checked (applicant.decide's OVER). Issue 88, design/0540."""
    pieces = [mask := face_mask(face)]
    for a in theirs:
        pieces = [q for b in pieces for q in _minus(b, a)]
    return pieces if pieces == [mask] else [_tall(face), *pieces]


def _minus(b: Box, a: Box) -> list[Box]:
    """`b` without `a`: up to four boxes (above, below, left and right of `a` within `b`)."""
    bx0, by0, bx1, by1 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    ax0, ay0, ax1, ay1 = max(bx0, a[0]), max(by0, a[1]), min(bx1, a[0] + a[2]), min(by1, a[1] + a[3])
    if ax0 >= ax1 or ay0 >= ay1:
        return [b]
    out = [(bx0, by0, bx1 - bx0, ay0 - by0), (bx0, ay1, bx1 - bx0, by1 - ay1),
           (bx0, ay0, ax0 - bx0, ay1 - ay0), (ax1, ay0, bx1 - ax1, ay1 - ay0)]
    return [q for q in out if q[2] > 0 and q[3] > 0]


def union(a: Box, b: Box) -> Box:
    """The box around both."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    return (x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0)


def _overlap(a: Box, b: Box) -> int:
    """The area `a` and `b` share (conditionals, not max/min: called for every face on every frame, issue 75)."""
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ax1, ay1, bx1, by1 = ax0 + aw, ay0 + ah, bx0 + bw, by0 + bh
    ix = (ax1 if ax1 < bx1 else bx1) - (ax0 if ax0 > bx0 else bx0)
    if ix <= 0:
        return 0
    iy = (ay1 if ay1 < by1 else by1) - (ay0 if ay0 > by0 else by0)
    return ix * iy if iy > 0 else 0


def iou(a: Box, b: Box) -> float:
    inter = _overlap(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def inside(a: Box, b: Box) -> float:
    """The share of `a`'s area that lies within `b`."""
    area = a[2] * a[3]
    return _overlap(a, b) / area if area > 0 else 0.0


def lerp(a: Box, b: Box, t: float) -> Box:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t), round(a[3] + (b[3] - a[3]) * t))


def follow(marks: Sequence[Mark], frame: int) -> Box | None:
    """The applicant's region on `frame` from the custodian's marks: between two marks with
    boxes, the straight line between them; before the first mark its box, after the last its
    box; after a mark without a box (the applicant left) none until the next mark with one."""
    if not marks:
        return None
    ordered = sorted(marks, key=lambda m: m.frame)
    if len({m.frame for m in ordered}) != len(ordered):
        raise PlanError("two marks on one frame: keep one")
    before = [m for m in ordered if m.frame <= frame]
    after = [m for m in ordered if m.frame > frame]
    if not before:
        return ordered[0].box
    prev = before[-1]
    nxt = after[0] if after else None
    if prev.box is None or nxt is None or nxt.box is None:
        return prev.box
    return lerp(prev.box, nxt.box, (frame - prev.frame) / (nxt.frame - prev.frame))


def predict(track: Track, frame: int) -> Box:
    """Where `track`'s face would be on `frame`, moving on as between its last two detections."""
    frames = sorted(track.seen)
    last = track.seen[frames[-1]]
    if len(frames) < 2:
        return last
    before = track.seen[frames[-2]]
    return lerp(before, last, (frame - frames[-2]) / (frames[-1] - frames[-2]))


def closeness(a: Box, b: Box) -> float:
    """How well box `b` continues `a`: their overlap, or where they do not overlap enough, up to
    MATCH_IOU as their centres are nearer than twice the larger box's side (and their sizes
    within half of each other); 0 when neither."""
    if max(a[2], b[2]) > 1.5 * min(a[2], b[2]) or max(a[3], b[3]) > 1.5 * min(a[3], b[3]):
        return 0.0
    side = max(a[2], a[3], b[2], b[3])
    dist = math.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)
    return max(iou(a, b), MATCH_IOU * max(0.0, 1 - dist / (2 * side)))


class Tracking:
    """`tracks` fed one detection frame at a time, in order (`add`): after each, `done + live` is
    what `tracks` gives for the frames fed so far (greedy in frame order: a later frame never
    changes how earlier ones were joined)."""

    def __init__(self, max_gap: int = MAX_GAP) -> None:
        self.max_gap = max_gap
        self.done: list[Track] = []
        self.live: list[Track] = []

    def add(self, frame: int, boxes: Sequence[Box]) -> list[Track]:
        """Frame `frame`'s boxes joined to the open tracks; the tracks it opened."""
        self.done += [t for t in self.live if frame - t.last()[0] > self.max_gap]
        live = [t for t in self.live if frame - t.last()[0] <= self.max_gap]
        guesses = [predict(t, frame) for t in live]   # once a track, not once a pair (issue 75)
        pairs = sorted(((closeness(guesses[ti], b), ti, bi) for ti in range(len(live))
                        for bi, b in enumerate(boxes)), reverse=True)
        used_t: set[int] = set()
        used_b: set[int] = set()
        for score, ti, bi in pairs:
            if score <= 0 or ti in used_t or bi in used_b:
                continue
            live[ti].seen[frame] = boxes[bi]
            used_t.add(ti)
            used_b.add(bi)
        opened = [Track({frame: b}) for bi, b in enumerate(boxes) if bi not in used_b]
        self.live = live + opened
        return opened


def tracks(detections: dict[int, list[Box]], max_gap: int = MAX_GAP) -> list[Track]:
    """The detector's boxes per detection frame joined into tracks: a box continues the open
    track (seen at most `max_gap` frames before) whose predicted box it is closest to
    (`closeness`, above 0); else it opens a new track. Greedy, closest first, one box per track
    a frame."""
    joined = Tracking(max_gap)
    for frame in sorted(detections):
        joined.add(frame, detections[frame])
    return joined.done + joined.live


def track_boxes(track: Track, frame: int, coast: int = COAST, frames: Sequence[int] | None = None) -> Box | None:
    """Where `track`'s face is on `frame`: its box where detected, the straight line between two
    detections, and up to `coast` frames before its first and after its last detection, carried
    on the line of its first two (last two) detections, or held where it was seen once.
    `frames`: the track's detection frames sorted, where the caller has them."""
    frames = sorted(track.seen) if frames is None else frames
    if frame < frames[0] - coast or frame > frames[-1] + coast:
        return None
    if len(frames) == 1:
        return track.seen[frames[0]]
    if frame <= frames[0]:
        a, b = frames[0], frames[1]
    elif frame >= frames[-1]:
        a, b = frames[-2], frames[-1]
    else:
        at = bisect.bisect_right(frames, frame)
        a, b = frames[at - 1], frames[at]
    return lerp(track.seen[a], track.seen[b], (frame - a) / (b - a))


def frame_plan(mode: str, frame: int, size: tuple[int, int], marks: Sequence[Mark],
               faces: Iterable[Box] = (), added: Iterable[Box] = (),
               followed: Sequence[Box | None] | None = None, strangers: Iterable[Box] = (),
               shown: Container[int] | None = None) -> FramePlan:
    """One frame's plan. `faces`: the faces followed onto this frame (track_boxes); `added`: the
    custodian's own boxes for it (always filled, widened like a face's only in FACES mode);
    `strangers`: in EVERYTHING mode, strangers' faces inside the applicant's region
    (storage/redact/inside.py, design/0326), filled as given;
    `followed`: the applicant's region on each frame as the picture was followed (track.py), used
    instead of the straight line between the marks where it has the frame; `shown`: in FACES mode,
    which of `faces` are the applicant's as their track was followed (storage/redact/applicant.py,
    design/0430), instead of the face most inside the marks' line (`applicants_face`)."""
    if mode not in MODES:
        raise PlanError(f"unknown redaction mode {mode!r} (one of {', '.join(MODES)})")
    width, height = size
    applicant = followed[frame] if followed is not None and frame < len(followed) else follow(marks, frame)
    keep = clamp(applicant, width, height) if applicant is not None else None
    extra = [clamp(b, width, height) for b in [*added, *strangers]]
    if mode == EVERYTHING:
        return FramePlan(True, keep, tuple(b for b in extra if b is not None))
    faces = list(faces)
    mine: Container[int]
    if shown is not None:
        mine = shown
    else:
        theirs = applicants_face(faces, keep)
        around = pad(faces[theirs]) if theirs is not None else None   # once a frame, not once a face (issue 75)
        mine = {i for i, f in enumerate(faces) if around is not None and inside(f, around) >= SAME_FACE}
    kept = [(x - (d := round(w * PAD)), y, w + 2 * d, h) for i, (x, y, w, h) in enumerate(faces) if i in mine]   # 0540, 0556
    masks = [clamp(m, width, height) for i, face in enumerate(faces) if i not in mine for m in stranger_masks(face, kept)]
    masks += [clamp(pad(b, 0.0), width, height) for b in added]
    return FramePlan(False, None, tuple(b for b in masks if b is not None))


def applicants_face(faces: Sequence[Box], keep: Box | None) -> int | None:
    """Which of `faces` is the applicant's: the one most inside their region, if at least
    APPLICANT_INSIDE of it is (the larger of two as far inside); one face at most, so a stranger
    beside them stays hidden."""
    if keep is None or not faces:
        return None
    share, _, best = max((inside(f, keep), f[2] * f[3], i) for i, f in enumerate(faces))
    return best if share >= APPLICANT_INSIDE else None


def kept_share(keep: Box | None, size: tuple[int, int]) -> float:
    """The share of a `size` picture a frame's kept region shows (0.0: nothing kept)."""
    width, height = size
    box = clamp(keep, width, height) if keep is not None else None
    return box[2] * box[3] / (width * height) if box is not None and width > 0 and height > 0 else 0.0


def covered_refusal(plans: Sequence[FramePlan], size: tuple[int, int], most: float = MOST_KEPT,
                    checked: Container[int] = ()) -> str | None:
    """Why a copy hiding everything but the applicant is refused, or None (issue 74, design/0321): on
    some frame the applicant's region (as marked and followed) shows more than `most` of the
    picture, so the copy hides little or nobody (the whole picture marked: nothing hidden at all).
    `checked`: frames whose region was widened around two directions that disagreed (track.py
    "unsure"): moments a person plays before the copy is released (design/0326), not refused here."""
    return _covered(((kept_share(p.keep, size), f) for f, p in enumerate(plans) if p.fill_all and f not in checked),
                    most)


def marks_covered(marks: Sequence[Mark], size: tuple[int, int], most: float = MOST_KEPT) -> str | None:
    """`covered_refusal` of the custodian's own marks: asked before the picture is followed."""
    return _covered(((kept_share(m.box, size), m.frame) for m in marks if m.box is not None), most)


def _covered(shares: Iterable[tuple[float, int]], most: float) -> str | None:
    share, frame = max(shares, default=(0.0, 0))
    if share <= most:
        return None
    return f"{COVERED} {share:.0%} of the picture on frame {frame}, more than {most:.0%}"


def plan_frames(mode: str, frames: int, size: tuple[int, int], marks: Sequence[Mark],
                detections: dict[int, list[Box]] | None = None,
                added: dict[int, list[Box]] | None = None, coast: int = COAST,
                followed: Sequence[Box | None] | None = None,
                faces_on: Sequence[Sequence[Box]] | None = None,
                strangers: Sequence[Sequence[Box]] | None = None,
                shown: Sequence[Container[int]] | None = None) -> list[FramePlan]:
    """Every frame's plan for a clip of `frames` frames (the whole clip at once: the tracks look
    ahead to the next detection). EVERYTHING needs marks; FACES needs the detector's boxes.
    `followed`: the applicant's region per frame as the worker followed it (frame_plan);
    `faces_on`: the faces on each frame as the worker followed them between the detector's runs
    (facetrack.face_boxes, design/0290), used instead of the straight line between detections;
    `strangers`: per frame, strangers' faces inside the applicant's region (EVERYTHING, inside.py);
    `shown`: per frame, which of `faces_on`'s faces are the applicant's (FACES, applicant.py)."""
    if mode == EVERYTHING and not any(m.box is not None for m in marks):
        raise PlanError("mark the applicant's region on at least one frame first")
    if mode == FACES and detections is None:
        raise PlanError("faces hidden needs the face detector's boxes")
    found = tracks(detections or {})
    added = added or {}
    return [frame_plan(mode, f, size, marks, faces_on[f] if faces_on is not None and f < len(faces_on) else
                       [b for t in found if (b := track_boxes(t, f, coast)) is not None],
                       added.get(f, ()), followed, strangers[f] if strangers is not None and f < len(strangers) else (),
                       shown[f] if shown is not None and f < len(shown) else None)
            for f in range(frames)]


def frame_at(seconds: float, rate: Fraction) -> int:
    """The frame shown at `seconds` into a clip of `rate` frames a second, as a browser paused
    there shows it (the last frame begun by then; a hair's allowance for the float the desk sends)."""
    return max(0, math.floor(seconds * rate + Fraction(1, 1000)))


def hidden_spans(spans: Sequence[tuple[float, float, Box]], rate: Fraction, frames: int) -> dict[int, list[Box]]:
    """The custodian's own boxes (design/0279) as `plan_frames` takes them: each (from, to, box),
    in seconds of the clip, filled on every frame shown from `from` to `to` (both ends; in either
    order), cut to the clip's frames."""
    added: dict[int, list[Box]] = {}
    for start, end, box in spans:
        first, last = sorted((frame_at(start, rate), frame_at(end, rate)))
        for f in range(first, min(last, frames - 1) + 1):
            added.setdefault(f, []).append(box)
    return added


def summary(mode: str, plans: Sequence[FramePlan], marks: Sequence[Mark], detections: dict[int, list[Box]] | None,
            added: dict[int, list[Box]] | None, size: tuple[int, int] | None = None) -> dict[str, object]:
    """What a redacted copy's manifest says was hidden: counts and method, never a face or a box.
    `frames_filled_whole`: frames filled but for the applicant's region where that region left
    something hidden (issue 74: a region over the whole picture hides nothing and is not counted);
    `least_hidden`: with `size`, the least share of the picture hidden on such a frame."""
    filled = [p for p in plans if p.fill_all and (size is None or kept_share(p.keep, size) < 1.0)]
    return {"mode": mode, "fill": "solid", "frames": len(plans),
            "frames_filled_whole": len(filled),
            **({"least_hidden": round(min((1 - kept_share(p.keep, size) for p in filled), default=0.0), 3)}
               if size is not None and mode == EVERYTHING else {}),
            "masks": sum(len(p.masks) for p in plans),
            "faces_followed": len(tracks(detections or {})),
            "applicant_marks": len(marks),
            "custodian_boxes": sum(len(v) for v in (added or {}).values())}
