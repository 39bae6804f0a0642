"""A camera handed from one recorder worker to another at a keyframe (recorder/handover.py,
design/0353): what an upgrade's handover does per camera, with real worker processes, a real RTSP
server and ffmpeg on every segment. The next worker holds the camera before the running one gives
it: the gap between the running one's last segment and the next one's first is the two
connections' clock anchors apart, not a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from recorder.handover import HANDED, KEEP_US, Handover
from recorder.timeline import RunClock
from tests.support.cameras import RtspServer, ffprobe_errors, make_clip
from tests.support.daemon import ROOT, wait_for

S = 1_000_000
FPS, GOP = 20, 20  # a keyframe a second: the keyframe met is told apart from its neighbours by 1 s


class Worker:
    """`python -m recorder.worker` on pipes; its events read on a thread."""

    def __init__(self, data_dir: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "recorder.worker"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send({"data_dir": str(data_dir), "segment_us": 60 * S, "fragment_us": S, "fsync_us": 2 * S,
                   "connect_timeout_us": 10 * S, "read_timeout_us": 10 * S, "reconnect_max_us": 2 * S,
                   "sample_us": 0})

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def of(self, ev: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["ev"] == ev and all(e.get(k) == v for k, v in match.items())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.send({"cmd": "stop"})
            self.proc.wait(60)
        self._reader.join(10)


@pytest.fixture
def cameras(tmp_path):
    clip = make_clip(tmp_path / "clips", fps=FPS, gop=GOP, seconds=10)
    with RtspServer({f"cam{i}": clip.spec() for i in range(2)}) as srv:
        yield srv


def test_a_camera_handed_over_at_a_keyframe_loses_no_picture_and_writes_none_twice(tmp_path, cameras):
    data = tmp_path / "data"
    data.mkdir()
    ids = ["cam0", "cam1"]
    old, new = Worker(data), Worker(data)
    try:
        for cam in ids:
            old.send({"cmd": "add", "camera": {"id": cam, "url": cameras.url(cam)}})
        wait_for(lambda: all(old.of("open", camera=c) for c in ids), 60, "the running worker recording")
        for cam in ids:
            new.send({"cmd": "add", "camera": {"id": cam, "url": cameras.url(cam), "hold": True}})
        wait_for(lambda: all(new.of("holding", camera=c) for c in ids), 60, "the next worker holding")
        assert not new.of("open"), "a held camera writes nothing"
        for cam in ids:
            old.send({"cmd": "give", "camera": cam})
        handed = {c: wait_for(lambda c=c: old.of("handed", camera=c), 30, f"{c} handed")[0] for c in ids}
        for cam in ids:
            new.send({"cmd": "resume", "camera": cam, "from_us": handed[cam]["end_us"]})
        wait_for(lambda: all(new.of("open", camera=c) for c in ids), 30, "the next worker writing")
        wait_for(lambda: len(old.of("state", state="stopped")) == 2, 30, "the given cameras stopped")
        count = {c: len(old.of("open", camera=c)) for c in ids}
        wait_for(lambda: len(new.of("stats")) >= 2, 30, "the next worker recording on")
    finally:
        old.stop()
        new.stop()
    for cam in ids:
        assert len(old.of("open", camera=cam)) == count[cam], "nothing opened after the handover"
        last = old.of("closed", camera=cam)[-1]
        first_open = new.of("open", camera=cam)[0]
        assert last["reason"] == HANDED and last["end_us"] == handed[cam]["end_us"]
        gap = first_open["start_us"] - last["end_us"]
        # The same keyframe on both connections: their clocks' anchors apart, far under the GOP (1 s)
        # that any other keyframe would be; the bound is 1 s.
        assert abs(gap) < 0.5 * S, f"{cam}: {gap / S:.3f} s between the old segment's end and the next one's start"
        print(f"{cam}: handed over with {gap / 1000:+.1f} ms between the two recorders")
        closed = old.of("closed", camera=cam) + new.of("closed", camera=cam)
        assert all(c["sha256"] for c in closed)
        for c in closed:
            assert ffprobe_errors(data / c["path"]) == "", c["path"]


class FakeCamera:
    """What the handover asks of a camera, with the packets it places kept."""

    def __init__(self) -> None:
        self.id, self.seg, self.stop, self.handover = "cam", None, threading.Event(), None
        self.run_clock = RunClock(0, 0, 0)
        self.placed: list[tuple[int, bool]] = []
        self.closed: list[tuple[int | None, str]] = []

    def _place(self, pkt: Any, wall: int, key: bool) -> None:
        """As recorder/camera.py's: the handover first."""
        if self.handover is not None and self.handover.takes(self, pkt, wall, key, True):
            return
        self.placed.append((wall, key))

    def _close_segment(self, end_us: int | None, reason: str) -> None:
        self.closed.append((end_us, reason))


