"""A stop during start-up (design/0205): `edged run` keeps the signals that come before the
daemon's own handlers and hands them over, a stop once; one the event loop read before the
hand-over but ran after is not lost (tests/test_supervision.py once saw a daemon run on)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest

from edged.daemon.recording.start_signals import CAUGHT, StartSignals


@pytest.fixture(autouse=True)
def handlers_back() -> Iterator[None]:
    """This process's own handlers, as they were (the tests send it SIGTERM, SIGINT and SIGHUP)."""
    before = {sig: signal.getsignal(sig) for sig in CAUGHT}
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


def test_a_signal_read_before_the_hand_over_and_run_after_it_reaches_the_daemons_handler():
    """The moment the lost SIGTERM fell in: the loop read it (the early handler's callback is
    scheduled) in the same turn as start-up's step ended; start-up then ran on to the hand-over
    before the callback ran."""
    async def main() -> tuple[list[int], list[int]]:
        loop = asyncio.get_running_loop()
        signals = StartSignals().attach()
        stops: list[int] = []
        stopped = asyncio.Event()
        step = loop.create_future()

        def step_ends_as_the_signal_comes() -> None:
            signal.raise_signal(signal.SIGTERM)   # into the loop's wake-up pipe now
            loop.call_soon(step.set_result, None)  # the step's end, queued before the loop reads the pipe

        loop.call_soon(step_ends_as_the_signal_comes)
        await step
        noted = list(signals.seen)  # the early handler's callback has not run yet

        def stop(sig: int) -> None:  # the daemon's own handler (edged/daemon/signals.py)
            stops.append(sig)
            stopped.set()

        loop.add_signal_handler(signal.SIGTERM, stop, signal.SIGTERM)
        signals.hand_over()
        await asyncio.wait_for(stopped.wait(), 30)
        return noted, stops

    noted, stops = asyncio.run(main())
    assert noted == [], "not the moment of the race: the signal was noted before the hand-over"
    assert stops == [signal.SIGTERM]


def test_signals_before_the_event_loop_are_one_stop_at_the_hand_over():
    """Caught from `edged run`'s first line: a reload and two stops before the loop are one stop."""
    signals = StartSignals().catch()
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.raise_signal(sig)
    assert signals.seen == [signal.SIGHUP, signal.SIGTERM, signal.SIGINT] and signals.stopped

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        signals.attach()
        assert signals.stop_seen.is_set(), "prestart's wait for the first segments ends on it"
        delivered: list[int] = []
        marker = asyncio.Event()
        for sig in CAUGHT:
            loop.add_signal_handler(sig, delivered.append, sig)
        signals.hand_over()
        loop.add_signal_handler(signal.SIGUSR1, marker.set)
        signal.raise_signal(signal.SIGUSR1)  # read after all the hand-over raised
        try:
            await asyncio.wait_for(marker.wait(), 30)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)
        return delivered

    assert asyncio.run(main()) == [signal.SIGTERM]


def test_a_reload_alone_before_the_hand_over_is_delivered():
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        signals = StartSignals().attach()
        signal.raise_signal(signal.SIGHUP)
        while not signals.seen:  # the loop's callback notes it
            await asyncio.sleep(0)
        assert not signals.stopped and not signals.stop_seen.is_set()
        delivered: list[int] = []
        heard = asyncio.Event()
        loop.add_signal_handler(signal.SIGHUP, lambda: (delivered.append(signal.SIGHUP), heard.set()))
        signals.hand_over()
        await asyncio.wait_for(heard.wait(), 30)
        return delivered

    assert asyncio.run(main()) == [signal.SIGHUP]


def test_a_handover_asked_during_start_up_is_dropped_not_fatal():
    """SIGUSR2 (design/0353) before the daemon's own handler: its default action would end the
    process; noted, it is no stop, and the hand-over raises nothing for it (postinst says the
    handover was not taken and the daemon records on)."""
    signals = StartSignals().catch()
    signal.raise_signal(signal.SIGUSR2)
    assert signals.seen == [signal.SIGUSR2] and not signals.stopped
    raised: list[int] = []
    for sig in CAUGHT:
        signal.signal(sig, lambda s, _f: raised.append(s))
    signals.hand_over()
    assert raised == []
