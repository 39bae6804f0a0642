"""The tamper watcher's inotify reader (storage/footage/tamper.py): watchdog's, reading at most every
LINGER_S (design/0301), and knowing which folders it watches, so that a file made before its folder
was watched is checked once it is (design/0507); a segment edged is writing raises an IN_MODIFY a fragment, which
its watcher may have dropped as it is read (design/0535); and whether the box allows the watches it needs."""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from pathlib import Path
from typing import Callable

from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyFullEmitter, InotifyObserver
from watchdog.observers.inotify_c import (DEFAULT_EVENT_BUFFER_SIZE, CallbackId, InotifyConstants, InotifyEvent,
                                          InotifyFD, Mask, WatchCallback, WatchDescriptor)

from storage.disk import layout

log = logging.getLogger("storage.footage.tamper")

# The inotify queue is read at most this often, so that a busy second's events are read, parsed
# and handed through watchdog's threads together: each fragment a camera writes
# raises one IN_MODIFY (kept: truncate(2) raises nothing else), and one at a time they cost
# ~320 us of CPU each in wakes and hand-offs, 0.032 % of a core a camera (design/0301).
LINGER_S = 0.5

# A file's IN_MODIFY that its `ignorable` says nothing would come of (a segment edged is writing: every fragment
# raises one) is dropped as it is read, before watchdog's two hand-offs and its handler (design/0535).
_MOVES = InotifyConstants.IN_MOVED_FROM | InotifyConstants.IN_MOVED_TO | InotifyConstants.IN_MOVE_SELF


class LingeringFD(InotifyFD):
    """watchdog's inotify reader, reading at most once every LINGER_S: an event after a quiet
    spell is read at once, the next ones with what else came within LINGER_S of that read. A
    backlog (a read that half filled the buffer: a retention sweep's thousands of deletions) is
    read on at once, so the kernel's queue does not overflow; a stop ends the wait (its pipe is
    watched)."""

    _read_at = 0.0
    _backlog = False

    def __init__(self, ignorable: Callable[[bytes], bool] | None = None) -> None:
        super().__init__()
        self._added = threading.Condition()
        self._wd_of: dict[bytes, WatchDescriptor] = {}  # each folder's watch, as added (the walk, a new folder)
        self._folder_of: dict[WatchDescriptor, bytes] = {}  # ... and the other way
        self._ignorable = ignorable  # None: every event goes on (also once a folder moved: its watch's path changed)

    def read_events(self, *, event_buffer_size: int = DEFAULT_EVENT_BUFFER_SIZE) -> list[InotifyEvent]:
        read = super().read_events(event_buffer_size=event_buffer_size)
        if self._ignorable is None:
            return read
        kept = []
        for event in read:
            if event.mask & _MOVES and event.is_directory:  # IN_MOVE_SELF counts as a folder's
                self._ignorable = None  # a folder's path is no longer the one its watch was added for
            elif self._ignorable is not None and event.mask == InotifyConstants.IN_MODIFY and event.name and \
                    (folder := self._folder_of.get(event.wd)) is not None and \
                    self._ignorable(os.path.join(folder, event.name)):
                continue
            kept.append(event)
        return kept

    def _check_inotify_fd(self) -> bool:
        ready = super()._check_inotify_fd()
        if ready and not self._backlog:
            wait = self._read_at + LINGER_S - time.monotonic()
            if wait > 0:
                select.select([self._kill_r], [], [], wait)
        self._read_at = time.monotonic()
        return ready

    def _read_event_buffer(self, event_buffer_size: int) -> bytes:
        events = super()._read_event_buffer(event_buffer_size)
        self._backlog = len(events) >= event_buffer_size // 2
        return events

    def add_callback(self, path: bytes, mask: Mask, callback: WatchCallback, id_: CallbackId) -> WatchDescriptor:
        wd = super().add_callback(path, mask, callback, id_)
        with self._added:
            self._wd_of[path] = wd
            self._folder_of[wd] = path
            self._added.notify_all()
        return wd

    def wait_watched(self, folder: Path, timeout: float, stopping: threading.Event) -> bool:
        """Whether `folder` has a watch (waiting up to `timeout` for one, as a new folder's comes once its
        IN_CREATE is read); a watch the kernel dropped (the folder deleted) no longer counts."""
        path = os.fsencode(str(folder))

        def watched() -> bool:
            wd = self._wd_of.get(path)
            return stopping.is_set() or (wd is not None and wd in self._watch_for_wd)

        with self._added:
            return self._added.wait_for(watched, timeout) and not stopping.is_set()

    def wake(self) -> None:
        with self._added:
            self._added.notify_all()


class Observer(InotifyObserver):
    """InotifyObserver(generate_full_events=True) on a LingeringFD."""

    def __init__(self, ignorable: Callable[[bytes], bool] | None = None) -> None:
        self.fd = self._inotify_fd = LingeringFD(ignorable)
        self._inotify_fd.start()
        BaseObserver.__init__(self, InotifyFullEmitter, inotify_fd=self._inotify_fd)


def check_watch_limit(data_dir: Path, imports_dir: str) -> None:
    """watchdog silently skips folders it cannot watch, so say so before it happens."""
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
    except (OSError, ValueError):
        return
    video = data_dir / layout.VIDEO_DIR
    cameras = [p.name for p in video.iterdir() if p.is_dir()]
    needed = 1 + sum(1 + len(layout.day_dirs(data_dir, cam)) for cam in cameras)
    imports = data_dir / imports_dir
    needed += 1 + (sum(1 for p in imports.iterdir() if p.is_dir()) if imports.is_dir() else 0)  # a watch an intake
    if needed > limit * 0.9:
        log.warning(
            "tamper watcher needs about %d inotify watches but fs.inotify.max_user_watches is %d: changes in "
            "some folders would go unseen; raise it (sysctl fs.inotify.max_user_watches=%d) and restart edged",
            needed, limit, 2 * needed)
