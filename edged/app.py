"""The composition root (design/0031, design/0068): start-up, run and shutdown of the daemon, in
the order durability needs: catalog open, half-done destructions finished, disk identity checked,
disk reconciled, then recording, retention, the tamper watcher and the control socket.

It stands above the parts it builds (edged/daemon/, edged/control/, edged/viewer/, mqtt/) and
is the only module that imports across them; no part imports it. `edged run` imports it late,
once the recorder workers are started (edged/cli/main.py)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from edged import __version__
from edged.alarms import Alarms
from edged.config import Config
from edged.control.accounts import AccountOps
from edged.control.audit import AuditOps
from edged.control.export import ExportOps, ReceiptWaits, staging_sweeper, sweep_staging
from edged.control.redact import RedactOps
from edged.control.enrol import EnrolOps
from edged.control.evidence import EvidenceOps
from edged.control.holds import HoldOps
from edged.control.inspections import InspectionOps
from edged.control.flags import FlagOps
from edged.control.maintenance import MaintenanceOps
from edged.control.operation import CatalogReader, handlers_of
from edged.control.retrieval import RequestOps
from edged.control.server import ControlServer, for_sessions
from edged.control.sessions import SessionOps, session_lookup
from edged.control.reads import ReadLedger
from edged.control.status import StatusOps
from edged.control.time import TimeOps
from edged.control.waiting import WaitingControl
from edged.daemon.camera_states import CameraStates
from edged.daemon.handover import Handover
from edged.daemon.health_monitor import HealthMonitor
from edged.daemon.host_clock import HostClock
from edged.daemon.inspection_runner import InspectionRunner
from edged.daemon.integrity import TamperGuard
from edged.daemon.keepalive import Keepalive, status_line
from edged.daemon.maintenance import Maintenance
from edged.daemon.notify import Notifier, while_extending
from edged.daemon.people_watch import PeopleWatch
from edged.daemon.recording.prestart import Early, Steps, lock_data, raise_nofile
from edged.daemon.recording.start_signals import StartSignals
from edged.daemon.disk_floor import DiskFloor
from edged.daemon.liveness import Liveness, close_leftovers as _close_leftovers
from edged.daemon.recording.recovery import StartupRecovery
from edged.daemon.backfill import Backfill
from edged.daemon.office_crl import OfficeCrl
from edged.daemon.peers import FromStandby
from edged.daemon.standby_server import StandbyServer
from edged.daemon.camera_clocks import CameraClocks
from storage.time.corroboration import CAMERA
from edged.daemon.time_gate import TimeGate, camera_readings
from edged.daemon.reporting import Reporting, signed_report
from edged.daemon.retention_runner import RetentionRunner, SpaceCheck
from edged.daemon.standby import Standby
from edged.daemon.signals import ReloadHook, install_signals, install_test_hooks
from edged.daemon.task_keeper import TaskFn
from edged.daemon.recording.supervisor import STOP_TIMEOUT_S, Supervisor, camera_row
from edged.i18n import Msg, A_
from edged.ports import Check, Outlet, Trigger
from edged.viewer import ViewerService
from storage import audit, cameras as camera_table, node as node_table
from storage import datainit
from storage.footage import restamps
from storage.keys import nodekey
from storage.alarm_kinds import MQTT_OUTBOX_FULL
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, wait_or_stop
from storage.disk.free_space import FreeSpace
from storage.disk.fsutil import private_dir, tighten
from storage.disk.layout import CATALOG_FILE
from storage.retention.run import finish_garbage

log = logging.getLogger(__name__)
STARTUP_STEP_S = 90  # EXTEND_TIMEOUT_USEC for each start-up step (reconciliation can be long)


async def run(cfg: Config, config_path: Path | None, init_data: bool = False, early: Early | None = None,
              steps: Steps | None = None, allow_secrets: bool = False, signals: StartSignals | None = None) -> int:
    """`early`: what `edged run` did before importing this module (edged.daemon.recording.prestart): the data
    folder's lock, and the workers it started, which the supervisor adopts. `allow_secrets`:
    --allow-config-secrets, for a SIGHUP's reload too. `signals`: those caught since `edged run` began."""
    # Everything the daemon makes is its user's alone (design/0017), whatever umask it was
    # started with; the modes given explicitly below say the same.
    os.umask(0o077)
    try:
        return await _run(cfg, config_path, init_data, early, steps or Steps(), allow_secrets,
                          signals or StartSignals().attach())
    finally:
        if early is not None:  # the lock is let go only once no worker it covers writes
            await _end_workers(early.workers)
            os.close(early.lock)


