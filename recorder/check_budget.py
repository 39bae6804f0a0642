"""What the image checks cost, measured at run time, and the interval that keeps them in their
budget (the rule: recorder/sample_budget.py; design/0078). The pool (recorder/imagecheck.py
ImageSampler) is a CheckBudget: each check's CPU, from its own thread's clock, is charged here;
every `review_us` the process's CPU apart from the checks' sets the interval in force, which
the camera threads read at each sample."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from recorder import sample_budget

log = logging.getLogger("recorder.imagecheck")

# The interval is reviewed this often (over the CPU spent since the last review), and a
# camera's cost per check is a running mean with this weight for the newest check.
REVIEW_US = 15_000_000
COST_WEIGHT = 0.2


class CheckBudget:
    def __init__(self, *, shortest_us: int = sample_budget.SHORTEST_US, longest_us: int = sample_budget.LONGEST_US,
                 share: float = sample_budget.SHARE, review_us: int = REVIEW_US):
        # The interval in force (camera threads read it at each sample), and what sets it.
        self.interval_us = shortest_us
        self.shortest_us, self.longest_us, self.share, self.review_us = shortest_us, longest_us, share, review_us
        self.cameras: weakref.WeakSet[Any] = weakref.WeakSet()  # each camera's CameraSamples (`cost_us`)
        self._cpu_lock = threading.Lock()
        self._pool_cpu_us = 0.0  # CPU the checks spent (their threads' own)
        self._window = self._now()

    def _now(self) -> tuple[int, float, float]:
        """(monotonic us, the process's CPU us, the checks' CPU us) now."""
        return time.monotonic_ns() // 1000, time.process_time() * 1e6, self._pool_cpu_us

    def charge(self, cam: Any, cpu_us: float) -> None:
        """A check of `cam` cost `cpu_us` of its thread's CPU; review the interval when due."""
        cam.cost_us = cpu_us if cam.cost_us is None else cam.cost_us + COST_WEIGHT * (cpu_us - cam.cost_us)
        with self._cpu_lock:
            self._pool_cpu_us += cpu_us
            now = self._now()
            if now[0] - self._window[0] < self.review_us:
                return
            then, self._window = self._window, now
        self.review(now, then)

    def review(self, now: tuple[int, float, float], then: tuple[int, float, float]) -> int:
        """Set the interval from the CPU measured between `then` and `now` (design/0078)."""
        wall = max(1, now[0] - then[0])
        other = max(0.0, (now[1] - then[1]) - (now[2] - then[2])) / wall
        cams = list(self.cameras)
        known = [c.cost_us for c in cams if c.cost_us is not None]
        mean = sum(known) / len(known) if known else 0.0
        costs = [mean if c.cost_us is None else c.cost_us for c in cams]
        interval = sample_budget.sample_interval_us(costs, other, share=self.share, shortest_us=self.shortest_us,
                                                    longest_us=self.longest_us)
        if interval != self.interval_us:
            log.info("image checks: every %g s (%d cameras, %.1f ms of CPU a check, the rest of the recorder "
                     "%.1f %% of a core; at most %g %% of the recorder's CPU)", interval / 1e6, len(cams),
                     mean / 1000, other * 100, self.share * 100)
        self.interval_us = interval
        return interval
