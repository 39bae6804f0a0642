"""edged's reader at a baseline revision against edged now, and `ffmpeg -c copy`, in one run (issue 38).

    python -m bench.record_throughput --reader compare --baseline-rev 1425b9b --counts 32 \\
        --seconds 60 --settle 30 --rounds 2

The box is shared and its load moves by tens of percent between runs, so "within 10 % of
today's" is judged in one run: the tree at REV is exported (`git archive`) into a temporary
folder and run there with this venv (its cwd and PYTHONPATH, so the workers import it too),
and per count and round edged at REV ("old"), edged now ("new") and one `ffmpeg -c copy` per
camera record the same cameras of one camera server, one after the other; the order turns by
one step each round, so that neither edged always follows the other. Both edgeds use
`reader = "edged"`, the config of bench/record_throughput.py, its --settle and --workers.
Printed: each run's CPU per camera (% of one core, daemon + workers), frames lost and load;
per round the ratios new/old, new/ffmpeg and old/ffmpeg; over the rounds the mean CPU per
camera of each and the ratios of the means, and the command that produced them.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from statistics import mean
from typing import Any

from bench import record_throughput as rt
from bench.common import FPS, OUT, command_line, environment, fmt, log, source_state, table
from bench.cpu_split import GROUPS
from bench.reader_compare import _Strace
from tests.support.daemon import ROOT, Daemon

OLD, NEW, FFMPEG = "old", "new", "ffmpeg -c copy"
NOW = rt.RUN.daemon  # edged as checked out, started as the box starts it (as OLD's tree is)
TARGET = 1.10  # issue 38: edged's CPU within 10 % of the reader's before its work


def export_tree(rev: str, into: Path) -> tuple[Path, str]:
    """The tree of `rev` extracted under `into`, and the commit's short hash and subject."""
    def git(*a: str) -> bytes:
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, check=True).stdout
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    tree = into / commit[:12]
    with tarfile.open(fileobj=io.BytesIO(git("archive", "--format=tar", commit))) as tar:
        tar.extractall(tree, filter="data")
    said = git("log", "-1", "--format=%h %s", commit).decode().strip()
    if (tree / "scripts" / "build-compiled").exists():  # the compiled per-read loop, as its tree builds it (design/0160)
        (tree / ".venv").symlink_to(ROOT / ".venv")
        subprocess.run([str(tree / "scripts" / "build-compiled")], cwd=tree, check=True, capture_output=True)
        said += f" (its per-read loop: {_imported(tree, 'from recorder import fastpath as m; m = m.rtp')})"
    return tree, said


def tree_daemon(tree: Path) -> Any:
    """Daemon that runs `edged run` from `tree` (its cwd and PYTHONPATH come before this venv's
    editable install of the worktree; the recorder workers inherit both)."""
    class TreeDaemon(Daemon):
        def start(self) -> Daemon:
            self._log = open(self.log_path, "ab")
            env = {**os.environ, "PYTHONPATH": str(tree)}
            self.proc = subprocess.Popen([sys.executable, "-m", "edged.cli", "run", "--config", str(self.config)]
                                         + ["--init-data"] * self.init_data, cwd=tree, env=env,
                                         stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            return self
    return TreeDaemon


def which_tree(tree: Path) -> str:
    """Where the venv's Python imports the recorder from with `tree` as cwd and PYTHONPATH (a check
    that the old run is the old code)."""
    return _imported(tree, "import recorder.rtsp_session as m")


def _imported(tree: Path, statement: str) -> str:
    """The file of the module `statement` binds to `m`, imported with `tree` as cwd and PYTHONPATH.
    The per-read loop compiled from an rtp.py like the checkout's is the checkout's own
    recorder/_rtpc (the venv's editable install finds it, so build-compiled has nothing to do)."""
    out = subprocess.run([sys.executable, "-c", f"{statement}; print(m.__file__)"], cwd=tree,
                         env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def compare_revisions(rev: str, counts: list[int], seconds: float, rounds: int) -> int:
    log(f"command: {command_line('bench.record_throughput')}")
    log(f"environment: {environment()}")
    OUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="edged-baseline-"))
    runs: list[dict[str, Any]] = []
    server = None
    spy = _Strace()
    spy.strace_s = 0  # strace slows what it traces, and the thread split would count its seconds too
    try:
        tree, said = export_tree(rev, scratch)
        imported = which_tree(tree)
        if not imported.startswith(str(tree)):
            raise RuntimeError(f"the baseline tree would import the recorder from {imported}, not {tree}")
        log(f"old: {said} (exported to a temporary folder; the recorder imported from there)")
        log(f"new: {source_state()}")
        server = rt.serve_clip(max(counts))
        rt.measure = spy  # type: ignore[attr-defined]  # run_edged and run_ffmpeg measure through it
        order = [OLD, NEW, FFMPEG]
        for r in range(1, rounds + 1):
            for n in counts:
                for label in order:
                    log(f"N={n} round {r}: {label}")
                    runs.append({"n": n, "round": r, "label": label,
                                 **_one(label, n, server, seconds, tree, spy)})
                    log(table(HEADER, [_row(runs[-1])]))
                    if not server.running:
                        raise RuntimeError("the RTSP server died:\n" + server.log_text()[-2000:])
            order = order[1:] + order[:1]
    finally:
        os.environ.pop("EDGED_TEST_READER", None)
        rt.measure = spy._measure  # type: ignore[attr-defined]
        rt.RUN.daemon = NOW
        if server is not None:
            server.stop()
            server.close()
        shutil.rmtree(scratch, ignore_errors=True)
    log(report(runs, rev, seconds))
    return 0


