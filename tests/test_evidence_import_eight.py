"""Eight cameras record while a portable device's files are taken in (issue 76, "recording of 8 cameras
meanwhile with no frame lost"; design/0349: the remux runs in a process of its own at the idle
classes, the daemon's intake thread too). A real RTSP server sends eight H.264 streams at 20 fps; while
the daemon records them, edgectl imports a body camera's 25 s file and an H.265 one. Then every
camera's footage of those minutes: no gap on record, no seam between segments, as many pictures as
the stream's time holds, and every segment decodes under `ffmpeg -v error -xerror`. Solo (tests/conftest.py
SOLO): it holds a bound on a loaded box, so it runs apart from the parallel run's daemons."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import portable
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People

S = 1_000_000
FPS = 20
CAMERAS = [f"cam{i}" for i in range(8)]
SEAM_US = S // 2     # segments of one camera follow each other: any seam is far under a GOP (1 s)


def decodes(path: Path) -> bool:
    return subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, timeout=120).returncode == 0


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip"), width=320, height=240, fps=FPS, gop=FPS, seconds=10)
    with RtspServer({cam: f"clip:{clip.video}@{FPS}" for cam in CAMERAS}) as server:
        yield server


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    os.chmod(d, 0o755)
    made = {"bwc": portable.body_camera(d / "bwc.mp4", seconds=25), "hevc": portable.hevc_g711(d / "hevc.mov")}
    for p in made.values():
        os.chmod(p, 0o644)
    return made


def test_eight_cameras_lose_no_frame_while_files_are_taken_in(tmp_path, cameras, devices):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": c, "url": cameras.url(c)} for c in CAMERAS],
                          storage={"segment_length": "3s"})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.as_("carol")
        wait_for(lambda: all(len(d.segments(c)) >= 2 for c in CAMERAS), 120, "every camera's first segments")
        before = {c: len(d.segments(c)) for c in CAMERAS}
        for key, device in (("bwc", "bwc-7"), ("hevc", "cam-2")):
            r = people.ctl("evidence", "import", str(devices[key]), "--device", device, "--by", "officer Lin")
            assert r.returncode == 0, r.stdout + r.stderr
        assert len(d.segments("portable.bwc-7")) == 9
        # the intakes' minutes and some after: each camera's segments past what it had when they began
        wait_for(lambda: all(len(d.segments(c)) >= before[c] + 4 for c in CAMERAS), 120, "segments after the intakes")
    finally:
        d.stop()
    for cam in CAMERAS:
        segs = d.segments(cam)
        assert d.gaps(cam) == [], (cam, d.gaps(cam))
        seams = [b["start_us"] - a["end_us"] for a, b in zip(segs, segs[1:])]
        assert all(abs(s) < SEAM_US for s in seams), (cam, seams)
        span_s = (segs[-1]["end_us"] - segs[0]["start_us"]) / S
        frames = sum(s["frames"] for s in segs)
        assert abs(frames - span_s * FPS) <= len(segs), f"{cam}: {frames} pictures in {span_s:.2f} s at {FPS} fps"
        assert all(decodes(data / s["path"]) for s in segs), cam
        print(f"{cam}: {len(segs)} segments, {frames} pictures in {span_s:.2f} s, widest seam "
              f"{max(map(abs, seams)) / 1000:.1f} ms")
