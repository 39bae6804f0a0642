"""An open GOP's CRA copied so that a decoder decodes it but does not show it (storage/hevc/hidden.py,
design/0543): the bits round trip, the copy is told from the camera's picture, and on x265's own open GOP a
file ending with the copy and the RASL pictures shows exactly the pictures before the CRA; joined with the
next file as it is, it would not decode (which is why a reader that joins files leaves that tail out)."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import av
import pytest
from hypothesis import given, settings, strategies as st

from storage.hevc.hidden import _escaped, hidden, hidden_copy
from storage.hevc.params import hvcc_units, st_ref_pic_set
from storage.hevc.rbsp import Bits, Writer, annexb_units, escape, unescape

X265 = "keyint=10:min-keyint=10:scenecut=0:open-gop=1:bframes=3"
START = b"\x00\x00\x00\x01"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, (1 << 31) - 2), st.integers(-(1 << 30), 1 << 30), st.integers(0, 1)),
                max_size=20))
def test_exp_golomb_written_is_read_back(values):
    w = Writer()
    for unsigned, signed, bit in values:
        w.ue(unsigned), w.se(signed), w.u(1, bit)
    b = Bits(escape(w.aligned()))
    assert [(b.ue(), b.se(), b.u(1)) for _ in values] == values
    assert b.u(1) == 1  # byte_alignment()'s stop bit


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.lists(st.sampled_from([b"\x00", b"\x01", b"\x02", b"\x03", b"\xff"]))
       .map(b"".join))
def test_escaped_has_no_start_code_and_unescapes_back(rbsp):
    nal = escape(rbsp)
    assert unescape(nal) == rbsp
    for bad in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert bad not in nal
    assert not nal.endswith(b"\x00\x00")  # a cabac_zero_word at the end has its 0x03


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"\x00", b"\x01", b"\x03", b"\xff"]), min_size=1, max_size=64).map(b"".join),
       st.data())
def test_the_slice_data_is_found_in_the_cameras_escaped_bytes(rbsp, data):
    """A rewritten header is followed by the camera's own escaped slice data, found at its RBSP offset (where
    the header ends in a byte that is not 0, as byte_alignment() makes it)."""
    at = data.draw(st.sampled_from([i for i in range(1, len(rbsp) + 1) if rbsp[i - 1]] or [0]))
    nal = escape(rbsp)
    assert escape(rbsp[:at]) + nal[_escaped(nal, at):] == nal


def _tiny_stream() -> tuple[list[bytes], bytes]:
    """A 64x64 x265 open GOP encoded in this process: its access units (Annex B) and its parameter sets
    (the encoder's extradata, Annex B: x265 does not repeat them in band here)."""
    enc = av.CodecContext.create("libx265", "w")
    enc.width, enc.height, enc.pix_fmt, enc.time_base = 64, 64, "yuv420p", Fraction(1, 20)
    enc.options = {"x265-params": f"{X265}:repeat-headers=0:log-level=none", "flags": "+global_header"}
    packets = []
    for i in range(24):
        frame = av.VideoFrame(64, 64, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes((i * 7 + j * 3) % 256 for j in range(plane.buffer_size)))
        frame.pts = i
        packets += enc.encode(frame)
    packets += enc.encode(None)
    known = bytes(enc.extradata or b"")
    assert _kinds(known)[:3] == [32, 33, 34]
    return [bytes(p) for p in packets], known


def _annexb(sample: bytes) -> bytes:
    out, pos = b"", 0
    while pos < len(sample):
        size = int.from_bytes(sample[pos:pos + 4], "big")
        out += START + sample[pos + 4:pos + 4 + size]
        pos += 4 + size
    return out


def _kinds(au: bytes) -> list[int]:
    return [(u[0] >> 1) & 0x3F for u in annexb_units(au)]


def test_a_copy_is_hidden_and_the_camera_pictures_are_not():
    aus, known = _tiny_stream()
    assert not any(hidden(au) for au in aus)
    cras = [au for au in aus if 21 in _kinds(au)]
    assert cras and not set(_kinds(cras[0])) & {33, 34}, "x265 made no CRA, or sent its parameter sets again"
    made = hidden_copy(cras[0], known)
    assert made is not None
    copy, restore = made
    assert hidden(copy) and not hidden(restore + cras[0])
    assert _kinds(restore) == [34] and _kinds(copy) == [34] + _kinds(cras[0])  # the PPS just before the slice
    samples = b"".join(len(u).to_bytes(4, "big") + u for u in annexb_units(copy))
    assert hidden(samples, lengths=True)
    assert hidden_copy(cras[0]) is None  # no PPS


def test_none_for_a_picture_that_cannot_be_copied():
    aus, known = _tiny_stream()
    cra = next(au for au in aus if 21 in _kinds(au))
    trailing = next(au for au in aus if set(_kinds(au)) & {0, 1})
    assert hidden_copy(trailing, known) is None                     # a P/B picture
    at = cra.rfind(b"\x00\x00\x01") + 3                             # the slice segment's NAL unit
    assert hidden_copy(cra[:at + 5], known) is None                 # cut inside its header
    assert hidden_copy(cra[:at] + b"\x2a\x01\xff\xff\xff\xff\xff\xff", known) is None  # a header that is none
    assert hidden_copy(cra[:at] + b"\x2a\x01\x3f", known) is None  # names a PPS never sent
    assert hidden_copy(b"", known) is None and hidden_copy(b"\x00\x00\x01", known) is None


def _decoded(stream: bytes) -> tuple[list[bytes], str]:
    """The md5 of each picture ffmpeg outputs from an Annex B stream, in output order, and its errors."""
    run = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-f", "hevc", "-i", "-", "-f", "framemd5", "-"],
                         input=stream, capture_output=True, timeout=120)
    lines = [line for line in run.stdout.splitlines() if line and not line.startswith(b"#")]
    return [line.rsplit(b",", 1)[-1].strip() for line in lines], run.stderr.decode() + ("" if run.returncode == 0
                                                                                         else f"rc {run.returncode}")


