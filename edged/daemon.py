"""Start-up, run and shutdown of the daemon, in the order durability needs:
catalog open, cameras synced, disk reconciled, then recording."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from edged import __version__
from edged.config import Config, ConfigError, load_config
from edged.supervisor import Supervisor, camera_row, now_us
from storage.catalog import Catalog, CatalogWriter
from storage.layout import CATALOG_FILE
from storage.reconcile import reconcile

log = logging.getLogger(__name__)


async def run(cfg: Config, config_path: Path | None) -> int:
    data_dir = cfg.storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    writer = CatalogWriter(data_dir / CATALOG_FILE)
    sup = Supervisor(cfg, writer)
    _install_signals(sup, config_path)  # first: a SIGTERM during start-up is a clean stop too
    await writer.start()
    try:
        await writer.run(Catalog.sync_cameras, [camera_row(c) for c in cfg.cameras])
        report = await writer.run(reconcile, data_dir)
        log.info("catalog reconciled with the disk: %s", report.summary())
        await writer.run(Catalog.set_node, {
            "pid": os.getpid(), "started_us": now_us(), "heartbeat_us": now_us(), "version": __version__,
            "site": cfg.site.id, "site_name": cfg.site.name, "node": cfg.site.node,
            "config": cfg.source, "data_dir": str(data_dir), "stopped_us": None})
        log.info("recording %d cameras into %s", sum(c.enabled for c in cfg.cameras), data_dir)
        await sup.run()
        await writer.run(Catalog.set_node, {"stopped_us": now_us()})
        log.info("stopped; every open segment was closed")
        return 0
    finally:
        await writer.close()


def _install_signals(sup: Supervisor, config_path: Path | None) -> None:
    loop = asyncio.get_running_loop()

    def stop(signame: str) -> None:
        if sup.stopping.is_set():
            log.warning("%s again: exiting at once; open segments are recovered at the next start", signame)
            sup.kill_workers()
            os._exit(1)
        log.info("%s: closing open segments and stopping", signame)
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
        log.info("SIGHUP: reloading the camera list from %s", config_path)
        task = loop.create_task(sup.reload(cfg), name="reload")
        sup.background.add(task)
        task.add_done_callback(sup.background.discard)

    loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, reload)
