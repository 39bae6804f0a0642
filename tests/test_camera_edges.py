"""The field's edges (issue 79, design/0335): cameras that restart, as cameras in the field do.
Every segment, the first and the last of each connection included, decodes under `ffmpeg -v error
-xerror` with presentation and decode times that increase."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from recorder.camera import Settings
from tests.support.daemon import wait_for
from tests.support.recorders import Recording, recording
from tests.support.vlc_server import CVLC, VlcServer
from tests.test_rtsp_quirks import decode_errors

S = 1_000_000


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=5 * S, read_timeout_us=3 * S, reconnect_max_us=S, sample_us=0)


def times(path: Path) -> tuple[list[int], list[int], list[int]]:
    """(packets' pts, packets' dts, decoded pictures' pts) of a file's video, by ffprobe."""
    run = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,dts",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True, timeout=60)
    packets = json.loads(run.stdout)["packets"]
    run = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True, timeout=60)
    return [p["pts"] for p in packets], [p["dts"] for p in packets], [f["pts"] for f in json.loads(run.stdout)["frames"]]


def clean(run: Recording, cam: str, data: Path) -> dict[str, str]:
    """What is wrong with each of the camera's segments: `-xerror`'s words, or times that do not
    increase (decode times in the file, presentation times as decoded)."""
    wrong = {}
    for seg in run.closed_of(cam):
        path = data / seg["path"]
        if err := decode_errors(path):
            wrong[seg["path"]] = err.splitlines()[0]
            continue
        _pts, dts, shown = times(path)
        if not (all(b > a for a, b in zip(dts, dts[1:])) and all(b > a for a, b in zip(shown, shown[1:]))):
            wrong[seg["path"]] = f"times do not increase: dts {dts[:12]}..., shown {shown[:12]}..."
    return wrong


def connects(run: Recording, cam: str) -> int:
    return sum(1 for e in run.events if e["ev"] == "state" and e["camera"] == cam and e["state"] == "recording")


@pytest.mark.skipif(CVLC is None, reason="VLC (vlc-bin) is not installed: scripts/bootstrap --test")
def test_vlc_killed_and_started_again_three_connects_every_segment_clean(tmp_path):
    """VLC over UDP (FFmpeg's reader), its stamps broken (design/0150), killed mid-stream and
    started again twice: three connects. Every segment is clean, the first after each connect and
    the last before each death included; from the second connect on the first GOP is made like
    the rest (one frame apart: design/0335)."""
    settings = _settings(tmp_path)
    with VlcServer(seconds=60, gop=40) as vlc, recording({"vlc": vlc.url}, settings, reader="auto") as run:
        for n in (1, 2):
            wait_for(lambda: connects(run, "vlc") >= n and len(run.closed_of("vlc")) >= 4 * n, 90, f"connect {n}")
            vlc.kill()
            vlc.start()
        wait_for(lambda: connects(run, "vlc") >= 3 and len(run.closed_of("vlc")) >= 11, 90, "the third connect")
    data = settings.data_dir
    assert clean(run, "vlc", data) == {}
    segs = run.closed_of("vlc")
    firsts = [s for i, s in enumerate(segs) if i and segs[i - 1]["reason"] == "disconnect"]
    assert len(firsts) >= 2
    for seg in firsts:
        _pts, _dts, shown = times(data / seg["path"])
        assert {b - a for a, b in zip(shown, shown[1:])} == {4500}, (seg["path"], shown)
