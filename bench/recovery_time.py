"""How long cameras stay unrecorded after a recorder worker or the whole daemon is killed
while 64 cameras write and the page cache is full of dirty pages (target: <= 5 s, worst of 20).

    .venv/bin/python -m bench.recovery_time [--cameras 64] [--rounds 20] [--reference-rounds 3]   # from the repository root

64 fake RTSP cameras (640x360, 20 fps, 2 s GOP, 1 Mbit/s) recorded with 60 s segments into
bench/out/recovery on the machine's disk (not a tmpfs: writeback is the point). A ballast
process writes large files without fsync the whole time, so the kernel's dirty pages stay
near its limit (Dirty in /proc/meminfo is printed). Each round kills one recorder worker
(SIGKILL; the one that has recorded longest, once it has recorded 30 s: a worker that dies
sooner after its restart is a crash loop, restarted with backoff on purpose), or the daemon with its workers (SIGKILL to the process group, then `edged run`
again at once, as systemd's Restart= would after RestartSec). Resume of a camera = the start
of its first segment after the kill minus the kill time; a round's figure is its worst
camera. Where the time goes comes from the daemon's log: worker death noticed, worker
started (after a daemon kill: by `edged run` before the daemon's imports, design/0029, from
the start-up steps of the ready line), ready, the recovery of the open segments (which runs
alongside recording). The
reference is the same rounds without the ballast, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from bench.common import OUT, command_line, environment, log, table
from edged.config import load_config
from edged.daemon.recording.prestart import worker_count
from edged.daemon.recording.workers import WORKER_STABLE_S
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, wait_for, write_config

S = 1_000_000
TARGET_S = 5.0
BALLAST = """
import os, sys, time
folder, keep, size = sys.argv[1], int(sys.argv[2]), 512 << 20
os.makedirs(folder, exist_ok=True)
block, n = os.urandom(8 << 20), 0
while True:
    path = os.path.join(folder, "ballast-%06d" % n)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
    old = os.path.join(folder, "ballast-%06d" % (n - keep))
    if os.path.exists(old):
        os.unlink(old)
    n += 1
"""


# A floor for a daemon restart: what a bare Python process needs, at the moment of the kill, to
# import PyAV and see each of its cameras' first keyframe (no edged, no catalog, no daemon):
# printed as JSON {"imported": wall s, "first": {url: wall s of the first keyframe, or null}}.
FLOOR = """
import json, sys, threading, time
import av
imported, first = time.time(), {}
def one(url):
    try:
        c = av.open(url, options={"rtsp_transport": "tcp", "probesize": "32", "analyzeduration": "0"}, timeout=(10, 10))
        for p in c.demux(c.streams.video[0]):
            if p.is_keyframe:
                first[url] = time.time()
                break
        c.close()
    except Exception:
        first[url] = None
