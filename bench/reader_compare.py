"""edged with each RTSP reader side by side (design/0079), and one `ffmpeg -c copy` per camera.

Run through `python -m bench.record_throughput --reader compare --counts 16,32 --seconds 60`.
Per camera count: edged with `reader = "edged"`, edged with `reader = "ffmpeg"` (libavformat,
as before), and the ffmpeg reference, one after the other on one camera server; each step's
CPU, RSS and frames lost as bench/record_throughput.py measures them, then `strace -c -f`
attached to the same processes for STRACE_S seconds after the window (strace slows what it
traces: its figures are counts, not CPU), giving syscalls, writes and reads per camera per
second. The box's load average is printed beside each step: this box is shared.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from typing import Any, Callable

from bench import record_throughput as rt
from bench.common import fmt, log, table

STRACE_S = 10.0
READ_CALLS = ("read", "recvfrom", "recvmsg", "recvmmsg", "readv")
WRITE_CALLS = ("write", "pwrite64", "writev", "pwritev", "pwritev2", "sendto", "sendmsg")


def strace_counts(pids: list[int], seconds: float) -> dict[str, int]:
    """{syscall: calls} of `pids` (and their threads) over `seconds`; {} if strace cannot attach."""
    if not pids:
        return {}
    with tempfile.NamedTemporaryFile(prefix="edged-strace-", suffix=".txt", delete=False) as f:
        out = f.name
    cmd = ["strace", "-c", "-f", "-o", out] + [a for p in pids for a in ("-p", str(p))]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(2)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    counts: dict[str, int] = {}
    try:
        text = open(out).read()
    finally:
        os.unlink(out)
    for line in text.splitlines():
        cols = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(cols) >= 5 and re.fullmatch(r"[\d.]+", cols[0]) and cols[3].isdigit() and cols[-1] != "total":
            counts[cols[-1]] = int(cols[3])
    return counts


def io_calls(pids: list[int]) -> dict[int, tuple[int, int]]:
    """{pid: (read syscalls, write syscalls)} from /proc/PID/io (the whole process, all its
    threads; no tracing, so no slowing down). Reads there are file reads: a socket's recvfrom
    is not counted."""
    out = {}
    for pid in pids:
        try:
            fields = dict(line.split(": ") for line in open(f"/proc/{pid}/io").read().splitlines())
        except OSError:
            continue
        out[pid] = (int(fields["syscr"]), int(fields["syscw"]))
    return out


class _Strace:
    """Wraps bench/record_throughput.py's `measure`: the read and write syscalls of the window
    (/proc/PID/io), then strace on the same processes after it."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.io = (0.0, 0.0)  # read, write syscalls per second over the window, all measured processes
        self.load = ""
        self._measure: Callable[..., Any] = rt.measure
        self.strace_s = STRACE_S  # 0: no strace after the window (bench/reader_ab.py: the thread split is the window's)

    def __call__(self, pids_now: Callable[[], list[int]], seconds: float, server_pid: int,
                 root: int | None = None) -> Any:
        self.load = "%.1f %.1f %.1f" % os.getloadavg()
        before, t0 = io_calls([p for p in pids_now() if p != root]), time.monotonic()
        win = self._measure(pids_now, seconds, server_pid, root=root)
        pids = [p for p in pids_now() if p != root] or pids_now()  # edged: its workers (the daemon is not per camera)
        after, wall = io_calls(pids), time.monotonic() - t0
        both = [p for p in after if p in before]
        self.io = (sum(after[p][0] - before[p][0] for p in both) / wall,
                   sum(after[p][1] - before[p][1] for p in both) / wall)
        self.counts = strace_counts(pids, self.strace_s) if self.strace_s else {}
        return win


def _per_cam(counts: dict[str, int], names: tuple[str, ...] | None, n: int) -> float | None:
    if not counts:
        return None
    total = sum(v for k, v in counts.items() if names is None or k in names)
    return total / n / STRACE_S


