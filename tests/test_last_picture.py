"""A stream's last picture, cut short by a camera's death (or a datagram of it lost), is not handed
on by FFmpeg's reader's access units (issue 79, design/0336): it is decoded once, after its GOP,
at the stream's end; a whole one is handed on."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import av
import pytest

from recorder import access_unit
from recorder.access_unit import access_units

pytestmark = pytest.mark.process  # ffmpeg encodes the stream every test reads (design/0473)


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "v.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20", "-t", "3",
                    "-c:v", "libx264", "-g", "40", "-bf", "0", "-pix_fmt", "yuv420p", "-f", "h264", str(path)],
                   check=True, timeout=120)
    return path


def _packets(path: Path, upto: int, cut: int | None = None) -> tuple[list[Any], bytes]:
    """The first `upto` pictures (the last cut to `cut` bytes), timed a frame apart, and the extradata."""
    c = av.open(str(path), format="h264")
    video = c.streams.video[0]
    out = []
    for i, p in enumerate(x for x in c.demux(video) if x.size):
        if i == upto:
            break
        data = bytes(p)
        copy = av.Packet(data[:cut] if cut is not None and i == upto - 1 else data)
        copy.stream, copy.is_keyframe = video, p.is_keyframe
        copy.pts = copy.dts = i * 4500
        out.append(copy)
    return out, bytes(video.codec_context.extradata or b"")


def _through(packets: list[Any], extradata: bytes) -> list[Any]:
    return list(access_units(packets, packets[0].stream.index, "h264", extradata, "cam"))


@pytest.mark.parametrize("upto", [55, 41])  # a P picture; the GOP's keyframe as the last
def test_a_last_picture_cut_short_is_not_handed_on(stream, upto):
    whole, extradata = _packets(stream, upto)
    assert len(_through(whole, extradata)) == upto
    size = whole[-1].size
    cut, _ = _packets(stream, upto, size // 2)
    got = _through(cut, extradata)
    assert len(got) == upto - 1 and all(p.size for p in got)


def test_a_last_picture_whose_gop_was_too_long_to_keep_is_not_handed_on(stream, monkeypatch):
    monkeypatch.setattr(access_unit, "GOP_KEPT", 5)
    packets, extradata = _packets(stream, 55)
    assert len(_through(packets, extradata)) == 54


def test_the_last_picture_is_checked_at_the_flush_packet_too(stream):
    packets, extradata = _packets(stream, 55, 700)
    flush = av.Packet(b"")
    flush.stream = packets[0].stream
    got = _through(packets + [flush], extradata)
    assert len(got) == 55 and got[-1].size == 0  # 54 pictures and the end
