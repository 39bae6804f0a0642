"""The pre-roll buffer of a camera in `motion` mode: the last few seconds of packets, in memory,
always starting at a video keyframe. design/0037 (motion), 0038 (how the worker uses it).

While nothing moves the camera thread pushes every packet here instead of writing it; when
motion starts it takes the packets from the last keyframe at or before (motion start -
pre_roll) and writes them first, so the footage opens on a keyframe and holds at least the
pre-roll. Whole GOPs are the unit: a packet before the first keyframe cannot be decoded, so
the buffer drops a GOP only once the next GOP alone still reaches back far enough.

Bounded twice: by time (pre_roll + slack, the slack covering the detector's confirmation and
decode latency) and by bytes (a camera whose GOP is a minute long must not eat the worker's
memory). When bytes force a GOP out that the pre-roll still needed, the next take() says the
pre-roll is incomplete. Pure: no I/O, no clock; times are the caller's (microseconds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Buffered:
    """One packet as the buffer sees it; `item` is the caller's (the packet and its time)."""

    t_us: int
    key: bool  # a video keyframe
    size: int
    video: bool = True
    item: Any = None


@dataclass(slots=True)
class _Gop:
    start_us: int
    entries: list[Buffered] = field(default_factory=list)
    size: int = 0


@dataclass(frozen=True)
class PreRoll:
    """What take() hands over: `entries` start at a keyframe (or are empty); `complete` is
    False when they do not reach back to the asked time (the buffer was restarted since,
    or bytes forced a needed GOP out)."""

    entries: list[Buffered]
    start_us: int | None
    complete: bool


class PreRollBuffer:
    """Packets of the last pre_roll + slack seconds (and the rest of the GOP that starts
    before them), at most max_bytes, first entry always a video keyframe."""

    def __init__(self, pre_roll_us: int, max_bytes: int, slack_us: int = 2_000_000):
        if pre_roll_us < 0 or slack_us < 0:
            raise ValueError("pre-roll and slack are durations, not %d and %d" % (pre_roll_us, slack_us))
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive, not %d" % max_bytes)
        self.pre_roll_us = pre_roll_us
        self.slack_us = slack_us
        self.max_bytes = max_bytes
        self._gops: deque[_Gop] = deque()
        self._bytes = 0
        self._newest: int | None = None
        self.dropped_packets = 0  # packets that could not be kept (no keyframe yet, over the bytes)
        self.cut_gops = 0  # GOPs the pre-roll still needed, dropped over the bytes

    # -- figures --
    def __len__(self) -> int:
        return sum(len(g.entries) for g in self._gops)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def start_us(self) -> int | None:
        """Time of the keyframe the buffer starts at (None when empty)."""
        return self._gops[0].start_us if self._gops else None

    @property
    def span_us(self) -> int:
        """From the first keyframe to the newest packet."""
        return 0 if not self._gops or self._newest is None else self._newest - self._gops[0].start_us

    # -- the camera thread's calls --
    def push(self, entry: Buffered) -> None:
        """Keep a packet (in arrival order), then forget what is no longer needed."""
        if entry.video and entry.key:
            self._gops.append(_Gop(entry.t_us))
        elif not self._gops:
            self.dropped_packets += 1  # before any keyframe: undecodable, or audio without video
            return
        gop = self._gops[-1]
        gop.entries.append(entry)
        gop.size += entry.size
        self._bytes += entry.size
        if self._newest is None or entry.t_us > self._newest:
            self._newest = entry.t_us
        self._trim()

    def _needed_from(self) -> int:
        """The oldest time a take() may still ask for."""
        return (self._newest or 0) - self.pre_roll_us - self.slack_us

    def _drop_first(self) -> _Gop:
        gop = self._gops.popleft()
        self._bytes -= gop.size
        return gop

    def _trim(self) -> None:
        need = self._needed_from()
        # Time: a GOP goes once the next one starts early enough to serve alone.
        while len(self._gops) >= 2 and self._gops[1].start_us <= need:
            self._drop_first()
        # Bytes: drop whole GOPs from the front; the last GOP alone over the limit goes too,
        # and the buffer waits for the next keyframe.
        while self._bytes > self.max_bytes and self._gops:
            gop = self._drop_first()
            self.cut_gops += 1
            if not self._gops:
                self.dropped_packets += len(gop.entries)

    def take(self, since_us: int) -> PreRoll:
        """Hand over the packets from the last keyframe at or before `since_us` (motion start
        minus pre-roll) and empty the buffer; older packets are dropped, not written."""
        gops = list(self._gops)
        self._gops.clear()
        self._bytes = 0
        first = 0
        for i, g in enumerate(gops):
            if g.start_us <= since_us:
                first = i
        kept = gops[first:]
        entries = [e for g in kept for e in g.entries]
        if not kept:
            return PreRoll([], None, False)
        return PreRoll(entries, kept[0].start_us, kept[0].start_us <= since_us)

    def clear(self) -> None:
        """Forget everything (a reconnect: the old run's packets do not lead into the new)."""
        self._gops.clear()
        self._bytes = 0
        self._newest = None
