"""Accounts in the catalog (R4.1): opened, password changed and revoked, each with its event row
and audit record; the [accounts] settings login needs; passwords and tokens.

Blocking functions over a sqlite_utils.Database: the daemon calls them on the catalog writer
thread. The rules (roles, who may do what) are edged/rules/roles.py; opening an account is
edged/people.py's, so nothing here imports from edged/.

Passwords are hashed with scrypt (memory-hard, in Python's hashlib: no extra dependency);
session tokens are kept only as a SHA-256 hash, so a copy of the catalog logs nobody in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any


from storage import audit
from storage.alarm_kinds import ACCOUNT_OPENED, PASSWORD_RESET
from storage.people.signatures import SIGNED

if TYPE_CHECKING:
    import sqlite_utils

# scrypt at N=2^14, r=8: 16 MiB and about 50 ms per check on the target box.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
_NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")


class AuthError(Exception):
    """A login that is refused; the message is safe to show to whoever tried."""


class AccountError(ValueError):
    """An account change that the rules refuse."""


@dataclass(frozen=True)
class Policy:
    """The [accounts] settings login needs; the daemon stores them in the catalog at start."""

    session_ttl_us: int = 15 * 60_000_000
    lockout_after: int = 5
    lockout_for_us: int = 15 * 60_000_000
    min_password: int = 10


# passwords and tokens ---------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)

_DUMMY: list[str] = []


def dummy_hash() -> str:
    """An unknown name costs the same time as a wrong password: names are not probed."""
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_hex(16)))
    return _DUMMY[0]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_problem(name: str, password: str, min_length: int) -> str | None:
    if len(password) < min_length:
        return f"a password has at least {min_length} characters"
    if password.strip().lower() == name.lower() or name.lower() in password.lower():
        return "a password must not contain the account name"
    return None


# policy -----------------------------------------------------------------------------
def store_policy(db: sqlite_utils.Database, policy: Policy) -> None:
    db.execute("INSERT INTO node (key, value) VALUES ('accounts_policy', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [json.dumps(asdict(policy))])


def load_policy(db: sqlite_utils.Database) -> Policy:
    row = next(db.query("SELECT value FROM node WHERE key = 'accounts_policy'"), None)
    return Policy(**json.loads(row["value"])) if row and row["value"] else Policy()


# accounts ---------------------------------------------------------------------------
def _account(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM accounts WHERE name = ?", [name]), None)


def public_account(row: dict[str, Any]) -> dict[str, Any]:
    """An account as shown to people: never the password hash."""
    return {"name": row["name"], "full_name": row["full_name"], "roles": json.loads(row["roles"]),
            "cameras": None if row["cameras"] is None else json.loads(row["cameras"]),
            "opened_us": row["opened_us"], "opened_by": row["opened_by"], "pw_changed_us": row["pw_changed_us"],
            "revoked_us": row["revoked_us"], "revoked_by": row["revoked_by"],
            "locked_until_us": row["locked_until_us"], "failed": row["failed"],
            "must_change": bool(row.get("must_change")), "live": bool(row.get("live"))}


def account(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    row = _account(db, name)
    if row is None:
        return None
    events = list(db.query("SELECT action, at_us, by, reason FROM account_events WHERE account = ? ORDER BY id",
                           [name]))
    return {**public_account(row), "events": events}


def accounts(db: sqlite_utils.Database, *, include_revoked: bool = True) -> list[dict[str, Any]]:
    sql = "SELECT * FROM accounts" + ("" if include_revoked else " WHERE revoked_us IS NULL") + " ORDER BY name"
    return [public_account(r) for r in db.query(sql)]


def holders(db: sqlite_utils.Database, role: str) -> list[str]:
    """The active accounts that hold `role`."""
    return [r["name"] for r in db.query("SELECT name, roles FROM accounts WHERE revoked_us IS NULL")
            if role in json.loads(r["roles"])]


def account_row(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    """The stored row (password hash included: never show it), or None."""
    return _account(db, name)


ONE_TIME_ALARMS = (ACCOUNT_OPENED, PASSWORD_RESET)  # a reset open until the holder's change, an opening until a second admin's word (design/0064, issue 56)


def opening_open(db: sqlite_utils.Database, name: str) -> bool:
    """Whether the account's `account_opened` alarm is still open: nobody but its opener has vouched
    for it (issue 74, storage/people/vouching.py)."""
    return next(db.query("SELECT 1 AS one FROM alarms WHERE key = ? AND cleared_us IS NULL",
                         [ACCOUNT_OPENED.key(name)]), None) is not None


def vouched(db: sqlite_utils.Database, name: str, *, by: str, reason: str, now_us: int) -> None:
    """A voucher vouched for the account's opening: a `vouched` event in its history."""
    _event(db, name, "vouched", by, reason, now_us)


