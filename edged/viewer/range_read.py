"""A granted range's recorded packets in order, read in the media worker process (design/0020).

H.264 samples are remuxed to Annex-B (the bitstream filter h264_mp4toannexb, which also puts
the SPS/PPS in front of every key frame), never decoded; segments in another codec (H.265) are
transcoded to H.264 key frame for key frame (edged/viewer/transcode.py, design/0050). Reading
starts at the first key frame inside the range: nothing outside the grant is read out
(design/0013). With `audio` (the camera's audio_in_viewer), the segments' AAC, G.711 or L16
(stored as the camera sent it, design/0094) is decoded to PCM on the way, a copy for the
browser, and only what lies inside the range is kept (design/0087). The
daemon's side is RemoteRangeReader in edged/viewer/playback.py.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.bitstream

from edged.i18n import _
from edged.viewer.camera_read import ToPcm, sound_of
from edged.viewer.transcode import DEFAULT_MAX_HEIGHT, ToH264

log = logging.getLogger(__name__)

READ_AHEAD_US = 1_000_000   # one thread hop reads about this much footage
GAP_US = 1_000_000          # a jump larger than this between packets is a recording gap: skip it at once


class NoFootage(Exception):
    """Nothing recorded in the asked range; the message is for a person."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One segment file of the range: its absolute path and wall-clock span."""

    path: Path
    start_us: int
    end_us: int


def clamp(t_us: int, from_us: int, to_us: int) -> int:
    """A seek target kept inside the range (the last microsecond before its end at most)."""
    return max(from_us, min(int(t_us), to_us - 1))


# (dts wall time, pts wall time, Annex-B packet)
Timed = tuple[int, int, "av.Packet[Any]"]
# (wall time, sample rate, 16-bit mono PCM): recorded sound inside the range (design/0087)
Sound = tuple[int, int, bytes]


