"""What the pool's spare worker waiting without PyAV costs the cameras it takes over (design/0291).

    .venv/bin/python -m bench.spare_takeover [--cameras 16] [--rounds 6]   # from the repository root

A dead worker's cameras go to the pool's idle spare (edged/daemon/recording/workers.py). Each round
starts two idle workers as the daemon does, one as a slot's worker (PyAV imported before its
settings, as every spare was before) and one as the spare (`--spare`: PyAV imported on a thread
once its settings come, while its cameras connect), waits until both are idle, reads their memory,
then hands each in turn the same settings and `--cameras` cameras of their own (the other worker
idle, or recording its own) and times the first segment each camera opens. The fake cameras send a
keyframe every picture (a 320x240 clip, 20 fps), so the wait for a keyframe does not hide the
import. The two kinds alternate which goes first; the figure is the time from the settings to the
worker's last camera's first segment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import OUT, command_line, environment, log, memory, table
from edged.daemon.recording.prespawn import WORKER_MALLOC
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import ROOT, wait_for

S = 1_000_000


class Worker:
    def __init__(self, spare: bool) -> None:
        self.spare = spare
        self.proc = subprocess.Popen([sys.executable, "-m", "recorder.worker", *(["--spare"] if spare else [])],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     env={**WORKER_MALLOC, **os.environ})
        self.opened: dict[str, float] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            ev = json.loads(line)
            if ev.get("ev") == "open":
                self.opened.setdefault(ev["camera"], time.monotonic())

    def hand(self, settings: dict, cameras: dict[str, str]) -> float:
        assert self.proc.stdin is not None
        t0 = time.monotonic()
        self.proc.stdin.write(json.dumps(settings) + "\n" + "".join(
            json.dumps({"cmd": "add", "camera": {"id": c, "url": url}}) + "\n" for c, url in cameras.items()))
        self.proc.stdin.flush()
        return t0

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait(60)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=16, help="cameras handed to each worker (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args(argv)
    log(f"command: {command_line('bench.spare_takeover')}")
    log(f"environment: {environment()}")
    clip = make_clip(OUT / "clips", width=320, height=240, fps=20, gop=1, seconds=10)
    out = OUT / "spare_takeover"
    names = [f"c{i}" for i in range(1, 2 * args.cameras + 1)]
    took: dict[bool, list[float]] = {False: [], True: []}
    first: dict[bool, list[float]] = {False: [], True: []}
    rss: dict[bool, list[float]] = {False: [], True: []}
    with RtspServer({c: f"clip:{clip.video}@20" for c in names}) as server:
        for r in range(args.rounds):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            settings = {"data_dir": str(out), "segment_us": 60 * S, "fragment_us": S, "fsync_us": 2 * S,
                        "connect_timeout_us": 10 * S, "read_timeout_us": 10 * S, "reconnect_max_us": 2 * S,
                        "sample_us": 0, "site": "bench", "node": "bench"}
            order = [r % 2 == 0, r % 2 == 1]  # which kind is handed its cameras first alternates
            workers = {spare: Worker(spare) for spare in order}
            for w in workers.values():
                wait_for(lambda: waiting(w.proc.pid), 60, "the worker idle")
            for spare, w in workers.items():
                rss[spare].append(memory([w.proc.pid])[0])
            for i, spare in enumerate(order):  # one at a time, as a dead worker's cameras are taken over
                w = workers[spare]
                start = w.hand(settings, {c: server.url(c) for c in names[i * args.cameras:(i + 1) * args.cameras]})
                wait_for(lambda: len(w.opened) == args.cameras, 60, "every camera's first segment")
                took[spare].append(max(w.opened.values()) - start)
                first[spare].append(min(w.opened.values()) - start)
            for w in workers.values():
                w.stop()
            log(f"round {r + 1}: idle RSS {rss[False][-1]:.1f} / spare {rss[True][-1]:.1f} MB; first segments "
                f"{first[False][-1]:.3f}-{took[False][-1]:.3f} / {first[True][-1]:.3f}-{took[True][-1]:.3f} s")
    shutil.rmtree(out, ignore_errors=True)
    rows = [[label, f"{statistics.median(rss[k]):.1f}", f"{statistics.median(first[k]):.3f}",
             f"{min(first[k]):.3f}-{max(first[k]):.3f}", f"{statistics.median(took[k]):.3f}",
             f"{min(took[k]):.3f}-{max(took[k]):.3f}"]
            for k, label in ((False, "PyAV imported before its settings"), (True, "the spare: PyAV on a thread after"))]
    log(table(["idle worker", "idle RSS MB (median)", "settings to the first camera's first segment, s (median)",
               "range", "to the last camera's, s (median)", "range"], rows))
    return 0


def waiting(pid: int) -> bool:
    """The worker's main thread sits in read(2) on its stdin: its start-up imports are done."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
