"""Motion detection: the detector and the event machine on real H.264 scenes decoded by PyAV
(tests/support/scenes.py), plus table tests of the pure parts (masks, settings, events).

The scenes say when their object moves (WALKS); the detector must find each walk within a
frame or two, nothing in the still scenes (noise, light changes, a running clock), and
nothing where a mask covers the motion. design/0037 has the figures these tests hold.
"""

from __future__ import annotations

import numpy as np
import pytest

from recorder.motion import (
    ANALYSIS_HEIGHT, COMPARE_SECONDS, FrameVerdict, MotionDetector, MotionEnded, MotionEvents, MotionSettings,
    MotionStarted, Polygon, Rect, mask_array, shrink,
)
from tests.support.scenes import (
    CLOCK_BOX, WALK_BAND, WALK_H, WALK_W, WALKS, grey_frames, scene_clip,
)

SMALL = (160, 90)  # what a worker asks swscale for: the analysed size of a 16:9 picture


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.getbasetemp() / "scenes"  # shared with test_motion_watch: encoded once
    return lambda kind, **kw: scene_clip(out, kind, **kw)


_decoded: dict[tuple, list] = {}


def decoded(clip, keyframes_only: bool = False, size: tuple[int, int] | None = None) -> list:
    """The clip's grey pictures, decoded once per module (several tests read each clip)."""
    key = (clip.video, keyframes_only, size)
    if key not in _decoded:
        _decoded[key] = list(grey_frames(clip, keyframes_only=keyframes_only, size=size))
    return _decoded[key]


def run(clip, settings: MotionSettings | None = None, **decode):
    """Every verdict and every transition of a whole clip (an open event is finished)."""
    s = settings or MotionSettings()
    det, machine = MotionDetector(s), MotionEvents.for_settings(s)
    verdicts, transitions = [], []
    for t, grey in decoded(clip, **decode):
        v = det.detect(t, grey)
        verdicts.append(v)
        transitions += machine.update(v)
    last = machine.finish()
    return verdicts, transitions + ([last] if last else [])


def ended(transitions) -> list[MotionEnded]:
    return [x for x in transitions if isinstance(x, MotionEnded)]


# the scenes themselves --------------------------------------------------------------------------
def test_the_walk_scene_changes_its_band_exactly_during_the_walks(clips):
    """The clip is the test's ground truth: guard it (an FFmpeg that numbers frames otherwise
    would shift every expected time)."""
    clip = clips("walk")
    frames = list(grey_frames(clip))
    first = frames[0][1].astype(np.int16)
    h, w = first.shape
    band = (slice(int(WALK_BAND[1] * h), int(WALK_BAND[3] * h)), slice(0, w))
    for t, g in frames:
        differs = int((np.abs(g.astype(np.int16) - first)[band] > 40).sum())
        inside = any(a < t - 1e-6 and t + 1e-6 < b for a, b in WALKS)
        if inside:
            assert differs > 0.1 * (WALK_W * w) * (WALK_H * h) * 0.2, t  # a fifth of it, at the edges
        else:
            assert differs == 0, t


# scenes through the detector --------------------------------------------------------------------
def test_each_walk_is_one_event_from_its_first_to_its_last_moving_frame(clips):
    clip = clips("walk")
    frame = 1 / clip.fps
    verdicts, transitions = run(clip, size=SMALL)
    starts = [x for x in transitions if isinstance(x, MotionStarted)]
    ends = ended(transitions)
    assert len(starts) == len(ends) == len(WALKS), transitions
    for (a, b), st, en in zip(WALKS, starts, ends):
        # The object is first inside the picture one frame after `a` and last one before `b`.
        assert a < st.start <= a + 2 * frame, (a, st)
        assert st.detected == pytest.approx(st.start + frame)  # start_frames=2: the next frame
        assert b - 3 * frame <= en.end < b, (b, en)
        assert en.record_until == pytest.approx(en.end + MotionSettings().post_roll)
        assert en.start == st.start and 0.01 < en.peak < 0.1 and en.frames >= 10
    # Nothing moves outside the walks.
    for v in verdicts:
        if not any(a < v.t < b for a, b in WALKS):
            assert not v.moving and v.score == 0.0, v


