"""Sound (issue 18 item 4, design/0049): G.711 from real RTSP cameras recorded as AAC that
ffprobe reads and that is audible, AAC kept as it comes, the level meter, and the
`audio_silent` alarm of a duty-desk camera whose microphone is silent, against a real daemon.

The cameras are gst-rtsp-server mounts (tests/support/rtsp_server.py `clipsnd:`): an H.264
clip plus an 8 kHz G.711 sine tone peaking at -12 dBFS (RMS -15 dBFS), or G.711 digital
silence (-72 dBFS after decoding).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from edged.config import load_config
from edged.config.health import HealthConfig, effective
from edged.rules import health
from recorder import audio
from recorder.camera import Settings
from storage.export.copy import copy_camera
from storage.export.plan import plan_camera
from tests.support.cameras import RtspServer, ffprobe, ffprobe_errors, make_clip, media_duration
from tests.support.catalog import alarms
from tests.support.configs import MINIMAL, camera_toml, error_for, write
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.recorders import recording

S = 1_000_000


def tone(law: str, hz: int = 440) -> str:
    return f"{law}:{hz}"


def mean_volume(path: Path) -> float:
    """ffmpeg's own measure of the decoded audio (mean RMS, dB): independent of recorder/audio.py."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "info", "-i", str(path), "-vn", "-af", "volumedetect",
                          "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    m = re.search(r"mean_volume: (-?[0-9.]+|-inf) dB", out.stderr)
    assert m, out.stderr[-2000:]
    return float(m.group(1))


# --- the pieces ------------------------------------------------------------------------------

def test_meter_reports_rms_dbfs_over_its_window():
    m = audio.Meter()
    assert m.take() is None  # nothing decoded: no level (never "silent")
    t = np.arange(8000) / 8000
    m.add(0.5 * np.sin(2 * np.pi * 440 * t))
    assert m.take() == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)  # -9.0 dBFS
    m.add(np.zeros(800))
    assert m.take() == audio.SILENCE_DB
    assert audio.as_float(np.array([-32768, 16384], dtype=np.int16)).tolist() == [-1.0, 0.5]
    assert audio.as_float(np.array([0, 128], dtype=np.uint8)).tolist() == [-1.0, 0.0]


def test_aac_rates():
    assert [audio.output_rate(r) for r in (8000, 16000, 44100, 48000, 96000, 11000)] == [
        8000, 16000, 44100, 48000, 48000, 11025]


@pytest.mark.parametrize("codec", ["pcm_alaw", "pcm_mulaw"])
def test_g711_is_resampled_on_the_camera_timeline_across_a_hole_and_encodes_to_aac(tmp_path, codec):
    """Packets dropped for a second (a camera's lost audio) leave a one-second step in the frame
    times, not a shift of everything after it; the AAC track decodes to the tone's level."""
    src = tmp_path / "in.mka"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=8000:d=4",
                    "-c:a", codec, str(src)], check=True)
    inp = av.open(str(src))
    path = audio.select(inp.streams.audio, "cam")
    assert isinstance(path, audio.Transcoder) and path.template == audio.AacSpec(8000, "mono", 32_000)
    out_path = tmp_path / "out.mp4"
    out = av.open(str(out_path), "w", format="mp4")
    dst = path.template.add_to(out)
    times = []
    for pkt in inp.demux(path.inputs):
        if pkt.size == 0 or 1.5 <= float(pkt.pts * pkt.time_base) < 2.5:
            continue
        for frame in path.feed(pkt):
            assert frame.time_base == Fraction(1, 8000) and frame.format.name == "fltp"
            assert frame.samples == 1024 and frame.layout.name == "mono"
            times.append(frame.pts / 8000)
            out.mux(dst.encode(frame))
    out.mux(dst.encode(None))
    out.close()
    steps = np.diff(times)
    assert times[0] == 0 and (steps > 0).all()
    assert sorted(steps)[-1] == pytest.approx(1.0 + 1024 / 8000, abs=0.03)  # the hole, where it was
    assert sorted(steps)[-2] == pytest.approx(1024 / 8000)                 # elsewhere: back to back
    assert times[-1] == pytest.approx(4.0 - 1024 / 8000, abs=0.13)          # the end, at its time
    assert path.report()["audio_level_db"] == pytest.approx(-21.1, abs=0.5)  # lavfi's sine: 1/8 of full scale
    assert path.report()["audio_level_db"] is None  # the window was taken
    assert path.report()["audio_transcoded_from"] == codec
    assert ffprobe(out_path)["streams"][0]["codec_name"] == "aac"
    assert mean_volume(out_path) == pytest.approx(-21.1, abs=1.0)


