"""What the benchmarks share: the command and environment lines each prints, a process tree's
CPU and memory read from /proc, a measuring window, and the Markdown table of the figures."""

from __future__ import annotations

import hashlib
import os
import platform
import queue
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable

from tests.support.daemon import ROOT

OUT = ROOT / "bench" / "out"


CLK_TCK = os.sysconf("SC_CLK_TCK")


MIB = 1024 * 1024


FPS = 20          # the bench clip: 1080p, 20 fps, a keyframe every 2 s, 60 s, 4 Mbit/s
GOP = 40
CLIP_SECONDS = 60


def log(msg: str) -> None:
    print(msg, flush=True)


def command_line(module: str) -> str:
    exe = Path(sys.executable)
    try:
        exe = exe.relative_to(ROOT)  # type: ignore[assignment]
    except ValueError:
        pass
    return f"{exe} -m {module} {shlex.join(sys.argv[1:])}".rstrip()  # from the repository root


def source_state() -> str:
    """The edged revision and a digest of the code it runs (edged/, recorder/, storage/ at HEAD
    plus uncommitted changes to them): the repo is shared, and a run whose code changed under
    it measured two different programs."""
    def git(*a: str) -> bytes:
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True).stdout
    rev = git("rev-parse", "--short", "HEAD").decode().strip()
    trees = git("rev-parse", "HEAD:edged", "HEAD:recorder", "HEAD:storage")
    diff = git("diff", "HEAD", "--", "edged", "recorder", "storage")
    return f"{rev} (code {hashlib.sha1(trees + diff).hexdigest()[:8]}{', uncommitted changes' if diff else ''})"


def code_of(state: str) -> str:
    return state.split("(code ")[-1][:8]