def test_a_full_size_picture_is_shrunk_by_the_detector_itself_with_the_same_events(clips):
    clip = clips("walk")
    _, small = run(clip, size=SMALL)
    _, full = run(clip)  # 640x360 grey from PyAV, shrunk 4x in numpy
    assert [(e.start, e.end) for e in ended(full)] == [(e.start, e.end) for e in ended(small)]


def test_post_roll_merges_walks_closer_than_it_and_splits_those_further_apart(clips):
    clip = clips("walk")
    gap = WALKS[1][0] - WALKS[0][1]  # 11 s between the walks
    merged = ended(run(clip, MotionSettings(post_roll=gap + 2), size=SMALL)[1])
    assert len(merged) == 1 and merged[0].start < WALKS[0][1] < WALKS[1][0] < merged[0].end
    split = ended(run(clip, MotionSettings(post_roll=gap - 2), size=SMALL)[1])
    assert len(split) == 2


def test_a_mask_over_the_walk_suppresses_every_event(clips):
    # As a person would draw it: the band and a little margin (the blur and the encoder
    # spread an edge by a pixel or two of the analysed picture).
    x0, y0, x1, y1 = WALK_BAND
    band = Rect(x0, max(0.0, y0 - 0.03), x1, min(1.0, y1 + 0.03))
    verdicts, transitions = run(clips("walk"), MotionSettings(masks=(band,)), size=SMALL)
    assert transitions == []
    assert max(v.score for v in verdicts) == 0.0


def test_a_polygon_over_the_left_half_delays_the_start_to_the_right_half(clips):
    x0, y0, x1, y1 = WALK_BAND
    left = Polygon(((0.0, y0 - 0.05), (0.5, y0 - 0.05), (0.5, y1 + 0.05), (0.0, y1 + 0.05)))
    events = ended(run(clips("walk"), MotionSettings(masks=(left,)), size=SMALL)[1])
    assert len(events) == len(WALKS)
    for (a, b), e in zip(WALKS, events):
        # Its left edge runs from -WALK_W to 1: the right edge passes the middle at `half`.
        half = a + (b - a) * 0.5 / (1 + WALK_W)
        assert half < e.start <= half + 0.4, (half, e)
        assert b - 0.6 <= e.end < b, (b, e)


@pytest.mark.parametrize("fps", [5, 15])
@pytest.mark.parametrize("kind", ["noise", "light", "clock"])
def test_still_scenes_raise_no_event_and_no_moving_picture(clips, kind, fps):
    """The false-trigger rate design/0037 reports for the default settings: nothing at all,
    not one picture, in sensor noise, light steps and fades, or a running clock (its
    date, hour and minute rolling over together included)."""
    verdicts, transitions = run(clips(kind, fps=fps), size=SMALL)
    assert len(verdicts) == 40 * fps
    assert transitions == [], transitions
    assert [v for v in verdicts if v.moving] == []
    assert max(v.score for v in verdicts) < MotionSettings().min_area * 0.7


def test_the_walks_are_found_alike_at_a_higher_frame_rate(clips):
    """The earlier picture is COMPARE_SECONDS back whatever the rate, so 15 fps finds the
    same walks, starting to its own frame. The end may come up to COMPARE_SECONDS and a
    frame early: the flat-coloured object's last sliver looks as it did 0.2 s before (its
    leading edge is outside the picture); the post-roll covers that."""
    clip = clips("walk", fps=15)
    events = ended(run(clip, size=SMALL)[1])
    assert len(events) == len(WALKS)
    for (a, b), e in zip(WALKS, events):
        assert a < e.start <= a + 2 / clip.fps, (a, e)
        assert b - COMPARE_SECONDS - 2 / clip.fps <= e.end < b, (b, e)


def test_a_mask_over_the_clock_leaves_nothing_at_all(clips):
    verdicts, _ = run(clips("clock"), MotionSettings(sensitivity=100, masks=(Rect(*CLOCK_BOX),)),
                      size=SMALL)
    assert max(v.score for v in verdicts) == 0.0


