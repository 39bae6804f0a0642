"""What a device writes, kept as it is (issue 87 item 7, design/0401, 0402): an open-GOP file's segments
abut (their seams were an export's "no footage recorded" of a picture each), and a sound the box cannot
keep in its segments (an AVCHD's AC-3) is named in an export's manifest, its C2PA ingredient and by the
court's checker, not silently absent. Files made by ffmpeg, remuxed by the real media worker, every
segment and clip decoded under `ffmpeg -v error -xerror`."""

from __future__ import annotations

import json
import subprocess

import av
import pytest
from edged_evidence_check import check as checker

from storage.catalog import open_db
from storage.export import checking
from storage.export import evidence as export
from storage.intake.remux import abut, remux
from storage.keys import nodekey
from storage.readonly import open_readonly
from tests.support import portable
from tests.support.catalog import audit_rows, rows
from tests.test_intake import S, _take_in, decodes, payloads

NOW = 1_780_000_000 * S


def seg(offset: int, duration: int, earliest: int | None = None, tick: int = 1) -> dict:
    return {"file": f"{offset}.mp4", "offset_us": offset, "duration_us": duration, "frames": 1,
            "earliest_us": offset if earliest is None else earliest, "tick_us": tick}


@pytest.mark.parametrize("made, durations", [
    ([seg(0, 2_966_666), seg(3_000_000, 3_000_000, 2_966_666)], [3_000_000, 3_000_000]),   # an open GOP's lead
    ([seg(0, 2_966_666), seg(3_000_000, 3_000_000, 2_966_667)], [3_000_000, 3_000_000]),   # rounded to the µs
    ([seg(0, 2_000_000), seg(3_000_000, 3_000_000, 2_966_666)], [2_000_000, 3_000_000]),   # a true gap stays
    ([seg(0, 3_000_000), seg(3_000_000, 3_000_000)], [3_000_000, 3_000_000]),              # closed GOPs
    ([seg(0, 3_100_000), seg(3_000_000, 3_000_000, 2_900_000)], [3_100_000, 3_000_000]),   # overlap untouched
    ([seg(0, 1_000_000)], [1_000_000]),
    ([seg(0, 3_063_000, tick=1000), seg(3_064_000, 999_000)], [3_064_000, 999_000]),   # Matroska's milliseconds
    ([seg(0, 3_063_000, tick=1000), seg(3_064_001, 999_000)], [3_063_000, 999_000]),   # past a tick: a gap
], ids=["open-gop", "rounded", "true-gap", "closed", "overlap", "one", "ms-tick", "past-a-tick"])
def test_segments_abut_where_the_seam_is_the_next_ones_leading_pictures(made, durations):
    out = abut(made)
    assert [s["duration_us"] for s in out] == durations
    assert all("earliest_us" not in s and "tick_us" not in s for s in out), "the worker's answer has the daemon's keys only"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    return {"open": portable.open_gop(d / "open.mp4"), "mts": portable.avchd(d / "00001.MTS"),
            "trimmed": portable.trimmed(d / "trimmed.mp4"), "two_edits": portable.two_edits(d / "cut.mp4"),
            "trimmed_b": portable.trimmed(d / "trimmed-b.mp4", seconds=6),
            "rotated": portable.rotated_iphone(d / "IMG_0009.MOV")}


def test_an_open_gop_files_segments_abut_and_keep_every_picture(files, tmp_path):
    r = remux(files["open"], tmp_path, 3 * S)
    segs = r["segments"]
    assert len(segs) == 4 and sum(s["frames"] for s in segs) == 12 * 30
    assert [b["offset_us"] - (a["offset_us"] + a["duration_us"]) for a, b in zip(segs, segs[1:])] == [0, 0, 0]
    assert all(decodes(tmp_path / s["file"]) for s in segs)
    assert [p for s in segs for p in payloads(tmp_path / s["file"], "video")] == payloads(files["open"], "video")


def _exported(data, camera: str, out) -> dict:
    """All of `camera`'s footage, from its first segment's start to its last one's end, exported."""
    segs = rows(open_db(data / "catalog.db"), "segments", lambda x: x["camera"] == camera, order="start_us")
    start, end = segs[0]["start_us"], segs[-1]["end_us"]
    db = open_readonly(data / "catalog.db")
    try:
        cams = export.gather(db, [camera], start, end)
    finally:
        db.conn.close()
    header = {"site": {"id": "test", "name": "Test office"}, "node": "node1", "custodian": "carol",
              "recipient": "court", "grant": {"id": 1}, "request": {"id": 1}}
    (data / "keydir").mkdir(exist_ok=True)
    manifest = export.write_export(data, out, key=nodekey.load_or_create(data / "keydir"), header=header,
                                   cameras=cams, from_us=start, to_us=end)
    assert checking.verify_export(out) == []
    return manifest


