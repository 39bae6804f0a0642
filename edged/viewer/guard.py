"""The viewer's door to the LAN: a cap on connections and on the time a connection may hold
one without sending a request (design/0021).

aiohttp keeps every accepted connection until the client sends a whole request, however slowly,
so idle and half-sent-header connections pile up until edged runs out of descriptors (issue 14
reproduced 50 of 50 still open after 100 s). Each accepted connection is wrapped here:
- at most `per_address` at once from one client address and `total` in all; more are reset
  at accept, so one machine flooding the port cannot keep another out;
- a connection that is not inside a request is closed `idle_s` after it opened or after its
  last response, whether it sent nothing or half a header;
- none lives longer than `lifetime_s`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class ConnectionGuard:
    def __init__(self, *, total: int = 256, per_address: int = 16, idle_s: float = 10.0, lifetime_s: float = 600.0):
        self.total, self.per_address = total, per_address
        self.idle_s, self.lifetime_s = idle_s, lifetime_s
        self.by_address: Counter[str] = Counter()
        self.open: dict[Any, _Guarded] = {}     # transport -> its wrapper
        self.refused = 0                        # connections reset at accept (for the log and tests)
        self._warned: set[str] = set()

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, inner())

    def admit(self, address: str) -> bool:
        if len(self.open) >= self.total or self.by_address[address] >= self.per_address:
            self.refused += 1
            if address not in self._warned:
                self._warned.add(address)
                log.warning("viewer: too many connections (%d from %s, %d in all); resetting the excess",
                            self.by_address[address], address, len(self.open))
            return False
        self._warned.discard(address)
        return True

    def request_started(self, transport: Any) -> None:
        g = self.open.get(transport)
        if g is not None:
            g.busy += 1

    def request_ended(self, transport: Any) -> None:
        g = self.open.get(transport)
        if g is not None:
            g.busy -= 1
            g.deadline = time.monotonic() + self.idle_s


class _Guarded(asyncio.Protocol):
    """Passes everything to aiohttp's protocol, and closes the connection when its time is up."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol):
        self.guard, self.inner = guard, inner
        self.transport: Any = None
        self.address = ""
        self.busy = 0
        self.opened = self.deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        if not self.guard.admit(self.address):
            transport.abort()
            return
        self.transport = transport
        self.opened = time.monotonic()
        self.deadline = self.opened + self.guard.idle_s
        self.guard.open[transport] = self
        self.guard.by_address[self.address] += 1
        self._arm(self.guard.idle_s)
        self.inner.connection_made(transport)

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(0.05, delay), self._check)

    def _check(self) -> None:
        self._timer = None
        if self.transport is None:
            return
        now = time.monotonic()
        if now - self.opened >= self.guard.lifetime_s or (self.busy <= 0 and now >= self.deadline):
            self.transport.abort()
            return
        self._arm(min(self.opened + self.guard.lifetime_s, self.deadline if self.busy <= 0 else now + 1) - now)

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.transport is not None else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return  # refused at accept: aiohttp never saw it
        if self._timer is not None:
            self._timer.cancel()
        self.guard.open.pop(self.transport, None)
        self.guard.by_address[self.address] -= 1
        if self.guard.by_address[self.address] <= 0:
            del self.guard.by_address[self.address]
        self.transport = None
        self.inner.connection_lost(exc)
