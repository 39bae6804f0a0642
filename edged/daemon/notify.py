"""systemd's notify protocol (READY, STATUS, WATCHDOG, STOPPING, EXTEND_TIMEOUT_USEC).

Quietly does nothing outside systemd (no NOTIFY_SOCKET): a developer's shell needs none of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Awaitable, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

try:
    from systemd import daemon as _sd
except ImportError:  # systemd-python missing: only possible outside a proper install
    _sd = None


class Notifier:
    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET")) and _sd is not None
        if os.environ.get("NOTIFY_SOCKET") and _sd is None:
            log.warning("NOTIFY_SOCKET is set but systemd-python is not installed: not notifying systemd")
        pid = os.environ.get("WATCHDOG_PID")
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        self.watchdog_us = usec if self.enabled and (not pid or int(pid) == os.getpid()) else 0
        self._last_status = ""

    def _send(self, message: str) -> None:
        if self.enabled:
            _sd.notify(message)

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}")
        self._last_status = status

    def status(self, status: str) -> None:
        if status != self._last_status:
            self._send(f"STATUS={status}")
            self._last_status = status

    def extend_timeout(self, seconds: float) -> None:
        self._send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def trigger(self) -> None:
        """A fatal internal state: ask systemd to act as if the watchdog had expired."""
        self._send("WATCHDOG=trigger")

    def main_pid(self, pid: int) -> None:
        """An upgrade's handover: the next daemon is the service's main process from here (design/0353)."""
        self._send(f"MAINPID={pid}")

    def stopping(self) -> None:
        self._send("STOPPING=1")


async def while_extending(notifier: Notifier, work: Awaitable[T], step_s: float, every_s: float | None = None) -> T:
    """Run `work`, pushing systemd's start timeout `step_s` further every `every_s` (a third of
    it) until it is done: a start-up step whose length depends on the data, such as the schema
    upgrade of a year's catalog (minutes), must not be killed by TimeoutStartSec and rolled back
    at every restart."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=step_s / 3 if every_s is None else every_s)
        if done:
            return task.result()
        notifier.extend_timeout(step_s)
