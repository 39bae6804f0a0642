"""Granted playback: the recorded segments of one camera's granted range, as H.264 packets
paced in real time, with pause and seek inside the range and nothing outside it.

H.264 packets are remuxed, never decoded: the MP4 samples are turned into Annex-B (the
bitstream filter h264_mp4toannexb, which also puts the SPS/PPS in front of every key frame)
and handed to aiortc's H.264 sender as they are. Segments in another codec (H.265) are
transcoded to H.264 in the media worker, key frame for key frame (edged/viewer/transcode.py,
design/0050).

Where the range starts mid-GOP, playback starts at the first key frame inside the range:
showing the frames before it would mean sending frames from outside the grant, and starting
exactly on a P-frame would mean decoding and re-encoding. At most one GOP at the start of the
range is not shown (design/0013).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.bitstream
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from edged.i18n import _
from edged.viewer.media_worker import Worker, WorkerGone, packet
from edged.viewer.transcode import DEFAULT_MAX_HEIGHT, ToH264
from storage.catalog import FOOTAGE_STATES

log = logging.getLogger(__name__)

RTP_CLOCK = Fraction(1, 90_000)
READ_AHEAD_US = 1_000_000   # one thread hop reads about this much footage
ANSWER_S = 20.0             # a media worker silent this long on a seek or read is killed
GAP_US = 1_000_000          # a jump larger than this between packets is a recording gap: skip it at once


class NoFootage(Exception):
    """Nothing recorded in the asked range; the message is for a person."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One segment file of the range: its absolute path and wall-clock span."""

    path: Path
    start_us: int
    end_us: int


def pieces_of(data_dir: Path, rows: list[dict[str, Any]], from_us: int, to_us: int) -> list[Piece]:
    """Catalog rows (footage only) overlapping [from, to), oldest first."""
    out = [Piece(data_dir / r["path"], r["start_us"], r["end_us"]) for r in rows
           if r.get("state") in FOOTAGE_STATES and r["end_us"] is not None
           and r["start_us"] < to_us and r["end_us"] > from_us]
    return sorted(out, key=lambda p: p.start_us)


def clamp(t_us: int, from_us: int, to_us: int) -> int:
    """A seek target kept inside the range (the last microsecond before its end at most)."""
    return max(from_us, min(int(t_us), to_us - 1))


# (dts wall time, pts wall time, Annex-B packet)
Timed = tuple[int, int, av.Packet]


class RangeReader:
    """Reads the range's packets in order with their wall times. Blocking: call from a thread."""

    def __init__(self, pieces: list[Piece], from_us: int, to_us: int, max_height: int = DEFAULT_MAX_HEIGHT):
        if not pieces:
            raise NoFootage(_("nothing was recorded in this range"))
        self.pieces, self.from_us, self.to_us = pieces, from_us, to_us
        self.max_height = max_height  # a transcoded (non-H.264) picture is scaled to this
        self._packets: Iterator[Timed] | None = None
        self._pending: deque[Timed] = deque()
        self._container: av.container.InputContainer | None = None
        self.ended = False

    def seek(self, t_us: int) -> int | None:
        """Position at the key frame at or before t if it is inside the range, else at the first
        key frame after it. Returns the wall time playback resumes at (None: nothing left)."""
        t = clamp(t_us, self.from_us, self.to_us)
        self.close()
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

    def _walk(self, first: int, t_us: int) -> Iterator[Timed]:
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
                if i == first and t_us - piece.start_us > 2 * GAP_US:
                    try:  # land near t; the scan in seek() finds the right key frame from there
                        container.seek(int((t_us - piece.start_us - GAP_US) / 1e6 / tb), stream=video,
                                       backward=True, any_frame=False)
                    except av.FFmpegError:
                        container.seek(0, stream=video)
                for pkt in self._h264(container, video):
                    dts_wall = piece.start_us + int(pkt.dts * tb * 1_000_000)
                    if dts_wall >= self.to_us:
                        return
                    pts = pkt.pts if pkt.pts is not None else pkt.dts
                    yield dts_wall, piece.start_us + int(pts * tb * 1_000_000), pkt
            except (av.FFmpegError, ValueError) as exc:  # a segment cut short by a crash: play what is whole
                log.warning("playback of %s stopped early: %s", piece.path.name, exc)
            finally:
                container.close()
                self._container = None

    def _h264(self, container: av.container.InputContainer, video: Any) -> Iterator[av.Packet]:
        """A piece's picture as Annex-B H.264 with times in the stream's time base: H.264
        remuxed, anything else (H.265) transcoded, its key frames kept where they were."""
        if video.codec_context.name == "h264":
            bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", video)
            for raw in container.demux(video):
                if raw.dts is not None and raw.size:
                    yield from bsf.filter(raw)
            return
        recode = ToH264(video, self.max_height)
        for raw in container.demux(video):
            if raw.size:
                yield from recode.feed(raw)

    def close(self) -> None:
        if self._packets is not None:
            self._packets.close()  # runs _walk's finally: the open file is closed
        self._packets = None
        self._pending.clear()


