"""The image checks' sample interval to a CPU budget (design/0078): a pure rule, no clock, no I/O.

The image checks may cost at most `share` of the recorder's CPU. With C the CPU seconds one
round of checks costs (one check of every camera, each camera's own measured cost) and O the
recorder's other CPU (cores: CPU seconds a second), a round every T seconds costs C / T, and

    (C / T) / (C / T + O) <= share   <=>   T >= C * (1 - share) / (share * O)

so T grows with the number of cameras (C) against what recording them costs (O), held between
the shortest and the longest interval. recorder/imagecheck.py measures C and O at run time.
"""

from __future__ import annotations

import math
from typing import Iterable

SHARE = 0.10             # image checks at most this share of the recorder's CPU
SHORTEST_US = 10_000_000  # never more often than this (the site's [health] sample_interval)
LONGEST_US = 60_000_000   # never less often than this (unless the shortest is longer)


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
