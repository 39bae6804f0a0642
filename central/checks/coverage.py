"""A camera's time covered, counted once (issue 44, design/0115).

A site with a standby may hold the same minutes twice: the box recorded a camera, the standby
recorded it while the box was gone, and the box fetched that back. Each node's `footage`
messages say the time its new footage covers, per camera and kind (live, backfilled from the
camera's recording, fetched back from the standby, stood in: a standby's recording of another
box's camera); the office keeps them (table `coverage`) and counts a camera's time as the union
over every node of the site, never the sum: the stretches nobody holds are the camera's holes.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from storage.footage.spans import by_kind, holes, union

KINDS = ("live", "backfilled", "standby", "stood_in")


def spans_of(raw: Any) -> Iterator[tuple[str, tuple[int, int, str]]]:
    """(camera, (from_us, to_us, kind)) of a footage message's `spans`, what is malformed left out."""
    if not isinstance(raw, dict):
        return
    for camera, rows in raw.items():
        if not isinstance(camera, str) or not isinstance(rows, list):
            continue
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3):
                continue
            a, b, kind = row
            if (isinstance(a, int) and not isinstance(a, bool) and isinstance(b, int) and not isinstance(b, bool)
                    and a < b and kind in KINDS):
                yield camera, (a, b, kind)


def summary(found: list[tuple[str, int, int, str]], from_us: int, to_us: int, hole_us: int = 1_000_000) -> dict[str, Any]:
    """The camera's time over [from, to): covered once (the union), by kind (each instant counted
    for one kind), what each node holds, what is held twice, and the holes longer than `hole_us`."""
    clipped = [(n, max(a, from_us), min(b, to_us), k) for n, a, b, k in found if min(b, to_us) > max(a, from_us)]
    merged = union((a, b) for _n, a, b, _k in clipped)
    covered = sum(b - a for a, b in merged)
    per_node = {n: sum(b - a for a, b in union((a, b) for m, a, b, _k in clipped if m == n))
                for n in sorted({n for n, *_ in clipped})}
    return {"from_us": from_us, "to_us": to_us, "covered_us": covered,
            "by_kind": by_kind((a, b, k) for _n, a, b, k in clipped), "by_node": per_node,
            "held_twice_us": sum(per_node.values()) - covered,
            "holes": [list(h) for h in holes(from_us, to_us, merged, hole_us)]}


# pruning (store maintenance) ----------------------------------------------------------------------
DAY_US = 86_400_000_000
MAX_DAYS = 365.0     # docs/requirements.md R1.5: footage is destroyed within a year unless held
MONTH_DAYS = 31      # the auditor's month (central/report/month.py) looks back over the last full month
PRUNE_EVERY_US = DAY_US


def prune_before(now_us: int, max_days: Iterable[float | None]) -> int:
    """The time before which the office forgets the coverage of every node: the longest maximum
    retention any node announces (site or camera; R1.5's year when none says), and a month more
    for the month report. What no node may still hold is no one's coverage any more."""
    longest = max([d for d in max_days if d is not None], default=MAX_DAYS)
    return now_us - int((max(longest, MAX_DAYS) + MONTH_DAYS) * DAY_US)