def _one(label: str, n: int, server: Any, seconds: float, tree: Path, spy: _Strace) -> dict[str, Any]:
    """One step: edged at REV, edged now or ffmpeg -c copy on N cameras; its figures."""
    if label == FFMPEG:
        res: Any = rt.run_ffmpeg(n, server, seconds, OUT)
    else:
        os.environ["EDGED_TEST_READER"] = "edged"  # tests/support/daemon.py write_config: both with their own reader
        rt.RUN.daemon = tree_daemon(tree) if label == OLD else NOW  # both started as a process of their own
        try:
            res = rt.run_edged(n, server, seconds, OUT / f"ab-{label}")  # each one's log and catalog kept
        finally:
            rt.RUN.daemon = NOW
    time.sleep(2)  # let the server tear down the sessions before the next step
    w = res.win
    out: dict[str, Any] = {"cpu": w.cpu / n if w else None, "rss": w.rss / n if w else None, "load": spy.load,
           "lost": f"{res.lost_total} ({res.lost_worst[0]}: {res.lost_worst[1]})",
           "lag": getattr(res, "lag_growth", None), "box": w.box_busy if w else None,
           "server": w.server_cpu if w else None, "notes": list(res.notes),
           "writes": spy.io[1] / n, "wakes": w.wakes / n if w else None, "split": {g: v / n for g, v in getattr(res, "split", {}).items()},
           "checks": None if getattr(res, "checks", None) is None else res.checks / n,
           "every": getattr(res, "check_every_s", None)}
    if label != FFMPEG and res.recording != n:
        out["notes"].append(f"only {res.recording}/{n} cameras had a segment when the window started")
    return out


HEADER = ["N", "round", "recorder", "load", "CPU %/cam", "RSS MB/cam", "lost (worst)", "lag growth s",
          "server CPU %", "box busy %", "writes/cam/s", "wakes/cam/s", "checks/cam (every s)"]


