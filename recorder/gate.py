"""The record gate of a camera in `motion` mode: per packet, buffer it or write it. design/0038.

Two threads meet here. The detection thread reports motion (started at `start_us`; ended,
footage due until `record_until_us`); the camera thread routes every packet through route()
and does what it says: write these packets (the pre-roll first, when motion has just
started), or close the segment first. The camera thread never waits for the detector: it
reads two numbers under a lock held for nanoseconds.

A run of footage opens on the pre-roll buffer's first keyframe and closes just before the
first keyframe after `record_until_us`, so the next run (or the buffer) starts on that
keyframe and footage around two close events is contiguous. Times are the caller's wall
clock, microseconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import cast

from recorder.preroll import Buffered, PreRoll, PreRollBuffer


@dataclass(frozen=True)
class Route:
    """What the camera thread does with one packet: close the open segment first (`close`),
    then write `write` in order (empty: it went into the buffer). `opened` is the pre-roll
    handed over when this packet starts a run; its `complete` says whether the footage
    reaches back to motion start - pre_roll (counting the run before, when they touch)."""

    write: list[Buffered] = field(default_factory=list)
    close: bool = False
    opened: PreRoll | None = None


class RecordGate:
    def __init__(self, buffer: PreRollBuffer):
        self.buffer = buffer
        self._lock = threading.Lock()
        # Set by the detection thread:
        self._start_us: int | None = None   # a motion start not yet acted on
        self._active = False                 # an event is open (no end reported yet)
        self._until_us: int | None = None    # the last ended event's record_until
        self._reopen = False                 # a reconnect during motion: open at the next packet
        # The camera thread's own:
        self.recording = False
        self._closing = False                # record_until passed: close at the next keyframe
        self._resume_us: int | None = None   # the keyframe the last run closed before
        self._covered_since: int | None = None  # start of the footage the last run continued

    # -- the detection thread --
    def motion_started(self, start_us: int) -> None:
        with self._lock:
            self._active = True
            if self._start_us is None:
                self._start_us = start_us

    def motion_ended(self, record_until_us: int) -> None:
        with self._lock:
            self._active = False
            self._until_us = record_until_us

    # -- the camera thread --
    def reset(self) -> None:
        """A new connection: the old one's packets do not lead into it, and any run was
        closed with it. Motion still going on reopens a run at the new connection's first
        keyframe (its pre-roll is whatever the new connection has sent by then)."""
        self.buffer.clear()
        self.recording = self._closing = False
        self._resume_us = self._covered_since = None
        with self._lock:
            self._reopen = self._active

    def route(self, entry: Buffered) -> Route:
        with self._lock:
            start, active, until = self._start_us, self._active, self._until_us
            self._start_us = None
            if start is None and self._reopen and not self.recording:
                start = entry.t_us
            self._reopen = False
        if not self.recording:
            self.buffer.push(entry)
            return self._open(start) if start is not None else Route()
        if start is not None or active:
            self._closing = False  # motion again before the close: the run goes on
        elif until is not None and entry.t_us > until:
            self._closing = True
        if not (self._closing and entry.video and entry.key):
            return Route([entry])
        # Close just before this keyframe; it starts the buffer, so a run opened from the
        # buffer before the buffer moves on continues this one without a hole.
        self.recording = self._closing = False
        self._resume_us = entry.t_us
        self.buffer.push(entry)
        return Route(close=True)

    def _open(self, start: int) -> Route:
        since = start - self.buffer.pre_roll_us
        pre = self.buffer.take(since)
        if not pre.entries:
            # Nothing decodable yet (no keyframe since the buffer restarted): keep the start
            # for the next packet rather than lose it.
            with self._lock:
                if self._start_us is None:
                    self._start_us = start
            return Route()
        if pre.start_us != self._resume_us or self._covered_since is None:
            self._covered_since = pre.start_us  # a new stretch of footage
        self._resume_us = None
        self.recording = True
        return Route(list(pre.entries), opened=PreRoll(pre.entries, pre.start_us,
                                                      cast(int, self._covered_since) <= since))  # set: entries
