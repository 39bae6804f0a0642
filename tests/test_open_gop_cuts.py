"""Segments cut at an H.265 CRA, driven picture by picture through the recorder's own placement
(recorder/placement.py) with an x265 clip of open GOPs (design/0543): the RASL pictures of each cut's
CRA are shown by the file before it, so the files' decoded pictures, one file after another, are the
clip's own, each once; a camera that stops right after a held CRA loses nothing; and where the CRA
cannot be copied, the cut is as before (design/0442: the RASL pictures kept out of the count)."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path
from typing import Any

import av
import pytest

from edged.viewer.range_read import Piece, RangeReader
from recorder import placement as placement_module
from recorder.access_unit import hevc_picture_kind
from recorder.events import Closing
from recorder.cut import cut
from recorder.modes import CONTINUOUS
from recorder.placement import Placement
from recorder import diagnose
from recorder.source import Disconnected
from recorder.settings import Settings
from storage.export.copy import copy_camera
from storage.export.plan import plan_camera
from storage.export.remux import remux_camera
from storage.hevc import RASL
from storage.mp4 import scan_here
from storage.time.clock import SystemClock
from tests.support.cameras import count_video_packets

pytestmark = pytest.mark.process

S = 1_000_000
BASE_US = 1_800_000_000 * S  # a whole second: the clip's first picture opens a segment there
FPS = 20


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """4 s of x265's open GOPs: a CRA every 10 pictures after the first IDR, 3 B pictures, headers in band."""
    path = tmp_path_factory.mktemp("clip") / "open-gop.ts"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}",
                    "-t", "4", "-c:v", "libx265", "-x265-params",
                    "keyint=10:min-keyint=10:scenecut=0:open-gop=1:bframes=3:repeat-headers=1:log-level=error",
                    "-f", "mpegts", str(path)], check=True, timeout=120)
    return path


