"""A data disk that fills: an alarm and a pause, never an exit (design/0058).

Every second this task reads the data disk's free space. Below the retention reserve it asks
retention for a pass now (not only when a segment opens: 64 cameras open theirs together, and a
reserve can fill between two openings). Below the floor (edged/rules/disk.py) recording pauses,
a critical `disk_full` alarm is raised and `edgectl status` says so, so that the catalog's own
writes, retention's destructions first, still find room; it resumes when twice the floor is
free. A catalog write that fails for a full disk anyway (something else filled it) is reported
here by the supervisor and does the same; the rows such writes left behind are put right by a
reconciliation with the disk before recording resumes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Awaitable, Callable

from edged.alarms import Alarms
from edged.config import Config
from edged.i18n import Msg, A_
from edged.rules.disk import floor_bytes, short
from recorder import events
from storage import audit, node as node_table
from storage.alarm_kinds import DISK_FULL
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from storage.disk.full import is_disk_full
from storage.footage.reconcile import reconcile

log = logging.getLogger(__name__)

CHECK_S = 1.0          # how often free space is read
POKE_S = 10.0          # below the reserve, a retention pass at most this often from here
SETTLE_S = 10.0        # at most this long for the paused cameras' last closes before reconciling


class DiskFloor:
    def __init__(self, cfg_of: Callable[[], Config], writer: CatalogWriter, alarms: Alarms,
                 hold: Callable[[str | None], Awaitable[None]], retention_now: Callable[[], None],
                 closing: Callable[[], list[asyncio.Future[events.Closed | events.Stranded | None]]], expect: Callable[[str, str], None] | None = None,
                 clock: Clock = SYSTEM, usage: Callable[[Path], Any] = shutil.disk_usage):
        self.cfg_of = cfg_of                # SIGHUP's config (the reserve may change)
        self.writer, self.alarms, self.clock = writer, alarms, clock
        self.hold = hold                    # the supervisor's hold_for_disk
        self.retention_now = retention_now  # a retention pass now
        self.closing = closing              # the open segments' closes still to come (edged.daemon.recording.gaps)
        self.expect = expect                # the tamper watcher: what reconciliation itself renames
        self.usage = usage
        self.reason: str | None = None      # why recording is paused, while it is
        self.write_failed = False           # a catalog write failed: reconcile before resuming
        self._alarm_owed = False            # raising the alarm failed (no room for it yet)
        self._poked = float("-inf")         # when this asked retention for a pass

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.check()
            await wait_or_stop(stopping, CHECK_S, self.clock)

    async def check(self) -> None:
        cfg = self.cfg_of()
        try:
            usage = await asyncio.to_thread(self.usage, cfg.storage.data_dir)
        except OSError:
            return  # the disk is gone: edged/daemon/liveness.py says so
        reserve = cfg.retention.reserve_for(usage.total)
        floor = floor_bytes(reserve)
        now = asyncio.get_running_loop().time()
        if usage.free < reserve and now - self._poked >= POKE_S:
            self._poked = now
            self.retention_now()
        if short(usage.free, floor, self.reason is not None):
            if self.reason is None:
                # i18n: the state's reason, kept as data (the next two lines)
                await self._pause(f"{usage.free / 1e6:.0f} MB free on the data disk, below the {floor / 1e6:.0f} MB "
                                  "edged keeps for its catalog", usage.free, floor)
            elif self._alarm_owed:
                await self._raise(usage.free, floor)
        elif self.reason is not None:
            await self._resume(usage.free)

    async def on_write_error(self, exc: BaseException) -> None:
        """The supervisor's catalog write failed for a full disk (storage.disk.full.is_disk_full)."""
        self.write_failed = True
        log.critical("a catalog write failed: %s", exc)
        if self.reason is None:
            await self._pause(f"a catalog write failed: {exc}", None, None)  # i18n: the state's reason, data

    async def _pause(self, reason: str, free: int | None, floor: int | None) -> None:
        self.reason = reason
        log.critical("recording paused: %s; retention is making room", reason)
        await self.hold(reason)
        self.retention_now()
        await self._raise(free, floor)

    async def _raise(self, free: int | None, floor: int | None) -> None:
        assert self.reason is not None
        try:
            await self.alarms.raise_(DISK_FULL,
                                     Msg(A_("recording paused: {why}; retention is making room"), why=self.reason),
                                     {"free_bytes": free, "floor_bytes": floor})
            await self._record({"state": "full", "reason": self.reason, "since_us": self.clock.now_us()},
                               "storage.disk.full", {"reason": self.reason, "free_bytes": free})
            self._alarm_owed = False
        except Exception as exc:  # noqa: BLE001 - no room even for the alarm: raised at the next look
            if not is_disk_full(exc):
                raise
            self._alarm_owed = True

    async def _resume(self, free: int) -> None:
        if self.write_failed:  # rows the failed writes left behind, put right from the disk
            await self._settle()
            report = await self.writer.run(lambda c: reconcile(c, self.cfg_of().storage.data_dir, self.expect))
            log.warning("catalog reconciled with the disk after it was full: %s", report.summary())
            self.write_failed = False
        self.reason = None
        await self.hold(None)
        log.warning("recording resumed: %.0f MB free on the data disk", free / 1e6)
        await self.alarms.clear(DISK_FULL.key())
        await self._record(None, "storage.full_cleared", {"free_bytes": free})

    async def _settle(self) -> None:
        pending = self.closing()
        if pending:
            await asyncio.wait(pending, timeout=SETTLE_S)

    async def _record(self, state: dict[str, Any] | None, action: str, details: dict[str, Any]) -> None:
        def write(c: Catalog) -> None:
            node_table.set_values(c.db, {"disk_full": json.dumps(state) if state else None})
            audit.append(c.db, "edged", action, details)

        await self.writer.run(write)
