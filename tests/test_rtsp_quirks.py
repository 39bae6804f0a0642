"""Real cameras' RTSP servers as they are (design/0092), from the scriptable quirk camera
(tests/support/quirk_camera.py): the session set up against each quirk, then every quirk
recorded at once by camera threads with reader "auto" and with the edged reader forced, each
segment decoding under `ffmpeg -xerror`; "auto" handing a session the edged reader cannot keep
to libavformat. The same quirks on bytes: tests/test_rtsp_text.py; live555's in the daemon:
tests/test_rtsp_quirks_daemon.py."""

from __future__ import annotations

import subprocess

import pytest

from recorder.camera import Settings
from recorder.reader_choice import LOST
from recorder.rtsp_session import Session
from tests.support.cameras import count_video_packets, make_clip, media_duration
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera
from tests.support.recorders import recording
from tests.support.rtp_clip import SEI

S = 1_000_000
# Each camera of the recording tests: (its quirks, whether it loses pictures on purpose).
CAMERAS = {
    "live555": ({"live555"}, False),
    "frames": ({"frames_first", "early_packets", "wrong_rtpinfo"}, False),
    "nortpinfo": ({"no_rtpinfo", "base_none", "no_sprop"}, False),
    "relative": ({"base_relative", "server_request"}, False),
    "schemeless": ({"base_schemeless", "sei"}, False),
    "doubled": ({"base_doubled", "redirect"}, False),
    "rooted": ({"rooted_control", "base_noslash"}, False),
    "kalive": ({"ka_refused", "timeout=4"}, False),
    "kacseq": ({"ka_cseq", "live555", "timeout=4"}, False),
    "digest": ({"digest", "stale", "timeout=4"}, False),
    "basic": ({"basic"}, False),
    "ssrc": ({"ssrc_change"}, True),
    "fucut": ({"fu_cut"}, True),
    "funoend": ({"fu_noend"}, True),
    "h265": ({"live555", "no_sprop"}, False),  # the "h265" cameras serve an H.265 clip (AP, FU)
    "h265fucut": ({"fu_cut"}, True),
    "h265funoend": ({"fu_noend", "frames_first"}, True),
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=6)


@pytest.fixture(scope="module")
def clip265(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=6, codec="h265")


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)


def decode_errors(path) -> str:
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    return run.stderr if run.returncode or run.stderr else ""


@pytest.mark.parametrize("quirks", [{"live555"}, {"frames_first", "early_packets"}, {"base_relative"},
                                    {"base_schemeless"}, {"base_doubled"}, {"base_noslash"}, {"base_none"},
                                    {"rooted_control"}, {"digest", "stale"}, {"basic"}, {"redirect"}],
                         ids=lambda q: "+".join(sorted(q)))
def test_the_session_is_set_up_against_each_quirk(clip, quirks):
    with QuirkCamera(clip.video, quirks) as cam:
        s = Session(cam.url, 3)
        try:
            base, media = s.describe()
            s.setup_and_play(base, media[0])
            assert s.session_id == "5EC7E7" and s.play_url.startswith(f"rtsp://127.0.0.1:{cam.port}/stream")
        finally:
            s.close()
    assert cam.methods.count("PLAY") == 1 and "s3cret" not in s.url
    if "live555" in quirks:  # its report before PLAY's answer is the stream's first bytes, not an answer
        assert s.leftover.startswith(b"$\x01\x00,") and s.keepalive_method == "GET_PARAMETER"
        assert s.keepalive_s == 30  # half its 65 s, capped at a minute (retina)
    if "rooted_control" in quirks:
        assert cam.methods.count("SETUP") == 2  # FFmpeg's join (a doubled path), then RFC 3986's
    if "stale" in quirks:
        assert s.counts["reauth"] == 1


