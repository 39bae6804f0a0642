"""A picture sent as several slices is stored as one frame (recorder/access_unit.py, design/0060)."""

from __future__ import annotations

import subprocess

import pytest

from recorder.access_unit import continues_picture
from recorder.camera import Settings
from tests.support.cameras import RtspServer, count_video_packets, ffprobe_errors, media_duration
from tests.support.daemon import wait_for
from tests.support.recorders import recording

S = 1_000_000
SPS, PPS = b"\x00\x00\x00\x01\x67\x42\xc0\x15", b"\x00\x00\x00\x01\x68\xce\x3c\x80"


@pytest.mark.parametrize("data,codec,expected", [
    (SPS + PPS + b"\x00\x00\x01\x65\x88\x84", "h264", False),      # IDR slice, first_mb_in_slice 0 (bit 1)
    (SPS + PPS + b"\x00\x00\x01\x65\x08\x84", "h264", True),       # IDR slice further down the picture
    (b"\x00\x00\x00\x01\x41\x1a\x00", "h264", True),               # non-IDR slice, first_mb != 0
    (b"\x00\x00\x00\x01\x41\x9a\x00", "h264", False),              # non-IDR slice starting a picture
    (SPS + PPS, "h264", False),                                     # no slice at all
    (b"\x00\x00\x01\x26\x01\xaf\x00", "hevc", False),              # IDR_W_RADL, first_slice_segment_in_pic_flag 1
    (b"\x00\x00\x01\x26\x01\x2f\x00", "hevc", True),               # a later slice segment
    (b"\x00\x00\x01\x40\x01\x0c\x00\x00\x01\x26\x01\x2f\x00", "hevc", True),  # after a VPS
    (SPS + PPS + b"\x00\x00\x01\x65\x08\x84", "mjpeg", False),      # another codec: never joined
])
def test_a_slice_continues_a_picture_when_the_codec_says_so(data, codec, expected):
    assert continues_picture(data, codec) is expected


def test_a_keyframe_sent_as_two_slices_is_stored_as_one_whole_frame(tmp_path):
    # The fake's live mount: x264 zerolatency (sliced threads), SPS/PPS before each slice;
    # FFmpeg's RTSP demuxer returns each keyframe as two packets with one timestamp.
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    with RtspServer({"sliced": "live:320x240@20"}) as server, recording({"sliced": server.url("sliced")},
                                                                        settings) as run:
        wait_for(lambda: len(run.closed_of("sliced")) >= 3, 60, "three whole segments")
    for seg in run.closed_of("sliced")[1:3]:  # whole ones: not the first, opened mid-warm-up
        path = settings.data_dir / seg["path"]
        assert ffprobe_errors(path) == ""
        decode = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                                capture_output=True, text=True, timeout=60)
        assert decode.returncode == 0 and decode.stderr == "", decode.stderr
        frames = count_video_packets(path)
        assert frames == seg["frames"]
        rate = frames / media_duration(path)
        assert rate == pytest.approx(20, abs=0.3), (frames, media_duration(path))


def test_rtp_timestamps_and_sequence_numbers_that_wrap_leave_no_gap(tmp_path):
    # The fake's timestamp wraps 3 s in, its sequence number after 35 packets (livewrap).
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    with RtspServer({"wrap": "livewrap:320x240@20"}) as server, recording({"wrap": server.url("wrap")},
                                                                         settings) as run:
        wait_for(lambda: len(run.closed_of("wrap")) >= 4, 60, "four whole segments, past the wrap")
    closed = run.closed_of("wrap")[:4]
    states = [e["state"] for e in run.events if e["ev"] == "state"]
    assert states.count("offline") == 0, states  # one run: no reconnect at the wrap
    assert all(c["reason"] == "boundary" for c in closed), closed
    starts = {e["path"]: e["start_us"] for e in run.events if e["ev"] == "open"}
    for before, after in zip(closed, closed[1:4]):
        assert ffprobe_errors(settings.data_dir / after["path"]) == ""
        # no gap: each segment starts where the one before ended (one frame at 20 fps)
        assert abs(starts[after["path"]] - before["end_us"]) <= 50_000, (before, after)
    for seg in closed[1:3]:
        path = settings.data_dir / seg["path"]
        assert count_video_packets(path) / media_duration(path) == pytest.approx(20, abs=0.5)