def _md5s(path: Path) -> list[str]:
    """The decoded pictures' MD5s in presentation order; the decoder says nothing (`-xerror`)."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    return [line.rsplit(",", 1)[1].strip() for line in run.stdout.splitlines() if line and not line.startswith("#")]


@dataclass
class _Camera:
    id: str = "h"
    stop: threading.Event = field(default_factory=threading.Event)
    handover: Any = None


def _placed(clip: Path, data: Path, stop_after_cra: int | None = None,
            opened: dict[str, int] | None = None, gate: Any = None) -> tuple[list[Closing], int]:
    """The clip placed picture by picture at its own times (a segment a second), as the record loop places them
    (decode times on a clock anchored on presentation times); the camera stops after the `stop_after_cra`th CRA
    held at a boundary, if given, else at the clip's end. With the RASL pictures the camera never sent then;
    each file's start into `opened`."""
    opened = {} if opened is None else opened
    settings = Settings(data_dir=data, segment_us=S, fragment_us=S // 2, fsync_us=S, connect_timeout_us=S,
                        read_timeout_us=S, reconnect_max_us=S, sample_us=0)
    closed: list[Closing] = []
    place = Placement(_Camera(), settings, lambda e: opened.update({e.path: e.start_us}), closed.append,
                      SystemClock(), gate, None, {"ts_fixes": 0}, CONTINUOUS, None)
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        place.new_run(None, S // FPS, None, 0)
        first = None
        cras = unsent = 0
        packets = (pkt for pkt in c.demux(stream) if pkt.dts is not None)
        for pkt in packets:
            first = pkt.pts if first is None else first
            place.place(pkt, BASE_US + int((pkt.dts - first) * pkt.time_base * S), pkt.is_keyframe)
            cras += place.pending is not None and not place.rasl
            if cras == stop_after_cra:
                unsent = len(list(takewhile(lambda p: hevc_picture_kind(p) in RASL, packets)))
                break
        place.close(None, "disconnect")  # as the record loop: before its source's streams are gone
    return closed, unsent


def _checked(seg: Closing, data: Path) -> list[str]:
    """One file: its count is its decoded pictures, as the recorder said and as a start-up recovery reads it."""
    shown = _md5s(data / seg.path)
    assert seg.frames == len(shown) == scan_here(data / seg.path).frames, seg
    return shown


def test_each_cut_cras_rasl_pictures_are_shown_by_the_file_before_it(clip, tmp_path):
    closed, _ = _placed(clip, tmp_path)
    cuts = [s for s in closed if s.reason == "boundary"]
    assert len(cuts) >= 3 and closed[-1].reason == "disconnect"
    # each: the next CRA's copy no decoder shows (and, from the second, its own opening CRA's RASL pictures)
    assert all(count_video_packets(tmp_path / s.path) > s.frames for s in cuts)
    shown = [md5 for seg in closed for md5 in _checked(seg, tmp_path)]
    assert shown == _md5s(clip)  # every picture of the clip, once, in order: no hole at a cut, nothing twice


def test_a_standbys_cut_of_a_file_leaves_its_display_tail_out(clip, tmp_path):
    """A box's cut of a stretch of a file (recorder/cut.py, design/0158) up to its end: the file's own pictures,
    counted as they decode (the copy of the next CRA and the RASL pictures after it are the next file's)."""
    closed, _ = _placed(clip, tmp_path / "data")
    seg = closed[1]
    made = cut(tmp_path / "data" / seg.path, tmp_path / "cut.mp4", 0, 3600 * S)
    assert made is not None and made.frames == len(_md5s(tmp_path / "cut.mp4")) == seg.frames - 3  # its RASL ones


def test_a_camera_stopped_right_after_a_held_cra_loses_it(clip, tmp_path):
    closed, unsent = _placed(clip, tmp_path, stop_after_cra=2)
    assert [s.reason for s in closed] == ["boundary", "boundary", "disconnect"] and unsent > 0
    assert closed[-1].frames == 1  # the held CRA, in a file of its own
    full = _md5s(clip)
    shown = [md5 for seg in closed for md5 in _checked(seg, tmp_path)]
    cra = full.index(shown[-1])
    assert shown[:-1] == full[:cra - unsent]  # all before it but the RASL pictures the camera never sent


class _GoneAfter:
    """A storage gate whose video folder goes away after `opens` files were opened (recorder/source.py)."""

    def __init__(self, opens: int):
        self.left = opens

    def check(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise Disconnected("not recording: the video folder is not there", diagnose.STORAGE)


def test_a_held_cra_whose_file_cannot_open_leaves_the_close_whole(clip, tmp_path, caplog):
    """The camera stops while a CRA is held and the disk is gone: the file before is closed as it was, and the
    close says what it lost instead of failing (the record loop closes in a `finally`)."""
    closed, _ = _placed(clip, tmp_path, stop_after_cra=2, gate=_GoneAfter(2))
    assert [s.reason for s in closed] == ["boundary", "boundary"]
    assert "did not open its segment" in caplog.text
    assert [len(_checked(seg, tmp_path)) for seg in closed] == [seg.frames for seg in closed]


def test_a_cra_that_cannot_be_copied_is_cut_as_before(clip, tmp_path, monkeypatch):
    monkeypatch.setattr(placement_module, "hidden_copy", lambda *_: None)
    closed, _ = _placed(clip, tmp_path)
    full = _md5s(clip)
    shown = [md5 for seg in closed for md5 in _checked(seg, tmp_path)]
    unshown = sum(count_video_packets(tmp_path / s.path) - s.frames for s in closed)
    assert unshown >= 3 and len(shown) == len(full) - unshown  # each cut's RASL pictures in no count (design/0442)
    assert shown == [md5 for md5 in full if md5 in shown]


class _NoMeter:
    def add(self, *_args) -> None:
        pass


def test_an_export_joins_the_files_into_the_cameras_stream(clip, tmp_path):
    """Each file's display tail left out, the clip is the camera's stream: every picture once, in order, by the
    fragment copy and by the remux (design/0543)."""
    opened: dict[str, int] = {}
    closed, _ = _placed(clip, tmp_path / "data", opened=opened)
    rows = [{"camera": "h", "path": c.path, "start_us": opened[c.path], "end_us": c.end_us, "bytes": c.bytes,
             "state": "complete", "sha256": hashlib.sha256((tmp_path / "data" / c.path).read_bytes()).hexdigest()}
            for c in closed]
    full = _md5s(clip)
    for how, export in (("copy", copy_camera), ("remux", remux_camera)):
        (tmp_path / how).mkdir()
        plan = plan_camera("h", rows, rows[0]["start_us"], rows[-1]["end_us"])
        clips, _ = export(tmp_path / "data", tmp_path / how, plan, rows[0]["start_us"], rows[-1]["end_us"], _NoMeter())
        assert len(clips) == 1 and clips[0]["frames"] == len(full), (how, clips)
        assert _md5s(next((tmp_path / how).glob("*.mp4"))) == full, how


def test_the_viewer_plays_every_picture_across_the_cuts(clip, tmp_path):
    """The viewer decodes each file with a decoder of its own (edged/viewer/range_read.py): the display tail's
    RASL pictures are shown by the file before, and the last pictures its decoder holds are played at the file's
    end, so playback has no hole at a cut and nothing twice (it lost five pictures a cut: 3 RASL, 2 held)."""
    opened: dict[str, int] = {}
    closed, _ = _placed(clip, tmp_path, opened=opened)
    pieces = [Piece(tmp_path / c.path, opened[c.path], c.end_us) for c in closed]
    reader = RangeReader(pieces, pieces[0].start_us, pieces[-1].end_us + S)  # (the last B pictures shown past it)
    assert reader.seek(pieces[0].start_us) is not None
    shown: list[int] = []
    while not reader.ended:
        shown += [pts for _dts, pts, _pkt in reader.read()]
    reader.close()
    assert len(shown) == len(_md5s(clip))
    assert {b - a for a, b in zip(shown, shown[1:])} == {S // FPS}  # one picture a frame, in order
