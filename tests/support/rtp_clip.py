"""An Annex B H.264 clip as a camera's RTP packets (RFC 6184), for tests/support/quirk_camera.py:
access units at the clip's frame rate, SPS and PPS before each keyframe (as `h264parse
config-interval=-1` does), small NAL units alone, SPS+PPS in a STAP-A, large ones in FU-A
pieces; RTCP sender reports (+ SDES, as live555 sends them)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from storage.clock import SYSTEM

MTU = 1400
NTP_UNIX_S = 2_208_988_800
# An SEI user_data_unregistered (payload type 5) with emulation prevention bytes in it: what a
# camera's signing or metadata SEI looks like on the wire; kept byte for byte by the reader.
SEI = bytes.fromhex("06 05 1a") + b"EDGED-SEI-TEST-!" + bytes.fromhex("00 00 03 01 00 00 03 00 ab cd ef 01") + b"\x80"


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


def access_units(data: bytes, sei: bool = False) -> list[list[bytes]]:
    """The clip's access units, each its NAL units; SPS/PPS put before every IDR; `sei`: an SEI
    before every IDR too."""
    aus: list[list[bytes]] = []
    cur: list[bytes] = []
    vcl = False
    sps = pps = b""
    for nal in nal_units(data):
        kind = nal[0] & 0x1F
        if kind == 7:
            sps = nal
        elif kind == 8:
            pps = nal
        is_vcl = 1 <= kind <= 5
        if vcl and (not is_vcl or nal[1] & 0x80):
            aus.append(cur)
            cur, vcl = [], False
        if kind in (7, 8, 9):
            continue  # put back before each IDR below; AUDs dropped
        cur.append(nal)
        vcl = vcl or is_vcl
    if cur and vcl:
        aus.append(cur)
    out = []
    for au in aus:
        if any(n[0] & 0x1F == 5 for n in au):
            au = [sps, pps] + ([SEI] if sei else []) + au
        out.append(au)
    return out


def payloads(au: list[bytes], stap: bool = True, mtu: int = MTU) -> list[bytes]:
    """One access unit's RTP payloads: SPS+PPS in a STAP-A (`stap`), small NAL units alone,
    large ones in FU-A pieces."""
    out = []
    nals = list(au)
    if stap and len(nals) >= 2 and nals[0][0] & 0x1F == 7 and nals[1][0] & 0x1F == 8:
        out.append(b"\x18" + b"".join(struct.pack("!H", len(n)) + n for n in nals[:2]))
        nals = nals[2:]
    for nal in nals:
        if len(nal) <= mtu:
            out.append(nal)
            continue
        head, body = nal[0], nal[1:]
        pieces = [body[i:i + mtu] for i in range(0, len(body), mtu)]
        for i, piece in enumerate(pieces):
            fu = (head & 0x1F) | (0x80 if i == 0 else 0) | (0x40 if i == len(pieces) - 1 else 0)
            out.append(bytes([(head & 0xE0) | 28, fu]) + piece)
    return out


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


def load(path: Path, sei: bool = False) -> list[list[bytes]]:
    return access_units(path.read_bytes(), sei)
