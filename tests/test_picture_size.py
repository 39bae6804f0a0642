"""A picture's size read from the SPS before any decode (recorder/picture_size.py, design/0063):
what real encoders write is read right, a hand-written 16000x16000 SPS is refused before a
decoder sees it, and the refusal is an alarm that a checked picture clears."""

from __future__ import annotations

import queue
import subprocess

import av
import pytest

from edged.config.health import HealthConfig
from edged.rules import health
from recorder import imagecheck as ic
from recorder import picture_size as ps
from recorder.events import Image, Oversize
from tests.support.daemon import wait_for
from tests.support.sps import h264_sps, with_sps
from storage import alarm_kinds as kinds


def _encode(tmp_path, codec: str, size: str, fmt: str) -> bytes:
    out = tmp_path / f"{codec}-{size}.{fmt}"
    extra = ["-x265-params", "log-level=none"] if codec == "libx265" else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=5",
                    "-frames:v", "2", "-c:v", codec, *extra, "-f", fmt, str(out)], check=True, timeout=120)
    return out.read_bytes() if fmt in ("h264", "hevc") else str(out)


@pytest.mark.parametrize("codec, name, fmt", [("libx264", "h264", "h264"), ("libx265", "hevc", "hevc")])
@pytest.mark.parametrize("size", ["320x240", "1920x1080", "642x362"])
def test_the_size_encoders_write_is_read_from_annex_b_and_from_the_mp4_config(tmp_path, codec, name, fmt, size):
    want = tuple(int(x) for x in size.split("x"))
    assert ps.declared_size(name, _encode(tmp_path, codec, size, fmt)) == want
    with av.open(_encode(tmp_path, codec, size, "mp4")) as c:  # avcC / hvcC extradata
        extradata = c.streams.video[0].codec_context.extradata
    assert extradata[:1] == b"\x01" and ps.declared_size(name, extradata) == want


@pytest.mark.parametrize("size, big", [((1920, 1080), False), ((7680, 4320), False), ((8192, 4320), False),
                                       ((8208, 16), True), ((16, 8208), True), ((8192, 8192), True),
                                       ((16000, 16000), True), (None, False)])
def test_too_big_bounds_a_side_and_the_pixel_count(size, big):
    assert ps.too_big(size) is big


def test_garbage_and_other_codecs_say_nothing():
    for data in (b"", b"\x00\x00\x01", b"\x00\x00\x01\x67", b"\x01\x02", b"\x00\x00\x01\x67\xff\xff\xff" * 3):
        assert ps.declared_size("h264", data) is None
    assert ps.declared_size("mjpeg", h264_sps(16000, 16000)) is None


@pytest.fixture(scope="module")
def keyframe(tmp_path_factory) -> bytes:
    return _encode(tmp_path_factory.mktemp("kf"), "libx264", "320x240", "h264")


def test_a_16000x16000_keyframe_is_refused_before_decoding_and_alarmed_once(keyframe, monkeypatch):
    big = with_sps(keyframe, h264_sps(16000, 16000))
    assert ps.declared_size("h264", big) == (16000, 16000)
    with pytest.raises(ic.PictureTooBig, match="16000x16000"):
        ic.decode_keyframe("h264", None, big)
    # ... before any decoder exists
    monkeypatch.setattr(ic.av.CodecContext, "create", lambda *a: pytest.fail("a decoder was made"))
    with pytest.raises(ic.PictureTooBig):
        ic.decode_keyframe("h264", h264_sps(16000, 16000), keyframe)
    monkeypatch.undo()
    # the sampler: one Oversize per connection, no Image, the pool lives on
    got: queue.Queue = queue.Queue()
    pool = ic.ImageSampler(got.put, threads=1)
    try:
        cam = pool.camera("c")
        cam.codec = "h264"
        for i in range(3):
            cam.offer(big, 1000 + i)
            wait_for(lambda: not cam.busy, 30, "the pool to take the sample", interval=0.01)
        cam.offer(keyframe, 2000)
        events = [got.get(timeout=30), got.get(timeout=30)]
    finally:
        pool.close()
    assert events[0] == Oversize("c", 16000, 16000, "image check", 1000)
    assert isinstance(events[1], Image) and events[1].metrics["width"] == 320
    assert got.empty()


def test_the_alarm_stands_until_a_picture_is_checked():
    hc = HealthConfig()
    base = dict(id="c", enabled=True, audio_required=False, state="recording", stats=None, similarity=None)
    present, known = health.conditions(health.CameraView(**base, image=None, oversize=(16000, 16000)), hc, 720)
    assert kinds.PICTURE_TOO_BIG.name in known and "16000x16000" in present[kinds.PICTURE_TOO_BIG.name]
    present, known = health.conditions(health.CameraView(**base, image=None), hc, 720)
    assert kinds.PICTURE_TOO_BIG.name not in known  # no evidence either way: the alarm neither rises nor clears
    image = {"luma": 110.0, "dark": 0.0, "bright": 0.01, "contrast": 50.0, "sharpness": 0.75, "colour": 40.0,
             "change": 0.15}
    present, known = health.conditions(health.CameraView(**base, image=image), hc, 720)
    assert kinds.PICTURE_TOO_BIG.name in known and kinds.PICTURE_TOO_BIG.name not in present  # a checked picture clears it
    assert kinds.PICTURE_TOO_BIG.name in health.KINDS
