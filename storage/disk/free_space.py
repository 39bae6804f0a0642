"""The data disk's size and free space, with one owner (design/0069).

Seven parts read `shutil.disk_usage` of the data folder, some of them on the event loop, where a
disk that hangs (a dying drive, a stale network mount) would stop everything with it. One
`FreeSpace` per data folder reads it instead and keeps the reading for `MAX_AGE_S`:

- `read()`: a fresh reading, blocking: for a thread (the retention pass must see what it freed);
- `recent()`: the kept reading if fresh enough, else a fresh one, blocking: for a thread;
- `await get()`: the same from the event loop, the disk read in a thread;
- `last()`: the kept reading, never blocking (None before the first).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

from storage.time.clock import SYSTEM, Clock

MAX_AGE_S = 1.0  # a reading younger than this is answered from memory


class FreeSpace:
    def __init__(self, path: Path, clock: Clock = SYSTEM, *, max_age_s: float = MAX_AGE_S,
                 usage: Callable[[Path], Any] = shutil.disk_usage) -> None:
        self.path = Path(path)
        self.clock = clock
        self.max_age_s = max_age_s
        self._usage = usage
        self._lock = threading.Lock()
        self._last: Any = None   # shutil.disk_usage's (total, used, free)
        self._at = 0.0           # when, on the monotonic clock

    def read(self) -> Any:
        """A fresh reading (blocking; raises OSError as shutil.disk_usage does)."""
        usage = self._usage(self.path)
        with self._lock:
            self._last, self._at = usage, self.clock.monotonic()
        return usage

    def usage_of(self, _path: Path) -> Any:
        """`read()` with shutil.disk_usage's signature, for code that is handed one."""
        return self.read()

    def last(self) -> Any:
        with self._lock:
            return self._last

    def fresh(self) -> Any:
        """The kept reading if younger than `max_age_s`, else None (never blocks)."""
        with self._lock:
            if self._last is not None and self.clock.monotonic() - self._at < self.max_age_s:
                return self._last
            return None

    def recent(self) -> Any:
        fresh = self.fresh()
        return fresh if fresh is not None else self.read()

    async def get(self) -> Any:
        fresh = self.fresh()
        return fresh if fresh is not None else await asyncio.to_thread(self.read)
