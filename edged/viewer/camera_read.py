"""A camera read for the live view, in the media worker process (edged/viewer/media_worker.py).

The camera is opened as the recorder opens it (RTSP over TCP, its connect and read timeouts),
without the recorder's probing; its H.264 packets are made ready to relay (parameter sets in
front of key frames, the first key frame given a timestamp), or another codec's picture is
transcoded (edged/viewer/transcode.py). Nothing here runs in the daemon (design/0013, 0020).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import av

from recorder.camera import Settings
from recorder.source import Source


def has_parameter_sets(data: bytes) -> bool:
    """Does an Annex-B access unit carry its SPS (NAL type 7)? A decoder cannot start without it."""
    i = 0
    while True:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= len(data):
            return False
        if data[i + 3] & 0x1F == 7:
            return True
        i += 3


def packets_of(src: Source | _Opened, video: Any, quit_: threading.Event, audio: Any = None,
               on_audio: Callable[[av.Packet[Any]], None] | None = None) -> Iterator[av.Packet[Any]]:
    """The camera's video packets, ready to relay (in the media worker process): parameter sets
    in front of key frames that lack them, the first key frame given a timestamp. With `audio`
    (a stream), its packets go to `on_audio` as they come (design/0087)."""
    extradata = video.codec_context.extradata or b""  # RTSP: the SDP's SPS/PPS, Annex-B
    step = int(1 / (video.guessed_rate or 25) / video.time_base) if video.time_base else 3600
    held: av.Packet[Any] | None = None
    for pkt in src.container.demux(*((video, audio) if audio is not None else (video,))):
        if quit_.is_set():
            return
        if pkt.size == 0:
            continue
        if audio is not None and pkt.stream is audio:
            if on_audio is not None:
                on_audio(pkt)
            continue
        if pkt.is_keyframe and extradata and not has_parameter_sets(bytes(pkt)):
            pkt = _with_prefix(pkt, extradata)  # cameras that send SPS/PPS only in the SDP
        if pkt.pts is None:
            if held is None and pkt.is_keyframe:
                held = pkt  # a connection's first key frame (IDR) has no PTS/DTS
            continue
        if held is not None:
            held.pts = held.dts = pkt.pts - step
            held.time_base = pkt.time_base
            yield held
            held = None
        yield pkt


class _Opened:
    """An RTSP camera opened for viewing (the recorder's Source opens the synthetic demo camera)."""

    def __init__(self, container: av.container.InputContainer):
        self.container = container

    def close(self) -> None:
        self.container.close()


def open_camera(url: str, settings: Settings) -> Source | _Opened:
    """Open the camera as the recorder does (RTSP over TCP, same timeouts), but without probing:
    the SDP already names H.264 and its parameter sets, and FFmpeg's default probing of a live
    stream costs about 1.4 s of the viewer's wait for nothing (design/0013)."""
    if url.startswith("synthetic:"):
        return Source(url, settings)
    return _Opened(av.open(url, options={"rtsp_transport": "tcp", "timeout": str(settings.read_timeout_us),
                                         "analyzeduration": "0", "probesize": "32"},
                           timeout=(settings.connect_timeout_us / 1e6, settings.read_timeout_us / 1e6)))


def _with_prefix(pkt: av.Packet[Any], prefix: bytes) -> av.Packet[Any]:
    out = av.Packet(prefix + bytes(pkt))
    out.pts, out.dts, out.time_base = pkt.pts, pkt.dts, pkt.time_base
    out.is_keyframe = True
    return out


def transcoded(src: Any, video: Any, recode: Any, quit_: threading.Event, audio: Any = None,
               on_audio: Callable[[av.Packet[Any]], None] | None = None) -> Iterator[Any]:
    """The camera's picture as H.264 packets, transcoded (in the media worker process); with
    `audio`, its packets go to `on_audio`."""
    for raw in src.container.demux(*((video, audio) if audio is not None else (video,))):
        if quit_.is_set():
            return
        if not raw.size:
            continue
        if audio is not None and raw.stream is audio:
            if on_audio is not None:
                on_audio(raw)
            continue
        yield from recode.feed(raw)


AUDIO_CODECS = ("aac", "pcm_alaw", "pcm_mulaw", "pcm_s16be")  # what cameras send and segments keep (design/0087, 0094)


class ToPcm:
    """A camera's (or a segment's) AAC, G.711 or L16 decoded to 16-bit mono PCM at its own rate (in the media worker
    process): the daemon wraps it in audio frames that aiortc encodes to Opus."""

    def __init__(self, audio: Any):
        self.audio = audio
        self.rate = int(audio.codec_context.sample_rate or 8000)
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=self.rate)

    def feed(self, pkt: av.Packet[Any]) -> Iterator[bytes]:
        for frame in self.audio.codec_context.decode(pkt):
            for out in self._resampler.resample(frame):
                yield out.to_ndarray().tobytes()


def sound_of(container: Any) -> Any:
    """The camera's (or segment's) audio stream the viewer can play (AAC, G.711, L16), or None."""
    return next((s for s in container.streams if s.type == "audio" and s.codec_context is not None
                 and s.codec_context.name in AUDIO_CODECS), None)
