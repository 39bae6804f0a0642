"""Where segments start and end, and what wall-clock time a packet has. Pure: no I/O.

docs/requirements.md "Time": a run (one connection) takes one wall-clock reading at its start and
measures the rest with media timestamps; a host clock step (seen against the monotonic
clock) ends the segment and re-anchors, it never bends timestamps.
"""

from __future__ import annotations

import bisect
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


# A stamp further back than this is the camera's clock jumping back, not a bad stamp; media time
# that ran ahead of monotonic time by more than this between two packets is its clock jumping
# ahead (a stall or a loss shows in monotonic time too). design/0093.
JUMP_BACK_US = 1_000_000
JUMP_AHEAD_US = 1_000_000
MISSING, ALIKE, JUMP = "missing", "alike", "jump"
# A reconnect's first segment that begins this little before the last run's end, on the same host
# clock, is the camera's media clock (it ran ahead by up to MEDIA_DRIFT_US before a re-anchor),
# not the host's: the new run starts at the last end (`after_last`). design/0093.
RECONNECT_OVERLAP_US = 3_000_000


def retime(dts: int | None, last: int | None, step: int, elapsed: int, ahead: int, back: int) -> tuple[int, str | None]:
    """A decode time for a packet whose own is missing, not after the last, or leaps, and what
    was wrong (design/0093). All in the stream's ticks: `step` one frame, `elapsed` the monotonic
    time since the last packet, `ahead`/`back` the jump bounds.

    - MISSING: no stamp: one frame after the last.
    - ALIKE: the same stamp as the last, or a little before it (a camera that stamps pictures
      alike): spread one frame after the last, so every file decodes and plays at the rate.
    - JUMP: the camera's clock jumped, back or ahead: the stream goes on one frame (or the time
      that passed) after the last; every frame is kept, the caller shifts what follows alike.
    """
    if dts is None:
        return (0 if last is None else last + step), MISSING
    if last is None:
        return dts, None
    if dts <= last:
        if last - dts > back:
            return last + max(step, elapsed), JUMP
        return last + step, ALIKE
    if dts - last > elapsed + ahead:
        return last + max(step, elapsed), JUMP
    return dts, None


def after_last(offset: int, first_media: int, last_end: int | None, same_clock: bool) -> int:
    """A new run's offset (wall = media + offset), moved so that it begins no earlier than the
    last run's end when the two overlap by less than RECONNECT_OVERLAP_US on one host clock: a
    reconnect is not a host clock that went back (design/0093). A larger overlap, or another host
    clock, is left for the host-clock watch to judge."""
    if last_end is None or not same_clock:
        return offset
    overlap = last_end - (first_media + offset)
    return offset + overlap if 0 < overlap <= RECONNECT_OVERLAP_US else offset


# Decode times (design/0093) ------------------------------------------------------------------
# RTP carries presentation times only, in decode order: at each B picture the timestamp goes back.
# The decode time is derived as libavformat derives it (demux.c, the pts buffer of
# compute_pkt_fields): with a reorder depth of D pictures, a picture's decode time is the least of
# the D + 1 greatest presentation times seen so far, so it never passes the picture's own and never
# goes back. The first D pictures, which libavformat leaves without one, are put one frame apart
# before the first presentation time. Depth None (the stream did not say): learnt from the first
# pictures (`observed_depth`), or grown when a picture comes earlier than the depth allows.
MAX_REORDER = 16  # H.264's and H.265's largest decoded picture buffer


def observed_depth(pts: list[int]) -> int:
    """The least reorder depth these presentation times (in decode order) need: the most
    pictures decoded before one that are presented after it."""
    depth = 0
    for i, t in enumerate(pts):
        depth = max(depth, sum(1 for u in pts[:i] if u > t))
    return min(depth, MAX_REORDER)


