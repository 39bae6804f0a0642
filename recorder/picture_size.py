"""A picture's size read from the stream's sequence parameter set, before anything decodes it
(design/0063).

A camera (or anything answering at its address) can declare 16000x16000: a decoder handed that
allocates gigabytes for one picture and can take its worker, and every camera on it, down. The
image checks and motion detection decode; they ask `too_big` first. Reading the size costs a
scan for start codes and a few dozen bits of Exp-Golomb: nothing in PyAV says the size without
decoding (the codec context learns it from the first decoded slice), so it is parsed here, for
H.264 and H.265, from the extradata (avcC/hvcC or Annex B) and from the packet itself (a
keyframe carries its SPS in band on most cameras). Anything unreadable is None: the decoder,
under the worker's memory limit, is the last word then.
"""

from __future__ import annotations

from collections.abc import Iterator

from storage.hevc.params import hvcc_units, sps_head
from storage.hevc.rbsp import Bits
from storage.hevc.rbsp import annexb_units

MAX_SIDE = 8192                  # wider or taller than this is no camera
MAX_PIXELS = 8192 * 4320         # 8K: more pixels than this is no camera either
_SCAN = 1 << 16                  # an SPS comes before the slices: look no further into a packet


def _h264_sps(sps: bytes, whole: bool = False) -> tuple[int, int, int | None]:
    """Width and height (cropped) from an H.264 SPS NAL unit, header byte included, and with
    `whole` its reorder depth (`reorder_depth`)."""
    b = Bits(sps[1:])
    profile = b.u(8)
    b.u(16)  # constraint flags, level
    b.ue()   # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = b.ue()
        if chroma == 3:
            b.u(1)
        b.ue(), b.ue(), b.u(1)  # bit depths, qpprime_y_zero_transform_bypass
        if b.u(1):  # seq_scaling_matrix_present
            for i in range(8 if chroma != 3 else 12):
                if b.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + b.se()) % 256
                        last = nxt or last
    b.ue()  # log2_max_frame_num
    poc = b.ue()
    if poc == 0:
        b.ue()
    elif poc == 1:
        b.u(1), b.se(), b.se()
        for _ in range(b.ue()):
            b.se()
    refs = b.ue()
    b.u(1)  # gaps_in_frame_num_allowed
    mbs_w, map_h = b.ue() + 1, b.ue() + 1
    frame_mbs_only = b.u(1)
    if not frame_mbs_only:
        b.u(1)
    b.u(1)  # direct_8x8_inference
    width, height = mbs_w * 16, map_h * 16 * (2 - frame_mbs_only)
    if b.u(1):  # frame_cropping
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        cx = 1 if chroma in (0, 3) else 2
        cy = (1 if chroma in (0, 2, 3) else 2) * (2 - frame_mbs_only)
        width -= (left + right) * cx
        height -= (top + bottom) * cy
    if not whole:
        return width, height, None
    # Baseline (and constrained baseline, constraint_set1) has no B slices; otherwise the VUI's
    # bitstream restriction says, and without it the stream does not (None), as FFmpeg's
    # h264_ps.c reads it. No reference frame: nothing to reorder either.
    depth = 0 if profile == 66 or refs == 0 else _h264_vui_reorder(b)
    return width, height, depth


def _h264_vui_reorder(b: Bits) -> int | None:
    """max_num_reorder_frames from the VUI's bitstream restriction (H.264 E.1.1), or None."""
    if not b.u(1):  # vui_parameters_present
        return None
    if b.u(1) and b.u(8) == 255:  # aspect_ratio_info, aspect_ratio_idc Extended_SAR
        b.u(32)
    if b.u(1):  # overscan_info_present
        b.u(1)
    if b.u(1):  # video_signal_type_present
        b.u(4)
        if b.u(1):  # colour_description_present
            b.u(24)
    if b.u(1):  # chroma_loc_info_present
        b.ue(), b.ue()
    if b.u(1):  # timing_info_present
        b.u(65)
    hrd = 0
    for _ in range(2):  # nal_hrd, vcl_hrd
        if b.u(1):
            hrd += 1
            count = b.ue() + 1
            b.u(8)  # bit_rate_scale, cpb_size_scale
            for _ in range(count):
                b.ue(), b.ue(), b.u(1)
            b.u(20)  # four 5-bit lengths
    if hrd:
        b.u(1)  # low_delay_hrd
    b.u(1)  # pic_struct_present
    if not b.u(1):  # bitstream_restriction
        return None
    b.u(1)
    b.ue(), b.ue(), b.ue(), b.ue()  # bytes/pic, bits/mb, mv lengths
    return b.ue()  # max_num_reorder_frames (max_dec_frame_buffering follows)


