"""Grouped durability (design/0052): one thread per recorder worker makes every open segment
durable once per fsync interval, instead of each camera thread fsyncing its own file.

A segment's writer (recorder/segment.py) registers its file here and marks it dirty on every
write; each pass `fdatasync`s the files written since the last pass (and, once, the folder
of a new file, so its name survives a power cut), then waits for the next interval. The
thread works on descriptors of its own (the file opened again read-only), so a camera thread
closing its segment never waits for a pass, and a pass never syncs a descriptor number that
was closed and reused.
A sync that fails is handed back to the segment's writer, which raises it on its next write:
the camera's run ends and its segment is closed as any failed write closes it.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from recorder.threadname import name_os_thread

log = logging.getLogger(__name__)


class Synced:
    """One registered file. `dirty` is set by its writer after each write (a plain attribute:
    the pass clears it before syncing, so a write during the sync is synced next pass)."""

    __slots__ = ("fd", "dir_fd", "dirty", "dir_synced", "released", "error", "syncs")

    def __init__(self, fd: int, dir_fd: int):
        self.fd = fd
        self.dir_fd = dir_fd
        self.dirty = False
        self.dir_synced = False
        self.released = False
        self.error: OSError | None = None
        self.syncs = 0            # passes that synced this file (tests/test_durability.py reads it)

    def release(self) -> None:
        """The segment is closed (and fsynced by its own close): the next pass forgets it."""
        self.released = True


class Durability:
    """The worker's durability thread. `interval_us` is the configured fsync interval."""

    def __init__(self, interval_us: int, name: str = "durability"):
        self.interval_s = interval_us / 1e6
        self._files: list[Synced] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.passes = 0           # counters, for the tests and the benchmark's profile
        self.syncs = 0
        self.sync_ns = 0          # time spent in fdatasync/fsync calls
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def register(self, fd: int, dir_fd: int) -> Synced:
        # The file opened again read-only, not dup()ed: closing a writable descriptor is an
        # IN_CLOSE_WRITE, which the tamper watcher (storage/tamper.py) would see as a change to
        # a segment closed a pass earlier. fdatasync syncs the file, whichever descriptor names it.
        entry = Synced(os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC), os.dup(dir_fd))
        with self._lock:
            self._files.append(entry)
        return entry

    def _run(self) -> None:
        name_os_thread("durability")
        while not self._stop.wait(self.interval_s):
            self.sync_pass()
        self.sync_pass()

    def sync_pass(self) -> None:
        """Sync every file written since the last pass; drop the released ones."""
        with self._lock:
            files = list(self._files)
        started = time.monotonic_ns()
        done: list[Synced] = []
        for f in files:
            if f.released:  # its close fsynced it
                done.append(f)
                continue
            if not f.dirty:
                continue
            f.dirty = False
            try:
                os.fdatasync(f.fd)
                if not f.dir_synced:  # the new name must survive a power cut too
                    os.fsync(f.dir_fd)
                    f.dir_synced = True
            except OSError as exc:
                log.error("cannot make a segment durable: %s", exc)
                f.error = exc
            f.syncs += 1
            self.syncs += 1
        self.sync_ns += time.monotonic_ns() - started
        self.passes += 1
        if done:
            with self._lock:
                self._files = [f for f in self._files if f not in done]
            for f in done:
                os.close(f.fd)
                os.close(f.dir_fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            files, self._files = self._files, []
        for f in files:
            os.close(f.fd)
            os.close(f.dir_fd)
