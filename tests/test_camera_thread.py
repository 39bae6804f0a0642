"""One camera thread, in-process: a host clock step, and a camera that never answers.

Stepping the real clock of a shared box is not an option, so the recorder's wall-clock
reading is shifted in-process; everything else (RTSP server, PyAV, files) is real.
"""

from dataclasses import asdict

import pytest

from recorder.camera import CameraRecorder, Settings
from recorder.events import to_dict
from storage.time.clock import SteppedClock
from tests.support.cameras import RtspServer, ffprobe_errors, make_clip
from tests.support.daemon import wait_for

S = 1_000_000


@pytest.fixture
def server(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as srv:
        yield srv


def test_clock_step_starts_a_new_segment_at_the_new_wall_time(tmp_path, server):
    clock = SteppedClock()
    events = []  # the thread's events and its closed segments (to the hasher), in the order it made them
    settings = Settings(data_dir=tmp_path, segment_us=60 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S)
    rec = CameraRecorder({"id": "cam", "url": server.url("cam")}, settings, lambda e: events.append(to_dict(e)),
                         lambda c: events.append({"ev": "closing", **asdict(c)}), clock=clock)
    rec.start()
    try:
        wait_for(lambda: [e for e in events if e["ev"] == "open"], 20, "the first segment")
        wait_for(lambda: rec.seg is not None and rec.seg.frames >= 40, 20, "two seconds recorded")
        clock.offset_us = 30 * S  # NTP steps the host clock forward by 30 s

        def after_step():
            cut = next((i for i, e in enumerate(events) if e.get("reason") == "host clock step"), None)
            return cut is not None and [e for e in events[cut:] if e["ev"] == "open"]

        wait_for(after_step, 20, "a segment after the clock step")
    finally:
        rec.stop.set()
        rec.thread.join(30)
    # A minute boundary may fall during the test (segments are wall-clock aligned): the step's
    # cut is found by its reason, not by position.
    cut = next(i for i, e in enumerate(events) if e.get("reason") == "host clock step")
    ended, opened = events[cut], next(e for e in events[cut:] if e["ev"] == "open")
    assert ended["reason"] == "host clock step"
    assert rec.counters["clock_steps"] == 1
    # The old segment ends on the old clock; the new one starts on the stepped clock.
    assert opened["start_us"] - ended["end_us"] == pytest.approx(30 * S, abs=0.2 * S)
    for c in [e for e in events if e["ev"] == "closing"]:
        assert ffprobe_errors(tmp_path / c["path"]) == ""


def test_a_camera_that_never_answers_does_not_hang_its_thread(tmp_path):
    """A host that accepts the connection and then says nothing: av.open must time out."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    events = []
    settings = Settings(data_dir=tmp_path, segment_us=60 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=1 * S, read_timeout_us=1 * S, reconnect_max_us=S)
    rec = CameraRecorder({"id": "mute", "url": f"rtsp://u:secret@127.0.0.1:{port}/x"}, settings,
                         lambda e: events.append(to_dict(e)), lambda _c: None)
    started = time.monotonic()
    rec.start()
    try:
        offline = wait_for(lambda: [e for e in events if e["ev"] == "state" and e["state"] == "offline"], 10,
                           "the silent camera reported offline")[0]
        assert time.monotonic() - started < 5
        assert "never answers" in offline["error"] and "secret" not in offline["error"]
    finally:
        rec.stop.set()
        rec.thread.join(10)
        silent.close()
    assert not rec.thread.is_alive(), "stopping never waits on a dead camera for long"
