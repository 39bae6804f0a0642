"""A redacted copy as a job that can be stopped and taken up again (design/0172).

A job is a folder of its own (never the original export's): `job.json` says what to make (the
original export's folder, each clip with the SHA-256 its manifest recorded, the mode, the
custodian's marks of the applicant per clip (by frame, or by the second of the clip the desk
shows: design/0279), the boxes they hide (`added` by frame, `hide` as spans of seconds), and
`every`: the detector on every how many frames); each step leaves a file, and a step whose file
is there is not done again:
- `<clip>.faces.json`: the detector's boxes (FACES mode) and each followed by the picture between
  its runs (storage/redact/facetrack.py, design/0290), written whole or not at all, and while
  the detector runs `<clip>.faces.partial.json`: its boxes and the following so far, every few
  seconds of footage;
- `<clip>.follow.json`: the applicant's region on each frame as the picture was followed between
  the marks (EVERYTHING mode, storage/redact/track.py, design/0285) and how each was found, and
  while the tracker runs `<clip>.follow.partial.json`: what it tracked so far, likewise;
- `<clip>.part-NNNNNN.mp4` and `.json`: the render in parts of a few seconds of footage, each a
  whole MP4 with a record of its frames, its plans' digest and its SHA-256 (storage/redact/resume.py);
- `<clip>`: the redacted clip, the parts joined, renamed into place only when whole;
- `<clip>.summary.json`: what was hidden in it (counts and method, plan.summary), its SHA-256:
  the hash that the record and the release name is the joined clip's, nothing half made.
A job stopped (the box restarted, the daemon stopped or was killed, the worker ended) goes on at
its first missing file, and within a clip's pass at its first part not made (design/0277): the
parts before it are kept when their SHA-256 is still the one recorded. One worker at a time makes
a job (a lock on `.lock` in its folder).

An original clip is read only after its SHA-256 is found to be the one its export recorded, and
read again after the copy is made: a job never changes an original, and one changed under it
is refused, not redacted.
"""

from __future__ import annotations

import fcntl
import glob
import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from storage.disk.hashing import sha256_file
from storage.export.c2pa_sign import NotSigned
from storage.redact import applicant, derivative, facetrack, faces_pass, inside, media, models, resume, track, watermark
from storage.redact.faces_pass import Planned
from storage.redact.jobfiles import box as _box, boxes as _boxes, part as _part, parts as _parts
from storage.redact.jobfiles import write_json as _write_json
from storage.redact.copies import JOB as JOB, RELEASED as RELEASED, SIGN as SIGN   # said here too: the job's folder
from storage.redact.detect import (FINE_ACROSS, FINE_EVERY, FINER_ACROSS, FINER_AT, FINER_EVERY, Detector, input_for,
                                  passes_for, weak_of, weak_said)
from storage.redact.plan import (EVERYTHING, FACES, MODES, Box, Mark, PlanError, covered_refusal, frame_at,
                                 frame_plan, hidden_spans, marks_covered, plan_frames, summary)
from storage.redact.track import CHECK, HOWS, UNSURE, Follower, clamped, scale_for, to_check, window_for

EVERY = 3   # the detector runs on every 3rd frame; the tracks fill the frames between (plan.py, bench/redaction.py)
FACES_EVERY = 6   # faces mode's first pass (640 px) on every 6th frame, each face followed both ways between (design/0358)
DISAGREE, NEAR = "detectors_disagree", "stranger_near"   # why a frame is to check, besides applicant.py's
# every word `to_check_why` can say (design/0433); the desk says each in words (edged/viewer/desk/marks.py, design/0462)
WHYS = (applicant.UNSURE, applicant.OVER, applicant.TWO, DISAGREE, NEAR, *(f"region_{how}" for how in CHECK))
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


def write_released(folder: Path, what: dict[str, Any]) -> None:
    """The copy in `folder` released: never gone on with again (design/0277)."""
    _write_json(folder / RELEASED, what)


def released(export_dir: Path) -> bool:
    """Whether a redacted copy of the staged export in `export_dir` was released (its folder
    beside the export's holds RELEASED): never gone on with or offered again (design/0277)."""
    return any(export_dir.parent.glob(f"{glob.escape(export_dir.name)}.redacted-*/{RELEASED}"))


