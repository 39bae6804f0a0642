"""The edged reader against libavformat's on the same RTP streams (design/0093): captured
streams (tests/data/rtp, made by tests/support/rtp_captures.py) replayed through both give the
same access units (SHA-256 of each), the same keyframes, and pts and dts within one 90 kHz tick.

The edged side is the reader's own code without its socket: recorder/rtp.py's depacketiser, the
reorder depth (edged_source.reorder_of) and the picture times (timeline.RtpTimes). libavformat's
side is PyAV reading the stream's SDP, the capture sent to it over loopback UDP, its packets
joined into access units as the record loop joins them (recorder/access_unit.py). libavformat
leaves the first picture, and with B pictures the first few decode times, without a time: there
the edged times must only be in order and never after the picture.
"""

import hashlib

import pytest

from recorder import rtp
from recorder.edged_source import reorder_of
from recorder.timeline import RtpTimes
from tests.support import rtp_captures

pytestmark = pytest.mark.slow  # about 2 s a case of libavformat's read timeouts (design/0266, 0289)

FRAME = 4500  # the captures' 20 fps at 90 kHz


def _edged(name: str, codec: str) -> tuple[int, list[tuple[int, int, bool, str]]]:
    dep = rtp.Depacketizer(codec)
    units = []
    for packet in rtp_captures.read(rtp_captures.HERE / f"{name}.rtp"):
        units += dep.push(packet)
    units += dep.flush()
    depth = reorder_of(codec, b"", units[:1])  # the SPS says it: no look at the pictures
    times = RtpTimes(units[0].ts, depth, FRAME)
    return depth, [(*times.stamp(u.ts), u.key, hashlib.sha256(u.data).hexdigest()) for u in units]


@pytest.mark.parametrize(("name", "codec", "depth"), [
    ("plain_h264", "h264", 0),
    ("bframes_h264", "h264", 2),   # x264 -bf 2, b-pyramid
    ("bframes_h265", "hevc", 2),   # x265 bframes=2, b-pyramid
    ("slices_h264", "h264", 0),    # every picture in 4 slices
])
def test_edged_and_libavformat_read_the_same_pictures_at_the_same_times(tmp_path, name, codec, depth):
    got_depth, mine = _edged(name, codec)
    assert got_depth == depth
    theirs = [(pts, dts, key, hashlib.sha256(data).hexdigest())
              for pts, dts, key, data in rtp_captures.replay(name, codec, tmp_path)]
    assert len(mine) == len(theirs) == 40  # 2 s at 20 fps: nothing lost, nothing split
    assert [m[3] for m in mine] == [t[3] for t in theirs]
    assert [m[2] for m in mine] == [t[2] for t in theirs]
    assert sum(m[2] for m in mine) == 2
    unknown = 0
    for (pts, dts, _k, _h), (their_pts, their_dts, _tk, _th) in zip(mine, theirs):
        assert dts <= pts
        if their_pts is not None:
            assert abs(pts - their_pts) <= 1
        if their_dts is not None:
            assert abs(dts - their_dts) <= 1
        else:
            unknown += 1
    assert unknown <= depth + 1  # libavformat's first picture, and its first decode times with B pictures
    dts_all = [m[1] for m in mine]
    assert all(b > a for a, b in zip(dts_all, dts_all[1:]))
    if depth:
        assert any(b[0] < a[0] for a, b in zip(mine, mine[1:]))  # B pictures: the times go back


def test_the_slices_case_is_a_multi_slice_keyframe():
    dep = rtp.Depacketizer("h264")
    units = []
    for packet in rtp_captures.read(rtp_captures.HERE / "slices_h264.rtp"):
        units += dep.push(packet)
    key = units[0].data
    slices = [i for i in range(len(key) - 4) if key[i:i + 4] == rtp.START and key[i + 4] & 0x1F == 5]
    assert len(slices) == 4
