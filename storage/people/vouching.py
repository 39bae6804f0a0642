"""Who may vouch for an account an admin opened (issue 74, design/0322): pure rules over an
account's events, no I/O.

An admin who opens an account chose its first password; the `account_opened` alarm stays until
someone else vouches for its holder (design/0186). If any other admin could vouch, one admin could
open a second admin and let it vouch for everything the first opened (admins vouching for each
other); and an approver's account, which signs applications and approves requests, was usable as
soon as the admin had made it. So:

- A voucher is root on the box (no account: the act of the person who holds the box, as
  `init-admin` is), or an account whose own opening is vouched for: the first admin (`init-admin`,
  root's act) or one with a `vouched` event since its opening (an account opened before issue 74
  whose `account_opened` alarm a second admin cleared counts as vouched). Never the account's
  holder, nor the admin who set its password. While the holder has not yet chosen their own
  password the alarm stays open, vouched or not: its detail names the doors the one-time password
  may not be used from first (design/0064); the holder's own change then clears it.
- An approver's account logs in only once its opening is vouched for (`held_for_voucher`), so no
  one admin brings an approver's first user into being.

An admin's own accounts are never vouched until someone outside them vouches; a chain of vouching
always ends at root or the first admin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

VOUCHED = "vouched"              # an account event: a voucher vouched for its opening (reason: why)
INIT_ADMIN = " (init-admin)"     # the first admin's opening, root's act on the box (edged/people.py)
HELD_ROLES = frozenset({"approver"})   # roles whose account waits for a voucher before it logs in


def _by_account(by: str) -> str:
    return by.split(" (", 1)[0]


def opening(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The account's last `opened` event (a name is never reused: its only one)."""
    return next((e for e in reversed(events) if e.get("action") == "opened"), None)


def is_vouched(events: Sequence[Mapping[str, Any]], opening_open: bool) -> bool:
    """Opened by root's `init-admin`, or a `vouched` event since its opening, or (an account opened
    before issue 74) its `account_opened` alarm (`opening_open`) cleared."""
    opened = opening(events)
    if opened is None:
        return False
    if str(opened.get("by", "")).endswith(INIT_ADMIN) or not opening_open:
        return True
    return any(e.get("action") == VOUCHED and int(e.get("at_us", 0)) >= int(opened.get("at_us", 0)) for e in events)


def held_for_voucher(roles: Iterable[str], events: Sequence[Mapping[str, Any]], opening_open: bool) -> bool:
    """An approver's account whose opening nobody has vouched for yet: its login is refused."""
    return bool(HELD_ROLES.intersection(roles)) and not is_vouched(events, opening_open)


HOLDER, SETTER, UNVOUCHED = "holder", "setter", "unvouched"   # why a voucher is refused (the caller words it)


def voucher_refusal(holder: str, setters: Iterable[str], voucher: str | None, *, root: bool,
                    voucher_events: Sequence[Mapping[str, Any]] = (), voucher_open: bool = False) -> str | None:
    """Why `voucher` (an account; None with `root`: root on the box without one) may not vouch
    for `holder`, whose password `setters` set: HOLDER, SETTER or UNVOUCHED (its own account not
    vouched for yet: `voucher_open`, its own `account_opened` alarm still open); None: it may."""
    if root and voucher is None:
        return None
    if voucher is None or voucher == holder:
        return HOLDER
    if voucher in {_by_account(s) for s in setters}:
        return SETTER
    if not is_vouched(voucher_events, voucher_open):
        return UNVOUCHED
    return None
