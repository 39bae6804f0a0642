"""A host clock step ends the segment and re-anchors; timestamps are never bent.

Stepping the real clock of a shared box is not an option, so the recorder's wall-clock
reading is shifted in-process; everything else (RTSP server, PyAV, files) is real.
"""

import pytest

from recorder import camera as camera_mod
from recorder.camera import CameraRecorder, Settings
from tests.support.cameras import RtspServer, ffprobe_errors, make_clip
from tests.support.daemon import wait_for

S = 1_000_000


@pytest.fixture
def server(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as srv:
        yield srv


def test_clock_step_starts_a_new_segment_at_the_new_wall_time(tmp_path, server, monkeypatch):
    step = {"us": 0}
    real_now = camera_mod.now_us
    monkeypatch.setattr(camera_mod, "now_us", lambda: real_now() + step["us"])
    events, closed = [], []
    settings = Settings(data_dir=tmp_path, segment_us=60 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S)
    rec = CameraRecorder({"id": "cam", "url": server.url("cam")}, settings, events.append, closed.append)
    rec.start()
    try:
        wait_for(lambda: [e for e in events if e["ev"] == "open"], 20, "the first segment")
        wait_for(lambda: rec.seg is not None and rec.seg.frames >= 40, 20, "two seconds recorded")
        step["us"] = 30 * S  # NTP steps the host clock forward by 30 s
        wait_for(lambda: len([e for e in events if e["ev"] == "open"]) >= 2, 20, "a second segment")
    finally:
        rec.stop.set()
        rec.thread.join(30)
    opens = [e for e in events if e["ev"] == "open"]
    ended = [e for e in events if e["ev"] == "ended"]
    assert ended[0]["reason"] == "host clock step"
    assert rec.counters["clock_steps"] == 1
    # The old segment ends on the old clock; the new one starts on the stepped clock.
    assert opens[1]["start_us"] - ended[0]["end_us"] == pytest.approx(30 * S, abs=0.2 * S)
    for c in closed:
        assert ffprobe_errors(tmp_path / c["path"]) == ""
