"""N cameras recording while a redacted copy is made (issue 54: "32 cameras recording while a
10-minute copy is made: 0 frames lost, recording's CPU share unchanged within noise").

    .venv/bin/python -m bench.redaction --beside-recording 32 [--copy-seconds 600] [--window 60] [--copy-mode faces]

The copy's footage is built first (tests/support/faces.py's 1080p20 clip of real faces, 10 s
over and over, `--copy-seconds` long; the applicant marked in the first 10 s) and is not measured. Then one RTSP server serves the record_throughput clip
on N mounts and `edged run` records them (bench/record_throughput.py's config, 20 s segments so
each window holds whole ones), and once every camera records and 30 s more, three windows in one run:
- **before**: `--window` s, no copy;
- **copy**: the redacted copy made by the redaction worker (storage/redact/worker.py: its own
  process, SCHED_IDLE and the idle I/O class, as the daemon runs it), the window as long as the copy;
- **after**: `--window` s, no copy again (before and after: the noise).
Per window: the recording's CPU (the daemon and its recorder workers, % of one core), the camera
server's and the whole box's, the lag growth (max `cameras.lateness_us`), the frames lost in
the complete segments that overlap the window (span x 20 fps - frames, as record_throughput
counts them) and the gaps that began in it (footage not recorded: a stream stalled, a media
clock re-anchored; the camera server shares the box's two cores), and the load average at its
end; for the copy, its CPU (core-s per s of footage) and its wall time.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from bench.common import OUT, Window, cam_ids, log, measure, tree
from bench.record_throughput import max_lateness, serve_clip
from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact.worker import run_job
from tests.support import faces
from tests.support.daemon import ROOT, Daemon, wait_for, write_config

FPS = 20
SEGMENT = "20s"
SETTLE = 30  # seconds after every camera records, before the first window
CYCLE = 10   # seconds: the faces clip's people walk across again every CYCLE


def _clip(root: Path, seconds: float) -> Path:
    """The copy's original export: bench/redaction.py's 10 s clip of faces, over and over for
    `seconds` (the people walk across again every 10 s), as a camera's recording would be (H.264
    in MP4, a keyframe every 2 s); built once, cached in bench/out."""
    import av

    folder = root / f"export-{seconds:g}s"
    clip = folder / "cam1.mp4"
    if clip.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    part = folder / ".cam1.mp4.part"
    with av.open(str(part), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=Fraction(FPS), options={"preset": "ultrafast", "crf": "20", "g": str(2 * FPS)})
        v.width, v.height, v.pix_fmt = 1920, 1080, "yuv420p"
        for _ in range(math.ceil(seconds / CYCLE)):
            for img in faces.pictures(round(CYCLE * FPS)):
                for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
    os.replace(part, clip)
    log(f"  the copy's footage ({seconds:g} s of 1080p{FPS}) built in {time.monotonic() - t0:.0f} s")
    return folder


def _lost(d: Daemon, spans: dict[str, tuple[float, float]]) -> tuple[dict[str, str], int, int]:
    """Per window: the frames lost in the complete segments overlapping it, and the gaps that
    began in it (a stream stalled, the media clock re-anchored: footage not recorded); the frames
    lost in all; the segments not complete."""
    lost = dict.fromkeys(spans, 0)
    total = not_complete = 0
    for seg in d.query("SELECT camera, start_us, end_us, frames, state FROM segments"):
        if seg["state"] != "complete":
            not_complete += 1
            continue
        frames = round((seg["end_us"] - seg["start_us"]) * FPS / 1e6) - seg["frames"]
        total += frames
        for name, (t0, t1) in spans.items():
            if seg["start_us"] < t1 * 1e6 and seg["end_us"] > t0 * 1e6:
                lost[name] += frames
    gaps: dict[str, list[dict[str, Any]]] = {name: [] for name in spans}
    for gap in d.query("SELECT camera, from_us, to_us, reason FROM gaps"):
        for name, (t0, t1) in spans.items():
            if t0 * 1e6 <= gap["from_us"] < t1 * 1e6:
                gaps[name].append(gap)
    said = {}
    for name in spans:
        g = gaps[name]
        reasons = sorted({x["reason"].split(":")[0] for x in g})
        said[name] = (f"frames lost {lost[name]}; gaps {len(g)} ({sum(x['to_us'] - x['from_us'] for x in g) / 1e6:.1f} s"
                      + (f": {', '.join(reasons)}" if reasons else "") + ")")
    return said, total, not_complete


def beside_recording(n: int, copy_seconds: float, window: float, mode: str, every: int | None) -> list[str]:
    """The three windows' lines."""
    copy_seconds = CYCLE * math.ceil(copy_seconds / CYCLE)
    root = OUT / "redaction-beside"
    original = _clip(root, copy_seconds)
    folder = root / "copy"
    shutil.rmtree(folder, ignore_errors=True)
    jobs.write_job(folder, {"source": str(original), "mode": mode, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"), "marks": [
            [m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(round(CYCLE * FPS))]}],
        **({} if every is None else {"every": every})})
    base = root / f"edged-{n}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    server = serve_clip(n)
    lines: list[str] = []
    try:
        config = write_config(base / "edged.toml", base / "data", [{"id": c, "url": server.url(c)} for c in cam_ids(n)],
                              storage={"segment_length": SEGMENT})
        d = Daemon(config, base / "data", base / "edged.log").start()
        try:
            windows = _windows(d, n, server, folder, window, copy_seconds)
        finally:
            d.stop(timeout=180)
        per, total, not_complete = _lost(d, {name: span for name, _, span in windows})
        lines = [f"{line}; {per[name]}" for name, line, _ in windows]
        lines.append(f"beside recording: frames lost in the whole run's segments {total} ({n} cameras); segments not complete "
                     f"{not_complete}; log {d.log_path.relative_to(ROOT)}")
    finally:
        server.stop()
        shutil.rmtree(base / "data" / "video", ignore_errors=True)
    return lines


