"""RTP over RTSP's TCP interleave, read in large reads and parsed in place (design/0079).

Pure: no socket here, only bytes. `Interleave` holds one reusable buffer that the reader fills
with `recv_into` (up to READ_BYTES a call) and yields the `$`-framed packets in it as
memoryviews, valid until the next fill. `Depacketizer` turns H.264 (RFC 6184: single NAL unit,
STAP-A, FU-A) or H.265 (RFC 7798: single, AP, FU) RTP packets into whole access units in
Annex B form: the NAL units of one RTP timestamp, ended by the next timestamp (not by the marker
bit: some servers mark every NAL unit), or within one timestamp where a slice starts another
picture (a camera that stamps two pictures alike). `sender_report` reads an RTCP sender report (the camera's clock).
Over 400 lines on purpose: the per-packet path mypyc compiles as one unit (design/0160).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

from recorder.rtsp_text import ANSWER, NEED, REQUEST, next_message

READ_BYTES = 1 << 16          # one recv_into at most this much (issue 33: 64 KiB)
BUFFER_BYTES = READ_BYTES + 65_540  # room for a partial packet (<= 65,539 bytes) plus a whole read
START_BYTES = READ_BYTES + 4096  # what a camera of MTU-sized packets needs; grown to BUFFER_BYTES for larger ones
GROW = 1 << 16                # the access unit buffer grows to what the stream needs, in these steps
MESSAGE_BYTES = 8192          # an RTSP message among the packets is at most this long (keep-alive answers)
START = b"\x00\x00\x00\x01"   # Annex B start code, as FFmpeg's RTP depacketiser writes it
NTP_UNIX_S = 2_208_988_800    # seconds from 1900 (NTP) to 1970 (Unix)
_HEAD = struct.Struct("!BBHII")
_SR = struct.Struct("!IIII")   # ssrc, ntp seconds, ntp fraction, rtp timestamp
_FAST = struct.Struct("!BBHBBHIIBBB")  # '$', channel, size; RTP b0, b1, seq, ts, ssrc; 3 payload bytes (drain)
# recorder/rtp_fu.pyx's take(buf, start, end, au, n, rtp_ch, seq, ts32, ssrc, hevc) -> (start, n, seq, taken, ended, marked)
Take = Callable[[bytearray, int, int, bytearray, int, int, int | None, int | None, int | None, bool],
                tuple[int, int, int, int, int, int]]


class Interleave:
    """`$`, channel, 16-bit length, packet: the frames of RTSP's TCP interleave. An RTSP
    answer or request between them (a keepalive's answer) is skipped whole and handed to
    `on_message`; any other byte is skipped to the next `$` (counted in `skipped`)."""

    __slots__ = ("buf", "view", "start", "end", "skipped", "answers", "on_message")

    def __init__(self, size: int = START_BYTES, on_message: Callable[[bytes], None] | None = None):
        self.on_message = on_message  # an RTSP message between the packets, whole (rtsp_session.Session.heard)
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.skipped = 0
        self.answers = 0  # RTSP answers seen between the packets

    def room(self) -> memoryview:
        """Where the next read goes (compacts first: the partial packet moves to the front). The
        buffer starts at what MTU-sized packets need and is replaced by one of BUFFER_BYTES the
        first time a partial packet leaves less than a read's room (a server of larger packets);
        replaced, not grown in place: a slice of the old one may still be held (design/0483)."""
        if self.start:
            left = self.end - self.start
            self.view[:left] = self.view[self.start:self.end]
            self.start, self.end = 0, left
        if len(self.buf) - self.end < READ_BYTES:
            buf = bytearray(max(BUFFER_BYTES, self.end + READ_BYTES))
            buf[:self.end] = self.view[:self.end]
            self.buf, self.view = buf, memoryview(buf)
        return self.view[self.end:self.end + READ_BYTES]

    def filled(self, n: int) -> None:
        self.end += n

    def feed(self, data: bytes) -> None:
        """Bytes from elsewhere (what arrived with the PLAY answer, tests)."""
        at = 0
        while at < len(data):
            room = self.room()
            n = min(len(room), len(data) - at)
            room[:n] = data[at:at + n]
            self.filled(n)
            at += n
            if at < len(data):  # more than one read's worth: the caller drains between
                raise ValueError("feed at most READ_BYTES at a time")

    def next(self) -> tuple[int, memoryview] | None:
        """The next whole packet (channel, payload), or None until more is read."""
        buf, end = self.buf, self.end
        while True:
            at = self.start
            if end - at < 4:
                return None
            if buf[at] == 0x24:  # '$'
                size = (buf[at + 2] << 8) | buf[at + 3]
                if end - at - 4 < size:
                    return None
                self.start = at + 4 + size
                return buf[at + 1], self.view[at + 4:at + 4 + size]
            # Not a frame: an RTSP message (a keep-alive's answer, a request from the server) is
            # handed to `on_message` whole and skipped; anything else is skipped to the next `$`.
            chunk = bytes(buf[at:min(end, at + MESSAGE_BYTES)])
            kind, size, _msg = next_message(chunk)
            if kind in (ANSWER, REQUEST):
                self.start = at + size
                self.answers += 1
                if self.on_message is not None:
                    self.on_message(chunk[:size])
                continue
            if kind == NEED:
                if len(chunk) < MESSAGE_BYTES:
                    return None
                self.start, self.skipped = at + 1, self.skipped + 1  # no end of header in 8 KiB: not a message
                continue
            nxt = buf.find(b"$", at + 1, end)
            nxt = end if nxt < 0 else nxt
            self.skipped += nxt - at
            self.start = nxt


@dataclass(slots=True)
class AccessUnit:
    ts: int          # RTP timestamp, unwrapped to 64 bits
    key: bool        # holds an IDR (H.264) or IRAP (H.265) picture
    data: bytes      # Annex B
    params: bool     # holds its parameter sets (SPS and PPS)


class Depacketizer:
    """RTP packets of one H.264 or H.265 stream in, access units out (`push` returns the ones
    it completed). A gap in the sequence numbers drops the access unit it hit and those after
    it up to the next keyframe (`dropped` counts them): nothing is handed on that cannot
    decode. Packet kinds the reader does not know (STAP-B, MTAP, FU-B, PACI) count as a gap."""

    __slots__ = ("hevc", "au", "auv", "ts", "key", "params", "broken", "need_key", "fu", "seq", "last32", "ext",
                 "dropped", "units", "packets", "vcl", "_out", "n", "ssrc", "retired", "ssrc_changes", "foreign",
                 "_switched", "marked")

    def __init__(self, codec: str):
        if codec not in ("h264", "hevc"):
            raise ValueError(codec)
        self.hevc = codec == "hevc"
        self.au = bytearray(GROW)  # the access unit being built: au[:n]; grown, never shrunk (no
        self.n = 0                    # mremap and fresh pages at every keyframe)
        self.auv = memoryview(self.au)  # written through: a straight copy (a bytearray's slice copies twice)
        self.ts: int | None = None  # the timestamp of the access unit being built
        self.key = self.params = False
        self.vcl = False  # the access unit being built holds a slice
        self._out: list[AccessUnit] = []
        self.broken = False
        self.need_key = True  # nothing before the first keyframe
        self.fu = False  # inside a fragmented NAL unit
        self.seq: int | None = None
        self.last32: int | None = None
        self.ext = 0
        self.dropped = 0
        self.units = 0
        self.packets = 0
        self.ssrc: int | None = None  # the source followed; a new one is followed from its first keyframe
        self.retired: set[int] = set()  # sources left behind: their late packets are dropped (`foreign`)
        self.ssrc_changes = self.foreign = 0
        self._switched = False  # the next packet is a new source's: the access unit being built ends first
        self.marked = True  # the last packet followed carried the RTP marker (its access unit's last)

    def unwrap(self, ts32: int) -> int:
        last = self.last32
        if last is None:
            self.ext = ts32
        else:
            delta = (ts32 - last) & 0xFFFFFFFF
            self.ext += delta - (1 << 32) if delta >= 1 << 31 else delta
        self.last32 = ts32
        return self.ext

    def push(self, pkt: memoryview | bytes) -> list[AccessUnit] | tuple[()]:
        size = len(pkt)
        if size < 12:
            return ()
        b0, b1, seq, ts32, ssrc = _HEAD.unpack_from(pkt, 0)
        if b0 >> 6 != 2:
            return ()
        if ssrc != self.ssrc and not self._source(ssrc):
            return ()
        self.packets += 1
        expected = self.seq
        self.seq = (seq + 1) & 0xFFFF
        at = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension
            if size < at + 4:
                return ()
            at += 4 + 4 * ((pkt[at + 2] << 8) | pkt[at + 3])
        end = size - pkt[size - 1] if b0 & 0x20 else size  # padding
        out: list[AccessUnit] = []
        self._out = out
        if self._switched:
            self._switched = False
            if not self.marked:  # the old source stopped inside a picture (between its slices): not whole
                self.broken = True
            self._finish(out, True)
            self.need_key = True
        self.marked = b1 >= 0x80
        gap = expected is not None and seq != expected
        if gap:
            self.broken = True
            self.fu = False
        ts = self.unwrap(ts32)
        if self.ts is not None and ts != self.ts:
            self._finish(out)
            if gap:  # the lost packet may have been this access unit's first as well
                self.broken = True
        self.ts = ts
        if at < end:
            if self.hevc:
                self._h265(pkt, at, end)
            else:
                self._h264(pkt, at, end)
        return out

    def _source(self, ssrc: int) -> bool:
        """A packet of another SSRC: the first source is followed; a new one replaces it (a
        camera that restarted its encoder: the picture being built ends there, whole (its last packet
        carried the marker) or dropped, the new source starts at its keyframe, its sequence numbers are not a gap); a packet of a source left
        behind (an old session's, as some cameras send) is dropped. False: drop the packet."""
        if self.ssrc is None:
            self.ssrc = ssrc
            return True
        if ssrc in self.retired:
            self.foreign += 1
            return False
        if len(self.retired) >= 8:
            self.retired.clear()
        self.retired.add(self.ssrc)
        self.ssrc = ssrc
        self.ssrc_changes += 1
        self._switched = True
        self.seq = None
        return True

    def flush(self) -> list[AccessUnit]:
        """The access unit being built, at the end of the stream."""
        out: list[AccessUnit] = []
        self._finish(out, True)
        return out

    def _nal(self, data: memoryview | bytes) -> None:
        skip = 2 if self.hevc else 1
        self._kind(data[0], data[skip] if len(data) > skip else 0)
        self._put(START)
        self._put(data)

    def _kind(self, b0: int, first: int) -> None:
        """Before a NAL unit is added: its kind, and whether its slice starts another picture
        (`first`: the slice header's first byte; H.264 first_mb_in_slice 0, H.265
        first_slice_segment_in_pic_flag 1) after a slice of this one: then this one ends here."""
        if self.hevc:
            kind = (b0 >> 1) & 0x3F
            vcl = kind < 32
            if 16 <= kind <= 21:
                self._picture(first)
                self.key = True
            elif vcl:
                self._picture(first)
            elif kind in (32, 33, 34):
                self.params = True
        else:
            kind = b0 & 0x1F
            vcl = 1 <= kind <= 5
            if vcl:
                self._picture(first)
                if kind == 5:
                    self.key = True
            elif kind in (7, 8):
                self.params = True
        if vcl:
            self.vcl = True

    def _picture(self, first: int) -> None:
        if self.vcl and first & 0x80:
            self._finish(self._out)

    def _h264(self, pkt: memoryview | bytes, at: int, end: int) -> None:
        kind = pkt[at] & 0x1F
        if self.fu and (kind != 28 or end - at < 2 or pkt[at + 1] & 0x80):
            self.broken = True  # a fragmented NAL unit whose end never came: cut short
            self.fu = False
        if 1 <= kind <= 23:
            self._nal(pkt[at:end])
        elif kind == 24:  # STAP-A: 16-bit sizes and NAL units
            self._aggregate(pkt, at + 1, end)
        elif kind == 28:  # FU-A: indicator, header (S, E, R, type), a piece of the NAL unit
            if end - at < 2:
                self.broken = True
                return
            head = pkt[at + 1]
            if head & 0x80:
                self._kind(head & 0x1F, pkt[at + 2] if end - at > 2 else 0)
                self._put(START)
                self._put(bytes(((pkt[at] & 0xE0) | (head & 0x1F),)))
                self.fu = True
            elif not self.fu:
                self.broken = True
                return
            self._put(pkt[at + 2:end])
            if head & 0x40:
                self.fu = False
        else:
            self.broken = True

    def _h265(self, pkt: memoryview | bytes, at: int, end: int) -> None:
        if end - at < 3:
            self.broken = True
            return
        kind = (pkt[at] >> 1) & 0x3F
        if self.fu and (kind != 49 or pkt[at + 2] & 0x80):
            self.broken = True  # a fragmented NAL unit whose end never came: cut short
            self.fu = False
        if kind < 48:
            self._nal(pkt[at:end])
        elif kind == 48:  # aggregation packet (no DONL: sprop-max-don-diff 0)
            self._aggregate(pkt, at + 2, end)
        elif kind == 49:  # fragmentation unit: 2-byte header, FU header (S, E, type)
            head = pkt[at + 2]
            if head & 0x80:
                b0 = (pkt[at] & 0x81) | ((head & 0x3F) << 1)
                self._kind(b0, pkt[at + 3] if end - at > 3 else 0)
                self._put(START)
                self._put(bytes((b0, pkt[at + 1])))
                self.fu = True
            elif not self.fu:
                self.broken = True
                return
            self._put(pkt[at + 3:end])
            if head & 0x40:
                self.fu = False
        else:
            self.broken = True

    def _aggregate(self, pkt: memoryview | bytes, at: int, end: int) -> None:
        while at + 2 <= end:
            size = (pkt[at] << 8) | pkt[at + 1]
            at += 2
            if size == 0 or at + size > end:
                self.broken = True
                return
            self._nal(pkt[at:at + size])
            at += size

    def _put(self, data: memoryview | bytes) -> None:
        n = self.n
        end = n + len(data)
        if end > len(self.au):
            self._grow(end)
        self.auv[n:end] = data
        self.n = end

    def _grow(self, end: int) -> None:
        """Room for `end` bytes: sized to the stream's largest access unit (its keyframe), in GROW
        steps, not doubled past it."""
        self.auv.release()
        self.au.extend(bytes(-(-end // GROW) * GROW - len(self.au)))
        self.auv = memoryview(self.au)

    def _finish(self, out: list[AccessUnit], end: bool = False) -> None:
        """The access unit being built is done: handed on in `out`, or dropped. NAL units without
        a slice (an AUD, SEI or parameter sets stamped apart from their picture) are no access unit:
        they go with the next picture, or at the stream's `end` (a closed connection, a new
        source) nowhere; a decoder refuses a sample without a picture."""
        if self.n and not self.vcl and not (self.broken or self.fu):
            if not end and self.n < GROW:
                return
            self.n = 0
            self.key = self.params = False
            return
        if self.n:
            if self.broken or self.fu:
                self.need_key = True
                self.dropped += 1
            elif self.need_key and not self.key:
                self.dropped += 1
            else:
                self.need_key = False
                self.units += 1
                out.append(AccessUnit(self.ts or 0, self.key, bytes(self.auv[:self.n]), self.params))
        elif self.broken:
            self.need_key = True
        self.n = 0
        self.key = self.params = self.broken = self.fu = self.vcl = False


def drain(inter: Interleave, dep: Depacketizer, rtp_ch: int, rtcp_ch: int, out: list[AccessUnit],
          take: Take | None = None) -> tuple[int, int] | None:
    """The per-read loop (design/0160, 0483): the whole packets in `inter`'s buffer, each RTP one
    depacketised, the access units completed appended to `out`. Stops after a sender report on
    `rtcp_ch` and returns it, its RTP time unwrapped against the newest RTP packet so far
    (camera wall us, RTP time), so the caller applies it where it came among the pictures; None
    when no whole packet is left. Compiled by mypyc with the rest of this module when built.
    Most of a picture's packets are a fragment (H.264 FU-A, H.265 FU) after the first: read here
    from the buffer in one unpack and appended to the access unit, with no packet object, call or
    tuple of `Interleave.next` and `Depacketizer.push` (design/0483); any other goes through them.
    `take`: the same path compiled by Cython, a run of such packets a call (recorder/rtp_fu.pyx,
    design/0492, 0495), where it is built; what it does not take (an access unit to grow) goes on here."""
    buf, view, unpack = inter.buf, inter.view, _FAST.unpack_from
    while True:
        at = inter.start
        if dep.fu and take is not None:
            start, n, seq, taken, ended, marked = take(buf, at, inter.end, dep.au, dep.n, rtp_ch, dep.seq, dep.last32,
                                                       dep.ssrc, dep.hevc)
            if taken:
                inter.start, dep.n, dep.seq, dep.marked = start, n, seq, bool(marked)
                dep.packets += taken
                if ended:
                    dep.fu = False
                continue
        if dep.fu and inter.end - at >= 23:
            mark, ch, size, b0, b1, seq, ts32, ssrc, x0, x1, x2 = unpack(buf, at)
            if dep.hevc:  # payload header (2 bytes), FU header: S, E, type
                skip, piece, head = 19, (x0 >> 1) & 0x3F == 49, x2
            else:  # FU indicator, FU header: S, E, R, type
                skip, piece, head = 18, x0 & 0x1F == 28, x1
            if piece and not head & 0x80 and mark == 0x24 and ch == rtp_ch and b0 == 0x80 and size > skip - 4 \
                    and inter.end - at - 4 >= size and seq == dep.seq and ts32 == dep.last32 and ssrc == dep.ssrc:
                inter.start = stop = at + 4 + size
                dep.packets += 1
                dep.seq = (seq + 1) & 0xFFFF
                n = dep.n
                e = n + stop - at - skip
                if e > len(dep.au):
                    dep._grow(e)
                dep.auv[n:e] = view[at + skip:stop]
                dep.n = e
                if head & 0x40:
                    dep.fu = False
                dep.marked = b1 >= 0x80
                continue
        got = inter.next()
        if got is None:
            return None
        channel, data = got
        if channel == rtp_ch:
            units = dep.push(data)
            if units:
                out.extend(units)
        elif channel == rtcp_ch:
            sr = sender_report(data)
            last = dep.last32
            if sr is not None and last is not None:
                delta = (sr[1] - last) & 0xFFFFFFFF
                return sr[0], dep.ext + (delta - (1 << 32) if delta >= 1 << 31 else delta)


def sender_report(pkt: memoryview | bytes) -> tuple[int, int] | None:
    """(camera wall clock in us since 1970, RTP timestamp) of the first sender report in an
    RTCP compound packet, or None."""
    at, size = 0, len(pkt)
    while at + 4 <= size:
        if pkt[at] >> 6 != 2:
            return None
        length = 4 * (((pkt[at + 2] << 8) | pkt[at + 3]) + 1)
        if pkt[at + 1] == 200 and at + 24 <= size:
            _ssrc, sec, frac, rtp_ts = _SR.unpack_from(pkt, at + 4)
            return (sec - NTP_UNIX_S) * 1_000_000 + (frac * 1_000_000 >> 32), rtp_ts
        at += length
    return None
