"""The tamper watcher (R1.6): a segment file deleted, modified (truncation included) or moved
by anything but edged is reported within seconds.

It knows neither the catalog nor asyncio. It reports through a callback on the watchdog
thread, and asks `is_ours` about changes edged did not announce with `expect()`. Only
content changes count: the inotify mask leaves out opens, reads and closes after reading,
so hashing and ffprobe are never seen at all.

A move out of the video folder and a move into it are reported as moves (inotify pairs the
two halves of a rename only when both ends are watched, hence `generate_full_events`).
A directory that is deleted or moved is one report for the directory, not one per file
(`rm -r` still unlinks, and so reports, each file first).

A file the recorder made is checked once its folder is watched (`check_made`): made before the watch
reached its folder (the daemon's first seconds; a new day folder before its IN_CREATE is read) and
deleted, it is reported as the watch would have, once, whichever saw it first (design/0507).

The intakes' folder is watched the same way (issue 76, design/0354): `imports/<sha256>/`, a
portable device's original byte for byte and the segments remuxed from it, is footage once placed;
any file or folder changed there but by the retention engine (which announces it) is a report.
The staging folders (`imports/.incoming-*`) are the intake's own until it renames one into place.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import re
import threading
import time
import warnings
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from storage.disk import layout
from storage.time.clock import SYSTEM, Clock
from storage.disk.fsutil import private_dir
from storage.footage.intakes import IMPORTS_DIR
from storage.footage.inotify_reader import Observer, check_watch_limit

log = logging.getLogger(__name__)

DELETED, MODIFIED, MOVED = "deleted", "modified", "moved"
DEBOUNCE_S = 1.0       # one report per file per modification burst
_SIZES_KEPT = 65_536   # last known sizes, for "size 1234 -> 0"; bounded, not a second catalog
_EVENTS = [FileDeletedEvent, DirDeletedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent, DirMovedEvent]
_OUTSIDE = "outside video/"
_INTAKE = re.compile(IMPORTS_DIR + r"/[0-9a-f]{64}")           # an intake's folder, once placed
_STAGING = IMPORTS_DIR + "/.incoming-"                          # storage/intake/take.py, before it is
WATCHED_WAIT_S = 30.0  # how long a made file's check waits for its folder's watch before checking anyway
_GONE_KEPT = 4_096     # the paths whose deletion or move was _SEEN (the watch) or _FOUND (a check): one report each
_SEEN, _FOUND = "seen", "found"


@dataclass(frozen=True, slots=True)
class Tamper:
    kind: str        # DELETED | MODIFIED | MOVED (truncation is MODIFIED)
    relpath: str     # relative to data_dir, e.g. "video/cam1/2026-11-21/20261121T002235.123456Z.mp4"
    detail: str      # e.g. "moved to video/cam1/x.mp4", "size 1234 -> 0"
    at_us: int


class TamperWatchError(RuntimeError):
    """The watch could not be set up; the message says what to do."""


class TamperWatcher:
    """Watches <data_dir>/video recursively (inotify) and reports changes edged did not make.

    edged announces its own destructive changes with `expect()` before making them: the
    retention engine before unlinking a file or removing an empty day folder (DELETED),
    crash recovery before truncating (MODIFIED), quarantine before moving a file out (MOVED).
    """

    def __init__(self, data_dir: Path, on_tamper: Callable[[Tamper], None], is_ours: Callable[[str, str], bool],
                 clock: Clock = SYSTEM):
        self.clock = clock
        self.data_dir = Path(data_dir).absolute()
        self.video_dir = self.data_dir / layout.VIDEO_DIR
        self.imports_dir = self.data_dir / IMPORTS_DIR
        self._on_tamper = on_tamper
        self._is_ours = is_ours
        self._prefix = str(self.data_dir) + os.sep
        self._lock = threading.Lock()                            # guards _expected (asyncio thread vs watchdog thread)
        self._expected: dict[tuple[str, str], deque[float]] = {}  # (relpath, kind) -> monotonic deadlines
        # Only the (single) watchdog dispatch thread touches these two.
        self._quiet_until: dict[str, float] = {}
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._observer: Observer | None = None
        self._gone: OrderedDict[str, str] = OrderedDict()  # relpath -> _SEEN by the watch | _FOUND by a check; _lock
        self._made: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # files made, to check once watched
        self._checker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._video_id: tuple[int, int] | None = None
        self._unwatched: set[Path] = set()  # folders a check waited for in vain (the checks' thread alone)

    # control ---------------------------------------------------------------------------
    def start(self) -> None:
        """Blocking (watchdog walks the whole tree to add its watches): call it from a thread."""
        if self._observer is not None:
            return
        private_dir(self.video_dir)
        private_dir(self.imports_dir)
        check_watch_limit(self.data_dir, IMPORTS_DIR)
        # watchdog's inotify backend warns (with its whole watch list, kilobytes per line) when a
        # camera and a day folder appear at once; the watch is replaced correctly, so say nothing.
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)
        try:
            observer = Observer(self._ignorable)
        except OSError as exc:
            raise _limit_error(exc) from None
        try:
            for folder in (self.video_dir, self.imports_dir):
                observer.schedule(_Handler(self), str(folder), recursive=True, event_filter=_EVENTS)
            observer.start()
        except OSError as exc:
            observer.stop()
            raise _limit_error(exc) from None
        self._observer = observer
        self._video_id = _identity(self.video_dir)
        self._stopping.clear()
        self._checker = threading.Thread(target=self._check_made_files, name="tamper-check", daemon=True)
        self._checker.start()

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        checker, self._checker = self._checker, None
        if observer is not None and checker is not None:
            self._stopping.set()
            observer.fd.wake()
            self._made.put(None)
            checker.join()
        if observer is not None:
            observer.stop()
            observer.join()

    @property
    def running(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def expect(self, relpath: str, kind: str, ttl_s: float = 30) -> None:
        """Announce one change edged is about to make; the matching event is not reported."""
        now = time.monotonic()
        with self._lock:
            if len(self._expected) > 1024:
                self._prune_expected(now)
            self._expected.setdefault((relpath, kind), deque()).append(now + ttl_s)

    def check_made(self, relpath: str) -> None:
        """edged made this file: once its folder is watched, report it deleted if it is gone. Never blocks."""
        self._made.put(relpath)

    def _check_made_files(self) -> None:
        while (rel := self._made.get()) is not None:
            try:
                self._check_made(rel)
            except Exception:
                log.exception("tamper watcher: could not check %s", rel)

    def _check_made(self, rel: str) -> None:
        """Once the folder is watched, a file there is either still there (its deletion from now on is an
        event) or was deleted before: reported here, unless the watch saw it or edged announced it."""
        observer, path = self._observer, self.data_dir / rel
        if observer is None or _identity(self.video_dir) != self._video_id:
            return  # stopped, or the disk is gone or swapped: the daemon's storage check says so
        if (path.parent.is_dir() and path.parent not in self._unwatched
                and not observer.fd.wait_watched(path.parent, WATCHED_WAIT_S, self._stopping)):
            if self._stopping.is_set():
                return
            self._unwatched.add(path.parent)  # past the inotify limit: its next files are not waited for
            log.warning("tamper watcher: %s is not watched after %.0f s; checking its files anyway", path.parent,
                        WATCHED_WAIT_S)
        if os.path.lexists(path) or not self._found_gone(rel):
            return
        self._report(Tamper(DELETED, rel, "deleted (found missing once its folder was watched)", self.clock.now_us()))

    def _found_gone(self, rel: str) -> bool:
        """A made file is missing: True if no one has accounted for it yet (and now this check has)."""
        up = [rel] + [f for n in range(1, rel.count("/") + 1) if not (self.data_dir / (f := rel.rsplit("/", n)[0])).is_dir()]
        with self._lock:  # (a folder the watch saw go accounts for its files only while it is gone)
            if any(p in self._gone for p in up) or any(self._expected.get((rel, k)) for k in (DELETED, MOVED)):
                return False  # the watch saw it go (reported or announced), or edged is removing it
            self._note_gone(rel, _FOUND)
            return True

    def _seen_gone(self, rel: str) -> bool:
        """The watch saw `rel` deleted or moved away: True unless a made file's check reported it first."""
        with self._lock:
            first = self._gone.get(rel) != _FOUND
            self._note_gone(rel, _SEEN)
            return first

    def _note_gone(self, rel: str, how: str) -> None:  # under _lock
        self._gone[rel] = how
        self._gone.move_to_end(rel)
        if len(self._gone) > _GONE_KEPT:
            self._gone.popitem(last=False)

    # event handling (watchdog thread) ---------------------------------------------------
    def _handle(self, event: FileSystemEvent) -> None:
        src = self._rel(event.src_path)
        if isinstance(event, (FileModifiedEvent, FileClosedEvent)):
            if _is_segment_file(src):
                self._modified(src, closed=isinstance(event, FileClosedEvent))
        elif isinstance(event, FileDeletedEvent):
            if _is_segment_file(src) and self._seen_gone(src):
                old = self._sizes.pop(src, None)
                self._check(src, DELETED, "deleted" if old is None else f"deleted ({old} bytes)")
        elif isinstance(event, DirDeletedEvent):
            if (_is_video(src) or _is_intake(src)) and self._seen_gone(src):
                detail = (f"the {src} folder itself was deleted: watching stopped" if src in (layout.VIDEO_DIR, IMPORTS_DIR)
                          else "folder deleted")
                self._check(src, DELETED, detail)
        elif isinstance(event, FileMovedEvent):
            if event.is_synthetic:
                return  # a file inside a moved folder: the folder's own report covers it
            dest = self._rel(event.dest_path)
            if _is_segment_file(src) and self._seen_gone(src):
                size = self._sizes.pop(src, None)
                if self._check(src, MOVED, f"moved to {dest or _OUTSIDE}") and size is not None and dest:
                    self._remember(dest, size)
            if _is_segment_name(dest):
                self._check(dest, MOVED, f"a file moved in from {src or _OUTSIDE}")
        elif isinstance(event, DirMovedEvent):
            if event.is_synthetic:
                return
            dest = self._rel(event.dest_path)
            if (_is_video(src) or _is_intake(src)) and self._seen_gone(src):
                self._check(src, MOVED, f"folder moved to {dest or _OUTSIDE}")
            elif _is_video(dest) or (_is_intake(dest) and not src.startswith(_STAGING)):  # not an intake placed
                self._check(dest, MOVED, f"a folder moved in from {src or _OUTSIDE}")

    def _ignorable(self, path: bytes) -> bool:
        """An IN_MODIFY `_modified` would pass over (a segment edged is writing, no change of it announced):
        the inotify reader drops it before watchdog's hand-offs, on its thread (design/0535)."""
        rel = self._rel(path)
        with self._lock:
            announced = bool(self._expected.get((rel, MODIFIED)))
        return _is_segment_file(rel) and not announced and self._ask_ours(rel, MODIFIED)

    def _modified(self, rel: str, closed: bool) -> None:
        now = time.monotonic()
        if self._quiet_until.get(rel, 0.0) > now:
            return  # the rest of a burst already reported (or announced)
        if self._consume(rel, MODIFIED, now):
            self._quiet(rel, now)
            return
        size = _size(self.data_dir / rel)
        if self._ask_ours(rel, MODIFIED):
            if closed and size is not None:
                self._remember(rel, size)
            return
        old = self._sizes.get(rel)
        if size is None:
            detail = "modified, then gone"
        elif old is None:
            detail = f"size now {size}"
        elif old != size:
            detail = f"size {old} -> {size}"
        else:
            detail = f"rewritten, size {size} unchanged"
        self._quiet(rel, now)
        if size is not None:
            self._remember(rel, size)
        self._report(Tamper(MODIFIED, rel, detail, self.clock.now_us()))

    def _check(self, rel: str, kind: str, detail: str) -> bool:
        """Report unless announced or ours; True if it was reported."""
        if self._consume(rel, kind, time.monotonic()) or self._ask_ours(rel, kind):
            return False
        self._report(Tamper(kind, rel, detail, self.clock.now_us()))
        return True

    def _consume(self, rel: str, kind: str, now: float) -> bool:
        with self._lock:
            deadlines = self._expected.get((rel, kind))
            while deadlines and deadlines[0] < now:
                deadlines.popleft()
            if not deadlines:
                self._expected.pop((rel, kind), None)
                return False
            deadlines.popleft()
            if not deadlines:
                del self._expected[(rel, kind)]
            return True

    def _prune_expected(self, now: float) -> None:
        for key in [k for k, d in self._expected.items() if max(d) < now]:
            del self._expected[key]

    def _ask_ours(self, rel: str, kind: str) -> bool:
        try:
            return bool(self._is_ours(rel, kind))
        except Exception:
            log.exception("is_ours(%s, %s) failed; reporting the change as tampering", rel, kind)
            return False

    def _report(self, tamper: Tamper) -> None:
        log.warning("tamper: %s %s (%s)", tamper.kind, tamper.relpath, tamper.detail)
        try:
            self._on_tamper(tamper)
        except Exception:
            log.exception("tamper callback failed for %s", tamper.relpath)

    def _quiet(self, rel: str, now: float) -> None:
        if len(self._quiet_until) > 256:
            self._quiet_until = {k: t for k, t in self._quiet_until.items() if t > now}
        self._quiet_until[rel] = now + DEBOUNCE_S

    def _remember(self, rel: str, size: int) -> None:
        self._sizes[rel] = size
        self._sizes.move_to_end(rel)
        if len(self._sizes) > _SIZES_KEPT:
            self._sizes.popitem(last=False)

    def _rel(self, path: bytes | str) -> str:
        """Path relative to data_dir with '/' separators, or '' when outside it (or absent)."""
        path = os.fsdecode(path)
        return path[len(self._prefix):].replace(os.sep, "/") if path.startswith(self._prefix) else ""


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: TamperWatcher):
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        try:  # an exception here would end the watchdog thread, and with it all tamper detection
            self._watcher._handle(event)
        except Exception:
            log.exception("tamper watcher: could not handle %r", event)


