"""Where edged's recording CPU goes, split by thread from /proc (no profiler in the way).

The recorder names its threads for the OS (storage/process/threadname.py): `cam-<id>` (demux, the
per-packet Python, mux, and the SHA-256 of each buffer as it is written, design/0053),
`durability` (the fdatasync pass per interval, design/0052), `hasher` (checks a closed
segment's path; reads it back only when it could not be hashed as written), `events` (JSON
to the daemon), `imagecheck` (the health checks' pictures). The daemon is its own process.
Hashing is measured apart: the bytes the workers wrote in the window (/proc/PID/io wchar)
times the SHA-256 cost per byte measured here, in the same run, on the same box.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Callable, Iterable

CLK_TCK = os.sysconf("SC_CLK_TCK")
GROUPS = ("camera threads", "durability", "hasher", "events", "imagecheck", "worker other", "daemon")


def is_camera_thread(comm: str) -> bool:
    """A camera's thread, or the worker's reader, which runs the edged reader's cameras' loops (design/0302)."""
    return comm.startswith("cam-") or comm == "reader"


def _group(comm: str, is_daemon: bool) -> str:
    if is_daemon:
        return "daemon"
    if is_camera_thread(comm):
        return "camera threads"
    return comm if comm in GROUPS else "worker other"


def thread_ticks(pids: Iterable[int], daemon_pid: int, wakes: bool = False,
                 group: Callable[[str, bool], str] = _group) -> dict[tuple[int, int], tuple[str, int]]:
    """(pid, tid) -> (group, utime+stime ticks) for every thread alive now; with `wakes`, its
    voluntary context switches (it slept and was woken; bench/common.py wakes_of) instead. The
    group of a thread: `group(its OS name, whether its process is the daemon)`."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            comm = text[text.index("(") + 1:text.rindex(")")]
            f = text[text.rindex(")") + 2:].split()
            value = int(f[11]) + int(f[12])
            if wakes:
                try:
                    status = Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                value = sum(int(ln.split()[1]) for ln in status if ln.startswith("voluntary_ctxt_switches:"))
            out[(pid, int(tid))] = (group(comm, pid == daemon_pid), value)
    return out


def written_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/io").read_text().splitlines():
                if line.startswith("wchar:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def sha256_cpu_per_byte() -> float:
    """CPU seconds per byte of hashlib's SHA-256 on 128 KiB buffers (the writer's size)."""
    buf = os.urandom(1 << 17)
    h = hashlib.sha256()
    t0 = time.process_time()
    for _ in range(512):  # 64 MiB
        h.update(buf)
    return (time.process_time() - t0) / (512 * len(buf))


class Split:
    """Start at the window's start, `finish()` at its end: % of one core per group."""

    def __init__(self, pids: list[int], daemon_pid: int):
        self.daemon_pid = daemon_pid
        self.t0 = time.monotonic()
        self.before = thread_ticks(pids, daemon_pid)
        self.wakes_before = thread_ticks(pids, daemon_pid, wakes=True)
        self.w0 = written_bytes(p for p in pids if p != daemon_pid)

    def finish(self, pids: list[int]) -> dict[str, float]:
        after = thread_ticks(pids, self.daemon_pid)
        woke = thread_ticks(pids, self.daemon_pid, wakes=True)
        wall = time.monotonic() - self.t0
        wrote = written_bytes(p for p in pids if p != self.daemon_pid) - self.w0
        split = dict.fromkeys(GROUPS, 0.0)
        for key, (group, ticks) in after.items():
            split[group] += (ticks - self.before.get(key, (group, 0))[1]) / CLK_TCK / wall * 100
        split["hashing (in camera threads)"] = wrote * sha256_cpu_per_byte() / wall * 100
        split["MB written"] = wrote / (1 << 20)
        for key, (group, n) in woke.items():  # context switches a second, by group (threads alive at both ends)
            if key in self.wakes_before:
                split[f"wakes {group}"] = split.get(f"wakes {group}", 0.0) + (n - self.wakes_before[key][1]) / wall
        return split
