"""One picture, one packet: the packets FFmpeg's RTSP demuxer returns for one access unit are
joined before they are written (design/0060).

A camera that sends a keyframe as several slices, each after its own SPS/PPS (x264's sliced
threads, many hardware encoders), comes out of the RTP depacketiser as one packet per slice,
all with the same RTP timestamp. Written as they come, each becomes a frame of its own: the
MP4 holds two half-pictures one tick apart (`corrupt decoded frame` under `ffmpeg -xerror`, and
more frames a second than the camera sends). The rule is the RTP one: packets with one
timestamp are one picture, when the codec agrees: the later packet's first slice does not
start a picture (H.264 first_mb_in_slice != 0, H.265 first_slice_segment_in_pic_flag 0), so a
camera that stamps two whole pictures alike is not glued into one. The first packet of a
connection has no timestamp yet: the next one continues it on the codec's word alone.

Per packet this costs one comparison; the copy is paid once per split picture. The last picture of
a stream is checked by decoding its GOP once, at the end (issue 79).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from recorder.picture_size import MAX_PIXELS
from storage.lazy import lazy_import

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")  # on first use: the pool's spare worker is idle without PyAV (design/0291)

_H264_VCL = (1, 5)  # NAL unit types of a coded slice (non-IDR, IDR)


def continues_picture(data: bytes, codec: str) -> bool:
    """True when the first coded slice in this Annex B data does not start a picture. H.264:
    first_mb_in_slice (ue(v), the first field after the 1-byte NAL header) is not 0, that is
    its first bit is 0. H.265: first_slice_segment_in_pic_flag (the first bit after the 2-byte
    header) is 0. False when there is no slice in it, or for another codec."""
    hevc = codec == "hevc"
    if not hevc and codec != "h264":
        return False
    at = 0
    while True:
        at = data.find(b"\x00\x00\x01", at)
        if at < 0 or at + 5 >= len(data):
            return False
        if hevc:
            if (data[at + 3] >> 1) & 0x3F < 32:
                return not data[at + 5] & 0x80
        elif data[at + 3] & 0x1F in _H264_VCL:
            return not data[at + 4] & 0x80
        at += 3


# An H.265 picture's kind: its first slice's NAL unit type (storage/hevc names those design/0442 and 0543 watch for)
_SCAN = 1 << 16  # bytes searched for the first slice (an AUD, parameter sets, SEI: x265 repeats a 2.3 kB one)


def hevc_picture_kind(data: Any) -> int | None:
    """The NAL unit type of the first coded slice in these Annex B bytes (an H.265 picture),
    searched within its first bytes; None when there is none there."""
    head = bytes(memoryview(data)[:_SCAN])
    at = 0
    while True:
        at = head.find(b"\x00\x00\x01", at)
        if at < 0 or at + 3 >= len(head):
            return None
        kind = (head[at + 3] >> 1) & 0x3F
        if kind < 32:
            return kind
        at += 3


def repacked(data: bytes, like: Any, key: bool) -> Any:
    """A packet of these bytes with `like`'s stream and times (a keyframe if `key`)."""
    made = av.Packet(data)
    made.stream, made.time_base = like.stream, like.time_base
    made.pts, made.dts, made.duration = like.pts, like.dts, like.duration
    made.is_keyframe = key
    return made


def join(first: Any, second: Any) -> Any:
    """One packet holding both, with the first's timing and stream; a keyframe if either is."""
    both = repacked(bytes(first) + bytes(second), first, first.is_keyframe or second.is_keyframe)
    if first.pts is None and first.dts is None:  # the connection's first packet: take the next one's
        both.pts, both.dts = second.pts, second.dts
    return both


# The last picture of a stream that ended (the camera died mid-picture, a datagram of it lost) is
# handed on only when it decodes whole (issue 79, design/0336): the pictures since the last keyframe
# are kept (references, no copy) so that it can be decoded once, at the end. Over this many the
# last picture is not checked and not handed on (one picture of a connection's end).
GOP_KEPT = 300
log = logging.getLogger(__name__)


def whole(gop: list[Any], last: Any, codec: str, extradata: bytes | None) -> bool:
    """Whether `last` decodes without an error after the pictures of its GOP (`gop`, from its
    keyframe), as `ffmpeg -xerror` decodes it: one decoder, one thread, errors raised."""
    ctx: Any = av.CodecContext.create(codec, "r")  # a video decoder's (its decode is not on CodecContext's type)
    ctx.thread_count = 1
    ctx.options = {"err_detect": "explode", "max_pixels": str(MAX_PIXELS)}  # no absurd size allocated
    if extradata:
        ctx.extradata = extradata
    for pkt in gop:
        try:
            ctx.decode(av.Packet(bytes(pkt)))
        except av.error.FFmpegError:
            pass  # written already; what follows may still decode
    try:
        ctx.decode(av.Packet(bytes(last)))
        ctx.decode(None)
    except av.error.FFmpegError:
        return False
    return True


def access_units(packets: Iterable[Any], video_index: int, codec: str, extradata: bytes | None = None,
                 camera: str = "") -> Iterator[Any]:
    """The demuxer's packets, each video access unit in one packet. A video packet is held back
    until the next video packet shows whether it continues it (one frame of delay); other
    streams pass straight through. At the stream's end the held one is handed on only if it
    decodes whole (`whole`: a camera that died mid-picture)."""
    pending = None
    gop: list[Any] = []  # the pictures handed on since the last keyframe
    kept = True          # ... all of them
    for pkt in packets:
        if pkt.stream.index != video_index or not pkt.size:
            if not pkt.size and pending is not None:  # the end of the stream: the held one first, if whole
                if _ends_whole(gop if kept else None, pending, codec, extradata, camera):
                    yield pending
                pending = None
            yield pkt
            continue
        if pending is not None:
            dts = pkt.dts
            if (dts == pending.dts or (dts is not None and pending.dts is None and pending.pts is None)) \
                    and continues_picture(bytes(pkt), codec):
                pending = join(pending, pkt)
                continue
            yield pending
            if pending.is_keyframe:
                gop, kept = [pending], True
            elif len(gop) < GOP_KEPT:
                gop.append(pending)
            else:
                kept = False
        pending = pkt
    if pending is not None and _ends_whole(gop if kept else None, pending, codec, extradata, camera):
        yield pending


def _ends_whole(gop: list[Any] | None, last: Any, codec: str, extradata: bytes | None, camera: str) -> bool:
    """The stream's last picture is whole (`gop` None: its GOP was too long to keep: not known)."""
    if last.is_keyframe:
        gop = []
    ok = gop is not None and whole(gop, last, codec, extradata)
    if not ok:
        log.info("camera %s: the last picture before the stream ended %s: not recorded", camera,
                 "did not decode whole (cut short)" if gop is not None else "could not be checked (a GOP over "
                 f"{GOP_KEPT} pictures)")
    return ok