def _line(name: str, n: int, w: Window, lag: tuple[float | None, float | None]) -> str:
    growth = f"{lag[1] - lag[0]:+.2f} s" if lag[0] is not None and lag[1] is not None else "-"
    return (f"{name} (load {' '.join(f'{x:.1f}' for x in os.getloadavg())} at its end): recording {n} cameras {w.cpu:.1f} % of a core ({w.cpu / n:.2f} % a camera) over "
            f"{w.seconds:.0f} s; camera server {w.server_cpu:.1f} %; box {w.box_busy:.0f} % of "
            f"{100 * (os.cpu_count() or 1)} %; lag growth {growth}")


def _windows(d: Daemon, n: int, server: Any, folder: Path, window: float,
             copy_seconds: float) -> list[tuple[str, str, tuple[float, float]]]:
    """(name, line, (start, end) wall-clock seconds) of each window."""
    def ready() -> bool:
        opened = d.query("SELECT count(DISTINCT camera) AS k FROM segments")
        return bool(opened) and opened[0]["k"] == n and max_lateness(d)[1] == n

    t0 = time.monotonic()
    wait_for(ready, 60 + n, "every camera recording", interval=0.5)
    log(f"  edged: {n} cameras recording after {time.monotonic() - t0:.0f} s; settling {SETTLE} s")
    time.sleep(SETTLE)   # a set time by design: the first segments and the image checks' budget (every 15 s)
    pid = d.proc.pid
    lines: list[tuple[str, str, tuple[float, float]]] = []
    for name in ("before", "copy", "after"):
        lag0, start = max_lateness(d)[0], time.time()
        if name != "copy":
            w = measure(lambda: tree(pid), window, server.proc.pid, root=pid)
            line = _line(name, n, w, (lag0, max_lateness(d)[0]))
        else:
            made: dict[str, Any] = {}
            seen: list[dict[str, Any]] = []
            cpu = os.times()
            worker = threading.Thread(target=lambda: made.update(run_job(folder, seen.append)))
            worker.start()
            w = measure(lambda: tree(pid), 0, server.proc.pid, root=pid, wait=worker.join)
            used = (os.times().children_user + os.times().children_system
                    - cpu.children_user - cpu.children_system)
            line = (_line(name, n, w, (lag0, max_lateness(d)[0]))
                    + f"; the copy ({copy_seconds:g} s of 1080p{FPS}, priority {seen[0].get('priority')}) "
                      f"made in {w.seconds:.0f} s, {used / copy_seconds:.2f} core-s per s of footage"
                    + ("" if "cam1.mp4" in made else " (NOT made)"))
        lines.append((name, line, (start, time.time())))
        log(f"  {line}")
    return lines
