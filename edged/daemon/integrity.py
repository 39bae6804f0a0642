"""Footage integrity at run time: the tamper watcher wired to the catalog and the alarms,
and the disk identity that keeps edged from recording onto (or "cleaning up") a swapped disk."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

from edged.alarms import Alarms
from edged.i18n import Msg, A_
from storage import audit
from storage.disk import layout, volume
from storage import node as node_table
from storage.footage import segments as segment_table
from storage.alarm_kinds import TAMPER
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import SYSTEM, Clock
from storage.footage.tamper import Tamper, TamperWatcher

log = logging.getLogger(__name__)

CLOSE_GRACE_S = 15.0     # inotify events for a just-closed segment may still be in flight
NEW_FILE_GRACE_US = 120_000_000
QUEUE = 1_000


class TamperGuard:
    """Watches the video folder; a change edged did not make marks the segment and alarms."""

    def __init__(self, data_dir: Path, writer: CatalogWriter, alarms: Alarms, clock: Clock = SYSTEM):
        self.data_dir = data_dir
        self.clock = clock
        self.writer = writer
        self.alarms = alarms
        self._ours: dict[str, float | None] = {}  # relpath -> monotonic close time, None while writing
        self._queue: asyncio.Queue[Tamper] = asyncio.Queue(QUEUE)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.watcher = TamperWatcher(data_dir, self._report, self._is_ours, clock)

    # what edged does itself ---------------------------------------------------------
    def opened(self, relpath: str) -> None:
        self._ours[relpath] = None

    def check_made(self, relpath: str) -> None:
        """A recorder worker's new segment, its row written: checked to be there still once its folder is
        watched (set up after the workers' first files: design/0507), a tamper report if not."""
        self.watcher.check_made(relpath)

    def closed(self, relpath: str) -> None:
        self._ours[relpath] = time.monotonic()
        cutoff = time.monotonic() - CLOSE_GRACE_S
        for path, at in list(self._ours.items()):
            if at is not None and at < cutoff:
                del self._ours[path]

    def expect(self, relpath: str, kind: str) -> None:
        self.watcher.expect(relpath, kind)

    def _is_ours(self, relpath: str, kind: str) -> bool:
        if kind != "modified":
            return False
        if relpath in self._ours:
            at = self._ours.get(relpath)
            return at is None or time.monotonic() - at < CLOSE_GRACE_S
        parsed = layout.parse_relpath(relpath)  # a segment so new its `open` is still on the way
        return parsed is not None and self.clock.now_us() - parsed[1] < NEW_FILE_GRACE_US

    def _report(self, t: Tamper) -> None:  # on the watchdog thread
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._enqueue, t)

    def _enqueue(self, t: Tamper) -> None:
        try:
            self._queue.put_nowait(t)
        except asyncio.QueueFull:
            log.error("tamper reports are arriving faster than they can be recorded; dropped %s", t.relpath)

    # the task -----------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.watcher.start)  # walks the whole video tree
        try:
            while not stopping.is_set():
                getter = asyncio.ensure_future(self._queue.get())
                stopper = asyncio.ensure_future(stopping.wait())
                done, _ = await asyncio.wait([getter, stopper], return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if getter not in done:
                    getter.cancel()
                    break
                await self._record(getter.result())
        finally:
            await asyncio.to_thread(self.watcher.stop)

    async def _record(self, t: Tamper) -> None:
        def mark(catalog: Catalog) -> bool:
            marked = segment_table.mark_tampered(catalog.db, t.relpath,
                                                 # i18n: the segment's tamper note, stored as data
                                                 f"{t.kind} by something other than edged: {t.detail}")
            audit.append(catalog.db, "edged", "tamper.detected", {"path": t.relpath, "kind": t.kind,
                                                                 "detail": t.detail, "cataloged": marked})
            return marked

        marked = await self.writer.run(mark)
        await self.alarms.raise_(
            TAMPER,
            Msg(A_("footage file {kind} by something other than edged: {path} ({detail})") if marked else A_(
                "footage file {kind} by something other than edged: {path} ({detail}); not a cataloged segment"),
                kind=t.kind, path=t.relpath, detail=t.detail),
            {"path": t.relpath, "kind": t.kind, "detail": t.detail, "at_us": t.at_us},
            camera=(layout.parse_relpath(t.relpath) or (None,))[0], about=t.relpath)


def prepare_identity(catalog: Catalog, data_dir: Path) -> str | None:
    """The identity the data folder and its video folder must carry (design/0023), or None
    when it cannot be told which disk this catalog describes.

    Written by `edged init-data`. A catalog from before the video folder had its own identity
    file gets one here, but only while the newest cataloged footage file is there to show
    that the video folder is the disk the catalog describes. Runs on the catalog writer thread.
    """
    node = node_table.values(catalog.db, "disk_id", "video_identity")
    disk_id = node.get("disk_id")
    on_data = volume.read_identity(data_dir)
    footage = segment_table.has_footage(catalog.db)
    if disk_id is None:  # a catalog from before disk identities
        if on_data is None and footage:
            return None
        disk_id = on_data or str(uuid.uuid4())
        if on_data is None:
            volume.write_identity(data_dir, disk_id)
        node_table.set_values(catalog.db, {"disk_id": disk_id})
    video = data_dir / layout.VIDEO_DIR
    if not node.get("video_identity") and on_data == disk_id and volume.read_identity(video) is None:
        newest = segment_table.newest_footage_path(catalog.db)
        if newest is None or (data_dir / newest).exists():
            video.mkdir(exist_ok=True)
            volume.write_identity(video, disk_id)
            node_table.set_values(catalog.db, {"video_identity": 1})
    return disk_id
