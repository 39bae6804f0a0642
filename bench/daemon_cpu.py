"""Where a test's daemon spends its CPU: a daemon started as the tests start it, its own CPU at its start (to its
first catalogued segment), per second of steady running, and at its stop, split by thread; its recorder workers'
apart (issue 85: the suite's daemons, 2.16 s of CPU each; and a small box's idle CPU, design/0514).

The daemon is forked from the tests' warm copy (tests/support/ctlfork.py), so its imports are paid before it starts,
as in the suite. Its CPU is read from /proc (utime+stime of every thread); at its stop, the last reading before its
process is gone (read every 10 ms). `--spy PATH` runs py-spy (a throwaway install outside the repository) over the
steady window and prints its top functions.

    .venv/bin/python -m bench.daemon_cpu [--cameras 1] [--seconds 30] [--runs 3] [--spy PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.common import environment
from bench.cpu_split import thread_ticks

CLK_TCK = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[str, float]:
    """The CPU seconds of each of the process's threads now, by OS name (summed over threads of one name)."""
    out: dict[str, float] = defaultdict(float)
    for name, ticks in thread_ticks([pid], pid, group=lambda name, _daemon: name).values():
        out[name] += ticks / CLK_TCK
    return dict(out)


def process_cpu(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    f = text[text.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _spy(spy: str, pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy over the daemon and, with SPY_WORKERS set, its recorder workers (`--subprocesses`)."""
    also = ["--subprocesses"] if os.environ.get("SPY_WORKERS") else []
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--threads", "--format", "raw", "--rate", "500",
                             "--duration", str(seconds), "--output", str(out), "--nonblocking", *also],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def one_run(cameras: int, seconds: float, spy: str | None, phase: str = "steady",
            urls: list[str] | None = None) -> dict[str, object]:
    from tests.support.daemon import Daemon, wait_for, write_config

    with tempfile.TemporaryDirectory(prefix="daemon-cpu-") as tmp:
        base = Path(tmp)
        cfg = write_config(base / "edged.toml", base / "data", [{"id": f"cam{i}", "url": (urls or [])[i]
                                                                   if urls else "synthetic:"}
                                                                  for i in range(cameras)])
        d = Daemon(cfg, base / "data", base / "edged.log").start()
        assert d.proc is not None
        pid = d.proc.pid
        began = time.monotonic()
        spied = None
        if spy and phase == "start":  # from the fork to the first segment (and on: what is printed is the start's)
            spied = _spy(spy, pid, 6, base / "spy.txt")
        try:
            wait_for(lambda: all(d.segments(f"cam{i}") for i in range(cameras)),
                     120, "a segment of every camera", interval=0.05)
        except AssertionError:
            d.kill_all()  # never a daemon left recording beside the next run
            raise
        first_s = time.monotonic() - began
        at_first, threads_first = process_cpu(pid) or 0.0, threads(pid)
        workers = children(pid)
        workers_first = sum(process_cpu(w) or 0.0 for w in workers)
        wthreads_first = _merged(threads(w) for w in workers)
        if spy and phase == "steady":
            spied = _spy(spy, pid, int(seconds), base / "spy.txt")
        time.sleep(seconds)
        at_steady, threads_steady = process_cpu(pid) or 0.0, threads(pid)
        workers_steady = sum(process_cpu(w) or 0.0 for w in children(pid))
        wthreads_steady = _merged(threads(w) for w in children(pid))
        if spied:
            spied.wait(60)
        last, wlast = at_steady, {w: process_cpu(w) or 0.0 for w in children(pid)}
        stop_began = time.monotonic()
        d.signal(signal.SIGTERM)
        while True:
            now = process_cpu(pid)
            if now is None:
                break
            last = now
            for w in children(pid):
                wlast[w] = process_cpu(w) or wlast.get(w, 0.0)
            time.sleep(0.01)
        rc = d.proc.wait(60)
        stop_s = time.monotonic() - stop_began
        spy_text = (base / "spy.txt").read_text() if spy and (base / "spy.txt").exists() else ""
        return {"rc": rc, "first_s": first_s, "start": at_first, "steady": (at_steady - at_first) / seconds,
                "stop": last - at_steady, "stop_s": stop_s, "total": last,
                "workers_start": workers_first, "workers_steady": (workers_steady - workers_first) / seconds,
                "workers_total": sum(wlast.values()),
                "threads": {k: (threads_steady.get(k, 0.0) - threads_first.get(k, 0.0)) / seconds
                            for k in threads_steady},
                "threads_start": threads_first, "spy": spy_text,
                "wthreads": {k: (wthreads_steady.get(k, 0.0) - wthreads_first.get(k, 0.0)) / seconds
                             for k in wthreads_steady},
                "wthreads_start": wthreads_first}


def _merged(readings: object) -> dict[str, float]:
    """Threads of one name summed over processes (the workers' camera threads are named by camera)."""
    out: dict[str, float] = defaultdict(float)
    for reading in readings:  # type: ignore[attr-defined]
        for name, cpu in reading.items():
            out[name] += cpu
    return dict(out)


def _rtsp(stack: contextlib.ExitStack, cameras: int) -> list[str]:
    """The tests' RTSP server (tests/support/cameras.py) serving their usual clip, a mount a camera."""
    from tests.support.cameras import RtspServer, make_clip

    clip = make_clip(stack.enter_context(tempfile.TemporaryDirectory(prefix="daemon-cpu-clip-")),
                     fps=20, gop=20, seconds=20)
    server = stack.enter_context(RtspServer({f"cam{i}": clip.spec() for i in range(cameras)}))
    return [server.url(f"cam{i}") for i in range(cameras)]


def top_functions(raw: str, n: int = 25) -> list[tuple[int, str]]:
    """py-spy's raw (collapsed) stacks: samples by leaf function and by each function on a stack (inclusive)."""
    leaf: dict[str, int] = defaultdict(int)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        leaf[frames[-1]] += int(count)
    return sorted(((c, f) for f, c in leaf.items()), reverse=True)[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--spy", help="a py-spy executable: its top functions over the steady window")
    ap.add_argument("--phase", choices=("start", "steady"), default="steady", help="what py-spy samples")
    ap.add_argument("--rtsp", action="store_true", help="RTSP cameras (the tests' server, a looped clip) instead")
    ap.add_argument("--stacks", help="write py-spy's collapsed stacks to this file")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        urls = _rtsp(stack, args.cameras) if args.rtsp else None
        runs = [one_run(args.cameras, args.seconds, args.spy, args.phase, urls) for _ in range(args.runs)]
    med = lambda k: statistics.median(float(r[k]) for r in runs)  # noqa: E731
    kind = "RTSP (a looped 320x240 20 fps clip)" if args.rtsp else "synthetic"
    print(f"| daemon ({args.cameras} {kind} camera(s), {args.seconds:.0f} s steady, median of {args.runs}) | value |")
    print("| --- | --- |")
    for key, what in (("first_s", "wall to every camera's first segment, s"), ("start", "CPU to first segment, s"),
                      ("steady", "CPU per second steady, s/s"), ("stop", "CPU of the stop, s"),
                      ("stop_s", "wall of the stop, s"), ("total", "CPU of the daemon, whole run, s"),
                      ("workers_start", "workers' CPU to first segment, s"),
                      ("workers_steady", "workers' CPU per second steady, s/s"),
                      ("workers_total", "workers' CPU, whole run, s")):
        print(f"| {what} | {med(key):.3f} |")
    print("\nthe daemon's threads, CPU per second steady (median):")
    names = sorted({k for r in runs for k in r["threads"]})  # type: ignore[attr-defined]
    for name in names:
        print(f"  {name:20s} {statistics.median(r['threads'].get(name, 0.0) for r in runs):.4f}")  # type: ignore
    print("the daemon's threads, CPU to first segment (median):")
    names = sorted({k for r in runs for k in r["threads_start"]})  # type: ignore[attr-defined]
    for name in names:
        print(f"  {name:20s} {statistics.median(r['threads_start'].get(name, 0.0) for r in runs):.3f}")  # type: ignore
    for key, what in (("wthreads", "the workers' threads, CPU per second steady (median, summed over workers):"),
                      ("wthreads_start", "the workers' threads, CPU to first segment (median, summed over workers):")):
        print(what)
        names = sorted({k for r in runs for k in r[key]})  # type: ignore[attr-defined]
        for name in names:
            print(f"  {name:20s} {statistics.median(r[key].get(name, 0.0) for r in runs):.4f}")  # type: ignore
    if args.spy and args.stacks:
        Path(args.stacks).write_text("".join(str(r["spy"]) for r in runs))
    if args.spy:
        for count, fn in top_functions("".join(str(r["spy"]) for r in runs)):
            print(f"{count:6d}  {fn}")
    print("\n    .venv/bin/python -m bench.daemon_cpu " + " ".join(f"--{k} {v}" for k, v in
                                                               (("cameras", args.cameras), ("seconds", args.seconds),
                                                                ("runs", args.runs)))
          + (" --rtsp" if args.rtsp else ""))
    print(environment())


if __name__ == "__main__":
    main()
