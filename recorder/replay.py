"""Reading a camera's own recording (ONVIF Profile G replay, design/0106), and storing it.

`Replay` is a small RTSP client of its own for the replay conversation, on the edged reader's
public parts (recorder/rtsp_session.py `Session`: connect, OPTIONS, DESCRIBE, authentication,
redirects, `request`; recorder/rtp.py `Interleave` and `Depacketizer`): their `setup_and_play`
always asks for `Range: npt=0.000-` and cannot add headers, and the replay needs SETUP and PLAY
with `Require: onvif-replay`, PLAY with `Range: clock=START-END` and `Rate-Control: no`. Each
access unit is timed from the ONVIF RTP header extension (0xABAC: the NTP time the camera took
the frame), never from the arrival or the RTP clock alone; a frame whose packets carry none is
timed from the last one that did, along the RTP clock. The read is paced to a byte rate (the
bandwidth cap), and ends at END, at the camera's RTCP BYE, when it closes, or after IDLE_S.

`BackfillFile` writes one segment through the recorder's `SegmentFile` (fragmented MP4, hashed
as written, design/0053), its stream made as the edged reader makes it (FFmpeg reads the
parameter sets and the first keyframe).

Blocking: run on a thread of its own (edged/daemon/backfill.py), never on the event loop.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import urljoin

from recorder import rtp
from recorder.rtsp_session import Media, RtspFailure, Session, parameter_sets
from recorder.segment import SegmentFile
from storage.lazy import lazy_import

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")  # the daemon imports this module; PyAV loads with a replay, on its thread (design/0286)

ONVIF_EXT = 0xABAC            # the ONVIF replay header extension's profile (ONVIF Streaming §6.3)
TIME_BASE = Fraction(1, 90000)
IDLE_S = 5.0                  # nothing from the camera this long: its replay is over
RTCP_BYE = 203
CODECS = {"H264": "h264", "H265": "hevc"}


def onvif_time_us(pkt: memoryview | bytes) -> int | None:
    """The absolute time (us since 1970) of an RTP packet's ONVIF replay extension, or None when
    it has none (or says the time is unknown: all ones)."""
    if len(pkt) < 12 or not pkt[0] & 0x10:
        return None
    at = 12 + 4 * (pkt[0] & 0x0F)
    if len(pkt) < at + 4 + 8:
        return None
    profile, words = struct.unpack_from("!HH", pkt, at)
    if profile != ONVIF_EXT or words < 2:
        return None
    sec, frac = struct.unpack_from("!II", pkt, at + 4)
    sec, frac = int(sec), int(frac)
    if sec == 0xFFFFFFFF and frac == 0xFFFFFFFF:
        return None
    return (sec - rtp.NTP_UNIX_S) * 1_000_000 + ((frac * 1_000_000 + (1 << 31)) >> 32)  # to the nearest us


def clock_time(us: int, up: bool = False) -> str:
    """RFC 2326's clock time (UTC, to the millisecond) for `Range: clock=`; `up`: rounded up (a
    start: the camera's first frame is then not before it, where it would not be kept)."""
    if up:
        us = -(-us // 1000) * 1000
    t = datetime.fromtimestamp(us // 1_000_000, timezone.utc)
    return f"{t:%Y%m%dT%H%M%S}.{us % 1_000_000 // 1000:03d}Z"


@dataclass(slots=True)
class Frame:
    t_us: int           # when the camera took it (its 0xABAC time)
    key: bool
    data: bytes         # Annex B
    size: int = 0       # the bytes read for it (pacing)


class Replay:
    """One replay of [start_us, end_us) of the recording at `url` (credentials in the URL, as
    for the recorder; never in a message). `cap_bytes_s`: the most it reads a second (0: no cap)."""

    def __init__(self, url: str, start_us: int, end_us: int, timeout_s: float = 10.0,
                 stop: threading.Event | None = None, cap_bytes_s: int = 0, rate_control: bool = False,
                 pace: Callable[[int, float, int], float] | None = None):
        self.session = Session(url, timeout_s, stop)
        self.start_us, self.end_us = start_us, end_us
        self.stop = stop or threading.Event()
        self.cap_bytes_s = cap_bytes_s
        self.rate_control = rate_control
        self._pace = pace
        self.media: Media | None = None
        self.codec = ""
        self.read_bytes = 0
        self.untimed = 0        # access units with no 0xABAC time before them
        self.ended = ""         # why the read ended: end, bye, closed, idle, stopped
        self._step = 0          # the time between the last two frames

    def open(self) -> None:
        """DESCRIBE, SETUP and PLAY the range; raises RtspFailure (its `status`: 457 when the
        camera no longer holds the start, 403/404/405/551 when it refuses)."""
        s = self.session
        base, media = s.describe()
        video = next((m for m in media if m.kind == "video" and m.encoding in CODECS), None)
        if video is None:
            raise RtspFailure("the replay has no H.264 or H.265 video", kind="no_video")
        self.media, self.codec = video, CODECS[video.encoding]
        control = video.control
        url = control if "://" in control else (urljoin(base if base.endswith("/") else base + "/", control)
                                                 if control and control != "*" else base)
        status, head, _ = s.request("SETUP", url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1",
                                                   "Require": "onvif-replay"})
        if status != 200:
            raise RtspFailure(f"SETUP answered {status}", status=status)
        transport = head.get("transport", "")
        if "interleaved=" in transport:
            try:
                a, _, b = transport.split("interleaved=")[1].split(";")[0].partition("-")
                s.channels = (int(a), int(b or int(a) + 1))
            except ValueError:
                pass
        sid, _, rest = head.get("session", "").partition(";")
        s.session_id = sid.strip()
        for item in rest.split(";"):
            key, _, value = item.strip().partition("=")
            if key.lower() == "timeout" and value.strip().isdigit():
                s.keepalive_s = max(5, int(value) // 2)
        headers = {"Require": "onvif-replay", "Range": f"clock={clock_time(self.start_us, up=True)}-{clock_time(self.end_us)}"}
        if not self.rate_control:
            headers["Rate-Control"] = "no"  # as fast as the camera can send (ONVIF Streaming §6.4)
        status, _, _ = s.request("PLAY", base, headers)
        if status != 200:
            raise RtspFailure(f"PLAY answered {status}", status=status)

    def frames(self) -> Iterator[Frame]:
        """The recording's frames in order, each timed from the camera's 0xABAC extension."""
        s = self.session
        sock = s.sock
        assert sock is not None and self.codec
        inter, dep = rtp.Interleave(), rtp.Depacketizer(self.codec)
        if s.leftover:
            inter.feed(s.leftover[:rtp.READ_BYTES])
        rtp_ch, rtcp_ch = s.channels
        times: dict[int, int] = {}          # unwrapped RTP timestamp -> its 0xABAC time
        anchor: tuple[int, int] | None = None  # the last (RTP timestamp, time) known
        started = heard = keepalive = time.monotonic()
        sock.settimeout(0.25)
        while True:
            while (got := inter.next()) is not None:
                channel, data = got
                if channel == rtcp_ch and len(data) > 1 and data[1] == RTCP_BYE:
                    self.ended = "bye"
                    yield from self._timed(dep.flush(), times, anchor)
                    return
                if channel != rtp_ch:
                    continue
                when = onvif_time_us(data)
                units = dep.push(data)
                if when is not None and dep.ext not in times:
                    times[dep.ext] = when
                for au in units:
                    frame = self._time(au, times, anchor)
                    if frame is None:
                        continue
                    step = frame.t_us - anchor[1] if anchor is not None else 0
                    anchor = (au.ts, frame.t_us)
                    if frame.t_us >= self.end_us:
                        self.ended = "end"
                        return
                    yield frame
                    if step > 0:
                        self._step = step
                if data[1] & 0x80 and self._step and dep.ext in times \
                        and times[dep.ext] + self._step >= self.end_us:  # the range's last picture, marked whole:
                    self.ended = "end"                                 # not waited past (the camera may send no BYE)
                    yield from self._timed(dep.flush(), times, anchor)
                    return
            n = self._read(sock, inter, started, heard)
            if n is None:
                return
            if n < 0:
                continue
            if not n:
                self.ended = "closed"
                yield from self._timed(dep.flush(), times, anchor)
                return
            heard = time.monotonic()
            inter.filled(n)
            self.read_bytes += n
            if heard - keepalive >= s.keepalive_s:
                keepalive = heard
                s.keepalive()

    def _read(self, sock: socket.socket, inter: rtp.Interleave, started: float, heard: float) -> int | None:
        """One read, paced to the cap: bytes read (0: closed), -1: nothing yet, None: the end
        (stopped, or nothing for IDLE_S)."""
        if self.stop.is_set():
            self.ended = "stopped"
            return None
        wait = self._pace(self.read_bytes, time.monotonic() - started, self.cap_bytes_s) if self._pace else 0.0
        if wait > 0 and self.stop.wait(min(wait, 1.0)):
            self.ended = "stopped"
            return None
        try:
            return sock.recv_into(inter.room(), rtp.READ_BYTES)
        except (TimeoutError, socket.timeout):
            if time.monotonic() - heard > IDLE_S:
                self.ended = "idle"
                return None
            return -1
        except OSError:
            return 0

    def _timed(self, units: list[rtp.AccessUnit], times: dict[int, int], anchor: tuple[int, int] | None
               ) -> Iterator[Frame]:
        for au in units:
            frame = self._time(au, times, anchor)
            if frame is not None and frame.t_us < self.end_us:
                yield frame

    def _time(self, au: rtp.AccessUnit, times: dict[int, int], anchor: tuple[int, int] | None) -> Frame | None:
        when = times.pop(au.ts, None)
        if when is None and anchor is not None:
            when = anchor[1] + (au.ts - anchor[0]) * 1_000_000 // 90000
        if when is None:
            self.untimed += 1
            return None
        for old in [k for k in times if k < au.ts]:
            del times[old]
        return Frame(when, au.key, au.data, len(au.data))

    def close(self) -> None:
        self.session.close()


def provenance(site: str, node: str, camera: str, start_us: int) -> dict[str, str]:
    """The MP4 metadata of a backfilled segment: as a live one's (recorder/camera.py), and that it
    came from the camera's own recording."""
    start = datetime.fromtimestamp(start_us / 1e6, timezone.utc)
    iso = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start_us % 1_000_000:06d}Z"
    who = {"site": site, "node": node, "camera": camera, "start_us": start_us, "source": "backfilled"}
    return {"title": f"{site}/{node}/{camera} {iso}", "creation_time": iso,
            "comment": "edged " + json.dumps(who, sort_keys=True, ensure_ascii=False)}


class BackfillFile:
    """One backfilled segment: a fragmented MP4 of the recording's frames from `first` (a
    keyframe) on, its packets stamped with the frames' own times."""

    def __init__(self, path: Path, media: Media, codec: str, first: Frame, fragment_us: int, frame_us: int,
                 metadata: dict[str, str]):
        raw = io.BytesIO(parameter_sets(media) + first.data)
        self._template: Any = av.open(raw, "r", format=codec, options={"fpsprobesize": "0"})
        stream = self._template.streams.video[0]
        for _ in self._template.demux(stream):
            pass
        stream.time_base = TIME_BASE
        self.stream = stream
        self.start_us = first.t_us
        self.end_us = first.t_us
        self.frame_us = frame_us
        self.file = SegmentFile(path, stream, None, origin_us=first.t_us, fragment_us=fragment_us,
                                metadata=metadata, frame_us=frame_us)

    def write(self, frame: Frame) -> None:
        pkt: Any = av.Packet(frame.data)
        pkt.stream = self.stream
        pkt.time_base = TIME_BASE
        pkt.pts = pkt.dts = round(Fraction(frame.t_us * 9, 100))  # 90 kHz ticks of its time, rounded as the origin is
        pkt.is_keyframe = frame.key
        self.file.write_video(pkt)
        self.end_us = frame.t_us + self.frame_us

    def close(self) -> dict[str, Any]:
        """Close it; the catalog's fields (end, size, frames, hash as written, picture)."""
        try:
            size = self.file.close()
        finally:
            self._template.close()
        ctx = self.stream.codec_context
        return {"end_us": self.end_us, "bytes": size, "frames": self.file.frames, "sha256": self.file.sha256,
                "codec": ctx.name, "width": ctx.width, "height": ctx.height, "audio": 0}