def _h265_sps(sps: bytes, whole: bool = False) -> tuple[int, int, int | None]:
    """Width and height (cropped to the conformance window) from an H.265 SPS NAL unit, and with
    `whole` sps_max_num_reorder_pics of its highest sub-layer (always present in H.265)."""
    b, sub_layers = sps_head(sps)
    b.ue()  # sps_seq_parameter_set_id
    chroma = b.ue()
    if chroma == 3:
        b.u(1)
    width, height = b.ue(), b.ue()
    if b.u(1):  # conformance window
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        width -= (left + right) * (2 if chroma in (1, 2) else 1)
        height -= (top + bottom) * (2 if chroma == 1 else 1)
    if not whole:
        return width, height, None
    b.ue(), b.ue(), b.ue()  # bit depths, log2_max_pic_order_cnt_lsb
    depth = 0
    for _ in range(sub_layers + 1 if b.u(1) else 1):  # sub_layer_ordering_info_present
        b.ue()  # sps_max_dec_pic_buffering
        depth = b.ue()  # sps_max_num_reorder_pics: the last is the highest sub-layer's
        b.ue()
    return width, height, depth


def _nals(data: bytes) -> Iterator[bytes]:
    """The NAL units of Annex B bytes (start codes), up to _SCAN bytes in."""
    return annexb_units(data, _SCAN)


def _from_config(codec: str, extradata: bytes) -> list[bytes]:
    """The SPS units of an avcC or hvcC record."""
    out = []
    if codec == "h264":
        n, pos = extradata[5] & 0x1F, 6
        for _ in range(n):
            size = int.from_bytes(extradata[pos:pos + 2], "big")
            out.append(extradata[pos + 2:pos + 2 + size])
            pos += 2 + size
    else:
        out = [u for u in hvcc_units(extradata) if u and (u[0] >> 1) & 0x3F == 33]
    return out


def _sps_units(codec: str, data: bytes) -> list[bytes]:
    if data[:1] == b"\x01":
        return _from_config(codec, data)
    if codec == "h264":
        return [n for n in _nals(data) if n and n[0] & 0x1F == 7]
    return [n for n in _nals(data) if n and (n[0] >> 1) & 0x3F == 33]


def declared_size(codec: str | None, *data: bytes | None) -> tuple[int, int] | None:
    """The largest picture size an SPS in `data` (extradata, a packet) declares; None if there
    is none or it cannot be read (another codec, a packet in length-prefixed form)."""
    if codec not in ("h264", "hevc"):
        return None
    best: tuple[int, int] | None = None
    for w, h, _depth in _read(codec, data, False):
        if best is None or w * h > best[0] * best[1]:
            best = (w, h)
    return best


def reorder_depth(codec: str | None, *data: bytes | None) -> int | None:
    """How many pictures a decoder may hold back before it outputs one (the decode delay a
    stream's B pictures need), as the first readable SPS in `data` declares it: H.264 VUI
    max_num_reorder_frames (0 for Baseline), H.265 sps_max_num_reorder_pics. None: no SPS, or
    an H.264 SPS without a bitstream restriction (the caller learns it from the stream)."""
    if codec not in ("h264", "hevc"):
        return None
    for _w, _h, depth in _read(codec, data, True):
        return depth
    return None


def _read(codec: str, data: tuple[bytes | None, ...], whole: bool) -> Iterator[tuple[int, int, int | None]]:
    parse = _h264_sps if codec == "h264" else _h265_sps
    for chunk in data:
        if not chunk:
            continue
        try:
            units = _sps_units(codec, chunk)
        except IndexError:
            continue
        for sps in units:
            try:
                yield parse(sps, whole)
            except (IndexError, ValueError):
                continue


def too_big(size: tuple[int, int] | None) -> bool:
    """A size no camera sends, which nothing here may decode."""
    if size is None:
        return False
    w, h = size
    return w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS
