"""Only whole pictures reach the muxer, on both readers (issue 79, design/0319).

A datagram lost mid-stream over UDP (libavformat's path: VLC-like cameras that refuse TCP) leaves
a picture without one of its RTP packets (a piece of a fragmented slice, or a slice). libavformat
hands such a picture on as if it were whole: no flag marks it (`corrupt` stays False) and its
word of the loss ("RTP: missed N packets") goes to its process-wide log only. Written, the
segment fails `ffmpeg -xerror`, and so do the pictures after it up to the next keyframe (they
refer to it). So on FFmpeg's reader over UDP each picture is decoded once as it is handed on
(one decoder per connection, one thread, `err_detect=explode`, as `ffmpeg -xerror` decodes): one
that does not decode is not written, nor are the pictures after it up to the next keyframe that
decodes; the episode is logged once and its pictures counted (`pictures_lost` in the camera's
stats). Over TCP nothing is lost in transit and nothing is decoded here.

The edged reader drops such a picture itself (a sequence gap drops the access unit it hit and
those up to the next keyframe: recorder/rtp.py); its count is added at each turn's end.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from recorder.access_unit import access_units
from recorder.edged_source import LOST, EdgedSource
from recorder.picture_size import MAX_PIXELS
from recorder.source import UDP
from storage.process import logs
from storage.lazy import lazy_import

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")

log = logging.getLogger("recorder.camera")
CHECKED: tuple[str, ...] = (UDP,)  # the transports whose pictures are decoded before they are written (lost datagrams)


def pictures(packets: Iterable[Any], source: Any, video: Any, camera: str, counters: dict[str, int],
             transport: str) -> Iterator[Any]:
    """The run's packets as the muxer may take them: each picture in one packet (FFmpeg's reader,
    recorder/access_unit.py) and whole (decoded once over UDP); the edged reader's as they come."""
    if isinstance(source, EdgedSource):
        source.counted = (counters, counters[LOST])
        return iter(packets)
    ctx = video.codec_context
    units = access_units(packets, video.index, ctx.name, ctx.extradata, camera)
    return whole_only(units, video.index, ctx.name, ctx.extradata, camera, counters) if transport in CHECKED else units


class Decoder:
    """One connection's decoder, as `ffmpeg -xerror` decodes: `whole(pkt)` is False when the
    picture does not decode without an error."""

    def __init__(self, codec: str, extradata: bytes | None):
        self.ctx: Any = av.CodecContext.create(codec, "r")
        self.ctx.thread_count = 1
        self.ctx.options = {"err_detect": "explode", "max_pixels": str(MAX_PIXELS)}
        if extradata:
            self.ctx.extradata = extradata

    def whole(self, pkt: Any) -> bool:
        try:
            self.ctx.decode(av.Packet(bytes(pkt)))
        except av.error.FFmpegError:
            return False
        return True

    def restart(self) -> None:
        """Forget the broken picture's references: the next keyframe is decoded afresh."""
        self.ctx.flush_buffers()


def whole_only(units: Iterable[Any], video_index: int, codec: str, extradata: bytes | None, camera: str,
               counters: dict[str, int]) -> Iterator[Any]:
    """`units` (one packet a picture) without the pictures that do not decode whole and those after
    each up to the next keyframe that does (not decoded meanwhile); other streams pass through."""
    if codec not in ("h264", "hevc"):
        yield from units
        return
    decoder = Decoder(codec, extradata)
    broken = 0  # pictures left out in the episode under way (0: none)
    for pkt in units:
        if pkt.stream.index != video_index or not pkt.size:
            yield pkt
            continue
        if broken and not pkt.is_keyframe:
            broken += 1
            counters[LOST] += 1
            continue
        if decoder.whole(pkt):
            if broken:
                log.info("camera %s: whole pictures again at a keyframe, after %d not recorded", camera, broken,
                         **logs.fields(camera=camera))
            broken = 0
            yield pkt
            continue
        if not broken:  # the episode's one warning
            log.warning("camera %s: a picture arrived incomplete (an RTP datagram lost): it and the pictures "
                        "after it up to the next keyframe are not recorded", camera, **logs.fields(camera=camera))
        broken += 1
        counters[LOST] += 1
        decoder.restart()
