"""The recorder worker processes (design/0003): one per slot, started (or adopted from
`edged run`, edged/daemon/recording/prestart.py), read, and restarted with a backoff when one dies,
with one spare worker ready for the pool (not one a slot: design/0282) so a dead worker's cameras
need not wait for Python's imports. Commands go down as JSON lines on stdin; typed events (recorder/events.py) come up
on stdout and go to the supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edged.config import CameraConfig
from edged.daemon.recording import isolation
from edged.daemon.recording.prestart import Early, add_command, send, spawn_worker
from recorder import events
from recorder.source import backoff_us
from storage.time.clock import wait_or_stop

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0         # workers get this long to close their segments on shutdown
WORKER_STABLE_S = 30.0        # a worker that ran this long resets the restart backoff
SPARE_AFTER_S = 10.0          # a worker's spare is started this long after it
READ_CHUNK = 1 << 16          # bytes read from a worker's event pipe at once
CULPRIT_RESTART_S = 30.0      # the longest wait before a culprit's own worker is restarted
RELEASE_CHECK_S = 60.0        # how often quarantined cameras are checked for their clean hour


@dataclass(eq=False)
class WorkerSlot:
    """One recorder worker process and the cameras assigned to it."""

    index: int
    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    has_cameras: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)  # the worker has its camera list
    spare: asyncio.subprocess.Process | None = None  # started and imported, waiting for its settings (the pool's one)
    adopt: asyncio.subprocess.Process | None = None  # started by `edged run` with its cameras (edged.daemon.recording.prestart)
    backlog: list[bytes] = field(default_factory=list)  # its events that `edged run` read before
    isolated: bool = False    # a quarantine worker (design/0063): no spare, ended when emptied
    retiring: bool = False    # told to stop because it was emptied: its end is no death

    def tell(self, msg: dict[str, Any]) -> asyncio.StreamWriter | None:
        """Queue a command on the worker's pipe, not waiting for it to drain; its pipe, None when no
        worker runs (the camera list is sent in full when the worker (re)starts)."""
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return None
        send(proc, msg)
        return proc.stdin

    async def send(self, msg: dict[str, Any]) -> None:
        try:
            if (pipe := self.tell(msg)) is not None:
                await pipe.drain()
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
        if early is not None and any(early.workers):  # recording already (edged.daemon.recording.prestart), cameras dealt alike
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
        self.shared = count        # slots[:shared] carry the cameras; the rest are quarantine workers
        self.quarantine = isolation.Quarantine()
        self.group_slot: dict[int, WorkerSlot] = {}
        self.keepers: list[asyncio.Task[None]] = []  # the quarantine slots' keepers (the shared ones are the caller's)
        self._tg: asyncio.TaskGroup | None = None
        self._sparing = False      # the pool's spare is being started

    def slot_of(self, cam_id: str) -> WorkerSlot | None:
        return next((s for s in self.slots if cam_id in s.cameras), None)

    def slot_having(self, cam_id: str) -> WorkerSlot:
        """The worker of a camera that was enabled: it has one."""
        slot = self.slot_of(cam_id)
        assert slot is not None, f"camera {cam_id} was enabled, so a worker has it"
        return slot

    def emptiest(self) -> WorkerSlot:
        """The shared worker with the fewest cameras (a new or returning camera goes there)."""
        return min(self.slots[:self.shared], key=lambda s: (len(s.cameras), s.index))

    def tell(self, cam_id: str, msg: dict[str, Any]) -> None:
        """A command for the worker recording the camera now, queued on its pipe; none running: dropped
        (what needs it says so in its events and is sent it again, edged/daemon/health_monitor.py)."""
        if (slot := self.slot_of(cam_id)) is not None:
            slot.tell(msg)

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

    async def stop(self, keepers: list[asyncio.Task[None]]) -> None:
        """Tell every worker to stop (they close their segments), kill any still running after
        STOP_TIMEOUT_S, and end the spares."""
        await self.send_all({"cmd": "stop"})
        _done, pending = await asyncio.wait([*keepers, *self.keepers], timeout=STOP_TIMEOUT_S)
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
        self._tg = tg
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
            if slot.retiring and rc == 0:  # emptied and told to stop: it closed its segments
                slot.retiring = False
                continue
            slot.retiring = False
            log.error("recorder worker %d exited (status %s); restarting it for cameras %s",
                      slot.index, rc, ", ".join(slot.cameras))
            self._on_death(slot)
            await self.rehome(slot)
            attempt = 0 if time.monotonic() - started > WORKER_STABLE_S else attempt + 1
            delay = backoff_us(attempt, self._restart_cap_us(slot), self._rng) / 1e6
            await wait_or_stop(self.stopping, delay)

    def _restart_cap_us(self, slot: WorkerSlot) -> int:
        """A worker carrying only cameras that crashed alone is restarted at most every
        CULPRIT_RESTART_S (each restart is that stream's next try); any other at once."""
        held = self.quarantine.held
        if slot.cameras and all(c in held and held[c].culprit for c in slot.cameras):
            return int(CULPRIT_RESTART_S * 1e6)
        return 2_000_000

    async def rehome(self, dead: WorkerSlot) -> None:
        """The dead worker's cameras are suspects: each goes to a quarantine worker at once
        (design/0063; edged/daemon/recording/isolation.py decides which)."""
        crashed = set(dead.cameras)
        if not crashed or self._tg is None:
            return
        q = isolation.after_crash(self.quarantine, crashed, time.monotonic_ns() // 1000)
        await self._place(q, spare_from=dead)
        where = {c: h.group for c, h in q.held.items() if c in crashed}
        culprits = sorted(c for c in crashed if c in q.held and q.held[c].culprit)
        log.error("recorder worker %d died carrying %s: moved to workers of their own (group per camera: %s)%s",
                  dead.index, ", ".join(sorted(crashed)), where,
                  f"; {', '.join(culprits)} crashed alone: kept apart until an hour without a crash" if culprits else "")

    async def watch_quarantine(self, _stopping: asyncio.Event) -> None:
        """Bring back to the shared workers each quarantined camera that behaved for an hour."""
        while not self.stopping.is_set():
            if await wait_or_stop(self.stopping, RELEASE_CHECK_S):
                return
            await self.release_due(time.monotonic_ns() // 1000)

    async def release_due(self, now_us: int) -> list[str]:
        q, out = isolation.released(self.quarantine, now_us)
        if out:
            log.warning("cameras %s ran an hour without a crash: back on the shared recorder workers", ", ".join(out))
            await self._place(q)
        return out

    async def _place(self, q: isolation.Quarantine, spare_from: WorkerSlot | None = None) -> None:
        """Move cameras so that each quarantined one is in its group's worker and every other
        one in a shared worker; start quarantine workers as needed, stop emptied ones."""
        known = {c: cam for s in self.slots for c, cam in s.cameras.items()}
        q = isolation.forget(q, set(known))
        self.quarantine = q
        record = not self._held()
        wanted: dict[str, WorkerSlot] = {}
        for group, cams in q.placement().items():
            slot = self.group_slot.get(group) or self._quarantine_slot(group, spare_from)
            for cam_id in cams:
                wanted[cam_id] = slot
        for group in [g for g in self.group_slot if g not in q.placement()]:
            del self.group_slot[group]  # its slot is free for the next group
        for cam_id, cam in known.items():
            now = self.slot_of(cam_id)
            target = wanted.get(cam_id)
            if target is None and now is not None and now.isolated:
                target = self.emptiest()
            if target is None or target is now:
                continue
            if now is not None:
                await now.remove(cam_id)
            await target.add(cam, record=record)
        for slot in self.slots[self.shared:]:
            if not slot.cameras and slot.proc is not None and slot not in self.group_slot.values():
                slot.retiring = True
                await slot.send({"cmd": "stop"})

    def _quarantine_slot(self, group: int, spare_from: WorkerSlot | None) -> WorkerSlot:
        used = set(self.group_slot.values())
        slot = next((s for s in self.slots[self.shared:] if s not in used and not s.cameras), None)
        if slot is None:
            slot = WorkerSlot(len(self.slots), isolated=True)
            self.slots.append(slot)
            assert self._tg is not None
            self.keepers.append(self._tg.create_task(self.keep(slot, self._tg), name=f"worker-{slot.index}"))
        if spare_from is not None and spare_from.spare is not None and slot.spare is None:
            slot.spare, spare_from.spare = spare_from.spare, None  # imported already: no wait for Python
        self.group_slot[group] = slot
        return slot

    async def _spare_later(self, slot: WorkerSlot) -> None:
        """Start the pool's spare worker once this slot's cameras are recording (not during
        start-up, when the imports would compete with the workers that matter), unless there is
        one. One for the pool, not one a slot (design/0282): workers die one at a time; a second
        death before the spare is replaced waits for Python's imports, as every death did before
        design/0025. It waits without PyAV (~23 MB, not ~41: design/0291) and imports it while its
        first cameras connect."""
        if await wait_or_stop(self.stopping, SPARE_AFTER_S):
            return
        if self._sparing or any(s.spare is not None for s in self.slots):
            return
        if slot.proc is not None and not slot.isolated:
            self._sparing = True
            try:
                slot.spare = await spawn_worker(spare=True)
            finally:
                self._sparing = False
            if self.stopping.is_set() and slot.spare.stdin is not None:  # stopped while it started
                slot.spare.stdin.close()

    def _take_spare(self, slot: WorkerSlot) -> asyncio.subprocess.Process | None:
        """The pool's spare (this slot's first), taken from whichever slot keeps it."""
        for s in sorted(self.slots, key=lambda s: s is not slot):
            if s.spare is not None:
                spare, s.spare = s.spare, None
                return spare
        return None

    async def _run(self, slot: WorkerSlot, tg: asyncio.TaskGroup) -> int | None:
        proc, adopted = slot.adopt, slot.adopt is not None
        slot.adopt = None
        if proc is None:
            proc = self._take_spare(slot)
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
            # what an adopted worker said before (its cameras recording, after a handover) is known before
            # READY's status line counts them (issue 89: it read 0/4 for seconds while all four recorded)
            backlog, slot.backlog = slot.backlog, []
            if backlog:
                await self._events(slot, backlog)
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
        recorder/worker.py EventSink), handed to the supervisor at once (an adopted worker's backlog
        was, before its slot started)."""
        assert proc.stdout is not None
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
