"""Sound (issue 18 item 4, design/0049; issue 38 item 6, design/0094): G.711 and L16 from real
RTSP cameras stored as the camera sent them (byte for byte, in sample entries ffprobe reads),
AAC kept as it comes, other sound transcoded to AAC, the level meter, and the `audio_silent`
alarm of a duty-desk camera whose microphone is silent, against a real daemon.

The cameras are gst-rtsp-server mounts (tests/support/rtsp_server.py `clipsnd:`): an H.264
clip plus 8 kHz G.711 or L16, a sine tone peaking at -12 dBFS (RMS -15 dBFS), white noise
peaking there (RMS -16.8 dBFS), or G.711 digital silence (-72 dBFS after decoding).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import threading
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
from storage.export.remux import remux_camera
from storage.mp4 import muxer_for
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


def decodes(path: Path) -> str:
    """`ffmpeg -v error -xerror` decoding the whole file: what it says (empty: it decodes cleanly)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    return out.stderr or ("" if out.returncode == 0 else f"ffmpeg exited with {out.returncode}")


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


def test_sound_no_sample_entry_holds_is_resampled_on_the_camera_timeline_across_a_hole_to_aac(tmp_path):
    """G.726 (what some cameras send; no MP4 or QuickTime sample entry holds it) is transcoded.
    Packets dropped for a second (a camera's lost audio) leave a one-second step in the frame
    times, not a shift of everything after it; the AAC track decodes to the tone's level."""
    codec = "g726"  # FFmpeg's name of its decoder
    src = tmp_path / "in.mka"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=8000:d=4",
                    "-c:a", codec, "-b:a", "32k", str(src)], check=True)
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


@pytest.mark.parametrize("codec", ["pcm_alaw", "pcm_mulaw", "pcm_s16be"])
def test_g711_and_l16_pass_through_untouched_and_are_decoded_only_for_the_meter(tmp_path, codec):
    src = tmp_path / "in.mka"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=8000:d=2",
                    "-c:a", codec, str(src)], check=True)
    inp = av.open(str(src))
    path = audio.select(inp.streams.audio, "cam")
    assert type(path) is audio.AudioPath and path.template is inp.streams.audio[0]
    for pkt in inp.demux(path.inputs):
        if pkt.size:
            data = bytes(pkt)
            assert path.feed(pkt) == [pkt] and bytes(pkt) == data
    # the meter decodes G.711 for its measure (lavfi's sine: 1/8 of full scale)
    assert path.report() == {"audio_level_db": pytest.approx(-21.1, abs=0.3), "audio_error": None,
                             "audio_transcoded_from": None}


def test_the_muxer_that_holds_each_sound_as_sent():
    """FFmpeg's mp4 muxer refuses G.711 ("'mp4' format does not support 'pcm_alaw' codec"); its
    mov muxer writes QuickTime's alaw/ulaw/twos entries. Other sound is AAC by then (design/0049)."""
    assert [muxer_for(c) for c in ("aac", "pcm_s16be", "pcm_alaw", "pcm_mulaw", None, "adpcm_g726")] == [
        "mp4", "mov", "mov", "mov", "mp4", "mp4"]
    with pytest.raises(ValueError, match="does not support"):
        av.open(io.BytesIO(), "w", format="mp4").add_stream("pcm_alaw", rate=8000)


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

NOISE_DB = 20 * np.log10(0.25 / np.sqrt(3))  # white noise uniform in +-0.25: -16.8 dBFS RMS
LAWS = {"pcma": ("pcm_alaw", "alaw"), "pcmu": ("pcm_mulaw", "ulaw"), "l16": ("pcm_s16be", "twos")}


class AudioTap:
    """A client of our own on the camera's mount, beside the recorder: each audio payload as it
    came off the wire, in order. A gst-rtsp-server mount is shared, so both clients get the same
    RTP packets; libavformat's depacketizer hands a G.711 or L16 payload on as it is."""

    def __init__(self, url: str):
        self.payloads: list[bytes] = []
        self._stop = threading.Event()
        self._c = av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for pkt in self._c.demux(self._c.streams.audio[0]):
            if self._stop.is_set():
                break
            if pkt.size:
                self.payloads.append(bytes(pkt))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._c.close()


