"""How many 1080p cameras edged records in real time, against `ffmpeg -c copy` per camera.

    .venv/bin/python -m bench.record_throughput [--counts 1,8,32,64,96] [--seconds 60] [--floor]

One pre-encoded 60 s 1080p clip (20 fps, 2 s GOP, 4 Mbit/s) is served on N mounts by one
fake-camera RTSP server. For each N: edged records the N cameras, then N ffmpeg segment
muxers do, then (--floor) the PyAV floor (bench/pyav_floor.py: bare demux + mux in as many
processes as edged has workers), each measured over the same window (CPU, RSS, PSS, frames
lost, lag).
Recordings are deleted after each step; logs and catalogs stay in bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.common import (CLIP_SECONDS, FPS, GOP, OUT, Window, bench_clip, cam_ids, code_of, command_line,
                          environment, fmt, log, measure, over, source_state, table, tree)
from bench.cpu_split import GROUPS, Split
from edged.config import load_config
from edged.daemon.recording.prestart import assign, worker_count
from recorder.segment import FRAGMENTED_MP4
from recorder.source import QUICK_PROBE
from tests.support.cameras import RtspServer, count_video_packets, ffprobe
from tests.support.daemon import ROOT, Daemon, wait_for, write_config

# Targets from the issue.
TARGET_CPU_RATIO = 0.7     # edged CPU per camera <= 0.7 x ffmpeg's, at every count (issue 60)
TARGET_RSS_PER_CAM = {32: 8.0, 96: 5.0}  # MB (MiB) of RSS per camera at these counts (issue 60)
TARGET_LAG_S = 1.0         # lag growth below this over the window counts as "no lag growth"












# /proc measurements -----------------------------------------------------------------------
















# the clip and the cameras -------------------------------------------------------------------
def serve_clip(n: int) -> RtspServer:
    """One fake-camera RTSP server looping the bench clip on mounts cam1..camN, started."""
    clip = bench_clip(OUT)
    server = RtspServer({c: f"clip:{clip}@{FPS}" for c in cam_ids(n)})
    server.start()
    return server


# edged ------------------------------------------------------------------------------------------
@dataclass
class EdgedResult:
    n: int
    code: str = ""              # source_state() when this step's daemon started
    win: Window | None = None
    recording: int = 0          # cameras with a segment when the window started
    lag_start: float | None = None
    lag_end: float | None = None
    lost_total: int = 0
    lost_worst: tuple[str, int] = ("-", 0)
    not_complete: int = 0       # segment rows left in another state than complete after SIGTERM
    gaps: int = 0
    reconnects: int = 0
    stop_rc: int | None = None
    stop_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    split: dict[str, float] = field(default_factory=dict)  # bench/cpu_split.py: % of one core per thread group
    checks: int | None = None  # image checks the daemon counted in the window (its cameras' `samples`), all cameras
    check_every_s: float | None = None  # the longest interval between checks the workers said at the window's end

    @property
    def lag_growth(self) -> float | None:
        if self.lag_start is None or self.lag_end is None:
            return None
        return self.lag_end - self.lag_start

    @property
    def keeps_real_time(self) -> bool:
        g = self.lag_growth
        return (self.win is not None and self.recording == self.n and self.lost_total == 0
                and self.not_complete == 0 and g is not None and g < TARGET_LAG_S)


@dataclass
class RunSettings:
    """What `--settle` and `--workers` set for every edged run of this process (the compare and
    profile modes run edged through run_edged too)."""

    settle_s: float = 0.0  # after every camera records, before the window
    workers: int = 0  # recorder.workers; 0: edged's default (one a core)
    # edged started as the box starts it, a process of its own: forked from the tests' warm copy it maps all that
    # copy imported (about 20 MB more RSS, read as the recorder's); bench/reader_ab.py runs another revision's tree
    daemon: Callable[[Path, Path, Path], Daemon] = lambda config, data, log: Daemon(config, data, log, warm=False)


RUN = RunSettings()


def image_checks(d: Daemon) -> tuple[int, float | None]:
    """The image checks the daemon has counted so far, all cameras (each camera's health `samples`,
    written at its next evaluation, EVAL_S = 2 s), and the longest interval in force the workers said."""
    total, every = 0, None
    for r in d.query("SELECT health FROM cameras WHERE configured = 1 AND health IS NOT NULL"):
        h = json.loads(r["health"])
        total += h.get("samples") or 0
        if h.get("sample_interval_s") is not None:
            every = max(every or 0.0, h["sample_interval_s"])
    return total, every


def max_lateness(d: Daemon) -> tuple[float | None, int]:
    rows = d.query("SELECT lateness_us FROM cameras WHERE configured = 1 AND lateness_us IS NOT NULL")
    return (max(r["lateness_us"] for r in rows) / 1e6 if rows else None), len(rows)


def edged_config(n: int, server: RtspServer, base: Path) -> Path:
    """The config edged records the N cameras with (the floor reads its workers and lengths)."""
    config = write_config(base / "edged.toml", base / "data",
                          [{"id": c, "url": server.url(c)} for c in cam_ids(n)], storage={"segment_length": "60s"},
                          recorder={"workers": RUN.workers} if RUN.workers else None)
    config.write_text(config.read_text().replace('id = "test"', 'id = "bench"', 1))
    return config


def run_edged(n: int, server: RtspServer, seconds: float, out: Path) -> EdgedResult:
    res = EdgedResult(n, code=source_state())
    base = out / f"edged-{n}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    data = base / "data"
    config = edged_config(n, server, base)
    d = RUN.daemon(config, data, base / "edged.log").start()
    try:
        warm_timeout = 60 + n
        t0 = time.monotonic()

        def ready():
            opened = d.query("SELECT count(DISTINCT camera) AS k FROM segments")
            k = opened[0]["k"] if opened else 0
            return k == n and max_lateness(d)[1] == n
        try:
            wait_for(ready, warm_timeout, "every camera recording", interval=0.5)
        except AssertionError:
            res.notes.append(f"warm-up timed out after {warm_timeout} s")
        res.recording = (d.query("SELECT count(DISTINCT camera) AS k FROM segments") or [{"k": 0}])[0]["k"]
        if d.proc.poll() is not None:
            res.notes.append(f"edged exited with {d.proc.returncode} during warm-up; see "
                             f"{d.log_path.relative_to(ROOT)}")
            log(f"  edged: exited with {d.proc.returncode} during warm-up; not measured")
        else:
            log(f"  edged: {res.recording}/{n} cameras recording after {time.monotonic() - t0:.0f} s; "
                + (f"settling {RUN.settle_s:.0f} s, then " if RUN.settle_s else "") + f"measuring {seconds:.0f} s")
            time.sleep(RUN.settle_s)  # a set time by design: the image checks' budget reviews every 15 s
            res.lag_start = max_lateness(d)[0]
            checks_before = image_checks(d)[0]
            root = d.proc.pid
            split = Split(tree(root), root)
            res.win = measure(lambda: tree(root), seconds, server.proc.pid, root=root)
            res.split = split.finish(tree(root))
            res.lag_end = max_lateness(d)[0]
            checks_after, res.check_every_s = image_checks(d)
            res.checks = checks_after - checks_before
            workers = sorted((p for p in res.win.per_process if p != root))
            w = res.win
            log(f"  edged: daemon {w.per_process.get(root, 0):.1f} % {w.per_rss.get(root, 0):.0f} MB, workers "
                + ", ".join(f"{w.per_process[p]:.1f} % {w.per_rss.get(p, 0):.0f} MB" for p in workers)
                + f"; server {res.win.server_cpu:.1f} %; box {res.win.box_busy:.0f} % of "
                f"{100 * (os.cpu_count() or 1)} %; image checks in the window {res.checks} "
                f"({res.checks / n:.2f} a camera, a check every {res.check_every_s} s)")
    finally:
        t_stop = time.monotonic()
        if d.proc.poll() is None:
            try:
                res.stop_rc = d.stop(timeout=180)
            except subprocess.TimeoutExpired:
                res.notes.append("edged did not stop within 180 s: killed")
                d.kill_all()
        else:
            res.stop_rc = d.proc.returncode
        res.stop_s = time.monotonic() - t_stop
    if res.stop_rc != 0:
        res.notes.append(f"edged exited with {res.stop_rc}")

    by_cam: dict[str, list[dict[str, Any]]] = {c: [] for c in cam_ids(n)}
    for seg in d.query("SELECT camera, start_us, end_us, frames, state FROM segments"):
        if seg["state"] == "complete":
            by_cam.setdefault(seg["camera"], []).append(seg)
        else:
            res.not_complete += 1
    lost, lost_first = {}, {}
    for cam, segs in by_cam.items():
        span = sum(s["end_us"] - s["start_us"] for s in segs)
        lost[cam] = round(span * FPS / 1e6) - sum(s["frames"] for s in segs)
        if segs:
            first = min(segs, key=lambda s: s["start_us"])
            lost_first[cam] = round((first["end_us"] - first["start_us"]) * FPS / 1e6) - first["frames"]
    if any(lost.values()):
        res.notes.append("frames lost by camera (of which in its first segment, i.e. at connect time): "
                         + ", ".join(f"{c} {v} ({lost_first.get(c, 0)})" for c, v in lost.items() if v))
    res.lost_total = sum(lost.values())
    res.lost_worst = max(lost.items(), key=lambda kv: kv[1])
    res.gaps = (d.query("SELECT count(*) AS k FROM gaps") or [{"k": 0}])[0]["k"]
    res.reconnects = sum(r["reconnects"] or 0 for r in d.query("SELECT reconnects FROM cameras"))
    errors = [ln for ln in d.log.splitlines() if " ERROR " in ln or " WARNING " in ln]
    if errors:
        res.notes.append(f"{len(errors)} warnings/errors in {d.log_path.relative_to(ROOT)}, first: {errors[0][:160]}")
    log(f"  edged: stopped in {res.stop_s:.1f} s (status {res.stop_rc}); frames lost {res.lost_total} "
        f"(worst {res.lost_worst[0]}: {res.lost_worst[1]}); segments not complete {res.not_complete}; "
        f"gaps {res.gaps}; reconnects {res.reconnects}")
    shutil.rmtree(data / "video", ignore_errors=True)  # keep catalog and log, drop the footage
    shutil.rmtree(data / "quarantine", ignore_errors=True)
    return res


# ffmpeg reference --------------------------------------------------------------------------------
@dataclass
class FfmpegResult:
    n: int
    win: Window | None = None
    recording: int = 0
    lost_total: int = 0
    lost_worst: tuple[str, int] = ("-", 0)
    files: int = 0
    notes: list[str] = field(default_factory=list)


def ffmpeg_lost(files: list[Path]) -> int:
    """Expected frames (container duration x fps) minus the video packets in the files."""
    duration = packets = 0
    for f in files:
        try:
            duration += float(ffprobe(f)["format"].get("duration", 0))
            packets += count_video_packets(f)
        except (subprocess.CalledProcessError, IndexError, ValueError):
            pass  # an empty or unreadable file holds no footage and no duration
    return round(duration * FPS) - packets


def run_ffmpeg(n: int, server: RtspServer, seconds: float, out: Path) -> FfmpegResult:
    res = FfmpegResult(n)
    base = out / f"ffmpeg-{n}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    logf = open(out / f"ffmpeg-{n}.log", "wb")
    procs: dict[str, subprocess.Popen] = {}
    try:
        for cam in cam_ids(n):
            cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", server.url(cam),
                   "-c", "copy", "-f", "segment", "-segment_time", "60", "-reset_timestamps", "1",
                   str(base / f"{cam}_%03d.mp4")]
            procs[cam] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=logf)
        warm_and_measure("ffmpeg", res, procs, base, seconds, server)
        log(f"  ffmpeg: server {res.win.server_cpu:.1f} %; box {res.win.box_busy:.0f} % of "
            f"{100 * (os.cpu_count() or 1)} %")
    finally:
        stop_all("ffmpeg", res, procs, signal.SIGINT)
        logf.close()
    count_lost("ffmpeg", res, base, out / f"ffmpeg-{n}.log")
    return res


def warm_and_measure(label: str, res: FfmpegResult, procs: dict[str, subprocess.Popen], base: Path,
                     seconds: float, server: RtspServer) -> None:
    """Wait until every camera's first file `<base>/<cam>_000.mp4` exists, then measure `procs`."""
    n = res.n
    warm_timeout = 60 + n
    t0 = time.monotonic()
    try:
        wait_for(lambda: all((base / f"{c}_000.mp4").exists() for c in cam_ids(n)), warm_timeout,
                 f"every {label} camera writing", interval=0.5)
    except AssertionError:
        res.notes.append(f"warm-up timed out after {warm_timeout} s")
    res.recording = sum((base / f"{c}_000.mp4").exists() for c in cam_ids(n))
    log(f"  {label}: {res.recording}/{n} writing after {time.monotonic() - t0:.0f} s; "
        + (f"settling {RUN.settle_s:.0f} s, then " if RUN.settle_s else "") + f"measuring {seconds:.0f} s")
    time.sleep(RUN.settle_s)  # as edged's: both measured in their steady state, like with like
    res.win = measure(lambda: [p.pid for p in procs.values() if p.poll() is None], seconds, server.proc.pid)
    exited = [name for name, p in procs.items() if p.poll() is not None]
    if exited:
        res.notes.append(f"{len(exited)} {label} exited during the window (first {exited[0]})")


