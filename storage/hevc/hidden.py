"""An H.265 IRAP picture made into a copy that a decoder decodes but does not output (design/0543).

An open GOP's RASL pictures, written at the end of the file before the CRA's own, refer to the CRA:
the file carries a copy of it whose slice segment headers say pic_output_flag = 0, under its PPS
re-sent in band with output_flag_present_flag = 1, and after that copy the camera's PPS again, so
the RASL pictures decode with the PPS they were coded with. Inserting one bit shifts the rest of the
slice segment header, so the header is parsed whole (7.3.6.1, as far as an I slice of an IRAP
picture has fields), rebuilt with the flag and byte_alignment() again, and the slice data follows
unchanged. Pure functions over bytes, nothing decoded: anything not followed is None, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.hevc import nal_kind
from storage.hevc.params import Pps, Sps, ceil_log2, hvcc_units, parse_pps, parse_sps, sps_id, st_ref_pic_set
from storage.hevc.rbsp import Bits, Writer, annexb_units, escape, length_units

START = b"\x00\x00\x00\x01"
_SPS, _PPS = 33, 34
_I_SLICE = 2
_IDR = (19, 20)


@dataclass(frozen=True)
class _Header:
    """Where a slice segment header's parts are, in bits of its RBSP (after the 2-byte NAL header)."""

    flag_at: int   # where pic_output_flag is, or goes (after slice_type); -1 in a dependent slice segment
    end: int       # the header's end, before byte_alignment()
    data: int      # the byte slice_segment_data() starts at


def _base_layer(nal: bytes) -> bool:
    return not (nal[0] & 1 or nal[1] >> 3)


def _references(b: Bits, sps: Sps) -> None:
    """Read past a CRA or BLA picture's slice_pic_order_cnt_lsb .. slice_temporal_mvp_enabled_flag."""
    b.u(sps.poc_bits)
    count = len(sps.rps)
    if not b.u(1):  # short_term_ref_pic_set_sps_flag
        st_ref_pic_set(b, count, count, sps.rps)
    elif count > 1:
        b.u(ceil_log2(count))  # short_term_ref_pic_set_idx
    if sps.long_term:
        from_sps = b.ue() if sps.lt_count else 0  # num_long_term_sps
        pictures = b.ue()                          # num_long_term_pics
        if from_sps + pictures > 32:
            raise ValueError("long-term pictures")
        for i in range(from_sps + pictures):
            if i >= from_sps:
                b.u(sps.poc_bits + 1)  # poc_lsb_lt, used_by_curr_pic_lt_flag
            elif sps.lt_count > 1:
                b.u(ceil_log2(sps.lt_count))  # lt_idx_sps
            if b.u(1):  # delta_poc_msb_present_flag
                b.ue()
    if sps.tmvp:
        b.u(1)  # slice_temporal_mvp_enabled_flag


def _independent(b: Bits, kind: int, pps: Pps, sps: Sps) -> int:
    """Read an independent I slice segment's fields from slice_reserved_flag to
    slice_loop_filter_across_slices_enabled_flag; the bit where pic_output_flag is or goes."""
    b.u(pps.extra_bits)  # slice_reserved_flag
    if b.ue() != _I_SLICE:
        raise ValueError("not an I slice")
    flag_at = b.pos
    if pps.output_flag:
        b.u(1)
    if sps.separate_planes:
        b.u(2)  # colour_plane_id
    if kind not in _IDR:
        _references(b, sps)
    sao = 0
    if sps.sao:
        sao = b.u(1)
        if sps.chroma:
            sao |= b.u(1)
    b.se()  # slice_qp_delta
    if pps.slice_chroma_qp:
        b.se(), b.se()
    if pps.chroma_qp_list:
        b.u(1)  # cu_chroma_qp_offset_enabled_flag
    off = pps.deblock_off
    if pps.deblock_override and b.u(1):  # deblocking_filter_override_flag
        off = b.u(1) == 1
        if not off:
            b.se(), b.se()
    if pps.across_slices and (sao or not off):
        b.u(1)  # slice_loop_filter_across_slices_enabled_flag
    return flag_at


