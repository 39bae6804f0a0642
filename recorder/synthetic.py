"""The built-in demo camera: a test pattern with a running clock, encoded in-process.

It is served to the recorder as an MPEG-TS byte stream over a pipe, so the synthetic
camera goes through exactly the same ingest path (av.open, demux, remux) as an RTSP one.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs, urlsplit

from storage.lazy import lazy_import
from storage.process.threadname import name_os_thread
from storage.time.clock import SYSTEM

if TYPE_CHECKING:
    import av
    import numpy as np
else:
    av = lazy_import("av")  # the daemon imports this module; PyAV loads when a synthetic camera starts (design/0286)
    np = lazy_import("numpy")  # the recorder worker imports this module; numpy is needed only to draw

log = logging.getLogger(__name__)

# 5x7 bitmap glyphs for the burnt-in clock.
_GLYPHS = {
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
    ":": ["00000", "00100", "00100", "00000", "00100", "00100", "00000"],
    "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
    ".": ["00000", "00000", "00000", "00000", "00000", "01100", "01100"],
    " ": ["00000"] * 7,
    "T": ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
    "U": ["10001", "10001", "10001", "10001", "10001", "10001", "01110"],
    "C": ["01110", "10001", "10000", "10000", "10000", "10001", "01110"],
}
_BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    width: int = 1280
    height: int = 720
    fps: int = 20


def parse_synthetic_url(url: str) -> SyntheticSpec:
    """`synthetic:?width=640&height=360&fps=15`; values were validated with the config."""
    query = parse_qs(urlsplit(url).query)
    values = {k: int(v[0]) for k, v in query.items() if k in ("width", "height", "fps")}
    return SyntheticSpec(**values)


@functools.cache
def _glyph(ch: str, scale: int) -> np.ndarray:
    bits = np.array([[c == "1" for c in row] for row in _GLYPHS.get(ch, _GLYPHS[" "])])
    return np.kron(bits, np.ones((scale, scale), dtype=bool))


@functools.lru_cache(maxsize=4)
def _text_mask(text: str, scale: int) -> np.ndarray:
    """The whole line's pixels, each glyph `scale` times its size a 6*scale column apart: built once a
    stamp (the clock's tenth changes every other frame), not a glyph at a time each frame."""
    mask = np.zeros((7 * scale, len(text) * 6 * scale), dtype=bool)
    for i, ch in enumerate(text):
        mask[:, i * 6 * scale : i * 6 * scale + 5 * scale] = _glyph(ch, scale)
    return mask


def draw_text(img: np.ndarray, text: str, x: int, y: int, scale: int, color: tuple[int, int, int] = (255, 255, 255)) -> None:
    mask = _text_mask(text, scale)
    region = img[y : y + mask.shape[0], x : x + mask.shape[1]]
    h, w = region.shape[:2]
    region[mask[:h, :w]] = color


def background(spec: SyntheticSpec) -> np.ndarray:
    img = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
    bar_w = spec.width // len(_BARS) + 1
    for i, color in enumerate(_BARS):
        img[: spec.height * 2 // 3, i * bar_w : (i + 1) * bar_w] = color
    ramp = np.linspace(0, 255, spec.width, dtype=np.uint8)
    img[spec.height * 2 // 3 :, :, :] = ramp[None, :, None]
    return img


def render(base: np.ndarray, frame_no: int, fps: int, now: float) -> np.ndarray:
    """One picture: scrolling bars and a moving box (the image checks must see a live scene,
    not a frozen one with a running clock) and the UTC clock."""
    img = np.empty_like(base)
    render_into(img, base, frame_no, fps, now)
    return img


def render_into(img: np.ndarray, base: np.ndarray, frame_no: int, fps: int, now: float) -> None:
    """`render`'s picture drawn into `img` (the encoder's kept frame): no new picture a frame. In a recorder
    worker a picture over 128 KiB is a fresh mapping of the kernel's, faulted in page by page and given back
    (edged/daemon/recording/prespawn.py WORKER_MALLOC): two a frame were 40 % of this camera's CPU."""
    h, w = base.shape[:2]
    shift = (frame_no * 4) % w  # np.roll's columns, copied into place
    img[:, shift:] = base[:, :w - shift]
    img[:, :shift] = base[:, w - shift:]
    box = max(8, h // 12)
    x = int((frame_no * 7) % max(1, w - box))
    img[h // 2 - box // 2 : h // 2 + box // 2, x : x + box] = (255, 255, 255)
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.") + f"{int(now * 10) % 10} UTC"
    scale = max(1, h // 120)
    img[4 : 4 + 9 * scale, 4 : 8 + len(stamp) * 6 * scale] = 0
    draw_text(img, stamp, 8, 4 + scale, scale)


def frame_pixels(frame: av.VideoFrame) -> np.ndarray:
    """An rgb24 frame's picture as a height x width x 3 array over its own buffer (its rows may be padded)."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
    return cast("np.ndarray", rows[:, : frame.width * 3].reshape(frame.height, frame.width, 3))


class SyntheticCamera:
    """Encodes the test pattern in real time into an MPEG-TS pipe; `reader` is the read end.

    The encoder thread stops when `close()` is called or the reader goes away.
    """

    def __init__(self, spec: SyntheticSpec, name: str = "synthetic"):
        self.spec = spec
        rfd, wfd = os.pipe()
        self.reader = os.fdopen(rfd, "rb")
        self._writer = os.fdopen(wfd, "wb")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"synthetic-{name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        try:
            self.reader.close()
        except OSError:
            pass
        self._thread.join(timeout=5)

    def _run(self) -> None:
        name_os_thread("synthetic")  # its CPU apart from its camera's thread's (and libx264's threads, its own)
        spec = self.spec
        try:
            out = av.open(self._writer, "w", format="mpegts", options={"flush_packets": "1"})
            stream = out.add_stream("libx264", rate=spec.fps)
            stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(spec.fps * 2), "bf": "0"}
            base = background(spec)
            # one rgb24 frame drawn over each time: the encoder converts it to yuv420p with a converter it
            # keeps (the same pixels as frame.reformat, which made a new one each frame) and keeps nothing of it
            frame = av.VideoFrame(spec.width, spec.height, "rgb24")
            pixels = frame_pixels(frame)
            start = None  # set once the encoder is warm, so frames are paced in real time
            n = 0
            while not self._stop.is_set():
                if start is not None:
                    delay = start + n / spec.fps - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                render_into(pixels, base, n, spec.fps, SYSTEM.now_us() / 1e6)
                frame.pts = n
                for packet in stream.encode(frame):
                    out.mux(packet)
                if start is None:
                    start = time.monotonic()
                n += 1
        except Exception as exc:  # noqa: BLE001 - any encoder failure ends this camera's stream
            if not self._stop.is_set():
                log.warning("synthetic camera stopped: %s", exc)
        finally:
            try:
                self._writer.close()
            except OSError:
                pass
