"""A camera's own signatures in its H.264/H.265 stream, as an export must keep them (design/0135).

Two kinds are known, both "user data unregistered" SEI NAL units (payload type 5) told apart by
their UUID: ONVIF Media Signing (005bc93f-2d71-5e95-ada4-796f90877a6f) and Axis's older signed
video ("Signed Video...0"). The byte after the UUID carries flags: ONVIF marks its certificate
SEI (the camera's certificate chain, sent once when a stream starts) with 0x80, Axis its golden
SEI (the camera's public key, likewise) with 0x40. Every other such SEI carries a signature over
the frames before it: the GOP before it, by default, so the signature of a clip's last GOP is
in the GOP after it.

Pure: sample bytes in, plain answers out; nothing here reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

ONVIF_UUID = bytes.fromhex("005bc93f2d715e95ada4796f90877a6f")
AXIS_UUID = b"Signed Video...0"
KEY_FLAG = {ONVIF_UUID: 0x80, AXIS_UUID: 0x40}  # the certificate SEI's / golden SEI's flag bit
USER_DATA_UNREGISTERED = 5
H264_SEI, HEVC_PREFIX_SEI, HEVC_SUFFIX_SEI = 6, 39, 40
SIGNATURE, KEY = "signature", "key"
MAX_TAIL_US = 60_000_000  # a clip never runs more than this past its requested end for a signature


def nal_length_size(description: bytes) -> int:
    """The NAL length field's size in the samples, from a track's stsd (avcC or hvcC); 4 if absent."""
    for tag, at in ((b"avcC", 4), (b"hvcC", 21)):
        i = description.find(tag)
        if i >= 0 and len(description) > i + 4 + at:
            return (description[i + 4 + at] & 3) + 1
    return 4


def nal_units(sample: bytes | memoryview, length_size: int = 4) -> Iterator[tuple[int, int]]:
    """(start, size) of each NAL unit of one sample (length-prefixed, as in MP4); stops at a
    length that overruns the sample."""
    at = 0
    while at + length_size <= len(sample):
        n = int.from_bytes(sample[at:at + length_size], "big")
        at += length_size
        if n == 0 or at + n > len(sample):
            return
        yield at, n
        at += n


def _is_sei(first_byte: int, hevc: bool) -> bool:
    return ((first_byte >> 1) & 0x3F in (HEVC_PREFIX_SEI, HEVC_SUFFIX_SEI)) if hevc else first_byte & 0x1F == H264_SEI


def _sei_payload(nal: bytes, hevc: bool) -> bytes | None:
    """The payload of a user-data-unregistered SEI message that opens `nal`, else None."""
    if not nal or not _is_sei(nal[0], hevc):
        return None
    at = 2 if hevc else 1
    value = 0
    for field in range(2):  # payload type, then payload size: 0xFF bytes add 255 each
        value = 0
        while at < len(nal) and nal[at] == 0xFF:
            value, at = value + 255, at + 1
        if at >= len(nal):
            return None
        value, at = value + nal[at], at + 1
        if field == 0 and value != USER_DATA_UNREGISTERED:
            return None
    return nal[at:at + value]


def sei_kind(nal: bytes, hevc: bool) -> str | None:
    """SIGNATURE or KEY (certificate / golden SEI) for a camera signing SEI, else None."""
    payload = _sei_payload(nal, hevc)
    if payload is None or len(payload) < 17 or payload[:16] not in KEY_FLAG:
        return None
    return KEY if payload[16] & KEY_FLAG[payload[:16]] else SIGNATURE


def _seis(sample: bytes | memoryview, hevc: bool, length_size: int) -> Iterator[tuple[str, bytes]]:
    for at, n in nal_units(sample, length_size):
        if _is_sei(sample[at], hevc):
            nal = bytes(sample[at:at + n])
            if (kind := sei_kind(nal, hevc)) is not None:
                yield kind, nal


def kinds_in(sample: bytes | memoryview, hevc: bool, length_size: int = 4) -> set[str]:
    """The kinds of camera signing SEI in one sample (only SEI units are copied out)."""
    return {kind for kind, _ in _seis(sample, hevc, length_size)}


def key_nals(sample: bytes | memoryview, hevc: bool, length_size: int = 4) -> list[bytes]:
    """The certificate (or golden) SEI NAL units in one sample, whole."""
    return [nal for kind, nal in _seis(sample, hevc, length_size) if kind == KEY]


@dataclass(frozen=True, slots=True)
class Frame:
    """A video sample from the requested end on, as the tail rule sees it."""

    wall_us: int
    keyframe: bool
    signed: bool  # it carries a camera signature SEI


@dataclass(slots=True)
class Tail:
    """Which video samples from the requested end on a clip keeps, so that it holds the signature
    of its last requested GOP: up to the end of the GOP in which the first signature SEI after
    that GOP's end appears (never more than MAX_TAIL_US past `to_us`). Fed the samples in decode
    order, from the first at or after `to_us`; `take` says whether to keep each."""

    to_us: int
    closed: bool = False  # the last requested GOP has ended (a keyframe at or after to_us was seen)
    signed: bool = False  # and a signature SEI after its end was seen
    done: bool = False

    def take(self, f: Frame) -> bool:
        if self.done:
            return False
        if f.keyframe:
            if self.signed:
                self.done = True
                return False
            self.closed = True
        if f.wall_us - self.to_us > MAX_TAIL_US:
            self.done = True
            return False
        self.signed = self.signed or (self.closed and f.signed)
        return True
