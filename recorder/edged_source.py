"""The edged reader as a Source (design/0079): RTSP over TCP read by recorder/rtsp_session.py
and recorder/rtp.py, each access unit handed to the muxer as one `av.Packet`.

`EdgedSource.container` has the duck type recorder/camera.py reads from a PyAV container
(`streams.video`, `streams.audio`, `demux()`, `start_time_realtime`, `close()`), so the camera's
per-packet loop is the same for either reader. libavformat reads the network only for a
camera on the other reader; here it reads once per connection, from memory, the parameter sets
and first keyframe, so that the stream the muxer copies (its avcC/hvcC, picture size) is
FFmpeg's own.
"""

from __future__ import annotations

import io
import logging
import socket
import struct
import threading
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Iterator, cast

from recorder import diagnose, fastpath, picture_size
from recorder.fastpath import rtp
from recorder.read_turns import TURN_US
from recorder.rtsp_session import GARBLED, UNSPOKEN, Media, RtspFailure, Session, parameter_sets
from recorder.segment import picture_step, turns_apart
from recorder.timeline import RtpTimes, observed_depth
from storage.lazy import lazy_import

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")  # on first use: the pool's spare worker is idle without PyAV (design/0291)

log = logging.getLogger(__name__)

EDGED, FFMPEG, AUTO = "edged", "ffmpeg", "auto"
READERS = (AUTO, EDGED, FFMPEG)
CODECS = {"H264": "h264", "H265": "hevc"}
TIME_BASE = Fraction(1, 90000)
DEFAULT_RATE = Fraction(25)
# A stream whose SPS does not say its reorder depth: its first pictures show it (design/0093).
OBSERVE_UNITS = 12
# Until its first keyframe a connection is read on its camera's thread, a read woken once READ_LOWAT
# bytes have arrived or READ_WAIT_US has passed (design/0079 "Fewer wakes"); from there the worker's
# reader reads it, every TURN_US, in turns with its other cameras (recorder/read_turns.py, design/0302).
# Either wait delays a fragment's last picture by as much, which the muxer's cut allows for (segment.py
# muxer_fragment_us: the power-cut bound of design/0061 holds). A camera whose fragments allow it is read
# every other turn (segment.py turns_apart, design/0552): its pictures wait up to two turns, which its
# `arrival_us` tells the muxer's cut.
READ_LOWAT = rtp.READ_BYTES
READ_WAIT_US = TURN_US
FALLBACK = "fallback"  # RtspFailure.kind: the edged reader will not record this camera; libavformat may


LOST = "pictures_lost"  # the camera's counter of pictures not recorded, incomplete (design/0319)


class _Codec:
    """What is read of the stream's codec (recorder/camera.py, the image checks, the motion gate):
    its decoder's name, extradata and picture size, as FFmpeg read them from the first keyframe.
    The stream the muxer copies belongs to an output container, whose context names an encoder."""

    __slots__ = ("name", "extradata", "width", "height")

    def __init__(self, ctx: Any):
        self.name, self.extradata, self.width, self.height = ctx.name, ctx.extradata, ctx.width, ctx.height


class _Video:
    """What recorder/camera.py, the image checks and the motion gate read of the video stream."""

    __slots__ = ("stream", "index", "time_base", "average_rate", "guessed_rate", "codec_context", "type")

    def __init__(self, stream: Any, rate: Fraction, codec: _Codec):
        self.stream = stream
        self.index = stream.index
        self.time_base = TIME_BASE
        self.average_rate = self.guessed_rate = rate
        self.codec_context = codec
        self.type = "video"


class _Streams:
    __slots__ = ("video", "audio")

    def __init__(self, video: _Video):
        self.video = [video]
        self.audio: list[Any] = []


