"""A picture missing a piece mid-stream (a datagram lost: libavformat hands it on unmarked) is not
handed on by FFmpeg's reader over UDP, nor are the pictures after it up to the next keyframe that
decodes (issue 79, design/0319): counted, and warned of once per episode."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import av
import pytest

from recorder.edged_source import LOST
from recorder.whole_pictures import whole_only

pytestmark = pytest.mark.process  # ffmpeg encodes the stream every test reads (design/0473)
GOP = 20


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "v.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=20", "-t", "3",
                    "-c:v", "libx264", "-g", str(GOP), "-bf", "0", "-b:v", "2M", "-pix_fmt", "yuv420p", "-f", "h264",
                    str(path)], check=True, timeout=120)
    return path


def _packets(path: Path, hit: set[int] = frozenset()) -> tuple[list[Any], bytes]:
    """The clip's 60 pictures, timed a frame apart, the `hit` ones without their middle third (a
    lost FU-A piece), and the extradata."""
    c = av.open(str(path), format="h264")
    video = c.streams.video[0]
    out = []
    for i, p in enumerate(x for x in c.demux(video) if x.size):
        data = bytes(p)
        if i in hit:
            data = data[:len(data) // 3] + data[2 * len(data) // 3:]
        copy = av.Packet(data)
        copy.stream, copy.is_keyframe = video, p.is_keyframe
        copy.pts = copy.dts = i * 4500
        out.append(copy)
    return out, bytes(video.codec_context.extradata or b"")


def _through(packets: list[Any], extradata: bytes, counters: dict[str, int]) -> list[int]:
    got = whole_only(packets, packets[0].stream.index, "h264", extradata, "cam", counters)
    return [p.pts // 4500 for p in got]


def test_whole_pictures_all_pass(stream):
    packets, extradata = _packets(stream)
    counters = {LOST: 0}
    assert _through(packets, extradata, counters) == list(range(60)) and counters[LOST] == 0


@pytest.mark.parametrize("hit", [25, GOP])  # a P picture; a keyframe
def test_a_picture_missing_a_piece_and_those_after_it_to_the_next_keyframe_are_left_out(stream, hit, caplog):
    packets, extradata = _packets(stream, {hit})
    counters = {LOST: 0}
    with caplog.at_level(logging.INFO, "recorder.camera"):
        got = _through(packets, extradata, counters)
    assert got == list(range(hit)) + list(range(2 * GOP, 60))
    assert counters[LOST] == 2 * GOP - hit
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "incomplete" in warned[0].getMessage()


def test_a_broken_keyframe_extends_the_episode_and_it_is_warned_of_once(stream, caplog):
    packets, extradata = _packets(stream, {25, 2 * GOP})  # the next keyframe broken too
    counters = {LOST: 0}
    with caplog.at_level(logging.INFO, "recorder.camera"):
        got = _through(packets, extradata, counters)
    assert got == list(range(25)) and counters[LOST] == 35
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_other_streams_pass_through(stream):
    """Audio (another index) and the end's flush packet are not decoded nor held."""
    packets, extradata = _packets(stream, {25})
    other = av.Packet(b"\x01\x02")
    other.stream = packets[0].stream
    index = packets[0].stream.index + 1
    got = list(whole_only([other] + packets, index, "h264", extradata, "cam", {LOST: 0}))
    assert len(got) == 61  # another stream's index: all passed on, none checked
