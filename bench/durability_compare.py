"""`python -m bench.record_throughput --durability compare`: edged's CPU with the durability pass
per fsync interval (before design/0061) and after each fragment, in one run."""

from __future__ import annotations

import os
import statistics
import time

from bench.common import OUT, command_line, environment, log, table
from bench.record_throughput import run_edged, serve_clip

SPLIT_SHOWN = ("camera threads", "durability", "imagecheck", "events", "daemon")


def compare_durability(counts: list[int], seconds: float, rounds: int = 2) -> int:
    """edged's CPU with the durability pass per fsync interval (before design/0061) and after each
    fragment, back to back (alternating, `rounds` times each) on one RTSP server: the box is
    shared, so the ratio of neighbouring runs says more than either figure."""
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"command: {command_line('bench.record_throughput')}")
    log(f"environment: {environment()}")
    server = serve_clip(max(counts))
    rows: list[list[str]] = []
    by_thread: list[list[str]] = []
    try:
        for n in counts:
            cpu: dict[str, list[float]] = {"interval": [], "fragment": []}
            parts: dict[str, list[dict[str, float]]] = {"interval": [], "fragment": []}
            for _ in range(rounds):
                for mode in ("interval", "fragment"):
                    os.environ["EDGED_DURABILITY"] = mode
                    log(f"N={n} durability={mode}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
                    e = run_edged(n, server, seconds, OUT)
                    time.sleep(2)
                    if e.win is not None:
                        cpu[mode].append(e.win.cpu)
                        parts[mode].append(e.split)
                        log(f"  edged CPU {e.win.cpu:.1f} % of one core, durability thread "
                            f"{e.split.get('durability', 0):.2f} %")
            if cpu["interval"] and cpu["fragment"]:
                before, after = statistics.mean(cpu["interval"]), statistics.mean(cpu["fragment"])
                rows.append([str(n), " ".join(f"{x:.1f}" for x in cpu["interval"]),
                             " ".join(f"{x:.1f}" for x in cpu["fragment"]), f"{after / before:.3f}"])
                for group in SPLIT_SHOWN:
                    i, f = (statistics.mean(p.get(group, 0.0) for p in parts[m]) for m in ("interval", "fragment"))
                    by_thread.append([str(n), group, f"{i:.2f}", f"{f:.2f}", f"{f - i:+.2f}"])
    finally:
        server.stop()
        server.close()
    log("\n".join(["", "## Durability pass: per fsync interval (before) vs after each fragment", "",
                    f"environment: {environment()}", "",
                    table(["cameras", "CPU % per fsync interval", "CPU % after each fragment", "ratio after/before"],
                          rows), "",
                    "CPU = edged's process tree over the window, % of one core (each run's figure; ratio of "
                    "the means). Target: ratio <= 1.05.", "",
                    table(["cameras", "threads", "CPU % per fsync interval", "CPU % after each fragment", "difference"],
                          by_thread), "",
                    "By thread (bench/cpu_split.py, means of the runs): the syncs and their wake-ups run on the "
                    "`durability` thread; the camera threads also carry the shorter fragments (a 2 s GOP is three "
                    "instead of two); every group carries the box's noise between runs."]))
    return 0