def environment() -> str:
    """One line a reader needs to judge the figures: box, load, versions, source state."""
    try:
        import av
        pyav = f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info})"
    except Exception:  # noqa: BLE001
        pyav = "PyAV ?"
    ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {platform.node()}, {os.cpu_count()} cores{cpu_model()}, "
            f"load {load}; edged {source_state()}; {pyav}; {' '.join(ff.split()[:3])}{memory_return()}")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """' (the processor's model; the flags a figure depends on)' from /proc/cpuinfo, or ''."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return ""
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    has = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "VNNI"),
                                   ("avx_vnni", "AVX-VNNI"), ("sha_ni", "SHA-NI")) if flag in flags]
    return f" ({model}; {', '.join(has) or 'no AVX2'})"


def memory_return(sys_root: Path = Path("/sys"), proc_root: Path = Path("/proc")) -> str:
    """What a virtual machine's guest does with its free memory, when it can give it back to its
    host: a page given back costs the next writer a host fault when first touched again, so every
    byte of footage costs more (bench/page_cache_cost.py, design/0304). Empty on a box without."""
    giving, holding = [], []
    reporting = sys_root / "module/page_reporting/parameters"
    try:
        order = int((reporting / "page_reporting_order").read_text())
        given = f"{int((reporting / 'reported_kib').read_text()) / 2**20:,.0f} GB given back since boot"
    except (OSError, ValueError):
        pass
    else:
        try:  # a zone's free blocks by order, 0 to the largest
            largest = len((proc_root / "buddyinfo").read_text().split("\n")[0].split()) - 5
        except OSError:
            largest = order
        if order <= largest:
            giving.append(f"free page reporting (order {order}, {given})")
        else:
            holding.append(f"free page reporting held (order {order}, above the largest free block's {largest}; {given})")
    try:
        states = [(k / "state").read_text().strip() for k in (sys_root / "kernel/mm/damon/admin/kdamonds").glob("[0-9]*")]
    except OSError:
        states = []
    if "on" in states:
        giving.append("DAMON on")
    elif states:
        holding.append("DAMON off")
    if giving:
        return f"; the guest returns free memory to its host: {', '.join(giving + holding)}"
    return f"; the guest keeps its free memory: {', '.join(holding)}" if holding else ""


def children(pid: int) -> list[int]:
    """Direct children of every thread of `pid` (a child belongs to the thread that forked it)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            out += [int(p) for p in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            pids.append(p)
            todo += children(p)
    return pids


def cpu_ticks(pid: int, with_reaped_children: bool = False) -> int | None:
    """utime+stime of a process (all its threads), plus cutime+cstime if asked (children it
    reaped: a worker that died in the window keeps counting through its parent)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    f = text[text.rindex(")") + 2:].split()  # fields from 3 (state) on
    ticks = int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)
    if with_reaped_children:
        ticks += int(f[13]) + int(f[14])  # cutime, cstime
    return ticks


def ticks_of(pids: Iterable[int], root: int | None = None) -> dict[int, int]:
    snap = {}
    for p in pids:
        t = cpu_ticks(p, with_reaped_children=(p == root))
        if t is not None:
            snap[p] = t
    return snap


def wakes_of(pids: Iterable[int]) -> dict[int, int]:
    """pid -> voluntary context switches of all its threads: each is a thread that went to sleep
    (a blocking read, a lock, the GIL) and was woken, so their rate is the wakes a second the
    threads cost. Involuntary switches (a thread taken off a core by others' work) are the box's
    load, not the recorder's, and are not counted."""
    snap = {}
    for p in pids:
        total = 0
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                for line in Path(f"/proc/{p}/task/{tid}/status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
        snap[p] = total
    return snap


def memory(pids: Iterable[int]) -> tuple[float, float]:
    """Summed RSS and PSS in MiB, from smaps_rollup."""
    rss = pss = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return rss / 1024, pss / 1024


def box_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, all cores."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = f[3] + f[4]  # idle + iowait
    total = sum(f[:8])  # up to steal; guest time is already in user
    return total - idle, total


@dataclass
class Window:
    """CPU of a process group, of the camera server and of the box over `seconds` of wall time."""

    cpu: float = 0.0          # % of one core
    per_process: dict[int, float] = field(default_factory=dict)
    per_rss: dict[int, float] = field(default_factory=dict)  # MiB
    server_cpu: float = 0.0   # % of one core
    box_busy: float = 0.0     # % of one core (2 cores = 200 %)
    rss: float = 0.0          # MiB, summed, at the end
    pss: float = 0.0
    seconds: float = 0.0
    wakes: float = 0.0        # context switches a second, all measured threads (threads that ended not counted)


def measure(pids_now, seconds: float, server_pid: int, root: int | None = None,
            wait: Callable[[], object] | None = None) -> Window:
    """`pids_now()` gives the measured processes (re-read at the end, to catch restarts). The
    window is `seconds` long, or as long as `wait()` takes (bench/redaction_beside.py: a copy made)."""
    t0 = time.monotonic()
    b0 = box_ticks()
    s0 = cpu_ticks(server_pid) or 0
    c0 = ticks_of(pids_now(), root)
    w0 = wakes_of(pids_now())
    if wait is None:
        time.sleep(seconds)
    else:
        wait()
    pids = pids_now()
    c1 = ticks_of(pids, root)
    w1 = wakes_of(pids)
    s1 = cpu_ticks(server_pid) or 0
    b1 = box_ticks()
    wall = time.monotonic() - t0
    rss, pss = memory(pids)
    per_rss = {p: memory([p])[0] for p in pids}
    per = {p: (t - c0.get(p, 0)) / CLK_TCK / wall * 100 for p, t in c1.items()}
    n_cores = os.cpu_count() or 1
    return Window(cpu=sum(per.values()), per_process=per, per_rss=per_rss, server_cpu=(s1 - s0) / CLK_TCK / wall * 100,
                  box_busy=(b1[0] - b0[0]) / max(1, b1[1] - b0[1]) * 100 * n_cores, rss=rss, pss=pss,
                  seconds=wall, wakes=sum(max(0, w - w0.get(p, w)) for p, w in w1.items()) / wall)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with aligned columns (readable as text, pastes into an issue)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def over(a: Window | float | None, b: Window | float | None, attr: str = "cpu") -> float | None:
    """a / b (of Windows: of their `attr`), None when either is missing or b is 0."""
    if a is None or b is None:
        return None
    a, b = (getattr(x, attr) if isinstance(x, Window) else x for x in (a, b))
    return a / b if b else None


def fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def bench_clip(out: Path) -> Path:
    """The one 60 s 1080p clip every mount loops, encoded once and cached in bench/out."""
    clip = out / "clips" / f"testsrc2_1920x1080_{FPS}fps_g{GOP}_{CLIP_SECONDS}s_4M_veryfast.h264"
    if clip.exists():
        return clip
    clip.parent.mkdir(parents=True, exist_ok=True)
    tmp = clip.with_name(clip.name + f".tmp-{os.getpid()}")
    cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi",
           "-i", f"testsrc2=size=1920x1080:rate={FPS},noise=alls=12:allf=t+u", "-t", str(CLIP_SECONDS),
           "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
           "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0",
           "-b:v", "4M", "-maxrate", "4M", "-bufsize", "8M", "-bf", "0", "-f", "h264", str(tmp)]
    log(f"encoding the bench clip (once): {shlex.join(cmd)}")
    t0 = time.monotonic()
    try:
        subprocess.run(cmd, check=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, clip)
    log(f"  done in {time.monotonic() - t0:.0f} s")
    return clip


def cam_ids(n: int) -> list[str]:
    return [f"cam{k}" for k in range(1, n + 1)]


class Lines:
    """A child's output read line by line with a deadline on every wait (bench/central_ingest's
    bare subscriber): a reader thread queues each line, ``next`` waits at most until ``deadline``
    (time.monotonic) and raises if the child closed its output (EOF) or the deadline passed, so a
    benchmark never waits for ever on a child that died or printed something else."""

    def __init__(self, stream: IO[str], what: str):
        self.what, self._q = what, queue.Queue()  # type: queue.Queue[str | None]
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._q.put(line)
        self._q.put(None)  # EOF

    def next(self, deadline: float) -> str:
        try:
            line = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"{self.what}: no line before the deadline") from None
        if line is None:
            self._q.put(None)  # EOF stays EOF for the next call
            raise EOFError(f"{self.what}: its output ended (it exited)")
        return line

    def wait_for(self, word: str, deadline: float) -> None:
        """Until a line holding ``word`` (a line may hold another thread's output beside it)."""
        while word not in self.next(deadline):
            pass
