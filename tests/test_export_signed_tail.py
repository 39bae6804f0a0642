"""A signing camera's export without ONVIF's validator (issue 52, item 6; design/0135): the clip runs
on past the range to the end of the GOP that carries its last GOP's signature (from the next
segment if need be), trimmed by an edit list; the camera's certificate SEI from before the range
is put at the clip's start; a segment past the range that cannot be used ends the tail, never the
export. The camera here is a test clip with an ONVIF signature SEI in every key frame (one a
second) and a certificate SEI in the first; real segment files from the recorder's segment writer.
(ONVIF's own validator on the framework's signed files: tests/test_export_camera_signed.py.)"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest

from storage.readonly import open_readonly
from storage.export import evidence as export
from storage.export import checking
from storage.export import fmp4, signed_video
from storage.keys import nodekey
from tests.support.footage import write_segments

pytestmark = pytest.mark.process  # ffmpeg makes the clip and ffprobe counts its packets (design/0473)

S = 1_000_000
T0 = 1_800_000_000_000_000


def _sei(flags: int, body: bytes) -> bytes:
    payload = signed_video.ONVIF_UUID + bytes([flags]) + body
    return b"\x06\x05" + bytes([len(payload)]) + payload + b"\x80"


SIGNATURE = _sei(0x00, b"signature of the GOP before")
CERTIFICATE = _sei(0x80, b"the camera's certificate chain")


def _signed(annexb: bytes) -> bytes:
    """A signature SEI before every IDR slice, the certificate SEI before the first as well."""
    parts = annexb.split(b"\x00\x00\x01")
    out, first = [parts[0]], True
    for nal in parts[1:]:
        if nal and nal[0] & 0x1F == 5:
            out += ([CERTIFICATE + b"\x00"] if first else []) + [SIGNATURE + b"\x00"]
            first = False
        out.append(nal)
    return b"\x00\x00\x01".join(out)


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    """12 s of a signing camera (key frame every second) in 6 s segments, from T0."""
    d = tmp_path_factory.mktemp("signed")
    raw, mp4 = d / "v.h264", d / "v.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20",
                    "-t", "12", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "20", "-keyint_min", "20",
                    "-sc_threshold", "0", "-bf", "0", "-f", "h264", str(raw)], check=True, timeout=120)
    raw.write_bytes(_signed(raw.read_bytes()))
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-framerate", "20", "-i", str(raw), "-c", "copy",
                    str(mp4)], check=True, timeout=120)
    data = d / "data"
    data.mkdir()
    rows = write_segments(data, "cam1", mp4, [(T0, 11.9)], segment_s=6)
    return data, rows


def make(data: Path, out: Path, a_s: float, b_s: float, copy: bool = True) -> dict:
    db = open_readonly(data / "catalog.db")
    try:
        cams = export.gather(db, ["cam1"], T0 + int(a_s * S), T0 + int(b_s * S))
    finally:
        db.conn.close()
    (out.parent / "key").mkdir(exist_ok=True)
    return export.write_export(data, out, key=nodekey.load_or_create(out.parent / "key"),
                               header={"site": {"id": "s"}, "node": "n"}, cameras=cams, from_us=T0 + int(a_s * S),
                               to_us=T0 + int(b_s * S), clips_writer=functools.partial(export.write_clips, copy=copy))


def samples(path: Path) -> list[bytes]:
    """The clip's video samples in order (its edit list set aside: the copy's reader refuses one)."""
    buf = bytearray(path.read_bytes())
    at = buf.find(b"edts")
    if at >= 0:
        buf[at:at + 4] = b"free"  # the same size, now a box any reader skips
    header = fmp4.read_header(bytes(buf))
    video = header.track(b"vide")
    return [bytes(buf[o:o + n]) for runs in fmp4.fragments(bytes(buf), header) for r in runs
            if r.track_id == video.track_id for o, n in zip(r.offsets, r.sizes)]


@pytest.mark.parametrize("copy", [True, False], ids=["fragment-copy", "remux"])
def test_the_clip_runs_on_to_the_end_of_the_gop_with_its_last_gops_signature(footage, tmp_path, copy):
    data, rows = footage
    manifest = make(data, tmp_path / "x", 1, 5.5, copy=copy)
    clip = manifest["cameras"][0]["clips"][0]
    # shown: 1 s to 5.5 s; the last GOP [5, 6) is signed in the key frame at 6 s, whose GOP ends at 7 s
    assert (clip["from_us"], clip["to_us"], clip["frames"]) == (T0 + S, T0 + 5_500_000, 90)
    assert clip["camera_signed"]["media_to_us"] == T0 + 7 * S and clip["camera_signed"]["tail_frames"] == 30
    sources = manifest["cameras"][0]["sources"]
    assert [s["path"] for s in sources] == [r["path"] for r in rows[:2]] and sources[1]["tail"] is True
    assert checking.verify_export(tmp_path / "x") == []
    got = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of",
                          "csv=p=0", str(tmp_path / "x" / "cam1.mp4")], capture_output=True, text=True, check=True)
    assert int(got.stdout.split()[0]) == 120  # every byte there, the tail's 30 frames too


def test_the_fragment_copy_shows_only_the_range_by_its_edit_list(footage, tmp_path):
    data, _ = footage
    make(data, tmp_path / "x", 1, 5.5)
    buf = (tmp_path / "x" / "cam1.mp4").read_bytes()
    elst = buf.index(b"elst")
    assert buf[elst + 4] == 1 and int.from_bytes(buf[elst + 12:elst + 20], "big") == 4_500  # 4.5 s, movie ticks of 1 ms
    assert len(samples(tmp_path / "x" / "cam1.mp4")) == 120


def test_the_cameras_certificate_sei_from_before_the_range_is_at_the_clips_start(footage, tmp_path):
    data, rows = footage
    manifest = make(data, tmp_path / "x", 7.5, 9)  # in the second segment; the certificate is in the first
    cam = manifest["cameras"][0]
    assert cam["clips"][0]["camera_signed"]["key_sei"] == {"source": rows[0]["path"], "bytes": 4 + len(CERTIFICATE)}
    assert cam["sources"][0] == {**cam["sources"][0], "path": rows[0]["path"], "key_sei": True, "clip": None}
    first = samples(tmp_path / "x" / "cam1.mp4")[0]
    assert first.startswith(len(CERTIFICATE).to_bytes(4, "big") + CERTIFICATE)
    assert signed_video.kinds_in(first, False) == {signed_video.KEY, signed_video.SIGNATURE}


def test_a_clip_from_the_recordings_start_keeps_its_own_certificate_sei(footage, tmp_path):
    data, rows = footage
    manifest = make(data, tmp_path / "x", 0.5, 3)
    assert manifest["cameras"][0]["clips"][0]["camera_signed"]["key_sei"] == {"source": rows[0]["path"],
                                                                               "in_first_frame": True}
    assert sum(s.count(CERTIFICATE) for s in samples(tmp_path / "x" / "cam1.mp4")) == 1  # not added twice


def test_an_unusable_segment_past_the_range_ends_the_tail_not_the_export(footage, tmp_path):
    data, rows = footage
    tail = data / rows[1]["path"]
    before = tail.read_bytes()
    try:
        tail.write_bytes(before[:-1] + bytes([before[-1] ^ 1]))
        manifest = make(data, tmp_path / "x", 1, 5.5)
    finally:
        tail.write_bytes(before)
    clip = manifest["cameras"][0]["clips"][0]
    assert rows[1]["path"] in clip["camera_signed"]["tail_stopped"] and clip["frames"] == 90
    assert [s["path"] for s in manifest["cameras"][0]["sources"]] == [rows[0]["path"]]
