"""The record loop with cameras' bad stamps (design/0093), pure: a real encoded stream fed to the
real record loop and muxer with the stamps a camera gives, on a simulated clock (one frame of
wall and monotonic time a packet), every segment checked with `ffmpeg -v error -xerror`.

- VLC stamps about half of each 2 s GOP alike: spread at the frame rate, counted in the
  segment's `retimed`, every file decodes and its pictures are one frame apart.
- The camera's clock jumps an hour ahead or back mid-GOP: every frame is kept, the stream goes
  on a frame after the last, a segment starts at the next keyframe ("timestamp jump").
- A reconnect whose media clock ran ahead does not begin before the last run's end.
"""

from __future__ import annotations

import dataclasses
import subprocess
import types
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import pytest

import recorder.camera as camera_module
from recorder import rtp
from storage import mp4
from recorder.camera import CameraRecorder, Settings
from recorder.timeline import DecodeTimes, RtpTimes
from storage.time.clock import FakeClock
from storage.disk.layout import parse_relpath
from tests.support import rtp_captures

# no server of its own, but ffmpeg encodes and decodes each case's stream: about a second a test, outside the
# pure tier's minute (conftest.py MARKERS)
pytestmark = pytest.mark.slow

S = 1_000_000
FRAME = 4500  # 20 fps at 90 kHz
GOP = 40
TB = Fraction(1, 90000)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "v.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=20", "-t", "8",
                    "-c:v", "libx264", "-bf", "0", "-g", str(GOP), "-pix_fmt", "yuv420p", "-f", "h264", str(path)],
                   check=True, timeout=120)
    return path


class _Video:
    def __init__(self, stream: Any):
        self.stream, self.index, self.codec_context, self.type = stream, stream.index, stream.codec_context, "video"
        self.time_base = TB
        self.average_rate = self.guessed_rate = Fraction(20)


