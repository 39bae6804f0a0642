"""The [retention] table of the config: minimum and maximum retention, the disk reserve, what
happens when the disk is full, holds and the grace period (docs/requirements.md "Retention
rules", R1.3-R1.6, R6.2). Bounds outside production use need `allow_short_for_tests`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

from storage.declare import check_keys, duration, key, read
from edged.config.values import (
    _PERCENT,
    DAY,
    HOUR,
    SECOND,
    ConfigError,
    _bool,
    _describe,
    _join,
    _parse_size,
    _show,
    format_duration,
    parse_duration,
)
from edged.config.months import MONTH_US, months_back_us, months_in

OnFull = Literal["overwrite", "stop"]
ON_FULL_CHOICES: tuple[OnFull, ...] = ("overwrite", "stop")


def _on_full(on_full: Any, field: str) -> OnFull:
    if not isinstance(on_full, str):
        raise ConfigError(field, f'expected "overwrite" or "stop", found {_describe(on_full)}')
    if on_full not in ON_FULL_CHOICES:
        raise ConfigError(field, f'{_show(on_full)} is not a choice; use "overwrite" (keep recording, destroy the '
                                 'oldest footage) or "stop" (stop recording)')
    return on_full


def _share(value: Any, field: str) -> float:
    """A share of the disk for intakes ("10%"): above 0 % and below 50 % (half the disk is the cameras')."""
    m = _PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(field, f'expected a share of the disk such as "10%", found {_describe(value)}')
    percent = Fraction(m.group(1))
    if not 0 < percent < 50:
        raise ConfigError(field, f"{_show(value)} is out of range; intakes may hold above 0% and below 50% of the disk")
    return float(percent)


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """Site-wide retention rules (docs/requirements.md "Retention rules", R1.3-R1.6, R6.2).

    The disk reserve is either a fixed size (``reserve_bytes``) or a share of the
    filesystem (``reserve_percent``); exactly one is set. Use :meth:`reserve_for`.
    """

    min_retention_us: int = key(30 * DAY, toml="min_retention", example='"30d"',
                                doc="keep footage at least this long (alarm if the disk cannot)")
    max_retention_us: int = key(365 * DAY, toml="max_retention", example='"365d"',
                                doc="destroy footage older than this, unless held; both also in calendar months, "
                                    'as a rule writes them: "1mo", "3mo", "12mo" (one calendar month back from now on '
                                    "the site's calendar, the day clamped: 31 March less a month is 28/29 February); "
                                    "reports and comparisons count a month as 31 days")
    reserve_bytes: int | None = key(None, toml="reserve", example='"5%"',
                                    doc='free space to keep: a share of the disk or a size ("10GB", "64GiB")')
    reserve_percent: float | None = 5.0
    on_full: OnFull = key("overwrite", read=_on_full,
                          doc='when min_retention cannot be met: "overwrite" oldest or "stop" recording')
    interval_us: int = duration(60 * SECOND, SECOND, HOUR, doc="how often a retention pass runs (1s to 1h)")
    evidence_hold_us: int = key(30 * DAY, toml="evidence_hold", example='"30d"',
                                doc="default expiry of an evidence hold (and the longest an MQTT hold may ask)")
    grace_us: int = key(24 * HOUR, toml="grace", example='"24h"',
                        doc="footage a lowered max or a released hold makes due waits this long (1h to 30d)")
    intake_share_percent: float = key(10.0, toml="intake_share", example='"10%"', read=_share,
                                      show=lambda v: f"{v:g}%",
                                      doc="the share of the data disk portable cameras' files taken in may hold, "
                                          "originals and their segments together; an intake past it is refused "
                                          "(above 0% and below 50%)")
    allow_short_for_tests: bool = key(False, read=_bool, commented=True, example="true",
                                      doc="test set-ups only: max_retention below 1 day, grace below 1 hour")
    # written in calendar months ("3mo"): the _us values above are then 31 days a month, and a
    # retention pass works with `resolved(now, tz)`, the months on the site's calendar
    min_retention_months: int | None = None
    max_retention_months: int | None = None

    def __post_init__(self) -> None:
        if (self.reserve_bytes is None) == (self.reserve_percent is None):
            raise ValueError("set exactly one of reserve_bytes and reserve_percent")

    def resolved(self, now_us: int, tz: Any) -> RetentionConfig:
        """The lengths as they are at `now_us` on the site's calendar (zone `tz`; None: the
        host's): "1mo" is the time since the same moment one calendar month ago."""
        if self.min_retention_months is None and self.max_retention_months is None:
            return self
        low, high = self.min_retention_us, self.max_retention_us
        if self.min_retention_months is not None:
            low = months_back_us(now_us, self.min_retention_months, tz)
        if self.max_retention_months is not None:
            high = max(low, months_back_us(now_us, self.max_retention_months, tz))
        return replace(self, min_retention_us=low, max_retention_us=high)

    def intake_room(self, total_bytes: int) -> int:
        """Bytes intakes may hold on a filesystem of ``total_bytes`` (design/0384)."""
        return math.floor(total_bytes * Fraction(repr(self.intake_share_percent)) / 100)

    def reserve_for(self, total_bytes: int) -> int:
        """Bytes to keep free on a filesystem of ``total_bytes`` (a percentage rounds up)."""
        if total_bytes < 0:
            raise ValueError(f"total_bytes must not be negative, got {total_bytes}")
        if self.reserve_bytes is not None:
            return self.reserve_bytes
        assert self.reserve_percent is not None
        # repr() gives back the decimal the person wrote ("0.1"), so the sum is exact.
        share = Fraction(repr(self.reserve_percent)) / 100
        return math.ceil(total_bytes * share)


# Retention settings outside these bounds are almost surely typos: "6m" is six minutes,
# not six months.
_RETENTION_LOW = SECOND  # tests run retention in seconds
_RETENTION_HIGH = 3650 * DAY
_RETENTION_HINTS = {
    "min_days": 'did you mean "min_retention"? (a duration, e.g. "30d")',
    "max_days": 'did you mean "max_retention"? (a duration, e.g. "365d")',
}


def _retention(t: dict[str, Any]) -> RetentionConfig:
    check_keys(RetentionConfig, t, "retention", _RETENTION_HINTS)
    short = _bool(t.get("allow_short_for_tests", False), "retention.allow_short_for_tests")
    # Durations are never zero, so "or" only picks the default for a missing key.
    low = _retention_duration(t, "min_retention", "retention", months=True) or 30 * DAY
    high = _retention_duration(t, "max_retention", "retention", months=True) or 365 * DAY
    _check_floor(high, "retention.max_retention", short)
    if high < low:
        if "max_retention" in t:
            raise ConfigError(
                "retention.max_retention",
                f"{format_duration(high)} is shorter than min_retention "
                f"({format_duration(low)}{'' if 'min_retention' in t else ', the default'}); "
                "max_retention must be at least min_retention",
            )
        raise ConfigError(
            "retention.min_retention",
            f"{format_duration(low)} is longer than max_retention "
            f"({format_duration(high)}, the default); raise max_retention too",
        )
    reserve_bytes, reserve_percent = _reserve(t.get("reserve", "5%"), "retention.reserve")
    return read(RetentionConfig, t, "retention", _RETENTION_HINTS,
                min_retention_us=low, max_retention_us=high, reserve_bytes=reserve_bytes,
                reserve_percent=reserve_percent,
                evidence_hold_us=_retention_duration(t, "evidence_hold", "retention") or 30 * DAY,
                grace_us=_grace(t, short),
                min_retention_months=months_in(t.get("min_retention")),
                max_retention_months=months_in(t.get("max_retention")))


# A production box never destroys footage younger than a day by its max_retention, and gives
# the central office at least an hour to react to a cut (design/0022); tests lower both with
# [retention] allow_short_for_tests = true.
MAX_RETENTION_FLOOR = DAY
GRACE_FLOOR = HOUR


def _check_floor(us: int | None, field: str, short: bool) -> None:
    if us is not None and us < MAX_RETENTION_FLOOR and not short:
        raise ConfigError(field, f"{format_duration(us)} is below the floor of {format_duration(MAX_RETENTION_FLOOR)} "
                                 "(footage must not be destroyed that young by mistake: \"6m\" is six minutes); "
                                 "only a test setup may go lower, with retention.allow_short_for_tests = true")


def _grace(t: dict[str, Any], short: bool) -> int:
    if "grace" not in t:
        return 24 * HOUR
    us = parse_duration(t["grace"], "retention.grace")
    low = SECOND if short else GRACE_FLOOR
    if not low <= us <= 30 * DAY:
        raise ConfigError("retention.grace", f"{format_duration(us)} is out of range (allowed {format_duration(low)} "
                                             f"to 30d{'' if short else '; lower only with allow_short_for_tests'})")
    return us


def _retention_duration(t: dict[str, Any], key: str, path: str, months: bool = False) -> int | None:
    """A retention-length duration (1s to 3650d), or None when the key is absent. `months`: calendar
    months ("3mo") are taken too, 31 days each here (RetentionConfig.resolved applies them)."""
    if key not in t:
        return None
    field = _join(path, key)
    n = months_in(t[key]) if months else None
    us = n * MONTH_US if n is not None else parse_duration(t[key], field)
    if not _RETENTION_LOW <= us <= _RETENTION_HIGH:
        hint = ""
        raise ConfigError(
            field,
            f"{format_duration(us)} is out of range (allowed {format_duration(_RETENTION_LOW)} "
            f"to {format_duration(_RETENTION_HIGH)}){hint}",
        )
    return us


def _reserve(value: Any, field: str) -> tuple[int | None, float | None]:
    example = 'e.g. "10GB", "500MB", or a share of the disk such as "5%"'
    if isinstance(value, str):
        m = _PERCENT.fullmatch(value.strip())
        if m is not None:
            percent = Fraction(m.group(1))
            if not 0 < percent < 100:
                raise ConfigError(
                    field, f"{_show(value)} is out of range; a percentage must be above 0% and below 100%"
                )
            return None, float(percent)
        if value.strip().startswith("-") and value.strip().endswith("%"):
            raise ConfigError(field, f"{_show(value)} is negative; a percentage must be above 0%")
    return _parse_size(value, field, example), None
