"""The edged reader (design/0079) with real gst-rtsp-server cameras: recorded with reader =
"edged" forced (segments checked by ffprobe and `ffmpeg -xerror`), the cameras' words when it
cannot, and "auto" falling back to libavformat on a server it cannot read over TCP. Its pure
parts: tests/test_rtp.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from edged.config import ConfigError, load_config
from recorder import edged_source
from recorder.camera import Settings
from tests.support.bad_cameras import BadCamera
from tests.support.cameras import RtspServer, count_video_packets, ffprobe_errors, make_clip, media_duration
from tests.support.daemon import wait_for, write_config
from tests.support.recorders import recording

S = 1_000_000


@pytest.mark.parametrize("value,ok", [("auto", True), ("edged", True), ("ffmpeg", True), ("FFmpeg", False),
                                      ("libav", False)])
def test_reader_is_checked_at_load_with_its_field(tmp_path, value, ok, monkeypatch):
    monkeypatch.delenv("EDGED_TEST_READER", raising=False)
    path = write_config(tmp_path / "edged.toml", tmp_path / "data",
                        [{"id": "a", "url": "rtsp://192.0.2.1/s"}, {"id": "b", "url": "rtsp://192.0.2.2/s",
                                                                     "reader": value}])
    if ok:
        cams = load_config(path).cameras
        assert (cams[0].reader, cams[1].reader) == ("auto", value)
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "cameras[1].reader" and '"auto"' in err.value.message


# real cameras -----------------------------------------------------------------------------
def _settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0, **kw)


def _decodes(path) -> None:
    assert ffprobe_errors(path) == ""
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def _readers(run, cam: str) -> set:
    return {e.get("reader") for e in run.events if e["ev"] == "stats" and e["camera"] == cam}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return (make_clip(folder, width=320, height=240, fps=20, gop=20, seconds=6),
            make_clip(folder, width=320, height=240, fps=20, gop=20, seconds=6, codec="h265"))


def test_edged_reader_records_h264_h265_and_wraps_that_decode(tmp_path, clips):
    h264, h265 = clips
    settings = _settings(tmp_path)
    mounts = {"avc": f"clip:{h264.video}@20", "hevc": f"clip265:{h265.video}@20", "wrap": "livewrap:320x240@20"}
    with RtspServer(mounts) as server, recording({m: server.url(m) for m in mounts}, settings, reader="edged") as run:
        wait_for(lambda: all(len(run.closed_of(m)) >= 4 for m in mounts), 90, "four segments of each camera")
        wait_for(lambda: all(_readers(run, m) for m in mounts), 30, "stats of each camera")
    states = [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"]
    assert states == [], states
    for cam in mounts:
        assert _readers(run, cam) == {"edged"}, (cam, _readers(run, cam))
        for seg in run.closed_of(cam)[1:4]:
            path = settings.data_dir / seg["path"]
            _decodes(path)
            assert count_video_packets(path) == seg["frames"]
            assert count_video_packets(path) / media_duration(path) == pytest.approx(20, abs=0.5), cam


def test_edged_forced_says_the_cameras_words(tmp_path):
    settings = _settings(tmp_path, )
    with BadCamera("auth") as auth, BadCamera("bad_sdp") as bad, BadCamera("not_found") as missing, \
            BadCamera("udp_only") as udp, recording({"auth": auth.url, "bad": bad.url, "missing": missing.url,
                                                     "udp": udp.url}, settings, reader="edged") as run:
        def kinds():
            return {e["camera"]: e["kind"] for e in run.events if e["ev"] == "state" and e["state"] == "offline"}
        wait_for(lambda: len(kinds()) == 4, 40, "each camera offline")
    assert kinds() == {"auth": "auth", "bad": "unsupported", "missing": "not_found", "udp": "transport"}


@pytest.mark.skipif(shutil.which("cvlc") is None, reason="VLC is not installed")
def test_auto_falls_back_to_ffmpeg_on_a_udp_only_server_and_says_so(tmp_path):
    from tests.support.vlc_server import VlcServer

    settings = _settings(tmp_path)
    with VlcServer() as vlc, recording({"vlc": vlc.url}, settings, reader="auto") as run:
        wait_for(lambda: len(run.closed_of("vlc")) >= 2 and _readers(run, "vlc"), 60, "the VLC camera recorded")
    (reader,) = _readers(run, "vlc")
    assert reader.startswith("ffmpeg (fallback: "), reader
    # VLC stamps about half of each GOP alike: spread at the frame rate and counted, every segment
    # decodes (design/0093; it was ffprobe only, `-f null` failed with "non monotonically increasing dts")
    for seg in run.closed_of("vlc"):
        _decodes(settings.data_dir / seg["path"])
    assert sum(seg["retimed"] for seg in run.closed_of("vlc")) > 0


def test_a_low_water_read_records_whole_pictures(tmp_path, clips):
    # The reader is woken at 64 KiB or 125 ms (design/0079 "Fewer wakes"). The 320x240 clip sends
    # ~60 KB a second, so every read ends at the bound with what has come (or with nothing,
    # between bursts: no stall until read_timeout).
    assert (edged_source.READ_LOWAT, edged_source.READ_WAIT_US) == (65536, 125_000)
    h264, _ = clips
    slow = make_clip(tmp_path / "clips", width=320, height=240, fps=5, gop=10, seconds=6)
    settings = _settings(tmp_path)
    with RtspServer({"avc": f"clip:{h264.video}@20", "slow": f"clip:{slow.video}@5"}) as server, \
            recording({"avc": server.url("avc"), "slow": server.url("slow")}, settings, reader="edged") as run:
        wait_for(lambda: min(len(run.closed_of("avc")), len(run.closed_of("slow"))) >= 4, 90, "four segments each")
    assert [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"] == []
    for cam, fps in (("avc", 20), ("slow", 5)):
        for seg in run.closed_of(cam)[1:4]:
            path = settings.data_dir / seg["path"]
            _decodes(path)
            assert count_video_packets(path) == seg["frames"]
            assert count_video_packets(path) / media_duration(path) == pytest.approx(fps, abs=0.5)
    # With the default fragment_length a 20 fps camera is read every other turn of the worker's reader, a 5 fps
    # camera every turn (design/0552): each muxer's cut allows for its wait; the pictures of both are whole and
    # all there, read in turns by one reader, as above.
    arrival = {rec.id: rec.placement.arrival_us for rec in run.recs}
    assert arrival == {"avc": 2 * edged_source.READ_WAIT_US, "slow": edged_source.READ_WAIT_US}
