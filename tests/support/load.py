"""How loaded this box is, for the deadlines of tests' waits (design/0143)."""

from __future__ import annotations

import os

SLACK_ENV = "EDGED_TEST_SLACK"  # a fixed factor for every deadline (e.g. 3 on a box known to be slow)
MAX_SLACK = 4.0


def slack() -> float:
    """How much longer than its nominal deadline a wait may run on this box now: the load per core
    (the 1-minute load average over the cores, at least 1, at most MAX_SLACK), or $EDGED_TEST_SLACK.
    A deadline is a bound on a failure report, never a speed asserted: a busy box (CI beside other
    jobs, a second process on one of two cores) makes every daemon and camera slower alike."""
    fixed = os.environ.get(SLACK_ENV)
    if fixed:
        return max(1.0, float(fixed))
    return min(MAX_SLACK, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))
