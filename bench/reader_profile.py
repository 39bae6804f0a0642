"""Where the edged reader's CPU goes per camera (issue 33): issue 20's cost split with the new reader.

Run through `python -m bench.record_throughput --reader profile --counts 16 --seconds 30 [--rounds 2]`.
Per count and round: edged with `reader = "edged"` (its CPU by thread, bench/cpu_split.py), with
py-spy sampling every process (the daemon and each recorder worker, `--nonblocking`: the
sampled process is never stopped) over the same window, then `strace -c -f` on the workers for
STRACE_S seconds; then one `ffmpeg -c copy` per camera on the same camera server, so the ratio
is of one run. Each py-spy sample is put in one step by its innermost frame the step table knows
(the source line where it matters: `recv_into` is the socket read, `pwrite` the fragment write,
`_h.update` SHA-256), and the worker's measured CPU is shared out in proportion to the samples:
py-spy counts a thread only while it runs, so the shares are of CPU, and the CPU is /proc's.

py-spy is not a dependency: `PY_SPY=/path/to/py-spy` or one on PATH (`pip install --target DIR
py-spy`); without it the split by thread and the syscalls are still printed.
"""

from __future__ import annotations

import linecache
import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from bench import record_throughput as rt
from bench.common import CLK_TCK, fmt, log, table
from bench.cpu_split import is_camera_thread
from bench import daemon_profile
from bench.daemon_profile import frame
from bench.reader_compare import READ_CALLS, WRITE_CALLS, strace_counts

STRACE_S = 10.0
PROFILER_WAIT_S = 300  # how long perf and py-spy may take after the window to write what they sampled
RATE_HZ = 97  # py-spy samples per second (not a divisor of the ticks' 100 Hz)
DAEMON_RATE_HZ = 499  # ... of the daemon, which runs a few ms a second: more samples for as long a window

# The steps, in the order printed. A sample goes to the step of its innermost frame listed in
# STEPS (file suffix, function, the step, or a {source text: step} refinement on the frame's line).
SOCKET, FRAMING, DEPACK, PACKET, CAMERA, MUX, WRITES, SHA, SEGMENTS, DURABILITY, IMAGE, EVENTS, OTHER, DAEMON = (
    "socket reads (recv_into)", "RTP framing (Interleave)", "depacketize + access units", "av.Packet per access unit",
    "camera loop (timestamps, stats)", "PyAV mux", "fragment writes (pwrite)", "SHA-256", "segment open/close + fsync",
    "durability (fdatasync)", "image checks", "events + worker other", "unclassified", "daemon (events, catalog)")
STEPS: list[tuple[str, str | None, str, dict[str, str]]] = [
    ("recorder/segment.py", "write", WRITES, {"_h.update": SHA}),
    ("recorder/segment.py", "write_video", CAMERA, {"mux(": MUX}),
    ("recorder/segment.py", "_write_audio", CAMERA, {"mux(": MUX}),
    ("recorder/segment.py", None, SEGMENTS, {}),
    ("recorder/edged_source.py", "_units", FRAMING, {"recv_into(": SOCKET, "keepalive": EVENTS}),
    ("recorder/edged_source.py", "demux", PACKET, {}),
    ("recorder/rtp.py", "drain", FRAMING, {}),  # its calls are framing or depacketising (py-spy: pure module only)
    ("recorder/rtp.py", "next", FRAMING, {}),
    ("recorder/rtp.py", "room", FRAMING, {}),
    ("recorder/rtp.py", "filled", FRAMING, {}),
    ("recorder/rtp.py", "_content_length", FRAMING, {}),
    ("recorder/rtp.py", None, DEPACK, {}),
    ("recorder/access_unit.py", None, CAMERA, {}),
    ("recorder/durability.py", None, DURABILITY, {}),
    ("recorder/imagecheck.py", None, IMAGE, {}),
    ("recorder/picture_size.py", None, IMAGE, {}),
    ("recorder/check_budget.py", None, IMAGE, {}),
    ("recorder/camera.py", "_record", CAMERA, {"samples.offer(": IMAGE}),
    ("recorder/camera.py", None, CAMERA, {}),
    ("recorder/stats.py", None, CAMERA, {}),
    ("recorder/timeline.py", None, CAMERA, {}),
    ("recorder/", None, EVENTS, {}),
]