class RemoteRangeReader:
    """RangeReader's interface, with the reading done by a media worker process (design/0020):
    a malformed segment can end this viewing but never the daemon. Blocking: call from a thread
    (RecordedTrack does); the worker starts at the first seek."""

    def __init__(self, pieces: list[Piece], from_us: int, to_us: int, max_height: int = DEFAULT_MAX_HEIGHT):
        if not pieces:
            raise NoFootage(_("nothing was recorded in this range"))
        self.pieces, self.from_us, self.to_us = pieces, from_us, to_us
        self.max_height = max_height
        self.ended = False
        self._worker: Worker | None = None
        self._lock = threading.Lock()

    def _ask(self, cmd: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
        with self._lock:
            if self._worker is None:
                self._worker = Worker({"op": "range", "from_us": self.from_us, "to_us": self.to_us,
                                       "max_height": self.max_height,
                                       "pieces": [[str(p.path), p.start_us, p.end_us] for p in self.pieces]})
            # a worker that does not answer within ANSWER_S is killed: the read ends, the view with it,
            # and the thread is free again (design/0062)
            deadline = threading.Timer(ANSWER_S, self._worker.kill)
            deadline.daemon = True
            deadline.start()
            try:
                return self._worker.ask(cmd)
            except (WorkerGone, ValueError) as exc:
                log.error("playback reader ended: %s; the viewing ends, edged goes on", exc)
                self._worker.close()
                self._worker = None
                self.ended = True
                return None
            finally:
                deadline.cancel()

    def kill(self) -> None:
        """End the worker now, without waiting for a read in flight (it then fails at once)."""
        worker = self._worker
        if worker is not None:
            worker.kill()

    def seek(self, t_us: int) -> int | None:
        got = self._ask({"seek": int(t_us)})
        if got is None:
            return None
        self.ended = bool(got[0].get("ended"))
        at = got[0].get("at")
        return None if at is None else int(at)

    def read(self, budget_us: int = READ_AHEAD_US) -> list[Timed]:
        if self.ended:
            return []
        got = self._ask({"read": int(budget_us)})
        if got is None:
            return []
        header, payload = got
        out: list[Timed] = []
        pos = 0
        for dts_wall, pts_wall, size, key in header["packets"]:
            out.append((int(dts_wall), int(pts_wall), packet(payload[pos:pos + size], None, None, None, key)))
            pos += size
        self.ended = bool(header.get("ended"))
        return out

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None


class RecordedTrack(MediaStreamTrack):
    """The range as a paced aiortc track. pause(), play() and seek() come from the page's
    control channel; `state` and `position_us` are reported back to it."""

    kind = "video"

    def __init__(self, reader: RangeReader | RemoteRangeReader, on_change: Callable[[], None] | None = None):
        super().__init__()
        self.reader = reader
        self.from_us, self.to_us = reader.from_us, reader.to_us
        self.position_us = reader.from_us
        self.state = "playing"           # playing | paused | ended
        self.shown: list[int] = []       # [earliest, latest] footage time sent, for the audit record
        self._on_change = on_change or (lambda: None)
        self._seek_to: int | None = None
        self._paused = False
        self._changed = asyncio.Event()
        self._io = asyncio.Lock()        # one reader call at a time, and none after close()
        self._buf: deque[Timed] = deque()
        self._base: tuple[float, int] | None = None   # (monotonic s, wall us) pacing anchor
        self._last_wall: int | None = None
        self._origin = time.monotonic()               # RTP time counts from here, never backwards

    # controls (from the event loop) -----------------------------------------------------
    def pause(self) -> None:
        if self.state == "playing":
            self._paused, self.state = True, "paused"
            self._changed.set()
            self._on_change()

    def play(self) -> None:
        if self.state == "paused":
            self._paused, self.state = False, "playing"
            self._changed.set()
            self._on_change()

    def seek(self, t_us: int) -> None:
        if self.state != "ended":
            self._seek_to = clamp(t_us, self.from_us, self.to_us)
            self.position_us = self._seek_to
            self._changed.set()
            self._on_change()

    # the sender's side -------------------------------------------------------------------
    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live" or self.state == "ended":
                raise MediaStreamError
            self._changed.clear()  # before reading the controls: a later change sets it again
            if self._seek_to is not None:
                t, self._seek_to = self._seek_to, None
                self._buf.clear()
                self._base = None
                async with self._io:
                    await asyncio.to_thread(self.reader.seek, t)
                continue
            if self._paused:
                self._base = None
                await self._changed.wait()
                continue
            if not self._buf:
                async with self._io:
                    batch = await asyncio.to_thread(self.reader.read, READ_AHEAD_US)
                if not batch and self._seek_to is None:
                    self._finish()
                    raise MediaStreamError
                self._buf.extend(batch)
                continue  # a pause or seek during the read comes first: no picture after a pause
            dts_wall, pts_wall, pkt = self._buf[0]
            now = time.monotonic()
            if self._base is None or self._last_wall is None or not 0 <= dts_wall - self._last_wall <= GAP_US:
                self._base = (now, dts_wall)  # start, resume, seek or a recording gap: no waiting
            due = self._base[0] + (dts_wall - self._base[1]) / 1e6
            if due > now:
                try:
                    await asyncio.wait_for(self._changed.wait(), due - now)
                    continue  # paused or sought while waiting
                except TimeoutError:
                    pass
            self._buf.popleft()
            self._last_wall = dts_wall
            self.position_us = pts_wall
            self.shown = [min(self.shown[0], pts_wall), max(self.shown[1], pts_wall)] if self.shown \
                else [pts_wall, pts_wall]
            pkt.time_base = RTP_CLOCK
            pkt.pts = pkt.dts = round((due - self._origin + (pts_wall - dts_wall) / 1e6) * 90_000)
            return pkt

    def _finish(self) -> None:
        self.state = "ended"
        self.position_us = self.to_us
        self._on_change()

    async def switch(self, reader: RangeReader | RemoteRangeReader) -> None:
        """Show another camera of the grant from the same footage time (its own range reader)."""
        async with self._io:
            old, self.reader = self.reader, reader
            await asyncio.to_thread(old.close)
        self._seek_to = None
        self.seek(self.position_us)

    async def close(self) -> None:
        """End the track and close its file; a worker stuck in a read is killed first, so the
        close never waits on it (design/0062)."""
        self.stop()
        self._changed.set()
        kill = getattr(self.reader, "kill", None)
        if kill is not None:
            kill()
        async with self._io:
            await asyncio.to_thread(self.reader.close)
