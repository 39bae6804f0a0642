"""The retention plan on a host clock nothing outside the box corroborates (design/0095). Pure.

`plan_at` is the planner (storage/retention/plan.py) with the gate as a parameter: rule 1 (max
retention), hold expiry and graces judge age at `age_now_us`, the budget's time
(storage/time/corroboration.budget_now), never later than the host's; rule 2 (overwrite for space)
keeps the host's time, so recording never stops (R1.4).
"""

from __future__ import annotations

from typing import Iterable, Sequence

from storage.retention.plan import Disk, Grace, Hold, Plan, Policy, Segment, plan


def plan_at(oldest_first: Sequence[Segment], holds: Iterable[Hold], policy: Policy, disk: Disk, now_us: int,
            graces: Iterable[Grace] = (), age_trusted: bool = True, age_now_us: int | None = None) -> Plan:
    """`plan`, with age judged at `age_now_us` (None, or not earlier than `now_us`: the host's
    time). Rule 1 at the budget's time first, then rule 2 at the host's over what it left: what
    the first chose stands."""
    holds, graces = list(holds), list(graces)
    if age_now_us is None or age_now_us >= now_us:
        return plan(oldest_first, holds, policy, disk, now_us, graces, age_trusted)
    room = Disk(policy.reserve_bytes + disk.total_bytes, disk.total_bytes)  # rule 1 alone: no shortage here
    aged = plan(oldest_first, holds, policy, room, age_now_us, graces, age_trusted)
    taken = {d.segment.id for d in aged.destroy}
    rest = plan([s for s in oldest_first if s.id not in taken], holds, policy,
                Disk(disk.free_bytes + aged.freed_bytes, disk.total_bytes), now_us, graces, age_trusted=False)
    return Plan(aged.destroy + rest.destroy, aged.alarms + rest.alarms, rest.stop_recording, rest.short_bytes,
                rest.blocked_by)
