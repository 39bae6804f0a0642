"""A stretch of a segment file, cut at its own keyframes (design/0158): the part of a standby's
segment a box lacks, stored without the part it holds already.

`cut(src, dst, from_us, to_us)` copies, without re-encoding, the video from the first keyframe
at or after `from_us` (microseconds from the file's first picture) up to the last picture
before `to_us`, and the sound in between, into a fragmented MP4 like the recorder's. Blocking:
run on a thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.lazy import lazy_import
from storage.mp4 import own_pictures

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")  # the daemon imports this module; PyAV loads at the first cut, on its thread (design/0286)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True, slots=True)
class Cut:
    first_us: int      # the first picture kept, from the source's first picture
    end_us: int        # the end of the last one kept (its start plus one picture's length)
    frames: int
    bytes: int
    sha256: str


def _us(pts: int | None, tb: Any) -> int | None:
    return None if pts is None else round(pts * tb * 1_000_000)


def cut(src: Path, dst: Path, from_us: int, to_us: int) -> Cut | None:
    """The cut, or None when no keyframe of the source lies in [from_us, to_us)."""
    with av.open(str(src)) as inp:  # open while its packets are written: they point into it
        video = inp.streams.video[0]
        audio = inp.streams.audio[0] if inp.streams.audio else None
        packets = [p for p in inp.demux(*(s for s in (video, audio) if s is not None)) if p.pts is not None]
        vpk = [p for p in packets if p.stream.type == "video"]
        if video.codec_context.name == "hevc":  # the file's own pictures: not a display tail (design/0543)
            vpk = vpk[:own_pictures(vpk)]
        if not vpk:
            return None
        origin = min(_us(p.pts, p.time_base) or 0 for p in vpk)
        rel = [(p, (_us(p.pts, p.time_base) or 0) - origin) for p in vpk]
        start = next((t for p, t in sorted(rel, key=lambda x: x[1]) if p.is_keyframe and from_us <= t < to_us), None)
        if start is None:
            return None
        kept_v = [(p, t) for p, t in rel if start <= t < to_us]
        times = sorted(t for _p, t in rel)
        step = min((b - a for a, b in zip(times, times[1:]) if b > a), default=40_000)
        last = max(t for _p, t in kept_v)
        kept_a = [p for p in packets if p.stream.type == "audio"
                  and start <= (_us(p.pts, p.time_base) or 0) - origin < last + step]
        _write(dst, video, audio, [p for p, _t in kept_v], kept_a, start + origin)
    data = dst.read_bytes()
    return Cut(start, last + step, len(kept_v), len(data), hashlib.sha256(data).hexdigest())


def _write(dst: Path, video: Any, audio: Any, kept_v: list[Any], kept_a: list[Any], at_us: int) -> None:
    """The kept packets into a fragmented MP4, the cut's first picture at 0, in decode order."""
    with av.open(str(dst), "w", format="mp4", options={"movflags": MOVFLAGS}) as out:
        ov = out.add_stream_from_template(video)
        oa = out.add_stream_from_template(audio) if audio is not None and kept_a else None
        moved = [(p, ov) for p in sorted(kept_v, key=lambda p: p.dts if p.dts is not None else p.pts or 0)]
        for p, stream in [*moved, *((p, oa) for p in kept_a if oa is not None)]:
            tb = p.time_base
            assert tb is not None and p.pts is not None
            shift = round(at_us / 1_000_000 / tb)
            p.pts = p.pts - shift
            p.dts = p.dts - shift if p.dts is not None else None
            p.stream = stream
            out.mux(p)