def stop_all(label: str, res: FfmpegResult, procs: dict[str, subprocess.Popen], sig: int) -> None:
    """Signal every process still running, wait up to 60 s for all, kill those that ignored it."""
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(sig)
    deadline = time.monotonic() + 60
    for name, p in procs.items():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            res.notes.append(f"{label} for {name} ignored {signal.Signals(sig).name}: killed")
            p.kill()
            p.wait()


def count_lost(label: str, res: FfmpegResult, base: Path, errors: Path) -> None:
    """Frames lost per camera from its files in `base` (then deleted); the error log's first line."""
    files = {c: sorted(base.glob(f"{c}_*.mp4")) for c in cam_ids(res.n)}
    res.files = sum(len(v) for v in files.values())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        lost = dict(zip(files, pool.map(ffmpeg_lost, files.values())))
    res.lost_total = sum(lost.values())
    res.lost_worst = max(lost.items(), key=lambda kv: kv[1])
    errs = errors.read_text(errors="replace").splitlines()
    if errs:
        res.notes.append(f"{len(errs)} lines in {errors.relative_to(ROOT)}, first: {errs[0][:160]}")
    log(f"  {label}: {res.files} files; frames lost {res.lost_total} (worst {res.lost_worst[0]}: {res.lost_worst[1]})")
    shutil.rmtree(base, ignore_errors=True)


