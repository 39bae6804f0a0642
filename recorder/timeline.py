"""Where segments start and end, and what wall-clock time a packet has. Pure: no I/O.

docs/requirements.md "Time": a run (one connection) takes one wall-clock reading at its start and
measures the rest with media timestamps; a host clock step (seen against the monotonic
clock) ends the segment and re-anchors, it never bends timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass

# RTP timestamps jitter by ~11 us after RTCP sync (measured on GStreamer's RTSP server): a keyframe at
# 59.999989 s must still open the segment that starts at :00.
CUT_TOLERANCE_US = 10_000
# The host clock moved by more than this against the monotonic clock: it was stepped.
CLOCK_STEP_US = 1_000_000
# Media time moved by more than this between two video packets: the camera's clock jumped.
MEDIA_JUMP_US = 10_000_000


def next_boundary(start_us: int, length_us: int) -> int:
    """The first wall-clock multiple of the segment length after `start_us`. A segment opened
    within the cut tolerance before a boundary was cut there (`is_cut`): it runs to the next
    one, not one keyframe interval."""
    return ((start_us + CUT_TOLERANCE_US) // length_us + 1) * length_us


def is_cut(wall_us: int, keyframe: bool, boundary_us: int) -> bool:
    """A new segment starts at the first keyframe at (or within tolerance of) the boundary."""
    return keyframe and wall_us >= boundary_us - CUT_TOLERANCE_US


# At the start of a run the demuxer hands over what it buffered while probing, all at
# once: arrival times of that burst say nothing about when the frames were taken. The
# anchor is the earliest (arrival - media) offset seen over this much of the run.
WARMUP_US = 1_000_000


def anchor_offset(samples: list[tuple[int, int]]) -> int:
    """wall = media + offset, from (arrival wall time, media time) pairs of one run.

    The packet that arrived soonest after it was taken bounds the offset best; a late
    (buffered) packet only makes the offset look bigger.
    """
    return min(arrival - media for arrival, media in samples)


@dataclass(slots=True)
class RunClock:
    """Wall time for one run's media time, and a watch on the host clock."""

    offset: int    # wall_us = media_us + offset
    wall_ref: int  # one reading of the host wall clock ...
    mono_ref: int  # ... and of the monotonic clock at the same moment

    def wall(self, media_us: int) -> int:
        return media_us + self.offset

    @property
    def basis(self) -> int:
        """Which host clock the run's stamps are on: its wall time less monotonic time at the
        anchor (storage/trusted_time.basis; a step changes it)."""
        return self.wall_ref - self.mono_ref

    def stepped(self, wall_now: int, mono_now: int) -> bool:
        """The host clock moved against the monotonic clock since the anchor (NTP step)."""
        return abs((wall_now - self.wall_ref) - (mono_now - self.mono_ref)) > CLOCK_STEP_US

    def after_step(self, wall_now: int, mono_now: int) -> RunClock:
        """The same run on the stepped host clock (design/0059): the offset moves by exactly the
        step (wall time against monotonic time since the anchor), so the new segment starts where
        the last one ended plus the step. Re-anchoring on one packet's arrival instead put the
        anchors' difference in network and scheduling delay (0.29 s once on a loaded box), an
        overlap after re-stamping."""
        step = (wall_now - self.wall_ref) - (mono_now - self.mono_ref)
        return RunClock(self.offset + step, wall_now, mono_now)

    def lateness(self, media_us: int, wall_now: int) -> int:
        """How long after its mapped time a packet arrived: the camera-to-host delay, which
        grows if the camera's clock runs slow against the host's."""
        return wall_now - self.wall(media_us)


# A camera's media clock that has run this far from monotonic time since the run's anchor is
# re-anchored at the next keyframe (design/0060): segment times follow the host, not a camera
# crystal that runs fast or slow. Well above network jitter; well below MEDIA_JUMP_US.
MEDIA_DRIFT_US = 2_000_000


def media_drift_us(clock: RunClock, media_us: int, mono_now: int) -> int:
    """Media time elapsed since the run's anchor minus monotonic time elapsed: > 0 when the
    camera's clock runs fast against the host's, < 0 when slow (network delay included)."""
    return (clock.wall(media_us) - clock.wall_ref) - (mono_now - clock.mono_ref)


def fix_dts(dts: int | None, last: int | None, step: int) -> tuple[int, str | None]:
    """A usable decode timestamp and what was wrong with the one given.

    `step` is one frame in the stream's time base. Returns (dts, problem) where problem is
    None, "missing" (no timestamp: one frame after the last) or "backwards" (not after the
    last: nudged to one tick after it). Jumps are the caller's business.
    """
    if dts is None:
        return (0 if last is None else last + step), "missing"
    if last is not None and dts <= last:
        return last + 1, "backwards"
    return dts, None