# The composition root, over 60 lines on purpose: one straight sequence (build every part with what
# it needs, then start them in the durability order of the module's docstring); split into
# functions, that order would be spread over several places.
async def _run(cfg: Config, config_path: Path | None, init_data: bool, early: Early | None, steps: Steps,
               allow_secrets: bool, signals: StartSignals) -> int:
    data_dir = cfg.storage.data_dir
    if early is None and not datainit.initialised(data_dir):
        if init_data or config_path is None:  # asked for (or the demo without a config file)
            # i18n: the journal and the audit record
            how = "edged run --init-data" if init_data else "edged run (demo, no config file)"
            try:
                done = await asyncio.to_thread(datainit.init_data, data_dir, datainit.operator(), how)
            except datainit.AlreadyInitialised as exc:
                log.critical("%s", exc)
                return 1
            log.warning("initialised the data folder %s: new catalog, node key %s (backed up in %s)",
                        data_dir, done["key_fingerprint"], done["key_backup"])
        elif signals.stopped or not await _wait_for_catalog(cfg, Notifier(), signals.stop_seen):  # stopped already, or while waiting
            return 0
    private_dir(data_dir)
    if tighten(data_dir):  # an older install's 0750/0640: closing the top closes all below
        log.info("made the data folder and its catalog, keys and folders private to edged (0700/0600)")
    if early is not None:
        lock = early.lock
    else:
        lock = lock_data(data_dir)
        raise_nofile()
    clock = SYSTEM  # the one clock (design/0034): every part below is handed it
    writer = CatalogWriter(data_dir / CATALOG_FILE, clock)
    # Ports (edged/ports.py) for the parts that need each other: connected below, before anything runs.
    alarm_out: Outlet[dict[str, Any]] = Outlet("alarm publish")            # -> MQTT reporting
    inspection_out: Outlet[dict[str, Any]] = Outlet("inspection publish")  # -> MQTT reporting
    event_out: Outlet[dict[str, Any]] = Outlet("motion event publish")     # -> MQTT reporting
    window_end = Trigger("maintenance end")                                # -> a retention pass at once
    disk_full: Outlet[BaseException] = Outlet("catalog write on a full disk")  # -> the disk floor
    excused = Check("alarm downgrade")                                     # <- the maintenance window
    alarms = Alarms(writer, clock, publish=alarm_out, downgrade=excused)
    guard = TamperGuard(data_dir, writer, alarms, clock)
    cameras = CameraStates(clock)  # each camera's recorder state, kept once (design/0040)
    monitor = HealthMonitor(cfg, writer, alarms, cameras, clock)
    # design/0059: may the wall clock judge age, and blame cameras? ([time] ntp: SIGHUP's config too)
    host_clock = HostClock(writer, alarms, clock, ntp_expected=lambda: monitor.cfg.time.ntp)
    monitor.host_untrusted, monitor.host_synced = host_clock.untrusted, host_clock.synced
    camera_clocks = CameraClocks(lambda: monitor.cfg, clock)  # SIGHUP's config too; each ONVIF camera's clock, at start and daily (design/0085)
    monitor.onvif_clock = camera_clocks.reading
    # design/0095: a source outside the box corroborates the host clock before anything goes by age (design/0126: cameras)
    time_gate = TimeGate(writer, alarms, clock, tolerance_us=lambda: monitor.cfg.time.corroborate_tolerance_us,
                         cameras=camera_readings(monitor), camera_ntp=camera_clocks.ntp_servers,
                         office_key=lambda: monitor.cfg.mqtt.enabled and monitor.cfg.mqtt.command_key is not None,
                         minimum_us=lambda: monitor.cfg.retention.min_retention_us, config=lambda: monitor.cfg,
                         disk_total=lambda: free.recent().total, by_two=lambda: monitor.cfg.time.confirm_by_two)
    # a camera is blamed for its clock against a host vouched for from outside the box (the office's
    # signed time, NTS), never by the cameras' own majority (design/0096 with design/0095)
    monitor.host_corroborated = lambda: (v := time_gate.verdict()).corroborated and v.source != CAMERA
    backfill = Backfill(lambda: monitor.cfg, writer, data_dir, guard, clock)  # gaps from the cameras' own recordings (design/0106)
    free = FreeSpace(data_dir, clock)  # the data disk's free space: its one reader (design/0069)
    try:
        await free.get()  # a first reading, for the status line at READY
    except OSError:
        pass  # the disk is gone: liveness says so once it runs
    space = SpaceCheck(cfg, free)  # segments opening -> a retention pass now when the disk is short
    notifier = Notifier()

    def announce_ready() -> None:  # the supervisor calls it once recording has started, never after a stop
        steps.mark("workers")
        notifier.ready(status_line(sup, runner, None))
        log.info("ready: recording has started (%s)", steps)

    sup = Supervisor(cfg, writer, alarms=alarms, health=monitor, cameras=cameras, guard=guard, on_segment_opened=space,
                     on_recording=announce_ready, clock=clock, early=early, publish_event=event_out,
                     disk_full=disk_full, restamp_steps=host_clock.book)
    monitor.to_worker = sup.workers.tell  # the reference pictures, which the workers compare with (design/0297)
    maintenance = Maintenance(cfg, writer, alarms, clock, after_end=window_end)
    runner = RetentionRunner(cfg, writer, alarms, expect=guard.expect, on_full_stop=sup.hold_recording, clock=clock,
                             space=space, protecting=maintenance.protecting,  # R1.7: no destruction in a window
                             distrust=host_clock.why_age_unjudged,  # invariant 10: nothing by age on a stepped clock
                             gate=time_gate)  # ... nor on one nothing outside the box corroborates (design/0095)
    window_end.connect(runner.poke)
    floor = DiskFloor(lambda: runner.cfg, writer, alarms, sup.hold_for_disk, runner.poke,
                      closing=lambda: [u.done for u in sup.gaps.unclosed.values()], expect=guard.expect, clock=clock,
                      usage=free.usage_of)
    disk_full.connect(floor.on_write_error)
    liveness = Liveness(data_dir, writer, alarms, sup, runner, guard, clock)
    inspector = InspectionRunner(cfg, writer, monitor, alarms, clock, publish=inspection_out)
    excused.connect(maintenance.excuses)
    viewer = ViewerService(cfg, writer, clock, alarms=alarms)
    # First: a SIGTERM during start-up is a clean stop.
    reload_hooks: list[ReloadHook] = [viewer.reload]  # run in order after the supervisor's reload; more added below
    install_signals(sup, (runner, space, monitor, inspector, maintenance), notifier, config_path, reload_hooks,
                    allow_secrets, Handover(sup, notifier, config_path, allow_secrets).request)  # SIGUSR2 (design/0353)
    signals.hand_over()  # a SIGTERM since `edged run` began: a clean stop now (design/0205)
    hooked = install_test_hooks(writer, data_dir, runner) if os.environ.get("EDGED_TEST_HOOKS") == "1" else None
    notifier.extend_timeout(STARTUP_STEP_S)
    await while_extending(notifier, writer.start(), STARTUP_STEP_S)  # a schema upgrade can take minutes
    steps.mark("catalog")
    reader = CatalogReader(data_dir, lambda: sup.storage_lost)  # reads refuse while the data disk is gone
    holds = HoldOps(writer, runner, reader, alarms)
    inspections = InspectionOps(monitor, inspector, reader, clock)
    reads = ReadLedger(writer)   # footage listings on the record, coalesced a minute per person (issue 45)
    viewer.reads = reads         # the playback timeline's thumbnails too (design/0114)
    handlers = handlers_of(
        StatusOps(lambda: runner.cfg, writer, reader, clock, reads, clock_dispute=lambda: time_gate.dispute),  # runner.cfg: SIGHUP's config
        holds, MaintenanceOps(maintenance, reader), inspections,
        SessionOps(cfg, writer, alarms, clock), AccountOps(cfg, writer, alarms, clock),
        RequestOps(cfg, writer, alarms, clock),
        AuditOps(writer, reader, clock, cfg_of=lambda: runner.cfg, deadlines=inspector.deadlines),
        FlagOps(writer, reader, host_clock.recount, clock), TimeOps(time_gate),
        EvidenceOps(writer, runner, reader))  # a portable device's file into custody (design/0349)
    control = ControlServer(cfg.control.socket, handlers, session_lookup(writer, clock), group=cfg.control.group)
    viewer.operate = for_sessions(handlers)  # the web desk runs the same operations (design/0073)
    liveness.control = control

    def outbox_full(full: bool) -> None:
        sup.submit(alarms.set(full, MQTT_OUTBOX_FULL,
                              Msg(A_("the MQTT outbox is full: messages for the central office are being refused"))),
                   "outbox-alarm")

    try:
        try:  # the node's Ed25519 key signs exports; its public half goes in the MQTT birth
            node_key = await _node_key(writer, data_dir)
            steps.mark("node key")
        except nodekey.NodeKeyError as exc:
            log.critical("%s", exc)
            return 1
        reporting = Reporting(cfg, writer, sup, runner,
                              commands={"hold": holds.mqtt_command, "inspect": inspections.run},
                              on_outbox_full=outbox_full, node_key=node_key, clock=clock,
                              on_office_time=time_gate.office, time_sources=time_gate.sources,
                              clock_dispute=lambda: time_gate.dispute)
        if cfg.mqtt.enabled:
            alarm_out.connect(reporting.alarm)
            inspection_out.connect(reporting.reporter.inspection)
            event_out.connect(reporting.event)
        extra: dict[str, TaskFn] = {}
        keepalive = Keepalive(notifier, sup, writer, runner, reporting)

        async def retention_and_birth(new: Config) -> None:
            await runner.apply_policy(new, await asyncio.to_thread(config_source, new))
            reporting.refresh(new)

        reload_hooks.append(retention_and_birth)
        crl = OfficeCrl(data_dir)
        if cfg.standby.enabled:  # a standby: it hears the other boxes on the reporter's connection (design/0107)
            standby = Standby(cfg, writer, sup, clock, followers=(runner, space, monitor, inspector, maintenance),
                              on_config=reporting.refresh)
            reporting.reporter.watch, reporting.reporter.on_watched = standby.watch, standby.heard
            reload_hooks.append(standby.reload)  # last: after a SIGHUP, its boxes' cameras again
            extra["standby"] = standby.run
            if cfg.backfill.listen is not None:  # it serves its boxes their gaps (design/0115)
                extra["standby-serve"] = StandbyServer(lambda: standby.cfg, writer, data_dir, clock, crl, alarms).run
        await crl.keep(reporting.reporter, cfg.backfill.listen is not None or cfg.backfill.standby is not None)
        # the office's receipts come only to a box that holds its key (mqtt.command_key), over a live link (design/0375)
        receipts = ReceiptWaits(online=lambda: reporting.status == "connected" and reporting.cfg.mqtt.command_key is not None)
        reporting.receipt_kept = receipts.kept
        handlers.update(ExportOps(cfg, writer, node_key, runner.in_use, clock, receipts).handlers())
        handlers.update(RedactOps(cfg, writer, node_key).handlers())
        handlers.update(EnrolOps(cfg, writer, node_key).handlers())
        handlers["audit.report"] = signed_report(handlers["audit.report"], cfg, node_key, clock)
        await writer.run(lambda c: camera_table.sync(c.db, [camera_row(cam) for cam in cfg.cameras], c.clock.now_us()))
        steps.mark("cameras")
        notifier.extend_timeout(STARTUP_STEP_S)
        finished = await writer.run(lambda c: finish_garbage(c.db, data_dir))
        if finished:
            log.info("finished %d destructions a crash had interrupted", finished)
        steps.mark("garbage")
        lost = await liveness.first_look()
        steps.mark("disk identity")
        if lost:
            log.critical("%s; recording, retention and reconciliation wait for the right disk", sup.storage_lost)
        else:  # recovery of what the last run left open goes on alongside recording (design/0025)
            started_us = early.started_us if early is not None else clock.now_us()  # the new run's files are after it
            # the workers' rows wait in their pipes until the supervisor runs: none of this run's yet
            before_id = await writer.run(lambda c: restamps.newest_id(c.db))
            recovery = StartupRecovery(data_dir, writer, alarms, sup.gaps, [c.id for c in cfg.cameras], guard.expect,
                                       started_us, before_id)
            extra["startup-recovery"] = recovery.run
        # before the node row forgets the last clean stop (a handover's next daemon: from its own start)
        await host_clock.start(early.started_us if early is not None and early.handed else None)
        steps.mark("host clock")
        await writer.run(lambda c: node_table.set_values(c.db, {
            "pid": os.getpid(), "started_us": clock.now_us(), "heartbeat_us": clock.now_us(), "version": __version__,
            "site": cfg.site.id, "site_name": cfg.site.name, "node": cfg.site.node,
            "config": cfg.source, "data_dir": str(data_dir), "control_socket": str(cfg.control.socket),
            "stopped_us": None}))
        steps.mark("node row")
        await runner.apply_policy(cfg, await asyncio.to_thread(config_source, cfg))  # changed while down
        session = await writer.run(lambda c: node_table.next_session(c.db))
        steps.mark("session")
        await time_gate.start()  # chrony's NTS, read once: the birth names what corroborates the clock
        await reporting.start(session)
        await maintenance.load()
        # no viewing's working copy outlives a restart
        await sweep_staging(writer, data_dir, working_too=True, clock=clock)
        await control.start()
        steps.mark("reporting, control socket")
        log.info("recording %d cameras into %s", sum(c.enabled for c in cfg.cameras), data_dir)

        tasks = {**extra, "retention": runner.run, "host-clock": host_clock.run, "tamper-watch": guard.run, "keepalive": keepalive.run,
                 "storage-watch": liveness.run, "disk-floor": floor.run,
                 "health": monitor.run, "camera-clocks": camera_clocks.run, "time-sources": time_gate.run, "backfill": backfill.run, "from-standby": FromStandby(lambda: monitor.cfg, writer, data_dir, guard, clock, crl=crl).run, "inspections": inspector.run, "viewer": viewer.run,
                 "reporting": reporting.run,
                 "people": PeopleWatch(cfg, writer, alarms, clock).run,
                 "maintenance-bound": maintenance.run,
                 "staging-sweep": staging_sweeper(writer, data_dir, clock), "read-ledger": reads.run}
        if hooked is not None:
            tasks = {name: hooked(name, fn) for name, fn in tasks.items()}
        try:
            # Adopted workers' first segments wait for the recovery of the last run's (their gap
            # is measured from it): it runs even when a SIGTERM came during start-up.
            await sup.run(extra=tasks, must_run=frozenset({"startup-recovery"}))
        except Exception:
            notifier.trigger()  # a fatal internal state: let systemd restart us at once
            raise
        stranded = await writer.run(_close_leftovers, data_dir)
        await writer.run(lambda c: node_table.set_values(c.db, {"stopped_us": clock.now_us()}))
        if stranded.missing:
            log.error("stopped; %d open segments were not on the data disk's path (%s): marked missing until "
                      "the disk is back", len(stranded.missing), sup.storage_lost or "their files are gone")
        else:
            log.info("stopped; every open segment was closed")
        return 0
    finally:
        await control.close()
        await writer.close()
        if early is None:
            os.close(lock)


