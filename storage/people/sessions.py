"""Logging in and sessions (R4.1): failed logins counted toward a lockout, each refusal and each
login an audit record; a session token is stored only as its SHA-256 hash.

Blocking functions over a sqlite_utils.Database, run on the catalog writer thread, except
`login_async`, which runs the slow password check on a thread of its own.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

import sqlite_utils

if TYPE_CHECKING:
    from storage.catalog import CatalogWriter

from storage import audit
from storage.people import vouching
from storage.people.accounts import (AuthError, Policy, account, account_row, check_password, dummy_hash, is_account_name,
                              load_policy, opening_open, token_hash)

# why a session ended (sessions.end_reason; end_of): the desk says it in words (design/0113)
LOGGED_OUT, IDLE, PASSWORD, LOCKED, REVOKED, EXPIRED, UNKNOWN = (
    "logout", "idle", "password", "locked", "revoked", "expired", "unknown")
ENDS = (LOGGED_OUT, IDLE, PASSWORD, LOCKED, REVOKED, EXPIRED, UNKNOWN)
INVALID_NAME = "(not an account name)"
WRONG = "wrong account name or password"   # the refusal that counts toward a lockout


class NotSigned(AuthError):
    """The password was right, but the account's application still waits for sign-offs
    (`[accounts] signed_to_log_in`, design/0113): `pending` names the boxes."""

    def __init__(self, name: str, pending: list[str]):
        super().__init__(f"account {name} waits for the sign-offs of its application: {', '.join(pending)}")
        self.name, self.pending = name, pending  # what is stored for a name that breaks the rule: never the name itself


class NotVouched(AuthError):
    """The password was right, but the account is an approver's that nobody but the admin who opened
    it has vouched for (issue 74, storage/people/vouching.py)."""

    def __init__(self, name: str):
        super().__init__(f"account {name} waits until someone other than the admin who opened it vouches for it")
        self.name = name


def _failed(db: sqlite_utils.Database, name: str, via: str, why: str, now_us: int, client: str | None = None,
            extra: dict[str, Any] | None = None) -> None:
    detail: dict[str, Any] = {"via": via, "why": why}
    if client is not None:
        detail["client"] = client
    detail.update(extra or {})
    db.execute("INSERT INTO login_failures (name, via, at_us, why, client) VALUES (?, ?, ?, ?, ?)",
               [name, via, now_us, why, client])
    audit.append(db, name, "login.failed", detail, at_us=now_us)


def stored_hash(db: sqlite_utils.Database, name: str) -> str:
    """The hash to check a login against (a dummy one for an unknown name)."""
    name = str(name).strip()
    row = account_row(db, name) if is_account_name(name) else None
    return dummy_hash() if row is None else row["pw_hash"]


async def login_async(writer: CatalogWriter, name: str, password: str, *, now_us: Callable[[], int], via: str,
                      policy: Policy | None = None, run_slow: Callable[..., Awaitable[Any]] | None = None,
                      **kw: Any) -> dict[str, Any]:
    """`login` with the slow scrypt check on its own thread, not the catalog writer's: a burst
    of logins must never hold up the recording's catalog writes. `run_slow(fn, *args)` runs the
    check (edged passes its bounded login pool, design/0062); `kw`: login's viewer options."""
    checked = await writer.run(lambda c: stored_hash(c.db, name))
    ok = await (run_slow or asyncio.to_thread)(check_password, password, checked)
    return await writer.run(lambda c: login(c.db, name, password, now_us=now_us(), via=via, policy=policy,
                                            verified=(checked, ok), **kw))


