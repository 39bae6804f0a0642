"""The media worker process: the viewer's media parsing, out of the daemon's process (design/0020).

A camera's RTSP stream and a recorded segment are parsed by FFmpeg; a malformed one may do
worse than raise (a crash in C), and the daemon is the process that must never go down. So
each live read and each playback reader runs in its own short-lived worker process:

    python -m edged.viewer.media_worker      (one JSON request line on stdin, then frames)

This module is that process's entry point and nothing else: the daemon never imports it. The
frames it speaks are edged/viewer/frames.py, the daemon's side is edged/viewer/media_client.py;
a live read is edged/viewer/camera_read.py, a range read edged/viewer/range_read.py.
Packets are always H.264: a camera or segment in another codec (H.265) is transcoded here,
scaled to at most `max_height` lines (edged/viewer/transcode.py, design/0050).

The camera URL (it may hold a password) comes over stdin, never the command line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import IO, Any

import av

from edged.viewer.camera_read import ToPcm, open_camera, packets_of, sound_of, transcoded
from edged.viewer.frames import WorkerGone, read_frame, write_frame
from edged.viewer.range_read import Piece, RangeReader
from edged.viewer.thumb_read import keyframe_jpeg
from edged.viewer.transcode import DEFAULT_MAX_HEIGHT, ToH264
from recorder.camera import Settings
from recorder.diagnose import scrub
from storage.process.threadname import name_os_thread

log = logging.getLogger(__name__)


def _serve_live(req: dict[str, Any], out: IO[bytes]) -> None:
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
        video = next((s for s in src.container.streams.video), None)
        try:
            if video is None or video.codec_context is None:
                raise ValueError("no video" if video is None else "video in a format FFmpeg does not know")
            # H.264 is relayed as it comes; anything else (H.265) is transcoded to H.264
            recode = None if video.codec_context.name == "h264" else \
                ToH264(video, int(req.get("max_height") or DEFAULT_MAX_HEIGHT))
        except (ValueError, av.FFmpegError) as exc:
            write_frame(out, {"error": f"camera {req['camera']} cannot be shown: {exc}"})
            return
        size = [video.codec_context.width, video.codec_context.height] if recode is None else \
            [recode.width, recode.height]
        audio = sound_of(src.container) if req.get("audio") else None  # [[cameras]] audio_in_viewer
        pcm = None if audio is None else ToPcm(audio)
        write_frame(out, {"opened": size, "audio": None if pcm is None else pcm.rate})

        def on_audio(pkt: av.Packet[Any]) -> None:  # PCM frames between the video's (design/0087)
            assert pcm is not None
            try:
                for chunk in pcm.feed(pkt):
                    write_frame(out, {"pcm": pcm.rate}, chunk)
            except av.FFmpegError as exc:  # a bad audio packet costs its sound, not the picture
                log.warning("camera %s: an audio packet did not decode: %s", req["camera"], exc)

        kw = {"audio": audio, "on_audio": on_audio} if pcm is not None else {}
        for pkt in packets_of(src, video, quit_, **kw) if recode is None else \
                transcoded(src, video, recode, quit_, **kw):
            tb = pkt.time_base
            write_frame(out, {"pts": pkt.pts, "dts": pkt.dts, "tb": None if tb is None else [tb.numerator,
                                                                                            tb.denominator],
                              "key": bool(pkt.is_keyframe)}, bytes(pkt))
    finally:
        src.close()


def _serve_range(req: dict[str, Any], inp: IO[bytes], out: IO[bytes]) -> None:
    reader = RangeReader([Piece(Path(p), s, e) for p, s, e in req["pieces"]], req["from_us"], req["to_us"],
                         int(req.get("max_height") or DEFAULT_MAX_HEIGHT), bool(req.get("audio")))
    try:
        while True:
            try:
                cmd, _ = read_frame(inp)
            except WorkerGone:
                return
            if "seek" in cmd:
                at = reader.seek(int(cmd["seek"]))
                sound = reader.take_sound()
                write_frame(out, {"at": at, "ended": reader.ended, "sound": [[w, r, len(b)] for w, r, b in sound]},
                            b"".join(b for _w, _r, b in sound))
            elif "read" in cmd:
                batch = reader.read(int(cmd["read"]))
                sound = reader.take_sound()
                payload = b"".join(bytes(p) for _d, _p, p in batch) + b"".join(b for _w, _r, b in sound)
                write_frame(out, {"packets": [[d, p, pkt.size, bool(pkt.is_keyframe)] for d, p, pkt in batch],
                                  "sound": [[w, r, len(b)] for w, r, b in sound], "ended": reader.ended}, payload)
            else:
                return
    finally:
        reader.close()


def _serve_thumbs(inp: IO[bytes], out: IO[bytes]) -> None:
    """A viewing's timeline thumbnails (design/0114), one key frame per command, at a low
    priority: the recording's threads and workers come first."""
    os.nice(10)
    while True:
        try:
            cmd, _ = read_frame(inp)
        except WorkerGone:
            return
        if "thumb" not in cmd:
            return
        t = cmd["thumb"]
        found = keyframe_jpeg(t["pieces"], int(t["lo_us"]), int(t["hi_us"]), int(t["width"]))
        write_frame(out, {"found": found is not None}, found or b"")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="media worker: %(message)s")
    req = json.loads(sys.stdin.buffer.readline())
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the pipe
    try:
        if req["op"] == "live":
            _serve_live(req, out)
        elif req["op"] == "thumbs":
            _serve_thumbs(sys.stdin.buffer, out)
        else:
            _serve_range(req, sys.stdin.buffer, out)
    except BrokenPipeError:
        pass
    os._exit(0)  # PyAV's threads need no goodbye


if __name__ == "__main__":
    name_os_thread("edged-playback")
    main()
