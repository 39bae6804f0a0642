"""Fragmented MP4 at the byte level, for the export's fragment copy (storage/export/copy.py):
read a segment's header (its tracks and their sample descriptions) and its fragments (where
each sample's bytes are, with its decode time, duration, flags and composition offset), and
write new fragments that point at the same bytes. Nothing is decoded or re-encoded.

Only what the recorder writes (ISO/IEC 14496-12 movie fragments: `moof` + `mdat` after an
empty `moov` with `mvex`) is read; anything else raises `NotCopyable`, and the export remuxes
that camera instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

from storage.mp4 import tail_copy

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I32 = struct.Struct(">i")

NON_SYNC = 0x00010000          # sample_is_non_sync_sample: not a keyframe
TFHD_BASE_OFFSET, TFHD_DESC, TFHD_DURATION, TFHD_SIZE, TFHD_FLAGS = 0x1, 0x2, 0x8, 0x10, 0x20
TFHD_BASE_IS_MOOF = 0x020000
TRUN_OFFSET, TRUN_FIRST_FLAGS = 0x1, 0x4
TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTO = 0x100, 0x200, 0x400, 0x800
CODECS = {b"avc1": "h264", b"avc3": "h264", b"hvc1": "hevc", b"hev1": "hevc", b"mp4a": "aac",
          # the camera's sound as it sent it (design/0094): G.711 and L16 in QuickTime's entries
          b"alaw": "pcm_alaw", b"ulaw": "pcm_mulaw", b"twos": "pcm_s16be"}


class NotCopyable(Exception):
    """The file is not a fragmented MP4 the copy understands; the caller remuxes instead."""


def boxes(buf: Any, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of each box in buf[start:end]."""
    off = start
    while off + 8 <= end:
        size, kind = _U32.unpack_from(buf, off)[0], bytes(buf[off + 4:off + 8])
        head = 8
        if size == 1:
            if off + 16 > end:
                raise NotCopyable("a box header runs past the end")
            size, head = _U64.unpack_from(buf, off + 8)[0], 16
        elif size == 0:
            size = end - off
        if size < head or off + size > end:
            raise NotCopyable(f"the {kind!r} box at {off} runs past the end")
        yield kind, off, off + head, off + size
        off += size


def _child(buf: Any, start: int, end: int, kind: bytes) -> tuple[int, int, int]:
    for k, box_start, payload, box_end in boxes(buf, start, end):
        if k == kind:
            return box_start, payload, box_end
    raise NotCopyable(f"no {kind!r} box")


def _path(buf: Any, start: int, end: int, *kinds: bytes) -> tuple[int, int, int]:
    box = (start, start, end)
    for kind in kinds:
        box = _child(buf, box[1], box[2], kind)
    return box


@dataclass(frozen=True, slots=True)
class Track:
    track_id: int
    handler: bytes          # b"vide", b"soun"
    timescale: int
    codec: str              # "h264", "hevc", "aac", or the sample entry's type
    description: bytes      # the whole stsd box: equal descriptions can share one file
    defaults: tuple[int, int, int]  # trex: default duration, size, flags


@dataclass(frozen=True, slots=True)
class Header:
    ftyp: bytes
    moov: bytes             # the movie box as the copy writes it (without udta: no segment's provenance)
    tracks: tuple[Track, ...]
    end: int                # where the first fragment starts

    @property
    def signature(self) -> tuple[Any, ...]:
        """What must be equal for two segments' fragments to share one file."""
        return tuple((t.track_id, t.handler, t.timescale, t.description) for t in self.tracks)

    def track(self, handler: bytes) -> Track | None:
        return next((t for t in self.tracks if t.handler == handler), None)