# Over 60 lines on purpose: a login's refusals checked one after the other, in the order a
# person meets them, each with its record.
def login(db: sqlite_utils.Database, name: str, password: str, *, now_us: int, via: str,
          policy: Policy | None = None, verified: tuple[str, bool] | None = None, client: str | None = None,
          lock_account: bool = True, record: bool = True, record_extra: dict[str, Any] | None = None,
          allow_one_time: bool = True, count_failures: bool = True,
          unsigned: Callable[[dict[str, Any]], list[str]] | None = None) -> dict[str, Any]:
    """Check a password and open a session: {token, account, roles, cameras, expires_us, must_change}.

    Raises AuthError. Failed logins are counted; `lockout_after` in a row lock the account
    for `lockout_for` (each refusal, and the lock, is an audit record). `verified`: (the hash
    checked, whether the password matched it), when the caller already ran the check.
    The viewer (design/0021) passes the client's address, `lock_account=False` (it limits
    tries per address instead, so nobody can lock a custodian out from elsewhere) and
    `record=False` when its global cap on failure records is reached (`record_extra` carries
    the count of those left out). `count_failures=False`: a lock in place still refuses, but a
    wrong password does not count toward the stored one (edgectl locks per OS account, issue 56). A name that breaks the account-name rule is never stored.
    A one-time password (an admin set it, design/0042) opens a session that may only change it
    (`must_change`); where that cannot be done (the viewer: `allow_one_time=False`) it is refused.
    `unsigned(account)`: the boxes of its application still unsigned, which refuse the login
    (NotSigned) once the password is known right (edged's rule: edged.people.unsigned_boxes).
    """
    policy = policy or load_policy(db)
    name = str(name).strip()

    def failed(who: str, why: str) -> None:
        if record:
            _failed(db, who, via, why, now_us, client, record_extra)

    if not is_account_name(name):
        if verified is None:
            check_password(password, dummy_hash())
        with db.atomic():
            failed(INVALID_NAME, "not an account name")
        raise AuthError(WRONG)
    row = account_row(db, name)
    if row is None:
        if verified is None:
            check_password(password, dummy_hash())
        with db.atomic():
            failed(name, "unknown account")
        raise AuthError(WRONG)
    if row["revoked_us"] is not None:
        with db.atomic():
            failed(name, "revoked account")
        raise AuthError(f"account {name} was revoked; ask an admin")
    if lock_account and row["locked_until_us"] is not None and row["locked_until_us"] > now_us:
        with db.atomic():
            failed(name, "locked")
        raise AuthError(f"account {name} is locked after repeated failed logins; try again in "
                        f"{-(-(row['locked_until_us'] - now_us) // 60_000_000)} min, or ask an admin to set a "
                        "new password")
    if not (check_password(password, row["pw_hash"]) if verified is None
            else verified[1] and verified[0] == row["pw_hash"]):
        with db.atomic():
            failed(name, "wrong password")
            if lock_account and count_failures:
                count_failure(db, row, now_us=now_us, policy=policy)
        raise AuthError(WRONG)
    pending = unsigned(account(db, name) or {}) if unsigned is not None else []
    if pending:
        with db.atomic():
            failed(name, "application not signed")
        raise NotSigned(name, pending)
    if vouching.held_for_voucher(json.loads(row["roles"]), (account(db, name) or {}).get("events", []),
                                 opening_open(db, name)):   # issue 74: no one admin makes an approver's user
        with db.atomic():
            failed(name, "opening not vouched for")
        raise NotVouched(name)
    if row["must_change"] and not allow_one_time:
        with db.atomic():
            failed(name, "one-time password not changed")
        raise AuthError(f"the password of {name} was set by an admin and is one-time: change it first with "
                        "`edgectl login` and `edgectl account passwd`")
    token = secrets.token_urlsafe(32)
    expires = now_us + policy.session_ttl_us
    with db.atomic():
        if lock_account:
            db.execute("UPDATE accounts SET failed = 0, locked_until_us = NULL WHERE name = ?", [name])
        db.execute("INSERT INTO sessions (token_hash, account, via, created_us, expires_us) VALUES (?, ?, ?, ?, ?)",
                   [token_hash(token), name, via, now_us, expires])
        audit.append(db, name, "login", {"via": via, "expires_us": expires}, at_us=now_us)
    return {"token": token, "account": name, "roles": json.loads(row["roles"]),
            "cameras": None if row["cameras"] is None else json.loads(row["cameras"]), "expires_us": expires,
            "must_change": bool(row["must_change"]),
            "live": bool(row["live"])}


def count_failure(db: sqlite_utils.Database, row: dict[str, Any], *, now_us: int, policy: Policy,
                  end_sessions: bool = False) -> int | None:
    """One more wrong password in a row for the account (`row`, as stored): `lockout_after` in a row
    lock it for `lockout_for` (an audit record; with `end_sessions` its sessions end too, for a
    wrong current password typed in a session). Returns the lock's end, or None."""
    name, failed_count = row["name"], row["failed"] + 1
    if failed_count < policy.lockout_after:
        db.execute("UPDATE accounts SET failed = ? WHERE name = ?", [failed_count, name])
        return None
    until = now_us + policy.lockout_for_us
    db.execute("UPDATE accounts SET failed = 0, locked_until_us = ? WHERE name = ?", [until, name])
    if end_sessions:
        db.execute("UPDATE sessions SET ended_us = ?, end_reason = ? WHERE account = ? AND ended_us IS NULL",
                   [now_us, LOCKED, name])
    audit.append(db, "edged", "account.locked", {"account": name, "failed": failed_count, "until_us": until},
                 at_us=now_us)
    return until