# the PyAV floor ------------------------------------------------------------------------------------
@dataclass
class FloorResult(FfmpegResult):
    processes: int = 0


def floor_spec(cameras: list, storage: Any, base: Path) -> str:
    """bench/pyav_floor.py's argument: edged's open options (recorder/source.py, less the socket
    timeout), its muxer options (recorder/segment.py) and its segment and fragment lengths."""
    return json.dumps({"out": str(base), "segment_us": storage.segment_length_us,
                       "fragment_us": storage.fragment_length_us, "open": {"rtsp_transport": "tcp", **QUICK_PROBE},
                       "mux": FRAGMENTED_MP4, "cameras": {c.id: c.url for c in cameras}})


def run_floor(n: int, server: RtspServer, seconds: float, out: Path) -> FloorResult:
    """The least any PyAV recorder does for the N cameras: bench/pyav_floor.py in as many
    processes as edged has workers, the cameras dealt to them as edged deals them."""
    res = FloorResult(n)
    base = out / f"floor-{n}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    cfg = load_config(edged_config(n, server, base))
    res.processes = worker_count(cfg)
    logf = open(out / f"floor-{n}.log", "wb")
    procs: dict[str, subprocess.Popen] = {}
    try:
        for i, cams in enumerate(assign(list(cfg.cameras), res.processes)):
            procs[f"process {i} ({len(cams)} cameras)"] = subprocess.Popen(
                [sys.executable, "-m", "bench.pyav_floor", floor_spec(cams, cfg.storage, base)],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=logf)
        warm_and_measure("floor", res, procs, base, seconds, server)
        w = res.win
        log("  floor: " + ", ".join(f"{w.per_process.get(p.pid, 0):.1f} % {w.per_rss.get(p.pid, 0):.0f} MB"
                                     for p in procs.values())
            + f"; server {w.server_cpu:.1f} %; box {w.box_busy:.0f} % of {100 * (os.cpu_count() or 1)} %")
    finally:
        stop_all("floor", res, procs, signal.SIGTERM)
        logf.close()
    count_lost("floor", res, base, out / f"floor-{n}.log")
    return res


