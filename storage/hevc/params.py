"""An H.265 stream's parameter sets read as far as a slice segment header depends on them (ITU-T
H.265 7.3.2.2 and 7.3.2.3): the fields storage/hevc/hidden.py needs to rewrite an I slice's header
with pic_output_flag (design/0543), and the hvcC record's NAL units. Anything these readers do not
follow (a PPS extension that changes the slice header beyond the range extension) is a ValueError,
as is a count no encoder writes; the caller says None then."""

from __future__ import annotations

from dataclasses import dataclass

from storage.hevc.rbsp import Bits

Rps = tuple[tuple[int, ...], tuple[int, ...]]  # a short-term reference picture set: DeltaPocS0, DeltaPocS1


@dataclass(frozen=True)
class Sps:
    """The SPS fields an I slice's header depends on."""

    sps_id: int
    separate_planes: bool      # separate_colour_plane_flag: colour_plane_id is in the header
    chroma: int                # ChromaArrayType
    ctbs: int                  # PicSizeInCtbsY: slice_segment_address has Ceil(Log2(ctbs)) bits
    poc_bits: int              # log2_max_pic_order_cnt_lsb
    rps: tuple[Rps, ...]       # the st_ref_pic_set()s, num_short_term_ref_pic_sets of them
    long_term: bool            # long_term_ref_pics_present_flag
    lt_count: int              # num_long_term_ref_pics_sps
    tmvp: bool                 # sps_temporal_mvp_enabled_flag
    sao: bool                  # sample_adaptive_offset_enabled_flag


@dataclass(frozen=True)
class Pps:
    """The PPS fields an I slice's header depends on."""

    pps_id: int
    sps_id: int
    dependent_slices: bool     # dependent_slice_segments_enabled_flag
    output_flag: bool          # output_flag_present_flag
    extra_bits: int            # num_extra_slice_header_bits
    slice_chroma_qp: bool      # pps_slice_chroma_qp_offsets_present_flag
    chroma_qp_list: bool       # chroma_qp_offset_list_enabled_flag (range extension)
    deblock_override: bool     # deblocking_filter_override_enabled_flag
    deblock_off: bool          # pps_deblocking_filter_disabled_flag
    across_slices: bool        # pps_loop_filter_across_slices_enabled_flag
    entry_points: bool         # tiles_enabled_flag || entropy_coding_sync_enabled_flag
    header_extension: bool     # slice_segment_header_extension_present_flag


def ceil_log2(n: int) -> int:
    """Ceil(Log2(n)) for n >= 1: the bits of a u(v) index among n."""
    return (n - 1).bit_length()