class EdgedSource:
    """One connection. Raises RtspFailure when the camera cannot be recorded this way."""

    def __init__(self, url: str, settings: Any, connect_us: int, forced: bool, stop: threading.Event | None = None):
        self.container = self
        self.start_time_realtime: int | None = None  # us: the camera's clock at media time 0 (first SR)
        self._session = Session(url, connect_us / 1e6, stop)
        self._stop = stop
        self._template: Any = None
        self._pending: list[rtp.AccessUnit] = []
        self._sr: tuple[int, int] | None = None  # the newest sender report: (camera wall us, RTP time)
        self._origin: int | None = None
        self.depth: int | None = None  # the stream's reorder depth (pictures), once known
        self.leading = 0  # pictures of the first GOP shown before its keyframe: not handed on (design/0150)
        self.turns = False  # read by the worker's reader in turns, without waiting (recorder/read_turns.py)
        self.apart = 1  # ... every this many turns (design/0552), set with the frame rate
        # The camera's counters, and their LOST when the run began: its dropped pictures added at each turn's end
        self.counted: tuple[dict[str, int], int] | None = None  # (recorder/whole_pictures.py, design/0319)
        try:
            self._setup(settings, connect_us, forced)
        except BaseException:
            self.close()
            raise

    def _setup(self, settings: Any, connect_us: int, forced: bool) -> None:
        session = self._session
        base, media = session.describe()
        video = next((m for m in media if m.kind == "video"), None)
        if video is None:
            raise RtspFailure("no video in the stream description", kind=diagnose.NO_VIDEO if forced else FALLBACK)
        codec = CODECS.get(video.encoding)
        if codec is None:
            raise RtspFailure(f"video in {video.encoding or 'an unnamed format'}",
                              kind=diagnose.UNSUPPORTED if forced else FALLBACK)
        if any(m.kind == "audio" for m in media):
            if not forced:
                raise RtspFailure("the camera sends sound", kind=FALLBACK)
            log.info("camera at %s: the edged reader records its video, not its sound", session.url)
        session.setup_and_play(base, video)
        self.codec = codec
        self._dep = rtp.Depacketizer(codec)
        self._inter = rtp.Interleave(on_message=session.heard)  # keep-alive answers, server requests (design/0092)
        if session.leftover:
            self._inter.feed(session.leftover[:rtp.READ_BYTES])
        sock = session.sock
        assert sock is not None
        # Blocking with the kernel's receive timeout: one recv per read, not a poll before each
        # (Python's own timeout polls first). A timeout is EAGAIN, raised as TimeoutError in _units.
        sock.settimeout(None)
        self._read_timeout_s = settings.read_timeout_us / 1e6
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, READ_LOWAT)
        wait_us = min(settings.read_timeout_us, READ_WAIT_US)
        self.arrival_us = READ_WAIT_US  # how late a picture may be read (segment.py); in turns, apart times it
        self._fragment_us: int = settings.fragment_us
        for opt, us_ in ((socket.SO_RCVTIMEO, wait_us), (socket.SO_SNDTIMEO, settings.read_timeout_us)):
            secs, us = divmod(us_, 1_000_000)
            sock.setsockopt(socket.SOL_SOCKET, opt, struct.pack("ll", secs, us))
        self._next_keepalive = time.monotonic() + session.keepalive_s
        self._deadline = time.monotonic() + connect_us / 1e6  # for the first keyframe
        self._first(video)

    def _first(self, video: Media) -> None:
        """Read to the first keyframe and the picture after it (the frame rate, when the SDP
        names none; more with B pictures, design/0093), and make the stream the muxer copies."""
        units = self._units()  # not in turns yet: every item is an access unit
        pending = self._pending
        for au in units:
            pending.append(cast(rtp.AccessUnit, au))
            if len(pending) >= 2 or time.monotonic() > self._deadline:
                break
        if not pending:
            raise RtspFailure("the stream ended before its first keyframe", kind=diagnose.ENDED_EARLY)
        key = pending[0]
        depth = picture_size.reorder_depth(self.codec, parameter_sets(video), key.data)
        if depth is None or (depth and not video.framerate):
            # The SPS does not say its depth, or B pictures and no frame rate in the SDP: the
            # first pictures show them (design/0093; the second picture is not the next one then)
            for au in units:
                pending.append(cast(rtp.AccessUnit, au))
                if len(pending) >= OBSERVE_UNITS or time.monotonic() > self._deadline:
                    break
        self.depth = depth = reorder_of(self.codec, parameter_sets(video), pending)
        self._origin = key.ts
        rate = Fraction(video.framerate).limit_denominator(1001) if video.framerate else frame_rate(pending)
        try:
            with av.open(io.BytesIO(parameter_sets(video) + key.data), format=self.codec,
                         options={"fpsprobesize": "0"}) as reader:
                read = reader.streams.video[0]
                codec = _Codec(read.codec_context)
                # Only the stream is kept, copied into a container that writes nothing: the reader
                # that made it keeps its parser's copy of the keyframe, its probe's decoder and more
                # (0.4 MB a 1080p camera for the connection's life; issue 60 item 3, design/0282).
                self._template = av.open(io.BytesIO(), "w", format="null")
                stream = self._template.add_stream_from_template(read)
        except (av.error.FFmpegError, IndexError) as exc:
            raise RtspFailure(f"FFmpeg cannot read the first keyframe: {exc}", kind=FALLBACK) from None
        if not codec.width:
            raise RtspFailure("no picture size in the parameter sets", kind=FALLBACK)
        stream.time_base = TIME_BASE
        self._times = RtpTimes(key.ts, depth, round(90000 / rate))
        self.apart = turns_apart(self._fragment_us, picture_step(rate, TIME_BASE)[1], TURN_US)
        self.arrival_us = READ_WAIT_US * self.apart
        self._stream = stream
        self.streams = _Streams(_Video(stream, rate, codec))
        self._rest = units

    def _units(self) -> Iterator[rtp.AccessUnit | None]:
        """The access units as they arrive; the first is a keyframe (the depacketiser waits).
        Once `turns` is set (recorder/read_turns.py) it reads without waiting and yields None
        when all that had come is read: the worker's reader turns to its next camera."""
        sock = self._session.sock
        assert sock is not None
        inter, dep, session = self._inter, self._dep, self._session
        rtp_ch, rtcp_ch = session.channels
        recv_into, room, filled, drain, take = sock.recv_into, inter.room, inter.filled, rtp.drain, fastpath.take
        monotonic = time.monotonic
        heard = monotonic()
        n = full = rtp.READ_BYTES
        out: list[rtp.AccessUnit] = []
        while True:
            # The packets of one read, in the compiled loop where it is built (recorder/fastpath.py);
            # a sender report stops it, so that the pictures before it are stamped before it counts.
            while True:
                sr = drain(inter, dep, rtp_ch, rtcp_ch, out, take)
                if out:
                    yield from out
                    out.clear()
                if sr is None:
                    break
                self._sr = sr
            flags = socket.MSG_DONTWAIT if self.turns else 0  # set once, when the run is handed to the reader
            if flags and n < full:  # a short read (or none): all that had come is read
                yield None
            try:
                n = recv_into(room(), full, flags)
            except BlockingIOError:  # SO_RCVTIMEO's wait ran out, or nothing has come since the last turn
                if monotonic() - heard >= self._read_timeout_s:
                    raise TimeoutError("nothing from the camera within the read timeout") from None
                n = -1  # wait again
            if not n:
                yield from dep.flush()
                return
            if n > 0:
                filled(n)
                heard = monotonic()
            if not dep.units and (monotonic() > self._deadline or (self._stop is not None and self._stop.is_set())):
                raise RtspFailure("no keyframe within the connect timeout", kind=FALLBACK)
            if monotonic() >= self._next_keepalive:
                self._next_keepalive = monotonic() + session.keepalive_s
                session.keepalive()

    def demux(self, *_streams: Any) -> Iterator["av.Packet[Any] | None"]:
        """Each access unit: pts its RTP time, dts from the stream's reorder depth (design/0093);
        nothing here moves a picture. A jump of the camera's clock starts the reorder buffer
        again, and the clock reading waits for a report from after it. In the connection's first
        GOP a picture shown before its keyframe is not handed on (design/0150): it refers to
        pictures sent before the keyframe, which were not read, and would not decode."""
        stream, origin, times = self._stream, self._origin or 0, self._times
        stamp = times.stamp
        pending, self._pending = self._pending, []
        sr_used = None
        jumps = 0
        lead = True  # the connection's first GOP (one test of a local a picture after it)
        for units in (_taken(pending), self._rest):  # the first keyframe is not held for the connection's life
            for au in units:
                if au is None:  # the turn's end (recorder/read_turns.py)
                    if self.counted is not None:
                        self.counted[0][LOST] = self.counted[1] + self.dropped
                    yield None
                    continue
                if lead:
                    if au.key and au.ts != origin:
                        lead = False
                        if self.leading:
                            log.info("camera at %s: %d pictures after its first keyframe were shown before it "
                                     "(their references were sent before it): not recorded", self._session.url,
                                     self.leading)
                    elif au.ts < origin:
                        self.leading += 1
                        continue
                pts, dts = stamp(au.ts, au.key)
                if times.jumps != jumps:
                    jumps = times.jumps
                    self.start_time_realtime, self._sr = None, None
                sr = self._sr
                if sr is not sr_used and sr is not None:
                    sr_used = sr
                    self.start_time_realtime = sr[0] - (sr[1] - origin) * 1_000_000 // 90000
                pkt = av.Packet(au.data)  # refers to the bytes, no copy: the access unit's one copy is its bytes
                pkt.stream = stream
                pkt.time_base = TIME_BASE
                pkt.pts = pts
                pkt.dts = dts
                pkt.is_keyframe = au.key
                yield pkt

    @property
    def dropped(self) -> int:
        return self._dep.dropped if hasattr(self, "_dep") else 0

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            if self._template is not None:
                self._template.close()
                self._template = None


