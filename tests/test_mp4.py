"""Cutting a crashed fragmented MP4 back to its last whole fragment, on real files."""

import os
import shutil
import subprocess
from fractions import Fraction

import pytest

from storage.mp4 import camera_times, camera_times_box, cut_to_whole, scan_media, whole_prefix


@pytest.fixture(scope="module")
def fmp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp4") / "seg.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20", "-t", "6",
         "-c:v", "libx264", "-g", "40", "-bf", "0", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
         "-frag_duration", "1000000", str(path)], check=True)
    return path


def test_finished_file_is_left_alone(fmp4):
    whole = whole_prefix(fmp4)
    assert whole.finished and whole.end == os.path.getsize(fmp4)
    assert whole.fragments >= 6  # 1 s fragments although the GOP is 2 s
    info = scan_media(fmp4)
    assert info.frames == 120 and info.codec == "h264" and (info.width, info.height) == (320, 240)
    assert abs(info.duration_us - 6_000_000) <= 50_000


def test_the_cameras_own_times_after_the_trailer_are_part_of_the_finished_file(fmp4, tmp_path):
    """design/0150: the box is whole and after the trailer: recovery keeps it, players skip it."""
    seg = tmp_path / "times.mp4"
    shutil.copy(fmp4, seg)
    pictures = [(0, 0), (4500, 0), (9000, 0)]
    with open(seg, "ab") as f:
        f.write(camera_times_box(Fraction(1, 90000), pictures))
    assert camera_times(fmp4) is None
    assert camera_times(seg) == {"time_base": "1/90000", "pictures": [list(p) for p in pictures]}
    size = os.path.getsize(seg)
    assert whole_prefix(seg).end == size and cut_to_whole(seg).finished and os.path.getsize(seg) == size
    errors = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(seg), "-f", "null", "-"],
                            capture_output=True, text=True).stderr
    assert errors == ""
    assert scan_media(seg).frames == 120


@pytest.mark.parametrize("keep", [0.35, 0.5, 0.71, 0.93])
def test_cut_file_plays_up_to_its_last_whole_fragment(fmp4, tmp_path, keep):
    cut = tmp_path / "cut.mp4"
    shutil.copy(fmp4, cut)
    os.truncate(cut, int(os.path.getsize(fmp4) * keep))  # as kill -9 leaves it
    whole = cut_to_whole(cut)
    assert os.path.getsize(cut) == whole.end and not whole.finished and whole.fragments >= 1
    errors = subprocess.run(["ffmpeg", "-v", "error", "-i", str(cut), "-f", "null", "-"],
                            capture_output=True, text=True).stderr
    assert errors == ""
    info = scan_media(cut)
    assert info.frames == whole.fragments * 20  # every whole fragment is 1 s of 20 fps
    assert info.duration_us == pytest.approx(whole.fragments * 1_000_000, abs=50_000)


def test_file_without_a_whole_fragment_has_nothing(fmp4, tmp_path):
    cut = tmp_path / "cut.mp4"
    shutil.copy(fmp4, cut)
    os.truncate(cut, 900)  # ftyp + part of moov
    assert cut_to_whole(cut).fragments == 0


def test_provenance_metadata_names_the_origin_and_leaves_playback_alone(fmp4, tmp_path):
    """Two cameras on one stream give files that differ only in what names their origin."""
    import av

    from recorder.segment import SegmentFile, provenance
    from tests.support.cameras import ffprobe, ffprobe_errors, packet_pts

    out = {}
    for name, meta in (("plain", None), ("cam1", provenance("tw-hr-001", "node1", "cam1", 1_795_222_400_000_000)),
                       ("cam2", provenance("tw-hr-001", "node1", "cam2", 1_795_222_400_000_000))):
        with av.open(str(fmp4)) as src:
            v = src.streams.video[0]
            seg = SegmentFile(tmp_path / f"{name}.mp4", v, None, origin_us=0, fragment_us=1_000_000, metadata=meta)
            for p in src.demux(v):
                if p.dts is not None and p.size:
                    seg.write(p, True)
            seg.close()
        out[name] = tmp_path / f"{name}.mp4"
    assert out["cam1"].read_bytes() != out["cam2"].read_bytes()
    tags = ffprobe(out["cam1"])["format"]["tags"]
    assert tags["title"] == "tw-hr-001/node1/cam1 2026-11-21T00:53:20.000000Z", tags
    assert tags["creation_time"].startswith("2026-11-21T00:53:20")
    assert '"camera": "cam1"' in tags["comment"] and '"site": "tw-hr-001"' in tags["comment"]
    for name in ("cam1", "cam2"):
        assert ffprobe_errors(out[name]) == ""
        assert packet_pts(out[name]) == packet_pts(out["plain"]), "the same frames at the same times"
        assert ffprobe(out[name])["format"]["duration"] == ffprobe(out["plain"])["format"]["duration"]
    assert whole_prefix(out["cam1"]).fragments == whole_prefix(out["plain"]).fragments


def test_an_h265_file_opened_at_a_cra_counts_the_pictures_it_shows(tmp_path):
    """Issue 92 (design/0442): a recovered segment that opens at an open GOP's CRA is counted as the
    recorder counts it: its RASL pictures (which `ffmpeg` does not show from the file) left out."""
    import av

    raw = tmp_path / "og.h265"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=20", "-t", "4",
                    "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                    "keyint=20:min-keyint=20:scenecut=0:bframes=3:open-gop=1:log-level=error", "-f", "mp4", str(raw)],
                   check=True, timeout=120)
    out = tmp_path / "from_cra.mp4"
    with av.open(str(raw)) as src, av.open(str(out), "w", format="mp4") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        started = keys = 0
        for pkt in src.demux(src.streams.video[0]):
            if pkt.dts is None:
                continue
            keys += pkt.is_keyframe
            if keys >= 2:  # from the second keyframe, a CRA
                if not started:
                    started, shift = 1, pkt.dts
                pkt.pts, pkt.dts = pkt.pts - shift, pkt.dts - shift
                pkt.stream = stream
                dst.mux(pkt)
    shown = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames", "-count_packets",
                            "-show_entries", "stream=nb_read_frames,nb_read_packets", "-of", "csv=p=0", str(out)],
                           capture_output=True, text=True, check=True, timeout=60).stdout.strip().split(",")
    frames, packets = int(shown[0]), int(shown[1])
    assert packets - frames == 3  # x265's three RASL pictures after the CRA
    assert scan_media(out).frames == frames