def _slice_header(b: Bits, kind: int, pps: Pps, sps: Sps) -> _Header:
    """Parse slice_segment_header() (7.3.6.1) of an IRAP picture's slice segment."""
    first = b.u(1)
    b.u(1)  # no_output_of_prior_pics_flag
    if b.ue() != pps.pps_id:
        raise ValueError("slices of one picture name two PPS")
    dependent = 0
    if not first:
        if pps.dependent_slices:
            dependent = b.u(1)
        b.u(ceil_log2(sps.ctbs))  # slice_segment_address
    flag_at = -1 if dependent else _independent(b, kind, pps, sps)
    if pps.entry_points:
        offsets = b.ue()
        if offsets > 4096:
            raise ValueError("entry points")
        if offsets:
            size = b.ue() + 1
            if size > 32:
                raise ValueError("offset_len_minus1")
            b.u(size * offsets)
    if pps.header_extension:
        b.u(8 * b.ue())
    end = b.pos
    if b.u(1) != 1 or b.u(-b.pos % 8) != 0:
        raise ValueError("not byte_alignment()")
    if len(b.data) <= b.pos >> 3:
        raise ValueError("no slice data")
    return _Header(flag_at, end, b.pos >> 3)


def _hidden_slice(nal: bytes, kind: int, pps: Pps, sps: Sps) -> bytes:
    """The slice segment with pic_output_flag = 0 in its header (design/0543); a dependent one as it is."""
    b = Bits(nal[2:])
    h = _slice_header(b, kind, pps, sps)
    if h.flag_at < 0:
        return nal
    w = Writer()
    w.copy(b, 0, h.flag_at)
    w.u(1, 0)
    w.copy(b, h.flag_at + 1 if pps.output_flag else h.flag_at, h.end)
    # The slice data as the camera escaped it: the header ends in a byte that is not 0 (its alignment's 1), so
    # escaping starts afresh there in both, and the data's bytes need not pass through Python one by one
    return nal[:2] + escape(w.aligned()) + nal[2 + _escaped(nal[2:], h.data):]


def _escaped(payload: bytes, at: int) -> int:
    """Where RBSP byte `at` of this NAL unit payload is in its escaped bytes (emulation-prevention bytes before
    it counted: rare, so found by search)."""
    found = payload.find(b"\x00\x00\x03")
    extra = 0
    while found != -1 and found + 2 - extra < at:
        extra += 1
        found = payload.find(b"\x00\x00\x03", found + 3)
    return at + extra


def _with_output_flag(nal: bytes) -> bytes:
    """The PPS with output_flag_present_flag = 1: its fourth syntax element, after two ue(v) and a flag,
    so one bit set and nothing shifted."""
    b = Bits(nal[2:])
    b.ue(), b.ue(), b.u(1)
    data = bytearray(b.data)
    data[b.pos >> 3] |= 0x80 >> (b.pos & 7)
    return nal[:2] + escape(bytes(data))


def _known_units(known: bytes) -> list[bytes]:
    if not known:
        return []
    return hvcc_units(known) if known[0] == 1 else list(annexb_units(known))


def _parameter_sets(units: list[bytes]) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """The SPS and PPS NAL units by their ids, a later one in place of an earlier one."""
    sps: dict[int, bytes] = {}
    pps: dict[int, bytes] = {}
    for nal in units:
        if nal_kind(nal) == _SPS:
            sps[sps_id(nal)] = nal
        elif nal_kind(nal) == _PPS:
            pps[Bits(nal[2:]).ue()] = nal
    return sps, pps


