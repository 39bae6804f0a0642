"""Backfill speed (issue 44): seconds of footage fetched a second, for one camera, by both paths,
against the footage's real time (1.0 = real time).

    .venv/bin/python -m bench.backfill_speed [--seconds 60] [--cap-mbit 16]   # from the repository root

- The camera's own recording (design/0106): GStreamer's ONVIF replay server
  (tests/support/profile_g.py, 640x360 10 fps) replaying `--seconds` of its recording with
  `Rate-Control: no`, read by recorder/replay.py, frames kept (not stored), with the cap and
  without it.
- The standby (design/0115): the standby's real segments (`--seconds` of a 640x360 10 fps clip,
  2 s segments) fetched by edged/daemon/peers.py over mutual TLS, hash-checked, moved into the
  box's video folder and catalogued, with the cap and without it (a cap far above the link).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import command_line, environment, log
from edged.config import parse_config
from edged.daemon.peers import FromStandby
from edged.daemon.standby_server import StandbyServer
from edged.rules import backfill as rules
from recorder.replay import Replay
from storage.catalog import CatalogWriter
from storage.footage import gaps
from storage.time.clock import SYSTEM
from tests.support.cameras import free_port, make_clip
from tests.support.enrol import Office
from tests.support.footage import clip_mp4, write_segments
from tests.support.profile_g import ProfileGServer

S = 1_000_000
NO_CAP = 10_000.0  # Mbit/s: far above any link here


def camera_path(seconds: int, cap_mbit: float) -> float:
    start = SYSTEM.now_us() // S - 3600.0
    with ProfileGServer(start, fps=10, size="640x360") as srv:
        a = int((start + 60) * S)
        replay = Replay(srv.url("replay"), a, a + seconds * S, cap_bytes_s=int(cap_mbit * 125_000), pace=rules.pace_s)
        began = time.monotonic()
        replay.open()
        try:
            frames = list(replay.frames())
        finally:
            replay.close()
        took = time.monotonic() - began
    got_s = (frames[-1].t_us - frames[0].t_us) / S if frames else 0.0
    return got_s / took


def standby_path(base: Path, seconds: int, cap_mbit: float) -> float:
    box, spare = base / f"box-{cap_mbit}", base / f"spare-{cap_mbit}"
    clip = clip_mp4(make_clip(base, fps=10, gop=10, seconds=10, width=640, height=360))
    t0 = (SYSTEM.now_us() // S - 3600) * S
    write_segments(box, "door", clip, [(t0, 2), (t0 + (seconds + 4) * S, 2)], segment_s=2)
    write_segments(spare, "door", clip, [(t0 + 2 * S, seconds + 2)], segment_s=2)
    office = Office()
    office.enrol(box, "s", "node1")
    office.enrol(spare, "s", "spare")
    port = free_port()
    door = {"id": "door", "url": "rtsp://127.0.0.1:9/door"}
    spare_cfg = parse_config({"site": {"id": "s", "node": "spare"}, "storage": {"data_dir": str(spare)},
                              "cameras": [{**door, "box": "node1"}], "mqtt": {"enabled": True, "host": "127.0.0.1"},
                              "standby": {"for": ["node1"]}, "backfill": {"listen": f"127.0.0.1:{port}"}})
    box_cfg = parse_config({"site": {"id": "s", "node": "node1"}, "storage": {"data_dir": str(box)}, "cameras": [door],
                            "backfill": {"standby": f"127.0.0.1:{port}", "cap_mbit": cap_mbit}})

    async def run() -> float:
        wb, ws = CatalogWriter(box / "catalog.db"), CatalogWriter(spare / "catalog.db")
        await wb.start(), await ws.start()
        stop = asyncio.Event()
        serving = asyncio.create_task(StandbyServer(lambda: spare_cfg, ws, spare).run(stop))
        try:
            for _ in range(100):
                try:
                    _r, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            await wb.run(lambda c: gaps.add(c.db, "door", t0 + 2 * S, t0 + (seconds + 4) * S, "bench"))
            fetch = FromStandby(lambda: box_cfg, wb, box, settle_us=0)
            began = time.monotonic()
            await fetch.once(stop)
            took = time.monotonic() - began
            return fetch.fetched_us / S / took
        finally:
            stop.set()
            await serving
            await wb.close(), await ws.close()

    return asyncio.run(run())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--cap-mbit", type=float, default=16.0)
    args = p.parse_args()
    log(f"command: {command_line('bench.backfill_speed')}")
    log(f"environment: {environment()}")
    for cap in (args.cap_mbit, NO_CAP):
        name = f"cap {cap:g} Mbit/s" if cap != NO_CAP else "no cap"
        log(f"camera's own recording ({name}): {camera_path(args.seconds, cap):.1f} s of footage a second "
            f"({args.seconds} s replayed)")
    with tempfile.TemporaryDirectory(prefix="edged-backfill-speed-") as base:
        for cap in (args.cap_mbit, NO_CAP):
            name = f"cap {cap:g} Mbit/s" if cap != NO_CAP else "no cap"
            log(f"from the standby ({name}): {standby_path(Path(base), args.seconds, cap):.1f} s of footage a second "
                f"({args.seconds} s fetched, mutual TLS, hash-checked, catalogued)")


if __name__ == "__main__":
    main()
