"""The recorder worker processes (design/0003): one per slot, started (or adopted from
`edged run`, edged/daemon/prestart.py), read, and restarted with a backoff when one dies,
each slot with a spare worker ready so a dead worker's cameras need not wait for Python's
imports. Commands go down as JSON lines on stdin; typed events (recorder/events.py) come up
on stdout and go to the supervisor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edged.config import CameraConfig
from edged.daemon.prestart import Early, add_command, spawn_worker
from recorder import events
from recorder.camera import backoff_us

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0         # workers get this long to close their segments on shutdown
WORKER_STABLE_S = 30.0        # a worker that ran this long resets the restart backoff
SPARE_AFTER_S = 10.0          # a worker's spare is started this long after it
READ_CHUNK = 1 << 16          # bytes read from a worker's event pipe at once


@dataclass(eq=False)
class WorkerSlot:
    """One recorder worker process and the cameras assigned to it."""

    index: int
    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    has_cameras: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)  # the worker has its camera list
    spare: asyncio.subprocess.Process | None = None  # started and imported, waiting for its settings
    adopt: asyncio.subprocess.Process | None = None  # started by `edged run` with its cameras (edged.daemon.prestart)
    backlog: list[bytes] = field(default_factory=list)  # its events that `edged run` read before

    async def send(self, msg: dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return  # the camera list is sent in full when the worker (re)starts
        try:
            proc.stdin.write((json.dumps(msg) + "\n").encode())
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker died; its slot restarts it with the current camera list

    async def add(self, cam: CameraConfig, record: bool = True) -> None:
        self.cameras[cam.id] = cam
        self.has_cameras.set()
        if record:
            await self.send(add_command(cam))

    async def remove(self, cam_id: str) -> None:
        self.cameras.pop(cam_id, None)
        await self.send({"cmd": "remove", "camera": cam_id})


class Workers:
    def __init__(self, count: int, stopping: asyncio.Event, *, settings: Callable[[], dict[str, Any]],
                 held: Callable[[], bool], on_events: Callable[[list[events.Event], int], Awaitable[None]],
                 on_exit: Callable[[int], None], on_death: Callable[[WorkerSlot], None], early: Early | None = None):
        self.slots = [WorkerSlot(i) for i in range(count)]
        if early is not None and any(early.workers):  # recording already (edged.daemon.prestart), cameras dealt alike
            assert len(early.workers) == count
            for slot, proc, backlog in zip(self.slots, early.workers, early.backlog):
                slot.adopt = slot.proc = proc
                slot.backlog = backlog
        self.stopping = stopping
        self.video_dev: int | None = None  # st_dev of the video folder; workers refuse another
        self._settings = settings   # the first line a new worker reads
        self._held = held           # recording is held: a new worker gets no cameras
        self._on_events = on_events  # a batch of one worker's events
        self._on_exit = on_exit     # a worker ended (its open segments will not be reported closed)
        self._on_death = on_death   # ... and not because edged stops: recover what it left open
        self._rng = random.Random()

    def slot_of(self, cam_id: str) -> WorkerSlot | None:
        return next((s for s in self.slots if cam_id in s.cameras), None)

    def emptiest(self) -> WorkerSlot:
        return min(self.slots, key=lambda s: (len(s.cameras), s.index))

    async def send_all(self, msg: dict[str, Any]) -> None:
        for slot in self.slots:
            await slot.send(msg)

    async def hold(self, held: bool) -> None:
        """Take every camera off its worker (held) or give it back."""
        for slot in self.slots:
            for cam in list(slot.cameras.values()):
                await slot.send({"cmd": "remove", "camera": cam.id} if held else add_command(cam))

    def kill(self) -> None:
        for slot in self.slots:
            for proc in (slot.proc, slot.spare):
                if proc is not None and proc.returncode is None:
                    proc.kill()

    async def stop(self, keepers: list[asyncio.Task]) -> None:
        """Tell every worker to stop (they close their segments), kill any still running after
        STOP_TIMEOUT_S, and end the spares."""
        await self.send_all({"cmd": "stop"})
        _done, pending = await asyncio.wait(keepers, timeout=STOP_TIMEOUT_S)
        if pending:
            log.error("recorder workers did not stop within %.0f s; killing them", STOP_TIMEOUT_S)
            self.kill()
        for slot in self.slots:  # a spare has nothing open: it ends on end of input
            if slot.spare is not None:
                spare, slot.spare = slot.spare, None
                if spare.stdin is not None:
                    spare.stdin.close()
                await spare.wait()

    async def keep(self, slot: WorkerSlot, tg: asyncio.TaskGroup) -> None:
        """Run the slot's worker while it has cameras, restarting it when it dies, until stopped."""
        attempt = 0
        while slot.adopt is not None or not self.stopping.is_set():  # an adopted worker is read even if stopped
            if slot.adopt is None and not slot.cameras:
                slot.has_cameras.clear()
                waiter = asyncio.ensure_future(slot.has_cameras.wait())
                stopper = asyncio.ensure_future(self.stopping.wait())
                await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                continue
            started = time.monotonic()
            rc = await self._run(slot, tg)
            if self.stopping.is_set():
                break
            log.error("recorder worker %d exited (status %s); restarting it for cameras %s",
                      slot.index, rc, ", ".join(slot.cameras))
            self._on_death(slot)
            attempt = 0 if time.monotonic() - started > WORKER_STABLE_S else attempt + 1
            delay = backoff_us(attempt, 2_000_000, self._rng) / 1e6
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except TimeoutError:
                pass

    async def _spare_later(self, slot: WorkerSlot) -> None:
        """Start a slot's spare worker once its cameras are recording (not during start-up,
        when the imports would compete with the workers that matter)."""
        try:
            await asyncio.wait_for(self.stopping.wait(), SPARE_AFTER_S)
            return
        except TimeoutError:
            pass
        if slot.spare is None and slot.proc is not None:
            slot.spare = await spawn_worker()
            if self.stopping.is_set() and slot.spare.stdin is not None:  # stopped while it started
                slot.spare.stdin.close()

    async def _run(self, slot: WorkerSlot, tg: asyncio.TaskGroup) -> int | None:
        proc, adopted = slot.adopt, slot.adopt is not None
        slot.adopt = None
        if proc is None:
            proc, slot.spare = slot.spare, None
            if proc is None or proc.returncode is not None:
                proc = await spawn_worker()
        slot.proc = proc
        log.info("recorder worker %d %s (pid %d) for %d cameras", slot.index,
                 "adopted, started before the daemon's imports" if adopted else "started", proc.pid, len(slot.cameras))
        try:
            held = self._held()
            if adopted:  # it has its settings and cameras; the daemon's own look at the disk decides
                if self.video_dev is not None:
                    await slot.send({"cmd": "storage", "video_dev": self.video_dev})
                for cam in list(slot.cameras.values()) if held else []:
                    await slot.send({"cmd": "remove", "camera": cam.id})
            else:
                await slot.send({**self._settings(), "video_dev": self.video_dev})
                for cam in [] if held else list(slot.cameras.values()):
                    await slot.send(add_command(cam))
            slot.started.set()
            if self.stopping.is_set():  # stopped while this worker was starting: its stop went nowhere
                await slot.send({"cmd": "stop"})
            else:  # the next one waits ready: a dead worker's cameras need not wait for Python's imports
                tg.create_task(self._spare_later(slot), name=f"spare-{slot.index}")
            await self._read(slot, proc)
            return await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            slot.proc = None
            self._on_exit(slot.index)

    async def _read(self, slot: WorkerSlot, proc: asyncio.subprocess.Process) -> None:
        """Whatever the worker has written so far is one batch (its events come in batches,
        recorder/worker.py EventSink), handed to the supervisor at once."""
        assert proc.stdout is not None
        backlog, slot.backlog = slot.backlog, []
        if backlog:
            await self._events(slot, backlog)
        rest = b""
        while chunk := await proc.stdout.read(READ_CHUNK):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()  # an unfinished line waits for the next read
            if lines:
                await self._events(slot, lines)
        if rest:
            await self._events(slot, [rest])

    async def _events(self, slot: WorkerSlot, lines: list[bytes]) -> None:
        batch = []
        for line in lines:
            if not line.strip():
                continue
            try:
                batch.append(events.decode(line))
            except ValueError:
                log.error("recorder worker %d sent garbage: %r", slot.index, line[:200])
        if batch:
            await self._on_events(batch, slot.index)
