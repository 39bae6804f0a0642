"""The daemon's control plane: owns the recorder worker processes and the catalog writes.

Every task has one owner (a TaskGroup here); a dead worker is restarted and its cameras
resume; events from workers become catalog rows (segments, gaps, camera states). Every other
task runs under edged.daemon.task_keeper: its failure is an alarm and a restart, never the end of
the group (and so of recording).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from edged.alarms import Alarms
from edged.daemon.camera_states import CameraStates
from edged.config import CameraConfig, Config
from edged.daemon.prestart import Early, add_command, assign, spawn_worker, worker_count, worker_settings
from edged.daemon.health_monitor import HealthMonitor
from edged.daemon.integrity import TamperGuard
from edged.daemon.task_keeper import keep
from recorder import diagnose, events
from recorder.camera import backoff_us
from storage import audit, logs
from storage.cameras import CONNECTING, DISABLED, OFFLINE, RECORDING
from storage.catalog import WRITING, Catalog, CatalogWriter
from storage.clock import SYSTEM, Clock
from storage.reconcile import Report, apply_outcomes, in_background, salvage_rows

log = logging.getLogger(__name__)

STATS_FLUSH_S = 5.0
HEARTBEAT_S = 2.0
STOP_TIMEOUT_S = 30.0         # workers get this long to close their segments on shutdown
OFFLINE_ALARM_S = 10.0        # a camera down for longer than this raises camera_offline
WORKER_STABLE_S = 30.0        # a worker that ran this long resets the restart backoff
SPARE_AFTER_S = 10.0          # a worker's spare is started this long after it
AUX_STOP_S = 10.0             # after the workers, the other tasks get this long to end, then are cancelled


async def _end_within(tasks: list[asyncio.Task], timeout: float) -> None:
    """A stop is bounded: a task that has not ended `timeout` s after the stop is logged with
    where it waits, and cancelled (its keeper's job was to end on `stopping`)."""
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        where = io.StringIO()
        task.print_stack(file=where)
        log.error("task %s had not ended %.0f s after the stop; cancelling it. It was at:\n%s",
                  task.get_name(), timeout, where.getvalue())
        task.cancel()


def camera_row(cam: CameraConfig) -> dict[str, Any]:
    row = {"id": cam.id, "name": cam.name, "url": cam.redacted_url, "enabled": int(cam.enabled),
           "audio_expected": int(cam.audio_expected), "location": cam.location, "kind": cam.kind,
           "purpose": cam.purpose, "coverage": cam.coverage, "manager": cam.manager, "contact": cam.contact}
    if not cam.enabled:
        row["state"] = DISABLED
    return row


def _end_reason(reason: str, before: str | None) -> str:
    """Why a camera has no footage after a segment that ended for `reason`: a stop keeps the
    reason the camera was stopped for."""
    return before if reason == "camera stopped" and before is not None else reason


@dataclass(eq=False)
class _Unclosed:
    """A segment opened and not yet reported closed (its hash may take a while)."""

    camera: str
    slot: int                     # the worker that has it open
    done: asyncio.Future          # the Closed or Stranded event; None if its worker ended first
    after: str | None = None      # an error the camera reported after closing it


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


class Supervisor:
    def __init__(self, cfg: Config, writer: CatalogWriter, *, alarms: Alarms | None = None,
                 health: HealthMonitor | None = None, cameras: CameraStates | None = None,
                 guard: TamperGuard | None = None,
                 on_segment_opened: Callable[[], None] | None = None,
                 on_recording: Callable[[], None] | None = None, workers: int | None = None,
                 clock: Clock = SYSTEM, early: Early | None = None):
        self.clock = clock
        self.cfg = cfg
        self.writer = writer
        self.alarms = alarms        # camera_offline, and the kept tasks' failures
        self.health = health        # fed the workers' pictures, state changes and segments
        self.cameras = cameras if cameras is not None else CameraStates(clock)  # fed the states and stats
        self.guard = guard          # told what edged writes itself (the tamper watcher)
        self.on_segment_opened = on_segment_opened  # retention's space check (edged/daemon/retention_runner.py)
        self.on_recording = on_recording  # once, when every worker holds its cameras (READY); never after a stop
        self.paused = False         # on_full = stop: recording held until retention frees space
        self.storage_lost: str | None = None  # why the data disk is not the one edged started on
        self.video_dev: int | None = None     # st_dev of the video folder; workers refuse another
        self._jobs: asyncio.Queue = asyncio.Queue(100)
        n = workers or worker_count(cfg)
        self.slots = [WorkerSlot(i) for i in range(n)]
        if early is not None and any(early.workers):  # recording already (edged.daemon.prestart), cameras dealt alike
            assert len(early.workers) == n
            for slot, proc, backlog in zip(self.slots, early.workers, early.backlog):
                slot.adopt = slot.proc = proc
                slot.backlog = backlog
        self.stopping = asyncio.Event()
        self.last_end: dict[str, int] = {}
        self.gap_reason: dict[str, str] = {}
        self.events = 0            # progress counter for the watchdog
        self.recovering: dict[str, asyncio.Future] = {}  # camera -> its open segments' recovery
        self.unclosed: dict[str, _Unclosed] = {}  # path -> a segment opened and not yet reported closed
        self.newest: dict[str, str] = {}          # camera -> the path of its newest opened segment
        self._tg: asyncio.TaskGroup | None = None
        self._rng = random.Random()

    # wiring -------------------------------------------------------------------------
    def _slot_of(self, cam_id: str) -> WorkerSlot | None:
        return next((s for s in self.slots if cam_id in s.cameras), None)

    def _emptiest(self) -> WorkerSlot:
        return min(self.slots, key=lambda s: (len(s.cameras), s.index))

    def submit(self, coro: Any, name: str) -> None:
        """Hand work from a signal handler to a task this supervisor owns."""
        try:
            self._jobs.put_nowait((name, coro))
        except asyncio.QueueFull:
            coro.close()
            log.error("%s dropped: too much pending work", name)

    async def _run_jobs(self) -> None:
        while True:
            name, coro = await self._jobs.get()
            try:
                await coro
            except Exception:  # noqa: BLE001 - a failed reload leaves the daemon as it was
                log.exception("%s failed", name)

    @property
    def held(self) -> bool:
        """Recording is held: on_full = stop, or the data disk is gone (design/0023)."""
        return self.paused or self.storage_lost is not None

    async def hold_recording(self, hold: bool) -> None:
        """on_full = stop: stop writing while the minimum cannot be kept; resume when it can."""
        if hold == self.paused:
            return
        was = self.held
        self.paused = hold
        if hold:
            for cam in self.cfg.cameras:
                self.gap_reason[cam.id] = "recording stopped: disk full and on_full = stop"
        log.critical("recording stopped: disk full and on_full = stop") if hold else \
            log.warning("recording resumed: retention freed space")
        await self._apply_hold(was)

    async def hold_for_storage(self, reason: str | None, video_dev: int | None = None) -> None:
        """Stop writing while the data or video folder is not the disk edged started on; resume
        when it is back. A camera's open segment is closed on the disk it was written to."""
        was = self.held
        self.storage_lost = reason
        if video_dev is not None:
            self.video_dev = video_dev
            for slot in self.slots:
                await slot.send({"cmd": "storage", "video_dev": video_dev})
        if reason is not None:
            for cam in [c for c in self.cfg.cameras if c.enabled]:
                self.gap_reason[cam.id] = "the data disk was gone"
        await self._apply_hold(was)
        if reason is not None:
            for cam in [c for c in self.cfg.cameras if c.enabled]:
                self.cameras.mark_offline(cam.id)
                await self.writer.run(Catalog.set_camera_state, cam.id, OFFLINE, "not recording: the data disk is gone",
                                      self.clock.now_us(), None, None, diagnose.STORAGE)

    async def _apply_hold(self, was: bool) -> None:
        if self.held == was:
            return
        for slot in self.slots:
            for cam in list(slot.cameras.values()):
                await slot.send({"cmd": "remove", "camera": cam.id} if self.held else add_command(cam))

    async def start_cameras(self) -> None:
        for cam_id in [c.id for c in self.cfg.cameras]:
            last = await self.writer.run(Catalog.last_end, cam_id)
            if last is not None:
                self.last_end[cam_id] = last
            self.gap_reason[cam_id] = "edged was not recording"  # a gap is measured only after footage
        for slot, cams in zip(self.slots, assign(self.cfg.cameras, len(self.slots))):
            for cam in cams:  # sent when the worker starts (or sent already: an adopted one)
                slot.cameras[cam.id] = cam
                slot.has_cameras.set()

    async def run(self, extra: dict[str, Any] | None = None, must_run: frozenset[str] = frozenset()) -> None:
        """Own every task until stopped; `extra` maps task names to `fn(stopping)` coroutines;
        those named in `must_run` start even if edged was stopped before they could."""
        await self.start_cameras()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            keepers = [tg.create_task(self._keep(slot), name=f"worker-{slot.index}") for slot in self.slots]
            aux: dict[str, Any] = {"camera-stats": self._flush_stats, "heartbeat": self._heartbeat, **(extra or {})}
            others = [tg.create_task(keep(name, fn, self.stopping, self.alarms, even_if_stopped=name in must_run),
                                     name=name)
                      for name, fn in aux.items()]  # none of them may end the group, and with it the recorders
            jobs = tg.create_task(self._run_jobs(), name="jobs")
            tg.create_task(self._announce_start(), name="announce-start")
            await self.stopping.wait()
            jobs.cancel()
            for slot in self.slots:
                await slot.send({"cmd": "stop"})
            _done, pending = await asyncio.wait(keepers, timeout=STOP_TIMEOUT_S)
            if pending:
                log.error("recorder workers did not stop within %.0f s; killing them", STOP_TIMEOUT_S)
                self.kill_workers()
            for slot in self.slots:  # a spare has nothing open: it ends on end of input
                if slot.spare is not None:
                    spare, slot.spare = slot.spare, None
                    if spare.stdin is not None:
                        spare.stdin.close()
                    await spare.wait()
            await _end_within(others, AUX_STOP_S)

    async def _announce_start(self) -> None:
        """Recording has started once every worker that has cameras holds its list."""
        busy = [asyncio.ensure_future(s.started.wait()) for s in self.slots if s.cameras]
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            while busy and not stop.done():
                done, _ = await asyncio.wait([*busy, stop], return_when=asyncio.FIRST_COMPLETED)
                busy = [b for b in busy if b not in done]
            if not busy and self.on_recording is not None:
                self.on_recording()
        finally:
            for waiter in [*busy, stop]:
                waiter.cancel()

    def request_stop(self) -> None:
        self.stopping.set()

    def kill_workers(self) -> None:
        for slot in self.slots:
            for proc in (slot.proc, slot.spare):
                if proc is not None and proc.returncode is None:
                    proc.kill()

    async def reload(self, cfg: Config) -> None:
        """Apply a new camera list without touching cameras that did not change."""
        old = {c.id: c for c in self.cfg.cameras}
        new = {c.id: c for c in cfg.cameras}
        if cfg.storage != self.cfg.storage or cfg.recorder != self.cfg.recorder:
            log.warning("storage and recorder settings change only on restart; camera list reloaded")
        self.cfg = cfg

        def sync(c: Catalog) -> None:
            c.sync_cameras([camera_row(cam) for cam in cfg.cameras])
            audit.append(c.db, "edged", "config.reload", {
                "source": cfg.source, "added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
                "changed": sorted(i for i in set(old) & set(new) if old[i] != new[i])})

        await self.writer.run(sync)
        for cam_id, cam in old.items():
            if cam.enabled and (cam_id not in new or not new[cam_id].enabled):
                slot = self._slot_of(cam_id)
                if slot is not None:
                    await slot.remove(cam_id)
                    self.gap_reason[cam_id] = "camera disabled or removed"
                    log.info("camera %s: stopped (removed or disabled)", cam_id)
        for cam_id, cam in new.items():
            if not cam.enabled:
                continue
            before = old.get(cam_id)
            if before is None or not before.enabled:
                await self._emptiest().add(cam, record=not self.held)
                log.info("camera %s: added", cam_id)
            elif before != cam:
                await self._slot_of(cam_id).add(cam, record=not self.held)  # the worker replaces it
                log.info("camera %s: settings changed, restarted", cam_id)

    # worker processes ---------------------------------------------------------------
    async def _keep(self, slot: WorkerSlot) -> None:
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
            rc = await self._run_worker(slot)
            if self.stopping.is_set():
                break
            log.error("recorder worker %d exited (status %s); restarting it for cameras %s",
                      slot.index, rc, ", ".join(slot.cameras))
            await self._after_worker_death(slot)
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

    async def _run_worker(self, slot: WorkerSlot) -> int | None:
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
            if adopted:  # it has its settings and cameras; the daemon's own look at the disk decides
                if self.video_dev is not None:
                    await slot.send({"cmd": "storage", "video_dev": self.video_dev})
                for cam in list(slot.cameras.values()) if self.held else []:
                    await slot.send({"cmd": "remove", "camera": cam.id})
            else:
                await slot.send({**worker_settings(self.cfg), "video_dev": self.video_dev})
                for cam in [] if self.held else list(slot.cameras.values()):
                    await slot.send(add_command(cam))
            slot.started.set()
            if self.stopping.is_set():  # stopped while this worker was starting: its stop went nowhere
                await slot.send({"cmd": "stop"})
            else:  # the next one waits ready: a dead worker's cameras need not wait for Python's imports
                assert self._tg is not None
                self._tg.create_task(self._spare_later(slot), name=f"spare-{slot.index}")
            await self._read_events(slot, proc)
            return await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            slot.proc = None
            self._forget_unclosed(slot.index)

    async def _read_events(self, slot: WorkerSlot, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        backlog, slot.backlog = slot.backlog, []
        for line in backlog:
            await self._event(slot, line)
        while line := await proc.stdout.readline():
            await self._event(slot, line)

    async def _event(self, slot: WorkerSlot, line: bytes) -> None:
        try:
            event = events.decode(line)
        except ValueError:
            log.error("recorder worker %d sent garbage: %r", slot.index, line[:200])
            return
        await self.handle(event, slot.index)

    async def _after_worker_death(self, slot: WorkerSlot) -> None:
        """Close what the dead worker left open, so its cameras' footage counts, off the
        restart's path (design/0025): the worker restarts at once, and the catalog updates
        and the salvage (cut, fsync, hash) run in a task of their own, whose catalog writes
        queue before the new worker's; each camera's next gap waits for it. Under a page
        cache full of dirty pages one catalog commit can take a second."""
        cams = set(slot.cameras)
        for cam in cams:
            self.gap_reason[cam] = "recorder worker died"
            self.cameras.mark_offline(cam)
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.expect_recovery(cams, done)
        assert self._tg is not None
        self._tg.create_task(self._recover_dead(cams, self.clock.now_us(), f"worker {slot.index} died", done),
                             name=f"recover-{slot.index}")

    async def _recover_dead(self, cams: set[str], died_us: int, what: str, done: asyncio.Future) -> None:
        try:
            def mark(c: Catalog) -> list[dict[str, Any]]:
                with c.db.atomic():
                    for cam in cams:
                        c.set_camera_state(cam, OFFLINE, "recorder worker died", died_us, kind=diagnose.WORKER_DIED)
                return [r for r in c.segments_in(WRITING) if r["camera"] in cams and r["start_us"] < died_us]

            rows = await self.writer.run(mark)
        except BaseException:
            done.set_result(None)
            raise
        await self._recover(rows, what, done)

    def expect_recovery(self, cams: Iterable[str], done: asyncio.Future) -> None:
        """Segments of these cameras are being recovered until `done`: a gap before their
        next segment is measured from what the recovery finds."""
        for cam in cams:
            self.recovering[cam] = done

    async def _recover(self, rows: list[dict[str, Any]], what: str, done: asyncio.Future) -> None:
        started = time.monotonic()
        expect = self.guard.expect if self.guard else lambda _p, _k: None
        try:
            outcomes = await in_background(salvage_rows, self.cfg.storage.data_dir, rows, expect, self.clock)
            report = Report()
            await self.writer.run(apply_outcomes, outcomes, report)
            log.info("after %s: %s in %.2f s", what, report.summary(), time.monotonic() - started)
        finally:
            done.set_result(None)

    async def _gap(self, cam: str, ev: events.Opened, reason: str, waited: asyncio.Future | None) -> None:
        """A hole before a new segment is a gap row (a run's segments abut exactly)."""
        if waited is not None:
            await waited
            prev = await self.writer.run(Catalog.last_end_before, cam, ev.start_us)
        else:
            prev = self.last_end.get(cam)
        if prev is not None and ev.start_us > prev:
            await self.writer.run(Catalog.add_gap, cam, prev, ev.start_us, reason)
            log.info("camera %s: gap of %.1f s (%s)", cam, (ev.start_us - prev) / 1e6, reason,
                     **logs.fields(camera=cam, segment=ev.path))

    async def _gap_after_close(self, cam: str, ev: events.Opened, prior: _Unclosed, before: str | None) -> None:
        """The camera's previous segment is still being hashed: its `Closed` says where it
        ended and why; the gap is measured from it, with the reason it would have had, had
        the close been reported before this open (`before`: the reason known at the open)."""
        closed = await prior.done
        if closed is None:  # its worker ended first: a recovery decides where it ended, or the next start does
            recovery = self.recovering.get(cam)
            if recovery is not None:
                await self._gap(cam, ev, before or "no footage", recovery)
            return
        reason = prior.after or _end_reason(closed.reason, before)
        if ev.start_us > closed.end_us:
            await self.writer.run(Catalog.add_gap, cam, closed.end_us, ev.start_us, reason)
            log.info("camera %s: gap of %.1f s (%s)", cam, (ev.start_us - closed.end_us) / 1e6, reason,
                     **logs.fields(camera=cam, segment=ev.path))

    def _forget_unclosed(self, slot: int) -> None:
        """A worker ended: none of the segments it had open will be reported closed now."""
        for path, u in list(self.unclosed.items()):
            if u.slot == slot:
                del self.unclosed[path]
                u.done.set_result(None)
                if self.newest.get(u.camera) == path:
                    del self.newest[u.camera]

    # events -------------------------------------------------------------------------
    async def handle(self, ev: events.Event, slot: int = -1) -> None:
        """One event from the worker in `slot`."""
        self.events += 1
        match ev:
            case events.Stats():
                self.cameras.on_stats(ev)
            case events.Image():
                if self.health is not None:
                    self.health.on_image(ev)
            case events.State():
                await self._on_state(ev)
            case events.Opened():
                await self._on_open(ev, slot)
            case events.Closed() | events.Stranded():
                await self._on_closed(ev)

    async def _on_state(self, ev: events.State) -> None:
        cam = ev.camera
        self.cameras.on_state(ev)
        if ev.state == OFFLINE and ev.error:
            self.gap_reason[cam] = ev.error
            newest = self.unclosed.get(self.newest.get(cam, ""))
            if newest is not None:  # the camera closed it before it said this: the error came after
                newest.after = ev.error
        public = ev.state if self.health is None else self.health.on_state(cam)
        await self.writer.run(Catalog.set_camera_state, cam, public, ev.error, ev.at, ev.reconnects,
                              ev.last_frame_us, ev.kind)

    async def _on_open(self, ev: events.Opened, slot: int) -> None:
        cam = ev.camera
        before = self.gap_reason.get(cam)
        reason = before or "no footage"
        pending = self.recovering.pop(cam, None)
        prior = self.unclosed.get(self.newest.get(cam, ""))
        if pending is not None and not pending.done():  # measured once the recovery is done
            assert self._tg is not None
            self._tg.create_task(self._gap(cam, ev, reason, pending), name=f"gap-{cam}")
        elif prior is not None:  # measured once the previous segment is reported closed
            assert self._tg is not None
            self._tg.create_task(self._gap_after_close(cam, ev, prior, before), name=f"gap-{cam}")
        else:
            await self._gap(cam, ev, reason, pending)
        self.unclosed[ev.path] = _Unclosed(cam, slot, asyncio.get_running_loop().create_future())
        self.newest[cam] = ev.path
        await self.writer.run(Catalog.open_segment, cam, ev.start_us, ev.path, ev.at)
        if self.health is not None:
            self.health.on_segment(cam, ev.start_us)
        if self.guard is not None:
            self.guard.opened(ev.path)
        if self.on_segment_opened is not None:
            self.on_segment_opened()

    async def _on_closed(self, ev: events.Closed | events.Stranded) -> None:
        """One event per close: the end (for the next gap), then the row: `complete` with its
        hash, `stranded`, or left `writing` for the next reconciliation when there is no hash."""
        cam = ev.camera
        unclosed = self.unclosed.pop(ev.path, None)
        self.last_end[cam] = ev.end_us
        if unclosed is None or unclosed.after is None:  # else a later error is the reason already
            self.gap_reason[cam] = _end_reason(ev.reason, self.gap_reason.get(cam))
        if isinstance(ev, events.Stranded):  # closed on a disk that is no longer at the data folder's path
            await self.writer.run(Catalog.strand_segment, ev.path, ev.error)
            log.error("camera %s: segment %s is not at its path (%s); it is recovered when the disk is back",
                      cam, ev.path, ev.error, **logs.fields(camera=cam, segment=ev.path))
        elif ev.complete:
            await self.writer.run(Catalog.close_segment, ev.path, ev.catalog_fields())
            if self.guard is not None:
                self.guard.closed(ev.path)
        if unclosed is not None:
            unclosed.done.set_result(ev)

    async def _flush_stats(self, _stopping: asyncio.Event) -> None:
        keys = ("fps", "bitrate", "codec", "width", "height", "audio", "last_packet_us", "lateness_us", "reconnects")
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), STATS_FLUSH_S)
            except TimeoutError:
                pass
            await self._camera_alarms()
            stats = self.cameras.take_fresh_stats()
            if stats:
                rows = [{"id": cam, **{k: ev[k] for k in keys}, "ts_fixes": ev["ts_fixes"] + ev["ts_jumps"],
                         "keyframe_interval": ev["keyframe_interval"], "clock_skew_us": ev["clock_skew_us"],
                         "updated_us": self.clock.now_us()} for cam, ev in stats.items()]
                await self.writer.run(Catalog.set_camera_stats, rows)

    async def _camera_alarms(self) -> None:
        """R1.1: a camera that stopped recording is an alarm (after a short grace for reconnects)."""
        if self.alarms is None:
            return
        for cam in self.cfg.cameras:
            if not cam.enabled or self.held:
                continue
            state = self.cameras.state(cam.id)
            down = state in (OFFLINE, CONNECTING) and self.cameras.down_for_s(cam.id) > OFFLINE_ALARM_S
            if down:
                await self.alarms.raise_(f"camera_offline:{cam.id}", "camera_offline", "critical", cam.id,
                                         f"camera {cam.id} is not recording: {self.gap_reason.get(cam.id, state)}")
            elif state == RECORDING:
                await self.alarms.clear(f"camera_offline:{cam.id}")

    async def _heartbeat(self, _stopping: asyncio.Event) -> None:
        while not self.stopping.is_set():
            await self.writer.run(Catalog.set_node, {"heartbeat_us": self.clock.now_us()})
            try:
                await asyncio.wait_for(self.stopping.wait(), HEARTBEAT_S)
            except TimeoutError:
                pass
