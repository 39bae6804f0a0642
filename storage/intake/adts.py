"""AAC as a transport stream carries it (a dashcam's or a body camera's .ts): each frame behind an ADTS header,
the stream's AudioSpecificConfig nowhere else. An MP4 keeps the raw frame and the config once, in its sample
entry; the remux (storage/intake/remux.py) takes each frame without its header, byte for byte what is behind it,
as FFmpeg's `aac_adtstoasc` does (design/0488). A fragmented MP4's header is written before its first packet, so
the config is read from the file's first frame before any segment is opened (`first_frame`).

What a segment cannot keep as the device wrote it is refused (`NotKept`), never guessed: a frame whose sample
rate, channels or profile differ from the first's (one sample entry holds one config), several raw data blocks
in one frame, a channel layout given by a program config element (configuration 0), a frame whose length is not
its header's."""

from __future__ import annotations

from typing import Any

RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
HEADER = 7          # an ADTS header without its CRC; 9 with it


class NotKept(ValueError):
    """A frame a segment cannot keep as written: why, in FFmpeg's kind of words (for the journal)."""


def is_adts(data: bytes) -> bool:
    """The 12-bit ADTS sync word, as FFmpeg's MP4 muxer tells an ADTS frame from a raw one."""
    return len(data) >= HEADER and data[0] == 0xFF and data[1] & 0xF0 == 0xF0


def header(data: bytes) -> tuple[tuple[int, int, int], int]:
    """(profile, sampling frequency index, channel configuration) of an ADTS frame, and its header's length."""
    if not is_adts(data):
        raise NotKept("an AAC frame without its ADTS header in an ADTS stream")
    profile, rate, channels = data[2] >> 6, (data[2] >> 2) & 0x0F, ((data[2] & 0x01) << 2) | (data[3] >> 6)
    length = ((data[3] & 0x03) << 11) | (data[4] << 3) | (data[5] >> 5)
    blocks = (data[6] & 0x03) + 1
    size = HEADER if data[1] & 0x01 else HEADER + 2   # protection_absent, else a 16-bit CRC follows
    if rate >= len(RATES):
        raise NotKept(f"an ADTS frame with sampling frequency index {rate}")
    if channels == 0:
        raise NotKept("an ADTS frame whose channels are given by a program config element")
    if blocks != 1:
        raise NotKept(f"an ADTS frame of {blocks} raw data blocks")
    if length != len(data) or length <= size:
        raise NotKept(f"an ADTS frame of {len(data)} bytes whose header says {length}")
    return (profile, rate, channels), size


def config(data: bytes) -> bytes:
    """The MPEG-4 AudioSpecificConfig of an ADTS frame: object type (profile + 1), frequency index, channels."""
    (profile, rate, channels), _size = header(data)
    return bytes([((profile + 1) << 3) | (rate >> 1), ((rate & 1) << 7) | (channels << 3)])


class Frames:
    """One ADTS stream's frames made raw: each checked against the stream's first (`first`: its config)."""

    def __init__(self, first: bytes):
        self.config = config(first)
        self.kept = header(first)[0]

    def raw(self, pkt: Any) -> Any:
        """The packet's frame without its header, its times and duration as they were."""
        import av
        data = bytes(pkt)
        kind, size = header(data)
        if kind != self.kept:
            raise NotKept(f"an ADTS frame of profile, frequency index and channels {kind} after {self.kept}")
        out = av.Packet(data[size:])
        out.pts, out.dts, out.duration = pkt.pts, pkt.dts, pkt.duration
        if pkt.time_base is not None:   # a demuxed packet's always; PyAV refuses None
            out.time_base = pkt.time_base
        return out


def first_frame(source: Any, index: int, options: dict[str, str]) -> bytes | None:
    """The first frame of the file's stream `index` (a second reading of its start), or None: none in it."""
    import av
    with av.open(source, options=options) as container:
        for pkt in container.demux(container.streams[index]):
            if pkt.size:
                return bytes(pkt)
    return None