def compare_readers(counts: list[int], seconds: float, libavformat: bool = True) -> int:
    log(f"command: {rt.command_line('bench.record_throughput')}")
    log(f"environment: {rt.environment()}")
    rt.OUT.mkdir(parents=True, exist_ok=True)
    server = rt.serve_clip(max(counts))
    rows: list[list[str]] = []
    tops: list[str] = []  # the most frequent syscalls per step, per camera per second
    spy = _Strace()
    rt.measure = spy  # type: ignore[assignment]
    try:
        for n in counts:
            for label in ("edged", "ffmpeg", "ffmpeg -c copy") if libavformat else ("edged", "ffmpeg -c copy"):
                log(f"N={n} {label}")
                if label == "ffmpeg -c copy":
                    res: Any = rt.run_ffmpeg(n, server, seconds, rt.OUT)
                else:
                    os.environ["EDGED_TEST_READER"] = label  # tests/support/daemon.py write_config
                    res = rt.run_edged(n, server, seconds, rt.OUT)
                time.sleep(2)
                w = res.win
                rows.append([str(n), "edged, reader=" + label if label != "ffmpeg -c copy" else label, spy.load,
                             fmt(w and w.cpu), fmt(w and w.cpu / n, ".2f"), fmt(w and w.rss / n, ".1f"),
                             f"{res.lost_total} ({res.lost_worst[0]}: {res.lost_worst[1]})",
                             fmt(getattr(res, "lag_growth", None), ".2f"),
                             fmt(spy.io[1] / n, ".1f"),
                             fmt(_per_cam(spy.counts, None, n), ".0f"), fmt(_per_cam(spy.counts, WRITE_CALLS, n), ".1f"),
                             fmt(_per_cam(spy.counts, ("pwrite64",), n), ".1f"),
                             fmt(_per_cam(spy.counts, READ_CALLS, n), ".0f"), fmt(_per_cam(spy.counts, ("poll", "ppoll"), n), ".0f")])
                log(table(HEADER, rows[-1:]))
                top = sorted(spy.counts.items(), key=lambda kv: -kv[1])[:8]
                tops.append(f"N={n} {rows[-1][1]}: " + ", ".join(f"{k} {v / n / STRACE_S:.0f}" for k, v in top))
                spy.counts = {}
    finally:
        os.environ.pop("EDGED_TEST_READER", None)
        rt.measure = spy._measure
        server.stop()
        server.close()
    log("")
    log(f"## edged's readers vs ffmpeg -c copy: 1080p {rt.FPS} fps, 4 Mbit/s, {seconds:.0f} s window, strace "
        f"{STRACE_S:.0f} s after it")
    log("")
    log(table(HEADER, rows))
    log("")
    log("CPU: % of one core over the window (edged: daemon + workers). RSS/cam: summed RSS / N. writes/cam/s: "
        "file write syscalls (write/pwrite) per camera per second over the window, from /proc/PID/io syscw of "
        "edged's workers (not the daemon) or of the ffmpeg processes: exact, nothing traced (its syscr does not "
        "count socket reads, so reads are strace's). strace: `strace -c -f` on the same processes over "
        f"{STRACE_S:.0f} s after the window, all syscalls, then writes, pwrite64 (the segment files), reads, "
        "polls, per camera per second; strace stops the tracee at every syscall, so where there are many "
        "(libavformat's reader) it slows them and its counts are a lower bound. load: 1/5/15-minute load "
        "average when the window began.")
    log("")
    log("most frequent syscalls, per camera per second:")
    for line in tops:
        log("- " + line)
    return 0


HEADER = ["N", "recorder", "load", "CPU %", "/cam", "RSS MB/cam", "lost (worst)", "lag growth s", "writes/cam/s",
          "strace: syscalls/cam/s", "writes", "pwrite64", "reads", "polls"]