WAIT_DATA_S = 2.0


async def _wait_for_catalog(cfg: Config, notifier: Notifier, stop: asyncio.Event) -> bool:
    """An empty data folder is as likely an unmounted disk as a new installation: never make a
    new catalog and node key for it (design/0023). Wait for the disk, answering edgectl that
    it waits (edged/control/waiting.py); False if stopped first."""
    data_dir = cfg.storage.data_dir
    # i18n: the journal and the audit record
    msg = (f"no catalog in {data_dir}: waiting for the data disk. If this is a new installation, "
           f"initialise it with `edged init-data --config ...` (on the audit record)")
    log.critical("%s", msg)
    control = WaitingControl(cfg.control.socket, cfg.control.group, data_dir, SYSTEM.now_us())
    try:
        if control.path.parent.is_dir():  # not made here: it may be the empty mount point's missing folder
            await control.start()
        else:
            log.warning("edgectl cannot reach edged while it waits: the control socket's folder %s is missing",
                        control.path.parent)
        notifier.ready("WAITING: " + msg)
        while not datainit.initialised(data_dir):
            notifier.status("WAITING: " + msg)
            if await wait_or_stop(stop, WAIT_DATA_S):
                return False
        log.warning("a catalog appeared in %s: starting", data_dir)
        return True
    finally:
        await control.close()


