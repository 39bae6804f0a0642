"""The [accounts] table of the config: sessions, lockout, grants and requests (R4, R5), each
key declared once (storage/declare.py, design/0099)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.declare import duration, key, read, whole
from edged.config.values import DAY, HOUR, MINUTE, SECOND, _bool, _in_days


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """How long a login lasts, when failed logins lock an account, how long a grant lives."""

    session_ttl_us: int = duration(15 * MINUTE, 10 * SECOND, 12 * HOUR, toml="session_ttl",
                                   doc="a login lasts this long (short-lived: log in again after it)")
    lockout_after: int = key(5, read=whole(1, 100), doc="wrong passwords in a row that lock the account (edgectl's "
                             "logins: only for the OS account they came from) ...")
    lockout_for_us: int = duration(15 * MINUTE, SECOND, 7 * DAY, toml="lockout_for", doc="... for this long")
    min_password: int = key(10, read=whole(8, 256), doc="a password's least length, in characters")
    grant_ttl_us: int = duration(3 * DAY, MINUTE, 90 * DAY, toml="grant_ttl",
                                 doc="an approved request's single-use grant expires unused after this")
    citizen_due_us: int = duration(6 * DAY, HOUR, 6 * DAY, toml="citizen_due",
                                   doc="R5.6: a citizen's request is answered within this; in days (\"6d\"): "
                                       "counted on the site's calendar")
    citizen_due_days: bool = True          # citizen_due written in days: counted on the site's calendar
    keep_requests_years: int = key(3, read=whole(3, 30), doc="R5.7: then a request's personal data is purged")
    sweep_interval_us: int = duration(60 * SECOND, SECOND, HOUR, toml="sweep_interval",
                                      doc="how often overdue requests, lapsed grants and purges are looked for")
    request_lapse_us: int = duration(90 * DAY, DAY, 365 * DAY, toml="request_lapse",
                                     doc="a request left undecided this long lapses (closes, R5.7)")
    keep_backups: int = key(3, read=whole(1, 100), doc="catalog backups kept (maintenance); older ones go")
    one_time_passwords: bool = key(True, read=_bool, doc="a password an admin sets is changed at its first login "
                                                         "(design/0042)")
    signed_to_log_in: bool = key(False, read=_bool, doc=(
        "true: an account opened here logs in (desk and edgectl) only once every box of its application "
        "([forms.account], 001 附件2) is signed (design/0113)"))


_HINTS = {
    "session_timeout": 'did you mean "session_ttl"? (a duration, e.g. "15m")',
    "max_failures": 'did you mean "lockout_after"? (failed logins before the account locks)',
    "lockout": 'did you mean "lockout_for"? (a duration, e.g. "15m")',
}


def _accounts(t: dict[str, Any]) -> AccountsConfig:
    return read(AccountsConfig, t, "accounts", _HINTS,
                citizen_due_days=_in_days(t, "citizen_due") if "citizen_due" in t else True)