def _feed(cam: FakeCamera, start: int, seconds: int, gop_us: int = S, frame_us: int = 50_000) -> None:
    for t in range(start, start + seconds * S, frame_us):
        cam._place(object(), t, (t - start) % gop_us == 0)


def test_held_footage_resumes_at_the_keyframe_the_end_names():
    said: list[Any] = []
    cam = FakeCamera()
    ho = cam.handover = Handover("cam", said.append, hold=True)
    _feed(cam, 0, 5)
    assert [e.key_us for e in said] == [0] and cam.placed == []
    ho.resume_from = 3 * S - 40_000  # the running recorder's clock 40 ms behind this one's
    _feed(cam, 5 * S, 1)
    assert cam.placed[0] == (3 * S, True), "the keyframe the end names, not its neighbours"
    assert [w for w, _k in cam.placed] == list(range(3 * S, 6 * S, 50_000))
    assert cam.handover is None and cam.run_clock.offset == 0, "a later keyframe: its own time, the hole filed"


def test_a_resumed_run_never_starts_before_the_end_said():
    """The running recorder's clock read the same keyframe 20 ms later: the held one's times move on by
    as much (a segment stamped before its predecessor's end is a host clock behind, flagged)."""
    cam = FakeCamera()
    ho = cam.handover = Handover("cam", lambda _e: None, hold=True)
    _feed(cam, 0, 5)
    ho.resume_from = 3 * S + 20_000
    _feed(cam, 5 * S, 1)
    assert cam.placed[0] == (3 * S + 20_000, True) and cam.run_clock.offset == 20_000
    assert [w for w, _k in cam.placed][:3] == [3_020_000, 3_070_000, 3_120_000]


def test_an_end_not_yet_held_waits_for_its_keyframe_and_the_hold_is_bounded():
    cam = FakeCamera()
    ho = cam.handover = Handover("cam", lambda _e: None, hold=True)
    _feed(cam, 0, 40)
    assert ho.held[0].wall >= 40 * S - KEEP_US - S and ho.held[0].key
    ho.resume_from = 41 * S + 30_000  # ahead of anything held: the next keyframe
    _feed(cam, 40 * S, 3)
    assert cam.placed[0] == (41 * S + 30_000, True), "the next keyframe, on to the end said"


def test_a_giving_camera_closes_before_its_next_keyframe_and_writes_nothing_after():
    said: list[Any] = []
    cam = FakeCamera()
    ho = cam.handover = Handover("cam", said.append, hold=False)
    ho.giving = True
    assert not ho.takes(cam, object(), 100, False, True), "written as before up to the keyframe"
    assert ho.takes(cam, object(), 200, True, True)
    assert cam.closed == [(200, HANDED)] and [e.end_us for e in said] == [200] and cam.stop.is_set()
    assert ho.takes(cam, object(), 300, True, True) and cam.closed == [(200, HANDED)] and len(said) == 1
    assert not ho.claim(), "said once"
