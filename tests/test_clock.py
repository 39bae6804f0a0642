"""storage/time/clock.py: Clock.sleep and wait_or_stop, the one way a periodic task waits (design/0068)."""

from __future__ import annotations

import asyncio
import time

from storage.time.clock import SECOND_US, SYSTEM, FakeClock, SteppedClock, wait_or_stop


async def test_a_fake_clock_sleeps_by_moving_on():
    clock = FakeClock(now_us=0, monotonic=10.0)
    await clock.sleep(2.5)
    assert clock.now_us() == 2_500_000 and clock.monotonic() == 12.5
    await clock.sleep(-1)  # a deadline already past: no time passes, none runs backwards
    assert clock.now_us() == 2_500_000


async def test_on_a_fake_clock_the_time_passes_and_the_next_round_comes():
    clock, stopping = FakeClock(now_us=0), asyncio.Event()
    rounds = 0
    while not await wait_or_stop(stopping, 30, clock):  # a periodic loop driven by the fake clock
        rounds += 1
        if rounds == 4:
            stopping.set()
    assert rounds == 4 and clock.now_us() == 4 * 30 * SECOND_US


async def test_stopped_already_returns_at_once_without_waiting():
    stopping = asyncio.Event()
    stopping.set()
    clock = FakeClock(now_us=0)
    assert await wait_or_stop(stopping, 3600, clock) is True
    assert clock.now_us() == 0


async def test_a_stop_ends_the_wait_on_the_system_clock_and_leaves_no_task_behind():
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stopping.set)
    before, start = len(asyncio.all_tasks()), time.monotonic()
    assert await wait_or_stop(stopping, 60, SYSTEM) is True
    assert time.monotonic() - start < 10
    await asyncio.sleep(0)  # the cancelled helpers finish
    assert len(asyncio.all_tasks()) == before


async def test_the_time_passing_on_the_system_clock_is_not_a_stop():
    start = time.monotonic()
    assert await wait_or_stop(asyncio.Event(), 0.05, SteppedClock()) is False
    assert time.monotonic() - start >= 0.04


async def test_a_cancelled_wait_cancels_its_helpers():
    stopping = asyncio.Event()
    waiter = asyncio.ensure_future(wait_or_stop(stopping, 60))
    await asyncio.sleep(0.01)
    before = len(asyncio.all_tasks())
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await asyncio.sleep(0)
    assert waiter.cancelled() and len(asyncio.all_tasks()) == before - 3  # it and its two helpers
