"""Compliance per site, camera and day (docs/requirements.md R1.3-R1.5, R3.1-R3.2, R5): pure functions
over plain data gathered by central/report/report.py. A day is a local calendar day of the sites.

Each camera-day gets: retention (achieved / breached / early destruction / no data),
destructions (ok, early, below minimum), accesses (compliant / not), inspection (ok, signed
late, unsigned, missing, pending) and alarms (how many, how long open).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from collections.abc import Iterable
from zoneinfo import ZoneInfo
from storage import alarm_kinds as kinds

DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Day:
    name: str      # YYYY-MM-DD
    start_us: int
    end_us: int


def month_days(month: str, tz: ZoneInfo) -> list[Day]:
    """The local days of ``YYYY-MM``; ValueError for anything else."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"{month!r} is not a month (YYYY-MM, e.g. 2026-11)") from None
    out, d = [], first
    while d.month == first.month:
        start = datetime(d.year, d.month, d.day, tzinfo=tz)
        nxt = d + timedelta(days=1)
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
        out.append(Day(d.isoformat(), int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)))
        d = nxt
    return out


def overlap_us(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def inspection_verdict(runs: list[dict[str, Any]], camera: str, day: Day, *, period_us: int, sign_within_us: int,
                       now_us: int) -> str:
    """Was ``camera`` inspected in the schedule's period ending with ``day``, and signed in time?"""
    if day.end_us > now_us:
        return "pending"
    window = max(period_us, DAY_US)
    mine = [r for r in runs if r.get("ran_us") is not None and day.end_us - window <= r["ran_us"] < day.end_us
            and (not r.get("cameras") or camera in r["cameras"])]
    if not mine:
        return "missing"
    best = "unsigned"
    for r in mine:
        if r.get("signed_us") is not None:
            if r["signed_us"] - r["ran_us"] <= sign_within_us:
                return "ok"
            best = "signed late"
        elif now_us - r["ran_us"] <= sign_within_us:
            best = "pending" if best == "unsigned" else best
    return best


@dataclass(slots=True)
class Tally:
    """A camera-day's accesses and alarms, counted one at a time as they are read (the month's CSV
    folds them from the store's cursor, design/0273; camera_day from lists)."""
    camera: str
    day: Day
    now_us: int
    accesses: int = 0
    accesses_not_compliant: int = 0
    alarms: int = 0
    alarm_open_us: int = 0
    breach_alarm: bool = False

    def access(self, a: dict[str, Any]) -> None:
        if self.camera in a["cameras"] and self.day.start_us <= a["at_us"] < self.day.end_us:
            self.accesses += 1
            self.accesses_not_compliant += not a["ok"]

    def alarm(self, a: dict[str, Any]) -> None:
        if a.get("camera") == self.camera:
            self.span(a.get("kind"), a["raised_us"], a.get("cleared_us"))

    def span(self, kind: str | None, raised_us: int, cleared_us: int | None) -> None:
        """One of the camera's alarms, by what the day needs of it."""
        start, end = self.day.start_us, self.day.end_us
        if not overlap_us(raised_us, cleared_us or self.now_us, start, end):
            return
        self.breach_alarm = self.breach_alarm or kind == kinds.MIN_RETENTION_BREACH.name
        self.alarms += 1
        self.alarm_open_us += overlap_us(raised_us, cleared_us or min(self.now_us, end), start, end)


def camera_day(*, node: str, camera: str, day: Day, known_from_us: int, now_us: int,
               destructions: list[dict[str, Any]], accesses: Iterable[dict[str, Any]] = (),
               alarms: Iterable[dict[str, Any]] = (), inspection: str, tally: Tally | None = None) -> dict[str, Any]:
    """One row of the report's table; ``destructions`` are that node, camera and day's
    destruction_days rows, ``accesses`` that camera and day's, ``alarms`` the camera's (or
    wider: both are filtered here again), or ``tally`` what they count to."""
    if tally is None:
        tally = Tally(camera, day, now_us)
        for a in accesses:
            tally.access(a)
        for a in alarms:
            tally.alarm(a)
    gone = {v: sum(d["segments"] for d in destructions if d["verdict"] == v) for v in ("ok", "early", "min_breached")}
    if day.end_us <= known_from_us or day.start_us > now_us:
        retention = "no data"
    elif gone["min_breached"] or tally.breach_alarm:
        retention = "breached"
    elif gone["early"]:
        retention = "early destruction"
    else:
        retention = "achieved"
    return {"day": day.name, "node": node, "camera": camera, "retention": retention,
            "destroyed": gone["ok"], "destroyed_early": gone["early"], "destroyed_below_min": gone["min_breached"],
            "accesses": tally.accesses, "accesses_not_compliant": tally.accesses_not_compliant,
            "inspection": inspection, "alarms": tally.alarms, "alarm_open_s": round(tally.alarm_open_us / 1e6, 1)}


def clock_disputed(retention: object) -> bool:
    """Pure: does a node's `state` retention (its word, untrusted) say its clock is in dispute
    (`cannot_be_judged`, design/0372)? Any non-empty text does: it is the weaker claim, believed
    only to withhold the node's own figure, never to change a verdict the office proves."""
    why = retention.get("cannot_be_judged") if isinstance(retention, dict) else None
    return isinstance(why, str) and bool(why.strip())


def day_ok(row: dict[str, Any]) -> bool:
    return (row["retention"] in ("achieved", "no data") and not row["accesses_not_compliant"]
            and row["inspection"] in ("ok", "pending", "no data"))


def today(tz: ZoneInfo, now_us: int) -> date:
    return datetime.fromtimestamp(now_us / 1e6, tz).date()


# an alarm as a node reported it: its severity is one edged raises (storage/alarm_kinds.py, or
# "maintenance" while a window is open, design/0043), its start not past the office's clock
SEVERITIES = (*kinds.SEVERITIES, "maintenance")
FUTURE_SLACK_US = 300_000_000   # a node's clock this far ahead of the office's is not a drift


def suspect(alarm: dict[str, Any], now_us: int) -> str | None:
    """Why an alarm cannot be taken as the node says it (issue 43 item 6), or None: a severity no
    edged raises, or a start later than the office's clock (plus a drift's slack). A key of
    SUSPECT_WHY; the page and the CSV show it, never a "None" severity."""
    if alarm.get("severity") not in SEVERITIES:
        return "unknown severity"
    raised = alarm.get("raised_us")
    if not isinstance(raised, int) or raised > now_us + FUTURE_SLACK_US:
        return "start in the future"
    return None
