"""Cameras opened with the quick probe (recorder/source.py, design/0056) are recorded as before:
H.264 with AAC, H.265, and a 25 fps camera, each checked with ffprobe (frame rate, duration
against the frames written, audio in step, no demuxer complaint). Real RTSP server, real PyAV.
"""

from fractions import Fraction

import pytest

from recorder.camera import Settings
from recorder.source import FIRST_CONNECT_MAX_US, Source, connect_timeout_us
from tests.support.cameras import RtspServer, count_video_packets, ffprobe, ffprobe_errors, make_clip
from tests.support.daemon import wait_for
from tests.support.recorders import recording

S = 1_000_000


def settings_for(tmp_path, connect_s: float = 5) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=4 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=int(connect_s * S), read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)


def test_quick_probed_h264_with_aac_h265_and_25_fps_cameras_record_whole_playable_segments(tmp_path):
    clips = {"avc": make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10, audio=True),
             "hevc": make_clip(tmp_path / "clips", fps=15, gop=15, seconds=10, codec="h265"),
             "pal": make_clip(tmp_path / "clips", fps=25, gop=25, seconds=10)}
    settings = settings_for(tmp_path)
    with RtspServer({cam: clip.spec() for cam, clip in clips.items()}) as server:
        for cam in clips:  # what the remux reads off the probe is there without the frame-rate probe
            src = Source(server.url(cam), settings, first=True)
            try:
                video = src.container.streams.video[0]
                assert video.average_rate == clips[cam].fps
                assert (video.codec_context.width, video.codec_context.height) == (clips[cam].width,
                                                                                    clips[cam].height)
                assert len(src.container.streams.audio) == (cam == "avc")
            finally:
                src.close()
        with recording({cam: server.url(cam) for cam in clips}, settings) as run:
            wait_for(lambda: all(len(run.closed_of(cam)) >= 3 for cam in clips), 90, "three closed segments of each camera")
    events, closed = run.events, run.closed
    assert all(rec.counters["reconnects"] == 0 for rec in run.recs)
    opened = {e["path"]: e["start_us"] for e in events if e["ev"] == "open"}
    for cam, clip in clips.items():
        # the first segment starts wherever the connection did; the second is a whole one
        seg = [c for c in closed if c["camera"] == cam][1]
        path = settings.data_dir / seg["path"]
        assert ffprobe_errors(path) == ""
        streams = {s["codec_type"]: s for s in ffprobe(path)["streams"]}
        video = streams["video"]
        assert video["codec_name"] == ("hevc" if clip.codec == "h265" else "h264")
        assert Fraction(video["r_frame_rate"]) == clip.fps
        assert float(Fraction(video["avg_frame_rate"])) == pytest.approx(clip.fps, rel=0.001)
        assert (video["width"], video["height"]) == (clip.width, clip.height)
        assert count_video_packets(path) == seg["frames"]
        assert float(video["duration"]) == pytest.approx(seg["frames"] / clip.fps, abs=1.5 / clip.fps)
        span_s = (seg["end_us"] - opened[seg["path"]]) / S
        mine = [(c["reason"], c["end_us"] - opened[c["path"]]) for c in closed if c["camera"] == cam]
        assert span_s == pytest.approx(4, abs=0.1), f"{cam}: segments (reason, span us) {mine}"
        assert float(video["duration"]) == pytest.approx(span_s, abs=0.1)
        if cam == "avc":
            sound = streams["audio"]
            assert sound["codec_name"] == "aac" and sound["sample_rate"] == "16000"
            assert float(sound["duration"]) == pytest.approx(float(video["duration"]), abs=0.2)
        else:
            assert "audio" not in streams


def test_a_thread_s_first_connection_waits_longer_and_later_ones_as_configured(tmp_path):
    assert connect_timeout_us(settings_for(tmp_path, 5), first=True) == 10 * S
    assert connect_timeout_us(settings_for(tmp_path, 5), first=False) == 5 * S
    assert connect_timeout_us(settings_for(tmp_path, 2), first=True) == 4 * S
    assert connect_timeout_us(settings_for(tmp_path, 8), first=True) == FIRST_CONNECT_MAX_US
    assert connect_timeout_us(settings_for(tmp_path, 60), first=True) == 60 * S  # never less than configured