# report ---------------------------------------------------------------------------------------------






def split_report(results: list[tuple[EdgedResult, FfmpegResult | None]]) -> list[str]:
    """Where edged's CPU went, by thread (bench/cpu_split.py), per camera."""
    measured = [(e, f) for e, f in results if e.split]
    if not measured:
        return []
    cols = [*GROUPS, "hashing (in camera threads)"]
    rows = [[e.n, *(f"{e.split[g]:.1f} ({e.split[g] / e.n:.3f})" for g in cols),
             fmt(f and f.win and f.win.cpu / f.n, ".3f")] for e, f in measured]
    return ["", "### edged's CPU split by thread: % of one core (per camera)", "",
            table(["N", *cols, "ffmpeg /cam"], rows), "",
            "camera threads = demux + the per-packet Python + mux + SHA-256 of each buffer as written; hashing = "
            "the bytes the workers wrote in the window x SHA-256 CPU per byte measured in this run (a part of the "
            "camera threads); durability = the fdatasync pass per fsync interval; hasher = the closed segments' "
            "path checks; events = JSON to the daemon; daemon = the whole daemon process (event and catalog "
            "handling, health, heartbeat). Threads that ended inside the window are not counted."]


def report(results: list[tuple[EdgedResult, FfmpegResult | None]], args, clip: Path) -> str:
    header = ["N", "edged CPU %", "/cam", "ffmpeg CPU %", "/cam", "edged/ffmpeg",
              "edged RSS MB", "/cam", "edged PSS MB", "ffmpeg RSS MB", "ffmpeg PSS MB",
              "lost edged (worst)", "lost ffmpeg (worst)", "lag growth s", "server CPU % e/f", "box busy % e/f",
              "verdict"]
    rows = []
    for e, f in results:
        n = e.n
        ew, fw = e.win, (f.win if f else None)
        ratio = (ew.cpu / fw.cpu) if ew and fw and fw.cpu > 0 else None
        rows.append([
            n, fmt(ew and ew.cpu), fmt(ew and ew.cpu / n, ".2f"), fmt(fw and fw.cpu), fmt(fw and fw.cpu / n, ".2f"),
            fmt(ratio, ".2f"), fmt(ew and ew.rss, ".0f"), fmt(ew and ew.rss / n, ".1f"), fmt(ew and ew.pss, ".0f"),
            fmt(fw and fw.rss, ".0f"), fmt(fw and fw.pss, ".0f"),
            f"{e.lost_total} ({e.lost_worst[0]}: {e.lost_worst[1]})",
            f"{f.lost_total} ({f.lost_worst[0]}: {f.lost_worst[1]})" if f else "-",
            fmt(e.lag_growth, ".2f"),
            f"{fmt(ew and ew.server_cpu, '.0f')}/{fmt(fw and fw.server_cpu, '.0f')}",
            f"{fmt(ew and ew.box_busy, '.0f')}/{fmt(fw and fw.box_busy, '.0f')}",
            "keeps real time" if e.keeps_real_time else "FALLS BEHIND",
        ])
    cores = os.cpu_count() or 1
    lines = [
        "",
        f"## edged vs ffmpeg -c copy: 1080p {FPS} fps, GOP {GOP}, 4 Mbit/s cameras, {args.seconds:.0f} s window",
        "",
        f"command: {command_line('bench.record_throughput')}",
        f"environment: {environment()}",
        f"clip: {clip.relative_to(ROOT)} ({clip.stat().st_size * 8 / CLIP_SECONDS / 1e6:.2f} Mbit/s), "
        "one RTSP server (gst-rtsp-server), every mount loops it",
        "",
        table(header, rows),
        "",
        f"CPU is % of one core (user+sys; this box has {cores} cores = {100 * cores} %): edged = daemon + recorder "
        "workers, ffmpeg = sum of the N processes. MB = MiB; RSS and PSS summed over those processes at the end of the "
        "window. lost = frames missing from the recordings (edged: complete segments' span x fps - frames; "
        "ffmpeg: ffprobe duration x fps - packets). lag growth = max camera lateness at window end - at start. "
        "server CPU / box busy: the camera server's and the whole machine's CPU during the edged / ffmpeg window "
        f"(the box is saturated near {100 * cores} %). ffmpeg's -1 per camera is not a gain: the first packet "
        "of an RTSP connection has no timestamp and ffmpeg stamps it 0.1 ms before the next, so its first file "
        "is one frame shorter than its packet count.",
    ]
    lines += split_report(results)
    notes = []
    codes = {code_of(e.code) for e, _ in results}
    if len(codes) > 1 or code_of(args.source_state) != code_of(source_state()):
        notes.append(f"edged's code changed during the run ({args.source_state} -> {source_state()}); "
                     "edged ran: " + ", ".join(f"N={e.n} {e.code}" for e, _ in results))
    for e, f in results:
        notes += [f"N={e.n} edged: {x}" for x in e.notes]
        if e.recording != e.n:
            notes.append(f"N={e.n} edged: only {e.recording}/{e.n} cameras had a segment when the window started")
        if e.not_complete:
            notes.append(f"N={e.n} edged: {e.not_complete} segment rows not complete after SIGTERM")
        if e.gaps or e.reconnects:
            notes.append(f"N={e.n} edged: {e.gaps} gaps, {e.reconnects} reconnects")
        if f:
            notes += [f"N={f.n} ffmpeg: {x}" for x in f.notes]
            if f.recording != f.n:
                notes.append(f"N={f.n} ffmpeg: only {f.recording}/{f.n} writing when the window started")
    if notes:
        lines += ["", "notes:"] + [f"- {x}" for x in notes]
    kept = [e.n for e, _ in results if e.keeps_real_time]
    lines += ["", f"largest N that keeps real time (0 frames lost, lag growth < {TARGET_LAG_S:.0f} s): "
              + (str(max(kept)) if kept else "none")]
    # targets, judged at every N measured (CPU with ffmpeg beside it; RSS at the counts the issue names)
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"
    lines += ["", "targets from issue 60:"]
    for e, f in results:
        ratio = e.win.cpu / f.win.cpu if e.win and f and f.win and f.win.cpu > 0 else None
        rss_cam = e.win.rss / e.n if e.win else None
        lines.append(f"- N={e.n}: CPU per camera <= {TARGET_CPU_RATIO}x ffmpeg's: {fmt(ratio, '.2f')}x "
                     f"({fmt(e.win and e.win.cpu / e.n, '.2f')} vs {fmt(f and f.win and f.win.cpu / f.n, '.2f')} "
                     f"% per camera) -> {'not measured' if ratio is None else verdict(ratio <= TARGET_CPU_RATIO)}")
        if e.n in TARGET_RSS_PER_CAM:
            most = TARGET_RSS_PER_CAM[e.n]
            lines.append(f"- N={e.n}: RSS <= {most:.0f} MB per camera: {fmt(rss_cam)} MB -> "
                         f"{verdict(rss_cam is not None and rss_cam <= most)}")
        lines.append(f"- N={e.n}: 0 frames lost and no lag growth: lost {e.lost_total}, lag growth "
                     f"{fmt(e.lag_growth, '.2f')} s -> {verdict(e.keeps_real_time)}")
    return "\n".join(lines)


