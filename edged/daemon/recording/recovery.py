"""Crash recovery alongside recording rather than before it (design/0025): at start-up, and
after a recorder worker died.

What the last run left open is cut back to its last whole fragment, fsynced and hashed; under
a page cache full of dirty pages each fsync can take seconds, so it must not hold the cameras
back. Recording starts first; this runs as a supervised task: the file work on its own
thread, the catalog updates on the writer thread, then the tail of the disk is compared
with the catalog, skipping what the new run has written. Each camera's first gap is
measured once its old segment is recovered (edged/daemon/recording/gaps.py: Gaps.expect_recovery).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edged.alarms import Alarms
from edged.daemon.recording.gaps import Gaps
from edged.i18n import Msg, N_
from recorder import diagnose
from storage import audit, cameras as camera_table, segment_rows
from storage.alarm_kinds import FOOTAGE_MISSING
from storage.states.cameras import OFFLINE
from storage.catalog import Catalog, CatalogWriter
from storage.segment_rows import WRITING
from storage.clock import wait_or_stop
from storage.reconcile import Report, adopt_later, apply_outcomes, in_background, open_before, reconcile, salvage_rows

Expect = Callable[[str, str], None]  # the tamper guard's "edged itself changes this file"

log = logging.getLogger(__name__)
# Files stamped after this run's start that nobody holds open are judged this long after the
# start-up reconcile: the new run's `open` rows, held in the workers' pipes while the daemon
# started (design/0029), have reached the catalog by then (design/0059).
LATER_S = 10.0


class StartupRecovery:
    def __init__(self, data_dir: Path, writer: CatalogWriter, alarms: Alarms, gaps: Gaps, cameras: Iterable[str],
                 expect: Expect | None, started_us: int, before_id: int | None = None):
        self.data_dir, self.writer, self.alarms, self.expect = data_dir, writer, alarms, expect
        self.started_us = started_us
        self.before_id = before_id  # the newest segment id before this run wrote any (design/0059)
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        gaps.expect_recovery(cameras, self.done)

    async def run(self, stopping: asyncio.Event) -> None:
        t0 = time.monotonic()
        expect = self.expect
        report = Report()
        try:
            rows = await self.writer.run(open_before, self.started_us, self.before_id)
            outcomes = await in_background(salvage_rows, self.data_dir, rows, expect or (lambda _p, _k: None),
                                           self.writer.clock)
            await self.writer.run(apply_outcomes, outcomes, report)
            salvaged = time.monotonic() - t0
            await self.writer.run(lambda c: reconcile(c, self.data_dir, expect, self.started_us, report, self.before_id))
        finally:
            if not self.done.done():
                self.done.set_result(None)
        log.info("catalog reconciled with the disk: %s (open segments %.2f s, tail %.2f s; recording went on)",
                 report.summary(), salvaged, time.monotonic() - t0 - salvaged)
        if report.later:  # stamped after this run's start, held by nobody: judged once the new run's rows are in
            if await wait_or_stop(stopping, LATER_S, self.writer.clock):
                log.info("stopping: %d files stamped after this run's start are left to the next start's reconcile",
                         len(report.later))
                return
            later = Report()
            await self.writer.run(lambda c: adopt_later(c, self.data_dir, report.later, later, expect))
            log.info("files stamped after this run's start (the clock went back across the restart?): %d put off, "
                     "%s", len(report.later), later.summary())
        if report.missing:  # footage that vanished while edged was not watching
            await self.writer.run(lambda c: audit.append(c.db, "edged", "footage.missing", {"paths": report.missing}))
            await self.alarms.raise_(FOOTAGE_MISSING,
                                     Msg(N_("{n} footage files vanished while edged was not running (first: {first})"),
                                         n=len(report.missing), first=report.missing[0]),
                                     {"paths": report.missing[:100]})


async def recover_dead_worker(writer: CatalogWriter, data_dir: Path, expect: Expect | None, cams: set[str],
                              died_us: int, what: str, done: asyncio.Future) -> None:
    """Close what a dead worker left open, so its cameras' footage counts: the cameras are
    offline on the record, and their `writing` segments are cut back, fsynced and hashed on a
    thread of their own, off the restart's path; `done` is set when the catalog has it all."""
    try:
        def mark(c: Catalog) -> list[dict[str, Any]]:
            with c.db.atomic():
                for cam in cams:
                    camera_table.set_state(c.db, cam, OFFLINE, "recorder worker died", died_us,
                                           kind=diagnose.WORKER_DIED)
            return [r for r in segment_rows.in_state(c.db, WRITING) if r["camera"] in cams and r["start_us"] < died_us]

        rows = await writer.run(mark)
        started = time.monotonic()
        outcomes = await in_background(salvage_rows, data_dir, rows, expect or (lambda _p, _k: None), writer.clock)
        report = Report()
        await writer.run(apply_outcomes, outcomes, report)
        log.info("after %s: %s in %.2f s", what, report.summary(), time.monotonic() - started)
    finally:
        if not done.done():
            done.set_result(None)