class _Source:
    """A connection as recorder/camera.py reads it: the clip's pictures with the given stamps,
    one frame of simulated time passing before each."""

    def __init__(self, clip: Path, stamps: list[int], clock: FakeClock):
        self._c = av.open(str(clip), format="h264")
        stream = self._c.streams.video[0]
        stream.time_base = TB
        self.container = self
        self.streams = types.SimpleNamespace(video=[_Video(stream)], audio=[])
        self.start_time_realtime = None
        self._stream, self._stamps, self._clock = stream, stamps, clock
        self.pictures: list[tuple[bytes, bool, int | None, int | None]] | None = None  # instead of the clip's

    def demux(self, *_streams: Any) -> Iterator[Any]:
        pictures = self.pictures if self.pictures is not None else (
            (bytes(p), p.is_keyframe, ts, ts) for p, ts in zip(self._c.demux(self._stream), self._stamps) if p.size)
        for data, key, pts, dts in pictures:
            self._clock.advance(FRAME * S // 90000)
            copy = av.Packet(data)
            copy.stream, copy.time_base, copy.is_keyframe = self._stream, TB, key
            copy.pts, copy.dts = pts, dts
            yield copy

    def close(self) -> None:
        self._c.close()


def _record(tmp_path: Path, clip: Path, runs: list[list[int]], monkeypatch,
            pictures: list[tuple[bytes, bool, int | None, int | None]] | None = None) -> list[dict[str, Any]]:
    clock = FakeClock(1_800_000_000 * S)
    monkeypatch.setattr(camera_module, "mono_us", lambda: round(clock.monotonic() * S))
    monkeypatch.setattr(camera_module, "time", types.SimpleNamespace(
        monotonic_ns=lambda: round(clock.monotonic() * 1e9), monotonic=clock.monotonic))
    settings = Settings(data_dir=tmp_path / "data", segment_us=4 * S, fragment_us=S, fsync_us=S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=S, sample_us=0)
    closed: list[dict[str, Any]] = []
    rec = CameraRecorder({"id": "cam", "url": "rtsp://camera.invalid/s", "reader": "ffmpeg"}, settings,
                         lambda _e: None, lambda c: closed.append(dataclasses.asdict(c)), clock=clock)
    for stamps in runs:
        source = _Source(clip, stamps, clock)
        source.pictures = pictures
        try:
            rec._record(source)
        finally:
            rec._close_segment(None, "disconnect")
            source.close()
        clock.advance(S)  # the reconnect's wait
    for seg in closed:
        path = settings.data_dir / seg["path"]
        run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and run.stderr == "", (seg["path"], run.stderr)
        seg["pts"] = _pts(path)
    return closed


def _pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [p.pts for p in c.demux(c.streams.video[0]) if p.size]


FRAMES = 160  # 8 s at 20 fps


def test_pictures_stamped_alike_are_spread_at_the_frame_rate(tmp_path, clip, monkeypatch):
    # VLC: the first 20 pictures of each 40-picture GOP carry the GOP's first stamp
    stamps = [(i - i % GOP) * FRAME if i % GOP < 20 else i * FRAME for i in range(FRAMES)]
    closed = _record(tmp_path, clip, [stamps], monkeypatch)
    assert sum(s["frames"] for s in closed) == FRAMES
    assert sum(s["retimed"] for s in closed) == 19 * (FRAMES // GOP)
    for seg in closed:
        steps = {b - a for a, b in zip(seg["pts"], seg["pts"][1:])}
        assert steps == {FRAME}, seg["pts"]  # one frame apart: no picture folded onto another


@pytest.mark.parametrize("jump_s", [3600, -3600, -5])
def test_a_camera_clock_jump_keeps_every_frame_and_starts_a_segment(tmp_path, clip, monkeypatch, jump_s):
    at = 2 * GOP + 13  # mid-GOP
    stamps = [i * FRAME + (jump_s * 90000 if i >= at else 0) for i in range(FRAMES)]
    closed = _record(tmp_path, clip, [stamps], monkeypatch)
    assert sum(s["frames"] for s in closed) == FRAMES  # no GOP dropped
    assert [s["reason"] for s in closed].count("timestamp jump") == 1
    cut = next(i for i, s in enumerate(closed) if s["reason"] == "timestamp jump")
    assert closed[cut]["end_us"] == _start(closed[cut + 1]["path"])  # no gap, no overlap at the cut
    assert sum(s["frames"] for s in closed[:cut + 1]) == 3 * GOP  # cut at the keyframe after the jump
    assert all(s["retimed"] == 0 for s in closed)
    for seg in closed:
        assert {b - a for a, b in zip(seg["pts"], seg["pts"][1:])} == {FRAME}


@pytest.mark.parametrize("kept", [True, False])
def test_a_reconnect_does_not_begin_before_the_last_run_ended(tmp_path, clip, monkeypatch, kept):
    # The first run's media clock runs 40 % fast (1.6 s ahead over its 4 s, under the drift bound's
    # two windows): its last segment ends after the time the reconnect, 1 s later, is anchored at.
    if not kept:  # without the rule, the overlap the host-clock watch would flag (the test can fail)
        monkeypatch.setattr(camera_module, "after_last", lambda offset, *_a: offset)
    fast = [round(i * FRAME * 1.4) for i in range(GOP * 2)]
    closed = _record(tmp_path, clip, [fast, [i * FRAME for i in range(GOP * 2)]], monkeypatch)
    first = [s for s in closed if s["reason"] == "disconnect"][0]
    second = closed[closed.index(first) + 1]
    overlap = first["end_us"] - _start(second["path"])
    assert (overlap <= 0) if kept else (overlap > 100_000), overlap


def _start(path: str) -> int:
    parsed = parse_relpath(path)
    assert parsed is not None
    return parsed[1]


def test_libavformats_first_b_frame_pictures_keep_their_times(tmp_path, clip, monkeypatch):
    """libavformat gives a B-frame stream's first picture no time and its next two no decode time
    (tests/test_reader_differential.py): held until one comes, they are put a frame apart before
    it, and no picture is moved (with them stamped at their pts, every B picture after was)."""
    dep = rtp.Depacketizer("h264")
    units = [u for p in rtp_captures.read(rtp_captures.HERE / "bframes_h264.rtp") for u in dep.push(p)] + dep.flush()
    times = DecodeTimes(2, FRAME)
    pictures = []
    for i, u in enumerate(units):
        pts = u.ts - units[0].ts
        dts = times.dts(pts)
        pictures.append((u.data, u.key, None if i == 0 else pts, None if i < 3 else dts))
    closed = _record(tmp_path, clip, [[]], monkeypatch, pictures)
    assert sum(s["frames"] for s in closed) == len(units) == 40
    assert sum(s["retimed"] for s in closed) == 0
    true = [u.ts - units[0].ts for u in units]
    at = 0
    for seg in closed:  # every picture at the camera's own time, in each file's own time line
        mine = true[at:at + len(seg["pts"])]
        assert [p - seg["pts"][0] for p in seg["pts"]] == [t - mine[0] for t in mine]
        at += len(seg["pts"])
    assert at == 40


def test_each_segment_records_the_picture_size_of_its_own_sps(tmp_path, clip, monkeypatch):
    """A technician changes the camera's resolution mid-stream: the segments after say the new
    size (their keyframe's SPS), not the stream's first (design/0093)."""
    big = tmp_path / "big.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20", "-t", "4",
                    "-c:v", "libx264", "-bf", "0", "-g", str(GOP), "-pix_fmt", "yuv420p", "-f", "h264", str(big)],
                   check=True, timeout=120)
    pictures = []
    for path in (clip, big):
        with av.open(str(path), format="h264") as c:
            pictures += [(bytes(p), bool(p.is_keyframe)) for p in c.demux(c.streams.video[0]) if p.size][:GOP * 2]
    stamped = [(data, key, i * FRAME, i * FRAME) for i, (data, key) in enumerate(pictures)]
    closed = _record(tmp_path, clip, [[]], monkeypatch, stamped)
    assert sum(s["frames"] for s in closed) == GOP * 4
    sizes = [(s["width"], s["height"]) for s in closed]
    assert sizes[0] == (160, 120) and sizes[-1] == (320, 240), sizes