def read_header(buf: Any) -> Header:
    """The segment's tracks; NotCopyable unless it is a fragmented MP4 without edit lists."""
    ftyp = moov = None
    end = 0
    for kind, start, payload, box_end in boxes(buf, 0, len(buf)):
        if kind == b"ftyp":
            ftyp = bytes(buf[start:box_end])
        elif kind == b"moov":
            moov = (start, payload, box_end)
        elif kind == b"moof":
            end = start
            break
    if ftyp is None or moov is None or not end:
        raise NotCopyable("not a fragmented MP4 (no ftyp, moov or fragment)")
    trex = {}
    for kind, _, payload, box_end in boxes(buf, moov[1], moov[2]):
        if kind == b"mvex":
            for k, _, p, _e in boxes(buf, payload, box_end):
                if k == b"trex":
                    tid, _desc, dur, size, flags = struct.unpack_from(">5I", buf, p + 4)
                    trex[tid] = (dur, size, flags)
    tracks = tuple(_track(buf, payload, box_end, trex) for kind, _, payload, box_end in boxes(buf, moov[1], moov[2])
                   if kind == b"trak")
    kept = b"".join(bytes(buf[s:e]) for kind, s, _, e in boxes(buf, moov[1], moov[2]) if kind != b"udta")
    return Header(ftyp, _box(b"moov", kept), tracks, end)


def _track(buf: Any, start: int, end: int, trex: dict[int, tuple[int, int, int]]) -> Track:
    if any(kind == b"edts" for kind, *_ in boxes(buf, start, end)):
        raise NotCopyable("an edit list")
    _, tkhd, _ = _child(buf, start, end, b"tkhd")
    track_id = _U32.unpack_from(buf, tkhd + (20 if buf[tkhd] == 1 else 12))[0]
    _, mdia, mdia_end = _child(buf, start, end, b"mdia")
    _, mdhd, _ = _child(buf, mdia, mdia_end, b"mdhd")
    timescale = _U32.unpack_from(buf, mdhd + (20 if buf[mdhd] == 1 else 12))[0]
    _, hdlr, _ = _child(buf, mdia, mdia_end, b"hdlr")
    stsd_start, stsd, stsd_end = _path(buf, mdia, mdia_end, b"minf", b"stbl", b"stsd")
    entry = bytes(buf[stsd + 12:stsd + 16])
    if track_id not in trex or not timescale:
        raise NotCopyable(f"track {track_id} has no trex or no time scale")
    return Track(track_id, bytes(buf[hdlr + 8:hdlr + 12]), timescale, CODECS.get(entry, entry.decode("latin-1")),
                 bytes(buf[stsd_start:stsd_end]), trex[track_id])


@dataclass(slots=True)
class Run:
    """One track's samples in one fragment: decode times from `base_dts`, in order."""

    track_id: int
    base_dts: int
    offsets: list[int] = field(default_factory=list)   # where each sample's bytes start in the file
    sizes: list[int] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    ctos: list[int] = field(default_factory=list)      # composition time offsets


def fragments(buf: Any, header: Header) -> Iterator[list[Run]]:
    """Each whole fragment's runs, one per track fragment, in file order."""
    defaults = {t.track_id: t.defaults for t in header.tracks}
    moof = None
    for kind, start, payload, end in boxes(buf, header.end, len(buf)):
        if kind == b"moof":
            moof = (start, payload, end)
        elif kind == b"mdat" and moof is not None:
            runs = [_traf(buf, moof[0], p, e, defaults, (payload, end))
                    for k, _, p, e in boxes(buf, moof[1], moof[2]) if k == b"traf"]
            moof = None
            yield runs


def _traf(buf: Any, moof: int, start: int, end: int, defaults: dict[int, tuple[int, int, int]],
          mdat: tuple[int, int]) -> Run:
    _, tfhd, _ = _child(buf, start, end, b"tfhd")
    flags = _U32.unpack_from(buf, tfhd)[0] & 0xFFFFFF
    track_id = _U32.unpack_from(buf, tfhd + 4)[0]
    if track_id not in defaults:
        raise NotCopyable(f"a fragment of an unknown track {track_id}")
    duration, size, sample_flags = defaults[track_id]
    at = tfhd + 8
    base = moof
    if flags & TFHD_BASE_OFFSET:
        base = _U64.unpack_from(buf, at)[0]
        at += 8
    elif not flags & TFHD_BASE_IS_MOOF:
        raise NotCopyable("a track fragment without a base offset")
    at += 4 if flags & TFHD_DESC else 0
    for bit in (TFHD_DURATION, TFHD_SIZE, TFHD_FLAGS):
        if flags & bit:
            value = _U32.unpack_from(buf, at)[0]
            at += 4
            duration, size, sample_flags = (value if bit == TFHD_DURATION else duration,
                                            value if bit == TFHD_SIZE else size,
                                            value if bit == TFHD_FLAGS else sample_flags)
    _, tfdt, _ = _child(buf, start, end, b"tfdt")
    base_dts = _U64.unpack_from(buf, tfdt + 4)[0] if buf[tfdt] == 1 else _U32.unpack_from(buf, tfdt + 4)[0]
    run = Run(track_id, base_dts)
    data = base
    for kind, _, trun, _e in boxes(buf, start, end):
        if kind == b"trun":
            data = _trun(buf, trun, base, data, (duration, size, sample_flags), run)
    if run.offsets and (run.offsets[0] < mdat[0] or run.offsets[-1] + run.sizes[-1] > mdat[1]):
        raise NotCopyable("sample data outside the fragment's mdat")
    return run


