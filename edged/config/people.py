"""The [accounts] table of the config: sessions, lockout, grants and requests (R4, R5)."""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from edged.config.values import (DAY, HOUR, MINUTE, SECOND, ConfigError, _bool, _check_keys, _describe, _duration,
                                 _in_days)


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """How long a login lasts, when failed logins lock an account, how long a grant lives."""

    session_ttl_us: int = 15 * MINUTE      # a session token is short-lived: log in again after this
    lockout_after: int = 5                 # consecutive failed logins that lock the account
    lockout_for_us: int = 15 * MINUTE      # how long a locked account stays locked
    min_password: int = 10                 # characters
    grant_ttl_us: int = 3 * DAY            # an approved request's grant expires unused after this
    citizen_due_us: int = 6 * DAY          # R5.6: a citizen's request is answered within 6 days
    citizen_due_days: bool = True          # written in days: counted on the site's calendar
    keep_requests_years: int = 3           # R5.7: then the request's personal data is purged
    sweep_interval_us: int = 60 * SECOND   # overdue checks, lapsed grants, purges
    request_lapse_us: int = 90 * DAY       # a request left undecided this long lapses (closes, R5.7)
    keep_backups: int = 3                  # catalog backups kept (maintenance); older ones go
    one_time_passwords: bool = True        # a password an admin sets is changed at its first login (design/0042)


_KEYS = ("session_ttl", "lockout_after", "lockout_for", "min_password", "grant_ttl", "citizen_due",
         "keep_requests_years", "sweep_interval", "request_lapse", "keep_backups", "one_time_passwords")
_HINTS = {
    "session_timeout": 'did you mean "session_ttl"? (a duration, e.g. "15m")',
    "max_failures": 'did you mean "lockout_after"? (failed logins before the account locks)',
    "lockout": 'did you mean "lockout_for"? (a duration, e.g. "15m")',
}


def _int(t: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = t.get(key, default)
    field = f"accounts.{key}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(field, f"expected an integer, found {_describe(value)}")
    if not low <= value <= high:
        raise ConfigError(field, f"{value} is out of range ({low} to {high})")
    return value


def _accounts(t: dict[str, Any]) -> AccountsConfig:
    _check_keys(t, "accounts", _KEYS, _HINTS)
    return AccountsConfig(
        session_ttl_us=_duration(t, "session_ttl", "accounts", 15 * MINUTE, 10 * SECOND, 12 * HOUR),
        lockout_after=_int(t, "lockout_after", 5, 1, 100),
        lockout_for_us=_duration(t, "lockout_for", "accounts", 15 * MINUTE, SECOND, 7 * DAY),
        min_password=_int(t, "min_password", 10, 8, 256),
        grant_ttl_us=_duration(t, "grant_ttl", "accounts", 3 * DAY, MINUTE, 90 * DAY),
        citizen_due_us=_duration(t, "citizen_due", "accounts", 6 * DAY, HOUR, 6 * DAY),
        citizen_due_days=_in_days(t, "citizen_due") if "citizen_due" in t else True,
        keep_requests_years=_int(t, "keep_requests_years", 3, 3, 30),
        sweep_interval_us=_duration(t, "sweep_interval", "accounts", 60 * SECOND, SECOND, HOUR),
        request_lapse_us=_duration(t, "request_lapse", "accounts", 90 * DAY, DAY, 365 * DAY),
        keep_backups=_int(t, "keep_backups", 3, 1, 100),
        one_time_passwords=_bool(t["one_time_passwords"], "accounts.one_time_passwords")
        if "one_time_passwords" in t else True,
    )
