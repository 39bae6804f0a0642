"""Recording under a login and connection flood on the web viewer (issue 14), against the same
window without the flood.

    .venv/bin/python -m bench.viewer_flood [--seconds 60] [--cameras 4]

`--cameras` 1080p cameras (the 60 s clip of bench/record_throughput, 20 fps, 4 Mbit/s) are
recorded by the real daemon with [viewer] on 127.0.0.1 and MQTT on (a local mosquitto).
Two windows of `--seconds` each, in the same daemon run: first quiet (the reference), then
with the flood of tests/support/flood.py from this process: 1,000 logins with 200 KiB names,
200 wrong logins with short names and 1,500 idle or half-sent connections. For each window:
- frames lost: for every segment that starts and ends inside the window, its span x 20 fps
  minus the frames it holds, summed over cameras (target: 0 with the flood);
- CPU (utime+stime from /proc, % of one core) of recording (the recorder worker processes)
  and of the control plane (the daemon's own process, where the viewer answers the flood),
  and of the whole box (the flood client runs on it too);
- catalog+outbox growth (pages in use) and the daemon's descriptors at the end.
Ratio: recording CPU with the flood / without (target: within 10 %, i.e. <= 1.10).
Output goes to stdout and bench/out/viewer_flood.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from bench.common import FPS, OUT, bench_clip, box_ticks, cpu_ticks, environment, log, table, tree
from tests.support.broker import Broker
from tests.support.cameras import RtspServer, free_port
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.flood import fd_count, flood, login_from, stored_bytes
from tests.support.people import People, password_for

CLK = os.sysconf("SC_CLK_TCK")


def ticks(pid: int) -> tuple[int, int]:
    """(the daemon's own process: control plane and viewer, its recorder workers: recording)."""
    return cpu_ticks(pid) or 0, sum(cpu_ticks(p) or 0 for p in tree(pid) if p != pid)


def frames_lost(d: Daemon, start_us: int, end_us: int) -> tuple[int, int]:
    """(frames lost, segments) over the complete segments inside [start, end)."""
    segs = d.query("SELECT start_us, end_us, frames FROM segments WHERE state = 'complete' AND start_us >= ?"
                   " AND end_us <= ?", (start_us, end_us))
    span = sum(s["end_us"] - s["start_us"] for s in segs)
    return round(span * FPS / 1e6) - sum(s["frames"] for s in segs), len(segs)


def window(d: Daemon, seconds: float, data: Path, port: int, with_flood: bool) -> dict:
    t0_us = time.time_ns() // 1000
    (m0, w0), (b0, t0) = ticks(d.proc.pid), box_ticks()
    size0 = stored_bytes(data)
    started = time.monotonic()
    if with_flood:
        async def run():
            task = asyncio.ensure_future(flood(port, seconds=seconds))
            await asyncio.sleep(seconds / 2)
            ok = await asyncio.to_thread(login_from, "127.0.0.2", port, "vera", password_for("vera"))
            return await task, ok
        result, ok = asyncio.run(run())
    else:
        time.sleep(seconds)
        result, ok = None, None
    wall = time.monotonic() - started
    (m1, w1), (b1, t1) = ticks(d.proc.pid), box_ticks()
    t1_us = time.time_ns() // 1000
    time.sleep(3)  # let the segments that end in the window close
    lost, segs = frames_lost(d, t0_us, t1_us)
    return {"cpu": (w1 - w0) / CLK / wall * 100, "main": (m1 - m0) / CLK / wall * 100, "box": (b1 - b0) / (t1 - t0) * 100 * (os.cpu_count() or 1),
            "lost": lost, "segments": segs, "grown": stored_bytes(data) - size0, "fds": fd_count(d.proc.pid),
            "flood": result, "legit": ok, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--cameras", type=int, default=4)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / "viewer_flood"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    clip = bench_clip(OUT)
    env = environment()
    broker = Broker(work / "broker").start()
    port = free_port()
    cams = [f"c{i}" for i in range(args.cameras)]
    try:
        with RtspServer({c: f"clip:{clip}@{FPS}" for c in cams}) as srv:
            data = work / "data"
            config = write_config(work / "edged.toml", data, [{"id": c, "url": srv.url(c)} for c in cams],
                                  storage={"segment_length": "10s"}, tables={
                                      "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                                      "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})
            d = Daemon(config, data, work / "edged.log").start()
            try:
                wait_for(lambda: "web viewer listening" in d.log, 60, "the viewer")
                People(config, work).add("vera", "viewer")
                wait_for(lambda: all(d.segments(c) for c in cams), 60, "every camera's first segment")
                log(f"quiet window of {args.seconds:.0f} s ...")
                quiet = window(d, args.seconds, data, port, False)
                log(f"flood window of {args.seconds:.0f} s ...")
                loud = window(d, args.seconds, data, port, True)
                fds_after = wait_for(lambda: (n := fd_count(d.proc.pid)) <= quiet["fds"] + 5 and n, 60,
                                     "descriptors back to normal")
            finally:
                rc = d.stop()
    finally:
        broker.stop()
    f = loud["flood"]
    rows = [[name, f"{w['lost']}", f"{w['segments']}", f"{w['cpu']:.1f}", f"{w['main']:.1f}", f"{w['box']:.0f}",
             f"{w['grown'] / 1e3:.0f}", f"{w['fds']}"] for name, w in (("quiet", quiet), ("flood", loud))]
    ratio = loud["cpu"] / quiet["cpu"] if quiet["cpu"] else float("nan")
    text = "\n".join([
        f"# viewer_flood: {args.cameras} x 1080p20 cameras recorded, {args.seconds:.0f} s windows",
        "",
        table(["window", "frames lost", "segments", "recording CPU %", "control plane CPU %",
               "box CPU % of one core", "catalog+outbox KB", "daemon fds at end"], rows),
        "",
        f"recording CPU (the recorder workers) flood / quiet: {ratio:.3f} (target <= 1.10); frames lost under the "
        f"flood: {loud['lost']} (target 0); the control plane (daemon process: viewer, catalog, MQTT) pays for "
        f"the flood: {loud['main'] - quiet['main']:+.1f} % of a core",
        f"flood answers: {dict(sorted(f.statuses.items(), key=str))}; idle connections opened {f.idle_opened}, "
        f"closed by the viewer {f.idle_reset}",
        f"login from 127.0.0.2 during the flood: HTTP {loud['legit'][0]}; descriptors after the flood: {fds_after} "
        f"(quiet: {quiet['fds']}); edged exit status {rc}",
        "",
        f"command (from the repository root): .venv/bin/python -m bench.viewer_flood {shlex.join(sys.argv[1:])}",
        f"environment: {env}",
    ])
    log(text)
    (OUT / "viewer_flood.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
