"""Where a stopped redacted copy goes on (design/0277): the pure rules, no I/O.

A clip's render is made in parts of a few seconds of footage each (`CHUNK_SECONDS`), each part
its own small MP4 that starts on a key frame, written whole or not at all, with a record of the
frames it holds, a digest of their plans (the masks it was made with) and its SHA-256. A job
taken up again keeps the leading parts whose record matches what the job would make now and
whose file still has the SHA-256 recorded, and makes the rest; the parts are joined into the
clip only when every one is there, so a copy half made is never taken for one made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from storage.redact.plan import FramePlan

CHUNK_SECONDS = 5   # of footage per part: what a stop can cost (a key frame each, as a camera's GOP)


@dataclass(frozen=True)
class Chunk:
    """One part of a clip's render: `count` frames from `first`, made with plans of digest `plan`."""
    index: int
    first: int
    count: int
    plan: str


def chunk_frames(rate: Fraction | tuple[int, int]) -> int:
    """Frames in a part at this frame rate (never fewer than one)."""
    r = rate if isinstance(rate, Fraction) else Fraction(*rate)
    return max(1, round(CHUNK_SECONDS * r))


def plan_digest(plans: Sequence[FramePlan], encoding: str = "") -> str:
    """A digest of what these frames are filled with, and with `encoding` how they are encoded
    (x264.encoding): a part made with other masks, or by an encoder set otherwise, is not kept
    (design/0360: x264 without B pictures writes other parameter sets, which a part made before
    could not be joined to)."""
    data = [[p.fill_all, list(p.keep) if p.keep else None, [list(m) for m in p.masks]] for p in plans]
    text = json.dumps(data, separators=(",", ":"))
    return hashlib.sha256((f"{encoding}\n{text}" if encoding else text).encode()).hexdigest()


def chunks(plans: Sequence[FramePlan], per: int, encoding: str = "") -> list[Chunk]:
    """The parts of a clip of len(plans) frames, `per` frames each (the last may be shorter; a
    clip of no frames is one empty part, so the render still makes a file)."""
    total = len(plans)
    firsts = list(range(0, total, per)) or [0]
    return [Chunk(i, f, min(per, total - f), plan_digest(plans[f:f + per], encoding)) for i, f in enumerate(firsts)]


def chunk_of(frame: int, per: int, count: int) -> int:
    """The part frame `frame` goes in (a frame past the probed count goes in the last part)."""
    return min(frame // per, count - 1)


def record(chunk: Chunk, frames: int, sha256: str, size: int) -> dict[str, Any]:
    """What is written beside a part made (`<clip>.part-NNNNNN.json`, flat beside the clip)."""
    return {"index": chunk.index, "first": chunk.first, "frames": frames, "plan": chunk.plan,
            "sha256": sha256, "bytes": size}


def kept(expected: Sequence[Chunk], records: dict[int, dict[str, Any]], hashes: dict[int, str]) -> int:
    """How many leading parts stand as made: each one's record says the frames and the plan the
    job makes now, and its file's SHA-256 (`hashes`, absent when the file is gone) is the one
    recorded. The first part that does not stand, and every part after it, is made again."""
    n = 0
    for c in expected:
        r = records.get(c.index)
        last = c.index == len(expected) - 1
        if (r is None or r.get("first") != c.first or r.get("plan") != c.plan
                or not isinstance(r.get("frames"), int)
                or not (r["frames"] == c.count or (last and r["frames"] >= c.count))
                or not r.get("sha256") or hashes.get(c.index) != r["sha256"]):
            break
        n += 1
    return n
