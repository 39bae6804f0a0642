"""Due dates, pure (issue 17 item 6): the month's inspection register by a day of the next month
(R3.2), the periodic audit every N months (R7.2); month ends, leap years, the site's time zone."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from edged.config import load_config
from edged.rules import deadlines as dl
from tests.support.configs import MINIMAL, error_for, write

TAIPEI = ZoneInfo("Asia/Taipei")      # UTC+8, no daylight saving
BERLIN = ZoneInfo("Europe/Berlin")    # daylight saving from the last Sunday of March


def us(y, m, d, h=0, mi=0, tz=TAIPEI) -> int:
    return int(datetime(y, m, d, h, mi, tzinfo=tz).timestamp()) * 1_000_000


@pytest.mark.parametrize("month, day, want", [
    ((2026, 10), 5, (2026, 11, 6)),     # by the 5th: late from the 6th, 00:00
    ((2026, 12), 5, (2027, 1, 6)),      # December's register is due in the next year
    ((2027, 1), 31, (2027, 3, 1)),      # "by the 31st" of February 2027: its last day, the 28th
    ((2028, 1), 31, (2028, 3, 1)),      # 2028 is a leap year: the 29th
    ((2028, 1), 30, (2028, 3, 1)),
    ((2026, 3), 31, (2026, 5, 1)),      # April has 30 days
    ((2026, 5), 1, (2026, 6, 2)),
])
def test_register_due_is_the_end_of_the_due_day_of_the_next_month(month, day, want):
    assert dl.register_due_us(month, day, TAIPEI) == us(*want)


def test_a_run_belongs_to_the_month_of_the_site_calendar():
    # 23:30 on 31 October in Taipei is 15:30 UTC, still October; 00:30 on 1 November in Taipei
    # is 16:30 UTC on 31 October, already November for the site.
    late_oct, early_nov = us(2026, 10, 31, 23, 30), us(2026, 11, 1, 0, 30)
    assert dl.month_of(late_oct, TAIPEI) == (2026, 10)
    assert dl.month_of(early_nov, TAIPEI) == (2026, 11)
    assert dl.month_of(early_nov, timezone.utc) == (2026, 10)


def test_late_registers_by_month_and_only_once_due():
    runs = [(1, us(2026, 9, 30, 10)), (2, us(2026, 10, 1, 10)), (3, us(2026, 10, 31, 23, 30)),
            (4, us(2026, 11, 1, 0, 30))]
    assert dl.late_registers(runs, us(2026, 11, 5, 23, 59), 5, TAIPEI) == [
        dl.LateRegister((2026, 9), us(2026, 10, 6), (1,))]
    late = dl.late_registers(runs, us(2026, 11, 6), 5, TAIPEI)       # the 6th, 00:00: October is late
    assert [(r.label, r.runs) for r in late] == [("2026-09", (1,)), ("2026-10", (2, 3))]
    assert late[1].due_us == us(2026, 11, 6)
    assert dl.late_registers(runs, us(2027, 1, 1), 0, TAIPEI) == []  # not tracked
    assert dl.late_registers([], us(2027, 1, 1), 5, TAIPEI) == []


def test_the_due_day_follows_daylight_saving():
    # 6 April 2026, 00:00 in Berlin is summer time (UTC+2): 22:00 UTC on the 5th.
    due = dl.register_due_us((2026, 3), 5, BERLIN)
    assert due == int(datetime(2026, 4, 5, 22, 0, tzinfo=timezone.utc).timestamp()) * 1_000_000


@pytest.mark.parametrize("last, months, want", [
    (date(2026, 1, 15), 6, date(2026, 7, 16)),
    (date(2026, 8, 31), 6, date(2027, 3, 1)),     # 31 August + 6 months: 28 February, late from 1 March
    (date(2027, 8, 31), 6, date(2028, 3, 1)),     # leap year: 29 February, late from 1 March
    (date(2027, 8, 30), 6, date(2028, 3, 1)),
    (date(2026, 12, 31), 1, date(2027, 2, 1)),    # 31 January
    (date(2026, 11, 30), 3, date(2027, 3, 1)),    # 28 February 2027
])
def test_audit_due_after_calendar_months(last, months, want):
    since = us(last.year, last.month, last.day, 15)
    assert dl.audit_due_us(since, months, TAIPEI) == us(want.year, want.month, want.day)


def test_audit_not_tracked_and_add_months():
    assert dl.audit_due_us(us(2026, 1, 1), 0, TAIPEI) is None
    assert dl.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert dl.add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)


def test_config_keys(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "[inspection]\nregister_due_day = 10\n[audit]\nevery_months = 3\n"))
    assert cfg.inspection.register_due_day == 10 and cfg.audit.every_months == 3
    default = load_config(write(tmp_path, MINIMAL))
    assert default.inspection.register_due_day == 5 and default.audit.every_months == 6
    assert error_for(tmp_path, MINIMAL + "[inspection]\nregister_due_day = 32\n").field == "inspection.register_due_day"
    assert error_for(tmp_path, MINIMAL + '[audit]\nevery_months = "6"\n').field == "audit.every_months"
    assert error_for(tmp_path, MINIMAL + "[audit]\nevery = 6\n").field == "audit.every"


def test_maintenance_keys(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + '[maintenance]\nbackup_dir = "copies"\nrequire_attendance = false\n'))
    assert cfg.maintenance.backup_dir == tmp_path / "copies" and not cfg.maintenance.require_attendance
    default = load_config(write(tmp_path, MINIMAL))
    assert default.maintenance.backup_dir is None and default.maintenance.require_attendance
    assert error_for(tmp_path, MINIMAL + "[maintenance]\nbackup_dir = 3\n").field == "maintenance.backup_dir"
    err = error_for(tmp_path, MINIMAL + "[maintenance]\nkeep_backups = 3\n")
    assert err.field == "maintenance.keep_backups" and "[accounts] keep_backups" in err.message