def _trun(buf: Any, at: int, base: int, data: int, defaults: tuple[int, int, int], run: Run) -> int:
    """Append one trun's samples to `run`; where the next trun's data starts."""
    version, flags = buf[at], _U32.unpack_from(buf, at)[0] & 0xFFFFFF
    count = _U32.unpack_from(buf, at + 4)[0]
    at += 8
    if flags & TRUN_OFFSET:
        data = base + _I32.unpack_from(buf, at)[0]
        at += 4
    first_flags = None
    if flags & TRUN_FIRST_FLAGS:
        first_flags = _U32.unpack_from(buf, at)[0]
        at += 4
    fields = [bit for bit in (TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTO) if flags & bit]
    values = struct.unpack_from(">" + "I" * (len(fields) * count), buf, at) if count else ()
    width = len(fields)
    duration, size, sample_flags = defaults
    for i in range(count):
        row = dict(zip(fields, values[i * width:(i + 1) * width]))
        n = row.get(TRUN_SIZE, size)
        run.offsets.append(data)
        run.sizes.append(n)
        run.durations.append(row.get(TRUN_DURATION, duration))
        run.flags.append(row.get(TRUN_FLAGS, first_flags if i == 0 and first_flags is not None else sample_flags))
        cto = row.get(TRUN_CTO, 0)
        run.ctos.append(cto - (1 << 32) if version == 1 and cto & 0x80000000 else cto)
        data += n
    return data


def own_samples(buf: Any, run: Run, base_us: int, timescale: int, end_us: int) -> int:
    """How many of an H.265 run's samples are its segment's own: those before a copy of the next segment's
    CRA that no decoder outputs (design/0543), which comes at or past the segment's end (`end_us`) by decode
    time; the RASL pictures after it are the next segment's too. All of them when there is none."""
    dts = run.base_dts
    for i, (off, size, dur) in enumerate(zip(run.offsets, run.sizes, run.durations)):
        if base_us + dts * 1_000_000 // timescale >= end_us and tail_copy(bytes(buf[off:off + size])):
            return i
        dts += dur
    return len(run.offsets)


# --- writing ------------------------------------------------------------------------------------------
def _box(kind: bytes, payload: bytes) -> bytes:
    return _U32.pack(8 + len(payload)) + kind + payload


def _full(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, _U32.pack(version << 24 | flags) + payload)


@dataclass(frozen=True, slots=True)
class Piece:
    """Samples [first, last) of a run, to be written with decode times from `base_dts`."""

    run: Run
    first: int
    last: int
    base_dts: int
    lead: bytes = b""  # bytes put before the first sample's, in it (a camera's certificate SEI: design/0135)


