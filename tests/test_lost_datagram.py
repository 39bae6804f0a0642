"""A datagram lost mid-stream (issue 79, design/0319): the scriptable camera leaves out the 3rd RTP
packet of every 50th picture (a piece of its fragmented slice), its sequence number spent. Through
the edged reader (RTP over TCP, a sequence gap) and through FFmpeg's (RTP over UDP, libavformat's
path, where no flag marks the picture), every segment decodes under `ffmpeg -v error -xerror` with
times that increase, and the pictures left out are counted in the camera's stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cameras import make_clip
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera
from tests.support.recorders import recording
from tests.test_camera_edges import _settings, clean

LOSSES = 4  # pictures hit: 50, 100 (a keyframe: one a second at 20 fps), 150, 200


def _stats(events: list[dict], cam: str) -> list[dict]:
    return [e for e in events if e["ev"] == "stats" and e["camera"] == cam]


@pytest.mark.parametrize("reader, transport", [("edged", "tcp"), ("ffmpeg", "udp")])
def test_a_datagram_lost_mid_stream_every_segment_clean_and_counted(tmp_path: Path, reader: str, transport: str):
    # 640x480 at 2 Mbit/s: every picture takes more than three packets, keyframes a dozen
    clip = make_clip(tmp_path / "clip", width=640, height=480, gop=20, seconds=20, bitrate="2M")
    settings = _settings(tmp_path)
    with QuirkCamera(clip.video, {"udp", "lost"}) as cam, \
            recording({"q": cam.url}, settings, reader=reader, transport=transport) as run:
        wait_for(lambda: cam.lost >= LOSSES and len(run.closed_of("q")) >= 6
                 and any(s["pictures_lost"] for s in _stats(run.events, "q")), 120, "the losses recorded past")
    stats = _stats(run.events, "q")
    assert {s["reader"] for s in stats} == {reader} and {s["transport"] for s in stats} == {transport}
    assert clean(run, "q", settings.data_dir) == {}
    lost = stats[-1]["pictures_lost"]
    # each loss costs the picture hit and those after it up to the next keyframe (20 pictures a GOP)
    assert 0 < lost <= 20 * cam.lost, (lost, cam.lost)
    assert cam.sessions == 1  # one connection: no loss ended it
