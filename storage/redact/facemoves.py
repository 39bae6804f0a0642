"""A face's box as facetrack.py follows it (design/0290): its moves kept as JSON, a box moved by one, a face lost on
its line, one leaving the picture, and the two directions' boxes between two detections: pure geometry, no picture."""

from __future__ import annotations

import math
from typing import Any

from storage.redact.plan import Box, lerp
from storage.redact.track import AGREE, Tracker

SLIP = 0.5   # a followed face whose step changes by more than this share of its side in a frame slipped off it (0601)
Key = tuple[int, int]   # (the frame a box was found on, its place in that frame's boxes)
Moved = tuple[float, float, float]   # (dx, dy, match) from the found box, the frame's pixels


def key_of(k: str) -> Key:
    a, b = k.split(":")
    return int(a), int(b)


def shifted(box: Box, moved: Moved) -> Box:
    """`box` moved as the picture was followed."""
    return (round(box[0] + moved[0]), round(box[1] + moved[1]), box[2], box[3])


def on_line(lost: list[float], frame: int) -> Box:
    """Where a face lost going forward (`FaceFollower.lost`) is on `frame` by its last step."""
    x, y, w, h, dx, dy, at = lost
    k = frame - at
    return round(x + dx * k), round(y + dy * k), round(w), round(h)


def leaving(tr: Tracker, shape: tuple[int, ...]) -> bool:
    """Whether the track's next step takes its region (partly) out of the picture (`shape`: rows, columns)."""
    x, y = tr.at[0] + tr.step[0], tr.at[1] + tr.step[1]
    return x < 0 or y < 0 or x + tr.size[0] > shape[1] or y + tr.size[1] > shape[0]


def moved_from(raw: dict[str, Any]) -> dict[Key, dict[int, Moved]]:
    return {key_of(k): {int(f): (float(m[0]), float(m[1]), float(m[2])) for f, m in v.items()} for k, v in raw.items()}


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def between(a: Box, b: Box, fwd: Box, bwd: Box, t: float, line: Box | None) -> list[Box]:
    """A face between its detections `a` and `b` (t of the way), followed forward to `fwd` and
    backward to `bwd`: the two blended, or both and the straight line where they disagree."""
    size = lerp(a, b, t)[2:]
    fc, bc = _centre(fwd), _centre(bwd)
    if math.hypot(fc[0] - bc[0], fc[1] - bc[1]) > AGREE * max(size):
        return [fwd, bwd] + ([line] if line is not None else [])
    cx, cy = (1 - t) * fc[0] + t * bc[0], (1 - t) * fc[1] + t * bc[1]
    return [(round(cx - size[0] / 2), round(cy - size[1] / 2), size[0], size[1])]


def slipped(before: Tracker, after: Tracker) -> bool:
    """Whether `after` (`before` one frame on) slipped off the face: its step changed by more than SLIP of the region's
    side in one frame, which a walker's never does (the match took an edge moving by: her sprite's, design/0601). Not
    asked on a track's first step (no step yet to change)."""
    if before.at == before.origin:
        return False
    w, h = before.size
    return abs(after.step[0] - before.step[0]) > SLIP * w or abs(after.step[1] - before.step[1]) > SLIP * h
