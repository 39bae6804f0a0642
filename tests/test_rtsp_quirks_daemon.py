"""A live555 camera in the daemon (issue 38, design/0092): live555 sends an RTCP report on channel 1
before its answer to PLAY. The daemon records it with reader "auto" on the edged reader, in one
session, gap-free, every segment decoding under `ffmpeg -xerror`, and `edgectl cameras` says
nothing of a wrong port or device. The other quirks, without a daemon: tests/test_rtsp_quirks.py."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.cameras import make_clip
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.quirk_camera import QuirkCamera
from tests.test_rtsp_quirks import decode_errors


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=6)


def test_a_live555_camera_is_recorded_by_the_edged_reader_in_one_session(tmp_path, clip):
    with QuirkCamera(clip.video, {"live555"}) as cam:
        config = write_config(tmp_path / "edged.toml", tmp_path / "data", [{"id": "l555", "url": cam.url,
                                                                             "reader": "auto"}],
                              storage={"segment_length": "2s"},
                              recorder={"connect_timeout": "3s", "read_timeout": "3s", "reconnect_max": "2s"})
        d = Daemon(config, tmp_path / "data", tmp_path / "edged.log").start()
        try:
            wait_for(lambda: len(d.segments("l555")) >= 4, 60, "four segments of the live555 camera")
            row = wait_for(lambda: (r := d.camera("l555")) and json.loads(r.get("health") or "{}").get("reader") and r,
                           30, "the camera's health naming its reader")   # the key comes first, its value once known
            shown = subprocess.run([*d.ctl, "cameras", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=30)
            text = subprocess.run([*d.ctl, "cameras"], capture_output=True, text=True, cwd=ROOT, timeout=30)
        finally:
            assert d.stop() == 0, d.log
    assert row["state"] == "recording" and row["reconnects"] == 0, row
    (listed,) = [r for r in json.loads(shown.stdout) if r["id"] == "l555"]
    assert listed["health"]["reader"] == "edged", listed["health"]
    assert "wrong port" not in text.stdout and "not RTSP" not in d.log, text.stdout
    assert cam.sessions == 1 and cam.methods.count("PLAY") == 1
    segs = d.segments("l555")
    for before, after in zip(segs, segs[1:]):  # gap-free: each segment starts where the last ended
        assert abs(after["start_us"] - before["end_us"]) <= 60_000, (before, after)
    for seg in segs:
        assert decode_errors(d.data_dir / seg["path"]) == "", seg["path"]