class RangeReader:
    """Reads the range's packets in order with their wall times. Blocking: call from a thread."""

    def __init__(self, pieces: list[Piece], from_us: int, to_us: int, max_height: int = DEFAULT_MAX_HEIGHT,
                 audio: bool = False):
        if not pieces:
            raise NoFootage(_("nothing was recorded in this range"))
        self.pieces, self.from_us, self.to_us = pieces, from_us, to_us
        self.max_height = max_height  # a transcoded (non-H.264) picture is scaled to this
        self._packets: Generator[Timed, None, None] | None = None
        self._pending: deque[Timed] = deque()
        self._container: av.container.InputContainer | None = None
        self.ended = False
        self.audio = audio  # the camera's audio_in_viewer: its recorded sound is read too (design/0087)
        self._sound: list[Sound] = []

    def seek(self, t_us: int) -> int | None:
        """Position at the key frame at or before t if it is inside the range, else at the first
        key frame after it. Returns the wall time playback resumes at (None: nothing left)."""
        t = clamp(t_us, self.from_us, self.to_us)
        self.close()
        self._sound = []
        self.ended = False
        first = next((i for i, p in enumerate(self.pieces) if p.end_us > t), None)
        if first is None:
            self.ended = True
            return None
        self._packets = self._walk(first, t)
        gop: list[Timed] | None = None
        for timed in self._packets:
            dts_wall, _pts_wall, pkt = timed
            if pkt.is_keyframe:
                gop = [timed] if dts_wall >= self.from_us else None
            elif gop is not None:
                gop.append(timed)
            if dts_wall >= t and gop:
                self._pending = deque(gop)
                self._sound = [x for x in self._sound if x[0] >= gop[0][0]]
                return gop[0][0]
        self.ended = True
        return None

    def read(self, budget_us: int = READ_AHEAD_US) -> list[Timed]:
        """The next packets, about `budget_us` of footage; [] once the range is over."""
        out: list[Timed] = []
        if self._packets is None:
            return out
        while self._pending:
            out.append(self._pending.popleft())
        for timed in self._packets:
            out.append(timed)
            if timed[0] - out[0][0] >= budget_us:
                break
        else:
            self.ended = True
        return out

    def take_sound(self) -> list[Sound]:
        """The sound read since the last call (with the packets of a seek or a read)."""
        out, self._sound = self._sound, []
        return out

    def _walk(self, first: int, t_us: int) -> Generator[Timed, None, None]:
        """Packets from piece `first` (entered near t) onwards, stopping before to_us."""
        for i in range(first, len(self.pieces)):
            piece = self.pieces[i]
            if piece.start_us >= self.to_us:
                return
            try:
                container = av.open(str(piece.path))
            except (OSError, av.FFmpegError) as exc:
                log.warning("playback skips %s: %s", piece.path.name, exc)
                continue
            self._container = container
            try:
                video = next((s for s in container.streams if s.type == "video"), None)
                if video is None or video.codec_context is None:
                    log.warning("playback skips %s: no video FFmpeg can decode", piece.path.name)
                    continue
                tb = video.time_base
                assert tb is not None  # a stream of an opened file has its time base
                if i == first and t_us - piece.start_us > 2 * GAP_US:
                    try:  # land near t; the scan in seek() finds the right key frame from there
                        container.seek(int((t_us - piece.start_us - GAP_US) / 1e6 / tb), stream=video,
                                       backward=True, any_frame=False)
                    except av.FFmpegError:
                        container.seek(0, stream=video)
                sound = sound_of(container) if self.audio else None
                pcm = None if sound is None else ToPcm(sound)
                for pkt in self._h264(container, video, pcm, piece.start_us):
                    assert pkt.dts is not None  # _h264 yields stamped packets
                    dts_wall = piece.start_us + int(pkt.dts * tb * 1_000_000)
                    pts = pkt.pts if pkt.pts is not None else pkt.dts
                    pts_wall = piece.start_us + int(pts * tb * 1_000_000)
                    # A picture shown at or past the range's end is not the grant's: with B-frames (a
                    # camcorder's H.264) one decoded before the end may be shown after it; the pictures
                    # that depend on it, shown before it, are given up with it (design/0354).
                    if dts_wall >= self.to_us or pts_wall >= self.to_us:
                        return
                    yield dts_wall, pts_wall, pkt
            except (av.FFmpegError, ValueError) as exc:  # a segment cut short by a crash: play what is whole
                log.warning("playback of %s stopped early: %s", piece.path.name, exc)
            finally:
                container.close()
                self._container = None

    def _h264(self, container: av.container.InputContainer, video: Any, pcm: ToPcm | None = None,
              start_us: int = 0) -> Iterator[av.Packet[Any]]:
        """A piece's picture as Annex-B H.264 with times in the stream's time base: H.264
        remuxed, anything else (H.265) transcoded, its key frames kept where they were. With
        `pcm`, its sound inside the range is decoded on the way (take_sound)."""
        streams = (video,) if pcm is None else (video, pcm.audio)
        if video.codec_context.name == "h264":
            bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", video)
            for raw in container.demux(*streams):
                if pcm is not None and raw.stream is pcm.audio:
                    self._hear(pcm, raw, start_us)
                elif raw.dts is not None and raw.size:
                    yield from bsf.filter(raw)
            return
        recode = ToH264(video, self.max_height)
        for raw in container.demux(*streams):
            if pcm is not None and raw.stream is pcm.audio:
                self._hear(pcm, raw, start_us)
            elif raw.size:
                yield from recode.feed(raw)
        yield from recode.end()

    def _hear(self, pcm: ToPcm, raw: av.Packet[Any], start_us: int) -> None:
        """Decode one audio packet; keep it only inside the range (nothing outside the grant)."""
        if raw.pts is None or not raw.size or raw.time_base is None:
            return
        wall = start_us + int(raw.pts * raw.time_base * 1_000_000)
        if not self.from_us <= wall < self.to_us:
            return
        try:
            for chunk in pcm.feed(raw):
                self._sound.append((wall, pcm.rate, chunk))
        except av.FFmpegError as exc:  # a bad audio packet costs its sound, not the picture
            log.warning("playback: an audio packet did not decode: %s", exc)

    def close(self) -> None:
        if self._packets is not None:
            self._packets.close()  # runs _walk's finally: the open file is closed
        self._packets = None
        self._pending.clear()
