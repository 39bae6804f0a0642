"""Grouped durability (design/0052, 0061): one thread per recorder worker makes every open
segment durable promptly after each fragment is written, instead of each camera thread
fsyncing its own file.

A segment's writer (recorder/segment.py) registers its file here and marks it dirty on every
write, which wakes the thread; the thread gathers the writes of a short window (the rest of
that fragment, other cameras' fragments written at the same moment), then one pass
`fdatasync`s the files written since the last pass (and, once, the folder of a new file, so
its name survives a power cut). A power cut so loses about one fragment, not a fragment plus
an fsync interval; the fsync interval remains the longest a written byte waits (design/0061). The
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
from collections.abc import Callable

from storage.process.threadname import name_os_thread

log = logging.getLogger(__name__)


class Synced:
    """One registered file. `dirty` is set by its writer after each write (a plain attribute:
    the pass clears it before syncing, so a write during the sync is synced next pass)."""

    __slots__ = ("fd", "dir_fd", "dirty", "dir_synced", "released", "error", "syncs", "written_ns", "wake")

    def __init__(self, fd: int, dir_fd: int, wake: Callable[[], None] | None = None):
        self.fd = fd
        self.wake = wake          # called by the writer after a write: wakes the pass (None: interval only)
        self.written_ns = 0       # monotonic time of the last write, for the lag the pass records
        self.dir_fd = dir_fd
        self.dirty = False
        self.dir_synced = False
        self.released = False
        self.error: OSError | None = None
        self.syncs = 0            # passes that synced this file (tests/test_durability.py reads it)

    def release(self) -> None:
        """The segment is closed (and fsynced by its own close): the next pass forgets it."""
        self.released = True


GATHER_S = 0.02  # after a write wakes the thread: the fragment's other writes, and fragments of the same moment


class Durability:
    """The worker's durability thread. `interval_us` is the configured fsync interval: the
    longest a written byte waits. With `follow_writes` (the default) a pass also follows each
    write by `GATHER_S`; without it a pass runs once per interval only (before design/0061;
    bench/record_throughput.py --durability interval compares the two)."""

    def __init__(self, interval_us: int, name: str = "durability", follow_writes: bool = True):
        self.interval_s = interval_us / 1e6
        self.follow_writes = follow_writes
        self._files: list[Synced] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.max_lag_ns = 0       # longest time from a file's last write to its fdatasync
        self.passes = 0           # counters, for the tests and the benchmark's profile
        self.syncs = 0
        self.sync_ns = 0          # time spent in fdatasync/fsync calls
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def register(self, fd: int, dir_fd: int) -> Synced:
        # The file opened again read-only, not dup()ed: closing a writable descriptor is an
        # IN_CLOSE_WRITE, which the tamper watcher (storage/footage/tamper.py) would see as a change to
        # a segment closed a pass earlier. fdatasync syncs the file, whichever descriptor names it.
        entry = Synced(os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC), os.dup(dir_fd),
                       self._wake.set if self.follow_writes else None)
        with self._lock:
            self._files.append(entry)
        return entry

    def _run(self) -> None:
        name_os_thread("durability")
        while not self._stop.is_set():
            if self._wake.wait(self.interval_s):
                time.sleep(GATHER_S)  # a plain sleep: no Condition made and notified per pass
                if self._stop.is_set():
                    break
            self._wake.clear()  # before the pass: a write during it wakes the next one
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
            written = f.written_ns
            try:
                os.fdatasync(f.fd)
                lag = time.monotonic_ns() - written
                if lag > self.max_lag_ns:
                    self.max_lag_ns = lag
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
        self._wake.set()
        self._thread.join()
        with self._lock:
            files, self._files = self._files, []
        for f in files:
            os.close(f.fd)
            os.close(f.dir_fd)
