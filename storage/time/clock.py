"""The one clock (design/0034): wall time in UTC microseconds and a monotonic clock.

Everything that needs the time is handed a `Clock` (the stores, the supervisor, the runners,
the reporter, the viewer); one-shot commands use `SYSTEM`. This module is the only place that
reads the host's wall clock, so a test can swap in `FakeClock` and move time by hand instead
of waiting on it. Monotonic timers that only measure a duration (timeouts, perf figures) may
call `time.monotonic()` where they are.

A periodic task waits with `wait_or_stop(stopping, seconds, clock)`: the one way to sleep until
the next round unless edged is stopping (design/0068). On a `FakeClock` the sleep moves the fake
time instead of waiting, so a test drives the loop by hand.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # asyncio (and the ssl it imports) in the coroutines below: a recorder worker
    import asyncio  # reads this clock from threads and runs no event loop (design/0286)

SECOND_US = 1_000_000


class Clock(Protocol):
    def now_us(self) -> int:
        """Wall time, UTC microseconds since the epoch (may be stepped by NTP)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass on this clock (asyncio; never blocks the event loop)."""
        ...


class SystemClock:
    """The host's clocks."""

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # on the loop, asyncio is loaded: a look-up in sys.modules

        await asyncio.sleep(seconds)


SYSTEM = SystemClock()


class FakeClock:
    """A clock a test moves by hand. `advance` moves both clocks; `step` moves the wall clock
    only, as NTP stepping the host clock does. Thread-safe: camera threads read it too."""

    def __init__(self, now_us: int = 1_700_000_000 * SECOND_US, monotonic: float = 1000.0):
        self._lock = threading.Lock()
        self._now_us = now_us
        self._mono = monotonic

    def now_us(self) -> int:
        with self._lock:
            return self._now_us

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, us: int = 0, *, s: float = 0) -> None:
        """Let time pass: `us` microseconds plus `s` seconds on both clocks."""
        total = us + round(s * SECOND_US)
        if total < 0:
            raise ValueError("time does not run backwards; use step() for a clock step")
        with self._lock:
            self._now_us += total
            self._mono += total / SECOND_US

    def step(self, us: int) -> None:
        """The wall clock jumps by `us` (either way); the monotonic clock does not move."""
        with self._lock:
            self._now_us += us

    async def sleep(self, seconds: float) -> None:
        """The time passes at once (both clocks move on by `seconds`); the other tasks get a turn."""
        import asyncio

        self.advance(s=max(0.0, seconds))
        await asyncio.sleep(0)


class SteppedClock:
    """The system's clocks with the wall clock moved by `offset_us` (a host clock step in a
    test that records real footage in real time)."""

    def __init__(self, base: Clock = SYSTEM):
        self.base = base
        self.offset_us = 0

    def now_us(self) -> int:
        return self.base.now_us() + self.offset_us

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


async def wait_or_stop(stopping: asyncio.Event, seconds: float, clock: Clock = SYSTEM) -> bool:
    """Wait `seconds` on `clock`, or less if `stopping` is set first: True when it is set (the
    caller stops), False when the time passed (the next round). Set already: True at once."""
    import asyncio

    if stopping.is_set():
        return True
    sleep = asyncio.ensure_future(clock.sleep(max(0.0, seconds)))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((sleep, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:  # cancelled ourselves, or one of the two done: the other one is not left behind
        sleep.cancel()
        stop.cancel()
    return stopping.is_set()
