"""The redaction worker's first step (design/0172, 0290): the process takes the idle CPU and I/O
classes, then runs storage/redact/worker.py. Nothing but the standard library is loaded before: the
copy's own libraries (numpy, PyAV, the face detector's runtime; about a second on a busy box) load at
idle priority too, so a copy never takes a moment of a core that recording wants."""

from __future__ import annotations

import ctypes
import os
import platform
import runpy
from typing import Any

IOPRIO_SET = {"x86_64": 251, "aarch64": 30}   # the ioprio_set system call's number
IOPRIO_WHO_PROCESS, IOPRIO_CLASS_IDLE, IOPRIO_CLASS_SHIFT = 1, 3, 13


def lowest_priority() -> dict[str, Any]:
    """This process to the idle CPU and I/O classes; what was set (a class not set says why)."""
    got: dict[str, Any] = {}
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        got["cpu"] = "idle"
    except (OSError, AttributeError) as exc:
        os.nice(19)
        got["cpu"] = f"nice 19 ({exc})"
    number = IOPRIO_SET.get(platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    if number is not None and libc.syscall(number, IOPRIO_WHO_PROCESS, 0,
                                           IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) == 0:
        got["io"] = "idle"
    else:
        got["io"] = f"unchanged (ioprio_set: {os.strerror(ctypes.get_errno()) if number else 'unknown machine'})"
    return got


if __name__ == "__main__":
    lowest_priority()
    runpy.run_module("storage.redact.worker", run_name="__main__", alter_sys=True)
