"""Dates in the Republic of China (民國) calendar, as Taiwan's forms write them: pure functions
shared by edged (edged/i18n.py, design/0047) and edged-central (central/i18n.py, design/0028),
which imports nothing from edged/. The ROC year is the Gregorian year minus 1911."""

from __future__ import annotations

import re
from datetime import date, datetime


def roc_year(year: int) -> str:
    """The Republic of China year: 2026 -> "115"; 1911 and before -> "前1" (民國前1年)."""
    return str(year - 1911) if year > 1911 else f"前{1912 - year}"


def roc_date(d: date) -> str:
    """民國115年11月22日: a date in the ROC calendar as the forms write it in running text."""
    return f"民國{roc_year(d.year)}年{d.month}月{d.day}日"


def roc_date_short(d: date) -> str:
    """115/11/22: a date in the ROC calendar as the forms write it in tables."""
    return f"{roc_year(d.year)}/{d.month:02d}/{d.day:02d}"


def roc_month(year: int, month: int) -> str:
    """民國115年11月: a month (a register's, a report's)."""
    return f"民國{roc_year(year)}年{month}月"


# what a person types at the desk (issue 42 item 4, design/0113) ------------------------------
# The desk's date fields take the site's calendar and the Gregorian one alike: a year of one to
# three digits is the ROC year (115/11/24), one of four the Gregorian (2026-11-24). What the desk
# shows back is written by the same calendar's `*_text` below, so what was typed is what is shown.
ROC, GREGORIAN = "roc", "gregorian"
_DATE = re.compile(r"(?:民國)?\s*(\d{1,4})\s*(?:[/\-.]|年)\s*(\d{1,2})\s*(?:[/\-.]|月)\s*(\d{1,2})\s*日?")
_MONTH = re.compile(r"(?:民國)?\s*(\d{1,4})\s*(?:[/\-.]|年)\s*(\d{1,2})\s*月?")
_TIME = re.compile(r"(\d{1,2})[:：](\d{2})")


def _year(text: str) -> int:
    """A typed year: four digits are Gregorian, fewer the ROC's (民國1年 is 1912)."""
    return int(text) if len(text) == 4 else int(text) + 1911


def parse_date(text: str) -> date | None:
    """115/11/24, 民國115年11月24日, 115-11-24, 2026-11-24 or 2026/11/24 -> the date; None if it
    is none of them (or no such day)."""
    m = _DATE.fullmatch(text.strip())
    if m is None:
        return None
    try:
        return date(_year(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """A date as parse_date reads it and a time to the minute (115/11/24 14:30, 2026-11-24T14:30
    as a browser's datetime-local sends it); None without a time or with a wrong one."""
    m = re.fullmatch(r"(.+?)(?:\s+|T)(\d{1,2}[:：]\d{2})", text.strip())
    if m is None:
        return None
    day, hm = parse_date(m[1]), _TIME.fullmatch(m[2])
    if day is None or hm is None or int(hm[1]) > 23 or int(hm[2]) > 59:
        return None
    return datetime(day.year, day.month, day.day, int(hm[1]), int(hm[2]))


def parse_month(text: str) -> tuple[int, int] | None:
    """115/11, 民國115年11月 or 2026-11 -> (2026, 11); None if it is none of them."""
    m = _MONTH.fullmatch(text.strip())
    if m is None or not 1 <= int(m[2]) <= 12 or _year(m[1]) < 1912:
        return None
    return _year(m[1]), int(m[2])


def date_text(d: date, calendar: str) -> str:
    """What a date field shows: 115/11/24 (the ROC calendar, as the forms' tables write it) or 2026-11-24."""
    return roc_date_short(d) if calendar == ROC else d.isoformat()


def datetime_text(t: datetime, calendar: str) -> str:
    """115/11/24 14:30 or 2026-11-24 14:30."""
    return f"{date_text(t.date(), calendar)} {t.hour:02d}:{t.minute:02d}"


def month_text(year: int, month: int, calendar: str) -> str:
    """115/11 or 2026-11."""
    return f"{roc_year(year)}/{month:02d}" if calendar == ROC else f"{year}-{month:02d}"
