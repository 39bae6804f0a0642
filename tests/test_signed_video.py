"""The camera signatures an export keeps (storage/export/signed_video.py, design/0135): which SEI
is which, and how far past the requested end a signing camera's clip runs. Pure tables."""

from __future__ import annotations

import pytest

from storage.export import signed_video as sv
from storage.export.signed_video import Frame, Tail

S = 1_000_000


def sei(uuid: bytes, flags: int, hevc: bool = False, body: bytes = b"tlv") -> bytes:
    payload = uuid + bytes([flags]) + body
    head = b"\x4e\x01" if hevc else b"\x06"
    return head + b"\x05" + bytes([len(payload)]) + payload + b"\x80"


@pytest.mark.parametrize("nal, hevc, kind", [
    (sei(sv.ONVIF_UUID, 0x00), False, sv.SIGNATURE),
    (sei(sv.ONVIF_UUID, 0x80), False, sv.KEY),             # ONVIF's certificate SEI
    (sei(sv.ONVIF_UUID, 0x40), False, sv.SIGNATURE),       # ONVIF: 0x40 is "hashed with emulation prevention"
    (sei(sv.AXIS_UUID, 0x00), False, sv.SIGNATURE),
    (sei(sv.AXIS_UUID, 0x40), False, sv.KEY),              # Axis's golden SEI (the public key)
    (sei(sv.AXIS_UUID, 0x80), False, sv.SIGNATURE),        # Axis: 0x80 is "with emulation prevention"
    (sei(sv.ONVIF_UUID, 0x80, hevc=True), True, sv.KEY),
    (sei(bytes(range(16)), 0x00), False, None),            # another maker's user data
    (b"\x06\x04\x05" + sv.ONVIF_UUID[:5], False, None),    # another SEI payload type
    (b"\x65\x88\x84", False, None),                       # an IDR slice
    (sei(sv.ONVIF_UUID, 0x00)[:10], False, None),          # cut short
], ids=["onvif", "onvif-cert", "onvif-epb", "axis", "axis-golden", "axis-epb", "hevc-cert", "other-uuid",
        "other-sei", "slice", "short"])
def test_each_signing_sei_is_told_apart(nal, hevc, kind):
    assert sv.sei_kind(nal, hevc) == kind


def test_the_kinds_in_a_sample_of_length_prefixed_units():
    units = [sei(sv.ONVIF_UUID, 0x80), sei(sv.ONVIF_UUID, 0), b"\x65\x88\x84"]
    sample = b"".join(len(u).to_bytes(4, "big") + u for u in units)
    assert sv.kinds_in(sample, False) == {sv.KEY, sv.SIGNATURE}
    assert sv.key_nals(sample, False) == [units[0]]
    assert sv.kinds_in(sample[:-2], False) == {sv.KEY, sv.SIGNATURE}  # a unit that overruns ends the walk


def kept(frames: str, start_us: int = 0) -> int:
    """How many of `frames` (K keyframe, k keyframe with a signature, s signed, . plain; one a
    second from `start_us` relative to the end) the tail rule keeps."""
    tail = Tail(to_us=0)
    for i, c in enumerate(frames):
        if not tail.take(Frame(start_us + i * S, c in "Kk", c in "ks")):
            return i
    return len(frames)


@pytest.mark.parametrize("frames, n, why", [
    ("..Ks..K..", 6, "the rest of the last GOP, then the GOP holding its signature"),
    ("Ks..K..", 4, "the end falls on a keyframe: the last requested GOP ended there"),
    ("k...K..", 4, "the signature in the next GOP's keyframe itself"),
    ("..K...Ks.K", 9, "no signature in the next GOP (signed every 2 GOPs): on to the GOP that has it"),
    ("s.Ks.K", 5, "a signature before the last GOP ends signs the GOP before: not the one"),
    ("..K..", 5, "the recording ends before the signature: all there is"),
], ids=["usual", "on-keyframe", "in-keyframe", "every-second-gop", "earlier-signature", "footage-ends"])
def test_a_signing_cameras_clip_runs_to_the_end_of_the_gop_with_its_signature(frames, n, why):
    assert kept(frames) == n, why


def test_the_tail_never_runs_past_its_bound():
    assert kept("K" + "." * 100) == sv.MAX_TAIL_US // S + 1
