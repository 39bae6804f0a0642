"""A timeline slot's thumbnail, decoded in the media worker process (design/0020, design/0114).

The first key frame recorded inside the slot [lo, hi), and only there (never a picture from
outside the grant), decoded on one thread and scaled to a small JPEG. One key frame: no other
frame of the segment is decoded. The worker runs at a low priority (edged/viewer/media_worker.py),
so a page scrubbing a long grant never takes a core from the recording.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

import av

log = logging.getLogger(__name__)

SEEK_BEFORE_US = 1_000_000   # land this far before the slot: the demuxer seeks to a key frame at or before


def keyframe_jpeg(pieces: list[list[Any]], lo_us: int, hi_us: int, width: int) -> bytes | None:
    """The JPEG of the first key frame whose time is in [lo, hi) in `pieces` ([path, start_us,
    end_us], oldest first); None when the slot has none that decodes."""
    for path, start_us, _end_us in pieces:
        try:
            container = av.open(str(path))
        except (OSError, av.FFmpegError) as exc:
            log.warning("thumbnail skips %s: %s", path, exc)
            continue
        try:
            found = _first_key(container, int(start_us), lo_us, hi_us, width)
        except (av.FFmpegError, ValueError) as exc:   # a segment cut short by a crash: no thumbnail from it
            log.warning("thumbnail of %s: %s", path, exc)
            found = None
        finally:
            container.close()
        if found is not None:
            return found
    return None


def _first_key(container: Any, start_us: int, lo_us: int, hi_us: int, width: int) -> bytes | None:
    video = next((s for s in container.streams if s.type == "video"), None)
    if video is None or video.codec_context is None:
        return None
    video.codec_context.thread_count = 1   # one core at most, and little of it
    tb = video.time_base
    if lo_us - start_us > SEEK_BEFORE_US:
        container.seek(int((lo_us - start_us - SEEK_BEFORE_US) / 1e6 / tb), stream=video, backward=True,
                       any_frame=False)
    for pkt in container.demux(video):
        t = pkt.pts if pkt.pts is not None else pkt.dts
        if t is None or not pkt.size:
            continue
        wall = start_us + int(t * tb * 1_000_000)
        if wall >= hi_us:
            return None
        if not pkt.is_keyframe or wall < lo_us:
            continue
        frames = list(video.codec_context.decode(pkt)) + list(video.codec_context.decode(None))
        return jpeg(frames[0], width) if frames else None
    return None


def jpeg(frame: av.VideoFrame, width: int) -> bytes:
    """A frame scaled to `width` (its shape kept, even sizes) as JPEG bytes."""
    width = max(16, min(width, frame.width)) // 2 * 2
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    small.pts = 0
    enc = av.CodecContext.create("mjpeg", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuvj420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"q:v": "5"}
    return b"".join(bytes(p) for p in [*enc.encode(small), *enc.encode(None)])
