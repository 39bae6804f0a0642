"""The one duration grammar (issue 41): what edged's config, edged-central's config and edgectl's
options accept as a length of time, and how a length is shown back.

A duration is a number with a unit, several parts from the largest unit to the smallest, each
once: "500ms", "60s", "5m", "1h30m", "1.5s", "7d" (units: us, ms, s, m, h, d). It is greater than
zero and a whole number of microseconds. A bare number ("60") is refused: it could mean seconds
or milliseconds, and a wrong guess silently changes how much footage a crash can lose, or how
long a node may be silent before the office is told.

A leaf: no import from this repository, so storage/, edged/ and central/ share it. Errors are
`DurationError` (a ValueError) whose text says what is wrong and how to write it; each config
reader puts the path of its field in front.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Callable

US = 1
MS = 1_000
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
UNITS = {"us": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h|d)")
EXAMPLES = '"60s", "500ms", "5m", "1h30m"'


class DurationError(ValueError):
    """What is wrong with a duration, in words for the person who wrote it."""


def _show(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' if len(text) <= 60 else f'"{text[:57]}..."'


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"{'integer' if isinstance(value, int) else 'float'} {value}"
    return type(value).__name__


def parse(text: object, show: Callable[[str], str] = _show, describe: Callable[[object], str] = _kind) -> int:
    """"60s", "500ms", "1h30m", "1.5s" -> microseconds (DurationError for anything else). `show`
    quotes the text in an error and `describe` names a value that is not text (edged's config
    passes its own, which redact a URL's password)."""
    if not isinstance(text, str):
        raise DurationError(f"expected a duration string with a unit, found {describe(text)}; "
                            'write it quoted with a unit, e.g. "60s"')
    s = text.strip()
    if not s:
        raise DurationError('is empty; write a duration such as "60s" or "500ms"')
    if s.startswith("-"):
        raise DurationError(f"{show(text)} is negative; durations must be greater than zero")
    total, pos, last = Fraction(0), 0, None
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            raise DurationError(f"{show(text)} is not a duration; write a number with a unit, "
                                f"e.g. {EXAMPLES} (units: us, ms, s, m, h, d)")
        size = UNITS[m.group(2)]
        if last is not None and size >= last:
            raise DurationError(f'{show(text)}: write units from largest to smallest, each once (e.g. "1h30m")')
        last = size
        total += Fraction(m.group(1)) * size
        pos = m.end()
    if total == 0:
        raise DurationError(f"{show(text)} is zero; durations must be greater than zero")
    if total.denominator != 1:
        raise DurationError(f"{show(text)} is finer than a microsecond")
    return int(total)


def format(us: int) -> str:  # noqa: A001 - duration.format, as duration.parse
    """Microseconds the way a person writes them in a config ("1h30m", "1.5s"); parse() reads it back."""
    if us < 0:
        return "-" + format(-us)
    if us == 0:
        return "0s"
    parts = []
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        n, us = divmod(us, size)
        if n:
            parts.append(f"{n}{unit}")
    if us >= SECOND:
        whole, frac = divmod(us, SECOND)
        parts.append(f"{whole}.{frac:06d}".rstrip("0").rstrip(".") + "s")
    elif us >= MS:
        whole, frac = divmod(us, MS)
        parts.append(f"{whole}.{frac:03d}".rstrip("0").rstrip(".") + "ms")
    elif us:
        parts.append(f"{us}us")
    return "".join(parts)