def profile_tier_level(b: Bits, sub_layers: int) -> None:
    """Read past profile_tier_level(1, sub_layers) (7.3.3)."""
    b.u(8 + 32 + 48)  # general profile space/tier/idc, compatibility flags, constraint flags
    b.u(8)            # general level
    present = [(b.u(1), b.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        b.u(2 * (8 - sub_layers))
    for profile, level in present:
        b.u(88 * profile + 8 * level)


def scaling_list_data(b: Bits) -> None:
    """Read past scaling_list_data() (7.3.4)."""
    for size in range(4):
        for _ in range(0, 6, 3 if size == 3 else 1):
            if not b.u(1):  # scaling_list_pred_mode_flag
                b.ue()      # scaling_list_pred_matrix_id_delta
                continue
            if size > 1:
                b.se()      # scaling_list_dc_coef_minus8
            for _ in range(min(64, 1 << (4 + (size << 1)))):
                b.se()


def st_ref_pic_set(b: Bits, idx: int, count: int, sets: tuple[Rps, ...]) -> Rps:
    """st_ref_pic_set(idx) (7.3.7) with its DeltaPocS0 and DeltaPocS1 (7.4.8): a set predicted from an
    earlier one loops over that one's NumDeltaPocs, so every set's deltas are kept."""
    if idx and b.u(1):  # inter_ref_pic_set_prediction_flag
        ref = idx - (b.ue() + 1 if idx == count else 1)
        if not 0 <= ref < len(sets):
            raise ValueError("st_ref_pic_set predicted from none")
        sign = b.u(1)
        delta = (b.ue() + 1) * (-1 if sign else 1)
        s0r, s1r = sets[ref]
        n = len(s0r) + len(s1r)
        use = [bool(b.u(1) or b.u(1)) for _ in range(n + 1)]  # used_by_curr_pic_flag, else use_delta_flag
        s0 = [d + delta for j, d in reversed(list(enumerate(s1r))) if d + delta < 0 and use[len(s0r) + j]]
        s0 += [delta] if delta < 0 and use[n] else []
        s0 += [d + delta for j, d in enumerate(s0r) if d + delta < 0 and use[j]]
        s1 = [d + delta for j, d in reversed(list(enumerate(s0r))) if d + delta > 0 and use[j]]
        s1 += [delta] if delta > 0 and use[n] else []
        s1 += [d + delta for j, d in enumerate(s1r) if d + delta > 0 and use[len(s0r) + j]]
        return tuple(s0), tuple(s1)
    negative, positive = b.ue(), b.ue()
    if negative > 16 or positive > 16:
        raise ValueError("st_ref_pic_set too large")
    out: list[tuple[int, ...]] = []
    for n, step in ((negative, -1), (positive, 1)):
        poc, deltas = 0, []
        for _ in range(n):
            poc += step * (b.ue() + 1)
            b.u(1)  # used_by_curr_pic_s0/s1_flag
            deltas.append(poc)
        out.append(tuple(deltas))
    return out[0], out[1]


def sps_head(nal: bytes) -> tuple[Bits, int]:
    """An SPS NAL unit (header included) read up to its sps_seq_parameter_set_id, and its
    sps_max_sub_layers_minus1."""
    b = Bits(nal[2:])
    b.u(4)
    sub_layers = b.u(3)
    b.u(1)
    profile_tier_level(b, sub_layers)
    return b, sub_layers


def sps_id(nal: bytes) -> int:
    """sps_seq_parameter_set_id of an SPS NAL unit (header included)."""
    return sps_head(nal)[0].ue()


def parse_sps(nal: bytes) -> Sps:
    """The Sps of an SPS NAL unit (header included), read up to sps_temporal_mvp_enabled_flag."""
    b, sub_layers = sps_head(nal)
    ident, chroma = b.ue(), b.ue()
    separate = chroma == 3 and b.u(1) == 1
    width, height = b.ue(), b.ue()
    if b.u(1):  # conformance window
        b.ue(), b.ue(), b.ue(), b.ue()
    b.ue(), b.ue()  # bit depths
    poc_bits = b.ue() + 4
    for _ in range(sub_layers + 1 if b.u(1) else 1):  # sub_layer_ordering_info
        b.ue(), b.ue(), b.ue()
    ctb = b.ue() + 3 + b.ue()  # log2 min coding block + difference to the CTB
    b.ue(), b.ue(), b.ue(), b.ue()  # transform block sizes, hierarchy depths
    if b.u(1) and b.u(1):  # scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        scaling_list_data(b)
    b.u(1)  # amp_enabled_flag
    sao = b.u(1)
    if b.u(1):  # pcm_enabled_flag
        b.u(8), b.ue(), b.ue(), b.u(1)
    count = b.ue()
    if count > 64 or not 3 <= ctb <= 6 or poc_bits > 16:
        raise ValueError("not an SPS an encoder writes")
    sets: tuple[Rps, ...] = ()
    for i in range(count):
        sets += (st_ref_pic_set(b, i, count, sets),)
    long_term, lt_count = b.u(1), 0
    if long_term:
        lt_count = b.ue()
        if lt_count > 32:
            raise ValueError("num_long_term_ref_pics_sps")
        for _ in range(lt_count):
            b.u(poc_bits + 1)  # lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
    tmvp = b.u(1)
    side = 1 << ctb
    ctbs = -(-width // side) * -(-height // side)
    return Sps(ident, separate, 0 if separate else chroma, ctbs, poc_bits, sets, long_term == 1, lt_count,
               tmvp == 1, sao == 1)


def parse_pps(nal: bytes) -> Pps:
    """The Pps of a PPS NAL unit (header included); a multilayer, 3D or SCC extension is a ValueError."""
    b = Bits(nal[2:])
    ident, sps = b.ue(), b.ue()
    dependent, output, extra = b.u(1), b.u(1), b.u(3)
    b.u(2)  # sign_data_hiding_enabled_flag, cabac_init_present_flag
    b.ue(), b.ue(), b.se()  # num_ref_idx defaults, init_qp_minus26
    b.u(1)  # constrained_intra_pred_flag
    transform_skip = b.u(1)
    if b.u(1):  # cu_qp_delta_enabled_flag
        b.ue()
    b.se(), b.se()  # pps_cb_qp_offset, pps_cr_qp_offset
    slice_chroma = b.u(1)
    b.u(3)  # weighted_pred_flag, weighted_bipred_flag, transquant_bypass_enabled_flag
    tiles, wpp = b.u(1), b.u(1)
    if tiles:
        columns, rows = b.ue(), b.ue()
        if columns + rows > 1000:
            raise ValueError("tiles")
        if not b.u(1):  # uniform_spacing_flag
            for _ in range(columns + rows):
                b.ue()
        b.u(1)  # loop_filter_across_tiles_enabled_flag
    across = b.u(1)
    override = off = 0
    if b.u(1):  # deblocking_filter_control_present_flag
        override, off = b.u(1), b.u(1)
        if not off:
            b.se(), b.se()
    if b.u(1):  # pps_scaling_list_data_present_flag
        scaling_list_data(b)
    b.u(1), b.ue()  # lists_modification_present_flag, log2_parallel_merge_level_minus2
    extension, offset_list = b.u(1), 0
    if b.u(1):  # pps_extension_present_flag
        range_ext, multilayer, three_d, scc = b.u(1), b.u(1), b.u(1), b.u(1)
        b.u(4)
        if multilayer or three_d or scc:
            raise ValueError("a PPS extension the slice header rewrite does not follow")
        if range_ext:
            if transform_skip:
                b.ue()  # log2_max_transform_skip_block_size_minus2
            b.u(1)  # cross_component_prediction_enabled_flag
            offset_list = b.u(1)
    return Pps(ident, sps, dependent == 1, output == 1, extra, slice_chroma == 1, offset_list == 1, override == 1,
               off == 1, across == 1, bool(tiles or wpp), extension == 1)


def hvcc_units(extradata: bytes) -> list[bytes]:
    """The NAL units of an hvcC record (ISO/IEC 14496-15), in its order."""
    out = []
    pos = 23
    for _ in range(extradata[22]):
        count = int.from_bytes(extradata[pos + 1:pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(extradata[pos:pos + 2], "big")
            out.append(extradata[pos + 2:pos + 2 + size])
            pos += 2 + size
    return out
