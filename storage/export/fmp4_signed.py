"""A signing camera's samples in a fragmented MP4, for the export's fragment copy (design/0135):
whether a segment's camera signs its stream, where its certificate (golden) SEI is, and how far a
clip's video runs past the requested end for its last GOP's signature (signed_video.Tail).
Buffers in, plain answers out: the caller maps and hash-checks the segment first.
"""

from __future__ import annotations

from typing import Any, cast

from storage.export import fmp4, signed_video

SIGNING_LOOK = 400  # video samples of a part's first segment searched for a camera's signature SEI


def signs(buf: Any, header: fmp4.Header) -> bool:
    """Whether the camera signs its stream: a signature SEI among the segment's first samples."""
    video = cast(fmp4.Track, header.track(b"vide"))
    hevc, size, seen = video.codec == "hevc", signed_video.nal_length_size(video.description), 0
    with memoryview(buf) as view:
        for runs in fmp4.fragments(buf, header):
            for run in (r for r in runs if r.track_id == video.track_id):
                for at, n in zip(run.offsets, run.sizes):
                    if signed_video.SIGNATURE in signed_video.kinds_in(view[at:at + n], hevc, size):
                        return True
                    seen += 1
                    if seen >= SIGNING_LOOK:
                        return False
    return False


def key_seis(buf: Any, header: fmp4.Header, base_us: int, before_us: int | None) -> tuple[list[bytes], bool]:
    """The certificate (golden) SEI units of the newest video sample before `before_us` (any, if
    None) that has one, and whether the sample at `before_us` (the clip's first) has one itself."""
    video = cast(fmp4.Track, header.track(b"vide"))
    hevc, size, at_origin = video.codec == "hevc", signed_video.nal_length_size(video.description), False
    found: list[bytes] = []
    with memoryview(buf) as view:
        for runs in fmp4.fragments(buf, header):
            for run in (r for r in runs if r.track_id == video.track_id):
                dts = run.base_dts
                for at, n, dur in zip(run.offsets, run.sizes, run.durations):
                    wall = base_us + dts * 1_000_000 // video.timescale
                    dts += dur
                    if before_us is not None and wall > before_us:
                        return found, at_origin
                    nals = signed_video.key_nals(view[at:at + n], hevc, size)
                    if nals and wall == before_us:
                        at_origin = True
                    elif nals:
                        found = nals
    return found, at_origin


def extend(buf: Any, run: fmp4.Run, base_us: int, video: fmp4.Track, tail: signed_video.Tail, last: int) -> int:
    """Where a signing camera's video run ends in the clip: past `last` (its first sample at or
    after to_us) while the tail rule takes each sample."""
    timescale = video.timescale
    hevc, size = video.codec == "hevc", signed_video.nal_length_size(video.description)
    dts = run.base_dts + sum(run.durations[:last])
    with memoryview(buf) as view:
        for i in range(last, len(run.durations)):
            at, n = run.offsets[i], run.sizes[i]
            frame = signed_video.Frame(base_us + dts * 1_000_000 // timescale, not run.flags[i] & fmp4.NON_SYNC,
                                       signed_video.SIGNATURE in signed_video.kinds_in(view[at:at + n], hevc, size))
            if not tail.take(frame):
                return i
            dts += run.durations[i]
    return len(run.durations)