SETTER_DOORS_US = 24 * 3600 * 1_000_000   # the setter's own doors of this long before a first use (issue 56)
_EDGECTL = re.compile(r"edgectl \(os: (.+)\)")


def one_time_setters(db: sqlite_utils.Database, name: str, *, now_us: int | None = None,
                     within_us: int = SETTER_DOORS_US) -> list[dict[str, Any]]:
    """Where the account's password was set from while it is still one-time (the open
    `account_opened`/`password_reset` alarms' details: `set_by_os`, and for the desk
    `set_by_address`, `set_by_session`), and with `now_us` every door its setter logged in
    through in the `within_us` before (issue 56: the OS accounts of their edgectl logins, the
    addresses of their desk logins): none of them may be the first to use it (issue 45)."""
    row = _account(db, name)
    if row is None or not row.get("must_change"):
        return []
    keys = [kind.key(name) for kind in ONE_TIME_ALARMS]
    latest = next(db.query(   # the alarm of the password in force: an opening stays open after a reset (issue 56)
        "SELECT detail FROM alarms WHERE key IN (?, ?) AND cleared_us IS NULL ORDER BY updated_us DESC, id DESC"
        " LIMIT 1", keys), None)
    if latest is None:
        return []
    detail = json.loads(latest["detail"] or "{}")
    found = [{k: detail[k] for k in ("set_by_os", "set_by_address", "set_by_session") if detail.get(k)}]
    if now_us is not None and detail.get("by"):
        found += _doors_used(db, str(detail["by"]), now_us - within_us)
    return found


def _doors_used(db: sqlite_utils.Database, account: str, since_us: int) -> list[dict[str, str]]:
    """The doors `account` logged in through since `since_us`, from its `login` records. A scan of
    the audit table's login records (no index on the actor): run only at a one-time password's use."""
    doors = []
    for r in db.query("SELECT detail FROM audit WHERE action = 'login' AND actor = ? AND at_us >= ?",
                      [account, since_us]):
        detail = json.loads(r["detail"] or "{}")
        via = _EDGECTL.fullmatch(str(detail.get("via", "")))
        if via:
            doors.append({"set_by_os": via.group(1)})
        elif detail.get("address"):
            doors.append({"set_by_address": str(detail["address"])})
    return doors


def _event(db: sqlite_utils.Database, name: str, action: str, by: str, reason: str, now_us: int) -> None:
    db.execute("INSERT INTO account_events (account, action, at_us, by, reason) VALUES (?, ?, ?, ?, ?)",
               [name, action, now_us, by, reason])


def insert_account(db: sqlite_utils.Database, name: str, *, full_name: str, roles: list[str],
                   cameras: list[str] | None, pw_hash: str, by: str, reason: str, now_us: int,
                   must_change: bool = False, live: bool = False) -> None:
    """The row of a new account and its `opened` event (the caller checked everything).
    `must_change`: the password is one-time, changed at the first login (design/0042); `live`: the
    account may watch live (design/0108)."""
    db.execute("INSERT INTO accounts (name, full_name, roles, cameras, pw_hash, pw_changed_us, opened_us,"
               " opened_by, must_change, live) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [name, full_name, json.dumps(roles), None if cameras is None else json.dumps(cameras), pw_hash,
                now_us, now_us, by, int(must_change), int(live)])
    _event(db, name, "opened", by, reason, now_us)


def set_live(db: sqlite_utils.Database, name: str, live: bool, *, by: str, reason: str, now_us: int) -> bool:
    """Give or take an account's live view (design/0108), with its event row; False if unchanged."""
    row = _account(db, name)
    if row is None or bool(row.get("live")) == live:
        return False
    db.execute("UPDATE accounts SET live = ? WHERE name = ?", [int(live), name])
    _event(db, name, "live.granted" if live else "live.withdrawn", by, reason, now_us)
    return True


