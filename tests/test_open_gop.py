"""An H.265 camera with x265's open GOP (3 B pictures, each keyframe after the first a CRA whose
RASL pictures refer to the GOP before it), served live by gst-rtsp-server, restarted and
reconfigured, on every reader (issue 92, design/0442, 0543): each segment's frame count is the
pictures `ffmpeg` decodes from the file alone, every file decodes under `-xerror`, its decoded
pictures follow one another a frame apart (no hole inside a file), and a segment cut at a CRA shows
every picture of its time, the RASL pictures of the CRA after it included (no hole between files)."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import pytest

from recorder.camera import Settings
from recorder.access_unit import hevc_picture_kind
from tests.support.cameras import RtspServer, count_video_packets
from tests.support.daemon import wait_for
from tests.support.recorders import recording

pytestmark = pytest.mark.rtsp

S = 1_000_000


def test_the_first_slice_names_the_picture_kind():
    cra = b"\x00\x00\x00\x01\x46\x01\x10" + b"\x00\x00\x01\x40\x01\x0c" + b"\x00\x00\x01\x2a\x01\xaf"
    assert hevc_picture_kind(cra) == 21  # an AUD (35) and a VPS (32) before the slice
    assert hevc_picture_kind(b"\x00\x00\x00\x01\x12\x01\xd0") == 9  # a RASL picture
    assert hevc_picture_kind(b"\x00\x00\x00\x01\x02\x01\xd0") == 1
    assert hevc_picture_kind(b"\x00\x00\x00\x01\x40\x01\x0c") is None  # parameter sets only


def _decoded(path) -> tuple[list[int], Fraction]:
    """The presentation times of the pictures `ffmpeg` decodes from the file alone, and their time base."""
    run = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts:stream=time_base",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True, timeout=60)
    out = json.loads(run.stdout)
    return [f["pts"] for f in out["frames"]], Fraction(out["streams"][0]["time_base"])


@pytest.mark.parametrize("reader,transport", [("edged", "tcp"), ("ffmpeg", "tcp"), ("ffmpeg", "udp")])
def test_every_segment_counts_the_pictures_it_shows(tmp_path, reader, transport):
    settings = Settings(data_dir=tmp_path / "data", segment_us=3 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=S, sample_us=0)
    with RtspServer({"h": "livehevc:320x240@20/20"}) as server:
        with recording({"h": server.url("h")}, settings, reader=reader, transport=transport) as run:
            wait_for(lambda: len(run.closed_of("h")) >= 3, 60, "three segments")
            server.restart()  # a restarted camera: a fresh encoder
            n = len(run.closed_of("h"))
            wait_for(lambda: len(run.closed_of("h")) >= n + 2, 60, "two segments after the restart")
            server.mounts["h"] = "livehevc:480x272@25/30"  # reconfigured: another size, rate and GOP
            server.restart()
            n = len(run.closed_of("h"))
            wait_for(lambda: len(run.closed_of("h")) >= n + 3, 60, "three segments after the change")
    segs = run.closed_of("h")
    assert {e["reader"] for e in run.events if e["ev"] == "stats"} == {reader}
    start = {e["path"]: e["start_us"] for e in run.events if e["ev"] == "open"}
    cut_at_cra = between = 0
    cut = None  # where the last file was cut, if it was
    for seg in segs:
        path = settings.data_dir / seg["path"]
        decode = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                                capture_output=True, text=True, timeout=60)
        assert decode.returncode == 0 and decode.stderr == "", (seg, decode.stderr)
        shown, tb = _decoded(path)
        assert seg["frames"] == len(shown), seg
        steps = {b - a for a, b in zip(shown, shown[1:])}
        assert all(step > 0 for step in steps), seg
        if seg["reason"] == "boundary":  # (a stream that ended mid-GOP ends without the B pictures it owed)
            assert len(steps) == 1, (seg, sorted(steps))  # one frame apart: no hole
            # ... and a file between two cuts shows its whole time: the next CRA's RASL pictures, shown before
            # it, are here (a connection's first file starts at its first picture's decode time, not a cut's)
            frame_us = next(iter(steps)) * tb * S
            if start[seg["path"]] == cut:
                assert abs(seg["frames"] * frame_us - (seg["end_us"] - cut)) < frame_us / 2, seg
                between += 1
            # the pictures written: the shown ones, the copy of the next CRA that no decoder shows (design/0543)
            # and its RASL pictures, and the RASL pictures of its own opening CRA (design/0442): not counted
            cut_at_cra += count_video_packets(path) > seg["frames"]
        cut = seg["end_us"] if seg["reason"] == "boundary" else None
    assert len(segs) >= 8
    assert cut_at_cra >= 4 and between >= 3  # the open GOP was there to count: segments cut at a CRA
