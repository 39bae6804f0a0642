"""The floor of free space kept for the catalog (design/0058): plain functions over numbers.

Below the retention reserve, retention makes room; the floor is a small part of the reserve
below which recording pauses, so that the catalog's own writes (retention's destructions
first) still find room on a disk that fills faster than a pass runs. Recording resumes when
twice the floor is free again (hysteresis: no pause and resume at every segment).
"""

from __future__ import annotations

MIB = 1 << 20
FLOOR_MIN = 16 * MIB
FLOOR_MAX = 256 * MIB


def floor_bytes(reserve: int) -> int:
    """A quarter of the reserve, between 16 MiB and 256 MiB, and never above half the reserve."""
    return min(reserve // 2, max(reserve // 4, FLOOR_MIN), FLOOR_MAX)


def short(free: int, floor: int, was_short: bool) -> bool:
    """Below the floor: short; once short, short until twice the floor is free."""
    return free < (2 * floor if was_short else floor)
