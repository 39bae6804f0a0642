"""What a box keeps of a standby's segment it holds part of (issue 55 item 4, design/0158): the
stretch it lacks, cut at the segment's own keyframes without re-encoding; and which of the
standby's segments are worth fetching at all."""

from __future__ import annotations

import subprocess

import pytest

from edged.rules import from_standby as rules
from recorder.cut import cut
from tests.support.cameras import make_clip, packet_pts

S = 1_000_000


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    d = tmp_path_factory.mktemp("cut")
    clip = make_clip(d, fps=20, gop=20, seconds=10)  # a keyframe each second
    out = d / "segment.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-r", "20", "-i", str(clip.video), "-t", "6", "-c", "copy",
                    "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(out)], check=True, timeout=60)
    return out


def decode_errors(path) -> str:
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    return r.stderr or ("" if r.returncode == 0 else f"exit {r.returncode}")


def test_the_stretch_lacked_is_cut_at_the_next_keyframe_and_decodes(segment, tmp_path):
    made = cut(segment, tmp_path / "cut.mp4", int(1.5 * S), int(4.2 * S))
    assert made is not None
    assert made.first_us == 2 * S                      # the first keyframe in the stretch, not before it
    assert made.frames == 44 and made.end_us == int(4.2 * S)  # 2.00 .. 4.15 s, 20 a second
    assert decode_errors(tmp_path / "cut.mp4") == ""
    pts = packet_pts(tmp_path / "cut.mp4")
    assert pts[0] == pytest.approx(0, abs=1e-3) and len(pts) == 44
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert made.bytes == (tmp_path / "cut.mp4").stat().st_size


def test_a_stretch_without_a_keyframe_keeps_nothing(segment, tmp_path):
    assert cut(segment, tmp_path / "none.mp4", int(2.1 * S), int(2.9 * S)) is None


@pytest.mark.parametrize("held, lacking", [
    ([], [(0, 10)]),
    ([(0, 4)], [(4, 10)]),                      # the box recorded its start: only the rest
    ([(0, 4), (7, 12)], [(4, 7)]),
    ([(0, 9.6)], []),                           # 0.4 s lacked: not worth a copy of 10 s
    ([(-5, 20)], []),
])
def test_what_the_box_lacks_of_a_standby_segment(held, lacking):
    got = rules.lacking(0, 10 * S, [(int(a * S), int(b * S)) for a, b in held])
    assert got == [(int(a * S), int(b * S)) for a, b in lacking]


def test_a_segment_the_box_lacks_almost_nothing_of_is_not_fetched():
    offered = [{"start_us": 0, "end_us": 10 * S, "sha256": "a"}, {"start_us": 10 * S, "end_us": 20 * S, "sha256": "b"}]
    held = [{"start_us": -S, "end_us": int(9.96 * S), "sha256": "x"}, {"start_us": 12 * S, "end_us": 30 * S}]
    assert [o["sha256"] for o in rules.to_fetch(5 * S, 13 * S, offered, held)] == ["b"]
