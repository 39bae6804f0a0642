"""An imported recording's age (issue 76, design/0346, amended by 0381): its stamps are its device's
claim, so the planner (storage/retention/plan.py rules 1 and 2) judges it from its intake, the
box's time when it took the file in and the only time the box can prove. A device clock that claims
old times never makes it go early; one that claims a later time never keeps it past its maximum
from the intake either. The intake's original file follows its footage (design/0354:
storage/retention/intake_original.py). Pure.
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
    """The end a segment's age is judged by: its own, or an import's intake (its claim, earlier or
    later, never counts: design/0381)."""
    return seg.end_us if seg.intake_us is None else seg.intake_us
