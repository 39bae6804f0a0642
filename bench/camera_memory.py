"""Where edged's memory goes per camera (issue 92 item "RSS 9-10 MB a camera against 4"): smaps by kind.

    .venv/bin/python -m bench.camera_memory [--counts 8,32] [--seconds 20]

For each count, edged records that many cameras of bench/record_throughput.py's clip (reader =
"edged"); at the end of its measured window every process's /proc/PID/smaps is read and its
resident memory (RSS) and proportional share (PSS) put into kinds: the malloc heap and anonymous
maps (Python's objects, PyAV's and FFmpeg's buffers, arenas), thread stacks (anonymous maps of the
stack's size), and the files mapped (libpython, FFmpeg's libraries, numpy, the rest). Printed: each
kind per process role (daemon, workers, the spare) and, between two counts, what one more camera
adds to each kind: the per-camera cost, apart from what a process costs whatever its cameras.
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from bench import record_throughput as rt
from bench.common import command_line, environment, log, table

KINDS = ("heap + anonymous", "thread stacks", "libpython", "FFmpeg libs", "numpy", "other files")
STACK_KB = 8192  # a thread's stack map (ulimit -s), with its guard page beside it
_HEAD = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def kind_of(name: str, size_kb: int) -> str:
    """The kind of one mapping, from its path (empty for anonymous) and size."""
    if not name or name.startswith("[heap]") or name.startswith("[anon"):
        return "thread stacks" if size_kb == STACK_KB else "heap + anonymous"
    if name.startswith("["):  # [stack], [vdso], [vvar]
        return "thread stacks" if name == "[stack]" else "other files"
    base = name.rsplit("/", 1)[-1]
    if base.startswith("libpython") or base.startswith("python3"):
        return "libpython"
    if base.startswith(("libav", "libsw", "libx26", "libdav1d", "libvpx", "libopus", "libpostproc")) or "/av/" in name \
            or "av.libs" in name:
        return "FFmpeg libs"
    if "numpy" in name:
        return "numpy"
    return "other files"


def smaps(pid: int) -> dict[str, tuple[int, int]]:
    """{kind: (RSS kB, PSS kB)} of one process."""
    rss: Counter = Counter()
    pss: Counter = Counter()
    kind = "other files"
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        if _HEAD.match(line):
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            kind = kind_of(parts[5].strip() if len(parts) > 5 else "", (hi - lo) // 1024)
        elif line.startswith("Rss:"):
            rss[kind] += int(line.split()[1])
        elif line.startswith("Pss:"):
            pss[kind] += int(line.split()[1])
    return {k: (rss[k], pss[k]) for k in KINDS}


def anon_sizes(pid: int) -> Counter:
    """{resident kB rounded up to a power of two: maps} of one process's anonymous maps (malloc
    serves a block of 128 KiB or more as a map of its own in the workers: design/0282's
    MALLOC_MMAP_THRESHOLD_), so a buffer each camera holds shows as a count near the cameras'."""
    out: Counter = Counter()
    anon = False
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if _HEAD.match(line):
            parts = line.split(None, 5)
            anon = len(parts) <= 5 or not parts[5].strip() or parts[5].strip() == "[heap]"
            heap = len(parts) > 5 and parts[5].strip() == "[heap]"
        elif anon and line.startswith("Rss:"):
            kb = int(line.split()[1])
            if kb >= 64:
                out["[heap]" if heap else 1 << (kb - 1).bit_length()] += kb
                out[("n", "[heap]" if heap else 1 << (kb - 1).bit_length())] += 1
    return out


def threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


class _Snap:
    """Wraps bench/record_throughput.py's `measure`: smaps of every process at the window's end."""

    def __init__(self) -> None:
        self._measure: Callable[..., Any] = rt.measure
        self.by_pid: dict[int, dict[str, tuple[int, int]]] = {}
        self.threads: dict[int, int] = {}
        self.anon: dict[int, Counter] = {}
        self.root: int | None = None

    def __call__(self, pids_now: Callable[[], list[int]], seconds: float, server_pid: int,
                 root: int | None = None) -> Any:
        win = self._measure(pids_now, seconds, server_pid, root=root)
        self.root = root
        self.by_pid = {p: smaps(p) for p in pids_now()}
        self.anon = {p: anon_sizes(p) for p in pids_now()}
        self.threads = {p: threads(p) for p in pids_now()}
        return win


