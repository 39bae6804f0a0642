"""The [accounts] table of the config: sessions, lockout, grants and requests (R4, R5), its keys
declared once (edged/config/declare.py, design/0099)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from edged.config import declare
from edged.config.declare import key
from edged.config.values import (DAY, HOUR, MINUTE, SECOND, ConfigError, _bool, _describe, _in_days, format_duration,
                                 parse_duration)


def _within(low: int, high: int) -> Callable[[Any, str], int]:
    """A duration between `low` and `high`."""
    def read(value: Any, field: str) -> int:
        us = parse_duration(value, field)
        if not low <= us <= high:
            raise ConfigError(field, f"{format_duration(us)} is out of range "
                                     f"(allowed {format_duration(low)} to {format_duration(high)})")
        return us
    return read


def _count(low: int, high: int) -> Callable[[Any, str], int]:
    """An integer between `low` and `high`."""
    def read(value: Any, field: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(field, f"expected an integer, found {_describe(value)}")
        if not low <= value <= high:
            raise ConfigError(field, f"{value} is out of range ({low} to {high})")
        return value
    return read


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """How long a login lasts, when failed logins lock an account, how long a grant lives."""

    session_ttl_us: int = key(15 * MINUTE, read=_within(10 * SECOND, 12 * HOUR), toml="session_ttl",
                              example='"15m"', doc="a login lasts this long (10s to 12h)")
    lockout_after: int = key(5, read=_count(1, 100), doc="failed logins in a row that lock the account")
    lockout_for_us: int = key(15 * MINUTE, read=_within(SECOND, 7 * DAY), toml="lockout_for", example='"15m"',
                              doc="... for this long")
    min_password: int = key(10, read=_count(8, 256), doc="the shortest password, in characters")
    grant_ttl_us: int = key(3 * DAY, read=_within(MINUTE, 90 * DAY), toml="grant_ttl", example='"3d"',
                            doc="an approved request's single-use grant expires unused after this")
    citizen_due_us: int = key(6 * DAY, read=_within(HOUR, 6 * DAY), toml="citizen_due", example='"6d"',
                              doc="a citizen's request is answered within this (at most 6d, R5.6); in days: "
                                  "through the end of the last day on the site's calendar")
    citizen_due_days: bool = True          # written in days: counted on the site's calendar (from citizen_due)
    keep_requests_years: int = key(3, read=_count(3, 30),
                                   doc="then a closed request's personal data is purged (R5.7)")
    sweep_interval_us: int = key(60 * SECOND, read=_within(SECOND, HOUR), toml="sweep_interval", example='"60s"',
                                 doc="how often due dates, expired grants and purges are checked")
    request_lapse_us: int = key(90 * DAY, read=_within(DAY, 365 * DAY), toml="request_lapse", example='"90d"',
                                doc="a request never decided lapses (closes) after this")
    keep_backups: int = key(3, read=_count(1, 100), doc="catalog backups kept (maintenance begin makes one)")
    one_time_passwords: bool = key(True, read=_bool,
                                   doc="a password an admin sets is changed at its first login (design/0042)")
    signed_to_log_in: bool = key(False, read=_bool, doc=(
        "true: an account opened here logs in (desk and edgectl) only once every box of its application "
        "([forms.account], 001 附件2) is signed (design/0113)"))


_HINTS = {
    "session_timeout": 'did you mean "session_ttl"? (a duration, e.g. "15m")',
    "max_failures": 'did you mean "lockout_after"? (failed logins before the account locks)',
    "lockout": 'did you mean "lockout_for"? (a duration, e.g. "15m")',
}


def _accounts(t: dict[str, Any]) -> AccountsConfig:
    days = _in_days(t, "citizen_due") if "citizen_due" in t else True
    read: AccountsConfig = declare.read(AccountsConfig, t, "accounts", _HINTS)
    return replace(read, citizen_due_days=days)