class DecodeTimes:
    """Decode times for presentation times in decode order; `step` is one frame (ticks)."""

    __slots__ = ("depth", "step", "_buf", "_seen", "_first", "_last")

    def __init__(self, depth: int, step: int):
        self.depth = min(max(depth, 0), MAX_REORDER)
        self.step = max(step, 1)
        self._buf: list[int] = []   # the last depth + 1 presentation times not yet passed, ascending
        self._seen = 0              # pictures since the start (or the last reset)
        self._first = 0
        self._last: int | None = None

    def reset(self) -> None:
        """After a jump of the camera's clock: the presentation times before it say nothing."""
        self._buf.clear()
        self._seen = 0
        self._last = None

    def shown_after(self, pts: int) -> bool:
        """Whether a picture read since the start (or the last reset) is shown after `pts`."""
        buf = self._buf
        return bool(buf) and pts < buf[-1]

    def after(self, last: int) -> None:
        """Decode times from here come after `last` (times made from the middle of a run, 0150)."""
        self._last = last

    def dts(self, pts: int) -> int:
        depth, buf, last = self.depth, self._buf, self._last
        if not depth and buf and pts >= buf[0]:
            # The usual picture of a stream without B pictures: what the steps below come to for
            # it (the buffer holds this one time), without them; one call per picture (issue 38).
            buf[0] = pts
            self._seen += 1
            dts = pts if last is None or pts > last else last + 1
            self._last = dts
            return dts
        if len(buf) > depth and pts < buf[0] and depth < MAX_REORDER:
            # Earlier than the depth allows (a stream that did not say, or said too little): one
            # picture deeper from here. This picture's own decode time still comes out after it,
            # which the record loop re-times and counts.
            depth = self.depth = depth + 1
        elif len(buf) > depth:
            del buf[0]  # libavformat's pts_buffer[0] = pts: the least gives way
        bisect.insort(buf, pts)
        seen = self._seen
        self._seen = seen + 1
        if seen == 0:
            self._first = pts
        if seen < depth:
            dts = min(self._first - (depth - seen) * self.step, pts)
        else:
            dts = buf[0]
        if last is not None and dts <= last:
            dts = last + 1  # never back, never twice (the muxer's rule)
        self._last = dts
        return dts


# The camera's RTP clock jumped (forward this far, or back further than any reordering reaches):
# the reorder buffer starts again. In 90 kHz ticks.
RTP_JUMP_TICKS, RTP_BACK_TICKS = MEDIA_JUMP_US * 9 // 100, 90_000


class RtpTimes:
    """pts and dts of a stream's access units from their RTP times (design/0093): pts the RTP
    time (after `origin`), dts from the reorder depth (`DecodeTimes`). `jumps` counts the
    camera's clock jumps seen, at which the reorder buffer starts again."""

    __slots__ = ("origin", "decode", "last", "jumps")

    def __init__(self, origin: int, depth: int, step: int):
        self.origin = origin
        self.decode = DecodeTimes(depth, step)
        self.last: int | None = None
        self.jumps = 0

    def stamp(self, ts: int, key: bool = False) -> tuple[int, int]:
        pts = ts - self.origin
        last = self.last
        if last is not None and (pts - last > RTP_JUMP_TICKS or last - pts > RTP_BACK_TICKS):
            self.decode.reset()
            self.jumps += 1
        elif key and self.decode.shown_after(pts):
            # A keyframe is shown after every picture before it (IDR, IRAP): one shown before a
            # picture already read is the camera's clock stepped back (a client joining its shared
            # stream), not a deeper reorder. The decode times start again from it, as libavformat's
            # would, and may go back, which the record loop re-times (design/0468).
            self.decode.reset()
        self.last = pts
        return pts, self.decode.dts(pts)


# Times made per GOP (design/0150) --------------------------------------------------------------
# A camera whose stamps are broken within a run (pictures stamped alike, or decode order going back
# by less than its GOP: VLC's server stamps a 2 s GOP's pictures 0.1 s apart at 20 fps, so each
# keyframe goes back 1.9 s) gets its pictures' times made by the recorder from its first such stamp
# to the end of the run: each picture one frame after the last, a frame being the camera's own
# keyframe interval over the pictures between (its frame rate, per GOP), each keyframe at the
# camera's keyframe time where that is ahead. The camera's presentation times are kept beside.
# A stream with B pictures (a reorder depth) keeps the camera's presentation order instead: its
# pictures at the camera's presentation times moved alike per GOP, each keyframe after every
# picture already shown, decode times from the depth (design/0335, issue 79).
KEPT_MAX = 20_000  # camera times held for segments not yet closed (a live-only camera writes none)


