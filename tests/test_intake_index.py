"""An MP4 whose index claims more samples than its bytes can hold is refused before FFmpeg reads it
(issue 87 item 6, T35, design/0404): FFmpeg's demuxer allocates for every sample a `stsz` or `trun`
claims, so a 3 KB file claiming 16.7 M samples cost the remux a quarter of a gigabyte. The rule on
hand-built boxes, then on files ffmpeg made (each claims less than its size and is remuxed) and one of
them patched in place, refused by the real media worker with nothing made."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from storage.intake import index
from storage.intake.take import MADE, Incoming, Refused, run_remux
from tests.support import portable


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def stsz(size: int, count: int, table: int = 0) -> bytes:
    return box(b"stsz", struct.pack(">III", 0, size, count) + b"\0\0\0\1" * table)


def traf(default: int | None, count: int, sizes_listed: bool = False) -> bytes:
    tfhd = box(b"tfhd", struct.pack(">II", 0x10 if default is not None else 0, 1)
               + (struct.pack(">I", default) if default is not None else b""))
    trun = box(b"trun", struct.pack(">II", 0x200 if sizes_listed else 0, count) + b"\0\0\0\1" * sizes_listed * count)
    return box(b"traf", tfhd + trun)


def moov(*tables: bytes) -> bytes:
    return box(b"moov", b"".join(box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", t)))) for t in tables))


@pytest.mark.parametrize("boxes, claims", [
    (moov(stsz(0, 3, table=3)), 3),                       # sizes listed: a byte each at least
    (moov(stsz(1, 16_777_216)), 16_777_216),              # the attack: a constant size, any count, in 20 bytes
    (moov(stsz(500, 10), stsz(0, 4, table=4)), 5_004),    # two tracks
    (box(b"moof", traf(1000, 90)), 90_000),               # a fragment's run sized by its default
    (box(b"moof", traf(None, 7)), 7),
    (box(b"moof", traf(1000, 5, sizes_listed=True)), 5),
    (moov(stsz(1, 9))[:-4], 0),                           # a box running past the end is not read
], ids=["table", "constant", "tracks", "trun-default", "trun-none", "trun-listed", "cut"])
def test_the_bytes_an_index_claims_for_its_samples(boxes, claims):
    assert index.claimed(boxes) == claims


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    return {"bwc": portable.body_camera(d / "bwc.mp4", seconds=4), "frag": portable.fragmented(d / "frag.mp4", 4),
            "mov": portable.hevc_g711(d / "hevc.mov", 3)}


def _remuxed(data: Path, src: Path) -> dict:
    staged = Incoming(data, limit=src.stat().st_size)
    staged.write(src.read_bytes())
    staged.finish()
    try:
        return run_remux(data, staged.path, staged.folder / MADE, 3_000_000)
    finally:
        staged.discard()


def test_files_as_devices_write_them_claim_less_than_their_size(files, tmp_path):
    for name, path in files.items():
        size = path.stat().st_size
        assert 0 < index.claimed_bytes(path, size) <= size, name
        assert _remuxed(tmp_path / name, path)["segments"], name


def test_an_index_claiming_16_million_samples_in_3_kb_is_refused_by_the_worker(files, tmp_path):
    attack = portable.index_claiming(files["bwc"], tmp_path / "attack.mp4", 16_777_216)
    size = attack.stat().st_size
    assert index.claimed_bytes(attack, size) > size
    with pytest.raises(Refused) as refused:
        _remuxed(tmp_path / "data", attack)
    assert refused.value.kind == "index"
    assert list((tmp_path / "data" / "imports").iterdir()) == [], "nothing made, nothing kept"


def test_a_quicktime_file_without_ftyp_is_read_and_its_claim_refused_as_an_mp4s(files, tmp_path):
    """A MOV that begins with another box than `ftyp` (design/0428): FFmpeg's MOV demuxer reads it as an MP4
    and allocated for its claim (the check looked only at files that begin with `ftyp`)."""
    old = portable.without_ftyp(files["mov"], tmp_path / "old.mov")
    assert index.old_quicktime(old) and not index.old_quicktime(files["bwc"])
    assert _remuxed(tmp_path / "plain", old)["segments"], "an honest one is remuxed"
    attack = portable.index_claiming(old, tmp_path / "attack.mov", 16_777_216)
    with pytest.raises(Refused) as refused:
        _remuxed(tmp_path / "data", attack)
    assert refused.value.kind == "index"
    assert list((tmp_path / "data" / "imports").iterdir()) == [], "nothing made, nothing kept"
