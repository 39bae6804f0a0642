"""Packet-level figures of one camera's reporting window (no decoding), sent as `Stats` events."""

from __future__ import annotations

import time
from typing import Any

from recorder.events import Stats
from recorder.timeline import MEDIA_JUMP_US


def mono_us() -> int:
    return time.monotonic_ns() // 1000


class StatsWindow:
    """Packet-level figures for one reporting window (no decoding): plain counters, which the
    camera's packet loop bumps in place."""

    __slots__ = ("since", "frames", "bytes", "last_wall", "audio", "key_gaps", "key_span", "last_key",
                 "key_interval")

    def __init__(self, since: int, before: StatsWindow | None = None):
        self.since = since
        self.frames = 0
        self.bytes = 0
        self.last_wall = 0
        self.audio = 0  # audio packets that arrived (a declared stream may send none)
        self.key_gaps = 0  # keyframe intervals that ended in this window, and their media us
        self.key_span = 0
        # Carried over: a GOP may be longer than a window.
        self.last_key: int | None = before.last_key if before is not None else None
        self.key_interval: float | None = before.key_interval if before is not None else None

    def key(self, media: int) -> None:
        """A keyframe at media time `media` (us): the keyframe interval's figures."""
        if self.last_key is not None and 0 < media - self.last_key < MEDIA_JUMP_US:
            self.key_gaps += 1
            self.key_span += media - self.last_key
        self.last_key = media

    def report(self, camera: str, video: Any, audio: Any, counters: dict[str, Any], lateness_us: int | None,
               skew_us: int | None = None, audio_codec: str | None = None, size: tuple[int, int] | None = None,
               **sound: Any) -> Stats:
        """Beside the window's rates: `keyframe_interval` (mean s between keyframes, kept from an
        earlier window while a GOP is longer than one), `audio_packets` (that arrived, so a
        declared but silent audio stream shows), `audio_codec` (the first declared, recorded or
        not) and `clock_skew_us`: the camera's own clock (RTCP sender reports) minus the host's
        at arrival, network delay included; None if the camera sends no sender reports. `size`:
        the picture size the open segment's own SPS declares (design/0093), else the stream's."""
        secs = max(1e-6, (mono_us() - self.since) / 1e6)
        ctx = video.codec_context
        width, height = size or (ctx.width, ctx.height)
        if self.key_gaps:
            self.key_interval = round(self.key_span / self.key_gaps / 1e6, 3)
        return Stats(camera=camera, fps=round(self.frames / secs, 2), bitrate=int(self.bytes * 8 / secs),
                     codec=ctx.name, width=width, height=height, audio=int(audio is not None),
                     last_packet_us=self.last_wall, lateness_us=lateness_us, keyframe_interval=self.key_interval,
                     clock_skew_us=skew_us, audio_packets=self.audio, audio_codec=audio_codec, **counters, **sound)