class GopTimes:
    """Monotonic, plausible times for a camera whose own are broken, in the stream's ticks. `last`:
    the last decode time written (None: none yet, the run's first picture keeps its own); `depth`:
    the stream's reorder depth (0: no B pictures)."""

    __slots__ = ("step", "pace", "last", "offset", "key_cam", "count", "kept", "decode", "top", "whole", "trusted", "shift")

    def __init__(self, step: int, last: int | None, depth: int = 0, top: int | None = None):
        self.step = max(step, 1)  # the stream's declared frame
        self.pace = self.step     # this GOP's frame: the camera's last keyframe interval per picture
        self.last = last          # the last decode time written
        self.offset = 0           # written minus the camera's time at the last keyframe
        self.key_cam: int | None = None  # the camera's decode time of this GOP's keyframe
        self.count = 0            # pictures of this GOP so far
        self.kept: list[tuple[int, int, int]] = []  # (written dts, written pts, camera pts) where they differ
        # B pictures: decode times from the written presentation times, and the greatest of those
        self.decode = DecodeTimes(depth, self.step) if depth > 0 else None
        self.top = top  # the greatest presentation time written, where the caller knows it (issue 92)
        if self.decode is not None and last is not None:
            self.decode.after(last)
        # The camera trusted again (issue 92): `whole` is None before the first keyframe, then
        # whether every picture of the GOP under way was written at the camera's own times moved
        # alike (`shift`, written minus the camera's at its keyframe); `trusted` is set at a keyframe
        # that follows a whole GOP and is written at its own times moved by the same `shift`.
        self.whole: bool | None = None
        self.trusted = False
        self.shift = 0

    def stamp(self, pts: int | None, dts: int, key: bool, camera: int | None) -> tuple[int, int, bool]:
        """(pts, dts, moved) to write for a picture the camera stamped (pts, dts); `camera` is its
        presentation time as the camera sent it (before any shift of a clock jump)."""
        out = self._shown(dts if pts is None else pts, key, camera) if self.decode is not None else \
            self._made(pts, dts, key, camera)
        shift = out[1] - dts
        own = out[0] - (dts if pts is None else pts) == shift  # the camera's own times, moved alike
        if key:
            self.trusted = self.whole is True and own and shift == self.shift
            self.whole, self.shift = own, shift
        elif self.whole and not (own and shift == self.shift):
            self.whole = False
        return out

    def _made(self, pts: int | None, dts: int, key: bool, camera: int | None) -> tuple[int, int, bool]:
        """A stream without B pictures: each picture a frame (the GOP's pace) after the last, each
        keyframe at the camera's keyframe time where that is ahead."""
        last, step = self.last, self.step
        if last is None:  # the run's first picture (a camera known to stamp wrongly): its own time
            if key:
                self.key_cam, self.count = dts, 0
            new = dts
        elif key:
            if self.key_cam is not None and self.count and dts > self.key_cam:
                self.pace = min(max((dts - self.key_cam) // self.count, step // 2, 1), 2 * step)
            self.key_cam, self.count = dts, 0
            target = dts + self.offset
            new = target if target - last >= max(self.pace // 2, 1) else last + self.pace
            self.offset = new - dts
        else:
            new = last + self.pace
        self.count += 1
        self.last = new
        out = new + (pts - dts if pts is not None and pts > dts else 0)  # B pictures keep their reorder
        return out, new, self._keep(new, out, pts, camera)

    def _shown(self, pts: int, key: bool, camera: int | None) -> tuple[int, int, bool]:
        """A stream with B pictures: the camera's decode times say nothing (derived from
        presentation times that went back), its presentation times keep the pictures' order
        within a GOP. Each picture at its presentation time plus the GOP's offset, a keyframe
        (and the first picture made) after every picture already written is shown; decode times
        from the reorder depth over the written times, as libavformat derives them."""
        decode, top, step = self.decode, self.top, self.step
        assert decode is not None
        if key or top is None:
            if top is None:  # the greatest written before is not known: at most 2 x depth frames past the
                last = self.last  # last decode time; the decode times of the first `depth` come before it
                floor = None if last is None else last + (2 * decode.depth + 1) * step
            else:
                floor = top + step
            target = pts + self.offset
            new = target if floor is None or target >= floor - step // 2 else floor
            self.offset = new - pts
        else:
            new = pts + self.offset
        self.top = new if top is None or new > top else top
        dts = self.last = decode.dts(new)
        return new, dts, self._keep(dts, new, pts, camera)

    def _keep(self, dts: int, out: int, pts: int | None, camera: int | None) -> bool:
        moved = out != pts
        if moved and camera is not None:
            kept = self.kept
            if len(kept) >= KEPT_MAX:
                del kept[:KEPT_MAX // 2]
            kept.append((dts, out, camera))
        return moved

    def take(self, upto: int, since: int | None = None, leave: int | None = None) -> list[tuple[int, int]]:
        """The (written pts, camera pts) of the pictures written up to decode time `upto` (a
        segment's last), taken out of the list; those before decode time `since` (the segment's
        first: pictures before its keyframe, never written) are dropped (issue 92). The picture of
        decode time `leave` stays for the next segment: the CRA that opens it, of which the segment
        closing holds only a copy no decoder shows (design/0543)."""
        kept = self.kept
        n = bisect.bisect_right(kept, (upto, 1 << 62, 1 << 62))
        low = 0 if since is None else bisect.bisect_left(kept, (since, -(1 << 62), -(1 << 62)), 0, n)
        out = [(w, c) for d, w, c in kept[low:n] if d != leave]
        kept[:n] = [e for e in kept[low:n] if e[0] == leave]
        return out
