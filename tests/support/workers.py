"""How many processes scripts/test runs the parallel tier on, unless EDGED_TEST_WORKERS says
(design/0289, 0471): 5 when the box's cores are free (idle at least 90 % over a second, from /proc/stat),
else 3, the count the suite was proven with on a box with one core taken by something else
(issue 59: three runs in a row beside `stress-ng --cpu 1`). Most tests wait on cameras, daemons and
browsers rather than compute, so a fourth process shortened an idle box's run; with the daemons forked
and one Chromium a process (design/0471) the tier's CPU fell below what four processes' waits kept busy, and
a fifth fills it; on a busy box more would only crowd the others."""

from __future__ import annotations

import time

FREE = 0.90
IDLE, BUSY = 5, 3


def idle_share(seconds: float = 1.0) -> float:
    """The share of the CPUs' time spent idle (or waiting on I/O) over `seconds`."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def workers(free: float) -> int:
    return IDLE if free >= FREE else BUSY


if __name__ == "__main__":
    print(workers(idle_share()))
