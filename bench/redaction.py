"""A citizen's redacted copy: how much it hides and what it costs (issue 54; design/0170-0176).

    .venv/bin/python -m bench.redaction [--seconds 10] [--every 3]
    .venv/bin/python -m bench.redaction --crowd [--held-out [2 | 3 | ... | 17] | --profiles] [--seconds 10] [--every 3] [--modes faces,everything] [--model float]
    .venv/bin/python -m bench.redaction --beside-recording 32 [--copy-seconds 600] [--window 60] [--copy-mode faces]

Builds a 1080p20 clip of real faces with known boxes (tests/support/faces.py: the public-domain
NASA photograph scikit-image ships, at four sizes, walking across a scene; one of them the
applicant), then makes its redacted copy in each mode with the redaction worker (its own process,
at idle CPU and I/O priority: storage/redact/worker.py) and reads the copy back. Prints, one line
each: `recall` per mode (strangers' faces at least 24 px high, at least 90 % filled, over all
frames), the frames with the applicant's face masked, `core-seconds per second of footage` per
mode (the worker's CPU, user and system, over the clip's length), and whether the original was
byte-identical before and after. Targets: recall >= 0.95, 0 applicant frames, <= 1.0 core-s/s.
And the tracking step of "everything hidden" alone (design/0285, storage/redact/track.py), run
here in this process (its CPU, the decoder's threads included, over the clip's length): the
applicant marked on the first frame and the last one whole in the picture, tracked between them
both ways; the same step with no mark (decoding alone); and from the two, the step's cost with
the applicant tracked throughout (`core-seconds per second of footage follow`), with how the
frames' regions were found and the farthest the region's centre was from the applicant's. (In the
"everything" line above the marks are the first and last frame's, the last out of the picture:
there the tracker has one direction only, for as long as the applicant is whole in the picture.)

With `--beside-recording N` it measures instead N cameras recording while a copy is made
(bench/redaction_beside.py): the recording's CPU and frames lost before, during and after a copy
of `--copy-seconds` of footage made at the worker's idle priority, in one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
from pathlib import Path

from bench.common import OUT, command_line, environment, log
from bench.redaction_beside import beside_recording
from bench.redaction_crowd import crowd_lines
from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact import media, track, x264
from storage.redact.plan import EVERYTHING, FACES, MODES, Mark
from storage.redact.worker import run_job
from tests.support import crowd, faces

FPS = 20


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _followed(src: Path, marks: list[Mark], frames: int) -> tuple[float, list[track.Followed], int]:
    """The tracking step on `src` with `marks`: its CPU (this process, the decoder's threads
    included), each frame's region, and the scale."""
    info = media.probe(src)
    factor = track.scale_for(info["width"], marks)
    follower = track.Follower(marks, info["frames"], factor, track.window_for(info["width"], info["height"], factor))
    cpu = _own_cpu()
    media.follow(src, follower)
    return _own_cpu() - cpu, follower.result(), factor


def _follow(src: Path, frames: int) -> str:
    """The tracking step alone on `src`: the applicant marked on the first frame and on the last
    one whole in the picture (then out of it): decoding every frame, tracking between the two
    marks both ways; and decoding alone (no mark), to tell the tracking's share."""
    who = next(p for p in faces.PEOPLE if p.applicant)
    last = max(i for i in range(frames) if who.body(i, frames)[0] + who.body(i, frames)[2] <= 1920)
    marks = [Mark(0, who.body(0, frames)), Mark(last, who.body(last, frames)), Mark(last + 1, None)]
    decode, _, _ = _followed(src, [], frames)
    cpu, got, factor = _followed(src, marks, frames)
    seconds = frames / FPS
    per_frame = max(0.0, cpu - decode) / max(1, last - 1)          # both ways, a frame between the marks
    off = max(abs(g.box[0] + g.box[2] / 2 - b[0] - b[2] / 2) + abs(g.box[1] + g.box[3] / 2 - b[1] - b[3] / 2)
              for i, g in enumerate(got[:last + 1]) if g.box for b in [who.body(i, frames)])
    hows = ", ".join(f"{h} {n}" for h in track.HOWS if (n := sum(g.how == h for g in got)))
    w, h = track.work_size(1920, 1080, factor)
    return (f"core-seconds per second of footage follow (the tracking step of {EVERYTHING}): {cpu / seconds:.2f} "
            f"measured ({frames} frames decoded, {last - 1} tracked both ways at {w}x{h}); decoding alone "
            f"{decode / seconds:.2f}; tracked throughout {decode / seconds + per_frame * FPS:.2f} "
            f"({1000 * per_frame:.1f} core-ms a frame; frames {hows}; the region's centre at most {off:.0f} px "
            f"(x + y) from the applicant's)")


