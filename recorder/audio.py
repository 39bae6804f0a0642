"""A camera's sound as the recorder keeps it: as the camera sent it, byte for byte, where the
segment file can hold it (design/0094); else transcoded to AAC (design/0049).

- **AAC, G.711 (PCMA/PCMU) and L16** are stored as they come: the camera's packets are
  remuxed, never re-encoded (storage/mp4.py `SOUND_AS_SENT` says which muxer holds each).
  They are decoded here only to measure their level.
- **Any other audio FFmpeg decodes** (G.726, G.722, ...: no sample entry that players read) is
  transcoded to AAC: decoded and resampled here (float, the source's rate when AAC has it, at
  most stereo) on the camera's thread, encoded by the segment file that records it
  (recorder/segment.py, one AAC encoder per segment, flushed at its close: design/0049).
- **Audio that cannot be recorded** (a codec FFmpeg does not know, a decoder that fails) is
  said once per camera and reason in the log, and in every stats report (`audio_error`), so the
  health monitor can show why a camera records no sound; the video is recorded as ever.

Timestamps of transcoded sound: a frame's time is the time of its first sample on the camera's
media clock (the input packet's, at the output rate), so the sound keeps its place against the
picture as sound stored as sent does. The resampler runs on a continuous sample count; where
the camera's audio skips ahead (lost packets, a stretch the camera does not send), the count is
mapped across the hole: later frames carry the camera's later times, and nothing is invented.

Level: every decoded frame (sound stored as sent included: decoding G.711 or 16 kHz AAC costs
a few hundredths of a percent of a core) feeds a Meter, the RMS level in dBFS over the stats
window (`audio_level_db`), on which the health monitor's `audio_silent` alarm stands
(edged/rules/health.py). The decoded samples go nowhere else.
"""

from __future__ import annotations

import logging
import math
import threading
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from storage.process import logs
from storage.lazy import lazy_import
from storage.mp4 import SOUND_AS_SENT

if TYPE_CHECKING:
    import av
    import numpy as np
else:
    av = lazy_import("av")  # on first use: the pool's spare worker is idle without PyAV (design/0291)
    np = lazy_import("numpy")  # on the first decoded audio, not at the worker's start (design/0025)

log = logging.getLogger(__name__)

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
SILENCE_DB = -120.0       # the level reported for digital silence (no finite log of zero)
AAC_FRAME = 1024          # samples per AAC frame
HOLE_S = 0.1              # audio that skips ahead by more than this is a hole, mapped across
MAX_FAILURES = 50         # consecutive undecodable packets before the run gives up on audio
_told: set[tuple[str, str]] = set()  # (camera, message) already logged by this worker process
_told_lock = threading.Lock()


def _tell(level: int, camera: str, message: str) -> None:
    """Log once per camera and message in this process: a camera reconnects every few seconds
    when it is down, and each connection would say the same."""
    with _told_lock:
        if (camera, message) in _told:
            return
        _told.add((camera, message))
    log.log(level, "camera %s: %s", camera, message, **logs.fields(camera=camera))


def output_rate(rate: int) -> int:
    """The AAC sample rate for a source rate: the same when AAC has it, else the next one up."""
    if rate in AAC_RATES:
        return rate
    return next((r for r in AAC_RATES if r >= rate), AAC_RATES[-1])


def bitrate(rate: int, channels: int) -> int:
    """Speech-grade AAC: 32 kbit/s per channel up to 16 kHz, 64 above (G.711 itself is 64)."""
    return (32_000 if rate <= 16_000 else 64_000) * channels


