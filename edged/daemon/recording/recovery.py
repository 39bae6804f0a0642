"""Crash recovery alongside recording rather than before it (design/0025): at start-up, and
after a recorder worker died.

What the last run left open is cut back to its last whole fragment, fsynced and hashed; under
a page cache full of dirty pages each fsync can take seconds, so it must not hold the cameras
back. Recording starts first; this runs as a supervised task: the file work on its own
thread, the catalog updates on the writer thread, then the tail of the disk is compared
with the catalog, skipping what the new run has written: its reads on a read-only
connection, the walk and the salvage of orphans on the thread. The writer, which recording's
rows go through, is only ever given short transactions of CHUNK rows (design/0091, invariant
9: recording shares no resource it could wait on with the salvage). Each camera's first gap is
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
from edged.i18n import Msg, A_
from recorder import diagnose
from storage import audit, cameras as camera_table
from storage.footage import missing, segment_rows
from storage.alarm_kinds import FOOTAGE_MISSING
from storage.states.cameras import OFFLINE
from storage.catalog import Catalog, CatalogWriter
from storage.readonly import open_readonly
from storage.footage.segment_rows import WRITING
from storage.time.clock import wait_or_stop
from storage.footage.reconcile import (Orphan, Report, Tail, adopt, apply_outcomes, gone, in_background, later_orphans,
                               mark_missing, open_rows, salvage_orphans, salvage_rows, tail_of, walk)

Expect = Callable[[str, str], None]  # the tamper guard's "edged itself changes this file"

log = logging.getLogger(__name__)
# Files stamped after this run's start that nobody holds open are judged this long after the
# start-up reconcile: the new run's `open` rows, held in the workers' pipes while the daemon
# started (design/0029), have reached the catalog by then (design/0059).
LATER_S = 10.0
# Rows a catalog transaction of the recovery writes at most: the writer is held for a few
# milliseconds at a time, and recording's rows go between (design/0091).
CHUNK = 200


class StartupRecovery:
    def __init__(self, data_dir: Path, writer: CatalogWriter, alarms: Alarms, gaps: Gaps, cameras: Iterable[str],
                 expect: Expect | None, started_us: int, before_id: int | None = None):
        self.data_dir, self.writer, self.alarms, self.expect = data_dir, writer, alarms, expect
        self.started_us = started_us
        self.before_id = before_id  # the newest segment id before this run wrote any (design/0059)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        gaps.expect_recovery(cameras, self.done)

    async def run(self, stopping: asyncio.Event) -> None:
        t0 = time.monotonic()
        expect = self.expect
        report = Report()
        try:
            rows = await self.writer.run(open_rows, self.started_us, self.before_id)
            outcomes = await in_background(salvage_rows, self.data_dir, rows, expect or _none, self.writer.clock)
            await in_chunks(self.writer, apply_outcomes, outcomes, report)
            salvaged = time.monotonic() - t0
            await reconcile_alongside(self.writer, self.data_dir, expect, report, self.started_us, self.before_id)
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
            orphans = await in_background(_read_then, self.writer, later_orphans, self.data_dir, report.later,
                                          salvage_orphans, expect or _none)
            await in_chunks(self.writer, adopt, orphans, later)
            log.info("files stamped after this run's start (the clock went back across the restart?): %d put off, "
                     "%s", len(report.later), later.summary())
        if report.missing:  # footage that vanished while edged was not watching
            # bounded, whatever was lost (design/0091): the full list is the catalog's rows
            detail = await in_background(missing.detail, report.missing)
            await self.writer.run(lambda c: audit.append(c.db, "edged", missing.ACTION, detail))
            await self.alarms.raise_(FOOTAGE_MISSING,
                                     Msg(A_("{n} footage files vanished while edged was not running (first: {first})"),
                                         n=len(report.missing), first=report.missing[0]),
                                     {"paths": report.missing[:100]})


def _none(_relpath: str, _kind: str) -> None:
    pass


async def in_chunks(writer: CatalogWriter, fn: Callable[..., None], items: list[Any], *args: Any) -> None:
    """`fn(catalog, part, *args)` on the writer for each CHUNK of `items`, one job (one short
    transaction) each: what recording sends the writer meanwhile runs between them (design/0091)."""
    for i in range(0, len(items), CHUNK):
        await writer.run(fn, items[i:i + CHUNK], *args)


def _read_then(writer: CatalogWriter, read: Callable[..., Any], data_dir: Path, arg: Any,
               then: Callable[..., Any], expect: Expect) -> Any:
    """On a recovery thread: `read(catalog, data_dir, arg)` on a read-only connection of its own,
    then the file work `then(data_dir, found, expect, clock)`."""
    db = open_readonly(writer.path)
    try:
        found = read(Catalog(db, writer.clock), data_dir, arg)
    finally:
        db.conn.close()
    return then(data_dir, found, expect, writer.clock)


def _survey(writer: CatalogWriter, data_dir: Path, expect: Expect, report: Report, before_us: int | None,
            before_id: int | None) -> tuple[Tail, set[str], list[Orphan]]:
    """On a recovery thread: the tail and the paths the catalog knows in it (read-only), the walk
    of its folders, and the salvage of the orphans found."""
    db = open_readonly(writer.path)
    try:
        catalog = Catalog(db, writer.clock)
        tail = tail_of(catalog)
        known = segment_rows.known_paths_since(catalog.db, tail.since_us)
    finally:
        db.conn.close()
    present, orphans = walk(data_dir, tail, known, report, before_us, before_id)
    return tail, present, salvage_orphans(data_dir, orphans, expect, writer.clock)


def _gone(writer: CatalogWriter, tail: Tail, present: set[str], before_us: int | None,
          before_id: int | None) -> list[dict[str, Any]]:
    db = open_readonly(writer.path)
    try:
        return gone(Catalog(db, writer.clock), tail, present, before_us, before_id)
    finally:
        db.conn.close()


async def reconcile_alongside(writer: CatalogWriter, data_dir: Path, expect: Expect | None, report: Report,
                              before_us: int | None = None, before_id: int | None = None) -> Report:
    """storage/footage/reconcile.py's `reconcile` after its open rows, its steps apart (design/0091): the
    reads on read-only connections and the file work (walking the tail, salvaging orphans) on a
    recovery thread; the writer only for the adoptions and the missing marks, CHUNK rows a job."""
    tail, present, orphans = await in_background(_survey, writer, data_dir, expect or _none, report, before_us,
                                                 before_id)
    await in_chunks(writer, adopt, orphans, report)
    rows = await in_background(_gone, writer, tail, present, before_us, before_id)
    await in_chunks(writer, mark_missing, rows, report)
    return report


async def recover_dead_worker(writer: CatalogWriter, data_dir: Path, expect: Expect | None, cams: set[str],
                              died_us: int, what: str, done: asyncio.Future[None]) -> None:
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
        outcomes = await in_background(salvage_rows, data_dir, rows, expect or _none, writer.clock)
        report = Report()
        await in_chunks(writer, apply_outcomes, outcomes, report)
        log.info("after %s: %s in %.2f s", what, report.summary(), time.monotonic() - started)
    finally:
        if not done.done():
            done.set_result(None)
