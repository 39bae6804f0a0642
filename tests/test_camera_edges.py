"""The field's edges (issue 79, design/0335): cameras that restart, as cameras in the field do.
Every segment, the first and the last of each connection included, decodes under `ffmpeg -v error
-xerror` with presentation and decode times that increase."""

from __future__ import annotations

import functools
import json
import subprocess
import threading
from pathlib import Path

import av
import pytest

from recorder.camera import Settings
from tests.support.cameras import RtspServer, encoded_once
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera, bframe_clip
from tests.support.recorders import Recording, recording
from tests.support.vlc_server import CVLC, VlcServer

S = 1_000_000


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=5 * S, read_timeout_us=3 * S, reconnect_max_us=S, sample_us=0)


@functools.lru_cache(maxsize=256)
def decoded(path: Path) -> tuple[str, list[int]]:
    """One decode of the whole file under `ffmpeg -v error -xerror` (tests/test_rtsp_quirks.py
    decode_errors), which also lists its video's pictures as decoded: (FFmpeg's words, empty when
    clean; the pictures' presentation times in the stream's own time base, in the order shown).
    A closed segment does not change: kept, so a test that reads it again decodes it once."""
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-copyts", "-i", str(path),
                          "-map", "0:v:0", "-map", "0:a?", "-fps_mode:v", "passthrough", "-enc_time_base:v", "-1",
                          "-f", "framecrc", "-"], capture_output=True, text=True, timeout=60)
    said = run.stderr if run.returncode or run.stderr else ""
    lines = [line.split(",") for line in run.stdout.splitlines() if line and not line.startswith("#")]
    return said, [int(f[2]) for f in lines if f[0].strip() == "0"]


@functools.lru_cache(maxsize=256)
def times(path: Path) -> tuple[list[int], list[int], list[int]]:
    """(packets' pts, packets' dts, decoded pictures' pts) of a file's video: the packets by ffprobe
    (read, not decoded), the pictures from decoded(). Kept as decoded() is: a test that reads a
    closed segment's times again (the first of each connect) probes it once."""
    run = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,dts",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True, timeout=60)
    packets = json.loads(run.stdout)["packets"]
    return [p["pts"] for p in packets], [p["dts"] for p in packets], decoded(path)[1]


def clean(run: Recording, cam: str, data: Path, own: tuple[str, ...] = ()) -> dict[str, str]:
    """What is wrong with each of the camera's segments: `-xerror`'s words, or times that do not
    increase (decode times in the file, presentation times as decoded). `own`: words FFmpeg says
    of the camera's own stream too (its file, not recorded), which are not the recorder's."""
    wrong = {}
    for seg in run.closed_of(cam):
        path = data / seg["path"]
        err = "\n".join(line for line in decoded(path)[0].splitlines()
                        if not any(o in line for o in own + ("Last message repeated",)))
        if err:
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


def _second_reader(url: str, stop: threading.Event) -> None:
    """Another client of the camera's stream (a VMS, a viewer), joined mid-stream."""
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as c:
        for _pkt in c.demux(c.streams.video[0]):
            if stop.is_set():
                break


@pytest.mark.parametrize("reader", ["edged", "ffmpeg"])
def test_a_b_frame_camera_restarted_and_joined_mid_stream_every_segment_clean(tmp_path, reader):
    """x264 high with B pictures through gst-rtsp-server (its media shared between clients), the
    camera restarted twice (three connects) and each time joined mid-stream by a second reader:
    every segment of each connection, its first and last included, is clean with increasing
    times, through either reader (design/0335)."""
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=S, sample_us=0)
    with RtspServer({"bf": "livebf:640x360@20/40"}) as server, \
            recording({"bf": server.url("bf")}, settings, reader=reader) as run:
        for n in (1, 2, 3):
            wait_for(lambda: connects(run, "bf") >= n and len(run.closed_of("bf")) >= 3 * n - 1, 90,
                     f"connect {n}")
            stop = threading.Event()
            joined = threading.Thread(target=_second_reader, args=(server.url("bf"), stop), daemon=True)
            joined.start()
            wait_for(lambda: len(run.closed_of("bf")) >= 3 * n, 60, "a segment with the second reader")
            stop.set()
            joined.join(15)
            if n < 3:
                server.restart()
    assert {e["reader"] for e in run.events if e["ev"] == "stats"} <= {reader}  # no fallback
    assert connects(run, "bf") >= 3
    assert clean(run, "bf", settings.data_dir) == {}


@pytest.mark.parametrize("reader", ["edged", "ffmpeg"])
def test_a_b_frame_cameras_keyframe_stamped_back_every_connect_every_segment_clean(tmp_path, reader):
    """The field's B-frame camera as measured (issue 79): at its 3rd keyframe its stamps step back
    1.15 s (a second client joined its shared stream mid-GOP), on each of three connects. The
    recorder makes its times per GOP in presentation order (design/0335): every segment, the first
    and last of each connection included, is clean with increasing times, through either reader."""
    clip = bframe_clip(tmp_path, seconds=12)
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=S, sample_us=0)
    segs: list[dict] = []
    with QuirkCamera(clip, {"key_back"}) as cam:
        for _ in range(3):
            with recording({"q": cam.url}, settings, reader=reader) as run:
                wait_for(lambda: len(run.closed_of("q")) >= 4, 60, "past the step back")
            segs += run.closed_of("q")
            assert clean(run, "q", settings.data_dir) == {}
    assert cam.sessions == 3
    assert sum(s["retimed"] for s in segs) > 0  # the times after the step are the recorder's, the camera's kept


def _sizes_clip(folder: Path) -> Path:
    """4 s at 320x240 then 6 s at 640x480, each keyframe after its own SPS (a camera whose
    resolution a technician changed, its stream going on)."""
    parts = []
    for size, seconds in (("320x240", 4), ("640x480", 6)):
        part = folder / f"{size}.h264"
        encoded_once(part, ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=20", "-t", str(seconds), "-c:v", "libx264",
                              "-bf", "0", "-g", "20", "-f", "h264"])  # encoded once a machine, as make_clip's
        parts.append(part.read_bytes())
    out = folder / "sizes.h264"
    out.write_bytes(b"".join(parts))
    return out


@pytest.mark.parametrize("reader", ["edged", "ffmpeg"])
def test_catalog_rows_name_the_picture_size_the_segment_holds(tmp_path, reader):
    """Issue 79: after a picture size change the edged reader's rows kept the connection's first
    size (its packets' stream is a copy whose context keeps it); each row says its own now, and
    the codec FFmpeg's reader names (not the copy's encoder, libx264; design/0337)."""
    settings = _settings(tmp_path)
    with QuirkCamera(_sizes_clip(tmp_path)) as cam, recording({"q": cam.url}, settings, reader=reader) as run:
        wait_for(lambda: len(run.closed_of("q")) >= 7, 60, "seven segments")
    assert clean(run, "q", settings.data_dir) == {}
    for seg in run.closed_of("q"):
        if not seg["frames"]:
            continue
        with av.open(str(settings.data_dir / seg["path"])) as c:
            frame = next(c.decode(video=0))
            held = (frame.width, frame.height)
        assert (seg["width"], seg["height"]) == held and seg["codec"] == "h264", seg
    assert {(s["width"], s["height"]) for s in run.closed_of("q")} == {(320, 240), (640, 480)}