REST = ("durability", "hasher", "events", "worker other", "daemon")  # edged's threads outside camera and image work


def floor_report(results: list[tuple[EdgedResult, FfmpegResult | None]], floors: dict[int, FloorResult]) -> str:
    """The PyAV floor next to edged and ffmpeg, and how much of edged's CPU above ffmpeg it accounts for."""
    header = ["N", "processes", "floor CPU %", "/cam", "floor/ffmpeg", "floor RSS MB", "/cam", "floor PSS MB",
              "edged/floor CPU", "edged/floor RSS", "lost floor (worst)", "server CPU %", "box busy %"]
    rows = []
    for e, f in results:
        fl = floors.get(e.n)
        if fl is None:
            continue
        ew, fw, lw, n = e.win, (f.win if f else None), fl.win, e.n
        rows.append([n, fl.processes, fmt(lw and lw.cpu), fmt(lw and lw.cpu / n, ".2f"),
                     fmt(over(lw, fw), ".2f"), fmt(lw and lw.rss, ".0f"),
                     fmt(lw and lw.rss / n, ".1f"), fmt(lw and lw.pss, ".0f"),
                     fmt(over(ew, lw), ".2f"), fmt(over(ew, lw, "rss"), ".2f"),
                     f"{fl.lost_total} ({fl.lost_worst[0]}: {fl.lost_worst[1]})",
                     fmt(lw and lw.server_cpu, ".0f"), fmt(lw and lw.box_busy, ".0f")])
    lines = ["", "### the PyAV floor: bare demux + mux (bench/pyav_floor.py), same cameras and window", "",
             f"command: {command_line('bench.record_throughput')}", "", table(header, rows), "",
             "floor = as many processes as edged has workers (edged's worker_count and camera dealing), one thread "
             "per camera: av.open with edged's options (recorder/source.py), demux, packets without a dts skipped, "
             "remuxed into fragmented MP4 with edged's muxer options (recorder/segment.py), a new file at the first "
             "keyframe a segment length after the last; no hashing, fsync, image checks, catalog or events. "
             "lost = ffprobe duration x fps - packets, as for ffmpeg."]
    lines += inherent_block(results, floors)
    notes = [f"N={fl.n} floor: {x}" for fl in floors.values() for x in fl.notes]
    notes += [f"N={fl.n} floor: only {fl.recording}/{fl.n} writing when the window started"
              for fl in floors.values() if fl.recording != fl.n]
    return "\n".join(lines + (["", "floor notes:"] + [f"- {x}" for x in notes] if notes else []))


def inherent_block(results: list[tuple[EdgedResult, FfmpegResult | None]], floors: dict[int, FloorResult]) -> list[str]:
    """Per camera: edged's camera threads against the floor, the image checks and the rest apart."""
    header = ["N", "ffmpeg", "floor", "edged", "edged - ffmpeg", "floor - ffmpeg (PyAV)", "camera threads",
              "of which hashing", "camera threads - floor", "imagecheck", "rest (daemon, durability, ...)",
              "unattributed"]
    rows, said = [], []
    for e, f in results:
        fl = floors.get(e.n)
        if fl is None or fl.win is None or e.win is None or not e.split:
            continue
        n = e.n
        ff = f.win.cpu / n if f and f.win else None
        floor, edged, cam = fl.win.cpu / n, e.win.cpu / n, e.split["camera threads"] / n
        image, rest = e.split["imagecheck"] / n, sum(e.split[g] for g in REST) / n
        other = edged - cam - image - rest
        rows.append([n, fmt(ff, ".3f"), f"{floor:.3f}", f"{edged:.3f}", fmt(None if ff is None else edged - ff, ".3f"),
                     fmt(None if ff is None else floor - ff, ".3f"), f"{cam:.3f}",
                     f"{e.split['hashing (in camera threads)'] / n:.3f}", f"{cam - floor:.3f}", f"{image:.3f}",
                     f"{rest:.3f}", f"{other:.3f}"])
        if ff is not None and edged > ff:
            def part(x: float) -> str:
                return f"{x:.3f} ({x / (edged - ff) * 100:.0f} %)"
            said.append(f"- N={n}: edged costs {edged - ff:.3f} % of a core per camera more than ffmpeg; of that, the "
                        f"floor's own excess over ffmpeg (PyAV demux + mux in Python) is {part(floor - ff)}, edged's "
                        f"camera threads above the floor {part(cam - floor)}, image checks {part(image)}, the rest "
                        f"{part(rest)}, unattributed {part(other)}.")
    if not rows:
        return []
    return ["", "### what is inherent: % of one core per camera", "", table(header, rows), "",
            "edged = daemon + workers (the main table); camera threads, hashing, imagecheck and rest from the split "
            "by thread (rest = " + ", ".join(REST) + "); floor and ffmpeg = their processes. camera threads - floor "
            "is what edged's camera threads do beyond demux + mux (timestamps, segment clock, stats, SHA-256, the "
            "muxer writing through a Python file object). unattributed = edged - camera threads - imagecheck - rest: "
            "threads that ended inside the window and children the daemon reaped (the split misses them).", "", *said]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.record_throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", default="1,8,32,64,96", help="camera counts, comma-separated (default %(default)s)")
    p.add_argument("--seconds", type=float, default=60, help="measurement window per step (default %(default)s)")
    p.add_argument("--no-ffmpeg", action="store_true", help="skip the ffmpeg reference")
    p.add_argument("--floor", action="store_true",
                   help="also measure the PyAV floor (bench/pyav_floor.py: bare demux + mux, edged's worker count)")
    p.add_argument("--durability", choices=("fragment", "interval", "compare"), default="fragment",
                   help="the workers' durability pass: after each fragment (default, design/0061), per fsync "
                        "interval (before), or compare: edged only, both back to back per count, and the CPU ratio")
    p.add_argument("--reader", choices=("edged", "ffmpeg", "compare", "profile"),
                   help="the cameras' RTSP reader (design/0079; default: the config's, auto), or compare: edged with "
                        "each reader and ffmpeg -c copy side by side, with strace -c figures (bench/reader_compare.py), "
                        "or profile: edged's reader profiled by step (py-spy) against ffmpeg (bench/reader_profile.py)")
    p.add_argument("--no-libavformat", action="store_true",
                   help="--reader compare: edged with its own reader and ffmpeg -c copy only (not edged on libavformat)")
    p.add_argument("--rounds", type=int, default=1,
                   help="--reader profile, or compare with --baseline-rev: rounds per count (default %(default)s)")
    p.add_argument("--baseline-rev", metavar="REV",
                   help="--reader compare: edged at git revision REV (exported to a temporary folder, run with this "
                        "venv) against edged now and ffmpeg -c copy, interleaved per round (bench/reader_ab.py)")
    p.add_argument("--settle", type=float, default=0.0,
                   help="seconds edged records before its window, once every camera records (the image checks' "
                        "budget first reviews their interval 15 s in, design/0078; default %(default)s)")
    p.add_argument("--workers", type=int, default=0, help="edged's recorder.workers (default: one a core)")
    args = p.parse_args(argv)
    RUN.settle_s, RUN.workers = args.settle, args.workers
    counts = [int(x) for x in args.counts.split(",") if x.strip()]
    if args.reader == "compare" and args.baseline_rev:
        from bench.reader_ab import compare_revisions  # it runs this module's edged and ffmpeg
        return compare_revisions(args.baseline_rev, counts, args.seconds, args.rounds)
    if args.reader == "compare":
        from bench.reader_compare import compare_readers  # it runs this module's edged and ffmpeg
        return compare_readers(counts, args.seconds, libavformat=not args.no_libavformat)
    if args.reader == "profile":
        from bench.reader_profile import profile_reader
        return profile_reader(counts, args.seconds, args.rounds)
    if args.reader:
        os.environ["EDGED_TEST_READER"] = args.reader  # tests/support/daemon.py write_config
    if args.durability == "compare":
        from bench.durability_compare import compare_durability  # it runs this module's edged
        return compare_durability(counts, args.seconds)
    os.environ["EDGED_DURABILITY"] = args.durability  # the daemon's workers inherit it (recorder/worker.py)
    args.source_state = source_state()
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"command: {command_line('bench.record_throughput')}")
    log(f"environment: {environment()}")
    server = serve_clip(max(counts))
    log(f"RTSP server pid {server.proc.pid} on port {server.port} with {max(counts)} mounts")
    results: list[tuple[EdgedResult, FfmpegResult | None]] = []
    floors: dict[int, FloorResult] = {}
    try:
        for n in counts:
            log(f"N={n}")
            e = run_edged(n, server, args.seconds, OUT)
            time.sleep(2)  # let the server tear down the sessions before the next step
            f = None if args.no_ffmpeg else run_ffmpeg(n, server, args.seconds, OUT)
            time.sleep(2)
            if args.floor:
                floors[n] = run_floor(n, server, args.seconds, OUT)
                time.sleep(2)
            results.append((e, f))
            if not server.running:
                raise RuntimeError("the RTSP server died:\n" + server.log_text()[-2000:])
    finally:
        server.stop()
        (OUT / "rtsp_server.log").write_text(server.log_text())
        server.close()
        if results:
            log(report(results, args, bench_clip(OUT)))  # encoded once: the cached path
            if floors:
                log(floor_report(results, floors))
    return 0


if __name__ == "__main__":
    # Run as the imported module, not as __main__: bench/reader_compare.py, reader_ab.py and
    # reader_profile.py import bench.record_throughput, and a second copy's RUN would not have
    # --settle and --workers (they were ignored in those modes).
    from bench import record_throughput

    sys.exit(record_throughput.main())