def test_vlcs_stamps_are_made_one_frame_apart_and_the_cameras_kept(tmp_path, clip, monkeypatch):
    """VLC 3's server as measured (design/0150): a 2 s GOP's 40 pictures stamped 0.1 s apart, each
    keyframe back at the GOP's true time (1.9 s before the last picture). From the first keyframe
    that goes back the recorder makes the times (one frame apart, per GOP), every file decodes
    with presentation times that increase, and the camera's own times are in the file beside."""
    stamps = [(i - i % GOP) * FRAME + (i % GOP) * 2 * FRAME for i in range(FRAMES)]
    closed = _record(tmp_path, clip, [stamps], monkeypatch)
    assert sum(s["frames"] for s in closed) == FRAMES
    assert [s["reason"] for s in closed].count("timestamp jump") == 0  # not taken for a clock jump
    for seg in closed:  # the first GOP keeps the camera's times (two frames apart), then one frame
        steps = [b - a for a, b in zip(seg["pts"], seg["pts"][1:])]
        assert set(steps) <= {FRAME, 2 * FRAME}, steps
    later = [seg for seg in closed if _start(seg["path"]) >= _start(closed[0]["path"]) + 2 * S]
    assert later and all({b - a for a, b in zip(s["pts"], s["pts"][1:])} == {FRAME} for s in later)
    assert sum(s["retimed"] for s in closed) >= (FRAMES - GOP) - 4
    kept = 0
    for seg in closed:
        box = mp4.camera_times(tmp_path / "data" / seg["path"])
        if seg["retimed"]:
            assert box is not None and box["time_base"] == "1/90000"
            pictures = box["pictures"]
            assert isinstance(pictures, list) and len(pictures) == seg["retimed"]
            assert {p for p, _c in pictures} <= set(seg["pts"])  # each names a picture of the file
            assert all(c in stamps for _p, c in pictures)         # ... and the camera's own stamp of it
            kept += len(pictures)
    assert kept == sum(s["retimed"] for s in closed)