def _taken(units: list[rtp.AccessUnit]) -> Iterator[rtp.AccessUnit]:
    """`units` in order, each let go by the list as it is handed on."""
    units.reverse()
    while units:
        yield units.pop()


def frame_rate(units: list[rtp.AccessUnit]) -> Fraction:
    """The frame rate the first pictures show: one over the least step between their times (in
    presentation order: with B pictures the second picture received is not the next one)."""
    times = sorted({au.ts for au in units})
    step = min((b - a for a, b in zip(times, times[1:])), default=0)
    return Fraction(90000, step) if step > 0 else DEFAULT_RATE


def reorder_of(codec: str, params: bytes, units: list[rtp.AccessUnit]) -> int:
    """The stream's reorder depth (design/0093): as its SPS declares it (the SDP's parameter sets,
    the first keyframe's in band), or the least its first pictures need when it does not say."""
    depth = picture_size.reorder_depth(codec, params, units[0].data if units else None)
    return observed_depth([au.ts for au in units]) if depth is None else depth


def explain(fail: RtspFailure, url: str, timeout_s: float) -> tuple[str, str]:
    """(kind, words) of a failed edged open, in the words the camera states use (diagnose)."""
    if fail.kind == diagnose.NO_VIDEO:
        return diagnose.NO_VIDEO, "the camera offers no video stream"
    if fail.kind == diagnose.UNSUPPORTED:
        return diagnose.UNSUPPORTED, (f"the camera's video is in a format edged cannot record ({fail}): set the "
                                      "camera to H.264 or H.265")
    if fail.kind == diagnose.ENDED_EARLY:
        return diagnose.ENDED_EARLY, "the camera set up the stream and ended it before sending a picture"
    if fail.kind == GARBLED:  # it answered in RTSP before: not a wrong port or device (design/0092)
        return diagnose.OTHER, ("the camera speaks RTSP but sent something else where an answer was due: "
                                'set reader = "auto" or "ffmpeg" for this camera')
    if fail.kind in (FALLBACK, UNSPOKEN):
        return diagnose.OTHER, f'the edged reader cannot record this camera ({fail}): set reader = "auto" or "ffmpeg"'
    if fail.status is not None:
        words = diagnose.status_words(fail.status, "tcp")
        if words is not None:
            return words
        return diagnose.OTHER, f"cannot open the stream: the camera answered {fail.status} ({fail})"
    probe = diagnose.Probe(fail.errno, fail.received, fail.complete, fail.seconds)
    exc: BaseException = OSError(fail.errno, str(fail)) if fail.errno else TimeoutError(str(fail))
    return diagnose.explain_open(exc, url, fail.seconds, timeout_s, probe, "tcp")


def is_rtsp(url: str) -> bool:
    return url.lower().startswith("rtsp://")


def reorder_depth_of(source: Any, video: Any) -> int:
    """A run's stream's reorder depth (B pictures; design/0335): the edged reader's, or the SPS's
    in libavformat's extradata, or 2 where FFmpeg saw B pictures and the SPS does not say."""
    if isinstance(source, EdgedSource):
        return source.depth or 0
    ctx = video.codec_context
    depth = picture_size.reorder_depth(ctx.name, ctx.extradata)
    return depth if depth is not None else (2 if getattr(ctx, "has_b_frames", 0) else 0)