class Meter:
    """RMS level of decoded audio in dBFS, over the samples seen since the last `take()`."""

    def __init__(self) -> None:
        self._sum = 0.0
        self._n = 0

    def add(self, samples: np.ndarray) -> None:
        """Samples as floats in [-1, 1] (any shape: channels are pooled)."""
        x = samples.ravel()
        if x.size:
            self._sum += float(np.dot(x, x))
            self._n += x.size

    def add_frame(self, frame: av.AudioFrame) -> None:
        self.add(as_float(frame.to_ndarray()))

    def take(self) -> float | None:
        """The window's level (None: no audio decoded in it), and start a new window."""
        if not self._n:
            return None
        mean = self._sum / self._n
        self._sum, self._n = 0.0, 0
        return SILENCE_DB if mean <= 0 else max(SILENCE_DB, round(10 * math.log10(mean), 1))


def as_float(x: np.ndarray) -> np.ndarray:
    """Decoded samples of any FFmpeg sample format as floats in [-1, 1]."""
    if x.dtype.kind == "f":
        return x
    if x.dtype == np.uint8:  # u8 and u8p are offset binary
        return (x.astype(np.float32) - 128.0) / 128.0
    return x.astype(np.float32) / float(1 << (8 * x.dtype.itemsize - 1))


class AudioPath:
    """What becomes of one connection's audio. `inputs`: the camera streams to demux;
    `template`: the segment's audio track, a stream to copy (sound stored as sent) or an
    AacSpec to encode (None: no audio is recorded); `feed(pkt)`: what to hand the segment for
    one camera packet, the packet itself, or frames for the segment's encoder (Transcoder)."""

    def __init__(self, camera: str, stream: Any = None, error: str | None = None):
        self.camera = camera
        self.stream = stream
        self.source = None if stream is None or stream.codec_context is None else stream.codec_context.name
        self.inputs = [] if stream is None else [stream]
        self.template = stream if error is None else None
        self.error = error
        self.meter = Meter()
        self._failures = 0

    def feed(self, pkt: av.Packet[Any]) -> list[av.Packet[Any] | av.AudioFrame]:
        """The camera's packet passes through as it came; its samples are decoded only for the
        meter (a packet that fails to decode is not metered and is still recorded)."""
        if self.template is None:
            return []
        try:
            for frame in self.stream.codec_context.decode(pkt):
                self.meter.add_frame(frame)
        except (av.FFmpegError, ValueError):
            pass
        return [pkt]

    def report(self) -> dict[str, Any]:
        """The stats report's audio fields for the window just ended."""
        return {"audio_level_db": self.meter.take(), "audio_error": self.error,
                "audio_transcoded_from": None}

    def _give_up(self, why: str) -> None:
        self.error = why
        self.template = None
        self.inputs = []
        _tell(logging.WARNING, self.camera, f"audio not recorded: {why}; recording video only")


@dataclass(frozen=True, slots=True)
class AacSpec:
    """The AAC track a segment encodes transcoded audio into (recorder/segment.py): each
    segment has its own encoder, flushed when the segment closes, so a segment holds all the
    sound received before its cut (an encoder run across segments would still hold the last
    ~1.5 AAC frames when the cut comes, and the next segment cannot take sound from before
    its first picture)."""

    rate: int
    layout: str
    bit_rate: int

    @property
    def time_base(self) -> Fraction:
        return Fraction(1, self.rate)

    def add_to(self, out: Any) -> Any:
        stream = out.add_stream("aac", rate=self.rate, layout=self.layout)
        stream.bit_rate = self.bit_rate
        return stream