def test_the_main_stream_keyframes_alone_find_the_walks(clips):
    """The main stream decoded at a reduced rate: only the keyframes (one per 2 s GOP). An
    event starts on one moving picture there (start_frames=1); times are a GOP coarse."""
    clip = clips("walk", width=1280, height=720, fps=10)
    s = MotionSettings(start_frames=1)
    verdicts, transitions = run(clip, s, keyframes_only=True, size=SMALL)
    assert len(verdicts) == clip.seconds * clip.fps // clip.gop
    events = ended(transitions)
    assert len(events) == len(WALKS)
    for (a, b), e in zip(WALKS, events):
        assert a < e.start <= a + 2 and b - 2 <= e.end < b, (a, b, e)


# pure parts -------------------------------------------------------------------------------------
def test_rectangles_and_polygons_cover_their_share_of_the_picture():
    w, h = 160, 90
    assert mask_array([Rect(0, 0, 0.5, 1)], w, h).mean() == pytest.approx(0.5)
    assert mask_array([Rect(0.25, 0.5, 0.75, 1)], w, h).mean() == pytest.approx(0.25)
    tri = Polygon(((0, 0), (1, 0), (0, 1)))  # half the picture, below-right of the diagonal is free
    m = mask_array([tri], w, h)
    assert m.mean() == pytest.approx(0.5, abs=0.01) and m[0, 0] and not m[-1, -1]
    # A concave polygon (a U): the notch stays free.
    u = Polygon(((0, 0), (0.3, 0), (0.3, 0.7), (0.7, 0.7), (0.7, 0), (1, 0), (1, 1), (0, 1)))
    m = mask_array([u], w, h)
    assert not m[10, 80] and m[80, 80] and m[10, 10]
    assert m.mean() == pytest.approx(1 - 0.4 * 0.7, abs=0.01)
    assert not mask_array([], w, h).any()


@pytest.mark.parametrize("kwargs, field", [
    ({"sensitivity": 0}, "sensitivity"), ({"sensitivity": 101}, "sensitivity"),
    ({"sensitivity": 50.5}, "sensitivity"), ({"sensitivity": True}, "sensitivity"),
    ({"min_area": 0}, "min_area"),
    ({"min_area": 1.5}, "min_area"), ({"start_frames": 0}, "start_frames"),
    ({"post_roll": -1}, "post_roll"), ({"background_seconds": 0}, "background_seconds"),
    ({"global_change": 0}, "global_change"), ({"masks": ((0, 0, 1, 1),)}, "masks"),
])
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MotionSettings(**kwargs)


@pytest.mark.parametrize("region", [
    lambda: Rect(0.5, 0, 0.4, 1), lambda: Rect(0, 0, 1.2, 1), lambda: Polygon(((0, 0), (1, 1))),
    lambda: Polygon(((0, 0), (1, 0), (2, 1))),
])
def test_bad_regions_are_refused(region):
    with pytest.raises(ValueError):
        region()


def test_sensitivity_maps_to_a_grey_level_threshold():
    assert MotionSettings(sensitivity=50).threshold == pytest.approx(20.0)
    assert MotionSettings(sensitivity=100).threshold < MotionSettings(sensitivity=1).threshold


