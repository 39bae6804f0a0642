"""The redaction plan (storage/redact/plan.py; design/0170), by tables: the applicant followed
between the custodian's marks, faces followed between the detector's runs, the two modes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.redact import plan as p
from storage.redact.plan import EVERYTHING, FACES, FramePlan, Mark

SIZE = (1920, 1080)


@pytest.mark.parametrize("marks, frame, want", [
    ([], 5, None),
    ([Mark(10, (100, 100, 50, 80))], 0, (100, 100, 50, 80)),                   # held back to the start
    ([Mark(10, (100, 100, 50, 80))], 99, (100, 100, 50, 80)),                  # and on to the end
    ([Mark(0, (0, 0, 100, 100)), Mark(10, (100, 50, 200, 100))], 5, (50, 25, 150, 100)),  # halfway
    ([Mark(0, (0, 0, 100, 100)), Mark(10, (100, 50, 200, 100))], 10, (100, 50, 200, 100)),
    ([Mark(0, (0, 0, 100, 100)), Mark(10, None)], 5, (0, 0, 100, 100)),           # until the mark that says gone
    ([Mark(0, (0, 0, 100, 100)), Mark(10, None)], 12, None),                      # then nothing revealed
    ([Mark(0, (0, 0, 100, 100)), Mark(10, None), Mark(20, (5, 5, 10, 10))], 15, None),  # no line from "gone"
    ([Mark(0, (0, 0, 100, 100)), Mark(10, None), Mark(20, (5, 5, 10, 10))], 20, (5, 5, 10, 10)),
    ([Mark(20, (0, 0, 10, 10)), Mark(0, (20, 0, 10, 10))], 10, (10, 0, 10, 10)),  # marks in any order
])
def test_the_applicant_followed_between_marks(marks, frame, want):
    assert p.follow(marks, frame) == want


def test_two_marks_on_one_frame_are_refused():
    with pytest.raises(p.PlanError):
        p.follow([Mark(3, (0, 0, 1, 1)), Mark(3, (0, 0, 2, 2))], 3)


def test_a_face_is_one_track_across_detections_and_a_stranger_another():
    dets = {0: [(100, 100, 40, 40), (900, 500, 60, 60)], 4: [(110, 100, 40, 40)], 8: [(120, 100, 40, 40),
                                                                                         (910, 500, 60, 60)]}
    found = p.tracks(dets)
    assert sorted(sorted(t.seen) for t in found) == [[0, 4, 8], [0, 8]]


def test_a_fast_face_is_followed_though_its_boxes_never_overlap():
    """22 px wide, 20 px a frame, detected every 2nd frame: one track, on its predicted line."""
    dets = {f: [(1700 - 20 * f, 34, 22, 30)] for f in range(0, 20, 2)}
    dets[10].append((300, 600, 60, 60))  # a stranger elsewhere, bigger: a track of its own
    assert sorted(len(t.seen) for t in p.tracks(dets)) == [1, 10]


def test_a_face_seen_once_is_held_where_it_was():
    assert p.track_boxes(p.Track({5: (10, 10, 20, 20)}), 7, coast=3) == (10, 10, 20, 20)


def test_a_track_not_joined_past_the_gap():
    found = p.tracks({0: [(0, 0, 40, 40)], 30: [(0, 0, 40, 40)]}, max_gap=12)
    assert len(found) == 2


@pytest.mark.parametrize("frame, want", [
    (-4, None), (-3, (-30, 0, 40, 40)),       # carried on its line COAST frames before its first detection
    (0, (0, 0, 40, 40)), (2, (20, 0, 40, 40)),  # between two detections: the straight line
    (4, (40, 0, 40, 40)), (7, (70, 0, 40, 40)), (8, None),
])
def test_a_face_between_detections_and_coasted(frame, want):
    track = p.Track({0: (0, 0, 40, 40), 4: (40, 0, 40, 40)})
    assert p.track_boxes(track, frame, coast=3) == want


def test_a_face_missed_by_the_detector_once_is_still_hidden():
    """Detected every 2nd frame, missed on frame 4: frames 3, 4, 5 are still hidden."""
    dets = {0: [(500, 300, 50, 50)], 2: [(510, 300, 50, 50)], 4: [], 6: [(530, 300, 50, 50)]}
    plans = p.plan_frames(FACES, 8, SIZE, [], dets)
    assert all(len(fp.masks) == 1 for fp in plans)
    x, y, w, h = plans[4].masks[0]
    assert x <= 520 and x + w >= 570 and y <= 300 and y + h >= 350  # covers the face's path, padded


@pytest.mark.parametrize("mode, marks, faces, added, want", [
    # everything hidden: the whole frame filled but the applicant's region, clamped to the frame
    (EVERYTHING, [Mark(0, (1800, 1000, 200, 200))], [], [], FramePlan(True, (1800, 1000, 120, 80), ())),
    # applicant gone: the whole frame filled, nothing kept
    (EVERYTHING, [Mark(-5, (0, 0, 10, 10)), Mark(0, None)], [], [], FramePlan(True, None, ())),
    # the custodian's box inside the applicant's region (a stranger beside them) is filled too
    (EVERYTHING, [Mark(0, (0, 0, 500, 500))], [], [(10, 10, 20, 20)], FramePlan(True, (0, 0, 500, 500),
                                                                               ((10, 10, 20, 20),))),
    # faces: each made at least 1.6 times as high as wide (downwards), padded by a quarter; the one
    # inside the applicant's region left
    (FACES, [Mark(0, (90, 90, 100, 200))], [(100, 100, 40, 40), (800, 400, 40, 40)], [],
     FramePlan(False, None, ((790, 384, 60, 96),))),
    # faces: no marks, every face filled; a face at the edge clamped
    (FACES, [], [(0, 0, 40, 40)], [], FramePlan(False, None, ((0, 0, 50, 80),))),
    # faces: only one face is the applicant's, the stranger in their region still hidden
    (FACES, [Mark(0, (0, 0, 400, 400))], [(10, 10, 100, 100), (200, 200, 40, 40)], [],
     FramePlan(False, None, ((190, 184, 60, 96),))),
    # faces: two boxes of the applicant's face (two tracks of it at the picture's edge): both theirs
    (FACES, [Mark(0, (1700, 660, 220, 410))], [(1830, 706, 71, 96), (1828, 700, 76, 100)], [],
     FramePlan(False, None, ())),
    # faces: and a box of it cut by the picture's edge, half outside the face's own box
    (FACES, [Mark(0, (1684, 660, 410, 410))], [(1828, 709, 72, 92), (1879, 713, 43, 83)], [],
     FramePlan(False, None, ())),
    # faces: a stranger cheek by jowl with the applicant, mostly outside their face: hidden, his own box
    # (made 1.6 times as high) whole, his margin around their face widened across as a face is (design/0540, 0556)
    (FACES, [Mark(0, (0, 0, 400, 400))], [(100, 100, 80, 100), (175, 110, 60, 80)], [],
     FramePlan(False, None, ((175, 110, 60, 96), (160, 86, 90, 14), (160, 200, 90, 30), (200, 100, 50, 100)))),
    # faces: a small face widened by at least PAD_LEAST pixels
    (FACES, [], [(100, 100, 12, 16)], [], FramePlan(False, None, ((94, 94, 24, 31),))),
    # faces: the custodian's box, not padded
    (FACES, [], [], [(300, 300, 10, 10)], FramePlan(False, None, ((300, 300, 10, 10),))),
])
def test_frame_plans(mode, marks, faces, added, want):
    assert p.frame_plan(mode, 0, SIZE, marks, faces, added) == want


@pytest.mark.parametrize("mode, marks, dets, why", [
    (EVERYTHING, [], None, "mark the applicant"),
    (EVERYTHING, [Mark(0, None)], None, "mark the applicant"),
    (FACES, [], None, "detector"),
    ("blur", [Mark(0, (0, 0, 1, 1))], {}, "unknown redaction mode"),
])
def test_plans_refused(mode, marks, dets, why):
    with pytest.raises(p.PlanError, match=why):
        p.plan_frames(mode, 3, SIZE, marks, dets)


def test_the_summary_says_counts_and_method_never_boxes():
    marks = [Mark(0, (0, 0, 100, 100))]
    dets = {0: [(500, 500, 40, 40)], 2: [(505, 500, 40, 40)]}
    plans = p.plan_frames(FACES, 4, SIZE, marks, dets, {1: [(1, 1, 5, 5)]})
    got = p.summary(FACES, plans, marks, dets, {1: [(1, 1, 5, 5)]})
    assert got == {"mode": FACES, "fill": "solid", "frames": 4, "frames_filled_whole": 0, "masks": 5,
                   "faces_followed": 1, "applicant_marks": 1, "custodian_boxes": 1}
    assert not any(isinstance(v, (tuple, list)) for v in got.values())


@pytest.mark.parametrize("seconds, rate, want", [
    (0.0, Fraction(20), 0), (0.05, Fraction(20), 1), (0.049, Fraction(20), 0), (2.35, Fraction(20), 47),
    (1.0, Fraction(30000, 1001), 29), (0.1, Fraction(10), 1),   # 0.1 x 10 in floats is 0.999...: still frame 1
])
def test_the_frame_a_paused_browser_shows(seconds, rate, want):
    """The desk marks by the second of the clip (design/0279); the plan is by frame."""
    assert p.frame_at(seconds, rate) == want


def test_a_box_hidden_over_a_span_is_filled_on_each_frame_of_it():
    added = p.hidden_spans([(1.0, 1.2, (10, 10, 5, 5)), (1.15, 1.1, (50, 50, 5, 5)), (9.9, 20, (0, 0, 4, 4))],
                           Fraction(20), 200)
    assert sorted(added) == [20, 21, 22, 23, 24, 198, 199]   # 1.0-1.2 s: frames 20-24; cut at the clip's end
    assert added[22] == added[23] == [(10, 10, 5, 5), (50, 50, 5, 5)]   # 1.15-1.1 s: either order
    assert added[24] == [(10, 10, 5, 5)]
    plans = p.plan_frames(FACES, 200, SIZE, [], {}, added)
    assert plans[22].masks == ((10, 10, 5, 5), (50, 50, 5, 5)) and plans[19].masks == ()


def test_several_marks_follow_the_applicant_and_a_correction_moves_the_region():
    """The custodian's marks on several frames: the region in a straight line between them; one more
    mark (the correction after scrubbing the copy) bends the line there and nowhere else."""
    first = [Mark(0, (100, 100, 100, 200)), Mark(40, (500, 100, 100, 200))]
    corrected = [*first, Mark(20, (200, 300, 100, 200))]
    before, after = p.plan_frames(EVERYTHING, 60, SIZE, first), p.plan_frames(EVERYTHING, 60, SIZE, corrected)
    assert before[20].keep == (300, 100, 100, 200) and after[20].keep == (200, 300, 100, 200)
    assert after[10].keep == (150, 200, 100, 200) and after[50].keep == before[50].keep == (500, 100, 100, 200)


_boxes = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 30), st.integers(1, 30))


def _paint(boxes, n: int = 140) -> np.ndarray:
    out = np.zeros((n, n), bool)
    for x, y, w, h in boxes:
        out[max(0, y + 20):max(0, y + 20 + h), max(0, x + 20):max(0, x + 20 + w)] = True   # margins may go below 0
    return out


@given(_boxes, st.lists(_boxes, max_size=3))
def test_a_strangers_margin_gives_way_on_the_applicants_face_and_his_own_box_never(face, theirs):
    """design/0540: what is filled for a stranger beside the applicant is his mask (face_mask) without their
    faces, but always his own box (made TALL) whole: nothing of theirs is filled but where his own box lies."""
    x, y, w, h = face
    own, mask = _paint([(x, y, w, max(h, round(p.TALL * w)))]), _paint([p.face_mask(face)])
    filled, kept = _paint(p.stranger_masks(face, theirs)), _paint(theirs)
    assert (filled <= mask).all() and (own <= filled).all()
    assert not (filled & kept & ~own).any()            # their face filled only under his own box
    assert (mask & ~kept <= filled).all()              # the rest of his margin still filled
    assert p.stranger_masks(face, []) == [p.face_mask(face)]


@given(st.tuples(st.integers(20, 60), st.integers(20, 60), st.integers(4, 40), st.integers(4, 40)),
       st.tuples(st.integers(20, 60), st.integers(20, 60), st.integers(1, 30), st.integers(1, 30)))
def test_a_strangers_margin_gives_way_on_her_face_and_its_margin_across(hers, face):
    """design/0556: in a faces-mode frame, what is filled for a stranger beside the applicant's face shown falls on her
    face's box widened across as a face's is (PAD of its width each side: her ears, or a face the detector boxed short
    where a pillar cuts it) only under his own box (made TALL); above and below her box his margin is filled as
    before. Held-out 7 float frame 48: her face cut by the pillar boxed 1234-1270 px across, seen to 1276; a box of
    her head beside it at 1276 px, its margin filled her face's last 6 columns."""
    plan = p.frame_plan(FACES, 0, (200, 200), [Mark(0, (0, 0, 200, 200))], faces=[hers, face], shown={0})
    x, y, w, h = face
    d = round(hers[2] * p.PAD)
    across = (hers[0] - d, hers[1], hers[2] + 2 * d, hers[3])
    filled, own, mask = (_paint(b, 260) for b in (list(plan.masks), [(x, y, w, max(h, round(p.TALL * w)))],
                                                   [p.face_mask(face)]))
    assert not (filled & _paint([across], 260) & ~own).any()
    assert (own <= filled).all() and (mask & ~_paint([across], 260) <= filled).all()


def test_held_out_7s_box_of_her_head_beside_her_face_at_the_pillar_fills_none_of_it():
    """design/0556, the frame as it was (held-out 7 float, frame 48)."""
    hers, head = (1234, 571, 36, 103), (1276, 557, 22, 45)
    plan = p.frame_plan(FACES, 48, (1920, 1080), [Mark(0, (900, 500, 500, 500))], faces=[hers, head], shown={0})
    sx, sy, sw, sh = (1250, 566, 26, 96)   # her face's part the pillar leaves, as tests/support/crowd.py draws it
    filled = np.zeros((1080, 1920), bool)
    for x, y, w, h in plan.masks:
        filled[y:y + h, x:x + w] = True
    share = filled[sy:sy + sh, sx:sx + sw].mean()   # before: 0.11, her face "masked" as the bench judges (over 0.1)
    assert plan.masks and share < 0.02, share