class Transcoder(AudioPath):
    """Decode -> resample to float AAC frames, timed on the camera's media clock; the segment
    encodes them (AacSpec). A continuous sample count is mapped to the camera's times."""

    def __init__(self, camera: str, stream: Any):
        super().__init__(camera, stream)
        ctx = stream.codec_context
        self.rate = output_rate(ctx.sample_rate or 8000)
        channels = min(2, max(1, ctx.channels or 1))
        self.layout = "mono" if channels == 1 else "stereo"
        self.tb = Fraction(1, self.rate)
        self.template = AacSpec(self.rate, self.layout, bitrate(self.rate, channels))
        self._resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate, frame_size=AAC_FRAME)
        self._anchor: int | None = None  # media time (output ticks) of sample 0 of the count
        self._fed = 0                    # samples (output rate) handed to the resampler
        self._next: int | None = None    # media time the next decoded frame should start at
        self._marks = [0]                # sample counts where a hole was mapped across ...
        self._shifts = [0]               # ... and the ticks added to media time from there on
        self._queued = 0                 # samples (output rate) out of the resampler so far

    def feed(self, pkt: av.Packet[Any]) -> list[av.Packet[Any] | av.AudioFrame]:  # frames: transcoded
        if self.template is None:
            return []
        try:
            frames = self.stream.codec_context.decode(pkt)
            self._failures = 0
        except (av.FFmpegError, ValueError) as exc:
            self._failures += 1
            if self._failures >= MAX_FAILURES:
                self._give_up(f"the camera's {self.source} audio could not be decoded ({exc})")
            return []
        out: list[av.Packet[Any] | av.AudioFrame] = []
        try:
            for frame in frames:
                out += self._resample(frame)
        except (av.FFmpegError, ValueError) as exc:
            self._give_up(f"the camera's {self.source} audio could not be resampled ({exc})")
            return []
        return out

    def _resample(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        start = None
        if frame.pts is not None and frame.time_base:
            start = round(frame.pts * frame.time_base * self.rate)
        n_out = round(frame.samples * self.rate / (frame.sample_rate or self.rate))
        if self._anchor is None:
            self._anchor = self._next = start if start is not None else 0
        elif start is not None and self._next is not None:
            gap = start - self._next
            if gap > HOLE_S * self.rate:  # the camera's audio skipped ahead: map across the hole
                self._marks.append(self._fed)
                self._shifts.append(self._shifts[-1] + gap)
            elif gap < -HOLE_S * self.rate:  # overlaps what was already taken: drop it
                return []
        self._next = (start if start is not None else self._next or 0) + n_out
        self._fed += n_out
        frame.pts = None  # the resampler counts samples; times are mapped on the way out
        out = self._resampler.resample(frame)
        for f in out:
            self.meter.add(f.to_ndarray())
            shift = self._shifts[bisect_right(self._marks, self._queued) - 1]
            f.pts, f.time_base = self._anchor + self._queued + shift, self.tb
            self._queued += f.samples
        return out

    def report(self) -> dict[str, Any]:
        return {**super().report(), "audio_transcoded_from": self.source if self.template is not None else None}


def select(streams: Any, camera: str) -> AudioPath:
    """The audio path of a new connection: the camera's first stream that a segment stores as
    sent (AAC, G.711, L16), else its first audio stream transcoded, else none (with why, when
    the camera sends audio we cannot use)."""
    streams = list(streams)
    if not streams:
        return AudioPath(camera)
    kept = next((s for s in streams if s.codec_context is not None and s.codec_context.name in SOUND_AS_SENT), None)
    if kept is not None:
        if kept.codec_context.name != "aac":
            _tell(logging.INFO, camera, f"{kept.codec_context.name} audio at {kept.codec_context.sample_rate} Hz "
                                        "is recorded as the camera sends it")
        return AudioPath(camera, kept)
    usable = next((s for s in streams if s.codec_context is not None), None)
    if usable is None:
        path = AudioPath(camera, error="the camera sends audio in a format FFmpeg does not know")
        _tell(logging.WARNING, camera, f"audio not recorded: {path.error}; recording video only")
        return path
    name = usable.codec_context.name
    try:
        path = Transcoder(camera, usable)
    except (av.FFmpegError, ValueError, OSError) as exc:
        path = AudioPath(camera, error=f"the camera's {name} audio cannot be transcoded to AAC ({exc})")
        _tell(logging.WARNING, camera, f"audio not recorded: {path.error}; recording video only")
        return path
    _tell(logging.INFO, camera, f"{name} audio at {usable.codec_context.sample_rate} Hz is recorded as AAC "
                                f"{path.rate} Hz {path.layout} (transcoded: no sample entry holds it as sent)")
    return path