def _clip(tmp_path, params: str) -> tuple[list[bytes], bytes]:
    """x265's open GOP from ffmpeg: its access units (Annex B) and the parameter sets known before them."""
    out = tmp_path / "clip.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20",
                    "-frames:v", "45", "-c:v", "libx265", "-x265-params", f"{X265}:{params}:log-level=none",
                    str(out)], check=True, timeout=120)
    with av.open(str(out)) as c:
        extradata = bytes(c.streams.video[0].codec_context.extradata)
        samples = [bytes(p) for p in c.demux(video=0) if p.size]
    return [_annexb(s) for s in samples], extradata


@pytest.mark.process
@pytest.mark.parametrize("params", [
    "repeat-headers=1", "repeat-headers=0", "repeat-headers=1:slices=2", "repeat-headers=0:slices=3:ref=4:sao=1:tmvp=1",
    # the header's other fields as other settings write them: no wavefront entry points, deblocking off or offset in
    # the PPS, small CTUs (a longer slice_segment_address), no SAO, chroma QP offsets, lossless
    "repeat-headers=1:wpp=0:no-deblock=1:ctu=16", "repeat-headers=1:deblock=2,-2:sao=0:cbqpoffs=2:crqpoffs=-2:slices=4",
    "repeat-headers=1:lossless=1:ctu=32"])
def test_the_previous_file_shows_the_rasl_pictures(tmp_path, params):
    aus, extradata = _clip(tmp_path, params)
    known = b"".join(START + u for u in hvcc_units(extradata))  # what a reader of the file has from its hvcC
    full, errors = _decoded(known + b"".join(aus))
    assert not errors and len(full) == 45
    keys = [i for i, au in enumerate(aus) if set(_kinds(au)) & {19, 20, 21}]
    checked = 0
    for n in range(1, len(keys)):
        cra = keys[n]
        assert 21 in _kinds(aus[cra])
        rasl = [i for i in range(cra + 1, len(aus)) if set(_kinds(aus[i])) & {8, 9}]
        rasl = [i for i in rasl if i < (keys[n + 1] if n + 1 < len(keys) else len(aus))]
        if not rasl:  # the stream's last CRA: x265 ends it without leading pictures
            continue
        assert all(set(_kinds(aus[i])) & set(range(32)) <= {8, 9} for i in rasl)
        if "slices" in params:
            assert _kinds(aus[cra]).count(21) > 1
        made = hidden_copy(aus[cra], extradata)
        assert made is not None
        copy, restore = made
        before = cra + len(rasl)  # pictures before the CRA in output order: all decoded before it, and its RASL
        shown, errors = _decoded(known + b"".join(aus[:cra]) + copy + restore + b"".join(aus[i] for i in rasl))
        assert not errors
        assert shown == full[:before]
        assert full[before] not in shown  # the CRA's own picture is the next file's
        checked += 1
    assert checked >= 3


@pytest.mark.process
def test_files_joined_with_the_tail_repeat_the_copy_s_poc(tmp_path):
    """Why a reader that joins files leaves the display tail out (design/0543): the hidden copy and the next
    file's CRA are one picture order count twice in one coded video sequence, which FFmpeg refuses (and the
    CRA with it)."""
    aus, extradata = _clip(tmp_path, "repeat-headers=1")
    keys = [i for i, au in enumerate(aus) if set(_kinds(au)) & {20, 21}]
    cra = keys[1]
    rasl = [i for i in range(cra + 1, keys[2]) if set(_kinds(aus[i])) & {8, 9}]
    made = hidden_copy(aus[cra], extradata)
    assert made is not None
    a = b"".join(aus[:cra]) + made[0] + made[1] + b"".join(aus[i] for i in rasl)
    _shown, errors = _decoded(a + b"".join(aus[i] for i in range(cra, len(aus)) if i not in rasl))
    assert "Duplicate POC" in errors


def test_a_short_term_set_predicted_from_an_earlier_one_has_the_standard_s_deltas():
    """x265 codes its sets in the slice header: the SPS's inter_ref_pic_set_prediction (7.4.8) checked by hand."""
    w = Writer()
    w.ue(2), w.ue(1)  # set 0: two negative pictures, one positive
    for delta in (1, 1, 1):
        w.ue(delta - 1), w.u(1, 1)
    w.u(1, 1), w.u(1, 1), w.ue(0)  # set 1 (the last of 2: no delta_idx): predicted, delta_rps_sign 1, abs 1
    for _ in range(4):
        w.u(1, 1)  # used_by_curr_pic_flag for -1, -2, +1 and the delta itself
    b = Bits(w.aligned())
    first = st_ref_pic_set(b, 0, 2, ())
    assert first == ((-1, -2), (1,))
    assert st_ref_pic_set(b, 1, 2, (first,)) == ((-1, -2, -3), ())  # +1 - 1 = 0 is no picture
