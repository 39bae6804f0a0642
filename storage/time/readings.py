"""A destroyed segment's readings of the box's clock, as the box reports them and as the office reads
them (design/0059, design/0364): one module for both sides, so that the two cannot disagree on a
sign again. Pure: no clock, no I/O.

The box keeps a segment's stamps as its clock made them (its file's path is derived from them,
design/0054) and, after a host clock step it measured on its monotonic clock, the shift its true
interval adds to them (`restamps.shift_us`): true = stamped + shift. Its report of a destruction
carries the stamps as made, the shift, and its clock's reading when it destroyed the segment.

- The office's clock line (storage/time/interval.py `ClockLine`) maps a reading of the box's clock
  at the offset the clock had when it made that reading: it maps the stamp as made
  (`Readings.end_us`), never the shifted one. The line already holds the offset the step
  corrected; adding the shift after mapping would count the step twice.
- The box's own record of the age (`own_age_us`) is on its corrected clock: the destruction's
  reading less the stamp plus its shift. The shift is added, never subtracted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Readings:
    """One destruction's readings of the box's clock."""
    end_us: int          # the segment's end as the box's clock stamped it (the reading a clock line maps)
    destroyed_us: int    # the box's clock when it destroyed the segment
    shift_us: int = 0    # what the box's re-stamp adds to the stamp to reach the true interval (design/0059)

    @property
    def true_end_us(self) -> int:
        """The segment's end on the box's clock as corrected since it was stamped."""
        return self.end_us + self.shift_us

    @property
    def own_age_us(self) -> int:
        """The age at destruction by the box's own record: on its corrected clock."""
        return self.destroyed_us - self.true_end_us

    def marks(self) -> tuple[int, int]:
        """The readings a clock line must map: the end as stamped and the destruction."""
        return self.end_us, self.destroyed_us


def readings(d: Mapping[str, Any]) -> Readings:
    """The readings of one destruction as the box reports it (`reported`'s fields); raises KeyError,
    TypeError or ValueError on a destruction without them."""
    return Readings(int(d["end_us"]), int(d["destroyed_us"]), int(d.get("shift_us") or 0))


def reported(row: Mapping[str, Any]) -> dict[str, int]:
    """The fields of a destruction's report that carry its readings, from the box's record of it (the
    `destructions` row joined with its segment's `restamps.shift_us`, storage/retention/report.py
    `destructions_after`): the stamps as made, the destruction's reading, and the shift when there
    is one. A flagged segment's NULL shift is no shift: it is never destroyed by age."""
    out = {"end_us": int(row["end_us"]), "destroyed_us": int(row["destroyed_us"])}
    if row.get("shift_us"):
        out["shift_us"] = int(row["shift_us"])
    return out
