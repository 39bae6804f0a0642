"""What a worker's reader costs a camera by how often it reads it (issue 92, design/0552).

    .venv/bin/python -m bench.read_turns_cost [--cameras 16] [--seconds 40] [--settle 15] [--rounds 2]
        [--ways every,auto] [--turn-us 125000]

One worker's reading path in this process, without the daemon, the image checks or the events: `--cameras`
cameras of the bench clip (1080p, 20 fps, 4 Mbit/s, a keyframe every 2 s) on one camera server, each a
`CameraRecorder` on the edged reader, all read by one `ReadTurns` (design/0302) with a `Durability` thread
following the fragments (design/0061), as a recorder worker runs them. Per way and round, after `--settle`:
the reader thread's CPU (utime + stime from /proc, % of one core a camera and us a picture), the durability
thread's, this process's whole, and the durability syncs a camera a second. The ways: `every` reads every
camera every turn (as before design/0552), `auto` as the cameras' frame rate and `fragment_length` allow
(recorder/segment.py turns_apart: every other turn at 20 fps). The ways alternate in each round, the
order turned each round; the box is shared, so compare ways within a round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import CLK_TCK, FPS, OUT, cam_ids, command_line, environment, log, table
from bench.record_throughput import serve_clip
from recorder import edged_source
from recorder.camera import CameraRecorder, Settings
from recorder.durability import Durability
from recorder.read_turns import TURN_US, ReadTurns

S = 1_000_000


def _ticks(tid: int) -> int:
    text = Path(f"/proc/self/task/{tid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def one(server: Any, n: int, way: str, seconds: float, settle: float, turn_us: int) -> dict[str, float]:
    """One way's window: the figures of the module's text."""
    data = Path(tempfile.mkdtemp(prefix="read-turns-", dir=OUT))
    settings = Settings(data_dir=data, segment_us=60 * S, fragment_us=S, fsync_us=2 * S, connect_timeout_us=10 * S,
                        read_timeout_us=5 * S, reconnect_max_us=S, sample_us=0)
    durability, turns = Durability(settings.fsync_us), ReadTurns(turn_us)
    every = mock.patch.object(edged_source, "turns_apart", lambda *_a, **_k: 1)  # every turn, as before
    if way == "every":
        every.start()
    cams = [CameraRecorder({"id": c, "url": server.url(c), "reader": "edged"}, settings, lambda _e: None,
                           lambda _c: None, durability=durability, read_turns=turns) for c in cam_ids(n)]
    try:
        for cam in cams:
            cam.start()
        time.sleep(settle)  # a set time by design: every camera connected and past its warm-up
        reader, durable = turns._thread.native_id, durability._thread.native_id
        assert reader is not None and durable is not None
        r0, d0, p0, s0, w0 = _ticks(reader), _ticks(durable), time.process_time(), durability.syncs, time.monotonic()
        time.sleep(seconds)  # the window
        r1, d1, p1, s1, w1 = _ticks(reader), _ticks(durable), time.process_time(), durability.syncs, time.monotonic()
        arrival = {cam.placement.arrival_us for cam in cams}
    finally:
        if way == "every":
            every.stop()
        for cam in cams:
            cam.stop.set()
        for cam in cams:
            cam.thread.join(30)
        turns.close()
        durability.close()
        shutil.rmtree(data, ignore_errors=True)
    secs = w1 - w0
    per = 100 / secs / n  # CPU seconds -> % of one core a camera
    return {"reader": (r1 - r0) / CLK_TCK * per, "us_picture": (r1 - r0) / CLK_TCK / (secs * n * FPS) * 1e6,
            "durability": (d1 - d0) / CLK_TCK * per, "process": (p1 - p0) * per, "syncs": (s1 - s0) / secs / n,
            "apart": max(arrival) / edged_source.READ_WAIT_US, "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.read_turns_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=16, help="cameras of the one worker (default %(default)s)")
    p.add_argument("--seconds", type=float, default=40, help="the window (default %(default)s)")
    p.add_argument("--settle", type=float, default=15, help="before the window (default %(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of every way (default %(default)s)")
    p.add_argument("--ways", default="every,auto", help="comma-separated: every, auto (default %(default)s)")
    p.add_argument("--turn-us", type=int, default=TURN_US, help="the reader's turn (default %(default)s)")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.read_turns_cost')}")
    log(f"environment: {environment()}")
    ways = args.ways.split(",")
    OUT.mkdir(parents=True, exist_ok=True)
    server = serve_clip(args.cameras)
    rows = []
    try:
        for r in range(1, args.rounds + 1):
            k = (r - 1) % len(ways)
            for way in ways[k:] + ways[:k]:
                f = one(server, args.cameras, way, args.seconds, args.settle, args.turn_us)
                rows.append([str(r), way, f"{f['apart']:.0f}", f"{f['reader']:.4f}", f"{f['us_picture']:.1f}",
                             f"{f['durability']:.4f}", f"{f['syncs']:.2f}", f"{f['process']:.4f}", f"{f['load']:.1f}"])
                log(" | ".join(rows[-1]))
    finally:
        server.stop()
        server.close()
    log(table(["round", "way", "turns apart", "reader % core/cam", "reader us/picture", "durability % core/cam",
               "syncs/cam/s", "process % core/cam", "load"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
