"""The export's fragment copy (issue 20, item 2): the segments' fragments copied at the byte
level give the same clip as the remux (same frames, times, holes and offsets in the manifest,
the same video decode times in ffprobe), and a segment the copy does not understand is
remuxed instead. Real segment files from the recorder's segment writer, ffprobe/ffmpeg on the
output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from storage.export import evidence as export
from storage.export import fmp4
from storage.readonly import open_readonly
from storage.disk.hashing import sha256_file
from tests.support.cameras import ffprobe_errors
from tests.support.footage import write_segments
from tests.test_export import sources  # noqa: F401  (the fixture: two short clips, the second larger)

S = 1_000_000
T0 = 1_800_000_000_000_000


def gathered(data: Path, cameras: list[str], start: int, end: int) -> list[dict]:
    db = open_readonly(data / "catalog.db")
    try:
        return export.gather(db, cameras, start, end)
    finally:
        db.conn.close()


def both(tmp_path: Path, data: Path, cams: list[dict], start: int, end: int) -> tuple[Path, list, Path, list]:
    out = []
    for copy in (True, False):
        folder = tmp_path / ("copy" if copy else "remux")
        folder.mkdir()
        out += [folder, export.write_clips(data, folder, cams, start, end, copy=copy)]
    return tuple(out)


def figures(entries: list[dict]) -> list:
    keep = ("file", "duration_s", "frames", "from_us", "to_us", "video", "audio")
    return [([{k: c[k] for k in keep} for c in e["clips"]],
             [(s["path"], s["clip"], s["clip_offset_s"], s.get("note")) for s in e["sources"]],
             e["gaps"]) for e in entries]


def video_dts(path: Path) -> list[str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=dts_time,flags", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def is_fragmented(path: Path) -> bool:
    buf = path.read_bytes()
    return any(kind == b"moof" for kind, *_ in fmp4.boxes(buf, 0, len(buf)))


def moov_children(path: Path) -> set[bytes]:
    """The movie box's children: the segments carry their provenance (udta), a clip does not."""
    buf = path.read_bytes()
    _, start, end = next((s, p, e) for kind, s, p, e in fmp4.boxes(buf, 0, len(buf)) if kind == b"moov")
    return {kind for kind, *_ in fmp4.boxes(buf, start, end)}


@pytest.mark.parametrize("case", ["hole and a start between keyframes", "clock stepped back", "stream changed"])
def test_the_fragment_copy_makes_the_clip_the_remux_makes(tmp_path, sources, case):
    data = tmp_path / "data"
    data.mkdir()
    cameras = ["cam1"]
    if case == "hole and a start between keyframes":
        write_segments(data, "cam1", sources[0], [(T0, 20), (T0 + 25 * S, 14)], segment_s=6)
        start, end = T0 + int(3.4 * S), T0 + int(36.3 * S)
    elif case == "clock stepped back":
        write_segments(data, "cam1", sources[0], [(T0, 6), (T0 + 4 * S, 6)], segment_s=6)
        start, end = T0, T0 + 10 * S
    else:
        write_segments(data, "door", sources[0], [(T0, 8)], segment_s=6)
        write_segments(data, "desk", sources[0], [(T0, 6)], segment_s=6)
        write_segments(data, "desk", sources[1], [(T0 + 6 * S, 6)], segment_s=6)
        cameras, start, end = ["door", "desk"], T0 + 1 * S, T0 + 11 * S
    cams = gathered(data, cameras, start, end)
    copy_dir, copied, remux_dir, remuxed = both(tmp_path, data, cams, start, end)

    assert figures(copied) == figures(remuxed)
    for entry in copied:
        for clip in entry["clips"]:
            path = copy_dir / clip["file"]
            assert is_fragmented(path) and not is_fragmented(remux_dir / clip["file"])
            assert clip["sha256"] == sha256_file(path) and clip["bytes"] == path.stat().st_size
            assert not ffprobe_errors(path).strip()
            assert video_dts(path) == video_dts(remux_dir / clip["file"])
            segment = data / entry["sources"][0]["path"]
            assert b"udta" in moov_children(segment)
            assert moov_children(path) == moov_children(segment) - {b"udta"}


def test_a_segment_the_copy_does_not_understand_is_remuxed(tmp_path, sources):
    data = tmp_path / "data"
    data.mkdir()
    write_segments(data, "cam1", sources[0], [(T0, 18)], segment_s=6)
    cams = gathered(data, ["cam1"], T0, T0 + 18 * S)
    row = cams[0]["segments"][1]
    path = data / row["path"]
    plain = path.with_name("plain.mp4")  # the same packets in a plain (unfragmented) MP4
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-c", "copy", str(plain)], check=True)
    shutil.move(plain, path)
    row["sha256"], row["bytes"] = sha256_file(path), path.stat().st_size
    with pytest.raises(fmp4.NotCopyable):
        fmp4.read_header(path.read_bytes())

    out = tmp_path / "out"
    out.mkdir()
    [entry] = export.write_clips(data, out, cams, T0, T0 + 18 * S)
    clip = out / "cam1.mp4"
    assert not is_fragmented(clip) and not ffprobe_errors(clip).strip()
    assert entry["clips"][0]["frames"] == 18 * 20 and entry["gaps"] == []


def test_a_changed_source_fails_the_copy_before_its_bytes_are_used(tmp_path, sources):
    data = tmp_path / "data"
    data.mkdir()
    write_segments(data, "cam1", sources[0], [(T0, 12)], segment_s=6)
    cams = gathered(data, ["cam1"], T0, T0 + 12 * S)
    path = data / cams[0]["segments"][1]["path"]
    with open(path, "r+b") as f:
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 1]))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(export.ExportError, match="possible tampering") as err:
        export.write_clips(data, out, cams, T0, T0 + 12 * S)
    assert cams[0]["segments"][1]["path"] in str(err.value)
    assert list(out.iterdir()) == []  # no part of a clip is left behind


@pytest.mark.parametrize("end, new, durations, placed, first_duration", [
    (None, [100, 260], [160, 160], [100, 260], 160),    # the clip's first sound: as it is
    (100, [100, 260], [160, 160], [100, 260], 160),     # starts where the last ended: as it is
    (2000, [1840, 2160], [320, 160], [2000, 2160], 160),  # inside the last by less than itself: after it
    (2000, [1000, 1160], [160, 160], [1000, 1160], 160),  # a whole packet or more (clock stepped back): left to drop
])
def test_a_segments_first_sound_is_placed_after_the_last_not_dropped(end, new, durations, placed, first_duration):
    """design/0094: the muxer starts a segment's first sound packet at its first picture."""
    from storage.export.copy import _butt

    run = fmp4.Run(2, 0, durations=list(durations))
    _butt(run, 0, new, end)
    assert (new, run.durations[0], run.durations[1]) == (placed, first_duration, durations[1])