@pytest.mark.parametrize("reader", ["auto", "edged"])
def test_every_quirk_is_recorded_whole_by_the_edged_reader(tmp_path, clip, clip265, reader):
    settings = _settings(tmp_path)
    cams = {name: QuirkCamera((clip265 if name.startswith("h265") else clip).video, quirks)
            for name, (quirks, _lossy) in CAMERAS.items()}
    for cam in cams.values():
        cam.__enter__()
    try:
        with recording({name: cam.url for name, cam in cams.items()}, settings, reader=reader) as run:
            # 5 segments of 2 s: past two keep-alives of the 4 s sessions, and their timeouts
            wait_for(lambda: all(len(run.closed_of(name)) >= 5 for name in cams), 90, "five segments of each camera")
            readers = {name: {e.get("reader") for e in run.events if e["ev"] == "stats" and e["camera"] == name}
                       for name in cams}
    finally:
        for cam in cams.values():
            cam.__exit__()
    offline = [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"]
    assert offline == [], offline
    for name, cam in cams.items():
        assert readers[name] == {"edged"}, (name, readers[name])
        assert (cam.sessions, cam.dropped) == (1, 0), name  # never reconnected, never dropped for want of a keep-alive
        lossy = CAMERAS[name][1]
        for seg in run.closed_of(name)[1:3]:
            path = settings.data_dir / seg["path"]
            assert decode_errors(path) == "", (name, seg["path"])
            if not lossy:  # gap-free: 20 pictures a second of media, 2 s a segment, all in the file
                assert seg["frames"] == pytest.approx(40, abs=2), (name, seg)
                assert count_video_packets(path) == seg["frames"], name
        if not lossy:
            path = settings.data_dir / run.closed_of(name)[3]["path"]
            assert count_video_packets(path) / media_duration(path) == pytest.approx(20, abs=0.5), name
    keepalives = {name: [m for m in cam.methods if m in ("GET_PARAMETER", "SET_PARAMETER", "OPTIONS")][1:]
                  for name, cam in cams.items()}
    assert "GET_PARAMETER" in keepalives["kalive"] and "OPTIONS" in keepalives["kalive"], keepalives["kalive"]
    assert keepalives["kacseq"].count("GET_PARAMETER") >= 2, keepalives["kacseq"]
    assert cams["digest"].refused_playing >= 1  # a stale nonce met mid-session, answered again, session kept
    assert cams["relative"].replies >= 1  # the server's OPTIONS was answered
    for seg in run.closed_of("schemeless")[1:3]:  # the SEI as the camera sent it, emulation prevention and all
        assert SEI in (settings.data_dir / seg["path"]).read_bytes()


def test_auto_records_a_session_the_edged_reader_cannot_keep_with_ffmpegs_reader(tmp_path, clip):
    settings = _settings(tmp_path)
    with QuirkCamera(clip.video, {"hates_edged"}) as cam, \
            recording({"cam": cam.url}, settings, reader="auto") as run:
        wait_for(lambda: len(run.closed_of("cam")) >= 3, 60, "three segments")
        wait_for(lambda: any(e.get("reader") for e in run.events if e["ev"] == "stats"), 30, "a stats report")
        rec = run.recs[0]
    assert rec.choice.fallback == LOST and rec.reader == "ffmpeg"
    shown = {e.get("reader") for e in run.events if e["ev"] == "stats" and e.get("reader", "").startswith("ffmpeg")}
    assert shown == {f"ffmpeg (fallback: {LOST})"}, shown
    for seg in run.closed_of("cam")[1:]:
        assert decode_errors(settings.data_dir / seg["path"]) == "", seg["path"]


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_a_camera_cut_off_after_a_delimiter_leaves_every_segment_decoding(tmp_path, clip, clip265, codec):
    """The quirk camera's `aud_cut`: each session ends after an access unit delimiter, before its
    picture (gst-rtsp-server's streams killed so, a failure in CI). The delimiter alone was
    written as the segment's last sample: "missing picture in access unit" under `-xerror`."""
    settings = _settings(tmp_path)
    with QuirkCamera((clip if codec == "h264" else clip265).video, {"aud_cut"}) as cam, \
            recording({"cam": cam.url}, settings, reader="edged") as run:
        wait_for(lambda: sum(s["reason"] == "disconnect" for s in run.closed_of("cam")) >= 2, 60,
                 "two sessions cut off")
    cut = [s for s in run.closed_of("cam") if s["reason"] == "disconnect"]
    assert cam.sessions >= 2 and len(cut) >= 2
    for seg in cut:
        assert seg["frames"] >= 9, seg  # the pictures before the cut are kept (a 2 s segment, then 9)
        assert decode_errors(settings.data_dir / seg["path"]) == "", seg
