"""A camera's time covered in the store (issue 44, design/0115): the coverage rows each node's
footage messages left, read for a camera or a site's month and pruned, each a named function over
the store's connection (``db``). Moved out of central/checks/coverage.py (issue 80), whose pure
counting (the union over every node, the holes) stays there. Blocking: call from a thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from central.checks.coverage import KINDS, summary

ROWS = "SELECT node, from_us, to_us, kind FROM coverage WHERE camera = ? AND node LIKE ? AND from_us < ? AND to_us > ?"
PRUNE = "DELETE FROM coverage WHERE to_us < ?"
CAMERAS = "SELECT DISTINCT camera FROM coverage WHERE node LIKE ? AND from_us < ? AND to_us > ?"


def rows(db: Any, site: str, camera: str, from_us: int, to_us: int) -> list[tuple[str, int, int, str]]:
    """(node, from, to, kind) of every node of the site holding the camera over [from, to)."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        ROWS, [camera, site.replace("%", "") + "/%", to_us, from_us]).fetchall()]


def prune(db: Any, before_us: int) -> int:
    """Forget the coverage that ended before `before_us`; how many rows."""
    return int(db.execute(PRUNE, [before_us]).rowcount or 0)


# the auditor's month (central/report/month.py) ----------------------------------------------------------
def month_rows(db: Any, site: str, days: list[Any], now_us: int) -> list[dict[str, Any]]:
    """Per camera and local day (compliance.Day) of the site that any node covered: the time
    covered once and by kind (backfilled from the camera's recording and fetched from the standby
    shown apart from what was recorded live), and what nobody holds (up to now)."""
    return list(each_month_row(db, site, days, now_us))


def each_month_row(db: Any, site: str, days: list[Any], now_us: int) -> Iterator[dict[str, Any]]:
    """month_rows, a camera-day read and given at a time (the month's CSV, design/0273)."""
    if not days:
        return
    cams = sorted({r[0] for r in db.execute(
        CAMERAS, [site.replace("%", "") + "/%", days[-1].end_us, days[0].start_us]).fetchall()})
    for cam in cams:
        for day in days:
            if day.start_us >= now_us:
                break
            end = min(day.end_us, now_us)
            s = summary(rows(db, site, cam, day.start_us, end), day.start_us, end, hole_us=0)
            if not s["covered_us"]:
                continue
            yield {"day": day.name, "camera": cam, "covered": s["covered_us"] // 1_000_000,
                   **{k: s["by_kind"].get(k, 0) // 1_000_000 for k in KINDS},
                   "not_covered": sum(b - a for a, b in s["holes"]) // 1_000_000}
