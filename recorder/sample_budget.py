"""The image checks' sample interval to a CPU budget (design/0078): a pure rule, no clock, no I/O.

The image checks may cost at most `share` of the recorder's CPU. With C the CPU seconds one
round of checks costs (one check of every camera, each camera's own measured cost) and O the
recorder's other CPU (cores: CPU seconds a second), a round every T seconds costs C / T, and

    (C / T) / (C / T + O) <= share   <=>   T >= C * (1 - share) / (share * O)

so T grows with the number of cameras (C) against what recording them costs (O), held between
the shortest and the longest interval. recorder/imagecheck.py measures C and O at run time.

When in the interval a camera is checked (design/0561): each camera has a phase, a fraction of
the interval; its checks fall due where the monotonic clock, counted in intervals, is at that
fraction, so a worker's cameras, given phases spread over the interval (`phase`), are checked
one after another across it, not all at once.
"""

from __future__ import annotations

import math
from typing import Iterable

SHARE = 0.10             # image checks at most this share of the recorder's CPU
SHORTEST_US = 10_000_000  # never more often than this (the site's [health] sample_interval)
LONGEST_US = 60_000_000   # never less often than this (unless the shortest is longer)
# The k-th camera's phase is the fractional part of k times this (the golden ratio's): however many
# cameras a worker has, their phases stay spread over the interval (design/0561).
GOLDEN = (math.sqrt(5) - 1) / 2


def sample_interval_us(check_cpu_us: Iterable[float], other_cores: float | None, *, share: float = SHARE,
                       shortest_us: int = SHORTEST_US, longest_us: int = LONGEST_US) -> int:
    """The interval between two image checks of a camera, in us, whole seconds rounded up.

    `check_cpu_us`: the CPU one check costs, per camera checked (us); `other_cores`: the
    recorder's CPU apart from the image checks (CPU seconds per second), None if not measured
    yet. Nothing measured yet, or no camera: the shortest. A recorder that spends nothing else
    (0 cores) gets the longest: any check is over its share.
    """
    longest_us = max(longest_us, shortest_us)
    round_us = sum(max(0.0, c) for c in check_cpu_us)
    if other_cores is None or round_us <= 0 or share >= 1:
        return shortest_us
    if other_cores <= 0 or share <= 0:
        return longest_us
    want = round_us * (1 - share) / (share * other_cores)
    whole = math.ceil(want / 1_000_000 - 1e-9) * 1_000_000
    return int(min(longest_us, max(shortest_us, whole)))


def phase(place: int, offset: float = 0.0) -> float:
    """The phase (0 <= phase < 1, a fraction of the interval) of a worker's `place`-th camera (0, 1,
    ...): `offset` plus `place` golden ratios, its fractional part. The phases of n consecutive
    places leave gaps of at most three lengths (the three-gap theorem), the largest under 2 / n, and
    a share w of the interval holds at most w * n + 3 of them (tests/test_sample_budget.py)."""
    return (offset + place * GOLDEN) % 1.0


def slot_us(after_us: int, interval_us: int, phase: float) -> int:
    """The first time at or after `after_us` (monotonic us) at `phase` of the interval: the `t`
    with `t % interval_us == int(phase * interval_us) % interval_us` (a phase a hair under 1 rounds up)."""
    if interval_us <= 0:
        return after_us
    return after_us + (int(phase * interval_us) % interval_us - after_us) % interval_us


def next_check_us(due_us: int, now_us: int, interval_us: int, phase: float) -> int:
    """When a camera checked now (`now_us`) for a check due at `due_us` is next due: its slot one
    interval on (`slot_us`), at least half an interval after the one it was due at, and not before
    now. Checked at a keyframe after its slot, a camera is checked once an interval; a camera
    that sent no keyframe for a while is checked at its next slot, not once for each it missed; a
    new interval (the budget's review) takes each camera to its slot of the new one."""
    return slot_us(max(due_us + interval_us // 2, now_us), interval_us, phase)
