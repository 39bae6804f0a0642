"""The detection thread against real RTSP cameras: the test scenes served by the fake-camera
server (gst-rtsp-server looping real H.264), decoded by PyAV, reported as wall-clock events."""

from __future__ import annotations

import threading

import pytest

from recorder.motion import MotionSettings
from recorder.motion_watch import Ended, Lost, MotionWatch, Started
from tests.support.cameras import RtspServer, free_port
from tests.support.daemon import wait_for
from tests.support.scenes import SECONDS, WALKS, scene_clip

S = 1_000_000


class Reports:
    def __init__(self):
        self.items: list = []
        self._lock = threading.Lock()

    def __call__(self, item) -> None:
        with self._lock:
            self.items.append(item)

    def of(self, kind) -> list:
        with self._lock:
            return [x for x in self.items if isinstance(x, kind)]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    out = tmp_path_factory.getbasetemp() / "scenes"  # shared with test_motion: encoded once
    return {k: scene_clip(out, k) for k in ("walk", "noise", "clock")}


def test_walks_over_rtsp_are_reported_with_their_length_and_spacing_and_still_scenes_are_not(scenes):
    settings = MotionSettings(post_roll=1.0)
    with RtspServer({k: c.spec() for k, c in scenes.items()}) as server:
        reports = {k: Reports() for k in scenes}
        watches = {k: MotionWatch(k, server.url(k), settings, reports[k]).start() for k in scenes}
        try:
            # The clip starts when the mount's first client connects; both walks come within
            # 24 s, plus the post-roll, whatever the phase.
            ended = wait_for(lambda: len(reports["walk"].of(Ended)) >= 2 and reports["walk"].of(Ended),
                             90, "two walks over RTSP")
        finally:
            stopped = {k: w.stop(timeout=20) for k, w in watches.items()}
    assert all(stopped.values()), stopped
    started = reports["walk"].of(Started)
    assert [s.start_us for s in started[:2]] == [e.start_us for e in ended[:2]]
    # Each event spans its walk (first to last picture with the object in: 2.6 s and 3.4 s at
    # 5 fps), give or take the frames' arrival jitter.
    spans = sorted(round((e.end_us - e.start_us) / S, 1) for e in ended[:2])
    truth = sorted(b - a - 2 * 0.2 for a, b in WALKS)
    assert all(abs(x - y) <= 0.5 for x, y in zip(spans, truth)), (spans, truth)
    for e in ended[:2]:
        assert e.record_until_us == e.end_us + S and e.peak >= settings.min_area
        assert 0 < started[0].detected_us - started[0].start_us <= 0.5 * S
    # The walks' starts are 14 s apart, or 26 s across the clip's loop.
    gap = (ended[1].start_us - ended[0].start_us) / S
    between = WALKS[1][0] - WALKS[0][0]
    assert min(abs(gap - between), abs(gap - (SECONDS - between))) <= 0.5, gap
    # The still scenes ran as long, decoded, and raised nothing.
    for k in ("noise", "clock"):
        assert watches[k].frames >= 100, (k, watches[k].frames, watches[k].last_error)
        assert reports[k].items == [], (k, reports[k].items)


def test_a_camera_that_does_not_answer_is_retried_quietly_and_stop_still_works():
    reports = Reports()
    watch = MotionWatch("gone", "rtsp://127.0.0.1:%d/nothing" % free_port(), MotionSettings(), reports,
                        connect_timeout_us=1 * S, read_timeout_us=1 * S, retry_us=200_000).start()
    try:
        wait_for(lambda: watch.failures >= 3, 30, "three failed connections")
        # Lost once per outage, not per retry: the camera records continuously meanwhile (design/0038).
        assert watch.alive and watch.frames == 0
        assert [type(r) for r in reports.items] == [Lost] and reports.items[0].camera == "gone"
    finally:
        assert watch.stop(timeout=15)