def test_pictures_stamped_alike_keep_the_cameras_times_beside(tmp_path, clip, monkeypatch):
    stamps = [(i - i % GOP) * FRAME if i % GOP < 20 else i * FRAME for i in range(FRAMES)]
    closed = _record(tmp_path, clip, [stamps], monkeypatch)
    for seg in closed:
        box = mp4.camera_times(tmp_path / "data" / seg["path"])
        assert box is not None and len(box["pictures"]) == seg["retimed"] > 0  # type: ignore[arg-type]
        assert all(c == (c // (GOP * FRAME)) * GOP * FRAME for _p, c in box["pictures"])  # type: ignore[union-attr]


def _bframe_pictures(tmp_path: Path, seconds: int, bframes: int = 2) -> tuple[list[tuple[bytes, bool, int]], Path]:
    """x264 with B pictures (high profile): each access unit in decode order with its presentation
    time (90 kHz), as RTP carries it, and the stream as a file (its codec context, as the reader's)."""
    raw, ts = tmp_path / "bf.h264", tmp_path / "bf.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=20", "-t", str(seconds),
                    "-c:v", "libx264", "-profile:v", "high", "-bf", str(bframes), "-g", str(GOP),
                    "-pix_fmt", "yuv420p", "-f", "mpegts", str(ts)], check=True, timeout=120)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(ts), "-c", "copy", "-f", "h264", str(raw)], check=True, timeout=60)
    with av.open(str(ts)) as c:
        packets = [(bytes(p), bool(p.is_keyframe), p.pts) for p in c.demux(c.streams.video[0]) if p.size]
    first = min(p for _d, _k, p in packets)
    return [(d, k, p - first) for d, k, p in packets], raw


def _lavf_dts(depth: int) -> Any:
    """Decode times as libavformat derives them (demux.c compute_pkt_fields: each pts replaces the
    least of a sorted buffer of depth + 1, the decode time is the least left), which may go back."""
    buf: list[int | None] = [None] * (depth + 1)

    def dts(pts: int) -> int | None:
        buf[0] = pts
        buf.sort(key=lambda v: -(1 << 62) if v is None else v)
        return buf[0]
    return dts


@pytest.fixture(scope="module")
def bframes(tmp_path_factory) -> tuple[list[tuple[bytes, bool, int]], Path]:
    return _bframe_pictures(tmp_path_factory.mktemp("bf"), 6)


@pytest.mark.parametrize("back_s", [1.15, 0.5])
@pytest.mark.parametrize("reader", ["edged", "ffmpeg"])
def test_a_b_frame_cameras_keyframe_stamped_back_keeps_presentation_order(tmp_path, monkeypatch, bframes, back_s, reader):
    """Issue 79: a B-frame camera (x264 high, 2 B) whose keyframe stamp steps back (a second client
    joining its shared stream mid-GOP), its decode times derived as the edged reader derives them:
    the times made per GOP (design/0150, 0335) keep the camera's presentation order (the keyframe
    after every picture already shown), so every file decodes under `-xerror` with presentation
    times that increase, every picture kept."""
    units, raw = bframes
    keys = [i for i, (_d, k, _p) in enumerate(units) if k]
    at = keys[2]  # the 3rd keyframe (main 20104f33: 3 of these 4 fail; at the 2nd keyframe too)
    times, lavf = RtpTimes(0, 2, FRAME), _lavf_dts(2)
    pictures = []
    for i, (data, k, pts) in enumerate(units):
        cam = pts - (round(back_s * 90000) if i >= at else 0)
        p, d = times.stamp(cam, k) if reader == "edged" else (cam, lavf(cam))
        pictures.append((data, k, p, d))
    closed = _record(tmp_path, raw, [[]], monkeypatch, pictures)
    assert sum(s["frames"] for s in closed) == len(units)
    for seg in closed:
        frames = _decoded(tmp_path / "data" / seg["path"])
        assert frames == sorted(frames) and len(set(frames)) == len(frames), (seg["path"], frames)
    assert sum(s["retimed"] for s in closed) > 0  # the times after the step are the recorder's, kept beside