def step_of(stack: list[str]) -> str:
    """The step of one py-spy raw stack (frames root first)."""
    for text in reversed(stack):
        func, path, line = frame(text)
        for suffix, name, step, by_line in STEPS:
            if path.endswith(suffix) and (name is None or name == func.rpartition(".")[2]):
                if by_line:
                    src = linecache.getline(path, line)
                    for needle, sub in by_line.items():
                        if needle in src:
                            return sub
                return step
    return OTHER


def pyspy_steps(raw: str, camera_only: bool = False) -> Counter:
    """{step: samples} from py-spy's --format raw output (`frame;frame;... count`); camera_only:
    the camera threads' samples alone (their root frame is CameraRecorder._main, or the worker's
    reader's, ReadTurns._main, which runs every edged-reader camera's loop: design/0302)."""
    out: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")
            if camera_only and not any("CameraRecorder._main" in f or "ReadTurns._main" in f for f in frames):
                continue
            out[step_of(frames)] += int(count)
    return out


PY_STEPS = (FRAMING, DEPACK, PACKET, CAMERA)      # the camera threads' own Python, what the interpreter's time is shared by

# perf: the thread (its OS name) and where its CPU went natively.
THREADS = ("camera threads", "durability", "imagecheck", "hasher", "events", "worker other")
NATIVE = ("Python interpreter", "FFmpeg (libav*)", "SHA-256 (libcrypto)", "libc (memcpy, malloc)", "numpy",
          "sys recvfrom", "sys pwrite64", "sys fdatasync", "sys futex (GIL, locks)", "sys other",
          "kernel (scheduling, irq, faults)", "other native")


def _thread(comm: str) -> str:
    if is_camera_thread(comm):
        return "camera threads"
    return comm if comm in THREADS else "worker other"


# Where a kernel dispatches system calls from a table of its own (x64_sys_call), `__x64_sys_NAME`
# is inlined away: the sample's chain names the call's own function instead.
_CALLS = {"do_pwritev": "pwrite64", "ksys_pwrite64": "pwrite64", "ksys_write": "write", "__sys_recvfrom": "recvfrom",
          "__sys_recvmsg": "recvmsg", "do_fsync": "fdatasync", "futex_wait": "futex", "futex_wake": "futex"}


def _native(frames: list[tuple[str, str]]) -> str:
    """The native step of one perf sample, from its frames (symbol, object), leaf first."""
    for sym, _dso in frames:
        if sym.startswith("__x64_sys_") or sym in _CALLS:
            name = _CALLS.get(sym) or sym[len("__x64_sys_"):]
            if name in ("recvfrom", "recvmsg", "read"):
                return "sys recvfrom"
            if name in ("pwrite64", "write"):
                return "sys pwrite64"
            if name in ("fdatasync", "fsync"):
                return "sys fdatasync"
            if name == "futex":
                return "sys futex (GIL, locks)"
            return "sys other"
    if not frames:
        return "other native"
    sym, dso = frames[0]
    if "kernel" in dso:
        return "kernel (scheduling, irq, faults)"
    name = dso.rsplit("/", 1)[-1]
    if name.startswith("libpython") or name == "python3.11":
        return "Python interpreter"
    if name.startswith(("libavformat", "libavcodec", "libavutil", "libswscale", "libswresample", "libx264")):
        return "FFmpeg (libav*)"
    if name.startswith(("libcrypto", "_hashlib", "_sha")):
        return "SHA-256 (libcrypto)"
    if name.startswith("libc.so") or name.startswith("libc-"):
        return "libc (memcpy, malloc)"
    if "numpy" in dso or name.startswith(("_multiarray", "libopenblas", "libscipy")):
        return "numpy"
    return "other native"


