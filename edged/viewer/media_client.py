"""The daemon's side of a media worker process (design/0020): start it, ask it, end it.

A camera's RTSP stream and a recorded segment are parsed by FFmpeg; a malformed one may do
worse than raise (a crash in C), and the daemon is the process that must never go down. So
each live read and each playback reader runs in its own short-lived worker process
(edged/viewer/media_worker.py), spoken to in frames (edged/viewer/frames.py). The camera URL
(it may hold a password) goes over stdin, never the command line.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

from edged.viewer.frames import WorkerGone, read_frame, write_frame

log = logging.getLogger(__name__)


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


def settings_doc(settings: Any) -> dict[str, Any]:
    """The recorder's camera settings as the live request's JSON."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()}
