"""Start-up, run and shutdown of the daemon, in the order durability needs:
catalog open, half-done destructions finished, disk identity checked, disk reconciled,
then recording, retention, the tamper watcher and the control socket."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import threading
from pathlib import Path

from edged import __version__
from edged.alarms import Alarms
from edged.config import Config, ConfigError, load_config
from edged.control import ControlServer
from edged.control_export import export_handlers, staging_sweeper, sweep_staging
from edged.control_health import health_handlers
from edged.control_ops import control_handlers
from edged.control_people import people_handlers, session_lookup
from edged.control_read import read_handlers
from edged.health_monitor import HealthMonitor
from edged.inspection_runner import InspectionRunner
from edged.integrity import TamperGuard, check_identity
from edged.keepalive import Keepalive, status_line
from edged.maintenance import Maintenance
from edged.notify import Notifier
from edged.people_watch import PeopleWatch
from edged.reporting import Reporting, signed_report
from edged.retention_runner import RetentionRunner
from edged.supervisor import Supervisor, camera_row, now_us
from edged.viewer import viewer_task
from storage import audit, nodekey
from storage.catalog import Catalog, CatalogWriter
from storage.fsutil import PRIVATE_FILE, private_dir, tighten
from storage.layout import CATALOG_FILE
from storage.reconcile import Report, reconcile
from storage.retention_store import finish_garbage

log = logging.getLogger(__name__)
LOCK_FILE = "edged.lock"
STARTUP_STEP_S = 90  # EXTEND_TIMEOUT_USEC for each start-up step (reconciliation can be long)


class AlreadyRunning(Exception):
    pass


def _lock(data_dir: Path) -> int:
    """One daemon per data folder: two writers would corrupt the catalog's story."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"another edged is already running on {data_dir}") from None
    return fd