def _copy(units: list[bytes], known: list[bytes]) -> tuple[bytes, bytes]:
    """(the picture's units rewritten, the camera's PPS) over the picture's NAL units and the known
    ones; a ValueError, IndexError or KeyError if it cannot be done."""
    if not all(len(u) > 2 and _base_layer(u) for u in units):
        raise ValueError("an empty unit, or one of a layer above the base")
    slices = [u for u in units if nal_kind(u) < 32]
    kind = nal_kind(slices[0])
    if not 16 <= kind <= 21 or any(nal_kind(s) != kind for s in slices):
        raise ValueError("not an IRAP picture")
    first = Bits(slices[0][2:])
    if not first.u(1):
        raise ValueError("the picture's first slice segment is not first_slice_segment_in_pic")
    first.u(1)
    pps_id = first.ue()
    sps_units, pps_units = _parameter_sets(known + [u for u in units if nal_kind(u) in (_SPS, _PPS)])
    original = pps_units[pps_id]  # KeyError: no PPS
    pps = parse_pps(original)
    sps = parse_sps(sps_units[pps.sps_id])
    if sps.sps_id != pps.sps_id:
        raise ValueError("SPS id")
    silent = original if pps.output_flag else _with_output_flag(original)
    out: list[bytes] = []
    placed = False
    for nal in units:
        if nal_kind(nal) == _PPS and Bits(nal[2:]).ue() == pps_id:
            nal, placed = silent, True
        elif nal_kind(nal) < 32:
            if not placed:
                out.append(silent)
                placed = True
            nal = _hidden_slice(nal, kind, pps, sps)
        out.append(nal)
    return b"".join(START + u for u in out), START + original


def hidden_copy(picture: bytes, known: bytes = b"") -> tuple[bytes, bytes] | None:
    """(copy, restore) of an IRAP access unit in Annex B (design/0543). `known`: the parameter sets known
    before it (the stream's extradata, Annex B or hvcC); the picture's own take precedence. copy: its NAL
    units in order (4-byte start codes) with the PPS its slices name in band (in place of the picture's,
    or just before the first slice) with output_flag_present_flag = 1, and each independent slice
    segment's header with pic_output_flag = 0. restore: that PPS as the camera coded it, to go before
    the next picture. None when that cannot be done safely: no SPS or PPS, a slice not an I slice, a
    PPS extension this does not follow (multilayer, 3D, SCC), a layer above the base, or anything that
    does not parse."""
    try:
        units = [u.rstrip(b"\x00") for u in annexb_units(picture)]
        return _copy(units, [u for u in _known_units(known) if u])
    except (IndexError, KeyError, ValueError):
        return None


def hidden(picture: bytes, lengths: bool = False) -> bool:
    """True when this access unit carries a PPS with output_flag_present_flag = 1 and its first slice segment
    (of a picture whose slices name that PPS) has pic_output_flag = 0: a copy from hidden_copy, which a
    decoder does not output (design/0543). Annex B, or (`lengths`) an MP4 sample with 4-byte lengths. Needs
    no SPS: the first slice segment of a picture has no slice_segment_address, and pic_output_flag comes
    before any field that depends on the SPS."""
    flags: dict[int, tuple[int, int]] = {}  # pps id: output_flag_present_flag, num_extra_slice_header_bits
    try:
        for nal in length_units(picture) if lengths else annexb_units(picture):
            kind = nal_kind(nal)
            b = Bits(nal[2:])
            if kind == _PPS:
                ident = b.ue()
                b.ue(), b.u(1)
                flags[ident] = (b.u(1), b.u(3))
            elif kind < 32 and b.u(1):  # first_slice_segment_in_pic_flag
                if 16 <= kind <= 23:
                    b.u(1)  # no_output_of_prior_pics_flag
                output, extra = flags.get(b.ue(), (0, 0))
                if not output:
                    return False
                b.u(extra)
                b.ue()  # slice_type
                return b.u(1) == 0
    except (IndexError, ValueError):
        return False
    return False
