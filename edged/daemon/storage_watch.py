"""Storage liveness (design/0023): is the data folder, and its video folder, still the disk
edged started on? Looked at every second; a change stops recording within seconds and
raises a critical alarm, and the right disk coming back resumes it.

The decision is storage.disk.volume.check (identity file, mount point); this task owns the
timing, the probes off the event loop (a hung disk must not hang the daemon) and the
callbacks the daemon wires to recording, retention and alarms.

The probes run on a thread of their own, never a pool anyone else can fill (design/0062:
300 logins on the shared pool once held recording), and a disk that does not answer is lost
only after MISSES probes in a row went unanswered for PROBE_TIMEOUT_S each; a probe is
judged by whether its thread finished, not by when the busy event loop noticed.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Awaitable, Callable

from storage.disk import layout, volume
from storage.time.clock import wait_or_stop

log = logging.getLogger(__name__)

POLL_S = 1.0
PROBE_TIMEOUT_S = 5.0   # a probe that takes longer: the disk does not answer
MISSES = 3              # unanswered probes in a row before the disk counts as lost


class StorageWatch:
    def __init__(self, data_dir: Path, expected_id: str | None,
                 on_lost: Callable[[str], Awaitable[None]], on_back: Callable[[int | None], Awaitable[None]]):
        self.folders = {"data folder": Path(data_dir), "video folder": Path(data_dir) / layout.VIDEO_DIR}
        self.expected_id = expected_id
        self.on_lost, self.on_back = on_lost, on_back
        self.start: dict[str, volume.Probe] = {}   # the probes of the right disk (refreshed on a remount)
        self.problem: str | None = None
        self._probing: asyncio.Future[dict[str, volume.Probe]] | None = None
        self.missed = 0   # unanswered probes in a row
        # one thread, the probe's alone (a hung probe keeps it; the next look waits on the same probe)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="edged-storage-probe")

    @property
    def video_dev(self) -> int | None:
        p = self.start.get("video folder")
        return p.dev if p is not None else None

    def _judge(self, probes: dict[str, volume.Probe] | None) -> str | None:
        if probes is None:
            # i18n: the disk's state, kept and shown as made (English) (the next line)
            return f"the data disk does not answer (a look at {self.folders['data folder']} took over " \
                   f"{PROBE_TIMEOUT_S:.0f} s)"
        if self.expected_id is None:
            # i18n: the disk's state, kept and shown as made (English)
            return "the catalog records no identity for its data disk: it cannot be told that this is the right one"
        for name, p in probes.items():
            problem = volume.check(name, self.expected_id, p, self.start.get(name))
            if problem:
                return problem
        return None

    async def _probe(self) -> dict[str, volume.Probe] | None:
        if self._probing is None or self._probing.done():
            self._probing = asyncio.get_running_loop().run_in_executor(
                self._thread, lambda: {name: volume.probe(path) for name, path in self.folders.items()})
        try:
            return await asyncio.wait_for(asyncio.shield(self._probing), PROBE_TIMEOUT_S)
        except TimeoutError:
            if self._probing.done():  # it finished while the loop was busy elsewhere: an answer
                return self._probing.result()
            return None

    async def first_look(self) -> str | None:
        """At start-up: None if the disk is the right one (and remember how it is mounted)."""
        probes = await self._probe()
        self.problem = self._judge(probes)
        if self.problem is None and probes is not None:
            self.start = probes
        return self.problem

    async def run(self, stopping: asyncio.Event) -> None:
        if self.problem is not None:
            await self.on_lost(self.problem)
        while not stopping.is_set():
            if await wait_or_stop(stopping, POLL_S):
                break
            probes = await self._probe()
            self.missed = self.missed + 1 if probes is None else 0
            if probes is None and self.missed < MISSES and self.problem is None:
                log.warning("the data disk did not answer within %.0f s (%d of %d before it counts as lost)",
                            PROBE_TIMEOUT_S, self.missed, MISSES)
                continue
            problem = self._judge(probes)
            if problem is not None:
                if self.problem is None:
                    log.critical("storage lost: %s; recording stops until the right disk is back", problem)
                    self.problem = problem
                    await self.on_lost(problem)
                continue
            assert probes is not None
            moved = [n for n, p in probes.items() if self.start.get(n) and
                     (p.dev, p.mount) != (self.start[n].dev, self.start[n].mount)]
            self.start = probes
            if self.problem is not None:
                log.warning("storage back: %s", "; ".join(p.describe() for p in probes.values()))
                self.problem = None
                await self.on_back(self.video_dev)
            elif moved:  # remounted between two looks: same disk, perhaps a new device id
                log.info("the %s was remounted (same identity): %s", ", ".join(moved),
                         "; ".join(probes[n].describe() for n in moved))
                await self.on_back(self.video_dev)
