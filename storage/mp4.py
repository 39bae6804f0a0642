"""Just enough of the MP4 box structure to cut a crashed fragmented MP4 back to its last
whole fragment, and to read what a segment holds."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import av

_HEADER = struct.Struct(">I4s")


@dataclass(frozen=True, slots=True)
class Whole:
    """How much of a file is whole: `end` bytes, holding `fragments` moof+mdat pairs."""

    end: int
    fragments: int
    finished: bool  # the trailer (mfra) was written: the muxer closed the file


def whole_prefix(path: Path) -> Whole:
    """Walk the top-level boxes; stop at the first one that runs past the end of the file."""
    size = os.path.getsize(path)
    end = 0
    fragments = 0
    finished = False
    have_moov = False
    pending_moof = False
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            box_size, kind = _HEADER.unpack(f.read(8))
            if box_size == 1:
                if offset + 16 > size:
                    break
                (box_size,) = struct.unpack(">Q", f.read(8))
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or offset + box_size > size:
                break
            offset += box_size
            if kind == b"moov":
                have_moov = True
                end = offset
            elif kind == b"moof":
                pending_moof = True
            elif kind == b"mdat" and pending_moof and have_moov:
                pending_moof = False
                fragments += 1
                end = offset
            elif kind == b"mfra":
                finished = True
                end = offset
            elif kind == b"ftyp" and end == 0:
                end = offset
    return Whole(end=end if have_moov else 0, fragments=fragments, finished=finished)


def cut_to_whole(path: Path) -> Whole:
    """Truncate a crashed segment to its last whole fragment (no-op for a finished file)."""
    whole = whole_prefix(path)
    if os.path.getsize(path) != whole.end:
        os.truncate(path, whole.end)
    return whole


@dataclass(frozen=True, slots=True)
class MediaInfo:
    duration_us: int
    frames: int
    codec: str
    width: int
    height: int
    audio: bool


def scan_media(path: Path) -> MediaInfo:
    """Demux (no decoding) to learn the length and frame count of a segment."""
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        tb = video.time_base
        frames = 0
        end = 0
        first = None
        for pkt in c.demux(video):
            if pkt.dts is None:
                continue
            frames += 1
            if first is None:
                first = pkt.dts
            end = max(end, pkt.dts + (pkt.duration or 0))
        duration = int((end - (first or 0)) * tb * 1_000_000) if frames else 0
        ctx = video.codec_context
        return MediaInfo(duration, frames, ctx.name, ctx.width, ctx.height, bool(c.streams.audio))