def audio_packets(path: Path) -> list[bytes]:
    """The audio packets a file holds, as PyAV demuxes them."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def sha256s(payloads: list[bytes]) -> list[str]:
    return [hashlib.sha256(p).hexdigest() for p in payloads]


def assert_run_of(held: list[str], sent: list[str]) -> None:
    """`held` (SHA-256 of each payload) is a run of `sent` as it is: no payload altered, added or
    moved (white noise: no two payloads alike). A payload or two may be missing: gst-rtsp-server
    drops an interleaved packet for a client whose send backlog is full (seen once on a box at
    load 14: one of 300), so the camera itself did not send it to the recorder; a missing run
    longer than that, or more than 1 %, is a loss of ours and fails."""
    assert held and held[0] in sent, "the file's first sound payload is not one the camera sent"
    at, missing = sent.index(held[0]), 0
    for i, h in enumerate(held):
        assert h in sent[at:at + 3], f"payload {i} of the file is not the camera's next (altered, added or moved)"
        skipped = sent.index(h, at) - at
        missing, at = missing + skipped, sent.index(h, at) + 1
    assert missing <= max(1, len(held) // 100), f"{missing} of the camera's payloads are not in the file"


def test_g711_and_l16_cameras_are_recorded_as_sent_byte_for_byte_in_step_and_exported_so(tmp_path):
    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10)
    mounts = {law: f"clipsnd:{clip.video},{law}:noise@20" for law in LAWS}
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    with RtspServer(mounts) as server:
        taps = {law: AudioTap(server.url(law)) for law in mounts}
        try:
            wait_for(lambda: all(len(t.payloads) >= 10 for t in taps.values()), 30, "the taps to hear each camera")
            # Sound is recorded by libavformat's reader (design/0079): "auto" even when the suite forces one.
            with recording({law: server.url(law) for law in mounts}, settings, reader="auto") as run:
                wait_for(lambda: all(len(run.closed_of(law)) >= 2 for law in mounts), 60,
                         "two whole segments of each camera")
                wait_for(lambda: all([e for e in run.events if e["ev"] == "stats" and e["camera"] == law
                                      and e["audio_level_db"] is not None] for law in mounts), 30, "stats with a level")
        finally:
            for tap in taps.values():
                tap.close()
    events, closed = run.events, run.closed
    for law, (codec, entry) in LAWS.items():
        stats = [e for e in events if e["ev"] == "stats" and e["camera"] == law and e["audio_level_db"] is not None]
        assert stats[-1]["audio"] == 1 and stats[-1]["audio_codec"] == codec
        assert stats[-1]["audio_transcoded_from"] is None and stats[-1]["audio_error"] is None
        assert stats[-1]["audio_level_db"] == pytest.approx(NOISE_DB, abs=1.0)  # the meter decoded it
        for seg in [c for c in closed if c["camera"] == law][:2]:
            path = settings.data_dir / seg["path"]
            assert seg["audio"] == 1 and ffprobe_errors(path) == "" and decodes(path) == ""
            # hashed as written: the mov muxer, as the mp4 one, only appends (recorder/segment.py HashingFile)
            assert seg["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            probe = ffprobe(path)
            streams = {s["codec_type"]: s for s in probe["streams"]}
            assert (streams["audio"]["codec_name"], streams["audio"]["codec_tag_string"]) == (codec, entry)
            assert probe["format"]["tags"]["comment"].startswith("edged {")  # its provenance, in the mov muxer's file too
            assert streams["audio"]["sample_rate"] == "8000"
            assert_run_of(sha256s(audio_packets(path)), sha256s(taps[law].payloads))  # byte for byte
            assert mean_volume(path) == pytest.approx(NOISE_DB, abs=1.0)
            # in step: the sound covers the picture's span (at most a packet and a video frame off)
            span_v, span_a = float(streams["video"]["duration"]), float(streams["audio"]["duration"])
            assert abs(span_a - span_v) < 0.1, (span_a, span_v)
            start_gap = float(streams["audio"]["start_time"]) - float(streams["video"]["start_time"])
            assert abs(start_gap) < 0.1, start_gap
            assert media_duration(path) == pytest.approx(seg["frames"] / 20, abs=0.25)
    assert_exported_as_sent(settings.data_dir, tmp_path / "export", events, closed, taps["pcma"].payloads)


class _NoMeter:
    def add(self, *_args) -> None:
        pass


def assert_exported_as_sent(data_dir: Path, out: Path, events: list[dict], closed: list[dict],
                            sent: list[bytes]) -> None:
    """An evidence export of the PCMA camera keeps its sound as sent, by either path: the
    fragment copy (storage/export/copy.py) and the remux (storage/export/remux.py) each give
    one clip that decodes, its G.711 one run of the camera's payloads across the segments'
    cuts (a segment's first packet, which its muxer starts at its first picture, inside the
    last segment's last one, is placed after it, not dropped), in step with the picture."""
    opened = {e["path"]: e["start_us"] for e in events if e["ev"] == "open"}
    rows = [{"camera": "pcma", "path": c["path"], "start_us": opened[c["path"]], "end_us": c["end_us"],
             "bytes": c["bytes"], "state": "complete",
             "sha256": hashlib.sha256((data_dir / c["path"]).read_bytes()).hexdigest()}
            for c in closed if c["camera"] == "pcma" and c["bytes"]]
    for how, export in (("copy", copy_camera), ("remux", remux_camera)):
        (out / how).mkdir(parents=True)
        plan = plan_camera("pcma", rows, rows[0]["start_us"], rows[-1]["end_us"])
        clips, _sources = export(data_dir, out / how, plan, rows[0]["start_us"], rows[-1]["end_us"], _NoMeter())
        assert len(clips) == 1 and clips[0]["audio"]["codec"] == "pcm_alaw", (how, clips)
        clip = next((out / how).glob("*.mp4"))
        streams = {s["codec_type"]: s for s in ffprobe(clip)["streams"]}
        assert streams["audio"]["codec_name"] == "pcm_alaw" and ffprobe_errors(clip) == "" and decodes(clip) == "", how
        assert abs(float(streams["audio"]["duration"]) - float(streams["video"]["duration"])) < 0.1, how
        assert_run_of(sha256s(audio_packets(clip)), sha256s(sent))


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
            assert "pcm_alaw audio at 8000 Hz is recorded as the camera sends it" in d.log  # not transcoded
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