def _row(run: dict[str, Any]) -> list[str]:
    return [str(run["n"]), str(run["round"]), run["label"], run["load"], fmt(run["cpu"], ".3f"),
            fmt(run["rss"], ".1f"), run["lost"], fmt(run["lag"], ".2f"), fmt(run["server"], ".0f"),
            fmt(run["box"], ".0f"), fmt(run["writes"], ".1f"), fmt(run["wakes"], ".0f"),
            "-" if run.get("checks") is None else f"{run['checks']:.2f} ({fmt(run.get('every'), '.0f')})"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def report(runs: list[dict[str, Any]], rev: str, seconds: float) -> str:
    cpu = {(r["n"], r["round"], r["label"]): r["cpu"] for r in runs}
    per_round, means = [], []
    for n in sorted({r["n"] for r in runs}):
        rounds = sorted({r["round"] for r in runs if r["n"] == n})
        for k in rounds:
            o, e, f = (cpu.get((n, k, x)) for x in (OLD, NEW, FFMPEG))
            per_round.append([str(n), str(k), fmt(o, ".3f"), fmt(e, ".3f"), fmt(f, ".3f"), fmt(_ratio(e, o), ".2f"),
                              fmt(_ratio(e, f), ".2f"), fmt(_ratio(o, f), ".2f")])
        m = {x: [v for (nn, _k, lab), v in cpu.items() if nn == n and lab == x and v is not None]
             for x in (OLD, NEW, FFMPEG)}
        o, e, f = (mean(m[x]) if m[x] else None for x in (OLD, NEW, FFMPEG))
        ne = _ratio(e, o)
        means.append([str(n), str(len(rounds)), fmt(o, ".3f"), fmt(e, ".3f"), fmt(f, ".3f"), fmt(ne, ".2f"),
                      fmt(_ratio(e, f), ".2f"), fmt(_ratio(o, f), ".2f"),
                      "-" if ne is None else ("met" if ne <= TARGET else "MISSED")])
    notes = [f"N={r['n']} round {r['round']} {r['label']}: {x}" for r in runs for x in r["notes"]]
    groups = [*GROUPS, "hashing (in camera threads)"]
    split = [[str(r["n"]), str(r["round"]), r["label"], *(fmt(r["split"].get(g), ".3f") for g in groups)]
             for r in runs if r["split"]]
    woke = [[str(r["n"]), str(r["round"]), r["label"], *(fmt(r["split"].get(f"wakes {g}"), ".1f") for g in GROUPS)]
            for r in runs if r["split"]]
    lines = [
        "", f"## edged's reader before and after issue 38 vs ffmpeg -c copy: 1080p {FPS} fps, 4 Mbit/s, "
        f"{seconds:.0f} s window, old = {rev}", "",
        f"command: {command_line('bench.record_throughput')}", "",
        table(HEADER, [_row(r) for r in runs]), "",
        "### per round: CPU % of one core per camera, and the ratios", "",
        table(["N", "round", "old", "new", "ffmpeg", "new/old", "new/ffmpeg", "old/ffmpeg"], per_round), "",
        "### over the rounds: mean CPU per camera, ratios of the means", "",
        table(["N", "rounds", "old", "new", "ffmpeg", "new/old", "new/ffmpeg", "old/ffmpeg",
               f"new/old <= {TARGET:.2f}"], means), "",
        f"old = edged at {rev}, new = edged as checked out (both reader = \"edged\"), ffmpeg = one `ffmpeg "
        "-rtsp_transport tcp -c copy -f segment` per camera. CPU: % of one core over the window (edged: daemon + "
        "workers; ffmpeg: its N processes), per camera. Each round runs the three one after the other on one camera "
        "server, the order turned by one each round. writes/cam/s: /proc/PID/io syscw over the window (no strace "
        "here: it slows what it traces). load: the box's load average when the window began (the box is shared). "
        "checks/cam: the image checks the daemon counted in the window, a camera (its cameras' health `samples`, "
        "read at the window's ends: within its 2 s evaluation), and the longest interval in force the workers said: "
        "a window of S s holds S / interval of a camera's checks in steady state (design/0561).",
        "",
        "### edged's CPU by thread (bench/cpu_split.py), % of one core per camera", "",
        table(["N", "round", "recorder", *groups], split), "",
        "The threads' CPU over the same window (/proc/PID/task/TID/stat); threads that ended inside it, and "
        "children the daemon reaped, are in the main table only.", "",
        "### wakes by thread group: voluntary context switches a second per camera (/proc/PID/task/TID/status)", "",
        table(["N", "round", "recorder", *GROUPS], woke), "",
        "wakes/cam/s in the main table: every thread of the measured processes (ffmpeg's too), its voluntary "
        "switches (slept, then woken), per camera; involuntary ones are the shared box's load."]
    if notes:
        lines += ["", "notes:"] + [f"- {x}" for x in notes]
    return "\n".join(lines)