def released_for(export_dir: Path) -> str | None:
    """What a released redacted copy of the staged export was released for ("copy", handed over;
    "view", the accompanied viewing), or None: not released."""
    for path in export_dir.parent.glob(f"{glob.escape(export_dir.name)}.redacted-*/{RELEASED}"):
        try:
            return str(json.loads(path.read_text()).get("use") or "copy")
        except (OSError, ValueError, AttributeError):
            return "copy"
    return None


def released_by(export_dir: Path) -> str | None:
    """Who released a redacted copy of the staged export (its RELEASED record's `released_by`), or
    None: not released, or a record that does not say (issue 91 D4: the way back to it)."""
    for path in export_dir.parent.glob(f"{glob.escape(export_dir.name)}.redacted-*/{RELEASED}"):
        try:
            who = json.loads(path.read_text()).get("released_by")
        except (OSError, ValueError, AttributeError):
            return None
        return str(who) if who else None
    return None


def _marks(raw: list[Any], rate: Fraction) -> list[Mark]:
    """[[frame, box or null], ...] or, from the desk, [{"t": seconds, "box": box or null}, ...]."""
    return [Mark(frame_at(float(m["t"]), rate), _box(m["box"]) if m["box"] is not None else None)
            if isinstance(m, dict) else Mark(int(m[0]), _box(m[1]) if m[1] is not None else None) for m in raw]


def _checked(src: Path, sha256: str) -> None:
    if sha256_file(src) != sha256:
        raise JobError(f"{src.name}: the original clip is not the one its export recorded; refused")


