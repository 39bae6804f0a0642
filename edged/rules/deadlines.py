"""Deadlines that are tracked, as plain functions: when a month's inspection register is due
(R3.2: "by the 5th of the next month"), which registers are late, and when the periodic audit
is due (R7.2: at least every six months). Dates are the site's calendar (the time zone given),
so a run at 23:30 on the 31st belongs to that month wherever UTC puts it.

A month's register is done when every inspection run of that month is signed by its inspector
and countersigned by the supervisor (the register has gone to the supervisor). A due date is
the end of the due day: the register due by the 5th is late from 00:00 on the 6th.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Iterable
from zoneinfo import ZoneInfo

from storage.time import rocdate

Month = tuple[int, int]  # (year, month)


def _us(d: datetime) -> int:
    return int(d.timestamp()) * 1_000_000 + d.microsecond


def local_tz(at_us: int, name: str | None = None) -> tzinfo:
    """The site's time zone: `[site] timezone` where set (`name`, an IANA name the config has
    checked), which governs every schedule, window and due date; else the host's at `at_us`, as
    people there read dates (design/0014)."""
    if name:
        return ZoneInfo(name)
    tz = datetime.fromtimestamp(at_us / 1e6).astimezone().tzinfo
    assert tz is not None
    return tz


def local_date(at_us: int, tz: tzinfo) -> date:
    return datetime.fromtimestamp(at_us / 1e6, tz).date()


def month_of(at_us: int, tz: tzinfo) -> Month:
    d = local_date(at_us, tz)
    return d.year, d.month


def next_month(m: Month) -> Month:
    return (m[0] + 1, 1) if m[1] == 12 else (m[0], m[1] + 1)


def start_of_day_us(d: date, tz: tzinfo) -> int:
    """The first instant of the local day `d` (a zoneinfo zone: its offset on that day)."""
    return _us(datetime.combine(d, time(0), tz))


def month_start_us(m: Month, tz: tzinfo) -> int:
    return start_of_day_us(date(m[0], m[1], 1), tz)


def typed_month(text: str, now_us: int, tz: tzinfo) -> tuple[Month, int, int] | None:
    """A month as a person types it, 115/11, 民國115年11月 or 2026-11, or "" for the month `now_us` is in, with its
    bounds in µs in the site's zone `tz` (the register's month, on the desk and in edgectl alike); None for
    anything else."""
    m = month_of(now_us, tz) if not text.strip() else rocdate.parse_month(text)
    return None if m is None else (m, month_start_us(m, tz), month_start_us(next_month(m), tz))


def add_months(d: date, n: int) -> date:
    """`d` moved `n` calendar months on; a day the target month lacks is its last (Aug 31 + 6 = Feb 28/29)."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def register_due_us(m: Month, due_day: int, tz: tzinfo) -> int:
    """The instant month `m`'s register is late: the end of day `due_day` of the next month (its
    last day if the month is shorter, so 31 means "by the month's end")."""
    y, n = next_month(m)
    day = date(y, n, min(due_day, calendar.monthrange(y, n)[1]))
    return start_of_day_us(day + timedelta(days=1), tz)


@dataclass(frozen=True, slots=True)
class LateRegister:
    month: Month
    due_us: int
    runs: tuple[int, ...]   # the month's runs not yet signed and countersigned

    @property
    def label(self) -> str:
        return f"{self.month[0]:04d}-{self.month[1]:02d}"


def late_registers(open_runs: Iterable[tuple[int, int]], now_us: int, due_day: int, tz: tzinfo) -> list[LateRegister]:
    """The registers late at `now_us`, oldest month first. `open_runs`: (run id, ran_us) of every
    run not yet countersigned. `due_day` 0: registers are not tracked."""
    if not due_day:
        return []
    months: dict[Month, list[int]] = {}
    for run_id, ran_us in open_runs:
        months.setdefault(month_of(ran_us, tz), []).append(run_id)
    late = [LateRegister(m, due, tuple(sorted(ids))) for m, ids in months.items()
            if now_us >= (due := register_due_us(m, due_day, tz))]
    return sorted(late, key=lambda r: r.month)


def audit_due_us(since_us: int, every_months: int, tz: tzinfo) -> int | None:
    """When the next audit is due: `every_months` calendar months after the last one (or after
    the installation, before the first), at the end of that day. None: not tracked."""
    if not every_months:
        return None
    return start_of_day_us(add_months(local_date(since_us, tz), every_months) + timedelta(days=1), tz)


DAY_US = 86_400_000_000


def answer_due_us(filed_us: int, due_us: int, tz: tzinfo | None) -> int:
    """When a request's answer is due (R5.6, design/0089): a due time the site wrote in days
    counts days on its calendar (`tz`), through the end of the last one (filed on the 1st,
    "within 6 days" is late from 00:00 on the 8th); one written in hours ("24h", the config
    passes no zone) is exactly filed + due."""
    if tz is None or due_us % DAY_US:
        return filed_us + due_us
    return start_of_day_us(local_date(filed_us, tz) + timedelta(days=due_us // DAY_US + 1), tz)