def test_aac_passes_through_untouched_and_is_metered(tmp_path):
    clip = make_clip(tmp_path, seconds=4, audio=True)
    inp = av.open(str(clip.audio))
    path = audio.select(inp.streams.audio, "cam")
    assert type(path) is audio.AudioPath and path.template is inp.streams.audio[0]
    for pkt in inp.demux(path.inputs):
        if pkt.size:
            data = bytes(pkt)
            assert path.feed(pkt) == [pkt] and bytes(pkt) == data
    assert path.report() == {"audio_level_db": pytest.approx(-21.0, abs=1.0), "audio_error": None,
                             "audio_transcoded_from": None}


def test_no_audio_stream_is_no_audio_and_no_error():
    path = audio.select([], "cam")
    assert path.template is None and path.inputs == [] and path.report()["audio_error"] is None


# --- health rules (pure) ---------------------------------------------------------------------

def view(stats):
    return health.CameraView(id="desk", enabled=True, audio_required=True, state="recording", stats=stats,
                             image=None, similarity=None)


STATS = {"fps": 20.0, "width": 1920, "height": 1080, "audio": 1, "audio_packets": 250}


def test_audio_silent_is_judged_on_the_level_with_its_own_delay():
    cfg = HealthConfig()
    present, known = health.conditions(view({**STATS, "audio_level_db": -72.2}), cfg, 600)
    assert "audio_silent" in known and "-72 dBFS is below -60 dBFS" in present["audio_silent"]
    present, known = health.conditions(view({**STATS, "audio_level_db": -15.0}), cfg, 600)
    assert "audio_silent" in known and "audio_silent" not in present
    # no level (nothing decoded): not judged, so the alarm neither rises nor clears
    assert "audio_silent" not in health.conditions(view(STATS), cfg, 600)[1]
    # a camera's own floor and wait ([cameras.health], applied by edged.config.health.effective)
    own = effective(cfg, (("audio_silent_level", -45.0), ("audio_silent_after_us", 7 * S)))
    present, _ = health.conditions(view({**STATS, "audio_level_db": -50.0}), own, 600)
    assert "audio_silent" in present
    assert health.delays("audio_silent", cfg) == (cfg.audio_silent_after_us, cfg.clear_after_us)
    assert health.delays("audio_silent", own)[0] == 7 * S
    assert health.delays("video_dark", cfg) == (cfg.raise_after_us, cfg.clear_after_us)
    # not required: not judged at all
    quiet = health.CameraView(id="lobby", enabled=True, audio_required=False, state="recording",
                              stats={**STATS, "audio_level_db": -90.0}, image=None, similarity=None)
    assert "audio_silent" not in health.conditions(quiet, cfg, 600)[1]


def test_audio_that_cannot_be_recorded_says_why():
    present, _ = health.conditions(view({**STATS, "audio_error": "the camera sends audio in a format FFmpeg "
                                                                 "does not know", "audio": 0}), HealthConfig(), 600)
    assert present["audio_missing"].endswith("the camera sends audio in a format FFmpeg does not know")
    assert "audio_silent" not in present