def scene(seed: int = 1) -> np.ndarray:
    """A textured 360p grey picture (smooth blobs, like a real scene shrunk)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(9, 16)).astype(np.float32)
    return np.kron(base, np.ones((40, 40), dtype=np.float32))


def noisy(a: np.ndarray, rng) -> np.ndarray:
    return np.clip(a + rng.normal(0, 3, a.shape), 0, 255).astype(np.uint8)


def test_a_whole_picture_gain_and_offset_is_light_not_motion():
    rng = np.random.default_rng(2)
    det = MotionDetector()
    still = scene()
    for k in range(10):
        assert not det.detect(k * 0.2, noisy(still, rng)).moving
    brighter = still * 1.3 + 25  # the lights go on: every pixel, at once
    for k in range(10, 15):
        v = det.detect(k * 0.2, noisy(brighter, rng))
        assert not v.moving and not v.light and v.score == 0.0, v
    # A box that really appears in the new light still counts.
    moved, further = brighter.copy(), brighter.copy()
    moved[160:280, 200:300] = 20
    further[160:280, 240:340] = 20
    v1, v2 = det.detect(3.0, noisy(moved, rng)), det.detect(3.2, noisy(further, rng))
    assert v1.moving and v2.moving and v1.score == pytest.approx(120 * 100 / (360 * 640), rel=0.3)


def test_an_unrelated_whole_picture_restarts_the_background_as_light():
    rng = np.random.default_rng(3)
    det = MotionDetector()
    for k in range(5):
        det.detect(k * 0.2, noisy(scene(1), rng))
    v = det.detect(1.0, noisy(scene(9), rng))  # an IR switch: a different picture altogether
    assert v.light and not v.moving
    assert not det.detect(1.2, noisy(scene(9), rng)).moving  # the new picture is the scene


def test_time_going_back_or_a_new_size_starts_over():
    det = MotionDetector()
    det.detect(5.0, scene(1).astype(np.uint8))
    assert det.detect(4.0, scene(2).astype(np.uint8)) == FrameVerdict(4.0, 0.0, False)
    assert det.detect(4.2, np.zeros((720, 1280), np.uint8)) == FrameVerdict(4.2, 0.0, False)


def test_a_stopped_object_becomes_scene_within_a_few_background_time_constants():
    rng = np.random.default_rng(4)
    s = MotionSettings(background_seconds=2.0)
    det = MotionDetector(s)
    still = scene()
    parked = still.copy()
    parked[160:280, 200:300] = 15
    for k in range(5):
        det.detect(k * 0.2, noisy(still, rng))
    assert det.detect(1.0, noisy(parked, rng)).moving
    # Still there, not moving: it stops counting at once (the previous picture matches) ...
    assert not det.detect(1.2, noisy(parked, rng)).moving
    t = 1.2
    while t < 1.2 + 4 * s.background_seconds:
        t += 0.2
        det.detect(t, noisy(parked, rng))
    # ... and once learnt, its leaving is one picture of change, not a long ghost.
    assert det.detect(t + 0.2, noisy(still, rng)).moving
    assert not det.detect(t + 0.4, noisy(still, rng)).moving


def test_shrink_keeps_about_the_analysis_height():
    for h, w in ((360, 640), (720, 1280), (1080, 1920), (480, 640), (90, 160), (60, 80)):
        out = shrink(np.zeros((h, w), np.uint8))
        assert out.dtype == np.float32
        assert ANALYSIS_HEIGHT <= out.shape[0] < 2 * ANALYSIS_HEIGHT or h < ANALYSIS_HEIGHT


def v(t: float, score: float = 0.0) -> FrameVerdict:
    return FrameVerdict(t, score, score >= 0.003)


def test_events_start_after_n_moving_frames_in_a_row_and_report_the_first():
    m = MotionEvents(start_frames=3, post_roll=2.0)
    assert m.update(v(0.0, 0.05)) == [] and m.update(v(0.2, 0.05)) == []
    assert m.update(v(0.4)) == []  # the run broke: start over
    assert m.update(v(0.6, 0.01)) == [] and m.update(v(0.8, 0.02)) == []
    assert m.update(v(1.0, 0.03)) == [MotionStarted(0.6, 1.0, 0.03)]
    assert m.active


def test_events_end_post_roll_after_the_last_moving_frame_with_their_peak():
    m = MotionEvents(start_frames=1, post_roll=2.0)
    assert m.update(v(10.0, 0.02)) == [MotionStarted(10.0, 10.0, 0.02)]
    m.update(v(10.2, 0.09))
    m.update(v(11.0))
    m.update(v(12.0, 0.01))  # within the post-roll: the same event goes on
    assert m.update(v(13.8)) == []
    assert m.update(v(14.0)) == [MotionEnded(10.0, 12.0, 14.0, 0.09, 3)]
    assert not m.active and m.finish() is None


def test_a_gap_in_the_pictures_ends_the_event_before_a_new_one_starts():
    m = MotionEvents(start_frames=1, post_roll=2.0)
    m.update(v(0.0, 0.02))
    out = m.update(v(30.0, 0.04))  # the camera was away for half a minute
    assert out == [MotionEnded(0.0, 0.0, 2.0, 0.02, 1), MotionStarted(30.0, 30.0, 0.04)]
    assert m.finish() == MotionEnded(30.0, 30.0, 32.0, 0.04, 1)