@pytest.mark.parametrize("reader", ["edged", "ffmpeg"])
def test_a_join_mid_gop_leaves_no_hole_and_the_camera_is_trusted_again(tmp_path, monkeypatch, reader):
    """Issue 92: a B-frame camera whose keyframe stamp steps back (a second client joining its
    shared stream): the keyframe made after every picture already shown is one frame after the
    greatest shown (it was two past: a hole of 0.1 s at 20 fps), and after a GOP whose stamps are
    whole (moved alike) the camera's own times are written again, moved by that much."""
    units, raw = _bframe_pictures(tmp_path, 10)
    keys = [i for i, (_d, k, _p) in enumerate(units) if k]
    at = keys[2]
    times, lavf = RtpTimes(0, 2, FRAME), _lavf_dts(2)
    pictures = []
    for i, (data, k, pts) in enumerate(units):
        cam = pts - (round(0.5 * 90000) if i >= at else 0)
        p, d = times.stamp(cam, k) if reader == "edged" else (cam, lavf(cam))
        pictures.append((data, k, p, d))
    closed = _record(tmp_path, raw, [[]], monkeypatch, pictures)
    assert sum(s["frames"] for s in closed) == len(units)
    retimed = sum(s["retimed"] for s in closed)
    if reader == "ffmpeg":  # the GOP after the step is made, the next is whole: trusted at the one after
        assert keys[4] - keys[2] <= retimed <= keys[4] - keys[2] + 1, retimed
    else:  # the edged reader's decode times start again at the keyframe stamped back (design/0468): the GOP
        # it opens is made at the camera's own times moved alike, whole, and trusted at the next keyframe
        assert keys[3] - keys[2] <= retimed <= keys[3] - keys[2] + 1, retimed
    end = None
    for seg in closed:
        frames = _decoded(tmp_path / "data" / seg["path"])
        assert {b - a for a, b in zip(frames, frames[1:])} == {FRAME}, seg["path"]
        found = parse_relpath(seg["path"])
        assert found is not None
        start = found[1]
        assert end is None or start == end, (seg["path"], start - end)  # no hole between files
        assert seg["end_us"] - start == len(frames) * FRAME * 100 // 9  # no hole at a file's end
        end = seg["end_us"]


def _decoded(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(c.streams.video[0])]


@pytest.mark.parametrize("known", [True, False])
def test_vlcs_first_gop_after_every_reconnect_is_made_like_the_rest(tmp_path, clip, monkeypatch, known):
    """Issue 79: VLC's server restarted, three connects a run: the first segment after each
    reconnect kept VLC's own times for its first GOP (0.1 s apart, its keyframe 3.9 s on). A camera
    that an earlier run of the worker found stamping wrongly has its times made from the first
    picture of each later run (design/0335): every file one frame apart but the very first GOP."""
    if not known:  # without the rule, each run's first GOP keeps the camera's times (the test can fail)
        made = camera_module.CameraRecorder._broken_times

        def forgetting(self: CameraRecorder, *args: Any) -> Any:
            gops = made(self, *args)
            self._stamps_broken = False
            return gops
        monkeypatch.setattr(camera_module.CameraRecorder, "_broken_times", forgetting)
    stamps = [(i - i % GOP) * FRAME + (i % GOP) * 2 * FRAME for i in range(GOP * 3)]
    closed = _record(tmp_path, clip, [stamps, stamps, stamps], monkeypatch)
    assert sum(s["frames"] for s in closed) == 3 * GOP * 3
    firsts = [closed[0]] + [closed[i + 1] for i, s in enumerate(closed[:-1]) if s["reason"] == "disconnect"]
    assert len(firsts) == 3
    steps = [{b - a for a, b in zip(s["pts"], s["pts"][1:])} for s in firsts[1:]]
    if known:
        assert steps == [{FRAME}, {FRAME}], steps
    else:
        assert all(2 * FRAME in st for st in steps), steps

