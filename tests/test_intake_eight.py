"""Eleven portable cameras' files taken in side by side on the real daemon (issue 87, "How it is checked";
design/0427, 0477): the layouts a device writes (a phone's MP4 with its index at the end and AAC, an H.265 MOV
with G.711, an AVCHD .MTS, a `hvc1` MP4, Matroska, a file trimmed behind an edit list, a fragmented MP4,
open GOPs, an iPhone's rotated `hvc1` MOV, a phone's variable frame rate, 4K), each sent by its own custodian through `edgectl evidence import` at once (four remuxes at a
time on the box). Every original and every segment is decoded under `ffmpeg -v error -xerror`; the
catalog's picture count of each intake equals the pictures the original shows and the pictures its
segments show played in turn."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support import portable
from tests.support.catalog import rows
from tests.support.daemon import ROOT, Daemon, ctl_argv, write_config
from tests.support.people import People

MAKERS = {
    "phone": lambda d: portable.body_camera(d / "VID_0001.mp4", seconds=6),
    "mov": lambda d: portable.hevc_g711(d / "IMG_0002.MOV", seconds=4),
    "mts": lambda d: portable.avchd(d / "00003.MTS", seconds=4),
    "hvc1": lambda d: portable.hevc_tagged(d / "PXL_0004.mp4"),
    "mkv": lambda d: portable.matroska(d / "dash-0005.mkv", seconds=4),
    "trimmed": lambda d: portable.trimmed(d / "trim-0006.mp4", seconds=5),
    "frag": lambda d: portable.fragmented(d / "BWC_0007.MP4", seconds=6),
    "opengop": lambda d: portable.open_gop(d / "GX010008.MP4", seconds=6),
    # issue 87's three layouts more: an iPhone's rotated hvc1 MOV, a phone's variable frame rate, 4K
    "rotated": lambda d: portable.rotated_iphone(d / "IMG_0009.MOV"),
    "vfr": lambda d: portable.variable_rate(d / "VID_0010.mp4"),
    "uhd": lambda d: portable.uhd(d / "VID_0011.mp4"),
}


def probe(path, entries: str) -> str:
    return subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of",
                           "csv=p=0", str(path)], capture_output=True, text=True, check=True, timeout=60).stdout


def times_us(path) -> list[int]:
    """Each picture's presentation time, in µs from the file's first one shown."""
    t = sorted(round(float(x) * 1_000_000) for x in probe(path, "packet=pts_time").split())
    return [x - t[0] for x in t]


def kept_as_sent(k: str, src, segs, data) -> None:
    """What a layout is about, as the device wrote it: the rotation (the track's matrix, on every segment), each
    picture's own time (a variable rate: the segments' times, placed at their starts, are the original's within
    a tick of its 1/90000 s), the size."""
    if k == "rotated":
        assert portable.rotation(src) == ("hvc1", 90)
        assert [portable.rotation(data / s["path"]) for s in segs] == [("hvc1", 90)] * len(segs)
    if k == "vfr":
        got = [s["start_us"] - segs[0]["start_us"] + t for s in segs for t in times_us(data / s["path"])]
        want = times_us(src)
        assert len(got) == len(want) and max(abs(a - b) for a, b in zip(got, want)) <= 12, (got, want)
        assert len({b - a for a, b in zip(want, want[1:])}) > 20, "no fixed grid: the test's own file"
    if k == "uhd":
        assert {(s["width"], s["height"]) for s in segs} == {(3840, 2160)}


def shown(path, *before: str, alone: bool = False) -> int:
    """The pictures `path` shows, decoded under `-xerror` (an error fails the test, and so does any word
    from the decoder, but for a segment decoded `alone`: an open GOP's leading pictures refer to the
    segment before, and H.264's decoder says so): ffmpeg's frame checksums of its video, those from its
    start on (a segment's hidden pictures, behind its edit list, come before it)."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-copyts", *before, "-i", str(path), "-map", "0:v:0",
                        "-fps_mode", "passthrough", "-f", "framecrc", "-"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and (alone or not r.stderr.strip()), f"{path.name}: {r.stderr[-500:]}"
    lines = [line.split(",") for line in r.stdout.splitlines() if line and not line.startswith("#")]
    return sum(1 for f in lines if int(f[2]) >= 0)   # its presentation time, in the stream's time base


def shown_in_turn(paths, listing) -> int:
    """The pictures the segments show played one after another, as a copy joins them (one decoder: an open
    GOP's leading pictures refer to the segment before, and a decoder given that segment alone drops them)."""
    listing.write_text("".join(f"file '{p}'\ninpoint 0\n" for p in paths))
    return shown(listing, "-f", "concat", "-safe", "0")


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    os.chmod(d, 0o755)
    made = {k: make(d) for k, make in MAKERS.items()}
    for p in made.values():
        os.chmod(p, 0o644)
    return made


def test_eleven_devices_files_taken_in_side_by_side_keep_every_picture_they_show(tmp_path, monkeypatch, devices):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:", "enabled": False}])
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, monkeypatch, timeout=300)
        sessions = {}
        for k in devices:
            people.add(f"cu-{k}", "custodian")
        for k in devices:
            people.as_(f"cu-{k}")
            sessions[k] = tmp_path / f"session-{k}.json"
            shutil.copy(people.session, sessions[k])
        sent = {k: subprocess.Popen([*ctl_argv(people.socket), "evidence", "import", str(src), "--device", f"dev-{k}",
                                     "--by", "officer Lin"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env={**people.env, "EDGECTL_SESSION": str(sessions[k])})
                for k, src in devices.items()}
        said = {k: p.communicate(timeout=600) for k, p in sent.items()}
        assert all(p.returncode == 0 for p in sent.values()), said
        taken = {t["device"]: t for t in rows(d, "intakes", order="id")}
        assert sorted(taken) == sorted(f"dev-{k}" for k in devices)
        for k, src in devices.items():
            intake = taken[f"dev-{k}"]
            assert intake["file_name"] == src.name and intake["taken_by"] == f"cu-{k}"
            segs = rows(d, "segments", lambda s, c=intake["camera"]: s["camera"] == c, order="start_us")
            assert segs, k
            alone = [shown(data / s["path"], alone=True) for s in segs]    # each decodes by itself, under -xerror
            assert all(a <= s["frames"] for a, s in zip(alone, segs)) and alone[0] == segs[0]["frames"], (k, alone)
            joined = shown_in_turn([data / s["path"] for s in segs], tmp_path / f"{k}.txt")
            assert joined == sum(s["frames"] for s in segs) == shown(src), (k, joined, alone)
            assert all(a["end_us"] == b["start_us"] for a, b in zip(segs, segs[1:])), (k, "segments abut")
            kept_as_sent(k, src, segs, data)
    finally:
        d.stop()
