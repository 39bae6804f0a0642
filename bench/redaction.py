"""A citizen's redacted copy: how much it hides and what it costs (issue 54; design/0170-0176).

    .venv/bin/python -m bench.redaction [--seconds 10] [--every 3]

Builds a 1080p20 clip of real faces with known boxes (tests/support/faces.py: the public-domain
NASA photograph scikit-image ships, at four sizes, walking across a scene; one of them the
applicant), then makes its redacted copy in each mode with the redaction worker (its own process,
at idle CPU and I/O priority: storage/redact/worker.py) and reads the copy back. Prints, one line
each: `recall` per mode (strangers' faces at least 24 px high, at least 90 % filled, over all
frames), the frames with the applicant's face masked, `core-seconds per second of footage` per
mode (the worker's CPU, user and system, over the clip's length), and whether the original was
byte-identical before and after. Targets: recall >= 0.95, 0 applicant frames, <= 1.0 core-s/s.

Not measured here: 32 cameras recording while a 10-minute copy is made.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
from pathlib import Path

from bench.common import OUT, command_line, environment, log
from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact.plan import MODES
from storage.redact.worker import run_job
from tests.support import faces

FPS = 20


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _state(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--every", type=int, default=jobs.EVERY, help="the detector on every N-th frame")
    args = ap.parse_args()
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
        jobs.write_job(folder, {"source": str(original), "mode": mode, "every": args.every, "clips": [
            {"file": "cam1.mp4", "sha256": before["cam1.mp4"], "marks": marks}]})
        cpu = _children_cpu()
        run_job(folder)
        cost = (_children_cpu() - cpu) / (frames / FPS)
        got = faces.judge(folder / "cam1.mp4")
        lines.append(f"recall {mode}: {got['recall']:.3f} ({int(got['faces'])} faces >= 24 px over "
                     f"{int(got['frames'])} frames; applicant masked in {int(got['applicant_masked'])} frames)")
        lines.append(f"core-seconds per second of footage {mode}: {cost:.2f} (1080p{FPS}, {frames} frames, "
                     f"detector every {args.every} frame(s) at 640x352, x264 {jobs.media.PRESET})")
    same = _state(original) == before
    lines.append(f"originals byte-identical: {'yes' if same else 'NO'} ({json.dumps(before)})")
    for line in lines:
        log(line)
    log(f"command: {command_line('bench.redaction')}")
    log(f"environment: {environment()}")


if __name__ == "__main__":
    main()
