"""An Annex B H.264 or H.265 clip as a camera's RTP packets (RFC 6184, RFC 7798), for
tests/support/quirk_camera.py: access units at the clip's frame rate, the parameter sets before
each keyframe (as `h264parse config-interval=-1` does), small NAL units alone, the parameter sets
in a STAP-A or AP, large ones in FU-A or FU pieces; RTCP sender reports (+ SDES, as live555
sends them)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from storage.time.clock import SYSTEM

MTU = 1400
NTP_UNIX_S = 2_208_988_800
# An SEI user_data_unregistered (payload type 5) with emulation prevention bytes in it: what a
# camera's signing or metadata SEI looks like on the wire; kept byte for byte by the reader.
SEI = bytes.fromhex("06 05 1a") + b"EDGED-SEI-TEST-!" + bytes.fromhex("00 00 03 01 00 00 03 00 ab cd ef 01") + b"\x80"
AUD, AUD_265 = b"\x09\xf0", b"\x46\x01\x50"  # access unit delimiters (H.264 type 9, H.265 type 35), any picture type


def nal_units(data: bytes) -> list[bytes]:
    out, at = [], 0
    starts = []
    while (i := data.find(b"\x00\x00\x01", at)) >= 0:
        starts.append(i + 3)
        at = i + 3
    for n, s in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        nal = data[s:end]
        while nal.endswith(b"\x00"):
            nal = nal[:-1]
        if nal:
            out.append(nal)
    return out


def kind(nal: bytes, hevc: bool) -> int:
    return (nal[0] >> 1) & 0x3F if hevc else nal[0] & 0x1F


def is_key(nal: bytes, hevc: bool) -> bool:
    return 16 <= kind(nal, hevc) <= 21 if hevc else kind(nal, hevc) == 5


def access_units(data: bytes, sei: bool = False, hevc: bool = False) -> list[list[bytes]]:
    """The clip's access units, each its NAL units; the parameter sets (SPS/PPS, H.265: VPS too)
    in effect at each keyframe put before it (a clip whose picture size changes has its new sets
    from the change on); `sei` (H.264): an SEI before every keyframe too."""
    params_kinds, aud = ((32, 33, 34), 35) if hevc else ((7, 8), 9)
    aus: list[list[bytes]] = []
    cur: list[bytes] = []
    vcl = False
    params: dict[int, bytes] = {}
    sets: dict[int, list[bytes]] = {}  # a keyframe's place: the sets in effect at it
    for nal in nal_units(data):
        k = kind(nal, hevc)
        if k in params_kinds:
            params[k] = nal
        is_vcl = k < 32 if hevc else 1 <= k <= 5
        first = nal[2] & 0x80 if hevc else nal[1] & 0x80
        if vcl and (not is_vcl or first):
            aus.append(cur)
            cur, vcl = [], False
        if k in params_kinds or k == aud:
            continue  # put back before each keyframe below; AUDs dropped
        if is_key(nal, hevc) and len(aus) not in sets:
            sets[len(aus)] = [params[k] for k in params_kinds if k in params]
        cur.append(nal)
        vcl = vcl or is_vcl
    if cur and vcl:
        aus.append(cur)
    return [sets[i] + ([SEI] if sei and not hevc else []) + au if i in sets else au for i, au in enumerate(aus)]


def payloads(au: list[bytes], stap: bool = True, mtu: int = MTU, hevc: bool = False) -> list[bytes]:
    """One access unit's RTP payloads: the parameter sets in one aggregation packet (STAP-A,
    H.265 AP; `stap`), small NAL units alone, large ones in fragments (FU-A, H.265 FU)."""
    out = []
    nals = list(au)
    sets = 3 if hevc else 2
    if stap and len(nals) >= sets and all(kind(n, hevc) in (32, 33, 34, 7, 8) for n in nals[:sets]):
        out.append((b"\x60\x01" if hevc else b"\x18") + b"".join(struct.pack("!H", len(n)) + n for n in nals[:sets]))
        nals = nals[sets:]
    for nal in nals:
        if len(nal) <= mtu:
            out.append(nal)
            continue
        head, body = (nal[:2], nal[2:]) if hevc else (nal[:1], nal[1:])
        pieces = [body[i:i + mtu] for i in range(0, len(body), mtu)]
        for i, piece in enumerate(pieces):
            edge = (0x80 if i == 0 else 0) | (0x40 if i == len(pieces) - 1 else 0)
            if hevc:
                out.append(bytes([(head[0] & 0x81) | (49 << 1), head[1], edge | kind(nal, True)]) + piece)
            else:
                out.append(bytes([(head[0] & 0xE0) | 28, edge | kind(nal, False)]) + piece)
    return out


def fragment(payload: bytes, hevc: bool) -> int | None:
    """The FU header of a fragment (S, E bits and type), or None for another packet."""
    if hevc:
        return payload[2] if kind(payload, True) == 49 else None
    return payload[1] if payload[0] & 0x1F == 28 else None


@dataclass
class RtpStream:
    """Sequence number, timestamp and SSRC of one sender; `packet` makes the next packet."""

    ssrc: int = 0x1234ABCD
    seq: int = 4000
    ts0: int = 1_000_000
    sent: int = 0
    octets: int = 0
    last_ts: int = field(default=0)

    def packet(self, payload: bytes, ts: int, marker: bool, pt: int = 96) -> bytes:
        head = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, self.seq & 0xFFFF, ts & 0xFFFFFFFF, self.ssrc)
        self.seq += 1
        self.sent += 1
        self.octets += len(payload)
        self.last_ts = ts
        return head + payload

    def sender_report(self, ts: int) -> bytes:
        """RTCP SR + SDES (CNAME), 44 bytes: what live555 sends."""
        now = SYSTEM.now_us() / 1e6 + NTP_UNIX_S
        sec = int(now)
        frac = int((now - sec) * (1 << 32))
        sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, self.ssrc, sec, frac, ts & 0xFFFFFFFF, self.sent, self.octets)
        sdes = struct.pack("!BBHI", 0x81, 202, 3, self.ssrc) + b"\x01\x05edged\x00"
        return sr + sdes


def framed(channel: int, packet: bytes) -> bytes:
    return b"$" + bytes([channel]) + struct.pack("!H", len(packet)) + packet


def load(path: Path, sei: bool = False, hevc: bool = False) -> list[list[bytes]]:
    return access_units(path.read_bytes(), sei, hevc)