async def _node_key(writer: CatalogWriter, data_dir: Path) -> nodekey.NodeKey:
    """The node's key, never a new one here (datainit makes it); kept backed up (design/0023)."""
    recorded = await writer.run(lambda c: node_table.value(c.db, "key_fingerprint"))
    key, restored = await asyncio.to_thread(nodekey.load_existing, data_dir, recorded)
    await asyncio.to_thread(nodekey.backup, data_dir)
    if restored:
        log.warning("the node key was missing: restored from %s", nodekey.backup_path(data_dir))
        await writer.run(lambda c: audit.append(c.db, "edged", "node_key.restored", {
            "fingerprint": key.fingerprint, "from": str(nodekey.backup_path(data_dir).relative_to(data_dir))}))
    if recorded is None:  # a catalog from before fingerprints were recorded
        await writer.run(lambda c: node_table.set_values(c.db, {"key_fingerprint": key.fingerprint}))
    return key


async def _end_workers(procs: list[asyncio.subprocess.Process | None]) -> None:
    """Workers started early that the daemon did not take over (it stopped during start-up, or
    failed): end of input makes them close their segments (recovered at the next start)."""
    left = [p for p in procs if p is not None and p.returncode is None]
    for proc in left:
        if proc.stdin is not None:
            proc.stdin.close()
    if left:
        _done, pending = await asyncio.wait([asyncio.ensure_future(p.wait()) for p in left], timeout=STOP_TIMEOUT_S)
        for proc in left:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def config_source(cfg: Config) -> dict[str, Any]:
    """Where a config came from, for the record of a retention change: the file, its hash,
    owner and time (a SIGHUP does not say who sent it; the file says who could write it)."""
    path = Path(cfg.source)
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError:
        return {"config": cfg.source}
    return {"config": cfg.source, "sha256": hashlib.sha256(data).hexdigest(), "owner_uid": st.st_uid,
            "mtime_us": st.st_mtime_ns // 1000}
