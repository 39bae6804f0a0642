"""One thread that reads every edged-reader camera of a worker, each in turn (design/0302).

A camera's thread connects (recorder/opening.py) and hands its run, a generator that reads,
stamps and writes what has come and yields when nothing more has (recorder/camera.py `_steps`),
to the worker's `ReadTurns`; it then sleeps until the run ends. Every TURN_US the reader wakes
once and steps each run in turn: one wake a turn for all the worker's cameras, not one a camera,
and no hand-off of the interpreter between camera threads in between. A run handed with `apart` 2
is stepped every other turn (its fragments allow for the wait: recorder/segment.py turns_apart,
design/0552), every such run on the same turns: a turn's cost is much of it the turn's own (the
interpreter's and PyAV's code and the worker's state, cold after the sleep), shared by the runs it
steps, so a turn between steps the runs read every turn alone. A stop is seen at the next turn
whichever. A run that ends, fails or is stopped is handed back to its camera's thread, which
reconnects as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from typing import Any

from storage.process.threadname import name_os_thread

log = logging.getLogger(__name__)

# How often the reader turns: the edged reader's low-water wait (recorder/edged_source.py READ_WAIT_US),
# which the muxer's fragments already allow for (recorder/segment.py muxer_fragment_us).
TURN_US = 125_000


class _Run:
    __slots__ = ("steps", "stop", "apart", "done", "value", "error")

    def __init__(self, steps: Generator[None, None, bool], stop: threading.Event, apart: int = 1):
        self.steps, self.stop = steps, stop
        self.apart = max(1, apart)  # stepped on the turns whose count is a multiple of this
        self.done = threading.Event()
        self.value = False
        self.error: BaseException | None = None


class ReadTurns:
    """The worker's reader. `run` is called on a camera's thread and returns what the run returns
    (or raises what it raised) once it has ended; everything between happens on the reader's thread."""

    def __init__(self, turn_us: int = TURN_US):
        self.turn_s = turn_us / 1e6
        self._new: list[_Run] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._main, name="reader", daemon=True)  # started by the first run

    def run(self, steps: Generator[None, None, bool], stop: threading.Event, apart: int = 1) -> bool:
        """Step `steps` every `apart` turns until it returns, raises, or `stop` is set (then it is closed,
        at the next turn)."""
        run = _Run(steps, stop, apart)
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the worker's reader is closed")
            self._new.append(run)
            if self._thread.ident is None:
                self._thread.start()
        run.done.wait()
        if run.error is not None:
            raise run.error
        return run.value

    def close(self, timeout: float = 10) -> None:
        """Stop turning (after each camera's run has been stopped: a run left is closed)."""
        with self._lock:  # no run starts the thread after this
            self._closed.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        name_os_thread("reader")
        runs: list[_Run] = []
        turn_s, monotonic = self.turn_s, time.monotonic
        due = monotonic()
        turn = 0  # turns so far
        while True:
            with self._lock:
                runs += self._new
                self._new.clear()
                closed = self._closed.is_set()
            for run in runs:
                if run.apart == 1 or turn % run.apart == 0 or closed or run.stop.is_set():
                    _step(run, closed)
            turn += 1
            runs = [r for r in runs if not r.done.is_set()]
            if closed and not runs:
                return
            due += turn_s
            wait = due - monotonic()
            if wait <= 0:  # a turn took longer than TURN_US: the next at once, and on time from there
                due -= wait
            elif self._closed.wait(wait):
                due = monotonic()


def _step(run: _Run, closed: bool) -> None:
    """One turn of one run: what has come is recorded; an end, a failure or a stop is handed back."""
    try:
        if run.stop.is_set() or closed:
            run.steps.close()  # the run ends at its last yield; its camera's thread closes the segment
        else:
            next(run.steps)
            return
    except StopIteration as end:
        run.value = end.value
    except BaseException as exc:  # noqa: BLE001 - handed to the camera's thread, which reports it
        run.error = exc
    run.done.set()


def drive(steps: Generator[Any, None, bool]) -> bool:
    """A run on its own camera's thread: stepped until it returns (it waits in its reads)."""
    try:
        while True:
            next(steps)
    except StopIteration as end:
        return bool(end.value)
