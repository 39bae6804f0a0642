"""The heartbeat behind WATCHDOG=1, and the one-line STATUS for `systemctl status`.

A ping says: the event loop answers on time, the recorder workers are sending events and
the catalog writer is writing. If any of them stalls, the pings stop and systemd restarts
edged (WatchdogSec), so a hung recorder does not go unnoticed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from edged.daemon.notify import Notifier
from storage.states.cameras import RECORDING
from storage.catalog import CatalogWriter
from storage.time.clock import wait_or_stop

if TYPE_CHECKING:  # types only: the composition root (edged/app.py) builds them
    from edged.daemon.reporting import Reporting
    from edged.daemon.retention_runner import RetentionRunner
    from edged.daemon.recording.supervisor import Supervisor

log = logging.getLogger(__name__)

STALL_S = 15.0          # no progress for this long is a hang (heartbeats write every 2 s)
STATUS_EVERY_S = 5.0


def status_line(sup: Supervisor, runner: RetentionRunner, reporter_status: str | None) -> str:
    states = sup.cameras.all()
    enabled = [c for c in sup.cfg.cameras if c.enabled]
    recording = sum(1 for c in enabled if states.get(c.id) == RECORDING)
    usage = runner.free.last()  # read by the keepalive's loop just before (never here, on the event loop)
    retention = "suspended" if runner.blocked else ("BREACHED" if runner.breached else "OK")
    broker = "not configured" if not reporter_status or reporter_status == "disabled" else reporter_status
    parts = [f"{recording}/{len(enabled)} cameras recording", f"{usage.free / 1e9:.1f} GB free" if usage is not None else "free space unknown", f"retention {retention}",
             f"broker {broker}"]
    if sup.paused:
        parts.insert(0, "RECORDING STOPPED (disk full)")
    if sup.disk_full:
        parts.insert(0, f"RECORDING PAUSED (data disk full: {sup.disk_full})")
    if sup.storage_lost:
        parts.insert(0, f"RECORDING STOPPED (data disk gone: {sup.storage_lost})")
    return ", ".join(parts)


class Keepalive:
    def __init__(self, notifier: Notifier, sup: Supervisor, writer: CatalogWriter, runner: RetentionRunner,
                 reporter: Reporting | None = None):
        self.notifier = notifier
        self.sup, self.writer, self.runner, self.reporter = sup, writer, runner, reporter
        self.pings = 0

    def _interval(self) -> float:
        if self.notifier.watchdog_us:
            return min(STATUS_EVERY_S, self.notifier.watchdog_us / 2e6)
        return STATUS_EVERY_S

    async def run(self, stopping: asyncio.Event) -> None:
        interval = self._interval()
        seen = (self.sup.events, self.writer.writes)
        progress_at = [time.monotonic(), time.monotonic()]
        stalled_before = ""
        while not stopping.is_set():
            start = time.monotonic()
            if await wait_or_stop(stopping, interval):
                break
            now = time.monotonic()
            lag = now - start - interval
            current = (self.sup.events, self.writer.writes)
            for i in (0, 1):
                if current[i] != seen[i]:
                    progress_at[i] = now
            seen = current
            recorder_idle_ok = self.sup.held or not any(c.enabled for c in self.sup.cfg.cameras)
            stalled = [name for name, ok in (
                ("event loop", lag < max(interval, 1.0)),
                ("recorder", recorder_idle_ok or now - progress_at[0] < STALL_S),
                ("catalog writer", now - progress_at[1] < STALL_S)) if not ok]
            if stalled:
                what = ", ".join(stalled)
                if what != stalled_before:
                    log.error("watchdog: %s made no progress; withholding WATCHDOG=1 so systemd restarts edged", what)
                stalled_before = what
            else:
                stalled_before = ""
                self.notifier.watchdog()
                self.pings += 1
            reporter_status = getattr(self.reporter, "status", None)
            try:
                await self.runner.free.get()  # for the status line, read off the event loop
            except OSError:
                pass  # the disk is gone: the line says so from the supervisor's state
            self.notifier.status(("STALLED: " + stalled_before + "; ") * bool(stalled_before)
                                 + status_line(self.sup, self.runner, reporter_status))
