"""The catalog rows of the workers' segments, written a batch at a time (design/0052).

A worker writes its events in batches (recorder/worker.py) and the supervisor hands each batch
here: `Opened` and `Closed`/`Stranded` update the camera's timeline (edged.daemon.recording.gaps) at
once, and the rows they open, complete or strand are kept and written in one transaction when
the batch ends. Segments are cut on wall-clock boundaries, so at a boundary every camera of a
worker closes and opens together: one commit instead of two per camera.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, Awaitable, Callable

from edged.daemon.recording.gaps import Gaps
from edged.daemon.health_monitor import HealthMonitor
from edged.daemon.integrity import TamperGuard
from recorder import events
from storage.process import logs
from storage.footage import restamps, segment_rows
from storage.catalog import Catalog, CatalogWriter

log = logging.getLogger("edged.daemon.recording.supervisor")


class SegmentRows:
    def __init__(self, writer: CatalogWriter, gaps: Gaps, health: HealthMonitor | None, guard: TamperGuard | None,
                 on_segment_opened: Callable[[], None] | None, steps: restamps.Steps | None = None):
        self.writer = writer
        self.steps = steps  # the host clock's steps this run (edged/daemon/host_clock.py), for late rows
        self.gaps = gaps
        self.health = health
        self.guard = guard
        self.on_segment_opened = on_segment_opened
        # per worker slot: the rows of its current batch, then what waits for them
        self._rows: dict[int, list[tuple[Callable[..., Any], tuple[object, ...]]]] = {}
        self._after: dict[int, list[Callable[[], None]]] = {}

    def begin(self, slot: int) -> None:
        self._rows[slot], self._after[slot] = [], []

    async def commit(self, slot: int, guarded: Callable[[Awaitable[Any]], Awaitable[bool]]) -> None:
        """Write the batch's rows in one transaction through `guarded` (False: not written)."""
        rows, after = self._rows.pop(slot, []), self._after.pop(slot, [])
        if rows and not await guarded(self.writer.run(Catalog.in_one_transaction, rows)):
            return  # none of the batch's rows is written: the reconciliation before resuming settles them
        for fn in after:
            fn()

    def abandon(self, slot: int) -> None:
        self._rows.pop(slot, None)
        self._after.pop(slot, None)

    async def opened(self, ev: events.Opened, slot: int, tg: asyncio.TaskGroup | None) -> None:
        await self.gaps.opened(ev, slot, tg)
        self._rows[slot].append((segment_rows.open_row, (ev.camera, ev.start_us, ev.path, ev.at)))
        if self.steps is not None:
            self._rows[slot].append((restamps.catch_up, (self.steps, ev.path, ev.basis_us, ev.at)))  # after the row
        if self.health is not None:
            self.health.on_segment(ev.camera, ev.start_us)
        if self.guard is not None:
            self.guard.opened(ev.path)
            self._after[slot].append(partial(self.guard.check_made, ev.path))  # its row first: a report marks it
        if self.on_segment_opened is not None:
            self.on_segment_opened()

    def closed(self, ev: events.Closed | events.Stranded, slot: int) -> None:
        """One event per close: the end (for the next gap), then the row: `complete` with its
        hash, `stranded`, or left `writing` for the next reconciliation when there is no hash."""
        self.gaps.closed(ev)
        if isinstance(ev, events.Stranded):  # closed on a disk that is no longer at the data folder's path
            self._rows[slot].append((segment_rows.strand, (ev.path, ev.error)))
            log.error("camera %s: segment %s is not at its path (%s); it is recovered when the disk is back",
                      ev.camera, ev.path, ev.error, **logs.fields(camera=ev.camera, segment=ev.path))
        elif ev.complete:
            self._rows[slot].append((segment_rows.close, (ev.path, ev.catalog_fields())))
            if self.guard is not None:
                self._after[slot].append(partial(self.guard.closed, ev.path))
