"""What a recorder worker tells the daemon: one small frozen dataclass per fact.

The worker's stdout carries them as JSON lines, `{"ev": <tag>, <field>: <value>, ...}`
(`encode`, `decode`). The camera threads, the hasher and the image pool make them; the
daemon (edged/daemon/) reads them. A segment is opened in one event
(`Opened`) and closed in one event (`Closed`) that carries its sha256 or says why it has none
(design/0039).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, TypedDict


@dataclass(frozen=True, slots=True)
class Event:
    tag: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class State(Event):
    """A camera's recorder state changed (connecting, recording, offline, stopped), with why
    (kept across retries), its reconnect count and the wall time of its last frame."""

    tag: ClassVar[str] = "state"
    camera: str
    state: str
    error: str | None
    kind: str | None          # recorder/diagnose.py's kind of failure
    reconnects: int
    last_frame_us: int | None
    at: int


@dataclass(frozen=True, slots=True)
class Opened(Event):
    """A segment file was created; its first frame is at `start_us` (wall)."""

    tag: ClassVar[str] = "open"
    camera: str
    path: str                 # relative to the data folder
    start_us: int
    at: int
    basis_us: int | None = None  # the host clock its stamps are on (recorder/timeline.RunClock.basis)


@dataclass(frozen=True, slots=True)
class Closed(Event):
    """A segment ended (at `end_us`, for `reason`), was closed, fsynced and hashed.

    `sha256` is None when the close or the hash failed: the file is not proven complete, its
    row stays `writing` and the next start's reconciliation recovers it. Either way the
    camera's timeline moved on: the next gap is measured from `end_us`."""

    tag: ClassVar[str] = "closed"
    camera: str
    path: str
    end_us: int
    reason: str               # boundary, disconnect, camera stopped, host clock step, timestamp jump, close failed
    sha256: str | None
    closed_us: int
    bytes: int | None = None
    frames: int | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    audio: int | None = None
    retimed: int | None = None  # pictures the recorder re-timed (design/0093)

    @property
    def complete(self) -> bool:
        return self.sha256 is not None

    def catalog_fields(self) -> dict[str, Any]:
        """What the catalog's segment row takes at close (storage/catalog.py: close_segment)."""
        return {"end_us": self.end_us, "bytes": self.bytes, "frames": self.frames, "codec": self.codec,
                "width": self.width, "height": self.height, "audio": self.audio, "sha256": self.sha256,
                "closed_us": self.closed_us, "retimed": self.retimed}


class SegmentMeta(TypedDict):
    """What a closed segment's row says of its pictures and sound (Closing's fields)."""
    codec: str
    width: int
    height: int
    audio: int
    retimed: int


@dataclass(frozen=True, slots=True)
class Closing:
    """Not an event: a segment a camera thread has closed (trailer written, fsynced), handed to
    the worker's hasher, which reports it `Closed` or `Stranded`. Without `file_id` the close
    failed and there is nothing to hash. `sha256` is the digest of the bytes as they were
    written (design/0053); None: the hasher reads the file back."""

    camera: str
    path: str
    end_us: int
    reason: str
    bytes: int | None = None
    frames: int | None = None
    file_id: tuple[int, int] | None = None   # (st_dev, st_ino) of the file the camera wrote
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    audio: int | None = None
    sha256: str | None = None
    retimed: int | None = None

    def closed(self, sha256: str | None, closed_us: int) -> Closed:
        return Closed(self.camera, self.path, self.end_us, self.reason, sha256, closed_us, self.bytes, self.frames,
                      self.codec, self.width, self.height, self.audio, self.retimed)

    def stranded(self, error: str) -> Stranded:
        return Stranded(self.camera, self.path, self.end_us, self.reason, error)