def locked_accounts(db: sqlite_utils.Database, now_us: int) -> list[str]:
    return [r["name"] for r in db.query("SELECT name FROM accounts WHERE locked_until_us > ?", [now_us])]


def locked_until(db: sqlite_utils.Database, name: str) -> int | None:
    row = _account(db, name)
    return None if row is None else row["locked_until_us"]


def prepare_password(password: str, stored: str, current: str | None = None) -> tuple[str, str, bool]:
    """The slow part of a password change, to run off the catalog writer thread: (the stored
    hash it was checked against, the new hash, whether the new password is the old one).
    `current`: the password already checked against `stored` (a holder's own change): the new one
    is the old one when it is that one, told without a third scrypt."""
    same = (hmac.compare_digest(password.encode(), current.encode()) if current is not None
            else check_password(password, stored))
    return stored, hash_password(password), same


def change_password(db: sqlite_utils.Database, name: str, password: str, *, by: str, reason: str, now_us: int,
                    min_password: int | None = None, prepared: tuple[str, str, bool] | None = None,
                    one_time: bool = False) -> dict[str, Any]:
    """A new password ends the account's sessions and its lockout. `prepared`: see prepare_password.
    `one_time`: set by someone else (an admin's reset): the holder changes it at the next login."""
    row = _account(db, name)
    if row is None:
        raise AccountError(f"no account {name}")
    if prepared is None:
        prepared = prepare_password(password, row["pw_hash"])
    elif prepared[0] != row["pw_hash"]:
        raise AccountError("the password was changed meanwhile; try again")
    if row["revoked_us"] is not None:
        raise AccountError(f"account {name} was revoked; open a new account")
    problem = password_problem(name, password, min_password or load_policy(db).min_password)
    if problem:
        raise AccountError(problem)
    if prepared[2]:
        raise AccountError("the new password is the old one")
    reason = reason.strip() or "changed by the account holder"
    with db.atomic():
        db.execute("UPDATE accounts SET pw_hash = ?, pw_changed_us = ?, failed = 0, locked_until_us = NULL,"
                   " must_change = ? WHERE name = ?", [prepared[1], now_us, int(one_time), name])
        db.execute("UPDATE sessions SET ended_us = ?, end_reason = 'password' WHERE account = ? AND ended_us IS NULL",
                   [now_us, name])
        _event(db, name, "password", by, reason, now_us)
        audit.append(db, by, "account.password", {"account": name, "reason": reason, "one_time": one_time},
                     at_us=now_us)
    return account(db, name)  # type: ignore[return-value]


def revoke_account(db: sqlite_utils.Database, name: str, *, by: str, reason: str, now_us: int) -> dict[str, Any]:
    """Revoked on transfer or departure (R4.1): the row stays, its sessions end."""
    row = _account(db, name)
    if row is None:
        raise AccountError(f"no account {name}")
    if row["revoked_us"] is not None:
        raise AccountError(f"account {name} is already revoked")
    if not reason.strip():
        raise AccountError("revoking an account needs a reason (--reason)")
    with db.atomic():
        db.execute("UPDATE accounts SET revoked_us = ?, revoked_by = ? WHERE name = ?", [now_us, by, name])
        db.execute("UPDATE sessions SET ended_us = ?, end_reason = 'revoked' WHERE account = ? AND ended_us IS NULL",
                   [now_us, name])
        _event(db, name, "revoked", by, reason, now_us)
        audit.append(db, by, "account.revoke", {"account": name, "reason": reason}, at_us=now_us)
    return account(db, name)  # type: ignore[return-value]


def sign_application(db: sqlite_utils.Database, name: str, action: str, box: str, *, by: str,
                     now_us: int, detail: dict[str, Any] | None = None, actor: str | None = None) -> dict[str, Any]:
    """Record one sign-off (the caller checked the box and who may sign), with its audit record;
    `actor`: who acted on the audit chain where it is not the signer (a signature on paper
    recorded by the account administrator, design/0260), `detail` added to its record."""
    with db.atomic():
        _event(db, name, SIGNED + action, by, box, now_us)
        audit.append(db, actor or by, "account.sign", {"account": name, "action": action, "box": box, **(detail or {})},
                     at_us=now_us)
    return account(db, name)  # type: ignore[return-value]


def is_account_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))