def wrong_current_password(db: sqlite_utils.Database, name: str, *, via: str, now_us: int,
                           policy: Policy | None = None) -> int | None:
    """A wrong current password in `account passwd` counts toward the lockout like a failed login
    (recorded; the lock also ends the account's sessions). Returns the lock's end, or None."""
    row = account_row(db, name)
    if row is None:
        return None
    with db.atomic():
        _failed(db, name, via, "wrong current password", now_us)
        return count_failure(db, row, now_us=now_us, policy=policy or load_policy(db), end_sessions=True)


def session_of(db: sqlite_utils.Database, token: str | None, *, now_us: int) -> dict[str, Any] | None:
    """The live session a token opens, or None (unknown, ended, expired, account revoked)."""
    if not token:
        return None
    row = next(db.query(
        "SELECT s.account, s.via, s.created_us, s.expires_us, a.roles, a.cameras, a.must_change, a.live"
        " FROM sessions s"
        " JOIN accounts a ON a.name = s.account WHERE s.token_hash = ? AND s.ended_us IS NULL"
        " AND s.expires_us > ? AND a.revoked_us IS NULL", [token_hash(token), now_us]), None)
    if row is None:
        return None
    return {"account": row["account"], "roles": json.loads(row["roles"]),
            "cameras": None if row["cameras"] is None else json.loads(row["cameras"]), "via": row["via"],
            "created_us": row["created_us"], "expires_us": row["expires_us"], "must_change": bool(row["must_change"]),
            "live": bool(row["live"])}


def logout(db: sqlite_utils.Database, token: str, *, now_us: int, why: str = LOGGED_OUT) -> bool:
    """End a session (`why`: LOGGED_OUT, or IDLE when the viewer ends it); True if it was live."""
    with db.atomic():
        row = next(db.query("SELECT account FROM sessions WHERE token_hash = ? AND ended_us IS NULL",
                            [token_hash(token)]), None)
        if row is None:
            return False
        db.execute("UPDATE sessions SET ended_us = ?, end_reason = ? WHERE token_hash = ?",
                   [now_us, why, token_hash(token)])
        audit.append(db, row["account"], "logout", {} if why == LOGGED_OUT else {"why": why}, at_us=now_us)
    return True


def end_of(db: sqlite_utils.Database, token: str, *, now_us: int) -> str | None:
    """Why the session a token opened is over (design/0113): one of ENDS, UNKNOWN for a token this
    box never issued (or another box's), None while it is live."""
    row = next(db.query(
        "SELECT s.ended_us, s.end_reason, s.expires_us, a.revoked_us FROM sessions s"
        " JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?", [token_hash(token)]), None)
    if row is None:
        return UNKNOWN
    if row["revoked_us"] is not None:
        return REVOKED
    if row["ended_us"] is not None:
        return row["end_reason"] or LOGGED_OUT
    return EXPIRED if row["expires_us"] <= now_us else None



def last_logins(db: sqlite_utils.Database, roles: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """Each of `roles` held by an open account -> the last successful login of any account holding
    it ({account, at_us}), None where none of them ever logged in; a role no open account holds is
    left out. From the audit chain's `login` records (the inspection register's 權限登入)."""
    holders = {r["name"]: set(json.loads(r["roles"]))
               for r in db.query("SELECT name, roles FROM accounts WHERE revoked_us IS NULL")}
    latest = {r["actor"]: r["at_us"] for r in db.query(
        "SELECT actor, max(at_us) AS at_us FROM audit WHERE action = 'login' GROUP BY actor")}
    out: dict[str, dict[str, Any] | None] = {}
    for role in roles:
        names = [n for n, held in holders.items() if role in held]
        if not names:
            continue
        logged = [(latest[n], n) for n in names if n in latest]
        out[role] = None if not logged else {"account": max(logged)[1], "at_us": max(logged)[0]}
    return out
