"""What the box's CPU can do, as /proc/cpuinfo says (x86's `flags`, Arm's `Features`): the copy's
encoder and detector choose their instructions by it (design/0294, 0363)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

from storage.redact import models


@functools.cache
def flags() -> frozenset[str]:
    """The first CPU's flags (x86) or features (Arm); none where /proc/cpuinfo cannot be read."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return frozenset()
    return frozenset(next((line.split(":", 1)[1].split() for line in lines
                           if line.startswith(("flags", "Features")) and ":" in line), []))


def avx512() -> bool:
    return platform.machine() == "x86_64" and "avx512f" in flags()


def int8_dot() -> bool:
    """Whether the CPU multiplies 8-bit integers into 32-bit sums without saturating: x86's VNNI
    (AVX-512 or AVX) or Arm's dot product. Without it onnxruntime's u8s8 kernels (AVX2's
    VPMADDUBSW) can saturate and give other scores (onnxruntime's quantization notes)."""
    return bool(flags() & {"avx512_vnni", "avx_vnni", "asimddp"})


def detector_model() -> str:
    """The face detector's model this CPU runs (storage/redact/models.py; design/0363, 0577, 0616): the int8 model with
    7-bit weights wherever the CPU sums 8-bit products whole, so that every such box gives the same scores: where it
    sums them without saturating (`int8_dot`: VNNI, Arm's dot product) and on any other x86 CPU (every x86-64 has
    SSE2), whose pairs of 7-bit products AVX2's 16-bit sums hold whole; elsewhere the float model."""
    return models.INT8_7BIT if int8_dot() or "sse2" in flags() else models.FLOAT
