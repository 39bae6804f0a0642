"""The next daemon's side of an upgrade's handover (design/0353; the running daemon's side is
edged/daemon/handover.py, each camera's recorder/handover.py).

The running daemon starts `edged run --handover-fd N` (through the unit's start script, so the
version the package configured last) with one end of a socket pair as fd N. This side:
1. starts its workers with every camera added to hold (prestart.start(hold=True)): they connect and
   keep their pictures from a keyframe on, writing nothing; it has no lock and no catalog;
2. once each camera holds (or is offline, or HOLD_WITHIN_S passed), says `{"holding": [ids]}`;
3. for each `{"handed": id, "end_us": N}` the running daemon passes on, tells the worker holding it to
   resume from there: its files are written at once, their catalog rows wait in the worker's pipe;
4. after `{"release": true}`, at the end of the channel (the running daemon has closed its catalog
   and ends), takes the data folder's lock (LOCK_WITHIN_S) and starts as any daemon, adopting its
   workers. An end without `release` is the running daemon calling the handover off: this one ends.

Nothing here writes to the catalog: until step 4 it is the running daemon's alone.
Stdlib and light modules only, as prestart: `edged run` runs this before the daemon's imports.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from pathlib import Path

from edged.daemon.recording.prestart import AlreadyRunning, Early, lock_data, send

log = logging.getLogger("edged.daemon")
HOLD_WITHIN_S = 20.0   # the longest the running daemon's cameras wait for this one's to hold
LOCK_WITHIN_S = 120.0  # the running daemon's stop (TimeoutStopSec is 60 s) and a margin
LOCK_EVERY_S = 0.05


class Refused(Exception):
    """The handover cannot go on from this side: the running daemon records on."""


async def _channel(fd: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(sock=socket.socket(fileno=fd))


def _say(writer: asyncio.StreamWriter, msg: dict[str, object]) -> None:
    writer.write((json.dumps(msg) + "\n").encode())


async def refuse(fd: int, why: str) -> None:
    """Tell the running daemon this side cannot take over (it logs why and records on)."""
    try:
        _reader, writer = await _channel(fd)
        _say(writer, {"refused": why})
        await writer.drain()
        writer.close()
    except OSError as exc:
        log.error("could not tell the running daemon why the handover stopped: %s", exc)


async def take_over(fd: int, early: Early | None, data_dir: Path, stop_seen: asyncio.Event) -> Early:
    """Steps 2-4 above, once `early` holds every camera; returns `early` with the lock taken.
    Refused (said to the running daemon) when there is nothing to take over with."""
    if early is None or not any(early.workers):
        why = "the next daemon found no catalog it could start on" if early is None else \
            "the next daemon could not start its cameras before its checks (the journal says why)"
        await refuse(fd, why)
        raise Refused(why)
    reader, writer = await _channel(fd)
    await early.first_segments(stop_seen, HOLD_WITHIN_S)
    holding = sorted({json.loads(line).get("camera") for lines in early.backlog for line in lines
                      if b'"holding"' in line} - {None})
    _say(writer, {"holding": holding, "pid": os.getpid()})
    await writer.drain()
    where = {cam: i for i, cams in enumerate(early.cameras) for cam in cams}
    released = False
    while line := await reader.readline():
        msg = json.loads(line)
        released = released or bool(msg.get("release"))
        cam = msg.get("handed")
        proc = early.workers[where[cam]] if cam in where else None
        if proc is not None:
            send(proc, {"cmd": "resume", "camera": cam, "from_us": msg.get("end_us")})
    writer.close()
    if not released:  # it ended the handover (it said why in its journal) and records on
        raise Refused("the running daemon ended the handover before letting its cameras go")
    early.lock = await _lock(data_dir)
    early.handed = True
    return early


async def _lock(data_dir: Path) -> int:
    """The data folder's lock, once the running daemon has let it go (it ends right after)."""
    deadline = time.monotonic() + LOCK_WITHIN_S
    while True:
        try:
            return lock_data(data_dir)
        except AlreadyRunning:
            if time.monotonic() > deadline:
                raise Refused(f"the running daemon kept the data folder's lock past {LOCK_WITHIN_S:.0f} s") from None
            await asyncio.sleep(LOCK_EVERY_S)
