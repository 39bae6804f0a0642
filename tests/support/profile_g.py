"""A Profile G test camera (design/0106): GStreamer's ONVIF replay server
(tests/support/profile_g_server.py) as a child process, and the fake ONVIF device
(tests/support/onvif_camera.py) answering Recording Search and Replay for it.

The recording began at `start` (Unix seconds) and runs on: frame n was taken at `start + n / fps`.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.cameras import SYSTEM_PYTHON, RtspServer
from tests.support.onvif_camera import FakeOnvifCamera, Profile

SCRIPT = Path(__file__).with_name("profile_g_server.py")


class ProfileGServer(RtspServer):
    """The replay server: one mount, `replay`; start/stop/restart as RtspServer's."""

    def __init__(self, start: float, fps: int = 10, size: str = "320x240", port: int | None = None, gop: int = 0):
        super().__init__({"replay": "onvif-replay"}, port=port)
        self.start_s, self.fps, self.size, self.gop = start, fps, size, gop or fps  # gop: frames, default 1 s

    def _command(self) -> list[str]:
        return [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port or 0), "--start", repr(self.start_s),
                "--fps", str(self.fps), "--gop", str(self.gop), "--size", self.size,
                "--exit-with-stdin"]


def profile_g_camera(replay: ProfileGServer, live_uri: str, *, refuse: bool = False,
                     recording_from: float | None = None) -> FakeOnvifCamera:
    """The ONVIF device of a camera whose live stream is `live_uri` and whose edge recording
    `replay` serves (from `recording_from`, by default the replay server's start)."""
    cam = FakeOnvifCamera([Profile("main", "main", live_uri)], clock_offset_s=0.0,
                          recording_from=replay.start_s if recording_from is None else recording_from,
                          replay_uri=replay.url("replay"), refuse_replay=refuse)
    return cam.start()
