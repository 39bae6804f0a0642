"""The fake-camera harness itself: if it lies, every recording test downstream lies too."""

from __future__ import annotations

import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from tests.support.cameras import (
    RtspServer,
    count_video_packets,
    ffprobe,
    ffprobe_errors,
    make_clip,
    packet_pts,
)

RECORD_S = 3


@pytest.fixture(scope="module")
def clip_dir(pytestconfig, tmp_path_factory) -> Path:
    """Clips are cached across runs in pytest's cache dir when it is enabled."""
    cache = getattr(pytestconfig, "cache", None)
    return cache.mkdir("edged-clips") if cache is not None else tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def clips(clip_dir):
    # 2 s clips, so a 3 s recording crosses the loop point of the file.
    return make_clip(clip_dir, seconds=2), make_clip(clip_dir, seconds=2, audio=True)


@pytest.fixture(scope="module")
def server(clips):
    video, av = clips
    with RtspServer({"cam": video.spec(), "camav": av.spec(), "live": "live:160x120@10",
                     "snd": f"clipsnd:{video.video},pcma:440@{video.fps}"}) as srv:
        yield srv


def streams_by_type(info: dict) -> dict[str, dict]:
    return {s["codec_type"]: s for s in info["streams"]}


def record(url: str, out: Path) -> None:
    """What the brief's recorder baseline does; a frozen RTP clock makes it never finish."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
           "-t", str(RECORD_S), "-c", "copy", "-y", str(out)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=RECORD_S + 10)
    except subprocess.TimeoutExpired:
        pytest.fail("recording %ss of %s did not end: are the RTP timestamps advancing?"
                    % (RECORD_S, url))


def test_clip_mount_serves_h264_at_the_clip_resolution(server, clips):
    streams = streams_by_type(ffprobe(server.url("cam")))
    assert set(streams) == {"video"}
    video = streams["video"]
    assert video["codec_name"] == "h264"
    assert (video["width"], video["height"]) == (clips[0].width, clips[0].height)


def test_clipav_mount_serves_h264_and_16k_mono_aac(server, clips):
    streams = streams_by_type(ffprobe(server.url("camav")))
    assert set(streams) == {"video", "audio"}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (clips[1].width, clips[1].height)
    assert streams["audio"]["codec_name"] == "aac"
    assert int(streams["audio"]["sample_rate"]) == 16000 and streams["audio"]["channels"] == 1


def test_live_mount_serves_h264(server):
    video = streams_by_type(ffprobe(server.url("live")))["video"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 160, 120)


def test_recordings_have_real_frame_timing_across_the_loop_point(server, clips, tmp_path):
    """Catches the h264parse pitfall: with only DTS set every RTP timestamp is the same,
    so ffmpeg either never reaches -t or writes frames 1 tick (11 us) apart."""
    fps = clips[0].fps
    outs = {name: tmp_path / ("%s.mp4" % name) for name in ("cam", "camav")}
    with ThreadPoolExecutor(len(outs)) as pool:  # in parallel: keeps the file under 30 s
        for f in [pool.submit(record, server.url(n), p) for n, p in outs.items()]:
            f.result()

    for name, out in outs.items():
        assert ffprobe_errors(out) == "", name
        assert count_video_packets(out) == pytest.approx(fps * RECORD_S, rel=0.1), name
        pts = packet_pts(out, "v")
        deltas = [b - a for a, b in zip(pts, pts[1:])]
        assert min(deltas) > 0, "%s: video pts not strictly increasing" % name
        assert statistics.median(deltas) == pytest.approx(1 / fps, rel=0.05), name
        assert pts[-1] - pts[0] == pytest.approx(RECORD_S - 1 / fps, abs=0.15), name

    audio = packet_pts(outs["camav"], "a")
    deltas = [b - a for a, b in zip(audio, audio[1:])]
    assert min(deltas) > 0, "audio pts not strictly increasing"
    assert statistics.median(deltas) == pytest.approx(1024 / 16000, rel=0.05)
    assert audio[-1] - audio[0] == pytest.approx(RECORD_S, abs=0.2)


def test_a_client_joining_a_sound_mount_does_not_rewind_it_under_the_others(server):
    """A camera is live: the Range of a PLAY ("npt=0.000-", FFmpeg's and the edged reader's)
    cannot move it. gst-rtsp-server seeks a seekable shared media to it, and a clipsnd mount's
    audiotestsrc made its pipeline seekable: each client that joined rewound it under those
    playing, while the server's main loop, which answers every client's RTSP, waited for the
    pipeline to preroll again (the audio test's cameras that stopped answering)."""
    first = av.open(server.url("snd"), options={"rtsp_transport": "tcp"}, timeout=10)
    try:
        video = first.streams.video[0]
        seen = 0.0
        for pkt in first.demux(video):
            if pkt.pts is not None:
                seen = max(seen, float(pkt.pts * video.time_base))
            if seen >= 1.5:
                break
        second = av.open(server.url("snd"), options={"rtsp_transport": "tcp"}, timeout=10)
        second.close()
        after = []
        for pkt in first.demux(video):
            if pkt.pts is not None:
                after.append(float(pkt.pts * video.time_base))
            if len(after) >= 30:
                break
    finally:
        first.close()
    assert min(after) > seen - 0.5, f"the stream went back from {seen:.2f} s to {min(after):.2f} s"


def test_restart_keeps_the_url_working(clips):
    with RtspServer({"cam": clips[0].spec()}) as srv:
        url = srv.url("cam")
        assert streams_by_type(ffprobe(url))["video"]["codec_name"] == "h264"
        srv.stop()
        with pytest.raises(subprocess.CalledProcessError):
            ffprobe(url)  # proves the probe below really talks to the new process
        srv.restart()
        assert srv.url("cam") == url
        assert streams_by_type(ffprobe(url))["video"]["codec_name"] == "h264"


def test_bad_spec_fails_fast_with_the_servers_reason(tmp_path):
    srv = RtspServer({"cam": "clip:%s@20" % (tmp_path / "missing.h264")})
    with pytest.raises(RuntimeError, match="no such video file"):
        srv.start(timeout=10)
    srv.close()
