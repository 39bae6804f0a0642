"""CPU cost of the image checks: recorder workers with sampling off, then on (target: at most
0.3 % of a core more per camera at one sample per 10 s).

    .venv/bin/python -m bench.health_checks [--cameras 32] [--seconds 120] [--rounds 1]

The 1080p bench clip of bench.record_throughput (20 fps, 2 s GOP, 4 Mbit/s) is served on N
mounts by one fake-camera RTSP server. The recorder workers (`python -m recorder.worker`, as many
as cores, cameras dealt round-robin, as the daemon does) record all N cameras twice per round:
with `sample_us` 0 (no image checks) and with 10 s; each phase is measured over the same window
after every camera is recording (and has sent its first picture). The daemon is not in the
loop: this is the worker side alone (decode, scale, measure, the event on the pipe). The time
from a black picture to the alarm goes through the daemon: bench/health_alarm.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import OUT, bench_clip, cam_ids, code_of, command_line, environment, fmt, log, measure, source_state, table
from tests.support.cameras import RtspServer
from tests.support.daemon import ROOT, wait_for

S = 1_000_000
FPS = 20
SAMPLE_US = 10 * S
TARGET_EXTRA_PER_CAM = 0.3  # % of one core


class Worker:
    """One recorder worker process speaking the daemon's JSON-lines protocol; a reader thread
    keeps only what the bench needs from its events."""

    def __init__(self, settings: dict[str, Any], log_path: Path):
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "recorder.worker"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self.stats: dict[str, dict[str, Any]] = {}     # camera -> last stats event
        self.images: list[tuple[str, float, int, float]] = []  # (camera, decode_ms, skipped, arrival mono)
        self.segments_closed = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send(settings)

    def _read(self) -> None:
        for line in self.proc.stdout:
            ev = json.loads(line)
            kind = ev.get("ev")
            if kind == "stats":
                self.stats[ev["camera"]] = ev
            elif kind == "image":
                self.images.append((ev["camera"], ev["decode_ms"], ev["skipped"], time.monotonic()))
            elif kind == "closed":
                self.segments_closed += 1

    def send(self, msg: dict[str, Any]) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout: float = 120) -> int:
        if self.proc.poll() is None:
            try:
                self.send({"cmd": "stop"})
            except BrokenPipeError:
                pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(10)
        self._log.close()
        return rc


@dataclass
class Phase:
    sample_us: int
    n: int
    code: str = ""
    cpu: float | None = None          # % of one core, workers summed
    server_cpu: float | None = None
    box_busy: float | None = None
    rss: float | None = None          # MiB, workers summed
    recording: int = 0
    images: list[tuple[str, float, int, float]] = field(default_factory=list)  # in the window
    lag_growth: float | None = None   # s, max camera lateness at the end - at the start
    fps: float | None = None
    stop_rc: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "off" if self.sample_us == 0 else f"every {self.sample_us / S:g} s"


def max_lateness(workers: list[Worker]) -> float | None:
    late = [ev["lateness_us"] for w in workers for ev in list(w.stats.values()) if ev.get("lateness_us") is not None]
    return max(late) / S if late else None


def run_phase(sample_us: int, n: int, n_workers: int, server: RtspServer, seconds: float, out: Path) -> Phase:
    res = Phase(sample_us, n, code=source_state())
    base = out / f"health-{n}-{'on' if sample_us else 'off'}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    settings = {"data_dir": str(base / "data"), "segment_us": 60 * S, "fragment_us": S, "fsync_us": 2 * S,
                "connect_timeout_us": 10 * S, "read_timeout_us": 10 * S, "reconnect_max_us": 2 * S,
                "sample_us": sample_us}
    workers = [Worker(settings, base / f"worker{k}.log") for k in range(n_workers)]
    try:
        cams = cam_ids(n)
        for k, cam in enumerate(cams):
            workers[k % n_workers].send({"cmd": "add", "camera": {"id": cam, "url": server.url(cam)}})

        def ready() -> bool:
            recording = {c for w in workers for c in w.stats}
            pictured = {c for w in workers for c, *_ in list(w.images)}
            res.recording = len(recording)
            return len(recording) == n and (sample_us == 0 or len(pictured) == n)
        t0 = time.monotonic()
        try:
            wait_for(ready, 60 + n, "every camera recording" + (" and pictured" if sample_us else ""), interval=0.5)
        except AssertionError as exc:
            res.notes.append(str(exc))
        log(f"  sampling {res.label}: {res.recording}/{n} cameras recording after {time.monotonic() - t0:.0f} s; "
            f"measuring {seconds:.0f} s")
        lag0 = max_lateness(workers)
        marks = [len(w.images) for w in workers]
        win = measure(lambda: [w.proc.pid for w in workers if w.proc.poll() is None], seconds, server.proc.pid)
        lag1 = max_lateness(workers)
        res.cpu, res.server_cpu, res.box_busy, res.rss = win.cpu, win.server_cpu, win.box_busy, win.rss
        res.images = [img for w, m in zip(workers, marks) for img in w.images[m:]]
        res.lag_growth = None if lag0 is None or lag1 is None else lag1 - lag0
        fps = [ev["fps"] for w in workers for ev in w.stats.values()]
        res.fps = statistics.mean(fps) if fps else None
        dead = [w.proc.returncode for w in workers if w.proc.poll() is not None]
        if dead:
            res.notes.append(f"{len(dead)} worker(s) exited during the window: {dead}")
        log(f"  sampling {res.label}: workers {win.cpu:.1f} % ({win.cpu / n:.3f} %/cam), "
            f"{len(res.images)} pictures, server {win.server_cpu:.1f} %, box {win.box_busy:.0f} % of "
            f"{100 * (os.cpu_count() or 1)} %")
    finally:
        res.stop_rc = [w.stop() for w in workers]
        if any(res.stop_rc):
            res.notes.append(f"worker exit statuses {res.stop_rc}; logs in {base.relative_to(ROOT)}")
        shutil.rmtree(base / "data", ignore_errors=True)  # keep the logs, drop the footage
    return res


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def report(phases: list[Phase], args, clip: Path) -> str:
    n = args.cameras
    rows = []
    for p in phases:
        ms = [d for _c, d, _s, _t in p.images]
        rows.append([p.label, fmt(p.cpu), fmt(None if p.cpu is None else p.cpu / n, ".3f"), fmt(p.rss, ".0f"),
                     len(p.images), fmt(len(p.images) / n / (args.seconds / 60), ".1f"),
                     sum(s for _c, _d, s, _t in p.images), fmt(statistics.mean(ms) if ms else None, ".1f"),
                     fmt(pct(ms, 0.95), ".1f"), fmt(max(ms) if ms else None, ".1f"), fmt(p.fps, ".2f"),
                     fmt(p.lag_growth, ".2f"), fmt(p.server_cpu, ".0f"), fmt(p.box_busy, ".0f")])
    off = [p.cpu for p in phases if p.sample_us == 0 and p.cpu is not None]
    on = [p.cpu for p in phases if p.sample_us and p.cpu is not None]
    extra = (statistics.mean(on) - statistics.mean(off)) / n if off and on else None
    rss_off = [p.rss for p in phases if p.sample_us == 0 and p.rss is not None]
    rss_on = [p.rss for p in phases if p.sample_us and p.rss is not None]
    extra_rss = (statistics.mean(rss_on) - statistics.mean(rss_off)) / n if rss_off and rss_on else None
    on_ms = [d for p in phases if p.sample_us for _c, d, _s, _t in p.images]
    pool_share = (sum(on_ms) / 1000 / (args.seconds * len(on)) * 100 / n) if on_ms and on else None
    cores = os.cpu_count() or 1
    lines = [
        "",
        f"## image checks: {n} cameras, 1080p {FPS} fps 4 Mbit/s, {args.workers} workers, {args.seconds:.0f} s window",
        "",
        f"command: {command_line('bench.health_checks')}",
        f"environment: {environment()}",
        f"clip: {clip.relative_to(ROOT)}, one RTSP server, every mount loops it",
        "",
        table(["sampling", "workers CPU %", "/cam", "RSS MB", "pictures", "/cam/min", "skipped",
               "decode ms mean", "p95", "max", "fps", "lag growth s", "server CPU %", "box busy %"], rows),
        "",
        f"CPU is % of one core (user+sys of the recorder workers from /proc; {cores} cores = {100 * cores} %). "
        "decode ms = wall time per picture in the pool (decode, scale, measure), which includes waiting for the "
        "GIL and the cores. Phases of one round share the clip, the server and the box; compare rows of one run.",
        "",
        f"extra CPU of the image checks per camera (mean on - mean off, / {n}): {fmt(extra, '.3f')} % of a core "
        f"-> target <= {TARGET_EXTRA_PER_CAM} %: "
        + ("not measured" if extra is None else "met" if extra <= TARGET_EXTRA_PER_CAM else "MISSED"),
        f"extra RSS per camera: {fmt(extra_rss, '.2f')} MB",
        f"pool wall time per camera (sum of decode ms / window / {n}): {fmt(pool_share, '.3f')} % "
        "(an upper bound of the pool's own CPU)",
        # ---- time from black to alarm: through the daemon, in bench/health_alarm.py ----------
        "time from black to alarm: see `python -m bench.health_alarm` (needs the daemon's alarms)",
    ]
    notes = []
    if len({code_of(p.code) for p in phases}) > 1 or code_of(args.source_state) != code_of(source_state()):
        notes.append(f"edged's code changed during the run ({args.source_state} -> {source_state()})")
    for p in phases:
        notes += [f"sampling {p.label}: {x}" for x in p.notes]
        if p.recording != n:
            notes.append(f"sampling {p.label}: only {p.recording}/{n} cameras recording when the window started")
    if notes:
        lines += ["", "notes:"] + [f"- {x}" for x in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.health_checks", description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=32, help="cameras (default %(default)s)")
    p.add_argument("--seconds", type=float, default=120, help="measurement window per phase (default %(default)s)")
    p.add_argument("--rounds", type=int, default=1, help="off/on pairs to run (default %(default)s)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="recorder workers (default: cores)")
    args = p.parse_args(argv)
    args.source_state = source_state()
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"command: {command_line('bench.health_checks')}")
    log(f"environment: {environment()}")
    clip = bench_clip(OUT)
    server = RtspServer({c: f"clip:{clip}@{FPS}" for c in cam_ids(args.cameras)})
    server.start()
    phases: list[Phase] = []
    try:
        for r in range(args.rounds):
            for sample_us in (0, SAMPLE_US):
                log(f"round {r + 1}, sampling {'off' if sample_us == 0 else f'every {sample_us / S:g} s'}")
                phases.append(run_phase(sample_us, args.cameras, args.workers, server, args.seconds, OUT))
                time.sleep(2)  # let the server tear down the sessions before the next phase
                if not server.running:
                    raise RuntimeError("the RTSP server died:\n" + server.log_text()[-2000:])
    finally:
        server.stop()
        server.close()
        if phases:
            log(report(phases, args, clip))
    return 0


if __name__ == "__main__":
    sys.exit(main())
