"""A stop during start-up (design/0205): the signals that arrive before the daemon's own handlers.

`edged run` catches SIGTERM, SIGINT and SIGHUP from the first line of its `main` (before its
event loop exists, with plain handlers that note the signal), then through the event loop
(`attach`), until the daemon's handlers are installed (edged/daemon/signals.py); `hand_over`
then delivers what came before: one stop (a technician's `systemctl stop` during start-up is a
clean stop), else a reload.

A signal the loop has read but whose callback it runs after the hand-over (both in the same turn
of the loop) is raised again, to the daemon's handler: noted after the hand-over, it would be
lost, and the daemon would run on (what tests/test_supervision.py once saw). Only the
interpreter's own start, before `main`, is not covered: a SIGTERM then ends the process as the
default action does, before it has opened anything.

Stdlib only: `edged run` imports it before its workers are spawned."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

# SIGUSR2 (an upgrade's handover, design/0353) before the daemon's handler is noted and dropped: its
# default action would end the daemon (postinst then says the handover was not taken, and nothing stopped).
CAUGHT = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2)
STOPS = (signal.SIGTERM, signal.SIGINT)


class StartSignals:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.handed_over = False
        self.stop_seen = asyncio.Event()  # bound to the loop of its first wait (attach's)

    @property
    def stopped(self) -> bool:
        return any(sig in STOPS for sig in self.seen)

    def catch(self) -> StartSignals:
        """Before the event loop: plain handlers, run between two of the main thread's steps."""
        for sig in CAUGHT:
            signal.signal(sig, self._noted)
        return self

    def _noted(self, sig: int, _frame: FrameType | None) -> None:
        self.seen.append(sig)

    def attach(self) -> StartSignals:
        """In the event loop: its handlers take over (they wake it from a wait)."""
        loop = asyncio.get_running_loop()
        for sig in CAUGHT:
            loop.add_signal_handler(sig, self._arrived, sig)
        if self.stopped:
            self.stop_seen.set()
        return self

    def _arrived(self, sig: int) -> None:
        if self.handed_over:  # read by the loop before the daemon's handler was installed, run after
            signal.raise_signal(sig)
            return
        self.seen.append(sig)
        if sig in STOPS:
            self.stop_seen.set()

    def hand_over(self) -> None:
        """The daemon's own handlers are installed: deliver what arrived before, a stop once."""
        self.handed_over = True
        seen, self.seen = self.seen, []
        stop = next((sig for sig in seen if sig in STOPS), None)
        if stop is not None:
            signal.raise_signal(stop)
        elif signal.SIGHUP in seen:
            signal.raise_signal(signal.SIGHUP)
