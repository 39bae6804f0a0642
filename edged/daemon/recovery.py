"""Crash recovery at start-up, alongside recording rather than before it (design/0025).

What the last run left open is cut back to its last whole fragment, fsynced and hashed; under
a page cache full of dirty pages each fsync can take seconds, so it must not hold the cameras
back. Recording starts first; this runs as a supervised task: the file work on its own
thread, the catalog updates on the writer thread, then the tail of the disk is compared
with the catalog, skipping what the new run has written. Each camera's first gap is
measured once its old segment is recovered (Supervisor.expect_recovery).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from edged.alarms import Alarms
from storage import audit
from storage.catalog import CatalogWriter
from storage.reconcile import Report, apply_outcomes, in_background, open_before, reconcile, salvage_rows

log = logging.getLogger(__name__)


class StartupRecovery:
    def __init__(self, data_dir: Path, writer: CatalogWriter, alarms: Alarms, sup: Any, guard: Any, started_us: int):
        self.data_dir, self.writer, self.alarms, self.sup, self.guard = data_dir, writer, alarms, sup, guard
        self.started_us = started_us
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        sup.expect_recovery([c.id for c in sup.cfg.cameras], self.done)

    async def run(self, _stopping: asyncio.Event) -> None:
        t0 = time.monotonic()
        expect = self.guard.expect if self.guard is not None else None
        report = Report()
        try:
            rows = await self.writer.run(open_before, self.started_us)
            outcomes = await in_background(salvage_rows, self.data_dir, rows, expect or (lambda _p, _k: None),
                                           self.writer.clock)
            await self.writer.run(apply_outcomes, outcomes, report)
            salvaged = time.monotonic() - t0
            await self.writer.run(lambda c: reconcile(c, self.data_dir, expect, self.started_us, report))
        finally:
            if not self.done.done():
                self.done.set_result(None)
        log.info("catalog reconciled with the disk: %s (open segments %.2f s, tail %.2f s; recording went on)",
                 report.summary(), salvaged, time.monotonic() - t0 - salvaged)
        if report.missing:  # footage that vanished while edged was not watching
            await self.writer.run(lambda c: audit.append(c.db, "edged", "footage.missing", {"paths": report.missing}))
            await self.alarms.raise_("footage_missing", "footage_missing", "critical", None,
                                     f"{len(report.missing)} footage files vanished while edged was not running "
                                     f"(first: {report.missing[0]})", {"paths": report.missing[:100]})
