"""Live view: one read of each camera, relayed to every viewer of it, H.264 passed through.

A camera is opened when its first viewer arrives and closed when its last viewer leaves, so
an unwatched camera costs nothing beyond the recorder's own read. H.264 packets are never
decoded or re-encoded: aiortc's H.264 sender packetizes them as they are (measured: the
encoder's encode is never called). A camera in another codec (H.265) is transcoded to H.264
once per watched camera, in its media worker (edged/viewer/transcode.py, design/0050).

The camera is read by a media worker process (edged/viewer/media_worker.py, reading with
edged/viewer/camera_read.py: a malformed stream must not take the daemon down), fed to the
loop by a dedicated thread, as the recorder reads it (RTSP over TCP with its connect and read
timeouts), without the recorder's probing. aiortc's MediaPlayer does the same read, but opens the camera and joins its thread on the event loop, drops the
first key frame (it has no timestamp), keeps an unbounded queue, and once stopped leaves
MediaRelay waiting forever; design/0013 has the details.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from edged.viewer.frames import WorkerGone, read_frame
from edged.viewer.media_client import Worker, packet, settings_doc
from edged.viewer.transcode import DEFAULT_MAX_HEIGHT
from recorder.camera import Settings
from recorder.diagnose import scrub
from storage.process import logs

if TYPE_CHECKING:
    from edged.config import Config

log = logging.getLogger(__name__)

QUEUE_PACKETS = 120       # ~5 s at 25 fps: the relay drains it at once unless the loop is stalled
QUEUE_SOUND = 150         # 20 ms audio frames (3 s): the oldest is dropped when it is full
FRESH_SOUND = 10          # a first viewer hears from the newest 200 ms, not seconds-old sound


def pcm_frame(rate: int, payload: bytes, samples_before: int) -> av.AudioFrame:
    """16-bit mono PCM from a media worker as an audio frame for aiortc's Opus encoder."""
    import numpy as np

    frame = av.AudioFrame.from_ndarray(np.frombuffer(payload, dtype=np.int16).reshape(1, -1),
                                       format="s16", layout="mono")
    frame.sample_rate = rate
    frame.pts, frame.time_base = samples_before, Fraction(1, rate)
    return frame


def queue_newest(queue: asyncio.Queue[av.AudioFrame | None], frames: list[av.AudioFrame | None]) -> None:
    """The frames queued (None: the end), the oldest dropped while the queue is full: a stalled viewer
    hears the newest sound, never a growing delay (the live view's and playback's sound alike)."""
    for frame in frames:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(frame)