def _is_video(rel: str) -> bool:
    return rel == layout.VIDEO_DIR or rel.startswith(layout.VIDEO_DIR + "/")


def _is_segment_file(rel: str) -> bool:
    return rel.startswith(layout.VIDEO_DIR + "/") and rel.endswith(".mp4") or _is_intake_file(rel)


def _is_segment_name(rel: str) -> bool:
    return bool(rel) and layout.parse_relpath(rel) is not None or _is_intake_file(rel)


def _is_intake(rel: str) -> bool:
    """The intakes' folder itself or a placed intake's folder (never a staging one)."""
    return rel == IMPORTS_DIR or _INTAKE.fullmatch(rel) is not None


def _is_intake_file(rel: str) -> bool:
    """A file in a placed intake's folder: its original or one of its segments."""
    folder, _sep, name = rel.rpartition("/")
    return bool(name) and _INTAKE.fullmatch(folder) is not None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        return (st := folder.stat()).st_dev, st.st_ino
    except OSError:
        return None


def _limit_error(exc: OSError) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EMFILE):
        return TamperWatchError(
            f"cannot watch the video and imports folders for tampering: the inotify limits are too low ({exc.strerror}); "
            "raise fs.inotify.max_user_watches and fs.inotify.max_user_instances (sysctl) and restart edged")
    return exc