def roles(snap: _Snap) -> dict[str, list[int]]:
    """daemon, workers (a process with camera threads) and the rest (the spare worker)."""
    out: dict[str, list[int]] = {"daemon": [], "workers": [], "spare": []}
    for p in snap.by_pid:
        out["daemon" if p == snap.root else "workers" if snap.threads.get(p, 0) > 8 else "spare"].append(p)
    return out


def summed(snap: _Snap, pids: list[int]) -> dict[str, tuple[int, int]]:
    return {k: (sum(snap.by_pid[p][k][0] for p in pids if snap.by_pid[p]),
                sum(snap.by_pid[p][k][1] for p in pids if snap.by_pid[p])) for k in KINDS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.camera_memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", default="8,32", help="camera counts, comma-separated (default %(default)s)")
    p.add_argument("--seconds", type=float, default=20, help="measurement window per count (default %(default)s)")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.counts.split(",")]
    log(f"command: {command_line('bench.camera_memory')}")
    log(f"environment: {environment()}")
    rt.OUT.mkdir(parents=True, exist_ok=True)
    server = rt.serve_clip(max(counts))
    snap = _Snap()
    results: dict[int, dict[str, dict[str, tuple[int, int]]]] = {}
    os.environ["EDGED_TEST_READER"] = "edged"
    try:
        for n in counts:
            log(f"N={n}: edged, reader=edged")
            rt.measure = snap  # type: ignore[assignment]
            rt.run_edged(n, server, args.seconds, rt.OUT)
            results[n] = {role: summed(snap, pids) for role, pids in roles(snap).items() if pids}
            results[n]["all"] = summed(snap, list(snap.by_pid))
            log(anon_report(n, snap))
    finally:
        rt.measure = snap._measure
        os.environ.pop("EDGED_TEST_READER", None)
        server.stop()
        server.close()
    log(report(results))
    return 0


def anon_report(n: int, snap: _Snap) -> str:
    """The workers' anonymous maps by resident size: how many, and MiB in all."""
    total: Counter = Counter()
    for p in roles(snap)["workers"]:
        total += snap.anon.get(p, Counter())
    sizes = sorted((k for k in total if not isinstance(k, tuple)), key=lambda k: (isinstance(k, str), k))
    rows = [[f"<= {k} kB" if isinstance(k, int) else k, total[("n", k)], f"{total[k] / 1024:.1f}"] for k in sizes]
    return "\n".join(["", f"N={n}: the workers' anonymous maps of 64 kB or more resident, by resident size", "",
                      table(["resident", "maps", "MiB"], rows), ""])


def report(results: dict[int, dict[str, dict[str, tuple[int, int]]]]) -> str:
    rows = []
    for n, by_role in results.items():
        for role, kinds in by_role.items():
            rows.append([n, role, *(f"{kinds[k][0] / 1024:.1f} / {kinds[k][1] / 1024:.1f}" for k in KINDS),
                         f"{sum(v[0] for v in kinds.values()) / 1024:.1f} / {sum(v[1] for v in kinds.values()) / 1024:.1f}",
                         f"{sum(v[0] for v in kinds.values()) / 1024 / n:.2f}" if role == "all" else ""])
    out = ["", "## edged's memory by kind (MiB, RSS / PSS), reader = edged, the bench clip (1080p 20 fps 4 Mbit/s)", "",
           table(["N", "processes", *KINDS, "all", "RSS MiB a camera"], rows)]
    ns = sorted(results)
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        a, b = results[lo]["all"], results[hi]["all"]
        per = [(b[k][0] - a[k][0]) / 1024 / (hi - lo) for k in KINDS]
        fixed = sum(v[0] for v in a.values()) / 1024 - sum(per) * lo
        out += ["", f"### one more camera, from {lo} to {hi} cameras (RSS MiB a camera), and what is paid whatever "
                    "the count", "",
                table([*KINDS, "a camera", "fixed (MiB)", f"at {hi}: a camera, all in"],
                      [[*(f"{x:.2f}" for x in per), f"{sum(per):.2f}", f"{fixed:.0f}",
                        f"{sum(v[0] for v in b.values()) / 1024 / hi:.2f}"]])]
    return "\n".join(out + [""])


if __name__ == "__main__":
    raise SystemExit(main())
