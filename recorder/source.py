"""A camera's stream as the recording thread opens it, and the checks that end a run."""

from __future__ import annotations

import os
import random
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from recorder import diagnose
from recorder.synthetic import SyntheticCamera, parse_synthetic_url
from storage.disk.layout import VIDEO_DIR
from storage.lazy import lazy_import

if TYPE_CHECKING:
    import av
    from av.container import InputContainer
else:
    av = lazy_import("av")  # the daemon imports this module (backoff_us); PyAV loads with a camera's reader (design/0286)


# FFmpeg's stream probe reads on until every stream's codec parameters are known, and then,
# by default, until it has seen 20 frames to estimate the frame rate: a second of live video
# at 20 fps, decoded, for every camera at once after a restart (design/0056). The rate is
# taken from the stream description (the SPS timing or the SDP's framerate) instead; a
# camera whose description names none is opened again with the full probe.
QUICK_PROBE = {"fpsprobesize": "0"}
# The first connection of a camera thread (a restart: every camera at once, on a loaded box)
# waits this many times the configured connect timeout, up to FIRST_CONNECT_MAX_US (never
# less than configured), so a slow answer is not turned into a reconnect.
FIRST_CONNECT_FACTOR = 2
FIRST_CONNECT_MAX_US = 10_000_000
# RTP over UDP (design/0060): a datagram that finds the socket's receive buffer full is lost,
# and FFmpeg's default buffer holds well under a second of a 4 Mbit/s camera's keyframe burst.
# Asked for 2 MiB; the kernel grants at most net.core.rmem_max.
UDP_BUFFER_BYTES = 2 * 1024 * 1024
TCP, UDP = "tcp", "udp"


def connect_timeout_us(settings: Any, first: bool) -> int:
    configured: int = settings.connect_timeout_us
    if not first:
        return configured
    return max(configured, min(configured * FIRST_CONNECT_FACTOR, FIRST_CONNECT_MAX_US))


class CodecView(Protocol):
    """What is read of a connection's video codec: PyAV's context, or the edged reader's copy of
    its name, extradata and picture size (recorder/edged_source.py `_Codec`)."""

    @property
    def name(self) -> str: ...
    @property
    def extradata(self) -> bytes | None: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


class VideoIn(Protocol):
    """What the camera thread, the image checks and the motion gate read of a connection's video
    stream: PyAV's VideoStream, or the edged reader's stand-in for it (recorder/edged_source.py)."""

    @property
    def index(self) -> int: ...
    @property
    def time_base(self) -> Fraction | None: ...
    @property
    def average_rate(self) -> Fraction | None: ...
    @property
    def guessed_rate(self) -> Fraction | None: ...
    @property
    def codec_context(self) -> CodecView: ...


class Source:
    """An opened camera: an input container, plus the synthetic encoder when there is one."""

    def __init__(self, url: str, settings: Any, first: bool = False, transport: str = TCP):
        self._synthetic = None
        if url.startswith("synthetic:"):
            self._synthetic = SyntheticCamera(parse_synthetic_url(url))
            self.container = av.open(self._synthetic.reader, "r", format="mpegts",
                                     options={"probesize": "65536", "analyzeduration": "500000"})
            return
        connect_us = connect_timeout_us(settings, first)
        self.container = _open_rtsp(url, settings, connect_us, QUICK_PROBE, transport)
        if not _rate_known(self.container):
            self.container.close()
            self.container = _open_rtsp(url, settings, connect_us, {}, transport)

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            if self._synthetic is not None:
                self._synthetic.close()


def _open_rtsp(url: str, settings: Any, connect_us: int, probe: dict[str, str],
               transport: str = TCP) -> InputContainer:
    # FFmpeg's `timeout` is its socket timeout (the answers while connecting too); PyAV's read
    # timeout still ends a stalled run after read_timeout.
    socket_us = settings.read_timeout_us if connect_us == settings.connect_timeout_us else \
        max(connect_us, settings.read_timeout_us)
    media = {"rtsp_transport": UDP, "buffer_size": str(UDP_BUFFER_BYTES)} if transport == UDP else \
        {"rtsp_transport": TCP}
    return av.open(url, options={**media, "timeout": str(socket_us), **probe},
                   timeout=(connect_us / 1e6, settings.read_timeout_us / 1e6))


def _rate_known(container: InputContainer) -> bool:
    """The remux takes a frame's duration from the video's frame rate (recorder/camera.py)."""
    video = container.streams.video
    return not video or bool(video[0].average_rate)


class Disconnected(Exception):
    """A run ended (or never began) for a reason the camera's state shows; `kind` is one of
    recorder.diagnose's kinds."""

    def __init__(self, message: str, kind: str = diagnose.OTHER):
        super().__init__(message)
        self.kind = kind


class StorageGate:
    """Refuses a new segment file unless the video folder is on the device edged started with:
    an unmounted disk leaves the root filesystem's folder under its mount point (design/0023).
    The daemon notices within seconds and stops the cameras; this closes the window before."""

    def __init__(self, data_dir: Path, video_dev: int | None):
        self.video = data_dir / VIDEO_DIR
        self.video_dev = video_dev

    def check(self) -> None:
        if self.video_dev is None:
            return
        try:
            dev = os.stat(self.video).st_dev
        except OSError as exc:
            raise Disconnected(f"not recording: the video folder is not there ({exc.strerror})",
                               diagnose.STORAGE) from None
        if dev != self.video_dev:
            raise Disconnected("not recording: the video folder is no longer on the disk edged started with",
                               diagnose.STORAGE)


def backoff_us(attempt: int, cap_us: int, rng: random.Random) -> int:
    """0.25 s doubling to the cap, with +-20 % jitter so cameras don't retry in lockstep."""
    base = min(cap_us, 250_000 * (2 ** min(attempt, 16)))
    return int(base * rng.uniform(0.8, 1.2))
