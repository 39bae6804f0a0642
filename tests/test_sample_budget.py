"""The image checks' interval to a CPU budget (recorder/sample_budget.py, design/0078), by table."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from recorder.sample_budget import LONGEST_US, SHORTEST_US, next_check_us, phase, sample_interval_us, slot_us

S = 1_000_000
MS = 1_000


@pytest.mark.parametrize("costs, other, kw, want", [
    # nothing measured yet, or nothing to check: the shortest
    ([13 * MS] * 32, None, {}, SHORTEST_US),
    ([], 0.3, {}, SHORTEST_US),
    # 32 cameras at 13 ms a check, the rest of the recorder 0.29 of a core:
    # 0.416 s * 0.9 / (0.1 * 0.29) = 12.9 s -> 13 s
    ([13 * MS] * 32, 0.29, {}, 13 * S),
    # three times the cameras and three times the recording: the same interval
    ([13 * MS] * 96, 0.87, {}, 13 * S),
    # three times the cameras on the same recorder CPU (dearer checks each): three times as long
    ([13 * MS] * 96, 0.29, {}, 39 * S),
    # cheap checks (a motion camera's picture comes decoded): the shortest holds
    ([1 * MS] * 32, 0.29, {}, SHORTEST_US),
    # a few cameras on a busy recorder: the shortest
    ([13 * MS] * 4, 0.5, {}, SHORTEST_US),
    # more checks than the budget allows even at the longest: the longest, no further
    ([40 * MS] * 128, 0.3, {}, LONGEST_US),
    # a recorder that spends nothing else: any check is over its share
    ([13 * MS] * 2, 0.0, {}, LONGEST_US),
    # each camera's own cost counts: 16 at 30 ms + 16 at 5 ms = 0.56 s; 0.56 * 0.9 / (0.1 * 0.29) = 17.4 s
    ([30 * MS] * 16 + [5 * MS] * 16, 0.29, {}, 18 * S),
    # a larger share shortens it: 0.416 * 0.8 / (0.2 * 0.29) = 5.7 s -> the shortest, 10 s
    ([13 * MS] * 32, 0.29, {"share": 0.2}, SHORTEST_US),
    # the site's shorter shortest (tests, small sites): 0.416 * 0.8 / (0.2 * 0.29) = 5.7 -> 6 s
    ([13 * MS] * 32, 0.29, {"share": 0.2, "shortest_us": 2 * S}, 6 * S),
    # a shortest above the longest wins: fixed
    ([13 * MS] * 96, 0.29, {"shortest_us": 90 * S}, 90 * S),
    # share 0: never affordable; share 1: no limit
    ([13 * MS] * 32, 0.29, {"share": 0.0}, LONGEST_US),
    ([13 * MS] * 32, 0.29, {"share": 1.0}, SHORTEST_US),
    # whole seconds, rounded up: exactly 20 s stays 20 s
    ([10 * MS] * 20, 0.09, {}, 20 * S),
])
def test_sample_interval_by_table(costs, other, kw, want):
    assert sample_interval_us(costs, other, **kw) == want


def test_the_checks_stay_within_their_share_when_not_clamped():
    """What the interval buys: the checks' share of the recorder's CPU is at most the budget."""
    for n in (8, 32, 96, 128):
        for other in (0.05, 0.3, 1.0):
            costs = [15 * MS] * n
            t = sample_interval_us(costs, other)
            checks = sum(costs) / t  # cores
            if SHORTEST_US < t < LONGEST_US:
                assert checks / (checks + other) <= 0.1 + 1e-9
                assert sample_interval_us(costs, other * 2) <= t  # more recording, no longer interval


# When in the interval each camera is checked (design/0561) ---------------------------------------------
places = st.integers(min_value=1, max_value=300)
offsets = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(places, offsets, st.floats(min_value=0.01, max_value=1.0))
def test_a_workers_phases_are_spread_over_the_interval(n, offset, share):
    """n cameras' phases: no gap between two of them over 2 / n, and any share w of the interval
    holds at most w * n + 3 of them, wherever it starts (all n at 0 before: every camera at once)."""
    ps = sorted(phase(k, offset) for k in range(n))
    assert all(0.0 <= p < 1.0 for p in ps)
    gaps = [b - a for a, b in zip(ps, ps[1:] + [ps[0] + 1.0])]
    assert max(gaps) <= 2.0 / n + 1e-9
    for start in ps:  # a window holds the most when it starts at a phase
        held = sum(1 for p in ps if (p - start) % 1.0 < share)
        assert held <= share * n + 3


@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=1, max_value=3600 * S), offsets)
def test_a_slot_is_the_first_time_at_the_cameras_phase(after, interval, p):
    t = slot_us(after, interval, p)
    assert after <= t < after + interval
    assert t % interval == int(p * interval) % interval


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=S, max_value=600 * S), offsets,
       st.integers(min_value=0, max_value=3600 * S))
def test_the_next_check_is_at_the_phase_not_soon_and_not_past(due, interval, p, late):
    """Checked `late` after it was due (a keyframe later, or long after: no keyframe came), a camera is
    next due at its phase, not before now nor within half an interval of the check it was due for."""
    now = due + late
    t = next_check_us(due, now, interval, p)
    assert t % interval == int(p * interval) % interval
    assert t >= now and t >= due + interval // 2
    assert t < max(now, due + interval // 2) + interval
    if due % interval == int(p * interval) and late <= interval // 2:  # on its slot, taken within half of it
        assert t == due + interval  # once an interval: the mean rate kept


def test_checks_a_keyframe_late_keep_one_an_interval():
    """A camera whose keyframe comes 1.9 s after each slot of a 3 s interval (a 2 s GOP) is still
    checked once every 3 s, not every 4.5 or 6."""
    interval, p = 3 * S, 0.25
    due = slot_us(0, interval, p)
    taken = []
    for _ in range(100):
        now = due + 19 * S // 10
        taken.append(now)
        due = next_check_us(due, now, interval, p)
    assert (taken[-1] - taken[0]) / (len(taken) - 1) == interval
