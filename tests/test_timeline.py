"""Segment boundaries, wall-clock anchoring and timestamp repair: pure functions."""

import random

from recorder.camera import backoff_us, scrub
from recorder.timeline import (
    CUT_TOLERANCE_US,
    RunClock,
    anchor_offset,
    is_cut,
    next_boundary,
)

S = 1_000_000


def test_boundaries_line_up_with_the_wall_clock():
    assert next_boundary(1_795_220_435_568_298, 60 * S) == 1_795_220_460 * S
    assert next_boundary(120 * S, 60 * S) == 180 * S  # a segment starting on :00 runs a whole length
    assert next_boundary(5 * S + 1, 5 * S) == 10 * S
    # opened by a keyframe the cut took for the boundary's (jitter): a whole segment, not a keyframe's worth
    b = 180 * S
    assert is_cut(b - 11, True, b) and next_boundary(b - 11, 60 * S) == b + 60 * S
    assert next_boundary(b - CUT_TOLERANCE_US - 1, 60 * S) == b


def test_cut_only_at_a_keyframe_at_the_boundary_with_tolerance():
    b = 60 * S
    assert not is_cut(b + 5 * S, False, b)          # never mid-GOP
    assert is_cut(b, True, b)
    assert is_cut(b - 11, True, b)                  # RTP jitter: 59.999989 s still cuts (measured)
    assert not is_cut(b - CUT_TOLERANCE_US - 1, True, b)
    assert not is_cut(b - 2 * S, True, b)


def test_anchor_takes_the_least_delayed_packet():
    # A probe burst: four frames taken 50 ms apart all arrive at t=10.2 s; later ones on time.
    samples = [(10_200_000, 0), (10_200_000, 50_000), (10_200_000, 100_000), (10_200_000, 150_000),
               (10_205_000, 200_000), (10_255_000, 250_000)]
    assert anchor_offset(samples) == 10_005_000
    clock = RunClock(anchor_offset(samples), wall_ref=10_255_000, mono_ref=1_000)
    assert clock.wall(0) == 10_005_000
    assert clock.lateness(250_000, 10_300_000) == 45_000


def test_host_clock_step_is_seen_against_the_monotonic_clock():
    clock = RunClock(0, wall_ref=100 * S, mono_ref=5 * S)
    assert not clock.stepped(160 * S, 65 * S)             # both advanced 60 s
    assert not clock.stepped(160 * S + 900_000, 65 * S)   # slew, not a step
    assert clock.stepped(160 * S + 30 * S, 65 * S)        # NTP stepped forward 30 s
    assert clock.stepped(150 * S, 65 * S)                 # or back 10 s


def test_after_a_host_clock_step_the_run_moves_by_exactly_the_step():
    """design/0059: no packet's delay enters the new mapping, so the new segment begins where the
    last ended plus the step, and the watch's re-stamp (the step less its margin) leaves a gap."""
    clock = RunClock(1_000 * S, wall_ref=1_005 * S, mono_ref=50 * S)    # media 5 s arrived at wall 1005 s
    end = clock.wall(65 * S)                                            # 60 s later, the last frame before it
    moved = clock.after_step(1_065 * S - 3600 * S, 110 * S)             # seen 60 s on: the clock went back 1 h
    assert moved.wall(65 * S) - end == -3600 * S
    assert not moved.stepped(1_065 * S - 3600 * S + 10 * S, 120 * S)
    assert moved.offset - clock.offset == -3600 * S


def test_backoff_is_capped_and_jittered():
    rng = random.Random(1)
    delays = [backoff_us(a, 2 * S, rng) for a in range(12)]
    assert delays[0] < 400_000
    assert all(d <= 2.4 * S for d in delays)
    assert len(set(delays[6:])) > 1  # jitter: cameras don't retry in lockstep


def test_scrub_removes_passwords_from_error_text():
    msg = "Invalid data found when processing input: 'rtsp://admin:s3cr3t@10.0.0.5:554/h264'"
    assert "s3cr3t" not in scrub(msg)
    assert "rtsp://admin:***@10.0.0.5:554/h264" in scrub(msg)
