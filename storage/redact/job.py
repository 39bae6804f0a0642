"""A redacted copy as a job that can be stopped and taken up again (design/0172).

A job is a folder of its own (never the original export's): `job.json` says what to make (the
original export's folder, each clip with the SHA-256 its manifest recorded, the mode, the
custodian's marks and boxes per clip, and `every`: the detector on every how many frames); each step leaves a file, and a step whose file is there is
not done again:
- `<clip>.faces.json`: the detector's boxes (FACES mode), written whole or not at all;
- `<clip>`: the redacted clip, renamed into place only when whole (media.render);
- `<clip>.summary.json`: what was hidden in it (counts and method, plan.summary).
A job stopped (the box restarted, the worker ended) goes on at its first missing file.

An original clip is read only after its SHA-256 is found to be the one its export recorded, and
read again after the copy is made: a job never changes an original, and one changed under it
is refused, not redacted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from storage.disk.hashing import sha256_file
from storage.export.c2pa_sign import NotSigned
from storage.redact import derivative, media
from storage.redact.detect import Detector, input_for
from storage.redact.plan import FACES, MODES, Box, Mark, PlanError, plan_frames, summary

JOB = "job.json"
EVERY = 3   # the detector runs on every 3rd frame; the tracks fill the frames between (plan.py, bench/redaction.py)
Progress = Callable[[dict[str, Any]], None]


class JobError(RuntimeError):
    """The copy cannot be made as asked; the message says why and what to do."""


def write_job(folder: Path, job: dict[str, Any]) -> None:
    """Start a job in `folder` (made here, private): what `run` will make."""
    if job.get("mode") not in MODES:
        raise JobError(f"unknown redaction mode {job.get('mode')!r}")
    if Path(job["source"]).resolve() == folder.resolve():
        raise JobError("a redacted copy is never made in its original's folder")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_json(folder / JOB, job)


def _write_json(path: Path, data: Any) -> None:
    part = path.with_name(f".{path.name}.part")
    with open(part, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)


def _box(b: Any) -> Box:
    x, y, w, h = (int(v) for v in b)
    return (x, y, w, h)


def _marks(raw: list[Any]) -> list[Mark]:
    return [Mark(int(f), _box(b) if b is not None else None) for f, b in raw]


def _boxes(raw: dict[str, Any]) -> dict[int, list[Box]]:
    return {int(f): [_box(b) for b in boxes] for f, boxes in raw.items()}


def _checked(src: Path, sha256: str) -> None:
    if sha256_file(src) != sha256:
        raise JobError(f"{src.name}: the original clip is not the one its export recorded; refused")


def run(folder: Path, progress: Progress = lambda info: None, detector: Any = None,
        signer: Callable[[bytes], bytes] | None = None) -> dict[str, Any]:
    """Make (or go on making) the job in `folder`; per clip what was hidden. `detector`: a
    storage.redact.detect.Detector (made here for FACES mode when not given). Where the job has
    `sign` ({chain, alg, context}), each copy is signed as a derivative of its original through
    `signer` (design/0173), a last step of its own."""
    job = json.loads((folder / JOB).read_text())
    source, out = Path(job["source"]), {}
    for clip in job["clips"]:
        name = clip["file"]
        done = folder / f"{name}.summary.json"
        made = json.loads(done.read_text()) if done.exists() else _redact(folder, job, clip, progress, detector)
        if job.get("sign") and "c2pa" not in made:
            made["c2pa"] = _sign(folder / name, source / name, job["sign"], made, signer)
            made.update(made["c2pa"].pop("file", {}))
            _write_json(done, made)
        out[name] = made
    return out


def _sign(clip: Path, original: Path, how: dict[str, Any], made: dict[str, Any],
          signer: Callable[[bytes], bytes] | None) -> dict[str, Any]:
    """The copy signed as a derivative ({made, why} and, when made, its new file's {sha256, bytes})."""
    if signer is None:
        return {"made": False, "why": "no signer was given to the redaction"}
    try:
        new = derivative.sign(clip, original, derivative.definition(how.get("context") or {}, made),
                              how["chain"], how["alg"], signer)
    except NotSigned as exc:
        return {"made": False, "why": str(exc)}
    return {"made": True, "file": new}


def _redact(folder: Path, job: dict[str, Any], clip: dict[str, Any], progress: Progress,
            detector: Any) -> dict[str, Any]:
    """One clip's copy made (its detector's pass, then its render) and its summary written."""
    mode, name, src = job["mode"], clip["file"], Path(job["source"]) / clip["file"]
    done = folder / f"{name}.summary.json"
    _checked(src, clip["sha256"])
    info = media.probe(src)
    total = info["frames"]

    def tick(n: int, step: str, name: str = name, total: int = total) -> None:
        progress({"clip": name, "step": step, "done": n, "total": total})

    faces = None
    method: dict[str, Any] = {"fill": "solid"}
    if mode == FACES:
        if detector is None:
            detector = Detector(input_for(info["width"], info["height"]))
        faces = _faces(folder / f"{name}.faces.json", src, detector, int(job.get("every", EVERY)),
                       lambda n: tick(n, "detect"))
        method["detector"] = detector.method.as_dict()
    marks, added = _marks(clip.get("marks", [])), _boxes(clip.get("added", {}))
    try:
        plans = plan_frames(mode, total, (info["width"], info["height"]), marks, faces, added)
    except PlanError as exc:
        raise JobError(f"{name}: {exc}") from None
    made = media.render(src, folder / name, plans, lambda n: tick(n, "render"))
    _checked(src, clip["sha256"])  # and the original untouched after
    result = {**summary(mode, plans, marks, faces, added), "method": method, "original": name,
              "original_sha256": clip["sha256"], "frames_written": made["frames"],
              "sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
    _write_json(done, result)
    return result


def _faces(path: Path, src: Path, detector: Any, every: int, tick: Callable[[int], None]) -> dict[int, list[Box]]:
    """The detector's boxes for `src` on every `every`-th frame, from `path` when an earlier run left them."""
    if not path.exists():
        found = media.detect(src, detector, every, tick)
        _write_json(path, {str(k): v for k, v in found.items()})
    return _boxes(json.loads(path.read_text()))
