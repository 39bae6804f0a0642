"""Video a browser cannot take over WebRTC (H.265 above all), made H.264 for the viewer.

Browsers receive H.264 (and VP8/VP9/AV1) over WebRTC, not H.265, so the picture of an H.265
camera is decoded and re-encoded for its viewers: live and under a grant. It runs only in the
viewer's media worker process (edged/viewer/media_worker.py): FFmpeg's decoder sees the
camera's stream or the segment there, never in the daemon, and the cost sits in the process
of the one view that needs it. H.264 is never transcoded (design/0013); only what is not
H.264 comes here (design/0050).

- The picture is scaled down to `[viewer] transcode_max_height` (720 by default; never up),
  keeping its aspect ratio, which bounds the cost per viewer whatever the camera's size.
- libx264 `ultrafast` + `zerolatency`: no B-frames, no look-ahead, one packet out per frame
  in, in Annex-B with SPS/PPS before every IDR (what aiortc's H.264 sender and a browser
  starting mid-stream need).
- Key frames follow the source's: a source key frame is encoded as an IDR and no other frame
  is, so playback's key-frame logic (start inside the grant, seek) holds as for H.264.
- Times pass through: an output packet has its input frame's time stamps, in the source's
  time base.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType

log = logging.getLogger(__name__)

DEFAULT_MAX_HEIGHT = 720
BITS_PER_PIXEL = 0.08    # per frame: 1280x720 at 20 fps is ~1.5 Mbit/s, enough for a viewing


def out_size(width: float, height: float, max_height: int) -> tuple[int, int]:
    """The picture size sent: at most `max_height` lines, the aspect kept, even sides (4:2:0)."""
    if height > max_height:
        width, height = width * max_height / height, max_height
    return max(2, int(round(width / 2)) * 2), max(2, int(round(height / 2)) * 2)


class ToH264:
    """One video stream's packets in, Annex-B H.264 packets out (same times). Not thread-safe."""

    def __init__(self, stream: Any, max_height: int = DEFAULT_MAX_HEIGHT):
        ctx = stream.codec_context
        if ctx is None or not ctx.width or not ctx.height:
            raise ValueError("the stream's picture size is not known")  # i18n: the journal's
        self.decoder = ctx
        self.source = ctx.name
        self.tb: Fraction = stream.time_base or Fraction(1, 90_000)
        rate = stream.average_rate or stream.guessed_rate or 25
        self.step = max(1, int(round(1 / (rate * self.tb))))  # ticks per frame, for a frame without a time
        self.width, self.height = out_size(ctx.width, ctx.height, max_height)
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = self.width, self.height, "yuv420p"
        enc.time_base = self.tb
        enc.framerate = Fraction(rate)
        enc.gop_size = 100_000  # only the forced key frames (the source's) are IDRs
        enc.max_b_frames = 0
        enc.bit_rate = int(self.width * self.height * float(rate) * BITS_PER_PIXEL)
        enc.options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1", "repeat-headers": "1"}
        enc.open()
        self.encoder = enc
        self._last: int | None = None
        self._started = False  # the first frame sent is a key frame, whatever the source says

    def feed(self, pkt: av.Packet[Any]) -> list[av.Packet[Any]]:
        out: list[av.Packet[Any]] = []
        for frame in self.decoder.decode(pkt):
            out += self._encode(frame)
        return out

    def end(self) -> list[av.Packet[Any]]:
        """The pictures the decoder still holds at the end of its input (a B-frame stream's last ones, shown
        after the last packet is read): a segment's last pictures played, not dropped at the next file."""
        out: list[av.Packet[Any]] = []
        for frame in self.decoder.decode(None):
            out += self._encode(frame)
        return out

    def _encode(self, frame: av.VideoFrame) -> list[av.Packet[Any]]:
        pts = frame.pts
        if pts is None:  # a connection's first key frame comes without a time stamp
            pts = None if self._last is None else self._last + self.step
        if pts is None or (self._last is not None and pts <= self._last):
            return []  # nothing to place it at, or out of order: the next frame follows
        self._last = pts
        key = frame.key_frame or not self._started
        self._started = True
        small = frame.reformat(self.width, self.height, format="yuv420p", interpolation="FAST_BILINEAR")
        small.pts, small.time_base = pts, self.tb
        small.pict_type = PictureType.I if key else PictureType.NONE
        packets = self.encoder.encode(small)
        for p in packets:
            p.time_base = self.tb
            if p.dts is None:
                p.dts = p.pts
        return packets
