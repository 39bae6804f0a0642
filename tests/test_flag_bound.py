"""Flagged footage is bounded (design/0096): a segment stamped by a clock that was behind (flagged,
its time unknown) ended before its camera's next segment on a trusted clock began, so it goes at
the maximum by that bound and no later, unless a hold reaches it; a person who resolves the flag
with the time they found gives it its age, on the record. The planner stays pure (the bound is
data on the segment); a real catalog, retention's own pass, a FakeClock."""

from __future__ import annotations

import json
from collections import namedtuple
from dataclasses import replace

import pytest

from edged.cli import flags as ctl_flags
from edged.config import RetentionConfig
from edged.control.flags import FlagOps
from edged.control.operation import CatalogReader
from edged.control.protocol import RequestError
from edged.control.server import Caller
from storage import cameras as camera_table
from storage.footage import restamps, segment_rows
from storage.catalog import CatalogWriter, open_db
from storage.time.clock import FakeClock
from storage.disk.layout import segment_relpath
from storage.retention.plan import Disk, Hold, Limits, Policy, Segment, plan
from storage.retention.run import run_pass
from tests.support.catalog import audit_rows, rows

S = 1_000_000
D = 86_400 * S
T0 = 1_790_000_000 * S
Usage = namedtuple("Usage", "total used free")
CUSTODIAN = Caller(os_user="ann", account="ann", roles=("custodian",))


def roomy(_path):
    return Usage(10**12, 10**9, 10**12 - 10**9)


class Cam:
    def __init__(self, id):
        self.id, self.min_retention_us, self.max_retention_us = id, None, None


def _segment(db, data, cam: str, start: int) -> int:
    path = segment_relpath(cam, start)
    (data / path).parent.mkdir(parents=True, exist_ok=True)
    (data / path).write_bytes(b"\0" * 100)
    segment_rows.open_row(db, cam, start, path, start)
    segment_rows.close(db, path, {"end_us": start + 60 * S, "bytes": 100, "sha256": "ab" * 32})
    return max(r["id"] for r in rows(db, "segment_rows"))


def test_the_planner_takes_a_flagged_segment_by_its_bound_and_keeps_it_under_a_hold():
    policy = Policy(Limits(D, 30 * D), {}, 0, "overwrite")
    flagged = Segment(2, "door", T0 - 365 * D, T0 - 365 * D + 60 * S, 100, age_known=False, end_bound_us=T0 + 2 * D)
    unbounded = replace(flagged, id=3, end_bound_us=None)
    disk = Disk(10**12, 10**12)
    assert plan([flagged, unbounded], [], policy, disk, T0 + 31 * D).destroy == []     # bound 29 days ago
    assert [d.segment.id for d in plan([flagged, unbounded], [], policy, disk, T0 + 33 * D).destroy] == [2]
    hold = Hold(1, frozenset({"door"}), T0 + D, T0 + D + 60 * S, None)   # between its stamps and its bound
    assert plan([flagged], [hold], policy, disk, T0 + 33 * D).destroy == []
    assert plan([flagged], [], policy, disk, T0 + 33 * D, age_trusted=False).destroy == []


def test_flagged_footage_goes_at_the_maximum_by_its_bound_or_by_the_time_a_person_gave(tmp_path):
    data = tmp_path
    db = open_db(data / "catalog.db")
    camera_table.sync(db, [{"id": c, "name": c, "url": "", "enabled": 1} for c in ("door", "yard")], T0)
    first = _segment(db, data, "door", T0)                       # a true run
    behind = _segment(db, data, "door", T0 - 365 * D)            # stamped a year behind: flagged
    nxt = _segment(db, data, "door", T0 + 2 * D)                 # the next on a trusted clock: the bound
    lone = _segment(db, data, "yard", T0 - 365 * D)              # flagged, with nothing after it
    restamps.flag(db, [behind, lone], T0 + 2 * D, {"reason": "stamped_before_earlier_footage"})
    assert restamps.end_bounds(db, "door") == {behind: T0 + 2 * D}
    assert restamps.end_bounds(db, "yard") == {lone: None}
    retention = replace(RetentionConfig(), min_retention_us=D, max_retention_us=30 * D, allow_short_for_tests=True)
    cams = [Cam("door"), Cam("yard")]

    def gone(at: int) -> list[int]:
        run_pass(db, data, retention, cams, roomy, clock=FakeClock(at))
        return sorted(r["segment_id"] for r in rows(db, "destructions"))

    assert gone(T0 + 20 * D) == []                 # a year old by its stamps, yet not by age: its bound is young
    assert gone(T0 + 31 * D) == [first]
    assert gone(T0 + 33 * D) == [first, behind, nxt]   # past the maximum by its bound: R1.5 holds for it too
    assert gone(T0 + 400 * D) == [first, behind, nxt]  # the lone one has no bound: kept (a person must look)

    # the custodian finds its true start on its picture's time display and says so, on the record
    restamps.resolve(db, [lone], "ann", "the picture's clock reads this", T0 + 400 * D, true_start_us=T0 + 380 * D)
    (rec,) = [json.loads(r["detail"]) for r in audit_rows(db, "segments.flag_resolved")]
    assert rec["true_start_us"] == T0 + 380 * D and rec["resolved_shift_us"] == T0 + 380 * D - (T0 - 365 * D)
    assert gone(T0 + 405 * D) == [first, behind, nxt]   # 25 days old by the time given
    assert gone(T0 + 411 * D) == [first, behind, nxt, lone]


async def test_the_custodian_gives_one_flagged_segments_true_start_through_the_control_operation(tmp_path):
    """`edgectl flags resolve ID --reason R --true-start T` (the control operation `flags.resolve`):
    a time for one segment at a time; it is kept next to the flag and on the chain."""
    writer = CatalogWriter(tmp_path / "catalog.db", FakeClock(T0))
    await writer.start()
    try:
        def setup(c) -> list[int]:
            camera_table.sync(c.db, [{"id": "door", "name": "door", "url": "", "enabled": 1}], T0)
            ids = [_segment(c.db, tmp_path, "door", T0 - 365 * D + k * 60 * S) for k in range(2)]
            restamps.flag(c.db, ids, T0, {"reason": "stamped_before_earlier_footage"})
            return ids

        ids = await writer.run(setup)
        ops = FlagOps(writer, CatalogReader(tmp_path), clock=FakeClock(T0 + D))
        with pytest.raises(RequestError, match="one segment at a time"):
            await ops.resolve({"ids": ids, "reason": "seen", "true_start_us": T0}, CUSTODIAN)
        got = await ops.resolve({"ids": ids[:1], "reason": "the picture's clock", "true_start_us": T0 - D}, CUSTODIAN)
        assert got["resolved"][0]["resolved_shift_us"] == 364 * D and got["unresolved"] == 0  # no recount wired
        listed = (await ops.listing({"all": True}, CUSTODIAN))["flags"]
        assert "it began at" in ctl_flags.resolution(listed[0])
        assert "it began at" not in ctl_flags.resolution({**listed[1], "resolved_us": T0, "resolved_by": "x",
                                                          "resolved_reason": "y"})
    finally:
        await writer.close()
