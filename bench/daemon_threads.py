"""A running daemon's CPU by thread over a window, each thread named by what py-spy's dump finds on its stack
(the daemon's threads are not named for the OS as the recorder's are: its main loop, the catalog writer, the
storage probe and watchdog's three threads are told apart here by their stacks). Design/0535.

    .venv/bin/python -m bench.daemon_threads PID [--seconds 40] [--spy PATH/TO/py-spy]

Prints each thread's utime+stime as % of one core over the window and its voluntary switches (wakes) a second
(/proc/PID/task/TID), then the daemon's whole. Without py-spy the threads are named by their OS name only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time

from bench.common import CLK_TCK, environment
from bench.cpu_split import thread_ticks


def readings(pid: int) -> dict[int, tuple[int, int, str]]:
    """tid -> (utime+stime ticks, voluntary switches, OS name) for every thread of `pid` now
    (bench/cpu_split.py thread_ticks, each thread grouped by its own OS name)."""
    named = lambda comm, _daemon: comm  # noqa: E731
    ticks = thread_ticks([pid], pid, group=named)
    wakes = thread_ticks([pid], pid, wakes=True, group=named)
    return {tid: (value, wakes[(p, tid)][1], comm) for (p, tid), (comm, value) in ticks.items() if (p, tid) in wakes}


def stacks(pid: int, spy: str | None) -> dict[int, str]:
    """tid -> its Python thread's name and innermost frames, from `py-spy dump --json`."""
    if not spy:
        return {}
    done = subprocess.run([spy, "dump", "--pid", str(pid), "--json"], capture_output=True, text=True, timeout=60)
    out = {}
    for thread in json.loads(done.stdout or "[]"):
        frames = " <- ".join(f"{f['name']}:{os.path.basename(f['filename'])}" for f in thread.get("frames", [])[:4])
        out[thread.get("os_thread_id")] = f"{thread.get('thread_name') or ''} | {frames}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--spy", default=os.environ.get("PY_SPY") or shutil.which("py-spy"))
    args = ap.parse_args()
    before, began = readings(args.pid), time.monotonic()
    time.sleep(args.seconds)
    after, wall = readings(args.pid), time.monotonic() - began
    named = stacks(args.pid, args.spy)
    total = 0
    for tid, (ticks, wakes, comm) in sorted(after.items(), key=lambda kv: kv[1][0] - before.get(kv[0], (0, 0))[0],
                                            reverse=True):
        t0, w0, _ = before.get(tid, (0, 0, comm))
        total += ticks - t0
        print(f"{tid:8d} {100 * (ticks - t0) / CLK_TCK / wall:7.3f} % core {(wakes - w0) / wall:7.1f} wakes/s  "
              f"{named.get(tid, comm)[:150]}")
    print(f"the daemon: {100 * total / CLK_TCK / wall:.3f} % of one core over {wall:.0f} s")
    print(environment())


if __name__ == "__main__":
    main()
