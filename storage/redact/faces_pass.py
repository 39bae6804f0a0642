"""FACES mode's detector pass over a clip, saved as it goes and taken up again (design/0277,
0290, 0325), and for a job begun afresh the copy rendered in the same decode (design/0360):
`<clip>.faces.json` and `<clip>.faces.partial.json` as storage/redact/job.py describes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from storage.disk.hashing import sha256_file
from storage.redact import facetrack, media, resume, watermark
from storage.redact.detect import Pass
from storage.redact.jobfiles import boxes as _boxes, part as _part, parts as _parts, write_json as _write_json
from storage.redact.models import MODEL_SHA256
from storage.redact.plan import Box, FramePlan

Progress = Callable[[dict[str, Any]], None]
Planned = Callable[[int, list[Box]], FramePlan]   # a frame's plan from its faces (FACES mode)


def faces(path: Path, src: Path, detector: Any, passes: tuple[Pass, ...], info: dict[str, Any], per: int, name: str,
           progress: Progress, plan: Planned | None = None, words: str | None = None,
           ) -> tuple[dict[int, list[Box]], dict[str, Any] | None, list[int], dict[str, Any]]:
    """The detector's boxes for `src` on the frames its `passes` run on, and each followed by the picture
    between the runs (facetrack.py, design/0290: `followed`, None in a file an older version
    wrote) and the frames where the passes disagreed, from `path` when an earlier run left them, going
    on from `<clip>.faces.partial.json` when an earlier run stopped in the middle (design/0277); and
    what this run kept and made.
    A job begun afresh (nothing of it saved) with a `plan` renders its parts in the same decode
    (`_together`, the review copy's `words` drawn on it: design/0479); one taken up again decodes the
    clip again for the render (`_render`)."""
    total = info["frames"]
    model = detector.method.model_sha256
    if path.exists() and _model_of(path) == model:
        return *read(path), {"kept": total, "made": 0}
    partial = path.with_name(path.name.replace(".faces.json", ".faces.partial.json"))
    factor = facetrack.factor_for(info["width"])
    disagreed: set[int] = set()
    try:
        saved = json.loads(partial.read_text())
        if saved.get("model", MODEL_SHA256) != model:   # found by another model (design/0363): from the start
            raise ValueError(partial.name)
        start, found = int(saved["upto"]), _boxes(saved["found"])
        disagreed = {int(f) for f in saved.get("disagreed", [])}
        faces = facetrack.FaceFollower.restored(factor, found, saved["faces"])
        if faces.upto != start:   # saved by an older version, or at another scale: from the start
            raise ValueError(partial.name)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        start, found, faces = 0, {}, facetrack.FaceFollower(factor)
    if start:
        progress({"clip": name, "step": "detect", "done": start, "total": total, "resumed": start})

    def save(upto: int, boxes: dict[int, list[Box]]) -> None:
        _write_json(partial, {"upto": upto, "found": {str(k): v for k, v in boxes.items()}, "faces": faces.state(),
                              "disagreed": sorted(disagreed), "model": model})

    def tick(n: int) -> None:
        progress({"clip": name, "step": "detect", "done": n, "total": total})

    rendered = 0
    if not start and plan is not None and not _parts(path.parent, name):
        found, rendered = _together(path.parent, name, src, (detector, passes, faces, disagreed), plan, total, per,
                                    save, tick, words)
        progress({"clip": name, "step": "render", "done": total, "total": total})
    else:
        found = media.detect(src, detector, passes[0].every, tick, start, found, per, save, faces, passes, disagreed)
    _write_json(path, {"boxes": {str(k): v for k, v in found.items()}, "followed": faces.followed(),
                       "disagreed": sorted(disagreed), "model": model})
    partial.unlink(missing_ok=True)
    return *read(path), {"kept": start, "made": max(0, total - start), **({"rendered": rendered} if rendered else {})}


def _together(folder: Path, name: str, src: Path, looking: tuple[Any, tuple[Pass, ...], facetrack.FaceFollower, set[int]],
              plan: Planned, total: int, per: int, save: Callable[[int, dict[int, list[Box]]], None],
              tick: Callable[[int], None], words: str | None = None) -> tuple[dict[int, list[Box]], int]:
    """The detector's pass and the render in one decode (media.detect_render, design/0360): the
    parts and their records as `_render` writes them, each part's plans' digest from the plans
    it was filled with, so `_render` after it finds every part standing and only joins them.
    `looking`: (the detector, its passes, the face follower, the frames the passes disagreed on).
    The boxes, and the frames rendered."""
    detector, passes, faces, disagreed = looking
    filled: dict[int, list[FramePlan]] = {}

    def planned(f: int, on: list[Box]) -> FramePlan:
        if f >= total:   # the clip longer than probed: filled whole, never shown unplanned
            return FramePlan(True, None)
        filled.setdefault(f // per, []).append(made := plan(f, on))
        return made

    def saved(index: int, path: Path, frames: int) -> None:
        plans = filled.pop(index, [])
        chunk = resume.Chunk(index, index * per, len(plans), resume.plan_digest(plans, watermark.encoding(words)))
        _write_json(path.with_suffix(".json"), resume.record(chunk, frames, sha256_file(path), path.stat().st_size))

    count = max(1, -(-total // per))
    return media.detect_render(src, detector, passes, faces, disagreed, planned,
                               lambda stream: media.Parts(stream, lambda i: _part(folder, name, i), per, count, saved, words),
                               per, save, tick)


def _model_of(path: Path) -> str:
    """The SHA-256 of the detector's model that found `<clip>.faces.json`'s boxes: the float model
    where the file does not say (written before design/0363); an unreadable file is found again."""
    try:
        return str(json.loads(path.read_text()).get("model", MODEL_SHA256))
    except (OSError, ValueError, AttributeError):
        return ""


def read(path: Path) -> tuple[dict[int, list[Box]], dict[str, Any] | None, list[int]]:
    """`<clip>.faces.json`: the boxes, how they were followed and the frames where the passes disagreed
    (an older file: the boxes alone)."""
    data = json.loads(path.read_text())
    if "boxes" not in data:
        return _boxes(data), None, []
    return _boxes(data["boxes"]), data.get("followed"), [int(d) for d in data.get("disagreed", [])]