def test_audio_silence_config_in_health_and_per_camera(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + '\n[health]\naudio_silent_level = -50\naudio_silent_after = "2m"\n'))
    assert (cfg.health.audio_silent_level, cfg.health.audio_silent_after_us) == (-50.0, 120 * S)
    assert (HealthConfig().audio_silent_level, HealthConfig().audio_silent_after_us) == (-60.0, 300 * S)
    cfg = load_config(write(tmp_path, camera_toml(id='"desk"', url='"rtsp://10.0.0.5/1"', audio_required="true",
                                                  health='{ audio_silent_level = -70.5, audio_silent_after = "30s" }')))
    own = cfg.health_for("desk")
    assert (own.audio_silent_level, own.audio_silent_after_us) == (-70.5, 30 * S)
    for text, field in (("[health]\naudio_silent_level = 3", "health.audio_silent_level"),
                        ('[health]\naudio_silent_after = "soon"', "health.audio_silent_after"),
                        ('[health]\naudio_silent_after = "2d"', "health.audio_silent_after")):
        assert error_for(tmp_path, MINIMAL + "\n" + text + "\n").field == field
    err = error_for(tmp_path, camera_toml(id='"desk"', url='"rtsp://10.0.0.5/1"', health='{ audio_silent_level = "loud" }'))
    assert err.field == "cameras[0].health.audio_silent_level"


# --- real cameras ----------------------------------------------------------------------------