def test_an_open_gop_imports_export_lists_no_gap(files, tmp_path):
    """The open-GOP file claims no time: its footage is placed at its intake; exported whole, no gap."""
    _take_in(tmp_path, files["open"], NOW, device="cam-30", segment_us=3 * S)
    manifest = _exported(tmp_path, "portable.cam-30", tmp_path / "export")
    [cam] = manifest["cameras"]
    assert cam["gaps"] == [] and len(cam["sources"]) == 4, cam["gaps"]
    assert all(decodes(tmp_path / "export" / c["file"]) for c in cam["clips"])


def test_an_avchd_files_ac3_is_named_in_the_export_and_by_the_checker(files, tmp_path):
    (tmp_path / "made").mkdir()
    r = remux(files["mts"], tmp_path / "made", 10 * S)
    assert r["sound_left"] == "ac3" and r["format"] == "mpegts" and len(r["segments"]) == 1
    row = _take_in(tmp_path / "data", files["mts"], NOW, device="hdr-cx")
    assert row["note"] == "sound ac3 in the original alone"
    [rec] = audit_rows(open_db(tmp_path / "data" / "catalog.db"), "evidence.imported")
    assert json.loads(rec["detail"])["note"] == "sound ac3 in the original alone"
    manifest = _exported(tmp_path / "data", "portable.hdr-cx", tmp_path / "export")
    [cam] = manifest["cameras"]
    assert {s["imported"]["sound_left"] for s in cam["sources"]} == {"ac3"}
    assert all("its sound (ac3) is in the original file alone" in s["imported"]["note"] for s in cam["sources"])
    for clip in cam["clips"]:   # the clips are silent, and the manifest says why
        assert decodes(tmp_path / "export" / clip["file"])
        with av.open(str(tmp_path / "export" / clip["file"])) as c:
            assert len(c.streams.audio) == 0
    said: dict = {"notes": []}
    checker.imported(manifest, said)
    [note] = said["notes"]
    assert f"intake {row['id']}: imported on" in note and "its sound (ac3) is in the original file alone, not " \
        "in the clips, as its signed manifest.json says" in note, note
    # a file whose sound the segments keep says nothing of the kind
    plain = _take_in(tmp_path / "data", files["open"], NOW + S, device="cam-30")
    assert plain["note"] is None
    assert rows(open_db(tmp_path / "data" / "catalog.db"), "intakes", lambda x: x["device"] == "cam-30")


