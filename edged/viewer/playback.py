"""Granted playback: the recorded segments of one camera's granted range, as H.264 packets
paced in real time, with pause and seek inside the range and nothing outside it.

H.264 packets are remuxed, never decoded: the MP4 samples are turned into Annex-B (the
bitstream filter h264_mp4toannexb, which also puts the SPS/PPS in front of every key frame)
and handed to aiortc's H.264 sender as they are. Segments in another codec (H.265) are
transcoded to H.264 in the media worker, key frame for key frame (edged/viewer/transcode.py,
design/0050). The reading itself is edged/viewer/range_read.py, in that worker's process.

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
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from edged.i18n import _
from edged.viewer.frames import WorkerGone
from edged.viewer.media_client import Worker, packet
from edged.viewer.live import QUEUE_SOUND, Pcm20, queue_newest
from edged.viewer.range_read import GAP_US, READ_AHEAD_US, NoFootage, Piece, RangeReader, Sound, Timed, clamp
from edged.viewer.transcode import DEFAULT_MAX_HEIGHT
from storage.footage.segment_rows import FOOTAGE_STATES

log = logging.getLogger(__name__)

RTP_CLOCK = Fraction(1, 90_000)
ANSWER_S = 20.0             # a media worker silent this long on a seek or read is killed


def pieces_of(data_dir: Path, rows: list[dict[str, Any]], from_us: int, to_us: int) -> list[Piece]:
    """Catalog rows (footage only) overlapping [from, to), oldest first."""
    out = [Piece(data_dir / r["path"], r["start_us"], r["end_us"]) for r in rows
           if r.get("state") in FOOTAGE_STATES and r["end_us"] is not None
           and r["start_us"] < to_us and r["end_us"] > from_us]
    return sorted(out, key=lambda p: p.start_us)


class RemoteRangeReader:
    """RangeReader's interface, with the reading done by a media worker process (design/0020):
    a malformed segment can end this viewing but never the daemon. Blocking: call from a thread
    (RecordedTrack does); the worker starts at the first seek."""

    def __init__(self, pieces: list[Piece], from_us: int, to_us: int, max_height: int = DEFAULT_MAX_HEIGHT,
                 audio: bool = False):
        if not pieces:
            raise NoFootage(_("nothing was recorded in this range"))
        self.pieces, self.from_us, self.to_us = pieces, from_us, to_us
        self.max_height = max_height
        self.audio = audio  # the camera's audio_in_viewer (design/0087)
        self._sound: list[Sound] = []
        self.ended = False
        self._worker: Worker | None = None
        self._lock = threading.Lock()

    def _ask(self, cmd: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
        with self._lock:
            if self._worker is None:
                self._worker = Worker({"op": "range", "from_us": self.from_us, "to_us": self.to_us,
                                       "max_height": self.max_height, "audio": self.audio,
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
        self._sound = _sound(got[0], got[1], 0)
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
        self._sound.extend(_sound(header, payload, pos))
        self.ended = bool(header.get("ended"))
        return out

    def take_sound(self) -> list[Sound]:
        out, self._sound = self._sound, []
        return out

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None


def _sound(header: dict[str, Any], payload: bytes, pos: int) -> list[Sound]:
    """The PCM chunks of a worker's answer, after its packets at `pos` (design/0087)."""
    out: list[Sound] = []
    for wall, rate, size in header.get("sound") or []:
        out.append((int(wall), int(rate), payload[pos:pos + size]))
        pos += size
    return out


class PlaybackSound(MediaStreamTrack):
    """The range's recorded sound, handed over by its RecordedTrack as the picture it goes with
    is sent: paced, paused and sought with the picture (design/0087)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[av.AudioFrame | None] = asyncio.Queue(QUEUE_SOUND)
        self._pcm = Pcm20()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            super().stop()
            raise MediaStreamError
        return frame

    def put(self, rate: int, pcm: bytes | None) -> None:
        if pcm is not None and (len(pcm) % 2 or rate <= 0):
            return  # not 16-bit PCM: a worker that a malformed file took over; no sound, no crash
        queue_newest(self._queue, [None] if pcm is None else [*self._pcm.frames(rate, pcm)])


class RecordedTrack(MediaStreamTrack):
    """The range as a paced aiortc track. pause(), play() and seek() come from the page's
    control channel; `state` and `position_us` are reported back to it."""

    kind = "video"

    def __init__(self, reader: RangeReader | RemoteRangeReader, on_change: Callable[[], None] | None = None,
                 sound: bool = False):
        super().__init__()
        self.reader = reader
        self.sound = PlaybackSound() if sound else None  # the recorded sound, sent with the picture
        self._heard: deque[Sound] = deque()
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
    async def recv(self) -> av.Packet[Any]:
        while True:
            if self.readyState != "live" or self.state == "ended":
                raise MediaStreamError
            self._changed.clear()  # before reading the controls: a later change sets it again
            if self._seek_to is not None:
                t, self._seek_to = self._seek_to, None
                self._buf.clear()
                self._heard.clear()
                self._base = None
                async with self._io:
                    await asyncio.to_thread(self.reader.seek, t)
                    self._heard.extend(self.reader.take_sound())
                continue
            if self._paused:
                self._base = None
                await self._changed.wait()
                continue
            if not self._buf:
                async with self._io:
                    batch = await asyncio.to_thread(self.reader.read, READ_AHEAD_US)
                    self._heard.extend(self.reader.take_sound())
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
            while self._heard and self._heard[0][0] <= dts_wall:  # the sound up to this picture
                wall, rate, pcm = self._heard.popleft()
                if self.sound is not None:
                    self.sound.put(rate, pcm)
            self.position_us = pts_wall
            self.shown = [min(self.shown[0], pts_wall), max(self.shown[1], pts_wall)] if self.shown \
                else [pts_wall, pts_wall]
            pkt.time_base = RTP_CLOCK
            pkt.pts = pkt.dts = round((due - self._origin + (pts_wall - dts_wall) / 1e6) * 90_000)
            return pkt

    def _finish(self) -> None:
        if self.sound is not None:
            self.sound.put(0, None)
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
        if self.sound is not None:
            self.sound.stop()
        self._changed.set()
        kill = getattr(self.reader, "kill", None)
        if kill is not None:
            kill()
        async with self._io:
            await asyncio.to_thread(self.reader.close)
