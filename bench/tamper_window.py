"""How soon a segment deleted by hand as edged starts is a tamper alarm, and start-up's time (design/0507).

    .venv/bin/python -m bench.tamper_window [--rounds 3]

Each round starts `edged run --init-data` as a process of its own on a fresh data folder (the demo camera,
320x240, 2 s segments), deletes its first segment as soon as the file is there, and prints: start-up (the
ready line's "start-up N s"), the first file's time after the spawn, how long after it the file's folder was
under the daemon's inotify watch (its /proc fdinfo), and the time from the deletion to the tamper alarm in the
catalog ("none" within --deadline: the window design/0507 closed, a file made before its folder was watched).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

from bench.common import command_line, environment, log, table
from storage import alarm_kinds as kinds
from tests.support.catalog import alarms
from tests.support.daemon import Daemon, wait_for, write_config

HEADER = ["round", "start-up s", "first file after spawn s", "its folder watched after it s",
          "alarm after the deletion s"]


def watched(pid: int, folder: Path) -> bool:
    """Whether the process has an inotify watch on `folder` (its fdinfo lists each watch's inode)."""
    ino = f"ino:{os.stat(folder).st_ino:x} "
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == "anon_inode:inotify" and ino in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text():
                return True
        except OSError:
            continue
    return False


def until(check, deadline_s: float, step_s: float = 0.005):  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline_s
    while (got := check()) is None or got is False:
        if time.monotonic() > end:
            return None
        time.sleep(step_s)
    return got


def one_round(deadline_s: float) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="tamper-window-"))
    data = tmp / "data"
    config = write_config(tmp / "edged.toml", data, [{"id": "a", "url": "synthetic:"}], storage={"segment_length": "2s"})
    d = Daemon(config, data, tmp / "edged.log", warm=False).start()
    spawned = time.monotonic()
    try:
        cam = data / "video" / "a"
        first = until(lambda: next(cam.rglob("*.mp4"), None) if cam.is_dir() else None, 120)
        assert first is not None, "no segment in 120 s"
        made = time.monotonic()
        os.unlink(first)
        rel = first.relative_to(data).as_posix()
        assert d.proc is not None
        until(lambda: watched(d.proc.pid, first.parent), deadline_s)  # type: ignore[union-attr]
        watch = time.monotonic()
        alarm = until(lambda: alarms(d, lambda r: r["kind"] == kinds.TAMPER.name and rel in r["message"]) or None,
                      deadline_s, 0.05)
        raised = time.monotonic()
        line = wait_for(lambda: re.search(r"start-up ([0-9.]+) s", d.log), 60, "the ready line")
        return [f"{line.group(1)}", f"{made - spawned:.2f}", f"{watch - made:.2f}",
                f"{raised - made:.2f}" if alarm else f"none in {deadline_s:g}"]
    finally:
        d.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--deadline", type=float, default=30, help="seconds to wait for the alarm")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.tamper_window')}")
    log(f"environment: {environment()}")
    rows = []
    for r in range(args.rounds):
        rows.append([str(r + 1), *one_round(args.deadline)])
        log(table(HEADER, rows[-1:]))
    log(f"\n## the first segment deleted as soon as it is there, {args.rounds} starts\n")
    log(table(HEADER, rows))
    missed = sum(row[-1].startswith("none") for row in rows)
    log(f"\nalarms raised: {args.rounds - missed}/{args.rounds} (before design/0507 a deletion before the watch had none)")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
