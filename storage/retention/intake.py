"""An imported recording's age (issue 76, design/0346): its stamps are its device's claim, so the
planner (storage/retention/plan.py rules 1 and 2) judges it from no earlier than its intake, the
box's time when it took the file in. A device clock that claims old times never makes it go early;
one that claims a later time keeps it longer, never shorter. The intake's original file follows
its footage (design/0354: storage/retention/intake_original.py). Pure.
"""

from __future__ import annotations

from typing import Protocol


class Stamped(Protocol):
    """A planner's segment (storage/retention/plan.py `Segment`), as far as its age goes."""

    @property
    def end_us(self) -> int: ...

    @property
    def intake_us(self) -> int | None: ...


def age_end(seg: Stamped) -> int:
    """The end a segment's age is judged by: its own, or an import's no earlier than its intake."""
    return seg.end_us if seg.intake_us is None else max(seg.end_us, seg.intake_us)