@dataclass(frozen=True, slots=True)
class Stranded(Event):
    """A segment ended and was closed on a disk that is no longer at the data folder's path:
    it is recovered when that disk is back (design/0023)."""

    tag: ClassVar[str] = "stranded"
    camera: str
    path: str
    end_us: int
    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class Stats(Event):
    """A camera's figures over the last window (recorder/camera.py: _Stats.report)."""

    tag: ClassVar[str] = "stats"
    camera: str
    fps: float
    bitrate: int
    codec: str
    width: int
    height: int
    audio: int
    last_packet_us: int
    lateness_us: int | None
    keyframe_interval: float | None
    clock_skew_us: int | None
    audio_packets: int
    audio_codec: str | None
    reconnects: int
    ts_fixes: int
    ts_jumps: int
    clock_steps: int
    # recorder/audio.py (design/0049): the window's RMS level in dBFS (None: no audio decoded),
    # why the camera's audio is not recorded, and the codec transcoded to AAC
    audio_level_db: float | None = None
    audio_error: str | None = None
    audio_transcoded_from: str | None = None
    transport: str | None = None       # RTSP's media path that worked: "tcp" or "udp" (design/0060)
    reader: str | None = None          # edged, ffmpeg, or "ffmpeg (fallback: why)" (design/0079)
    no_keyframe_s: float | None = None  # seconds without a keyframe, once segments are cut without one
    media_reanchors: int = 0            # runs re-anchored because the media clock drifted (design/0060)
    media_reanchor_s: float | None = None  # the drift at the last one, for 10 minutes after it
    times_made: int = 0  # pictures whose times the recorder made, the camera's being broken (design/0150)
    times_broken: bool = False  # ... as it does on this connection: the camera's health says so
    pictures_lost: int = 0  # pictures not recorded, incomplete (a datagram lost) or after one (design/0319)


@dataclass(frozen=True, slots=True)
class Image(Event):
    """One keyframe sampled and measured (recorder/imagecheck.py)."""

    tag: ClassVar[str] = "image"
    camera: str
    at: int
    metrics: dict[str, Any]
    thumb: str | None
    decode_ms: float
    skipped: int = 0
    interval_us: int = 0  # the sample interval in force (recorder/sample_budget.py, design/0078); 0: not said
    # likeness to the camera's reference picture, and that reference's `set_us` (None: the worker has none)
    similarity: float | None = None
    reference_at: int | None = None


@dataclass(frozen=True, slots=True)
class Motion(Event):
    """A motion event of a camera in `motion` mode started or ended (design/0038, 0045).
    `peak`: the moving share of the picture that confirmed it (start), the largest (end)."""

    tag: ClassVar[str] = "motion"
    camera: str
    phase: str                # start | end
    start_us: int             # the first moving picture (host clock)
    peak: float
    at: int
    end_us: int | None = None           # end: the last moving picture
    record_until_us: int | None = None  # end: footage is kept until here (post-roll)
    frames: int | None = None           # end: moving pictures seen
    thumb: str | None = None            # end: a small JPEG of the most moving picture, base64


@dataclass(frozen=True, slots=True)
class Detection(Event):
    """A `motion` camera's detection stream was lost (`up` False: it records continuously
    meanwhile) or is back."""

    tag: ClassVar[str] = "detection"
    camera: str
    up: bool
    error: str | None
    at: int


@dataclass(frozen=True, slots=True)
class Oversize(Event):
    """A camera's stream declares a picture no camera sends (recorder/picture_size.py): the
    image checks (`where`) do not decode it (design/0063). Once per connection."""

    tag: ClassVar[str] = "oversize"
    camera: str
    width: int
    height: int
    where: str
    at: int


@dataclass(frozen=True, slots=True)
class Bye(Event):
    """The worker closed every segment and ends."""

    tag: ClassVar[str] = "bye"


@dataclass(frozen=True, slots=True)
class Holding(Event):
    """A camera added to hold (the next daemon's, design/0353) has a keyframe held from `key_us`
    (wall) on: it can take over from the camera's previous recorder."""

    tag: ClassVar[str] = "holding"
    camera: str
    key_us: int


@dataclass(frozen=True, slots=True)
class Handed(Event):
    """A camera told to give itself over (design/0353) closed its segment before the keyframe
    at `end_us` (wall) and stopped: its next recorder writes from that keyframe on. None: it had no
    segment open when its time to give ran out, so there is no keyframe to meet."""

    tag: ClassVar[str] = "handed"
    camera: str
    end_us: int | None
    at: int


Emit = Callable[[Event], None]
KINDS: dict[str, type[Event]] = {cls.tag: cls for cls in (State, Opened, Closed, Stranded, Stats, Image, Motion,
                                                            Detection, Oversize, Bye, Holding, Handed)}
PERIODIC = (Stats, Image)  # the next one replaces a lost one


def to_dict(event: Event) -> dict[str, Any]:
    return {"ev": event.tag, **{f.name: getattr(event, f.name) for f in dataclasses.fields(event)}}


def encode(event: Event) -> str:
    return json.dumps(to_dict(event)) + "\n"


def decode(line: bytes | str) -> Event:
    """One line from a worker; ValueError if it is not an event this version knows."""
    try:
        raw = json.loads(line)
        return KINDS[raw.pop("ev")](**raw)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"not a recorder event: {exc}") from None
