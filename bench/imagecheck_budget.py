"""The image checks' share of edged's CPU with the interval fixed at the site's 10 s (before) and
set by the CPU budget (design/0078, after), back to back on one RTSP server, as
bench.record_throughput records (1080p, 20 fps, 2 s GOP, 4 Mbit/s, image checks on).

    .venv/bin/python -m bench.imagecheck_budget [--counts 32] [--seconds 30] [--rounds 1]

The box is shared: each run's load average is printed beside it, and the runs alternate.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

from bench.record_throughput import (FPS, OUT, bench_clip, cam_ids, command_line, environment, log, run_edged,
                                     table)
from tests.support.cameras import RtspServer

MODES = ("off", "on")  # EDGED_IMAGE_BUDGET in the workers (recorder/worker.py)


def intervals(n: int) -> str:
    """The intervals the workers set during the run (their log lines), in order."""
    text = (OUT / f"edged-{n}" / "edged.log").read_text(errors="replace")
    found = re.findall(r"image checks: every (\S+) s", text)
    return ", ".join(f"{x} s" for x in found) or "10 s (unchanged)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.imagecheck_budget", description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", default="32", help="camera counts, comma-separated (default %(default)s)")
    p.add_argument("--seconds", type=float, default=30, help="measurement window per run (default %(default)s)")
    p.add_argument("--rounds", type=int, default=1, help="before/after pairs per count (default %(default)s)")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.counts.split(",") if x.strip()]
    log(f"command: {command_line('bench.imagecheck_budget')}")
    log(f"environment: {environment()}")
    OUT.mkdir(parents=True, exist_ok=True)
    clip = bench_clip(OUT)
    server = RtspServer({c: f"clip:{clip}@{FPS}" for c in cam_ids(max(counts))})
    server.start()
    rows: list[list[str]] = []
    try:
        for n in counts:
            for _ in range(args.rounds):
                for mode in MODES:
                    os.environ["EDGED_IMAGE_BUDGET"] = mode
                    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                    log(f"N={n} budget={mode}; load {load}")
                    e = run_edged(n, server, args.seconds, OUT)
                    time.sleep(2)
                    if e.win is None:
                        rows.append([str(n), mode, load, "-", "-", "-", "not measured: " + "; ".join(e.notes)])
                        continue
                    image = e.split.get("imagecheck", 0.0)
                    rows.append([str(n), "fixed 10 s" if mode == "off" else "budget", load, f"{e.win.cpu:.1f}",
                                 f"{image:.2f}", f"{100 * image / e.win.cpu:.1f}" if e.win.cpu else "-",
                                 intervals(n) if mode == "on" else "10 s"])
                    log(f"  edged {e.win.cpu:.1f} % of a core, image checks {image:.2f} % ({rows[-1][5]} % of it)")
    finally:
        server.stop()
        server.close()
    log("\n".join(["", "## Image checks: fixed interval (before) vs CPU budget (after)", "",
                   table(["cameras", "interval", "load (1, 5, 15 min)", "edged CPU %", "image checks CPU %",
                          "image checks % of edged", "interval set"], rows), "",
                   "CPU = % of one core over the window (edged's process tree; the image checks' pool threads "
                   "by bench/cpu_split.py). Budget: at most 10 % of the recorder's CPU, 10-60 s.",
                   f"median edged CPU: {statistics.median(float(r[3]) for r in rows if r[3] != '-'):.1f} %"
                   if any(r[3] != "-" for r in rows) else ""]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
