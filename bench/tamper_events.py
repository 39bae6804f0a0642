"""What the tamper watcher costs a recording camera (storage/footage/tamper.py, design/0301).

    .venv/bin/python -m bench.tamper_events [--cameras 32] [--seconds 30] [--rounds 2]

Each camera's open segment gets one write a second, spread over the second as a recorder's
fragments are (each raises one IN_MODIFY, which the watcher must read: truncate(2) raises
nothing else), into a data folder the watcher watches as the daemon does (edged's `is_ours`
answering yes, as it does for a segment being written). The watcher's threads' CPU (their own
clocks, not the writer's) over the window, per write and as % of one core a camera, read at once
(`LINGER_S = 0`: watchdog's own pace, the reference), at most every LINGER_S with every event handed
through watchdog (design/0301), and at most every LINGER_S with a segment being written's IN_MODIFY
dropped as it is read (design/0535), in interleaved rounds; and that every write was asked about.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import OUT, command_line, environment, log, table
from storage.footage import inotify_reader, tamper

HEADER = ["round", "read", "writes", "seen", "CPU s", "us a write", "% core a camera"]


def _threads_cpu_s() -> float:
    """CPU seconds of this process's threads but the calling one (the watcher's: watchdog's)."""
    me = threading.get_ident()
    total = 0.0
    for t in threading.enumerate():
        if t.ident is not None and t.ident != me:
            try:
                total += time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            except (OSError, ProcessLookupError):
                pass  # a thread that ended meanwhile
    return total


def one_round(cameras: int, seconds: float, linger_s: float, drop: bool = True) -> tuple[float, int, int]:
    """(watcher CPU s, writes, writes the watcher asked about) for one window; `drop` False: every event goes
    through watchdog to the handler, as before design/0535."""
    inotify_reader.LINGER_S = linger_s
    observer = inotify_reader.Observer
    if not drop:
        tamper.Observer = lambda _ignorable=None: observer()
    root = Path(tempfile.mkdtemp(dir=OUT))
    fds = []
    try:
        for i in range(cameras):
            day = root / "video" / f"cam{i + 1}" / "2026-11-27"
            day.mkdir(parents=True)
            fds.append(os.open(day / "20261127T000000.000000Z.mp4", os.O_WRONLY | os.O_CREAT, 0o600))
        asked: list[str] = []
        watcher = tamper.TamperWatcher(root, lambda t: None, lambda rel, kind: asked.append(rel) is None)
        watcher.start()
        buf = b"\0" * 25_000  # a 1 s fragment of a 200 kbit/s camera: the size does not matter to inotify
        writes = 0
        c0, t0 = _threads_cpu_s(), time.monotonic()
        try:
            while time.monotonic() - t0 < seconds:
                for fd in fds:
                    os.write(fd, buf)
                    writes += 1
                    time.sleep(1 / cameras)  # a write a camera a second, spread over the second
            cpu = _threads_cpu_s() - c0
            deadline = time.monotonic() + 5 + linger_s
            while len(asked) < writes and time.monotonic() < deadline:
                time.sleep(0.05)  # the last reads: a condition waited for, bounded
        finally:
            watcher.stop()
        return cpu, writes, len(asked)
    finally:
        tamper.Observer = observer
        for fd in fds:
            os.close(fd)
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=32)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"command: {command_line('bench.tamper_events')}")
    log(f"environment: {environment()}")
    lingering = inotify_reader.LINGER_S
    modes = {"at once (watchdog's pace)": (0.0, False),
             f"at most every {lingering:g} s (design/0301)": (lingering, False),
             "... ours dropped as read (design/0535)": (lingering, True)}
    rows: list[list[str]] = []
    per: dict[str, list[float]] = {m: [] for m in modes}
    all_seen = True
    for r in range(args.rounds):
        for mode, (linger, drop) in modes.items():
            cpu, writes, seen = one_round(args.cameras, args.seconds, linger, drop)
            all_seen = all_seen and seen == writes
            us = cpu / writes * 1e6
            core = cpu / args.seconds * 100 / args.cameras
            per[mode].append(core)
            rows.append([str(r + 1), mode, str(writes), f"{seen}/{writes}", f"{cpu:.3f}", f"{us:.0f}", f"{core:.4f}"])
            log(table(HEADER, rows[-1:]))
    log(f"\n## the tamper watcher: {args.cameras} cameras, a write a camera a second, {args.seconds:.0f} s windows\n")
    log(table(HEADER, rows))
    means = {m: sum(v) / len(v) for m, v in per.items()}
    ref = means[next(iter(modes))]
    log("\nmean % of a core a camera: " + ", ".join(f"{m} {v:.4f} ({v / ref if ref else float('nan'):.2f}x the "
                                                     "reference)" for m, v in means.items()))
    return 0 if all_seen else 1


if __name__ == "__main__":
    sys.exit(main())