def shown(path) -> int:
    """Pictures a player shows: decoded, at a presentation time from the file's start on (a device's
    hidden pictures, behind its edit list, come before it)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=120, check=True).stdout
    return sum(1 for line in out.split() if float(line.split(",")[0]) >= 0)


def pictures(path) -> list[str]:
    """The checksum of each picture a player shows (from the file's start on), in the order shown."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-copyts", "-i", str(path), "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-f", "framecrc", "-"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    rows = [[f.strip() for f in line.split(",")] for line in out.splitlines() if line and not line.startswith("#")]
    return [f[5] for f in sorted(rows, key=lambda f: int(f[2])) if int(f[2]) >= 0]


def test_a_trimmed_files_hidden_pictures_stay_hidden_and_its_footage_starts_at_its_edit(files, tmp_path):
    """A device's trim (`-ss 0.4 -c copy`) keeps the GOP's first pictures behind an edit list (design/0425):
    before, the first segment showed them and started 0.4 s early (300 pictures against the file's 288)."""
    src = files["trimmed"]
    r = remux(src, tmp_path, 3 * S)
    segs = r["segments"]
    assert segs[0]["offset_us"] == 0, "the footage starts where the device's edit does"
    assert sum(s["frames"] for s in segs) == shown(src) == 288
    assert [shown(tmp_path / s["file"]) for s in segs] == [s["frames"] for s in segs]
    assert all(decodes(tmp_path / s["file"]) for s in segs)
    assert [p for s in segs for p in payloads(tmp_path / s["file"], "video")] == payloads(src, "video")
    with av.open(str(tmp_path / segs[0]["file"])) as c:
        assert c.streams.video[0].start_time * c.streams.video[0].time_base < 0, "the hidden ones behind its edit"


def test_a_later_edit_is_a_segment_of_its_own_its_hidden_pictures_behind_its_edit_list(files, tmp_path):
    """An editor's cut of a middle part, two edits (design/0461): FFmpeg shows the file's first 2 s (60 pictures)
    and 3 s from mid-GOP at 5.5 s. Before, the remux wrote the first edit's 30 hidden pictures past its end as
    shown and failed on the second edit's times going back ("returned 22": the intake refused). Now the second
    edit is a segment of its own whose 15 pictures before the edit are stored behind its edit list; the one
    picture past its end that a picture shown is decoded from is kept (91 against FFmpeg's 90)."""
    src = files["two_edits"]
    segs = remux(src, tmp_path, 3 * S)["segments"]
    assert shown(src) == 150 and [s["frames"] for s in segs] == [60, 91], segs
    assert [(s["offset_us"], s["duration_us"]) for s in segs] == [(0, 2 * S), (2_066_666, 3_066_667)], segs
    assert [shown(tmp_path / s["file"]) for s in segs] == [s["frames"] for s in segs]
    assert all(decodes(tmp_path / s["file"]) for s in segs)
    with av.open(str(tmp_path / segs[1]["file"])) as c:
        assert c.streams.video[0].start_time * c.streams.video[0].time_base < 0, "the hidden ones behind its edit"
    # the one picture past the second edit's end (design/0477): the last two pictures shown are decoded from it,
    # and without it they decode silently (no error under -xerror) to other pictures. Every picture the file
    # shows is in the segments as it shows it; the kept one is the segment's last
    first, second = (pictures(tmp_path / s["file"]) for s in segs)
    assert first + second[:90] == pictures(src) and len(second) == 91


def test_a_trimmed_imports_export_starts_at_its_claim_and_shows_the_files_pictures(files, tmp_path):
    """Taken in and exported whole: the copy's footage starts at the device's claim and a player of the
    clip shows the 288 pictures the file shows, not the 12 it hides; it verifies and decodes."""
    row = _take_in(tmp_path, files["trimmed"], NOW, device="trim-1", segment_us=3 * S)
    manifest = _exported(tmp_path, "portable.trim-1", tmp_path / "export")
    [cam] = manifest["cameras"]
    assert cam["gaps"] == [], cam["gaps"]
    [clip] = cam["clips"]
    assert clip["from_us"] == NOW and row["claimed_start_us"] is None, "from its first picture shown, at the intake"
    assert clip["frames"] == shown(tmp_path / "export" / clip["file"]) == 288
    assert decodes(tmp_path / "export" / clip["file"])


def test_two_adjacent_trimmed_imports_in_one_copy_show_each_ones_pictures_and_no_gap(files, tmp_path):
    """Two trimmed files of one device, the second taken in where the first's footage ends, exported across both
    (design/0461): the second's hidden pictures begin a clip of their own, behind its edit list. Before, the
    clip began in the first intake, the second's hidden pictures fell inside it and were dropped, and its
    shown pictures decoded from them with them (the manifest counted more than a player showed)."""
    _take_in(tmp_path, files["trimmed"], NOW, device="trim-2", segment_us=3 * S)
    ends = rows(open_db(tmp_path / "catalog.db"), "segments", lambda x: x["camera"] == "portable.trim-2")
    _take_in(tmp_path, files["trimmed_b"], max(s["end_us"] for s in ends), device="trim-2", segment_us=3 * S)
    manifest = _exported(tmp_path, "portable.trim-2", tmp_path / "export")
    [cam] = manifest["cameras"]
    assert cam["gaps"] == [], cam["gaps"]
    played = [shown(tmp_path / "export" / c["file"]) for c in cam["clips"]]
    assert [c["frames"] for c in cam["clips"]] == played == [288, 168], (cam["clips"], played)
    assert all(decodes(tmp_path / "export" / c["file"]) for c in cam["clips"])


def test_a_two_edit_imports_copy_shows_the_pictures_it_counts(files, tmp_path):
    """The two-edit file taken in and exported whole (design/0461): its second edit begins a clip of its own."""
    _take_in(tmp_path, files["two_edits"], NOW, device="cut-1", segment_us=3 * S)
    manifest = _exported(tmp_path, "portable.cut-1", tmp_path / "export")
    [cam] = manifest["cameras"]
    played = [shown(tmp_path / "export" / c["file"]) for c in cam["clips"]]
    assert [c["frames"] for c in cam["clips"]] == played == [60, 91], (cam["clips"], played)
    assert all(decodes(tmp_path / "export" / c["file"]) for c in cam["clips"])


def test_an_iphones_rotation_is_kept_in_its_segments_and_its_copy(files, tmp_path):
    """An iPhone held upright (design/0477): its `hvc1` MOV's track matrix turns the picture 90 degrees; the
    segments and the copy's clip keep the matrix (a player shows it upright) and the sample entry."""
    src = files["rotated"]
    assert portable.rotation(src) == ("hvc1", 90), "the test's own file"
    _take_in(tmp_path, src, NOW, device="ip-1", segment_us=3 * S)
    segs = rows(open_db(tmp_path / "catalog.db"), "segments", lambda x: x["camera"] == "portable.ip-1")
    assert [portable.rotation(tmp_path / s["path"]) for s in segs] == [("hvc1", 90)]
    [cam] = _exported(tmp_path, "portable.ip-1", tmp_path / "export")["cameras"]
    assert [(portable.rotation(tmp_path / "export" / c["file"]), c["frames"]) for c in cam["clips"]] == [(("hvc1", 90), 60)]
    assert all(decodes(tmp_path / "export" / c["file"]) for c in cam["clips"])
