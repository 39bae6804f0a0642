"""RTSP's transport per camera (design/0060): auto, tcp, udp, against a server that is not
gst-rtsp-server (VLC's, UDP only), and what the camera state says when one is refused."""

from __future__ import annotations

import errno
import subprocess

import av
import pytest

from edged.config import ConfigError, load_config
from recorder.camera import Settings
from recorder.diagnose import NOT_FOUND, TRANSPORT, explain_open
from tests.support.bad_cameras import BadCamera
from tests.support.cameras import ffprobe_errors
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.recorders import recording
from tests.support.vlc_server import CVLC, VlcServer

URL = "rtsp://admin:s3cret@192.0.2.1:554/stream"
S = 1_000_000


def test_a_refused_transport_and_a_404_are_named_with_what_to_set():
    refused = av.error.OSError(errno.EPROTONOSUPPORT, "Protocol not supported", URL)
    kind, words = explain_open(refused, URL, 0.1, 5, None, "tcp")
    assert kind == TRANSPORT and "refuses RTSP over TCP" in words and 'transport = "udp"' in words
    kind, words = explain_open(refused, URL, 0.1, 5, None, "udp")
    assert kind == TRANSPORT and "refuses RTSP over UDP" in words and 'transport = "tcp"' in words
    kind, words = explain_open(refused, URL, 0.1, 5, None, None)  # auto: both were refused
    assert kind == TRANSPORT and "both" in words
    kind, words = explain_open(av.error.HTTPNotFoundError(errno.ENOENT, "404", URL), URL, 0.1, 5, None)
    assert kind == NOT_FOUND and "404" in words and "path" in words
    assert "s3cret" not in words


@pytest.mark.parametrize("value,ok", [("auto", True), ("tcp", True), ("udp", True), ("UDP", False), ("http", False)])
def test_transport_is_checked_at_load_with_its_field(tmp_path, value, ok):
    path = write_config(tmp_path / "edged.toml", tmp_path / "data",
                        [{"id": "a", "url": "rtsp://192.0.2.1/s"}, {"id": "b", "url": "rtsp://192.0.2.2/s",
                                                                     "transport": value}])
    if ok:
        cams = load_config(path).cameras
        assert (cams[0].transport, cams[1].transport) == ("auto", value)
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "cameras[1].transport" and '"auto"' in err.value.message


@pytest.mark.skipif(CVLC is None, reason="VLC (vlc-bin) is not installed: scripts/bootstrap --test")
def test_a_udp_only_server_is_recorded_with_auto_and_refused_with_tcp(tmp_path):
    with VlcServer() as vlc, BadCamera("not_found") as missing:
        # Recording over UDP is libavformat's (design/0079): "auto" even when the suite forces a reader.
        cams = [{"id": "auto", "url": vlc.url, "reader": "auto"}, {"id": "tcp", "url": vlc.url, "transport": "tcp"},
                {"id": "missing", "url": missing.url}]
        config = write_config(tmp_path / "edged.toml", tmp_path / "data", cams, storage={"segment_length": "2s"},
                              recorder={"connect_timeout": "3s", "read_timeout": "3s", "reconnect_max": "2s"})
        d = Daemon(config, tmp_path / "data", tmp_path / "edged.log").start()
        try:
            wait_for(lambda: len(d.segments("auto")) >= 2, 60, "two segments of the UDP-only camera")
            assert d.camera("auto")["state"] == "recording"
            assert "it refuses RTSP over TCP; recording over UDP" in d.log
            row = wait_for(lambda: (r := d.camera("tcp")) and r["error_kind"] and r, 30, "the tcp camera's reason")
            assert row["state"] == "offline" and row["error_kind"] == TRANSPORT, row
            assert 'refuses RTSP over TCP' in row["last_error"] and 'transport = "udp"' in row["last_error"], row
            row = wait_for(lambda: (r := d.camera("missing")) and r["error_kind"] and r, 30, "the 404's reason")
            assert row["error_kind"] == NOT_FOUND and "404" in row["last_error"], row
        finally:
            assert d.stop() == 0, d.log
        segs = d.segments("auto")
        assert len(segs) >= 2
        for seg in segs:
            path = d.data_dir / seg["path"]
            assert ffprobe_errors(path) == "", seg
            decode = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                                    capture_output=True, text=True, timeout=60)
            # VLC 3.0 stamps the frames after a keyframe 1/10 s apart whatever the rate (its RTP
            # timestamps, kept as sent): the null muxer's complaint about them is not a decode error.
            errors = [ln for ln in decode.stderr.splitlines()
                      if "non monotonically increasing dts to muxer" not in ln and "Last message repeated" not in ln]
            assert decode.returncode == 0 and not errors, (seg["path"], decode.stderr)
        assert d.log.count("recording over UDP") == 1, "the transport that worked is kept across reconnects"


@pytest.mark.skipif(CVLC is None, reason="VLC (vlc-bin) is not installed: scripts/bootstrap --test")
def test_auto_keeps_the_transport_that_worked_across_reconnects(tmp_path, caplog):
    # A 4 s clip: VLC ends the session at every loop, so the camera reconnects every few seconds.
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=3 * S, read_timeout_us=3 * S, reconnect_max_us=S, sample_us=0)
    caplog.set_level("INFO", logger="recorder.camera")
    # Recording over UDP is libavformat's (design/0079): "auto" even when the suite forces a reader.
    with VlcServer(seconds=4) as vlc, recording({"vlc": vlc.url}, settings, reader="auto") as run:
        wait_for(lambda: [e for e in run.events if e["ev"] == "state" and e["state"] == "recording"][2:], 60,
                 "recording in three runs")
        rec = run.recs[0]
    assert rec.transport == "udp"
    fallbacks = [r for r in caplog.records if "refuses RTSP over TCP" in r.getMessage()]
    assert len(fallbacks) == 1, [r.getMessage() for r in caplog.records]