def _state(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


def _pass(arg: str) -> list[int] | None | str:
    """A detector pass as --fine or --finer gives it: "default", "none" (None) or its numbers split at "@"."""
    return arg if arg == "default" else None if arg == "none" else [int(v) for v in arg.split("@")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--every", type=int, default=None,
                    help="the detector's first pass on every N-th frame (default: the job's own, 3; faces mode 6)")
    ap.add_argument("--beside-recording", type=int, default=0, metavar="N",
                    help="measure N cameras recording before, while and after a copy is made instead")
    ap.add_argument("--copy-seconds", type=float, default=600.0, help="the copy's footage (--beside-recording)")
    ap.add_argument("--window", type=float, default=60.0, help="seconds before and after the copy (--beside-recording)")
    ap.add_argument("--copy-mode", choices=MODES, default=FACES, help="the copy's mode (--beside-recording)")
    ap.add_argument("--crowd", action="store_true",
                    help="the crowd the detector was never tuned on instead (bench/redaction_crowd.py, issue 75)")
    ap.add_argument("--modes", default=",".join(MODES), help="the modes made (--crowd), comma-separated")
    ap.add_argument("--fine", default="default", help="the detector's second pass, ACROSS@EVERY or none (--crowd)")
    ap.add_argument("--finer", default="default",
                    help="the detector's finer pass beside the others, ACROSS@EVERY@FIRST or none (--crowd; design/0550)")
    ap.add_argument("--runs", type=int, default=1,
                    help="each copy made this many times, its CPU the median (--crowd; this VM's host moves it 20 %%)")
    ap.add_argument("--held-out", type=int, nargs="?", const=1, default=0, choices=range(1, len(crowd.SCENES) - 1),
                    metavar="N",
                    help="with --crowd: a held-out scene nothing was tuned on (tests/support/crowd.py HELD_OUT, "
                         "issue 88; 2: HELD_OUT_2, design/0463; 3: HELD_OUT_3, design/0541; 4: HELD_OUT_4, design/0546; 5: HELD_OUT_5, design/0547; "
                         "6: HELD_OUT_6, real faces of LFW, design/0550; 7: HELD_OUT_7, design/0551; 8: HELD_OUT_8, design/0553; 9: HELD_OUT_9, design/0557; 10: HELD_OUT_10, design/0559; 11: HELD_OUT_11, design/0565; 12: HELD_OUT_12, design/0563; 13: HELD_OUT_13, design/0571; 14: HELD_OUT_14, design/0578; 15: HELD_OUT_15, design/0595; 16: HELD_OUT_16, design/0607; 17: HELD_OUT_17, design/0610)")
    ap.add_argument("--profiles", action="store_true",
                    help="with --crowd: faces in profile the detector's settings may be chosen on instead "
                         "(tests/support/crowd.py PROFILES, design/0501)")
    ap.add_argument("--model", choices=("int8", "int8-7bit", "float"), default=None,
                    help="with --crowd: the detector's model forced (default: the one this CPU runs, design/0363, 0533)")
    args = ap.parse_args()
    # crowd.SCENES' key and the output folder's name: the crowd 0, HELD_OUT 1, HELD_OUT_2 2, PROFILES 3, HELD_OUT_3 on 4...
    n = args.held_out
    key = 3 if args.profiles else n + (n >= 3)
    scene = "profiles" if args.profiles else f"held-out{n if n > 1 else ''}" if n else "crowd"
    if args.crowd:
        for line in crowd_lines(OUT / f"redaction-{scene}-{args.fine}{'' if args.finer == 'default' else '-' + args.finer}-{args.every}-{args.modes.replace(',', '-')}"
                                      f"{'-' + args.model if args.model else ''}",
                                args.seconds, args.every, tuple(args.modes.split(",")), _pass(args.fine), args.runs,
                                key, args.model, _pass(args.finer)):
            log(line)
        log(f"command: {command_line('bench.redaction')}")
        log(f"environment: {environment()}")
        return
    if args.beside_recording:
        for line in beside_recording(args.beside_recording, args.copy_seconds, args.window, args.copy_mode, args.every):
            log(line)
        log(f"command: {command_line('bench.redaction')}")
        log(f"environment: {environment()}")
        return
    frames = round(args.seconds * FPS)
    root = OUT / "redaction"
    shutil.rmtree(root, ignore_errors=True)
    original = root / "export"
    original.mkdir(parents=True)
    faces.write_clip(original / "cam1.mp4", frames, (1920, 1080), FPS)
    before = _state(original)
    marks = [[m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(frames)]
    lines = []
    for mode in MODES:
        folder = root / mode
        jobs.write_job(folder, {"source": str(original), "mode": mode, "every": args.every or jobs.EVERY, "clips": [
            {"file": "cam1.mp4", "sha256": before["cam1.mp4"], "marks": marks}]})
        cpu = _children_cpu()
        run_job(folder)
        cost = (_children_cpu() - cpu) / (frames / FPS)
        got = faces.judge(folder / "cam1.mp4")
        lines.append(f"recall {mode}: {got['recall']:.3f} ({int(got['faces'])} faces >= 24 px over "
                     f"{int(got['frames'])} frames; applicant masked in {int(got['applicant_masked'])} frames)")
        lines.append(f"core-seconds per second of footage {mode}: {cost:.2f} (1080p{FPS}, {frames} frames, "
                     f"detector every {args.every or jobs.EVERY} frame(s) at 640x352, x264 {x264.PRESET})")
    lines.append(_follow(original / "cam1.mp4", frames))
    same = _state(original) == before
    lines.append(f"originals byte-identical: {'yes' if same else 'NO'} ({json.dumps(before)})")
    for line in lines:
        log(line)
    log(f"command: {command_line('bench.redaction')}")
    log(f"environment: {environment()}")


if __name__ == "__main__":
    main()