async def run(cfg: Config, config_path: Path | None) -> int:
    # Everything the daemon makes is its user's alone (design/0017), whatever umask it was
    # started with; the modes given explicitly below say the same.
    os.umask(0o077)
    data_dir = cfg.storage.data_dir
    private_dir(data_dir)
    if tighten(data_dir):  # an older install's 0750/0640: closing the top closes all below
        log.info("made the data folder and its catalog, keys and folders private to edged (0700/0600)")
    lock = _lock(data_dir)
    writer = CatalogWriter(data_dir / CATALOG_FILE)
    alarms = Alarms(writer)
    guard = TamperGuard(data_dir, writer, alarms)
    sup = Supervisor(cfg, writer, guard=guard)
    runner = RetentionRunner(cfg, writer, alarms, expect=guard.expect, on_full_stop=sup.hold_recording)
    sup.retention = runner
    sup.alarms = alarms
    monitor = HealthMonitor(cfg, writer, alarms)
    sup.health = monitor
    inspector = InspectionRunner(cfg, writer, monitor, alarms)
    maintenance = Maintenance(data_dir, writer, alarms, cfg.accounts.keep_backups)
    notifier = Notifier()
    keepalive = Keepalive(notifier, sup, writer, runner)
    # First: a SIGTERM during start-up is a clean stop.
    _install_signals(sup, (runner, monitor, inspector), notifier, config_path)
    if os.environ.get("EDGED_TEST_HOOKS") == "1":
        _install_test_hooks(writer)
    notifier.extend_timeout(STARTUP_STEP_S)
    await writer.start()
    handlers = control_handlers(sup, writer, runner, maintenance)
    handlers.update(health_handlers(monitor, inspector))
    handlers.update(people_handlers(cfg, writer, alarms))
    handlers.update(read_handlers(lambda: runner.cfg, writer, data_dir))  # runner.cfg: SIGHUP's config
    control = ControlServer(cfg.control.socket, handlers, session_lookup(writer), group=cfg.control.group)

    def outbox_full(full: bool) -> None:
        sup.submit(alarms.set(full, "mqtt_outbox_full", "mqtt_outbox_full", "critical", None,
                              "the MQTT outbox is full: messages for the central office are being refused"),
                   "outbox-alarm")

    reporting = Reporting(cfg, writer, sup, runner,
                          commands={"hold": handlers["hold.add"], "inspect": handlers["inspect.run"]},
                          on_outbox_full=outbox_full)
    if cfg.mqtt.enabled:
        alarms.publish = reporting.alarm
        inspector.publish = reporting.reporter.inspection
    keepalive.reporter = reporting
    try:
        try:  # the node's Ed25519 key signs exports; its public half goes in the MQTT birth
            node_key = await asyncio.to_thread(nodekey.load_or_create, data_dir)
        except nodekey.NodeKeyError as exc:
            log.critical("%s", exc)
            return 1
        handlers.update(export_handlers(cfg, writer, node_key, runner.in_use))
        reporting.node_key = node_key
        handlers["audit.report"] = signed_report(handlers["audit.report"], cfg, node_key)
        await writer.run(Catalog.sync_cameras, [camera_row(c) for c in cfg.cameras])
        notifier.extend_timeout(STARTUP_STEP_S)
        finished = await writer.run(lambda c: finish_garbage(c.db, data_dir))
        if finished:
            log.info("finished %d destructions a crash had interrupted", finished)
        runner.blocked = await writer.run(check_identity, data_dir)
        if runner.blocked:
            log.critical("%s; retention and reconciliation are suspended, recording goes on", runner.blocked)
            report = Report()
        else:
            notifier.extend_timeout(STARTUP_STEP_S)
            report = await writer.run(reconcile, data_dir)
        log.info("catalog reconciled with the disk: %s", report.summary())
        if report.missing:  # footage that vanished while edged was not watching
            await writer.run(lambda c: audit.append(c.db, "edged", "footage.missing", {"paths": report.missing}))
            await alarms.raise_("footage_missing", "footage_missing", "critical", None,
                                f"{len(report.missing)} footage files vanished while edged was not running "
                                f"(first: {report.missing[0]})", {"paths": report.missing[:100]})
        await writer.run(Catalog.set_node, {
            "pid": os.getpid(), "started_us": now_us(), "heartbeat_us": now_us(), "version": __version__,
            "site": cfg.site.id, "site_name": cfg.site.name, "node": cfg.site.node,
            "config": cfg.source, "data_dir": str(data_dir), "control_socket": str(cfg.control.socket),
            "stopped_us": None})
        session = await writer.run(_next_session)
        await reporting.start(session)
        await maintenance.load()
        await sweep_staging(writer, data_dir, working_too=True)  # no viewing's working copy outlives a restart
        await control.start()
        log.info("recording %d cameras into %s", sum(c.enabled for c in cfg.cameras), data_dir)

        async def announce_ready(stopping: asyncio.Event) -> None:
            await sup.recording_started.wait()
            notifier.ready(status_line(sup, runner, None))
            log.info("ready: recording has started")

        try:
            await sup.run(extra={"retention": runner.run, "tamper-watch": guard.run, "keepalive": keepalive.run,
                                 "health": monitor.run, "inspections": inspector.run,
                                 "viewer": viewer_task(cfg, writer),
                                 "ready": announce_ready, "reporting": reporting.run,
                                 "people": PeopleWatch(cfg, writer, alarms).run,
                                 "staging-sweep": staging_sweeper(writer, data_dir)})
        except Exception:
            notifier.trigger()  # a fatal internal state: let systemd restart us at once
            raise
        await writer.run(Catalog.set_node, {"stopped_us": now_us()})
        log.info("stopped; every open segment was closed")
        return 0
    finally:
        await control.close()
        await writer.close()
        os.close(lock)


def _next_session(c: Catalog) -> int:
    """A counter of daemon starts, for the birth message: the central side sees restarts."""
    row = next(c.db.query("SELECT value FROM node WHERE key = 'session'"), None)
    session = int(row["value"]) + 1 if row else 1
    c.set_node({"session": session})
    return session


def _install_test_hooks(writer: CatalogWriter) -> None:
    """EDGED_TEST_HOOKS=1 only: SIGUSR2 wedges the catalog writer, to test the watchdog."""
    wedge = threading.Event()

    def block() -> None:
        log.warning("test hook: blocking the catalog writer")
        asyncio.get_running_loop().run_in_executor(writer._pool, wedge.wait)

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, block)


def _install_signals(sup: Supervisor, followers: tuple, notifier: Notifier,
                     config_path: Path | None) -> None:
    loop = asyncio.get_running_loop()

    def stop(signame: str) -> None:
        if sup.stopping.is_set():
            log.warning("%s again: exiting at once; open segments are recovered at the next start", signame)
            sup.kill_workers()
            os._exit(1)
        log.info("%s: closing open segments and stopping", signame)
        notifier.stopping()
        sup.request_stop()

    def reload() -> None:
        if config_path is None:
            log.warning("SIGHUP: running on the embedded default config, nothing to reload")
            return
        try:
            cfg = load_config(config_path)
        except ConfigError as exc:
            log.error("SIGHUP: config not reloaded, still running the previous one: %s", exc)
            return
        log.info("SIGHUP: reloading the cameras, retention, health and inspection settings from %s", config_path)
        for follower in followers:  # retention, health and inspections take the new settings at once
            follower.cfg = cfg
        sup.submit(sup.reload(cfg), "reload")

    loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, reload)
