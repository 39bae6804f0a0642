"""The OS name of the calling thread (/proc/PID/task/TID/comm, `top -H`), so a process's CPU can
be split by thread from outside: a recorder worker's camera threads, durability, hasher, events,
image checks (bench/record_throughput.py); edged-central's store, verifier and network threads
(bench/central_ingest.py). Python 3.11 names its threads only for itself. Each of edged's programs
names its process the same way, from its main thread: `top` and `ps -o comm` show edged, edged-recorder,
edged-export... rather than a row of `python3` (design/0511)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_PR_SET_NAME = 15
_prctl: Callable[..., int] | None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: names stay Python's own
    _prctl = None


def name_os_thread(name: str) -> None:
    if _prctl is not None:
        _prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
