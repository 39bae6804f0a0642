"""Dates in the Republic of China (民國) calendar, as Taiwan's forms write them: pure functions
shared by edged (edged/i18n.py, design/0047) and edged-central (central/i18n.py, design/0028),
which imports nothing from edged/. The ROC year is the Gregorian year minus 1911."""

from __future__ import annotations

from datetime import date


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
