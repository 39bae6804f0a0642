"""Deadlines that are tracked (docs/requirements.md R3.2, R7.2): the month's inspection register
is due to the supervisor by a day of the next month, and the periodic audit every few months.
Late, each raises a warning alarm (`register_overdue`, `audit_overdue`) that clears once the
registers are countersigned or an audit is recorded (`edgectl audit report --done`).

The dates are edged.rules.deadlines'; this part reads the catalog, raises and clears, and
keeps what it found for status. The inspection runner calls `check` on its loop, and at once
after a countersignature; the audit report after an audit is recorded.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Callable

from edged.alarms import Alarms
from edged.config import Config
from edged.i18n import Msg, A_
from edged.rules import deadlines
from storage import audit_report
from storage.health import inspections as inspection_table
from storage.alarm_kinds import AUDIT_OVERDUE, REGISTER_OVERDUE
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock


def _day(us: int, tz: tzinfo) -> str:
    return deadlines.local_date(us - 1, tz).isoformat()  # the due day itself (the deadline is its end)


class DeadlineWatch:
    def __init__(self, cfg_of: Callable[[], Config], writer: CatalogWriter, alarms: Alarms | None,
                 clock: Clock = SYSTEM, tz: tzinfo | None = None):
        self.cfg_of = cfg_of        # the config in force (replaced on SIGHUP)
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.tz = tz                # None: the host's, looked up at each check
        self.state: dict[str, Any] = {}

    async def check(self, now: int | None = None) -> dict[str, Any]:
        now = self.clock.now_us() if now is None else now
        cfg = self.cfg_of()
        tz = self.tz or deadlines.local_tz(self.clock.now_us(), cfg.site.timezone)
        open_runs, last, first = await self.writer.run(lambda c: (
            inspection_table.not_countersigned(c.db), audit_report.last_done(c.db), audit_report.first_record_us(c.db)))
        late = deadlines.late_registers(open_runs, now, cfg.inspection.register_due_day, tz)
        this_month = deadlines.month_of(now, tz)
        since = last["at_us"] if last else (first or now)
        audit_due = deadlines.audit_due_us(since, cfg.audit.every_months, tz)
        self.state = {
            "register_due_day": cfg.inspection.register_due_day,
            "register_due_us": deadlines.register_due_us(this_month, cfg.inspection.register_due_day, tz)
            if cfg.inspection.register_due_day else None,
            "registers_late": [{"month": r.label, "due_us": r.due_us, "runs": list(r.runs)} for r in late],
            "audit_every_months": cfg.audit.every_months, "audit_due_us": audit_due,
            "last_audit": None if last is None else {"at_us": last["at_us"], "by": last["detail"].get("name"),
                                                     "account": last["actor"]},
        }
        if self.alarms is not None:
            await self._alarm_registers(late, tz)
            await self._alarm_audit(audit_due, now, last, tz)
        return self.state

    async def _alarm_registers(self, late: list[deadlines.LateRegister], tz: tzinfo) -> None:
        assert self.alarms is not None
        await self.alarms.set(
            bool(late), REGISTER_OVERDUE,
            Msg(A_("the inspection register of {months} was due by {day}: runs {runs} wait for their signature and "
                   "countersignature (the inspections page)"), months=", ".join(r.label for r in late),
                day=_day(late[0].due_us, tz), runs=", ".join(str(n) for r in late for n in r.runs)) if late else "",
            {"months": [{"month": r.label, "due_us": r.due_us, "runs": list(r.runs)} for r in late]} if late else None)

    async def _alarm_audit(self, due: int | None, now: int, last: dict[str, Any] | None, tz: tzinfo) -> None:
        assert self.alarms is not None
        overdue = due is not None and now >= due
        await self.alarms.set(
            overdue, AUDIT_OVERDUE,
            (Msg(A_("the periodic audit was due by {day} (the last was on {last} by {name}): the auditor records it "
                    "as done on the audit log page"), day=_day(due, tz),
                 last=deadlines.local_date(last["at_us"], tz).isoformat(), name=last["detail"].get("name") or last["actor"])
             if last else Msg(A_("the periodic audit was due by {day} (none is on record since installation): the "
                                 "auditor records it as done on the audit log page"), day=_day(due, tz)))
            if overdue and due is not None else "",
            {"due_us": due, "last_us": last["at_us"] if last else None} if overdue else None)
