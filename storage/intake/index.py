"""What an MP4's index claims, read before FFmpeg is given the file (issue 87, T35, design/0404).

FFmpeg's MP4 demuxer allocates its index for the samples a file's boxes claim before it reads any of
them: a `stsz` box of a constant sample size claims any number of samples in 20 bytes (a 3 KB file
claiming 16.7 M samples cost the remux 246 MB; the issue's own file 0.6 GB), and so does a fragment's
`trun` with its samples' size left to a default. A sample is at least one byte of the file (its
constant or default size when the box gives one), so the bytes an index claims for its samples can
never exceed the file's size: an index claiming more is damaged or made to attack the box, and is
refused before FFmpeg reads it. The demuxer's memory is then bounded by the file's size.
Pure over the boxes' bytes (`claimed`), with the file read at the edge (`claimed_bytes`).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

from storage.mp4 import top_boxes

_HEADER = struct.Struct(">I4s")
# The boxes on the way to a sample table or a fragment's runs
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"edts"})
TOP = frozenset({b"moov", b"moof"})       # the top-level boxes read into memory (their size is the file's)
# what a QuickTime file written before `ftyp` (1990s QuickTime, some old camcorders) begins with, which
# FFmpeg's MOV demuxer reads as it reads an MP4 (design/0428)
QUICKTIME_FIRST = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def _children(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(kind, payload start, payload end) of each whole box in buf[start:end]; stops at a box that
    runs past the end (what follows is not read)."""
    at = start
    while at + 8 <= end:
        size, kind = _HEADER.unpack_from(buf, at)
        head = 8
        if size == 1 and at + 16 <= end:
            (size,) = struct.unpack_from(">Q", buf, at + 8)
            head = 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end:
            return
        yield kind, at + head, at + size
        at += size


def _u32(buf: bytes, at: int, end: int) -> int:
    return struct.unpack_from(">I", buf, at)[0] if at + 4 <= end else 0


def _default_size(buf: bytes, at: int, end: int) -> int:
    """A `tfhd`'s default sample size, or 0 when it gives none."""
    flags = _u32(buf, at, end) & 0xFFFFFF
    if not flags & 0x10:
        return 0
    offset = at + 8 + 8 * bool(flags & 0x1) + 4 * bool(flags & 0x2) + 4 * bool(flags & 0x8)
    return _u32(buf, offset, end)


def claimed(buf: bytes, start: int = 0, end: int | None = None, default: int = 0) -> int:
    """The bytes the sample tables and fragment runs in buf[start:end] claim for their samples: each
    sample its constant or default size, at least one byte."""
    end = len(buf) if end is None else end
    total = 0
    for kind, at, stop in _children(buf, start, end):
        if kind in CONTAINERS:
            inner = next((_default_size(buf, a, s) for k, a, s in _children(buf, at, stop) if k == b"tfhd"), 0)
            total += claimed(buf, at, stop, inner if kind == b"traf" else default)
        elif kind == b"stsz":   # version and flags, sample_size, sample_count
            total += _u32(buf, at + 8, stop) * max(1, _u32(buf, at + 4, stop))
        elif kind == b"stz2":   # version and flags, reserved and field_size, sample_count: sizes listed
            total += _u32(buf, at + 8, stop)
        elif kind == b"trun":   # version and flags, sample_count; sizes listed when flag 0x200 is set
            sizes_listed = _u32(buf, at, stop) & 0x200
            total += _u32(buf, at + 4, stop) * (1 if sizes_listed else max(1, default))
    return total


def old_quicktime(path: Path) -> bool:
    """The file begins with a box a QuickTime file without `ftyp` begins with, whole within the file."""
    with open(path, "rb") as f:
        head = f.read(8)
        size = f.seek(0, 2)
    if len(head) < 8:
        return False
    box, kind = _HEADER.unpack(head)
    return kind in QUICKTIME_FIRST and (box in (0, 1) or 8 <= box <= size)


def claimed_bytes(path: Path, size: int) -> int:
    """What the index of the MP4 at `path`, read up to `size` bytes, claims for its samples."""
    total = 0
    with open(path, "rb") as f:
        for at, box, kind in top_boxes(f, size):
            if kind in TOP:
                f.seek(at)
                total += claimed(f.read(box))
    return total
