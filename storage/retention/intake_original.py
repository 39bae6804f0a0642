"""An intake's original file in the retention pass (issue 76, design/0354): when the planner's rules
let it go. Kept byte for byte beside the segments remuxed from it (storage/intake/take.py), it
lives as long as its footage may: judged as an imported segment is (storage/retention/intake.py
`age_end`, storage/retention/plan.py rule 1), outliving every segment of it and every hold over it.
Pure: the pass's I/O is storage/retention/originals.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from storage.retention.intake import age_end
from storage.retention.plan import Grace, Hold, Policy, Segment


@dataclass(frozen=True, slots=True)
class Original:
    """An intake's original file (design/0354), as the retention pass sees it: kept byte for byte
    beside its segments, it lives as long as the intake's footage may."""

    intake: int
    camera: str              # the device's camera id (portable.<device>): its limits and its holds
    intake_us: int           # the box's time of the intake
    start_us: int            # its footage's claimed stamps (its segments', live or destroyed; else the claim)
    end_us: int
    segments_left: int       # its segments still in the catalog: the original outlives every one


def originals_due(originals: Iterable[Original], holds: Iterable[Hold], policy: Policy, now_us: int,
                  graces: Iterable[Grace] = (), age_trusted: bool = True) -> list[Original]:
    """The intakes' originals this pass destroys (design/0354): past their camera's maximum counted
    as an imported segment's is (`age_end`: from the intake, so never before the minimum either), none of their segments left, and nothing keeping them: a hold (active, or
    released and in its grace) over any of their footage's claimed time or over the intake itself,
    a lowered maximum in its grace (the old one counts). On a clock edged cannot trust, none
    (invariant 10). The disk's reserve never takes one: the rule 2 of its segments does."""
    if not age_trusted:
        return []
    keeping = [h for h in holds if h.active(now_us) or h.in_grace(now_us)]
    longest: dict[str, int] = {}
    for g in graces:
        if g.until_us > now_us:
            longest[g.camera] = max(longest.get(g.camera, 0), g.max_us)
    due = []
    for o in originals:
        max_us = max(policy.limits(o.camera).max_us, longest.get(o.camera, 0))
        if o.segments_left or not age_end(o) < now_us - max_us:
            continue
        footage = Segment(0, o.camera, o.start_us, max(o.end_us, o.start_us + 1), 0)
        intake = Segment(0, o.camera, o.intake_us, o.intake_us + 1, 0)
        if not any(h.covers(footage) or h.covers(intake) for h in keeping):
            due.append(o)
    return due
