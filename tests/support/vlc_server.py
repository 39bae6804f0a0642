"""VLC's RTSP server as a camera that is not gst-rtsp-server (design/0060).

It serves RTP over UDP only (a TCP SETUP gets `461 Unsupported transport`), as some cameras
do. VLC refuses to run as root, so it runs as a throwaway system account (osuser.OsUser),
from a folder that account can read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.cameras import encoded_once, free_port
from tests.support.osuser import OsUser

CVLC = shutil.which("cvlc")


def h264_clip(folder: Path, fps: int = 20, seconds: int = 30, gop: int = 0) -> Path:
    """An Annex B H.264 file (what `--demux h264` reads), one keyframe a second (or every `gop`
    pictures), no B-frames. Long enough that a test ends before VLC loops it (at the loop VLC ends
    the RTP session)."""
    out = folder / "clip.h264"
    encoded_once(out, ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={fps}", "-t", str(seconds), "-c:v", "libx264",
                         "-g", str(gop or fps), "-bf", "0", "-pix_fmt", "yuv420p", "-f", "h264"])  # encoded once a machine
    return out


class VlcServer:
    def __init__(self, fps: int = 20, seconds: int = 30, gop: int = 0):
        self.fps, self.seconds, self.gop = fps, seconds, gop  # a short clip: VLC ends the session at each loop
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam0"
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "VlcServer":
        self._dir = Path(tempfile.mkdtemp(prefix="edged-vlc-"))
        os.chmod(self._dir, 0o755)
        self._clip = clip = h264_clip(self._dir, self.fps, self.seconds, self.gop)
        os.chmod(clip, 0o644)
        self._user = OsUser([])
        self._log = open(self._dir / "vlc.log", "wb")
        self.start()
        return self

    def start(self) -> None:
        """VLC serving the clip at `url` (again, after `kill`: a camera that restarts). A VLC that
        exits or does not answer within 45 s is started again, up to three times: a landing CI saw
        one restart fail, its log removed before it was read (the words of each attempt now go into
        the error)."""
        said = []
        for _ in range(3):
            if self._launch():
                return
            said.append(f"exit status {self._proc.poll()}; it said: "
                        + (self._dir / "vlc.log").read_text(errors="replace")[-600:])
            self._stop()
        self.__exit__()  # removes the folder and its log: read first
        raise RuntimeError("VLC's RTSP server did not start: " + " / ".join(said))

    def _launch(self) -> bool:
        self._log.truncate(0)
        self._log.seek(0)
        self._proc = subprocess.Popen(
            ["runuser", "-u", self._user.name, "--", CVLC, str(self._clip), "--loop", "--demux", "h264", "--h264-fps",
             str(self.fps), "--sout", f"#rtp{{sdp={self.url}}}", "--sout-keep"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self._dir, start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self._dir)})
        deadline = time.monotonic() + 45
        while not self._serving():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._log.flush()
                return False
            time.sleep(0.1)
        return True

    def kill(self) -> None:
        """The camera dies (SIGKILL: no RTCP BYE, no TEARDOWN), mid-picture as it may."""
        assert self._proc is not None
        os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(10)

    def _serving(self) -> bool:
        """VLC answers DESCRIBE for the stream with 200: it listens on its port before the stream is
        set up, and a camera connecting then is refused with "5XX Server Error" (the CI saw it)."""
        with socket.socket() as s:
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", self.port))
                s.sendall(f"DESCRIBE {self.url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n".encode())
                return s.recv(64).startswith(b"RTSP/1.0 200")
            except OSError:
                return False

    def __exit__(self, *exc) -> None:
        self._stop()
        self._log.close()
        self._user.remove()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(10)
