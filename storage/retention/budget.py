"""The retention plan on a host clock nothing outside the box corroborates (design/0095, design/0305). Pure.

`plan_at` is the planner (storage/retention/plan.py) with the gate as a parameter: rule 1 (max
retention), hold expiry and graces judge the age of footage recorded before this boot at
`age_now_us`, the earliest true time retention can prove (storage/time/corroboration.proven_now),
never later than the host's; footage recorded in this boot (ending at or after `measured_from_us`)
is on the clock the monotonic clock measures, so its age is the host's reading (a hold or grace
still standing at `age_now_us` still stands for it); rule 2 (overwrite for space) keeps the host's
time, so recording never stops (R1.4).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

from storage.retention.plan import Disk, Grace, Hold, Plan, Policy, Segment, plan
from storage.time import interval as iv


def proven_past_max(seg: Segment, policy: Policy, now: iv.Interval) -> bool:
    """Rule 1 on intervals (design/0305): the age from the latest the segment may have ended (its
    stamp; a flagged one's bound) to the earliest proven now is more than its camera's maximum."""
    end = seg.end_us if seg.age_known else (seg.end_bound_us or seg.end_us)
    recorded = iv.Interval(None, iv.Bound(end, "its end as stamped"))
    return iv.may_destroy(iv.span(recorded, now), policy.limits(seg.camera).max_us + 1)


def standing_at(holds: list[Hold], graces: list[Grace], at_us: int, now_us: int) -> tuple[list[Hold], list[Grace]]:
    """Holds and graces as they stand at `at_us`, judged at the later `now_us`: what still stands
    then keeps standing (a later host clock never ends a hold or a grace)."""
    kept = []
    for h in holds:
        if h.active(at_us):
            kept.append(replace(h, expires_us=None))
        elif h.in_grace(at_us):
            kept.append(replace(h, grace_until_us=max(h.grace_until_us or 0, now_us + 1)))
    return kept, [replace(g, until_us=max(g.until_us, now_us + 1)) for g in graces if g.until_us > at_us]


def plan_at(oldest_first: Sequence[Segment], holds: Iterable[Hold], policy: Policy, disk: Disk, now_us: int,
            graces: Iterable[Grace] = (), age_trusted: bool = True, age_now_us: int | None = None,
            measured_from_us: int | None = None) -> Plan:
    """`plan`, with age judged at `age_now_us` (None, or not earlier than `now_us`: the host's
    time) for footage ending before `measured_from_us` (None: all of it), at the host's for the
    rest. Rule 1 first, then rule 2 at the host's over what it left: what the first chose stands."""
    holds, graces = list(holds), list(graces)
    if age_now_us is None or age_now_us >= now_us:
        return plan(oldest_first, holds, policy, disk, now_us, graces, age_trusted)
    room = Disk(policy.reserve_bytes + disk.total_bytes, disk.total_bytes)  # rule 1 alone: no shortage here
    since = [] if measured_from_us is None else [s for s in oldest_first if s.end_us >= measured_from_us]
    mine = {s.id for s in since}
    now = iv.Interval(iv.Bound(age_now_us, "the earliest time proven"))
    before = [s for s in oldest_first if s.id not in mine]
    aged = plan([s for s in before if proven_past_max(s, policy, now)], holds, policy, room, age_now_us, graces,
                age_trusted)
    kept_holds, kept_graces = standing_at(holds, graces, age_now_us, now_us)
    measured = plan(since, kept_holds, policy, room, now_us, kept_graces, age_trusted) if since else Plan()
    taken = {d.segment.id for d in aged.destroy + measured.destroy}
    freed = aged.freed_bytes + measured.freed_bytes
    rest = plan([s for s in oldest_first if s.id not in taken], holds, policy,
                Disk(disk.free_bytes + freed, disk.total_bytes), now_us, graces, age_trusted=False)
    return Plan(aged.destroy + measured.destroy + rest.destroy, aged.alarms + measured.alarms + rest.alarms,
                rest.stop_recording, rest.short_bytes, rest.blocked_by)