def fragment(sequence: int, pieces: list[Piece]) -> tuple[bytes, bytes, list[tuple[int, int] | bytes]]:
    """A new moof (sequence number, one traf per piece, every sample's fields explicit) and the
    mdat header; the (offset, size) spans of the source whose bytes follow it, in order (and a
    piece's `lead`, as bytes, before its first sample's span)."""
    trafs: list[bytes] = []
    spans: list[tuple[int, int] | bytes] = []
    data_at = []  # where each trun's data_offset field sits in the moof, and the data's offset in the mdat
    moof_len = 8 + 16       # moof header + mfhd
    data_len = 0
    for p in pieces:
        r, n = p.run, p.last - p.first
        ctos = r.ctos[p.first:p.last]
        flags = TRUN_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | (TRUN_CTO if any(ctos) else 0)
        version = 1 if any(c < 0 for c in ctos) else 0
        sizes = r.sizes[p.first:p.last]
        sizes[0] += len(p.lead)
        per = [r.durations[p.first:p.last], sizes, r.flags[p.first:p.last]]
        if flags & TRUN_CTO:
            per.append([c & 0xFFFFFFFF for c in ctos])
        samples = struct.pack(f">{n * len(per)}I", *(v for row in zip(*per) for v in row))
        tfhd = _full(b"tfhd", 0, TFHD_BASE_IS_MOOF, _U32.pack(r.track_id))
        tfdt = _full(b"tfdt", 1, 0, _U64.pack(p.base_dts))
        trun_head = _U32.pack(version << 24 | flags) + _U32.pack(n)
        traf_len = 8 + len(tfhd) + len(tfdt) + 8 + len(trun_head) + 4 + len(samples)
        data_at.append((moof_len + 8 + len(tfhd) + len(tfdt) + 8 + len(trun_head), data_len))
        trafs.append(_box(b"traf", tfhd + tfdt + _box(b"trun", trun_head + b"\0\0\0\0" + samples)))
        moof_len += traf_len
        data_len += sum(sizes)
        spans.extend([p.lead] if p.lead else [])
        spans.extend(_spans(r, p.first, p.last))
    if data_len + 8 > 0xFFFFFFFF:
        raise NotCopyable("a fragment of over 4 GiB")
    moof = bytearray(_box(b"moof", _full(b"mfhd", 0, 0, _U32.pack(sequence)) + b"".join(trafs)))
    for field_at, offset in data_at:
        _I32.pack_into(moof, field_at, moof_len + 8 + offset)
    return bytes(moof), _U32.pack(8 + data_len) + b"mdat", spans


def _spans(run: Run, first: int, last: int) -> list[tuple[int, int]]:
    """The samples' bytes as few contiguous spans as possible (usually one)."""
    out: list[tuple[int, int]] = []
    for off, size in zip(run.offsets[first:last], run.sizes[first:last]):
        if out and out[-1][0] + out[-1][1] == off:
            out[-1] = (out[-1][0], out[-1][1] + size)
        else:
            out.append((off, size))
    return out


# --- an edit list: what a player shows of a clip that runs on for its camera's signature -------------
ELST_SIZE = 8 + 8 + 20    # elst v1 with one entry
EDTS_SIZE = 8 + ELST_SIZE


def movie_timescale(moov: bytes) -> int:
    _, mvhd, _ = _child(moov, 8, len(moov), b"mvhd")
    return int(_U32.unpack_from(moov, mvhd + (20 if moov[mvhd] == 1 else 12))[0])


def with_edit_list(moov: bytes, track_id: int) -> tuple[bytes, int]:
    """`moov` with an edit list in track `track_id` (after its tkhd): one edit from media time 0,
    its duration 0 until written (edit_duration; where that field sits: the second value returned)."""
    out: list[bytes] = []
    field_at = -1
    for kind, start, payload, end in boxes(moov, 8, len(moov)):
        box = moov[start:end]
        if kind == b"trak":
            _, tkhd, tkhd_end = _child(moov, payload, end, b"tkhd")
            if _U32.unpack_from(moov, tkhd + (20 if moov[tkhd] == 1 else 12))[0] == track_id:
                elst = _full(b"elst", 1, 0, _U32.pack(1) + _U64.pack(0) + _U64.pack(0) + struct.pack(">hh", 1, 0))
                box = _box(b"trak", moov[payload:tkhd_end] + _box(b"edts", elst) + moov[tkhd_end:end])
                field_at = 8 + sum(len(b) for b in out) + (tkhd_end - start) + 8 + 16
        out.append(box)
    if field_at < 0:
        raise NotCopyable(f"no track {track_id} for an edit list")
    return _box(b"moov", b"".join(out)), field_at


def edit_duration(duration_us: int, timescale: int) -> bytes:
    """The edit's duration field (movie time scale), for the place with_edit_list named."""
    return _U64.pack(duration_us * timescale // 1_000_000)
