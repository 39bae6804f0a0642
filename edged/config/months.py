"""Calendar months in durations ("1mo", "3mo"), where a site's rule writes a length in months
(000 §3(1): 1個月; 001 §12: 3個月): not a fixed number of days, computed on the site's calendar at
the time it applies (`months_back_us`). Where a fixed length is needed (a report, a forecast, a
comparison), a month counts as its longest, 31 days (MONTH_US). Pure: no clock of its own."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, tzinfo

_MONTHS = re.compile(r"([0-9]{1,3})mo")
MONTH_US = 31 * 86_400_000_000


def months_in(text: object) -> int | None:
    """The number of calendar months in "3mo", or None for any other value."""
    m = _MONTHS.fullmatch(text.strip()) if isinstance(text, str) else None
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def months_back_us(now_us: int, months: int, tz: tzinfo | None) -> int:
    """How long ago the same wall-clock time was `months` calendar months before `now_us`, in
    the zone `tz` (None: the host's): the day is clamped to the month's last (31 March less one
    month is 28 or 29 February)."""
    t = datetime.fromtimestamp(now_us / 1e6, tz) if tz else datetime.fromtimestamp(now_us / 1e6).astimezone()
    index = t.year * 12 + (t.month - 1) - months
    year, month = divmod(index, 12)
    day = min(t.day, calendar.monthrange(year, month + 1)[1])
    then = t.replace(year=year, month=month + 1, day=day, tzinfo=None)
    then = then.replace(tzinfo=tz) if tz else then.astimezone()
    return now_us - round(then.timestamp() * 1_000_000)