def test_g711_cameras_are_recorded_as_aac_that_is_audible_and_in_step_with_the_video(tmp_path):
    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10)
    mounts = {law: f"clipsnd:{clip.video},{tone(law)}@20" for law in ("pcma", "pcmu")}
    settings = Settings(data_dir=tmp_path / "data", segment_us=4 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    # Sound is recorded by libavformat's reader (design/0079): "auto" even when the suite forces one.
    with RtspServer(mounts) as server, recording({law: server.url(law) for law in mounts}, settings,
                                                 reader="auto") as run:
        wait_for(lambda: all(len(run.closed_of(law)) >= 2 for law in mounts), 60, "two whole segments of each camera")
        wait_for(lambda: all([e for e in run.events if e["ev"] == "stats" and e["camera"] == law
                              and e["audio_level_db"] is not None] for law in mounts), 30, "stats with a level")
    events, closed = run.events, run.closed
    for law, codec in (("pcma", "pcm_alaw"), ("pcmu", "pcm_mulaw")):
        stats = [e for e in events if e["ev"] == "stats" and e["camera"] == law and e["audio_level_db"] is not None]
        assert stats[-1]["audio"] == 1 and stats[-1]["audio_codec"] == codec
        assert stats[-1]["audio_transcoded_from"] == codec and stats[-1]["audio_error"] is None
        assert stats[-1]["audio_level_db"] == pytest.approx(-15.0, abs=1.5)
        for seg in [c for c in closed if c["camera"] == law][:2]:
            path = settings.data_dir / seg["path"]
            assert seg["audio"] == 1 and ffprobe_errors(path) == ""
            streams = {s["codec_type"]: s for s in ffprobe(path)["streams"]}
            assert streams["audio"]["codec_name"] == "aac" and streams["audio"]["sample_rate"] == "8000"
            assert mean_volume(path) == pytest.approx(-15.0, abs=1.5)  # audible: the tone, not silence
            # in step: the sound covers the picture's span (at most an AAC frame and a video frame off)
            span_v, span_a = float(streams["video"]["duration"]), float(streams["audio"]["duration"])
            assert abs(span_a - span_v) < 0.2, (span_a, span_v)
            start_gap = float(streams["audio"]["start_time"]) - float(streams["video"]["start_time"])
            assert abs(start_gap) < 0.2, start_gap
            assert media_duration(path) == pytest.approx(seg["frames"] / 20, abs=0.25)
    assert_exported_whole(settings.data_dir, tmp_path / "export", events, closed)


class _NoMeter:
    def add(self, *_args) -> None:
        pass


def assert_exported_whole(data_dir: Path, out: Path, events: list[dict], closed: list[dict]) -> None:
    """An evidence export copies the PCMA camera's segments' fragments as they are
    (storage/export/copy.py): one clip, its AAC in step with the picture and audible."""
    opened = {e["path"]: e["start_us"] for e in events if e["ev"] == "open"}
    rows = [{"camera": "pcma", "path": c["path"], "start_us": opened[c["path"]], "end_us": c["end_us"],
             "bytes": c["bytes"], "state": "complete",
             "sha256": hashlib.sha256((data_dir / c["path"]).read_bytes()).hexdigest()}
            for c in closed if c["camera"] == "pcma" and c["bytes"]]
    out.mkdir()
    plan = plan_camera("pcma", rows, rows[0]["start_us"], rows[-1]["end_us"])
    clips, _sources = copy_camera(data_dir, out, plan, rows[0]["start_us"], rows[-1]["end_us"], _NoMeter())
    assert len(clips) == 1
    clip = next(out.glob("*.mp4"))
    streams = {s["codec_type"]: s for s in ffprobe(clip)["streams"]}
    assert streams["audio"]["codec_name"] == "aac" and ffprobe_errors(clip) == ""
    assert abs(float(streams["audio"]["duration"]) - float(streams["video"]["duration"])) < 0.2
    assert mean_volume(clip) == pytest.approx(-15.0, abs=1.5)


def test_a_silent_duty_desk_camera_raises_audio_silent_and_clears_when_sound_returns(tmp_path):
    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10)
    dead = {"desk": f"clipsnd:{clip.video},{tone('pcma', 0)}@20"}  # the microphone is dead: G.711 silence
    # two servers, so that repairing the desk camera does not take the door camera down
    with RtspServer(dead) as desk_server, RtspServer({"door": f"clipsnd:{clip.video},{tone('pcmu')}@20"}) as door:
        data = tmp_path / "data"
        # Sound is recorded by libavformat's reader (design/0079): "auto" even when the suite forces one.
        cams = [{"id": "desk", "url": desk_server.url("desk"), "audio_required": True, "reader": "auto"},
                {"id": "door", "url": door.url("door"), "audio_required": True, "reader": "auto"}]  # sound, required too
        config = write_config(tmp_path / "edged.toml", data, cams, tables={"health": {
            "sample_interval": "0s", "raise_after": "4s", "clear_after": "4s", "audio_silent_after": "1m",
            "min_width": 0, "min_height": 0, "min_pixels": 0}})
        text = config.read_text()  # the desk camera's own wait is 6 s; [health]'s a minute
        config.write_text(text.replace('id = "desk"\n', 'id = "desk"\nhealth = { audio_silent_after = "6s" }\n'))
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            silent = wait_for(lambda: alarms(d, lambda r: r["key"] == "audio_silent:desk", active=True), 60,
                              "audio_silent on the desk camera")[0]
            assert "-72 dBFS is below -60 dBFS" in silent["message"] and silent["severity"] == "warning"
            desk = d.camera("desk")
            assert desk["state"] == "degraded"
            assert json.loads(desk["health"])["audio_level_db"] == pytest.approx(-72.2, abs=0.5)
            health_of_door = json.loads(d.camera("door")["health"])
            assert health_of_door["audio_level_db"] == pytest.approx(-15.0, abs=1.5)
            assert health_of_door["audio_error"] is None
            assert "pcm_alaw audio at 8000 Hz is recorded as AAC 8000 Hz mono" in d.log
            # the microphone is repaired: sound again, and the alarm clears after the hysteresis
            desk_server.mounts["desk"] = f"clipsnd:{clip.video},{tone('pcma')}@20"
            desk_server.restart()
            wait_for(lambda: not alarms(d, lambda r: r["key"] == "audio_silent:desk", active=True), 60,
                     "audio_silent to clear")
            wait_for(lambda: d.camera("desk")["state"] == "recording", 30, "the desk camera recording, not degraded")
            assert alarms(d, lambda r: r["camera"] == "door") == []
            assert alarms(d, lambda r: r["kind"] == "audio_missing") == []
        finally:
            d.stop()
