"""RTSP peers that are not ours, recorded with reader "auto" (issue 38 item 8, design/0092): VLC's
server (RTP over UDP only: libavformat records it) and FFmpeg's RTP (its rtp muxer's packets and
SDP, served by the quirk camera: FFmpeg has no RTSP server for a reader), each gap-free, each
segment under `ffmpeg -xerror`. gst-rtsp-server's: tests/test_reader_edged.py."""

from __future__ import annotations

import json
import subprocess

import pytest

from recorder.camera import Settings
from recorder.reader_choice import REFUSED, UDP_ONLY
from storage import mp4
from tests.support.cameras import count_video_packets, make_clip, media_duration
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera
from tests.support.recorders import recording
from tests.support.vlc_server import CVLC, VlcServer
from tests.test_rtsp_quirks import decode_errors

S = 1_000_000


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)


def _readers(run, cam: str) -> set:
    return {e.get("reader") for e in run.events if e["ev"] == "stats" and e["camera"] == cam}


def test_ffmpegs_rtp_is_recorded_gap_free_by_the_edged_reader(tmp_path, tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=6)
    settings = _settings(tmp_path)
    with QuirkCamera(clip.video, {"ffmpeg"}) as cam, recording({"ff": cam.url}, settings, reader="auto") as run:
        wait_for(lambda: len(run.closed_of("ff")) >= 5 and _readers(run, "ff"), 60, "five segments")
    assert [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"] == []
    assert _readers(run, "ff") == {"edged"} and cam.sessions == 1
    for seg in run.closed_of("ff")[1:5]:
        path = settings.data_dir / seg["path"]
        assert decode_errors(path) == "", seg["path"]
        assert seg["frames"] == pytest.approx(40, abs=2) and count_video_packets(path) == seg["frames"]
        assert count_video_packets(path) / media_duration(path) == pytest.approx(20, abs=0.5)


@pytest.mark.skipif(CVLC is None, reason="VLC (vlc-bin) is not installed: scripts/bootstrap --test")
def test_vlc_is_recorded_gap_free_with_auto(tmp_path):
    settings = _settings(tmp_path)
    with VlcServer(seconds=30) as vlc, recording({"vlc": vlc.url}, settings, reader="auto") as run:
        wait_for(lambda: len(run.closed_of("vlc")) >= 6 and _readers(run, "vlc"), 60, "six segments of VLC's camera")
    assert [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"] == []
    # VLC answers the TCP SETUP with 461 (UDP only); on a loaded box it has also answered another
    # status first (its media not ready): either way FFmpeg's reader records it
    assert _readers(run, "vlc") in ({f"ffmpeg (fallback: {UDP_ONLY})"}, {f"ffmpeg (fallback: {REFUSED})"})
    errors = {}
    segs = run.closed_of("vlc")
    # Gap-free: every picture of the 20 fps stream between the first segment's end and the sixth's
    # is in a file (a segment may hold one GOP or two: where VLC's stamps put the cut is item 5's).
    span_s = (segs[5]["end_us"] - segs[0]["end_us"]) / 1e6
    assert sum(seg["frames"] for seg in segs[1:6]) == pytest.approx(20 * span_s, rel=0.05), segs[:6]
    for seg in segs[1:6]:
        path = settings.data_dir / seg["path"]
        assert count_video_packets(path) == seg["frames"], seg
        if err := decode_errors(path):
            errors[seg["path"]] = err
    assert errors == {}, errors   # VLC stamps pictures alike: the recorder spreads them (design/0093)


def _decoded_pts(path) -> list[int]:
    run = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True, timeout=60)
    return [f["pts"] for f in json.loads(run.stdout)["frames"]]


@pytest.mark.skipif(CVLC is None, reason="VLC (vlc-bin) is not installed: scripts/bootstrap --test")
def test_vlcs_broken_times_are_made_in_2_s_gops(tmp_path):
    """VLC 3 stamps a 2 s GOP's pictures 0.1 s apart at 20 fps, each keyframe back at the GOP's
    time (design/0150); it ends the session at each loop of its 12 s clip, so the camera is
    connected three times: every file, the first after each connect included, decodes under
    `-xerror` (but for one picture VLC may send a packet short over UDP) with increasing
    presentation times; the pictures after each connection's first GOP are one frame apart, the
    camera's own times kept in each file, and its health says so."""
    settings = _settings(tmp_path)
    with VlcServer(seconds=12, gop=40) as vlc, recording({"vlc": vlc.url}, settings, reader="auto") as run:
        wait_for(lambda: len([e for e in run.events if e["ev"] == "state" and e["state"] == "offline"]) >= 2
                 and len(run.closed_of("vlc")) >= 8, 90, "three connections to VLC's camera")
    segs = run.closed_of("vlc")
    assert "timestamp jump" not in [s["reason"] for s in segs]  # not taken for the camera's clock jumping
    later, damaged = 0, []
    for i, seg in enumerate(segs):
        path = settings.data_dir / seg["path"]
        if err := decode_errors(path):
            # VLC sends over UDP: on a loaded box it now and then sends a picture a packet short (seen
            # once beside a CPU hog: one picture of a run, "error while decoding MB"), which FFmpeg's
            # reader hands on as it came. That damage is the camera's, once; anything else (a picture
            # split in two, times out of order) is the recorder's and fails here or below.
            assert "error while decoding MB" in err.splitlines()[0], (seg, err)
            damaged.append(seg["path"])
        pts = _decoded_pts(path)
        assert all(b > a for a, b in zip(pts, pts[1:])), (seg, pts)
        if i and segs[i - 1]["reason"] == "disconnect" or i == 0 or seg["frames"] < 10:
            continue  # a connection's first GOP, as the camera stamped it (0.1 s apart); or a stub
        assert {b - a for a, b in zip(pts, pts[1:])} == {4500}, (seg, pts)
        box = mp4.camera_times(path)
        assert box is not None and seg["retimed"] == len(box["pictures"]) >= seg["frames"] - 2  # type: ignore[arg-type]
        later += 1
    assert later >= 3
    assert len(damaged) <= 1, damaged
    stats = [e for e in run.events if e["ev"] == "stats"]
    assert any(e["times_broken"] for e in stats) and stats[-1]["times_made"] > 0
