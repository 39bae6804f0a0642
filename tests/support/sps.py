"""A hand-written H.264 sequence parameter set declaring any picture size (design/0063): no
encoder writes 16000x16000 (past every H.264 level), but a camera's bytes can say it."""

from __future__ import annotations

from storage.hevc.rbsp import Writer, escape


def h264_sps(width: int, height: int, profile: int = 66) -> bytes:
    """An Annex B SPS (start code included), baseline profile (or Main, 77: the same fields),
    level 5.1, that declares `width` x `height` (multiples of 16), without VUI."""
    w = Writer()
    w.u(8, profile), w.u(8, 0), w.u(8, 51)  # profile, constraints, level
    w.ue(0)                              # seq_parameter_set_id
    w.ue(0)                              # log2_max_frame_num - 4
    w.ue(2)                              # pic_order_cnt_type
    w.ue(1)                              # max_num_ref_frames
    w.u(1, 0)                            # gaps_in_frame_num_allowed
    w.ue(width // 16 - 1), w.ue(height // 16 - 1)
    w.u(1, 1), w.u(1, 1), w.u(1, 0), w.u(1, 0)  # frame_mbs_only, direct_8x8, no cropping, no VUI
    return b"\x00\x00\x00\x01\x67" + escape(w.aligned())


def with_sps(annexb: bytes, sps: bytes) -> bytes:
    """`annexb` with every SPS replaced by `sps`."""
    parts = annexb.split(b"\x00\x00\x01")
    out = [parts[0]]
    for nal in parts[1:]:
        out.append(sps[4:].rstrip(b"\x00") + b"\x00" if nal and nal[0] & 0x1F == 7 else nal)
    return b"\x00\x00\x01".join(out)