threads = [threading.Thread(target=one, args=(u,)) for u in sys.argv[1:]]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"imported": imported, "first": first}))
"""


def floor_round(d: Daemon, urls: list[str], processes: int) -> dict:
    """Kill the daemon and its workers as a daemon round does, then start `processes` bare PyAV
    clients for the same cameras at once (as many as edged has workers); then edged again."""
    killed = now_us()
    d.kill_all()
    clients = [subprocess.Popen([sys.executable, "-c", FLOOR, *urls[i::processes]], stdout=subprocess.PIPE, text=True)
               for i in range(processes)]
    outs = [json.loads(c.communicate(timeout=120)[0]) for c in clients]
    restarted = now_us()
    d.start()
    firsts = [t for o in outs for t in o["first"].values() if t is not None]
    took = {i: (t * S - killed) / S for i, t in enumerate(firsts)}
    return {"took": took, "started": max(o["imported"] * S - killed for o in outs) / S, "restarted": restarted,
            "failed": sum(t is None for o in outs for t in o["first"].values())}


def now_us() -> int:
    return time.time_ns() // 1000


def served_s(d: Daemon, pid: int) -> float:
    """How long the worker has recorded: since the daemon took it into service (a spare waits
    idle before that, which the supervisor's restart backoff does not count)."""
    times = log_times(d.log, rf"recorder worker \d+ (started|adopted, started before [^(]*) \(pid {pid}\)", 0)
    return (now_us() - times[-1]) / S if times else 0.0


def dirty_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Dirty:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_cameras(pid: int) -> set[str]:
    """The cameras whose segment this worker has open (its cameras)."""
    cams = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return cams
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.search(r"/video/([^/]+)/\d{4}-\d\d-\d\d/[^/]+\.mp4$", target)
        if m:
            cams.add(m.group(1))
    return cams


def log_times(text: str, pattern: str, after_us: int) -> list[int]:
    """Wall times (us) of the daemon log lines matching `pattern` logged after `after_us`."""
    out = []
    for line in text.splitlines():
        if re.search(pattern, line) and line[:4].isdigit():
            t = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if int(t * S) >= after_us - 1000:
                out.append(int(t * S))
    return out


def recovery_seconds(text: str, after_us: int) -> tuple[float] | None:
    """How long the recovery of the open segments took (it runs alongside recording), from the
    daemon's log line about it, logged after `after_us`."""
    for line in reversed(text.splitlines()):
        m = re.search(r"after worker \d+ died: .* in ([\d.]+) s|catalog reconciled .*\(open segments ([\d.]+) s", line)
        if m and log_times(line, ".", after_us):
            return (float(m.group(1) or m.group(2)),)
    return None


def workers_started_s(ready_line: str, killed_us: int) -> float | None:
    """Seconds from the kill to the workers' start, from the start-up steps of the ready line:
    `edged run` starts them before the daemon's imports (design/0029), else the daemon does."""
    m = re.search(r"start-up ([\d.]+) s: (.*)\)$", ready_line)
    times = log_times(ready_line, ".", killed_us)
    if not m or not times:
        return None
    steps = [(name.strip(), float(s)) for name, s in re.findall(r"([^,]+?) ([\d.]+)(?:,|$)", m.group(2))]
    started = times[0] - float(m.group(1)) * S  # the process's start
    for name, spent in steps:
        started += spent * S
        if name.endswith(("workers started", "workers spawned")) or name == "workers":
            break
    return (started - killed_us) / S


def phases(ready_line: str, killed_us: int) -> dict[str, float]:
    """Seconds from the kill to the end of each start-up step of the ready line (cumulative):
    the process's start, python and imports, workers spawned, config, ..., ready."""
    m = re.search(r"start-up ([\d.]+) s: (.*)\)$", ready_line)
    times = log_times(ready_line, ".", killed_us)
    if not m or not times:
        return {}
    at = times[0] - float(m.group(1)) * S  # the process's start
    out = {"process started": (at - killed_us) / S}
    for name, spent in re.findall(r"([^,]+?) ([\d.]+)(?:,|$)", m.group(2)):
        at += float(spent) * S
        out[name.strip()] = (at - killed_us) / S
    return out


def failed_tries(text: str, killed_us: int) -> dict[str, str]:
    """The cameras whose connection failed after the kill (each then waited for a reconnect),
    with the first reason the worker logged: the tail of a daemon restart."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.search(r"WARNING +recorder\.camera: camera (\S+): (.*)$", line)
        if m and log_times(line, ".", killed_us):
            out.setdefault(m.group(1), m.group(2))
    return out


def resumes(d: Daemon, cams: set[str], killed: int, timeout: float = 60) -> dict[str, float]:
    """Per camera: seconds from the kill to the start of its first segment after it."""
    marks = ",".join("?" * len(cams))

    def got():
        rows = d.query(f"SELECT camera, min(start_us) AS s FROM segments WHERE camera IN ({marks}) AND start_us > ?"
                       " GROUP BY camera", (*sorted(cams), killed))
        return rows if len(rows) == len(cams) else None

    rows = wait_for(got, timeout, f"{len(cams)} cameras recording again", interval=0.2)
    return {r["camera"]: (r["s"] - killed) / S for r in rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.recovery_time", description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=64)
    p.add_argument("--rounds", type=int, default=20, help="worker kills and daemon kills under load (each)")
    p.add_argument("--reference-rounds", type=int, default=3, help="the same without the ballast writer (each)")
    p.add_argument("--ballast-files", type=int, default=16, help="512 MB files the ballast keeps on disk")
    p.add_argument("--kinds", default="worker,daemon", help="what to kill: worker, daemon or both (default)")
    p.add_argument("--floor", action="store_true", help="after each daemon round, a floor round: the daemon killed "
                   "the same way, then bare PyAV clients (no edged) for the same cameras, as many as edged's workers")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.recovery_time')}")
    log(f"environment: {environment()}")
    clip = make_clip(OUT / "clips", width=640, height=360, fps=20, gop=40, seconds=60, bitrate="1M")
    base = OUT / "recovery"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    data = base / "data"
    cams = [f"cam{i:02d}" for i in range(1, args.cameras + 1)]
    server = RtspServer({c: clip.spec() for c in cams}).start()
    config = write_config(base / "edged.toml", data, [{"id": c, "url": server.url(c)} for c in cams],
                          storage={"segment_length": "60s"})
    d = Daemon(config, data, base / "edged.log")
    results: dict[tuple[str, bool], list[dict]] = {}
    ballast: subprocess.Popen | None = None
    d.start()
    try:
        wait_for(lambda: len(d.query("SELECT DISTINCT camera FROM segments")) == len(cams), 120, "every camera")
        for loaded, rounds in ((False, args.reference_rounds), (True, args.rounds)):
            if loaded:
                ballast = subprocess.Popen([sys.executable, "-c", BALLAST, str(base / "ballast"),
                                            str(args.ballast_files)], start_new_session=True)
                wait_for(lambda: dirty_mb() > 1000, 120, "a gigabyte of dirty pages", interval=0.5)
            for kind in args.kinds.split(","):
                for n in range(1, rounds + 1):
                    time.sleep(8)  # let the open segments grow (and the dirty pages pile up)
                    dirty = dirty_mb()
                    if kind == "worker":
                        # The worker that has run longest, and only once it ran WORKER_STABLE_S: a
                        # worker dying again sooner is a crash loop, restarted with backoff on purpose.
                        pid = wait_for(lambda: (old := [p for p in d.workers() if open_cameras(p)
                                                        and served_s(d, p) > WORKER_STABLE_S + 1]) and
                                       max(old, key=lambda p: served_s(d, p)), 90, "a worker that has run 30 s",
                                       interval=0.5)
                        mine = open_cameras(pid)
                        killed = now_us()
                        os.kill(pid, signal.SIGKILL)
                        took = resumes(d, mine, killed)
                        text = d.log
                        noticed = log_times(text, r"recorder worker \d+ exited", killed)
                        started = log_times(text, r"recorder worker \d+ started", killed)
                        row = {"noticed": (noticed[0] - killed) / S if noticed else None,
                               "started": (started[0] - killed) / S if started else None}
                    else:
                        mine = set(cams)
                        killed = now_us()
                        d.kill_all()
                        d.start()
                        took = resumes(d, mine, killed)
                        text = d.log
                        ready = log_times(text, r"ready: recording has started", killed)
                        line = next((ln for ln in text.splitlines() if "ready: recording has started" in ln
                                     and log_times(ln, ".", killed)), "")
                        failed = failed_tries(text, killed)
                        row = {"failed": len(failed), "started": workers_started_s(line, killed),
                               "ready": (ready[0] - killed) / S if ready else None,
                               "phases": {**phases(line, killed), "first segment (median camera)":
                                          statistics.median(took.values()), "first segment (worst camera)":
                                          max(took.values())}}
                    rec = wait_for(lambda: recovery_seconds(d.log, killed), 120, "the recovery of the open segments",
                                   interval=0.5)
                    worst = max(took.values())
                    row.update(worst=worst, median=statistics.median(took.values()), cams=len(took), dirty=dirty,
                               recovery=rec[0])
                    results.setdefault((kind, loaded), []).append(row)
                    log(f"{'load' if loaded else 'ref '} {kind} kill {n:2d}: {len(took)} cameras, worst {worst:.2f} s, "
                        f"median {row['median']:.2f} s; dirty {dirty:.0f} MB; recovery of the open segments "
                        f"{row['recovery']} s (alongside); " + ", ".join(
                            f"{k} {v:.2f} s" for k, v in row.items() if k in ("noticed", "started", "ready") and v)
                        + (f"; {row['failed']} camera(s) failed a try: " + "; ".join(
                            f"{n} x {why[:60]}" for why, n in Counter(failed.values()).most_common())
                           if kind == "daemon" and row["failed"] else ""))
                    if kind == "daemon" and args.floor:
                        time.sleep(8)
                        dirty = dirty_mb()
                        got = floor_round(d, [server.url(c) for c in cams], worker_count(load_config(config)))
                        frow = {"worst": max(got["took"].values()), "median": statistics.median(got["took"].values()),
                                "started": got["started"], "dirty": dirty}
                        results.setdefault(("floor", loaded), []).append(frow)
                        log(f"{'load' if loaded else 'ref '} floor {n:2d}: {len(got['took'])} cameras ({got['failed']} "
                            f"failed), worst {frow['worst']:.2f} s, median {frow['median']:.2f} s; PyAV imported "
                            f"{frow['started']:.2f} s after the kill; dirty {dirty:.0f} MB")
                        wait_for(lambda: recovery_seconds(d.log, got["restarted"]), 120, "edged back", interval=0.5)
                        resumes(d, set(cams), got["restarted"])
    finally:
        if ballast is not None:
            os.killpg(ballast.pid, signal.SIGKILL)
            ballast.wait()
        if d.proc is not None and d.proc.poll() is None:
            log(f"daemon stopped with status {d.stop(timeout=90)}")
        server.close()
        shutil.rmtree(base / "ballast", ignore_errors=True)

    lines = ["", f"## resume after a kill: {args.cameras} cameras writing, page cache full of dirty pages", "",
             f"command: {command_line('bench.recovery_time')}", ""]
    rows = []
    for (kind, loaded), got in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        worst = [r["worst"] for r in got]
        started = [r["started"] for r in got if r.get("started") is not None]
        ready = [r["ready"] for r in got if r.get("ready") is not None]
        rec = [r["recovery"] for r in got if r.get("recovery") is not None]
        rows.append([kind, "ballast" if loaded else "none (reference)", len(got),
                     f"{statistics.median(r['dirty'] for r in got):.0f}", f"{statistics.median(worst):.2f}",
                     f"{max(worst):.2f}", f"{statistics.median(started):.2f}" if started else "-",
                     f"{statistics.median(ready):.2f}" if ready else "-",
                     f"{max(rec):.2f}" if rec else "-", "yes" if max(worst) <= TARGET_S else "NO"])
    lines.append(table(["killed", "write load", "rounds", "dirty MB (median)", "resume s (median of worst)",
                        "resume s (worst)", "kill -> worker(s) started s (median)", "kill -> daemon ready s (median)",
                        "recovery alongside s (max)", f"<= {TARGET_S:g} s"], rows))
    for loaded in (False, True):  # where a daemon restart's time goes, step by step
        got = [r["phases"] for r in results.get(("daemon", loaded), []) if r.get("phases")]
        if got:
            names = sorted({n for ph in got for n in ph}, key=lambda n: statistics.median(
                ph[n] for ph in got if n in ph))
            lines += ["", f"daemon restart, {'ballast' if loaded else 'no write load'}: seconds from the kill to the "
                      "end of each step (the ready line's start-up steps; first segment = its first keyframe)", "",
                      table(["step", "median s", "worst s"], [
                          [n, f"{statistics.median(v):.2f}", f"{max(v):.2f}"]
                          for n in names if (v := [ph[n] for ph in got if n in ph])])]
    for kind in ("worker", "daemon"):
        ref, load = results.get((kind, False)), results.get((kind, True))
        if ref and load:
            ratio = statistics.median(r["worst"] for r in load) / statistics.median(r["worst"] for r in ref)
            lines.append(f"\n{kind}: median worst resume under load / without load = {ratio:.2f}")
    for loaded in (False, True):
        dm, fl = results.get(("daemon", loaded)), results.get(("floor", loaded))
        if dm and fl:
            lines.append(f"\ndaemon / floor ({'ballast' if loaded else 'no write load'}): median worst "
                         f"{statistics.median(r['worst'] for r in dm) / statistics.median(r['worst'] for r in fl):.2f}, "
                         f"worst {max(r['worst'] for r in dm) / max(r['worst'] for r in fl):.2f}")
    log("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
