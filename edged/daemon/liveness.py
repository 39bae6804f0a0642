"""What the daemon does when its data disk goes away and comes back (design/0023).

Lost: recording stops (cameras are removed from their workers, so an open segment is closed
on the disk it was written to), retention is suspended, a critical `storage_lost` alarm is
raised and the node row says so (edgectl status, the STATUS line). Back: the catalog is
reconciled with the disk (segments stranded by the loss are recovered), then recording
resumes and the alarm clears.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edged.alarms import Alarms
from edged.daemon.integrity import prepare_identity
from edged.daemon.storage_watch import StorageWatch
from edged.i18n import Msg, A_
from storage import audit, node as node_table
from storage.footage import segment_rows
from storage.alarm_kinds import FOOTAGE_MISSING, STORAGE_LOST
from storage.catalog import Catalog, CatalogWriter
from storage.footage.segment_rows import STORAGE_LOST_NOTE, WRITING
from storage.time.clock import SYSTEM, Clock
from storage.footage.reconcile import Report, reconcile, recover_open

if TYPE_CHECKING:  # types only: the composition root (edged/app.py) builds them
    from edged.daemon.integrity import TamperGuard
    from edged.daemon.retention_runner import RetentionRunner
    from edged.daemon.recording.supervisor import Supervisor

log = logging.getLogger(__name__)


def close_leftovers(catalog: Catalog, data_dir: Path) -> Report:
    """At a clean stop: a segment still `writing` (its close failed) is recovered if its file
    is at its path, else marked missing, to be recovered when its disk is back; never left
    `writing`, never called closed."""
    report = Report()
    recover_open(catalog, data_dir, segment_rows.in_state(catalog.db, WRITING), report,
                 absent=STORAGE_LOST_NOTE + "file not at its path when edged stopped")  # i18n: stored as data
    return report


class Liveness:
    def __init__(self, data_dir: Path, writer: CatalogWriter, alarms: Alarms, sup: Supervisor, runner: RetentionRunner,
                 guard: TamperGuard, clock: Clock = SYSTEM):
        self.data_dir = data_dir
        self.clock = clock
        self.writer, self.alarms, self.sup, self.runner, self.guard = writer, alarms, sup, runner, guard
        self.watch: StorageWatch | None = None
        self.control: Any = None  # edged.control.ControlServer: its socket may sit on the lost disk
        self._lock = asyncio.Lock()

    async def first_look(self) -> str | None:
        """At start-up, before reconciliation: None if the disk is the right one."""
        expected = await self.writer.run(prepare_identity, self.data_dir)
        self.watch = StorageWatch(self.data_dir, expected, self._lost, self._back)
        problem = await self.watch.first_look()
        self.sup.video_dev = self.watch.video_dev
        if problem:
            self.sup.storage_lost = problem
            self.runner.blocked = "the data disk is not the right one: " + problem
        else:
            await self.alarms.clear(STORAGE_LOST.key())  # raised before a stop: the right disk is here now
        await self._record(problem)
        return problem

    async def run(self, stopping: asyncio.Event) -> None:
        assert self.watch is not None
        await self.watch.run(stopping)

    async def _record(self, problem: str | None) -> None:
        state = {"state": "lost" if problem else "ok", "reason": problem, "since_us": self.clock.now_us()}
        await self.writer.run(lambda c: node_table.set_values(c.db, {"storage": json.dumps(state)}))

    async def _lost(self, reason: str) -> None:
        async with self._lock:
            self.runner.blocked = "the data disk is not the right one: " + reason
            await self.sup.hold_for_storage(reason)
            await self.alarms.raise_(STORAGE_LOST,
                                     Msg(A_("recording stopped: {why}"), why=reason), {"reason": reason})
            await self._record(reason)
            await self.writer.run(lambda c: audit.append(c.db, "edged", "storage.lost", {"reason": reason}))
            if self.control is not None:
                await self.control.keep_reachable()

    async def _back(self, video_dev: int | None) -> None:
        async with self._lock:
            if self.control is not None:
                await self.control.keep_reachable()
            if self.sup.storage_lost is None:  # remounted between two looks: tell the workers its device
                await self.sup.hold_for_storage(None, video_dev)
                return
            expect = self.guard.expect if self.guard is not None else None
            report = await self.writer.run(lambda c: reconcile(c, self.data_dir, expect))
            log.warning("the data disk is back; catalog reconciled with it: %s", report.summary())
            self.runner.blocked = None
            await self.sup.hold_for_storage(None, video_dev)
            await self.alarms.clear(STORAGE_LOST.key())
            await self._record(None)
            await self.writer.run(lambda c: audit.append(c.db, "edged", "storage.back", {
                "recovered": len(report.recovered), "adopted": len(report.adopted),
                "quarantined": len(report.quarantined), "missing": report.missing[:100]}))
            if report.missing:
                await self.alarms.raise_(FOOTAGE_MISSING,
                                         Msg(A_("{n} footage files were not on the data disk when it came back "
                                                "(first: {first})"), n=len(report.missing), first=report.missing[0]),
                                         {"paths": report.missing[:100]})
