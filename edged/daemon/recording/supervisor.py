"""The daemon's control plane: owns the recorder workers and turns their events into catalog rows.

Every task has one owner (a TaskGroup here); the worker processes are kept by
edged.daemon.recording.workers (a dead one is restarted and its cameras resume, what it left open is
recovered by edged.daemon.recording.recovery); their typed events (recorder/events.py) become segment
rows, gap rows (edged.daemon.recording.gaps) and camera states (edged.daemon.camera_states). Every
other task runs under edged.daemon.task_keeper: its failure is an alarm and a restart, never
the end of the group (and so of recording).
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any, Awaitable, Callable, Coroutine

from edged.alarms import Alarms
from edged.config import CameraConfig, Config
from edged.daemon.camera_states import CameraStates
from edged.daemon.recording.gaps import Gaps
from edged.daemon.health_monitor import HealthMonitor
from edged.daemon.integrity import TamperGuard
from edged.daemon.recording.modes import MotionLog, hole_reason
from edged.daemon.recording.prestart import Early, add_command, assign, worker_count, worker_settings
from edged.daemon.recording.recovery import recover_dead_worker
from edged.daemon.recording.segment_rows import SegmentRows
from edged.daemon.task_keeper import keep
from edged.daemon.recording.workers import STOP_TIMEOUT_S, Workers, WorkerSlot
from edged.i18n import Msg, A_
from edged.ports import Outlet
from recorder import diagnose, events, handover
from storage import audit, cameras as camera_table, node as node_table
from storage.footage import restamps, segments as segment_table
from storage.alarm_kinds import CAMERA_OFFLINE
from storage.states.cameras import CONNECTING, DISABLED, OFFLINE, RECORDING, STOPPED
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from storage.disk.full import is_disk_full

log = logging.getLogger(__name__)

__all__ = ["STOP_TIMEOUT_S", "Supervisor", "camera_row"]

STATS_FLUSH_S = 5.0
HEARTBEAT_S = 2.0
OFFLINE_ALARM_S = 10.0        # a camera down for longer than this raises camera_offline
AUX_STOP_S = 10.0             # after the workers, the other tasks get this long to end, then are cancelled


async def _end_within(tasks: list[asyncio.Task[None]], timeout: float) -> None:
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
    # The catalog column keeps the name of the first schema (storage/schema/migrations.py: m001_initial).
    row = {"id": cam.id, "name": cam.name, "url": cam.redacted_url, "enabled": int(cam.enabled), "mode": cam.mode,
           "audio_expected": int(cam.audio_required), "location": cam.location, "kind": cam.kind,
           "purpose": cam.purpose, "coverage": cam.coverage, "manager": cam.manager, "contact": cam.contact,
           "recording_period": cam.recording_period, "machine_room": cam.machine_room, "asset_number": cam.asset_number,
           "box": cam.box}  # a standby's: whose camera it is (design/0107)
    if not cam.enabled:
        row["state"] = DISABLED
    return row


class Supervisor:
    def __init__(self, cfg: Config, writer: CatalogWriter, *, alarms: Alarms | None = None,
                 health: HealthMonitor | None = None, cameras: CameraStates | None = None,
                 guard: TamperGuard | None = None,
                 on_segment_opened: Callable[[], None] | None = None,
                 on_recording: Callable[[], None] | None = None, workers: int | None = None,
                 clock: Clock = SYSTEM, early: Early | None = None,
                 publish_event: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
                 disk_full: Outlet[BaseException] | None = None, restamp_steps: restamps.Steps | None = None):
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
        self.disk_full: str | None = None     # why recording is paused for a full disk (design/0058)
        self._on_disk_full = disk_full        # a catalog write failed for a full disk -> edged/daemon/disk_floor.py
        self._jobs: asyncio.Queue[tuple[str, Coroutine[Any, Any, None]]] = asyncio.Queue(100)
        self.stopping = asyncio.Event()
        self.gaps = Gaps(writer)
        self.workers = Workers(workers or worker_count(cfg), self.stopping, settings=lambda: worker_settings(self.cfg),
                               held=lambda: self.held, on_events=self.handle_batch, on_exit=self.gaps.forget,
                               on_death=self._after_worker_death, early=early)
        self.slots = self.workers.slots
        self.events = 0            # progress counter for the watchdog
        self.segments = SegmentRows(writer, self.gaps, health, guard, on_segment_opened, restamp_steps)  # a batch at a time
        self._tg: asyncio.TaskGroup | None = None
        self.motion = MotionLog(writer, clock, publish_event)  # motion events; holes by policy (edged/daemon/recording/modes.py)
        self.on_handed: Callable[[events.Handed], None] | None = None  # an upgrade's handover (edged/daemon/handover.py)
        self.handed_over = early is not None and early.handed  # ... and the next daemon of one (its first gaps say so)

    @property
    def video_dev(self) -> int | None:  # st_dev of the video folder; workers refuse another
        return self.workers.video_dev

    @video_dev.setter
    def video_dev(self, dev: int | None) -> None:
        self.workers.video_dev = dev

    def submit(self, coro: Coroutine[Any, Any, None], name: str) -> None:
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
        """Recording is held: on_full = stop, the data disk is gone (design/0023) or full (0058)."""
        return self.paused or self.storage_lost is not None or self.disk_full is not None

    async def hold_recording(self, hold: bool) -> None:
        """on_full = stop: stop writing while the minimum cannot be kept; resume when it can."""
        if hold == self.paused:
            return
        was = self.held
        self.paused = hold
        if hold:
            for cam in self.cfg.cameras:
                self.gaps.reason[cam.id] = "recording stopped: disk full and on_full = stop"
        log.critical("recording stopped: disk full and on_full = stop") if hold else \
            log.warning("recording resumed: retention freed space")
        await self._apply_hold(was)

    async def hold_for_storage(self, reason: str | None, video_dev: int | None = None) -> None:
        """Stop writing while the data or video folder is not the disk edged started on; resume
        when it is back. A camera's open segment is closed on the disk it was written to."""
        was = self.held
        self.storage_lost = reason
        if video_dev is not None:
            self.workers.video_dev = video_dev
            await self.workers.send_all({"cmd": "storage", "video_dev": video_dev})
        await self._held_because(was, reason, "the data disk was gone",  # i18n: reasons kept as data
                                 "not recording: the data disk is gone")  # i18n: reasons kept as data

    async def hold_for_disk(self, reason: str | None) -> None:
        """Stop writing while the data disk is full past the floor kept for the catalog; resume
        when retention has made room (edged/daemon/disk_floor.py)."""
        was = self.held
        self.disk_full = reason
        await self._held_because(was, reason, "the data disk was full",  # i18n: reasons kept as data
                                 "not recording: the data disk is full")  # i18n: reasons kept as data

    async def _held_because(self, was: bool, reason: str | None, gap: str, why: str) -> None:
        """Apply a storage hold's change; while `reason` stands, each enabled camera's next gap
        says `gap` and its state says `why`."""
        enabled = [c.id for c in self.cfg.cameras if c.enabled]
        if reason is not None:
            self.gaps.reason.update(dict.fromkeys(enabled, gap))
        await self._apply_hold(was)
        if reason is not None:
            for cam in enabled:
                self.cameras.mark_offline(cam)
                now = self.clock.now_us()
                await self.writer.run(lambda c: camera_table.set_state(c.db, cam, OFFLINE, why, now, None, None,
                                                                       diagnose.STORAGE))

    async def _apply_hold(self, was: bool) -> None:
        if self.held != was:
            await self.workers.hold(self.held)

    async def start_cameras(self) -> None:
        for cam_id in [c.id for c in self.cfg.cameras]:
            last = await self.writer.run(lambda c: segment_table.last_end(c.db, cam_id))
            if last is not None:
                self.gaps.last_end[cam_id] = last
            # a gap is measured only after footage (across a handover: its two recorders' anchors apart)
            self.gaps.reason[cam_id] = handover.HANDED if self.handed_over else "edged was not recording"
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
            keepers = [tg.create_task(self.workers.keep(slot, tg), name=f"worker-{slot.index}") for slot in self.slots]
            aux: dict[str, Any] = {"camera-stats": self._flush_stats, "heartbeat": self._heartbeat,
                                   "quarantine": self.workers.watch_quarantine, **(extra or {})}
            others = [tg.create_task(keep(name, fn, self.stopping, self.alarms, even_if_stopped=name in must_run),
                                     name=name)
                      for name, fn in aux.items()]  # none of them may end the group, and with it the recorders
            jobs = tg.create_task(self._run_jobs(), name="jobs")
            tg.create_task(self._announce_start(), name="announce-start")
            await self.stopping.wait()
            jobs.cancel()
            await self.workers.stop(keepers)
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

    async def reload(self, cfg: Config, action: str = "config.reload") -> None:
        """Apply a new camera list without touching cameras that did not change (`action`: the
        audit record's, "standby" when a standby takes up or gives back a box's cameras)."""
        old = {c.id: c for c in self.cfg.cameras}
        new = {c.id: c for c in cfg.cameras}
        if cfg.storage != self.cfg.storage or cfg.recorder != self.cfg.recorder:
            log.warning("storage and recorder settings change only on restart; camera list reloaded")
        self.cfg = cfg

        def sync(c: Catalog) -> None:
            camera_table.sync(c.db, [camera_row(cam) for cam in cfg.cameras], c.clock.now_us())
            audit.append(c.db, "edged", action, {
                "source": cfg.source, "added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
                "changed": sorted(i for i in set(old) & set(new) if old[i] != new[i])})

        await self.writer.run(sync)
        for cam_id, cam in old.items():
            if cam.enabled and (cam_id not in new or not new[cam_id].enabled):
                slot = self.workers.slot_of(cam_id)
                if slot is not None:
                    await slot.remove(cam_id)
                    self.gaps.reason[cam_id] = "camera disabled or removed"
                    log.info("camera %s: stopped (removed or disabled)", cam_id)
        for cam_id, cam in new.items():
            if not cam.enabled:
                continue
            before = old.get(cam_id)
            if before is None or not before.enabled:
                self.cameras.taken_up(cam_id)  # its grace from now, not from when it was put at rest
                await self.workers.emptiest().add(cam, record=not self.held)
                log.info("camera %s: added", cam_id)
            elif add_command(before) != add_command(cam):  # what the recorder is told changed
                self.gaps.reason[cam_id] = hole_reason(before, cam, "camera settings changed")
                await self.workers.slot_having(cam_id).add(cam, record=not self.held)  # the worker replaces it
                log.info("camera %s: settings changed, restarted", cam_id)
            elif before != cam and (slot := self.workers.slot_of(cam_id)) is not None:
                slot.cameras[cam_id] = cam  # the viewer's sound switch, the inventory, the floor: no restart, no gap

    def _after_worker_death(self, slot: WorkerSlot) -> None:
        """Close what the dead worker left open, so its cameras' footage counts, off the
        restart's path (design/0025): the worker restarts at once, and the catalog updates
        and the salvage (cut, fsync, hash) run in a task of their own, whose catalog writes
        queue before the new worker's; each camera's next gap waits for it. Under a page
        cache full of dirty pages one catalog commit can take a second. It runs under the task
        keeper: an EIO there is an alarm and a retry, never the end of recording (issue 27)."""
        cams = set(slot.cameras)
        for cam in cams:
            self.gaps.reason[cam] = "recorder worker died"
            self.cameras.mark_offline(cam)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gaps.expect_recovery(cams, done)
        assert self._tg is not None
        expect = self.guard.expect if self.guard is not None else None
        died_us, name = self.clock.now_us(), f"recover-{slot.index}"

        def recover(_stopping: asyncio.Event) -> Awaitable[None]:
            return recover_dead_worker(self.writer, self.cfg.storage.data_dir, expect, cams, died_us,
                                       f"worker {slot.index} died", done)
        self._tg.create_task(keep(name, recover, self.stopping, self.alarms, even_if_stopped=True), name=name)

    # events -------------------------------------------------------------------------
    async def handle(self, ev: events.Event, slot: int = -1) -> None:
        """One event from the worker in `slot`."""
        await self.handle_batch([ev], slot)

    async def handle_batch(self, evs: list[events.Event], slot: int = -1) -> None:
        """Events the worker in `slot` wrote together: each handled in order, the segment rows
        they open and close written in one catalog transaction at the end (at a segment
        boundary every camera's `Closed` and `Opened` arrive together; design/0052). A catalog
        write that fails for a full disk is a state of the disk, not an end of the daemon
        (design/0058)."""
        self.segments.begin(slot)
        try:
            for ev in evs:
                self.events += 1
                await self._unless_disk_full(self._dispatch(ev, slot))
        except BaseException:
            self.segments.abandon(slot)
            raise
        await self.segments.commit(slot, self._unless_disk_full)

    async def _unless_disk_full(self, work: Awaitable[Any]) -> bool:
        """False if `work` failed for a full disk (handed to the disk-full floor)."""
        try:
            await work
        except Exception as exc:
            if not is_disk_full(exc) or self._on_disk_full is None:
                raise
            await self._on_disk_full(exc)
            return False
        return True

    async def _dispatch(self, ev: events.Event, slot: int) -> None:
        match ev:
            case events.Stats():
                self.cameras.on_stats(ev)
            case events.Image():
                if self.health is not None:
                    self.health.on_image(ev)
            case events.Oversize():
                if self.health is not None:
                    self.health.on_oversize(ev)
            case events.State():
                await self._on_state(ev)
            case events.Opened():
                await self.segments.opened(ev, slot, self._tg)
            case events.Closed() | events.Stranded():
                self.segments.closed(ev, slot)
            case events.Motion():
                await self.motion.on_motion(ev)
            case events.Detection():
                await self.motion.on_detection(ev, self.alarms)
            case events.Handed() if self.on_handed is not None:
                self.on_handed(ev)

    def _mode(self, cam_id: str) -> str:
        return next((c.mode for c in self.cfg.cameras if c.id == cam_id), "continuous")

    async def _on_state(self, ev: events.State) -> None:
        cam = ev.camera
        gaps = self.gaps
        if self._mode(cam) == "motion" and ev.state in (RECORDING, OFFLINE, STOPPED) \
                and gaps.newest.get(cam) not in gaps.unclosed:  # a stop too: the idle time up to it was the policy's
            up = self.motion.stream_up if ev.state == RECORDING else self.motion.stream_down
            await up(cam, ev.at, gaps.last_end, gaps.reason)  # outage or no motion (edged/daemon/recording/modes.py)
        self.cameras.on_state(ev)
        if ev.state == OFFLINE and ev.error:
            self.gaps.on_error(cam, ev.error)
        public = ev.state if self.health is None else self.health.on_state(cam)
        await self.writer.run(lambda c: camera_table.set_state(c.db, cam, public, ev.error, ev.at, ev.reconnects,
                                                               ev.last_frame_us, ev.kind))

    async def _flush_stats(self, _stopping: asyncio.Event) -> None:
        keys = ("fps", "bitrate", "codec", "width", "height", "audio", "last_packet_us", "lateness_us", "reconnects")
        while not self.stopping.is_set():
            await wait_or_stop(self.stopping, STATS_FLUSH_S, self.clock)
            await self._camera_alarms()
            stats = self.cameras.take_fresh_stats()
            if stats:
                rows = [{"id": cam, **{k: ev[k] for k in keys}, "ts_fixes": ev["ts_fixes"] + ev["ts_jumps"],
                         "keyframe_interval": ev["keyframe_interval"], "clock_skew_us": ev["clock_skew_us"],
                         "updated_us": self.clock.now_us()} for cam, ev in stats.items()]
                await self.writer.run(lambda c: camera_table.set_stats(c.db, rows))

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
                await self.alarms.raise_(CAMERA_OFFLINE, Msg(A_("camera {camera} is not recording: {why}"), camera=cam.id,
                                                             why=self.gaps.reason.get(cam.id, state)), camera=cam.id)
            elif state == RECORDING:
                await self.alarms.clear(CAMERA_OFFLINE.key(cam.id))

    async def _heartbeat(self, _stopping: asyncio.Event) -> None:
        while not self.stopping.is_set():
            await self.writer.run(lambda c: node_table.set_values(c.db, {"heartbeat_us": self.clock.now_us()}))
            await wait_or_stop(self.stopping, HEARTBEAT_S, self.clock)