class Pcm20:
    """16-bit mono PCM cut into 20 ms audio frames, the rest carried to the next payload. aiortc
    stamps every Opus packet of one frame with the frame's first timestamp, so a longer frame (an
    AAC camera's 1,024 samples: three packets) had two of its three packets played over by the
    browser, which concealed 70 % of the sound (design/0472). One 20 ms frame is one packet."""

    def __init__(self) -> None:
        self._rate = 0
        self._carry = b""
        self._samples = 0

    def frames(self, rate: int, payload: bytes) -> list[av.AudioFrame]:
        if rate != self._rate:
            self._rate, self._carry = rate, b""
        data = self._carry + payload
        step = 2 * max(1, rate // 50)
        whole = len(data) - len(data) % step
        self._carry = data[whole:]
        out = []
        for at in range(0, whole, step):
            out.append(pcm_frame(rate, data[at:at + step], self._samples))
            self._samples += step // 2
        return out


class SoundTrack(MediaStreamTrack):
    """The camera's sound as PCM audio frames (decoded in the media worker); aiortc encodes them
    to Opus for each viewer (design/0087). Fed by its CameraTrack's reader, ended with it."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.rate: int | None = None  # set when the worker opened the camera with its sound
        self._queue: asyncio.Queue[av.AudioFrame | None] = asyncio.Queue(QUEUE_SOUND)
        self._fresh = True
        self._pcm = Pcm20()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._fresh:
            self._fresh = False
            while self._queue.qsize() > FRESH_SOUND:
                if self._queue.get_nowait() is None:
                    self._queue.put_nowait(None)
                    break
        frame = await self._queue.get()
        if frame is None:
            super().stop()
            raise MediaStreamError
        return frame

    def frames(self, rate: int, payload: bytes) -> list[av.AudioFrame | None]:
        """On the reader thread: 16-bit mono PCM as 20 ms audio frames, timed by their sample count."""
        return [*self._pcm.frames(rate, payload)]

    def put(self, frames: list[av.AudioFrame | None]) -> None:
        """On the loop: the frames (None: the end)."""
        queue_newest(self._queue, frames)


class CameraUnavailable(Exception):
    """The camera could not be read; the message is for a person and holds no password."""


class CameraTrack(MediaStreamTrack):
    """The camera's H.264 packets as an aiortc track (read once, fanned out by MediaRelay)."""

    kind = "video"
    _loop: asyncio.AbstractEventLoop  # also pyee's emitter's (Optional there): the loop the track was made on

    def __init__(self, camera_id: str, url: str, settings: Settings, max_height: int = DEFAULT_MAX_HEIGHT,
                 audio: bool = False):
        super().__init__()
        self.camera_id = camera_id
        self.sound = SoundTrack() if audio else None  # [[cameras]] audio_in_viewer (design/0087)
        self._url = url
        self._settings = settings
        self._max_height = max_height  # a transcoded (non-H.264) picture is scaled to this
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(QUEUE_PACKETS)
        self._quit = threading.Event()
        self._skip_to_key = False
        self._fresh = True  # the first recv starts at the newest key frame, not at stale packets
        self.opened: asyncio.Future[tuple[int, int]] = self._loop.create_future()  # (width, height)
        self.thread = threading.Thread(target=self._read, name=f"view-{camera_id}", daemon=True)
        self._worker: Worker | None = None

    def start(self) -> None:
        self.thread.start()

    @property
    def stopping(self) -> bool:
        return self._quit.is_set() or self.readyState != "live"

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._fresh:
            self._fresh = False
            self._drop_to_newest_key()
        pkt = await self._queue.get()
        if pkt is None:
            super().stop()
            raise MediaStreamError
        return pkt

    def _drop_to_newest_key(self) -> None:
        """The reader ran while the first viewer connected: start that viewer at the newest key
        frame queued, so its first picture shows at once and is not seconds old."""
        queued = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        keys = [i for i, p in enumerate(queued) if p is None or p.is_keyframe]
        for pkt in queued[keys[-1]:] if keys else queued:
            self._queue.put_nowait(pkt)

    def stop(self) -> None:
        """Ask the reader to quit; it ends the track (and every relayed copy) once it has."""
        self._quit.set()
        worker = self._worker
        if worker is not None and worker.proc.poll() is None:
            worker.proc.kill()  # a camera that stalls keeps the worker in a read: do not wait for it

    # the reader thread ------------------------------------------------------------------
    def _read(self) -> None:
        """Read the camera through a media worker process (design/0020): FFmpeg parses the
        stream there, so a malformed one can end this view but never the daemon."""
        try:
            worker = Worker({"op": "live", "camera": self.camera_id, "url": self._url,
                             "settings": settings_doc(self._settings), "max_height": self._max_height,
                             "audio": self.sound is not None})
        except OSError as exc:
            # i18n: made on the reader thread; the journal's
            self._deliver_open(CameraUnavailable(f"camera {self.camera_id}: no media worker ({exc})"))
            self._loop.call_soon_threadsafe(self._put, None)
            return
        self._worker = worker
        try:
            header, _ = read_frame(worker.stdout)
            if "error" in header:
                self._deliver_open(CameraUnavailable(str(header["error"])))
                return
            width, height = header["opened"]
            sound = self.sound if header.get("audio") else None
            if sound is not None:
                sound.rate = int(header["audio"])
            self._deliver_open((int(width), int(height)))
            while not self._quit.is_set():
                h, payload = read_frame(worker.stdout)
                if "pcm" in h:
                    if sound is not None and not len(payload) % 2 and int(h["pcm"]) > 0:
                        self._loop.call_soon_threadsafe(sound.put, sound.frames(int(h["pcm"]), payload))
                    continue
                self._loop.call_soon_threadsafe(self._put, packet(payload, h["pts"], h["dts"], h["tb"], h["key"]))
        except WorkerGone as exc:
            if not self._quit.is_set():
                # i18n: made on the reader thread; the journal's
                self._deliver_open(CameraUnavailable(f"camera {self.camera_id}: the live view's reader ended"))
                log.info("live view of %s ended: %s", self.camera_id, exc, **logs.fields(self.camera_id))
        except Exception as exc:  # noqa: BLE001 - whatever the worker sent, it ends the view, not edged
            log.warning("live view of %s ended: %s", self.camera_id, scrub(str(exc)), **logs.fields(self.camera_id))
        finally:
            worker.close()
            self._loop.call_soon_threadsafe(self._put, None)

    def _deliver_open(self, result: tuple[int, int] | BaseException) -> None:
        def settle() -> None:
            if self.opened.done():
                return
            if isinstance(result, BaseException):
                self.opened.set_exception(result)
            else:
                self.opened.set_result(result)
        self._loop.call_soon_threadsafe(settle)

    def _put(self, pkt: av.Packet[Any] | None) -> None:
        """On the loop. A full queue drops packets up to the next key frame: H.264 after a gap
        decodes to garbage until a key frame, so there is no point sending the rest."""
        if pkt is None:
            while self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
            if self.sound is not None:
                self.sound.put([None])
            return
        if self._skip_to_key and not pkt.is_keyframe:
            return
        self._skip_to_key = False
        if self._queue.full():
            self._skip_to_key = True
            log.warning("live view of %s fell behind; skipping to the next key frame", self.camera_id)
            return
        self._queue.put_nowait(pkt)


@dataclass(eq=False)
class _Feed:
    track: CameraTrack
    relay: MediaRelay = field(default_factory=MediaRelay)
    viewers: int = 0


class LiveFeeds:
    """One CameraTrack per watched camera, shared by its viewers; closed with its last viewer."""

    def __init__(self, settings: Settings, open_timeout_s: float, max_height: int = DEFAULT_MAX_HEIGHT):
        self.settings = settings
        self.open_timeout_s = open_timeout_s
        self.max_height = max_height  # [viewer] transcode_max_height
        self._feeds: dict[str, _Feed] = {}
        self._of: dict[int, _Feed] = {}  # id(viewer's proxy) -> its feed: a replaced feed is released right
        self._threads: list[threading.Thread] = []

    def reads(self) -> dict[str, int]:
        """Camera -> viewers, for the status page and the tests (one read per camera)."""
        return {cam: f.viewers for cam, f in self._feeds.items()}

    async def subscribe(self, camera_id: str, url: str, audio: bool = False) \
            -> tuple[MediaStreamTrack, tuple[int, int], MediaStreamTrack | None]:
        """A relayed copy of the camera's track, its picture size and, with `audio` and a camera
        that sends AAC, G.711 or L16, a relayed copy of its sound; CameraUnavailable if it does not open."""
        feed = self._feeds.get(camera_id)
        # a feed read with the other audio_in_viewer (a reload under way) is left to its viewers
        if feed is None or feed.track.stopping or (feed.track.sound is not None) != audio:
            feed = _Feed(CameraTrack(camera_id, url, self.settings, self.max_height, audio))
            self._feeds[camera_id] = feed
            self._threads = [t for t in self._threads if t.is_alive()] + [feed.track.thread]
            feed.track.start()
        feed.viewers += 1
        try:
            size = await asyncio.wait_for(asyncio.shield(feed.track.opened), self.open_timeout_s)
        except (CameraUnavailable, TimeoutError) as exc:
            self._release(camera_id, feed)
            if isinstance(exc, TimeoutError):
                # i18n: made on the reader thread; the journal's (the next line)
                raise CameraUnavailable(f"camera {camera_id} did not answer within {self.open_timeout_s:.0f} s") \
                    from None
            raise
        except BaseException:
            self._release(camera_id, feed)
            raise
        sound = feed.track.sound
        heard = feed.relay.subscribe(sound, buffered=True) if sound is not None and sound.rate else None
        proxy = feed.relay.subscribe(feed.track, buffered=True)
        self._of[id(proxy)] = feed
        return proxy, size, heard

    def unsubscribe(self, camera_id: str, proxy: MediaStreamTrack, sound: MediaStreamTrack | None = None) -> None:
        proxy.stop()
        if sound is not None:
            sound.stop()
        feed = self._of.pop(id(proxy), None)
        if feed is not None and feed.viewers > 0:
            self._release(camera_id, feed)

    def _release(self, camera_id: str, feed: _Feed) -> None:
        feed.viewers -= 1
        if feed.viewers <= 0:
            feed.track.stop()
            if self._feeds.get(camera_id) is feed:
                del self._feeds[camera_id]
            log.info("live view of %s closed: no viewer left", camera_id, **logs.fields(camera_id))

    async def close(self) -> None:
        """Stop every read and wait (off the loop) for the reader threads to finish."""
        for feed in list(self._feeds.values()):
            feed.track.stop()
        self._feeds.clear()
        for thread in self._threads:
            await asyncio.to_thread(thread.join, self.settings.read_timeout_us / 1e6 + 1)


def settings_for(cfg: Config) -> Settings:
    """The recorder's camera settings (timeouts), for the viewer's own reads."""
    s, r = cfg.storage, cfg.recorder
    return Settings(data_dir=s.data_dir, segment_us=s.segment_length_us, fragment_us=s.fragment_length_us,
                    fsync_us=s.fsync_interval_us, connect_timeout_us=r.connect_timeout_us,
                    read_timeout_us=r.read_timeout_us, reconnect_max_us=r.reconnect_max_us)