def run(folder: Path, progress: Progress = lambda info: None, detector: Any = None,
        signer: Callable[[bytes], bytes] | None = None) -> dict[str, Any]:
    """Make (or go on making) the job in `folder`; per clip what was hidden. `detector`: a
    storage.redact.detect.Detector (made here for FACES mode when not given). Where the release
    wrote SIGN ({chain, alg, context}; a job begun before design/0435: its own `sign`), each copy
    is signed as a derivative of its original through `signer` (design/0173), a last step of its
    own: the copy is made unsigned, and its release runs the job again to sign it. A job whose
    `review_mark` is drawn on its copy (the preparer's review copy, design/0479) is rendered again
    at the release from the same decisions (the steps' files), without it, before it is signed."""
    job = json.loads((folder / JOB).read_text())
    source, out = Path(job["source"]), {}
    # how to sign: the release's word (SIGN, written when a second custodian releases it: issue 88,
    # design/0435), or a job begun before it (its `sign` at the making)
    how = _read_json(folder / SIGN) or job.get("sign")
    with open(folder / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:   # an earlier worker still ending (its daemon killed): wait for it
            progress({"waiting": "another worker holds this job"})
            fcntl.flock(lock, fcntl.LOCK_EX)
        for clip in job["clips"]:
            name = clip["file"]
            done = folder / f"{name}.summary.json"
            made = json.loads(done.read_text()) if done.exists() else None
            if made is not None and not (how and made.get("watermark")):
                ran: dict[str, Any] = {"render": {"kept": made.get("frames_written"), "made": 0}}
            else:   # made now; or released, rendered again without the review copy's watermark
                review = made
                made, ran = _redact(folder, job, clip, progress, detector, final=how is not None)
                if review is not None:
                    made["review_sha256"] = review["sha256"]
                    _write_json(done, made)
            if how and how.get("chain") and "c2pa" not in made:
                made["c2pa"] = _sign(folder / name, source / name, how, made, signer)
                made.update(made["c2pa"].pop("file", {}))
                _write_json(done, made)
            for path in _parts(folder, name):   # joined and summed: not needed
                path.unlink(missing_ok=True)
            out[name] = {**made, "run": ran}
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        got = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return got if isinstance(got, dict) else None


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
            detector: Any, final: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """One clip's copy made and its summary written: the review copy (`review_mark` drawn), or `final` without."""
    mode, name, src = job["mode"], clip["file"], Path(job["source"]) / clip["file"]
    words = None if final else job.get("review_mark")
    _checked(src, clip["sha256"])
    info = media.probe(src)
    total, rate = info["frames"], Fraction(*info["rate"])
    ran: dict[str, Any] = {}
    method: dict[str, Any] = {"fill": "solid"}
    marks, added = _marks(clip.get("marks", []), rate), _boxes(clip.get("added", {}))
    for f, boxes in hidden_spans([(float(a), float(b), _box(box)) for a, b, box in clip.get("hide", [])], rate,
                                 total).items():
        added.setdefault(f, []).extend(boxes)
    faces, on_frames, shown = None, None, None
    why: dict[int, str] = {}
    checks: list[int] = []
    if mode == FACES:
        faces, on_frames, shown, why, checks = _faces(folder, job, name, src, info, detector, progress, ran, method,
                                                      marks, added, words)
    found: dict[str, Any] | None = None
    followed: list[Box | None] | None = None
    strangers: list[list[Box]] | None = None
    try:
        if mode == EVERYTHING and any(m.box is not None for m in marks):
            marked = marks_covered(marks, (info["width"], info["height"]))
            if marked is not None:   # the custodian's own mark: refused before the picture is followed
                raise PlanError(marked)
            found = _followed(folder, job, name, src, marks, info, detector, progress, ran, method)
            followed = [_box(b) if b is not None else None for b in found["boxes"]]
            if "inside" in found:
                strangers, checks = inside.strangers(_boxes(found["inside"]), followed, marks=marks)
        plans = plan_frames(mode, total, (info["width"], info["height"]), marks, faces, added, followed=followed,
                            faces_on=on_frames, strangers=strangers, shown=shown)
        unsure = {i for i, how in enumerate(found["how"]) if how == UNSURE} if found is not None else set()
        covered = covered_refusal(plans, (info["width"], info["height"]), checked=unsure) if mode == EVERYTHING else None
        if covered is not None:   # refused before a frame is rendered (issue 74)
            raise PlanError(covered)
    except PlanError as exc:
        raise JobError(f"{name}: {exc}") from None
    made = _render(folder, name, src, plans, resume.chunk_frames(rate), progress, total,
                   ran.get("detect", {}).pop("rendered", 0), words)
    _checked(src, clip["sha256"])  # and the original untouched after
    result = {**summary(mode, plans, marks, faces, added, (info["width"], info["height"])), "method": method, "original": name,
              "original_sha256": clip["sha256"], "frames_written": made["frames"],
              "sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size,
              "plans_sha256": resume.plan_digest(plans), **({"watermark": words} if words else {})}   # design/0479
    if found is not None:   # how the applicant's region was found: frames of each, and when to check (never where)
        result["applicant_followed"] = {how: found["how"].count(how) for how in HOWS}
        result["applicant_check"] = to_check(found["how"], float(rate))
        checks += [i for i, how in enumerate(found["how"]) if how in CHECK]
        why.update({i: f"region_{how}" for i, how in enumerate(found["how"]) if how in CHECK})
        result["strangers_inside"] = sum(1 for m in strangers or [] if m)   # frames with a stranger's face filled in it
    # the moments to check (design/0326): the region unsure, a stranger in or near it, the passes disagreeing
    result["to_check"] = inside.spans(checks, float(rate))
    result["to_check_share"] = round(len(set(checks)) / total, 3) if total else 0.0
    result["to_check_why"] = inside.why_spans({**{f: DISAGREE if mode == FACES else NEAR for f in checks}, **why}, float(rate))
    _write_json(folder / f"{name}.summary.json", result)
    ran["render"] = {"kept": made["kept"], "made": made["made"]}
    return result, ran


def _faces(folder: Path, job: dict[str, Any], name: str, src: Path, info: dict[str, Any], detector: Any,
           progress: Progress, ran: dict[str, Any], method: dict[str, Any], marks: list[Mark],
           added: dict[int, list[Box]], words: str | None = None,
           ) -> tuple[dict[int, list[Box]], list[list[Box]], list[set[int]] | None, dict[int, str], list[int]]:
    """FACES mode's boxes, each frame's faces, which of them are the applicant's (None: no mark, every
    face filled), the frames to check and why (design/0430, 0433), and the passes' disagreement.
    With the applicant marked their track is followed over the whole clip before it is rendered."""
    size, total = (info["width"], info["height"]), info["frames"]
    anchored = any(m.box is not None for m in marks)
    plan: Planned | None = None if anchored else lambda f, on: frame_plan(FACES, f, size, marks, on, added.get(f, ()))
    faces, moves, disagreed, reach = _detected(folder, job, name, src, info, detector, progress, ran, method, plan,
                                               words)
    carried: list[set[int]] = [set() for _ in range(total)]
    joined, labelled = facetrack.labelled_faces(faces, moves, total, carried)
    checks = applicant.disagreed_checks(labelled, disagreed, reach)
    on_frames = [[b for _, b in faces_on] for faces_on in labelled]
    if not anchored:
        return faces, on_frames, None, {}, checks
    decided = applicant.decide(joined, labelled, marks, carried=carried)
    return faces, on_frames, decided.shown, decided.check, checks + list(decided.check)


def _detected(folder: Path, job: dict[str, Any], name: str, src: Path, info: dict[str, Any], detector: Any,
              progress: Progress, ran: dict[str, Any], method: dict[str, Any], plan: Planned | None,
              words: str | None = None) -> tuple[dict[int, list[Box]], dict[str, Any] | None, list[int], int]:
    """FACES mode's detector passes (design/0325) and each face followed between them: the boxes,
    how each was followed (facetrack.FaceFollower.followed), and the frames where the passes
    disagreed, and how far each side of one the frames are to check.
    A fresh job renders its copy in the same decode, each frame filled as `plan(frame, its faces)`
    says (design/0360; `ran["detect"]["rendered"]`: the frames it made)."""
    if detector is None:
        detector = Detector(input_for(info["width"], info["height"]), model=_model(job))
    fine = job.get("fine", [FINE_ACROSS, FINE_EVERY])
    finer = job.get("finer", [FINER_ACROSS, FINER_EVERY, FINER_AT])   # the bench's --finer (design/0550)
    passes = passes_for(info["width"], info["height"], int(job.get("every", FACES_EVERY)),
                        (int(fine[0]), int(fine[1])) if fine else None, weak=weak_of(detector.method),
                        finer=(int(finer[0]), int(finer[1]), int(finer[2])) if finer else None)
    faces, moves, disagreed, ran["detect"] = faces_pass.faces(
        folder / f"{name}.faces.json", src, detector, passes, info, resume.chunk_frames(Fraction(*info["rate"])), name,
        progress, plan, words)
    method["detector"] = {**detector.method.as_dict(), "passes": [p.as_list() for p in passes],
                          **weak_said(passes, info["height"])}
    if moves is not None:
        method["faces_followed"] = {"tracker": "normalized cross-correlation of each face's luma, forward "
                                               "and back from each detection", "scale": moves["factor"],
                                    "frames_at_most": moves["reach"], "floor": track.FLOOR}
    return faces, moves, disagreed, max(p.every for p in passes if not p.extra) // 2


def _model(job: dict[str, Any]) -> str | None:
    """The model a job asks for ("model": one of models.MODELS; bench/redaction --model), else None: the CPU's
    own (detect.Detector). The daemon never asks: a copy runs the model its box's CPU runs (design/0363, 0533, 0577)."""
    model = job.get("model")
    if model is not None and model not in models.MODELS:
        raise JobError(f"unknown detector model {model!r} ({', '.join(models.MODELS)})")
    return None if model is None else str(model)


def _followed(folder: Path, job: dict[str, Any], name: str, src: Path, marks: list[Mark], info: dict[str, Any],
              detector: Any, progress: Progress, ran: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
    """EVERYTHING mode's region followed between the marks, the faces in and near it found as it
    goes (design/0326; a job with "inside": false, not)."""
    looks = bool(job.get("inside", True))
    if detector is None and looks:
        detector = Detector(input_for(info["width"], info["height"]), model=_model(job))
    every = int(job.get("every", EVERY))
    found, ran["follow"] = _follow(folder / f"{name}.follow.json", src, marks, info,
                                   resume.chunk_frames(Fraction(*info["rate"])), name, progress,
                                   detector if looks else None, every)
    method["follow"] = found["method"]
    if "inside" in found:
        method["inside"] = {"detector": detector.method.as_dict() if detector is not None else None,
                            "around": inside.NEAR, "every": every, "across": FINE_ACROSS,
                            "around_every": every * inside.AROUND_EVERY,   # the look around it less often (design/0619)
                            "own_pad": inside.OWN_PAD}   # the region itself again at the picture's scale (design/0569)
    return found


def _render(folder: Path, name: str, src: Path, plans: list[Any], per: int, progress: Progress,
            total: int, now: int = 0, words: str | None = None) -> dict[str, Any]:
    """The clip's render in parts (design/0277): the parts an earlier run made and that still stand
    (resume.kept) kept, the rest made, then all joined into `folder/name`. {frames: in the clip,
    kept: frames kept from before, made: frames filled and encoded now}. `now`: the frames this
    run made already with the detector's pass (design/0360), not kept from before."""
    expected = resume.chunks(plans, per, watermark.encoding(words))
    records: dict[int, dict[str, Any]] = {}
    for path in folder.glob(f"{glob.escape(name)}.part-*.json"):
        try:
            r = json.loads(path.read_text())
            records[int(r["index"])] = r
        except (OSError, ValueError, KeyError, TypeError):
            continue   # a record not whole is no record: its part is made again
    hashes = {i: sha256_file(_part(folder, name, i)) for i in records if _part(folder, name, i).exists()}
    start = resume.kept(expected, records, hashes)
    for path in _parts(folder, name):   # every part from the first not standing on is made again
        index = path.name.lstrip(".").removeprefix(f"{name}.part-")[:6]
        if not index.isdigit() or int(index) >= start:
            path.unlink()
    kept = sum(int(records[c.index]["frames"]) for c in expected[:start]) - now
    if kept > 0:
        progress({"clip": name, "step": "render", "done": kept, "total": total, "resumed": kept})

    def saved(index: int, path: Path, frames: int) -> None:
        _write_json(_part(folder, name, index).with_suffix(".json"),
                    resume.record(expected[index], frames, sha256_file(path), path.stat().st_size))

    made = {"frames": 0}
    if start < len(expected):
        made = media.render(src, lambda i: _part(folder, name, i), plans, per, start, saved,
                            lambda n: progress({"clip": name, "step": "render", "done": n, "total": total}), words)
    frames = media.join([_part(folder, name, c.index) for c in expected], folder / name)
    return {"frames": frames, "kept": max(0, kept), "made": made["frames"] + now}


def _follow(path: Path, src: Path, marks: list[Mark], info: dict[str, Any], per: int, name: str,
            progress: Progress, detector: Any = None, every: int = EVERY) -> tuple[dict[str, Any], dict[str, Any]]:
    """The applicant's region on each frame of `src`, followed between the custodian's marks
    (storage/redact/track.py), from `path` when an earlier run left it, going on from
    `<clip>.follow.partial.json` when an earlier run stopped in the middle (design/0277): {boxes,
    how, score, method}; and what this run kept and made."""
    total = info["frames"]
    if path.exists():
        return json.loads(path.read_text()), {"kept": total, "made": 0}
    factor = scale_for(info["width"], marks)
    window = window_for(info["width"], info["height"], factor)
    partial = path.with_name(path.name.replace(".follow.json", ".follow.partial.json"))
    try:
        state = json.loads(partial.read_text())
        follower = Follower.restored(marks, total, factor, window, state)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        follower = Follower(marks, total, factor, window)
    start = follower.upto
    if start:
        progress({"clip": name, "step": "follow", "done": start, "total": total, "resumed": start})

    def save(upto: int, f: Follower) -> None:
        _write_json(partial, f.state())

    media.follow(src, follower, lambda n: progress({"clip": name, "step": "follow", "done": n, "total": total}),
                 per, save, detector, every)
    got = follower.result()
    width, height = info["width"], info["height"]
    _write_json(path, {"boxes": [list(b) if b is not None else None for b in clamped(got, width, height)],
                       "how": [g.how for g in got], "score": [round(g.score, 3) for g in got],
                       "method": {"tracker": "normalized cross-correlation of the region's luma, forward from each "
                                             "mark and back from the next, the marks kept",
                                  "scale": factor, "floor": track.FLOOR},
                       **({"inside": {str(k): v for k, v in follower.inside.items()}} if detector is not None else {})})
    partial.unlink(missing_ok=True)
    return json.loads(path.read_text()), {"kept": start, "made": max(0, total - start)}
