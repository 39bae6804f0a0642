"""Media parsing for the viewer, out of the daemon's process (design/0020).

A camera's RTSP stream and a recorded segment are parsed by FFmpeg; a malformed one may do
worse than raise (a crash in C), and the daemon is the process that must never go down. So
each live read and each playback reader runs in its own short-lived worker process:

    python -m edged.viewer.media_worker      (one JSON request line on stdin, then frames)

Frames, both ways after the request: a 4-byte big-endian length, a JSON header, then
`header["size"]` bytes of payload (the packets, one after another). Nothing is pickled: a
worker that a malformed file took over can send the daemon bytes, never objects.
- live: request {"op": "live", "camera", "url", "settings", "max_height"}; the worker answers
  {"opened": [w, h]} or {"error": msg}, then one frame per packet
  {"pts", "dts", "tb": [num, den], "key", "size"} until the stream ends or stdin closes.
- range: request {"op": "range", "pieces": [[path, start_us, end_us], ...], "from_us",
  "to_us", "max_height"}; then commands {"seek": t} -> {"at": t or null}, {"read": budget_us} ->
  {"packets": [[dts_wall, pts_wall, size, key], ...], "ended", "size"}.
Packets are always H.264: a camera or segment in another codec (H.265) is transcoded here,
scaled to at most `max_height` lines (edged/viewer/transcode.py, design/0050).

The camera URL (it may hold a password) goes over stdin, never the command line.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import threading
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Iterator

log = logging.getLogger(__name__)

MAX_HEADER = 1 << 20
MAX_PAYLOAD = 64 << 20


class WorkerGone(Exception):
    """The worker process ended (a crash, a kill) or spoke out of turn."""


def write_frame(out: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    head = json.dumps({**header, "size": len(payload)}).encode()
    out.write(struct.pack(">I", len(head)) + head + payload)
    out.flush()


def read_frame(inp: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    raw = inp.read(4)
    if len(raw) < 4:
        raise WorkerGone("the media worker ended")
    (n,) = struct.unpack(">I", raw)
    if n > MAX_HEADER:
        raise WorkerGone(f"the media worker sent a {n}-byte header")
    header = json.loads(inp.read(n))
    size = header.get("size", 0)
    if not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD:
        raise WorkerGone("the media worker sent a bad payload size")
    payload = inp.read(size) if size else b""
    if len(payload) != size:
        raise WorkerGone("the media worker ended mid-frame")
    return header, payload


class Worker:
    """The daemon's side of one worker process. Blocking: use from a thread."""

    def __init__(self, request: dict[str, Any]):
        self.proc = subprocess.Popen([sys.executable, "-m", "edged.viewer.media_worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2],
                                     start_new_session=False)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.stdin.write(json.dumps(request).encode() + b"\n")
        self.stdin.flush()

    def ask(self, header: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        try:
            write_frame(self.stdin, header)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerGone(f"the media worker ended ({exc})") from None
        return read_frame(self.stdout)

    def kill(self) -> None:
        """SIGKILL, from any thread: a read blocked on this worker then ends with WorkerGone."""
        try:
            self.proc.kill()
        except OSError:
            pass

    def close(self) -> None:
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.returncode not in (0, None) and self.proc.returncode != -9:
            log.warning("a media worker ended with status %s", self.proc.returncode)


def packet(payload: bytes, pts: int | None, dts: int | None, tb: list[int] | None, key: bool) -> Any:
    """An av.Packet around bytes from a worker (a buffer: nothing is parsed here)."""
    import av

    pkt = av.Packet(payload)
    pkt.pts, pkt.dts = pts, dts
    if tb is not None:
        pkt.time_base = Fraction(tb[0], tb[1])
    pkt.is_keyframe = bool(key)
    return pkt


# the worker process --------------------------------------------------------------------------
def _serve_live(req: dict[str, Any], out: IO[bytes]) -> None:
    import av

    from edged.viewer.live import CameraUnavailable, open_camera, packets_of
    from edged.viewer.transcode import DEFAULT_MAX_HEIGHT, ToH264
    from recorder.camera import Settings, scrub

    settings = Settings(**{**req["settings"], "data_dir": Path(req["settings"]["data_dir"])})
    quit_ = threading.Event()

    def watch_stdin() -> None:  # the daemon closes our stdin to stop us
        while sys.stdin.buffer.read(65536):
            pass
        quit_.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        src = open_camera(req["url"], settings)
    except Exception as exc:  # noqa: BLE001 - any open failure means "camera unavailable"
        write_frame(out, {"error": f"camera {req['camera']} did not answer: {scrub(str(exc))}"})
        return
    try:
        video = next((s for s in src.container.streams if s.type == "video"), None)
        try:
            if video is None or video.codec_context is None:
                raise ValueError("no video" if video is None else "video in a format FFmpeg does not know")
            # H.264 is relayed as it comes; anything else (H.265) is transcoded to H.264
            recode = None if video.codec_context.name == "h264" else \
                ToH264(video, int(req.get("max_height") or DEFAULT_MAX_HEIGHT))
        except (ValueError, av.FFmpegError) as exc:
            write_frame(out, {"error": str(CameraUnavailable(f"camera {req['camera']} cannot be shown: {exc}"))})
            return
        size = [video.codec_context.width, video.codec_context.height] if recode is None else \
            [recode.width, recode.height]
        write_frame(out, {"opened": size})
        for pkt in packets_of(src, video, quit_) if recode is None else transcoded(src, video, recode, quit_):
            tb = pkt.time_base
            write_frame(out, {"pts": pkt.pts, "dts": pkt.dts, "tb": None if tb is None else [tb.numerator,
                                                                                            tb.denominator],
                              "key": bool(pkt.is_keyframe)}, bytes(pkt))
    finally:
        src.close()


def transcoded(src: Any, video: Any, recode: Any, quit_: threading.Event) -> Iterator[Any]:
    """The camera's picture as H.264 packets, transcoded (in the media worker process)."""
    for raw in src.container.demux(video):
        if quit_.is_set():
            return
        if raw.size:
            yield from recode.feed(raw)


def _serve_range(req: dict[str, Any], inp: IO[bytes], out: IO[bytes]) -> None:
    from edged.viewer.playback import Piece, RangeReader
    from edged.viewer.transcode import DEFAULT_MAX_HEIGHT

    reader = RangeReader([Piece(Path(p), s, e) for p, s, e in req["pieces"]], req["from_us"], req["to_us"],
                         int(req.get("max_height") or DEFAULT_MAX_HEIGHT))
    try:
        while True:
            try:
                cmd, _ = read_frame(inp)
            except WorkerGone:
                return
            if "seek" in cmd:
                write_frame(out, {"at": reader.seek(int(cmd["seek"])), "ended": reader.ended})
            elif "read" in cmd:
                batch = reader.read(int(cmd["read"]))
                payload = b"".join(bytes(p) for _d, _p, p in batch)
                write_frame(out, {"packets": [[d, p, pkt.size, bool(pkt.is_keyframe)] for d, p, pkt in batch],
                                  "ended": reader.ended}, payload)
            else:
                return
    finally:
        reader.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="media worker: %(message)s")
    req = json.loads(sys.stdin.buffer.readline())
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the pipe
    try:
        if req["op"] == "live":
            _serve_live(req, out)
        else:
            _serve_range(req, sys.stdin.buffer, out)
    except BrokenPipeError:
        pass
    os._exit(0)  # PyAV's threads need no goodbye


def settings_doc(settings: Any) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()}


if __name__ == "__main__":
    main()
