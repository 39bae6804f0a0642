"""How a redacted copy is encoded (design/0284, 0294, 0358, 0360): x264 at one preset and CRF, one
thread, the same bytes on every CPU and under any load, its options as a part's record holds them
(`encoding`, storage/redact/resume.py), so a part made otherwise is made again."""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any

from storage.redact import cpu

PRESET, CRF = "veryfast", 23    # x264: bench/redaction.py measures the cost at 1080p20
# x264's sub-pixel motion search off (design/0358): the encode 0.56 -> 0.37 core-s/s on the crowd's
# 1080p20 for 3 % more bytes and 1.3 dB less luma PSNR (43.3 dB); and (design/0360) the diamond
# motion search and no B pictures: 0.38 -> 0.29-0.31 core-s/s for 1.7 % more bytes, the same PSNR;
# bench.redaction_profile --presets
SUBME = "subme=0:me=dia:bframes=0"


@functools.cache
def x264_params() -> dict[str, str]:
    """x264's own options for the copy (design/0294): on a CPU with AVX-512, x264's instructions
    capped at AVX2. With AVX-512, x264's macroblock tree reads memory it never wrote (measured: the
    same frames came out other bytes as the heap held other garbage), so a copy made again, or
    resumed in another process, was not the copy on the record; every AVX-512 CPU has AVX2. And
    on every CPU the sub-pixel motion search off, the diamond search and no B pictures (SUBME,
    design/0358, design/0360)."""
    params = ":".join(p for p in ("asm=avx2" if cpu.avx512() else "", SUBME) if p)
    return {"x264-params": params} if params else {}


def encoding() -> str:
    """How the copy is encoded, as a part's record holds it (resume.plan_digest): the settings
    that are the same on every CPU (x264's instruction cap, which makes the same bytes, is not)."""
    return f"libx264 {PRESET} crf={CRF} {SUBME}"


def encoder(out: Any, rate: Fraction, width: int, height: int, time_base: Fraction | None) -> Any:
    ov = out.add_stream("libx264", rate=rate, options={"preset": PRESET, "crf": str(CRF), **x264_params()})
    ov.width, ov.height, ov.pix_fmt = width, height, "yuv420p"
    ov.codec_context.thread_count = 1   # the same bytes under any load (design/0284; the CPU: 0294)
    if time_base is not None:
        ov.codec_context.time_base = time_base
    return ov