def perf_split(script: str) -> Counter:
    """{(thread group, native step): samples} from `perf script -F comm,tid,ip,sym,dso` output."""
    out: Counter = Counter()
    comm, frames = None, []
    for line in script.splitlines() + [""]:
        if not line.strip():
            if comm is not None:
                out[(_thread(comm), _native(frames))] += 1
            comm, frames = None, []
        elif not line[0].isspace():
            comm = line.rsplit(None, 1)[0].strip() if line.split()[-1].isdigit() else line.strip()
        else:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                sym, _, dso = parts[1].rpartition(" (")
                frames.append((sym, dso.rstrip(")")))
    return out


def thread_times(pids: list[int]) -> tuple[int, int]:
    """(utime, stime) ticks summed over the camera threads (`cam-*`, and the worker's `reader`) of `pids`."""
    u = s = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            if is_camera_thread(text[text.index("(") + 1:text.rindex(")")]):
                f = text[text.rindex(")") + 2:].split()
                u, s = u + int(f[11]), s + int(f[12])
    return u, s


class _Profile:
    """Wraps bench/record_throughput.py's `measure`: perf and py-spy on the workers over the
    window, the camera threads' user and system time, then strace on the workers after it."""

    def __init__(self, pyspy: str | None, perf: str | None) -> None:
        self.pyspy, self.perf = pyspy, perf
        self._measure: Callable[..., Any] = rt.measure
        self.py = Counter()      # py-spy: the camera threads' samples by step
        self.native = Counter()  # perf: (thread group, native step) -> samples
        self.cpu: dict[str, float] = {}  # "daemon" | "workers" -> % of one core over the window
        self.user_sys = (0.0, 0.0)
        self.strace: dict[str, int] = {}
        self.load = ""
        self.daemon: Counter = Counter()  # py-spy: the daemon's samples by part (bench/daemon_profile.py)
        self.daemon_leaves: Counter = Counter()

    def __call__(self, pids_now: Callable[[], list[int]], seconds: float, server_pid: int,
                 root: int | None = None) -> Any:
        self.load = "%.1f %.1f %.1f" % os.getloadavg()
        workers = [p for p in pids_now() if p != root]
        keep = rt.OUT / "profile"  # the raw stacks of the last profiled window, for reading by hand
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        procs: list[tuple[subprocess.Popen, Path]] = []

        def start(cmd: list[str], out: Path) -> None:
            with open(out.with_suffix(".err"), "wb") as err:
                procs.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err), out))
        if self.perf:
            start([self.perf, "record", "-q", "-e", "cpu-clock", "-F", str(PERF_HZ), "-g", "-p",
                   ",".join(map(str, workers)), "-o", str(keep / "perf.data"), "--", "sleep", str(int(seconds))],
                  keep / "perf.data")
        if self.pyspy:
            for pid in workers:
                start([self.pyspy, "record", "--nonblocking", "--full-filenames", "--format", "raw", "--rate",
                       str(RATE_HZ), "--duration", str(int(seconds)), "--pid", str(pid), "--output",
                       str(keep / f"pyspy-{pid}.txt")], keep / f"pyspy-{pid}.txt")
            if root is not None:  # the daemon too, every thread (design/0535)
                start([self.pyspy, "record", "--nonblocking", "--threads", "--full-filenames", "--format", "raw",
                       "--rate", str(DAEMON_RATE_HZ), "--duration", str(int(seconds)), "--pid", str(root), "--output",
                       str(keep / "pyspy-daemon.txt")], keep / "pyspy-daemon.txt")
        ut0 = thread_times(workers)
        win = self._measure(pids_now, seconds, server_pid, root=root)
        ut1 = thread_times(workers)
        self.user_sys = tuple((b - a) / CLK_TCK / win.seconds * 100 for a, b in zip(ut0, ut1))  # type: ignore[assignment]
        self.cpu = {"daemon": win.per_process.get(root, 0.0),
                    "workers": sum(v for p, v in win.per_process.items() if p != root)}
        self.py, self.native, self.daemon, self.daemon_leaves = Counter(), Counter(), Counter(), Counter()
        for proc, out in procs:
            try:  # on a loaded box py-spy may take minutes past its window to write its stacks; killed, it writes none
                proc.wait(PROFILER_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                log(f"  {Path(proc.args[0]).name} did not finish within {PROFILER_WAIT_S} s of the window: killed, "
                    f"its samples lost ({out.name})")
            if out.name == "perf.data" and out.exists():
                script = subprocess.run([self.perf or "perf", "script", "-i", str(out), "-F", "comm,tid,ip,sym,dso"],
                                        capture_output=True, text=True, timeout=300).stdout
                self.native = perf_split(script)
            elif out.name == "pyspy-daemon.txt" and out.exists():
                self.daemon, self.daemon_leaves = daemon_profile.daemon_parts(out.read_text())
            elif out.exists():
                self.py += pyspy_steps(out.read_text(), camera_only=True)
        self.strace = strace_counts([p for p in pids_now() if p != root], STRACE_S)
        return win

    def split(self) -> dict[str, float]:
        """% of one core per step: the workers' CPU shared out by perf's samples (the camera
        threads' interpreter time by py-spy's Python steps), the daemon's whole."""
        out = dict.fromkeys(ORDER, 0.0)
        total = sum(self.native.values())
        out[DAEMON] = self.cpu.get("daemon", 0.0)
        if not total:
            return out
        per = self.cpu.get("workers", 0.0) / total  # % of a core per perf sample
        py = {k: v for k, v in self.py.items() if k in PY_STEPS}
        py_total = sum(py.values())
        for (thread, native), k in self.native.items():
            x = k * per
            if thread == "camera threads":
                if native in ("Python interpreter", "libc (memcpy, malloc)", "other native"):
                    if py_total:
                        for step, v in py.items():
                            out[step] += x * v / py_total
                    else:
                        out[CAMERA] += x
                else:
                    out[CAM_NATIVE.get(native, GIL)] += x
            elif thread == "durability":
                out[DURABILITY] += x
            elif thread == "imagecheck":
                out[IMAGE] += x
            else:
                out[EVENTS] += x
        return out

    def native_rows(self, n: int) -> list[list[str]]:
        total = sum(self.native.values())
        per = self.cpu.get("workers", 0.0) / total if total else 0.0
        rows = []
        for thread in THREADS:
            cells = [self.native.get((thread, x), 0) * per / n for x in NATIVE]
            if sum(cells):
                rows.append([thread, *(f"{c:.3f}" for c in cells), f"{sum(cells):.3f}"])
        return rows


PERF_HZ = 499
GIL = "GIL, locks, scheduling (futex, kernel)"
CAM_NATIVE = {"FFmpeg (libav*)": MUX, "SHA-256 (libcrypto)": SHA, "sys recvfrom": SOCKET, "sys pwrite64": WRITES,
              "sys fdatasync": DURABILITY, "numpy": IMAGE}
ORDER = (SOCKET, FRAMING, DEPACK, PACKET, CAMERA, MUX, WRITES, SHA, GIL, DURABILITY, IMAGE, EVENTS, DAEMON)


def profile_reader(counts: list[int], seconds: float, rounds: int) -> int:
    pyspy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    perf = shutil.which("perf")
    log(f"command: {rt.command_line('bench.record_throughput')}")
    log(f"environment: {rt.environment()}")
    log(f"perf: {perf or 'not found: no native split'}; py-spy: {pyspy or 'not found (set PY_SPY): no Python split'}")
    rt.OUT.mkdir(parents=True, exist_ok=True)
    server = rt.serve_clip(max(counts))
    spy = _Profile(pyspy, perf)
    runs: list[dict[str, Any]] = []
    try:
        for r in range(1, rounds + 1):
            for n in counts:
                log(f"N={n} round {r}: edged, reader=edged, profiled")
                os.environ["EDGED_TEST_READER"] = "edged"
                rt.measure = spy  # type: ignore[assignment]
                e = rt.run_edged(n, server, seconds, rt.OUT)
                rt.measure = spy._measure  # ffmpeg unprofiled
                run = {"n": n, "round": r, "e": e, "split": spy.split(), "native": spy.native_rows(n),
                       "user_sys": spy.user_sys, "strace": spy.strace, "load": spy.load, "py": dict(spy.py),
                       "daemon": daemon_profile.rows(spy.daemon, spy.cpu.get("daemon", 0.0), n),
                       "daemon_leaves": spy.daemon_leaves.most_common(15)}
                time.sleep(2)
                log(f"N={n} round {r}: ffmpeg -c copy")
                run["f"] = rt.run_ffmpeg(n, server, seconds, rt.OUT)
                time.sleep(2)
                runs.append(run)
                log(report([run], seconds))
    finally:
        os.environ.pop("EDGED_TEST_READER", None)
        rt.measure = spy._measure
        server.stop()
        server.close()
    log(report(runs, seconds))
    return 0


def report(runs: list[dict[str, Any]], seconds: float) -> str:
    head = ["N", "round", "load", "edged CPU /cam", "ffmpeg /cam", "edged/ffmpeg", "lost e/f", "cam threads user/sys",
            "syscalls/cam/s", "reads", "writes", "futex"]
    rows, split_rows, native, daemon = [], [], [], []
    for run in runs:
        n, e, f, sc = run["n"], run["e"], run["f"], run["strace"]
        ew, fw = e.win, f.win
        ratio = ew.cpu / fw.cpu if ew and fw and fw.cpu else None
        u, s = run["user_sys"]

        def per(names: tuple[str, ...] | None) -> str:
            return fmt(sum(v for k, v in sc.items() if names is None or k in names) / n / STRACE_S, ".0f") if sc else "-"
        rows.append([n, run["round"], run["load"], fmt(ew and ew.cpu / n, ".3f"), fmt(fw and fw.cpu / n, ".3f"),
                     fmt(ratio, ".2f"), f"{e.lost_total}/{f.lost_total}", f"{u / n:.3f}/{s / n:.3f}", per(None),
                     per(READ_CALLS), per(WRITE_CALLS), per(("futex",))])
        split_rows.append([n, run["round"], *(f"{run['split'][k] / n:.3f}" for k in ORDER),
                           fmt(ew and ew.cpu / n, ".3f"), fmt(fw and fw.cpu / n, ".3f")])
        native += [[n, run["round"], *row] for row in run["native"]]
        daemon += [[n, run["round"], *row] for row in run.get("daemon", [])]
        daemon += [[n, run["round"], f"  leaf: {f}", str(c), "", ""] for c_f in [run.get("daemon_leaves", [])]
                   for f, c in c_f]
    return "\n".join([
        "", f"## edged (reader=edged) profiled vs ffmpeg -c copy: 1080p 20 fps 4 Mbit/s, {seconds:.0f} s window", "",
        table(head, rows), "",
        "CPU: % of one core per camera over the window (edged: daemon + workers). cam threads user/sys: the camera "
        "threads' user and system time, % of a core per camera. syscalls: `strace -c -f` on the workers for "
        f"{STRACE_S:.0f} s after the window (all, the read family, the write family, futex), per camera per second.",
        "", "### edged's CPU by step, % of one core per camera", "",
        table(["N", "round", *ORDER, "edged", "ffmpeg"], split_rows), "",
        "perf (cpu-clock, on-CPU samples of the workers' threads) shares out the workers' /proc CPU; the camera "
        "threads' Python interpreter time (with libc) is shared among framing, depacketize, av.Packet and the camera "
        "loop by py-spy's samples of those steps; daemon = the daemon process's /proc CPU.", "",
        "### the workers' native split (perf), % of one core per camera", "",
        table(["N", "round", "thread", *NATIVE, "all"], native), "",
        "### the daemon process by part (py-spy, every thread; bench/daemon_profile.py), % of one core per camera",
        "", table(["N", "round", "part", "samples", "% core /cam", "of daemon"], daemon) if daemon else "(no py-spy)",
        ""])
