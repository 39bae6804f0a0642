"""Accounts, sessions, retrieval requests and grants in the catalog (R4, R5, R7).

Blocking functions over a sqlite_utils.Database: the daemon calls them on the catalog
writer thread. Every change a person makes is written with its audit record in the same
transaction; a refusal that matters (a failed login, a grant used twice) commits its audit
record before the error is raised. The rules are edged/rules/roles.py and edged/rules/retrieval.py;
the transactions that apply them to these rows (opening an account, filing and deciding a request,
using a grant, the periodic sweep) are edged/people.py, so nothing here imports from edged/.

Passwords are hashed with scrypt (memory-hard, in Python's hashlib: no extra dependency);
session tokens are kept only as a SHA-256 hash, so a copy of the catalog logs nobody in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import sqlite_utils

from storage import audit
from storage.fsutil import write_new

# scrypt at N=2^14, r=8: 16 MiB and about 50 ms per check on the target box.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
_NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
ID_KEY_FILE = "request-id.key"
# The states a retrieval request's row can have, named only here (design/0033); the rules that
# move a request between them are edged/rules/retrieval.py.
FILED, APPROVED, REJECTED, USED, LAPSED = "filed", "approved", "rejected", "used", "lapsed"
REQUEST_STATES = (FILED, APPROVED, REJECTED, USED, LAPSED)


class AuthError(Exception):
    """A login that is refused; the message is safe to show to whoever tried."""


class AccountError(ValueError):
    """An account change that the rules refuse."""


class GrantError(ValueError):
    """A grant that cannot be used: unknown, expired, already used, or for the other mode."""


@dataclass(frozen=True)
class Policy:
    """The [accounts] settings login needs; the daemon stores them in the catalog at start."""

    session_ttl_us: int = 15 * 60_000_000
    lockout_after: int = 5
    lockout_for_us: int = 15 * 60_000_000
    min_password: int = 10


# schema -----------------------------------------------------------------------------
def create_tables(db: sqlite_utils.Database) -> None:
    """Called once by the catalog migration m005_people."""
    db.executescript(
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,        -- one account per person, never reused (R4.1)
            full_name TEXT NOT NULL DEFAULT '',
            roles TEXT NOT NULL,              -- JSON list
            cameras TEXT,                     -- JSON list; NULL: every camera (R4.2)
            pw_hash TEXT NOT NULL,            -- scrypt$N$r$p$salt$hash
            pw_changed_us INTEGER NOT NULL,
            opened_us INTEGER NOT NULL,
            opened_by TEXT NOT NULL,
            revoked_us INTEGER,               -- accounts are revoked, never deleted
            revoked_by TEXT,
            failed INTEGER NOT NULL DEFAULT 0,  -- consecutive failed logins
            locked_until_us INTEGER
        );
        CREATE TABLE account_events (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            action TEXT NOT NULL,             -- opened | password | revoked
            at_us INTEGER NOT NULL,
            by TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX account_events_account ON account_events(account, at_us);
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,      -- SHA-256 of the token; the token itself is never stored
            account TEXT NOT NULL,
            via TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            expires_us INTEGER NOT NULL,
            ended_us INTEGER
        );
        CREATE INDEX sessions_account ON sessions(account);
        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,               -- as typed
            via TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            why TEXT NOT NULL
        );
        CREATE INDEX login_failures_at ON login_failures(at_us);
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- internal | citizen | agency | police-urgent | quick-look
            state TEXT NOT NULL,              -- filed | approved | rejected | used | lapsed
            category TEXT NOT NULL,
            reason TEXT,
            cameras TEXT NOT NULL,            -- JSON list
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            mode TEXT NOT NULL,               -- view | copy
            requester_name TEXT,
            requester_org TEXT,
            requester_contact TEXT,
            requester_account TEXT,
            letter_ref TEXT,
            citizen_id_masked TEXT,           -- A******789: never the whole number
            citizen_id_hmac TEXT,             -- keyed hash (request-id.key in the data folder)
            identity_checked INTEGER NOT NULL DEFAULT 0,
            flag TEXT,                        -- major | abnormal: the ethics office is told (R5.8)
            flag_note TEXT,
            filed_by TEXT NOT NULL,
            filed_us INTEGER NOT NULL,
            due_us INTEGER,                   -- a citizen's request: answered within 6 days (R5.6)
            decided_by TEXT,
            decided_us INTEGER,
            decision_reason TEXT,
            closed_us INTEGER,                -- rejected, used or lapsed; kept 3 years from here (R5.7)
            purged_us INTEGER
        );
        CREATE INDEX requests_state ON requests(state);
        CREATE INDEX requests_hmac ON requests(citizen_id_hmac) WHERE citizen_id_hmac IS NOT NULL;
        CREATE TABLE grants (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL UNIQUE REFERENCES requests(id),
            cameras TEXT NOT NULL,            -- JSON list
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            mode TEXT NOT NULL,
            approver TEXT NOT NULL,
            requester TEXT,
            created_us INTEGER NOT NULL,
            expires_us INTEGER NOT NULL,
            used_us INTEGER,                  -- single use (R5.4)
            used_by TEXT,                     -- the custodian
            watcher TEXT                      -- who watched or received the copy
        );
        -- The register of exports (R5.5, R7.1): one row per copy made from a grant.
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY,
            grant_id INTEGER NOT NULL REFERENCES grants(id),
            out_dir TEXT NOT NULL,
            cameras TEXT NOT NULL,            -- JSON list
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            custodian TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            bytes INTEGER,
            manifest_sha256 TEXT,
            detail TEXT                       -- JSON
        );
        """
    )


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


def _dummy_hash() -> str:
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
            "locked_until_us": row["locked_until_us"], "failed": row["failed"]}


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


def _event(db: sqlite_utils.Database, name: str, action: str, by: str, reason: str, now_us: int) -> None:
    db.execute("INSERT INTO account_events (account, action, at_us, by, reason) VALUES (?, ?, ?, ?, ?)",
               [name, action, now_us, by, reason])


def insert_account(db: sqlite_utils.Database, name: str, *, full_name: str, roles: list[str],
                   cameras: list[str] | None, pw_hash: str, by: str, reason: str, now_us: int) -> None:
    """The row of a new account and its `opened` event (the caller checked everything)."""
    db.execute("INSERT INTO accounts (name, full_name, roles, cameras, pw_hash, pw_changed_us, opened_us,"
               " opened_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [name, full_name, json.dumps(roles), None if cameras is None else json.dumps(cameras), pw_hash,
                now_us, now_us, by])
    _event(db, name, "opened", by, reason, now_us)


def locked_accounts(db: sqlite_utils.Database, now_us: int) -> list[str]:
    return [r["name"] for r in db.query("SELECT name FROM accounts WHERE locked_until_us > ?", [now_us])]


def locked_until(db: sqlite_utils.Database, name: str) -> int | None:
    row = _account(db, name)
    return None if row is None else row["locked_until_us"]


def prepare_password(password: str, stored: str) -> tuple[str, str, bool]:
    """The slow part of a password change, to run off the catalog writer thread: (the stored
    hash it was checked against, the new hash, whether the new password is the old one)."""
    return stored, hash_password(password), check_password(password, stored)


def change_password(db: sqlite_utils.Database, name: str, password: str, *, by: str, reason: str, now_us: int,
                    min_password: int | None = None, prepared: tuple[str, str, bool] | None = None) -> dict[str, Any]:
    """A new password ends the account's sessions and its lockout. `prepared`: see prepare_password."""
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
        db.execute("UPDATE accounts SET pw_hash = ?, pw_changed_us = ?, failed = 0, locked_until_us = NULL"
                   " WHERE name = ?", [prepared[1], now_us, name])
        db.execute("UPDATE sessions SET ended_us = ? WHERE account = ? AND ended_us IS NULL", [now_us, name])
        _event(db, name, "password", by, reason, now_us)
        audit.append(db, by, "account.password", {"account": name, "reason": reason}, at_us=now_us)
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
        db.execute("UPDATE sessions SET ended_us = ? WHERE account = ? AND ended_us IS NULL", [now_us, name])
        _event(db, name, "revoked", by, reason, now_us)
        audit.append(db, by, "account.revoke", {"account": name, "reason": reason}, at_us=now_us)
    return account(db, name)  # type: ignore[return-value]


# sessions ---------------------------------------------------------------------------
INVALID_NAME = "(not an account name)"  # what is stored for a name that breaks the rule: never the name itself


def is_account_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


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
    row = _account(db, name) if _NAME.fullmatch(name) else None
    return _dummy_hash() if row is None else row["pw_hash"]


async def login_async(writer: Any, name: str, password: str, *, now_us: Callable[[], int], via: str,
                      policy: Policy | None = None, **kw: Any) -> dict[str, Any]:
    """`login` with the slow scrypt check on its own thread, not the catalog writer's: a burst
    of logins must never hold up the recording's catalog writes. `kw`: login's viewer options."""
    checked = await writer.run(lambda c: stored_hash(c.db, name))
    ok = await asyncio.to_thread(check_password, password, checked)
    return await writer.run(lambda c: login(c.db, name, password, now_us=now_us(), via=via, policy=policy,
                                            verified=(checked, ok), **kw))


def login(db: sqlite_utils.Database, name: str, password: str, *, now_us: int, via: str,
          policy: Policy | None = None, verified: tuple[str, bool] | None = None, client: str | None = None,
          lock_account: bool = True, record: bool = True, record_extra: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    """Check a password and open a session: {token, account, roles, cameras, expires_us}.

    Raises AuthError. Failed logins are counted; `lockout_after` in a row lock the account
    for `lockout_for` (each refusal, and the lock, is an audit record). `verified`: (the hash
    checked, whether the password matched it), when the caller already ran the check.
    The viewer (design/0021) passes the client's address, `lock_account=False` (it limits
    tries per address instead, so nobody can lock a custodian out from elsewhere) and
    `record=False` when its global cap on failure records is reached (`record_extra` carries
    the count of those left out). A name that breaks the account-name rule is never stored.
    """
    policy = policy or load_policy(db)
    name = str(name).strip()

    def failed(who: str, why: str) -> None:
        if record:
            _failed(db, who, via, why, now_us, client, record_extra)

    if not _NAME.fullmatch(name):
        if verified is None:
            check_password(password, _dummy_hash())
        with db.atomic():
            failed(INVALID_NAME, "not an account name")
        raise AuthError("wrong account name or password")
    row = _account(db, name)
    if row is None:
        if verified is None:
            check_password(password, _dummy_hash())
        with db.atomic():
            failed(name, "unknown account")
        raise AuthError("wrong account name or password")
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
        failed_count = row["failed"] + 1
        with db.atomic():
            failed(name, "wrong password")
            if lock_account and failed_count >= policy.lockout_after:
                until = now_us + policy.lockout_for_us
                db.execute("UPDATE accounts SET failed = 0, locked_until_us = ? WHERE name = ?", [until, name])
                audit.append(db, "edged", "account.locked", {"account": name, "failed": failed_count,
                                                             "until_us": until}, at_us=now_us)
            elif lock_account:
                db.execute("UPDATE accounts SET failed = ? WHERE name = ?", [failed_count, name])
        raise AuthError("wrong account name or password")
    token = secrets.token_urlsafe(32)
    expires = now_us + policy.session_ttl_us
    with db.atomic():
        if lock_account:
            db.execute("UPDATE accounts SET failed = 0, locked_until_us = NULL WHERE name = ?", [name])
        db.execute("INSERT INTO sessions (token_hash, account, via, created_us, expires_us) VALUES (?, ?, ?, ?, ?)",
                   [token_hash(token), name, via, now_us, expires])
        audit.append(db, name, "login", {"via": via, "expires_us": expires}, at_us=now_us)
    return {"token": token, "account": name, "roles": json.loads(row["roles"]),
            "cameras": None if row["cameras"] is None else json.loads(row["cameras"]), "expires_us": expires}


def session_of(db: sqlite_utils.Database, token: str | None, *, now_us: int) -> dict[str, Any] | None:
    """The live session a token opens, or None (unknown, ended, expired, account revoked)."""
    if not token:
        return None
    row = next(db.query(
        "SELECT s.account, s.via, s.created_us, s.expires_us, a.roles, a.cameras FROM sessions s"
        " JOIN accounts a ON a.name = s.account WHERE s.token_hash = ? AND s.ended_us IS NULL"
        " AND s.expires_us > ? AND a.revoked_us IS NULL", [token_hash(token), now_us]), None)
    if row is None:
        return None
    return {"account": row["account"], "roles": json.loads(row["roles"]),
            "cameras": None if row["cameras"] is None else json.loads(row["cameras"]), "via": row["via"],
            "created_us": row["created_us"], "expires_us": row["expires_us"]}


def logout(db: sqlite_utils.Database, token: str, *, now_us: int) -> bool:
    """End a session; True if it was live."""
    with db.atomic():
        row = next(db.query("SELECT account FROM sessions WHERE token_hash = ? AND ended_us IS NULL",
                            [token_hash(token)]), None)
        if row is None:
            return False
        db.execute("UPDATE sessions SET ended_us = ? WHERE token_hash = ?", [now_us, token_hash(token)])
        audit.append(db, row["account"], "logout", {}, at_us=now_us)
    return True


# requests ---------------------------------------------------------------------------
def id_key(data_dir: Path) -> bytes:
    """The node's secret for citizens' ID hashes: made once, kept in the data folder (0600)."""
    path = Path(data_dir) / ID_KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    write_new(path, key, 0o600)
    return key


_JSON_COLS = ("cameras", "chain", "steps", "approvers")


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, **{k: json.loads(r[k]) for k in _JSON_COLS if k in r and r[k] is not None}}


def peek_grant(db: sqlite_utils.Database, grant_id: int) -> dict[str, Any] | None:
    """A grant as it stands, without using it."""
    row = next(db.query("SELECT * FROM grants WHERE id = ?", [int(grant_id)]), None)
    return None if row is None else _row(row)


def request_row(db: sqlite_utils.Database, request_id: int) -> dict[str, Any] | None:
    row = next(db.query("SELECT * FROM requests WHERE id = ?", [int(request_id)]), None)
    if row is None:
        return None
    grant = next(db.query("SELECT id FROM grants WHERE request_id = ?", [row["id"]]), None)
    return {**_row(row), "grant": None if grant is None else peek_grant(db, grant["id"])}


def list_requests(db: sqlite_utils.Database, *, state: str | None = None, kind: str | None = None,
                  filed_by: str | None = None, id_hmac: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    sql, params = "SELECT id FROM requests WHERE 1 = 1", []
    for col, value in (("state", state), ("kind", kind), ("filed_by", filed_by), ("citizen_id_hmac", id_hmac)):
        if value is not None:
            sql += f" AND {col} = ?"
            params.append(value)
    rows = db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    return [request_row(db, r["id"]) for r in list(rows)]  # type: ignore[misc]


def custodian_name(custodian: str) -> str:
    """Accept "alice" and the actor form "alice (os: root)"."""
    return custodian.split(" (", 1)[0].strip()


def record_export(db: sqlite_utils.Database, grant_id: int, *, out_dir: str, custodian: str, now_us: int,
                  bytes_: int | None = None, manifest_sha256: str | None = None,
                  detail: dict[str, Any] | None = None) -> int:
    """The export register's row for a copy made under a used grant (the export code calls it)."""
    grant = peek_grant(db, grant_id)
    if grant is None or grant["used_us"] is None or grant["mode"] != "copy":
        raise GrantError(f"grant {grant_id} is not a used copy grant")
    with db.atomic():
        export_id = db["exports"].insert({
            "grant_id": grant_id, "out_dir": out_dir, "cameras": json.dumps(grant["cameras"]),
            "from_us": grant["from_us"], "to_us": grant["to_us"], "custodian": custodian_name(custodian),
            "created_us": now_us, "bytes": bytes_, "manifest_sha256": manifest_sha256,
            "detail": None if detail is None else json.dumps(detail, sort_keys=True)}).last_pk
        audit.append(db, custodian, "export.done", {"export": export_id, "grant": grant_id, "out_dir": out_dir,
                                                    "bytes": bytes_, "manifest_sha256": manifest_sha256},
                     at_us=now_us)
    return export_id


def scrub(db: sqlite_utils.Database) -> None:
    """Leave no copy of purged data in the file: freed space is zeroed (secure_delete, set when
    the catalog opens) and the WAL, which holds the old pages, is folded in and emptied."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def purged_ids(db: sqlite_utils.Database) -> list[int]:
    return [r["id"] for r in db.query("SELECT id FROM requests WHERE purged_us IS NOT NULL")]


def _encoded(row: dict[str, Any]) -> dict[str, Any]:
    """The list columns (cameras, chain, steps, approvers) as JSON text."""
    return {k: json.dumps(v) if k in _JSON_COLS and v is not None else v for k, v in row.items()}


def insert_request(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """A new request's row (cameras, chain and steps as lists); returns its id."""
    return db["requests"].insert(_encoded(row)).last_pk


def update_request(db: sqlite_utils.Database, request_id: int, changes: dict[str, Any]) -> None:
    values = _encoded(changes)
    cols = ", ".join(f"{k} = ?" for k in values)
    db.execute(f"UPDATE requests SET {cols} WHERE id = ?", [*values.values(), request_id])


def close_request(db: sqlite_utils.Database, request_id: int, state: str, closed_us: int) -> None:
    update_request(db, request_id, {"state": state, "closed_us": closed_us})


def insert_grant(db: sqlite_utils.Database, grant: dict[str, Any]) -> int:
    return db["grants"].insert(_encoded(grant)).last_pk


def mark_grant_used(db: sqlite_utils.Database, grant_id: int, *, used_us: int, used_by: str, watcher: str) -> bool:
    """False if the grant was used already (the single writer thread makes that impossible; kept
    as the guard)."""
    cur = db.execute("UPDATE grants SET used_us = ?, used_by = ?, watcher = ? WHERE id = ? AND used_us IS NULL",
                     [used_us, used_by, watcher, int(grant_id)])
    return cur.rowcount == 1


def export_row(db: sqlite_utils.Database, export_id: int) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM exports WHERE id = ?", [export_id]), None)


def undecided_since(db: sqlite_utils.Database, filed_before_us: int) -> list[dict[str, Any]]:
    """Requests still `filed` that were filed at or before the time: id, filed_us."""
    return list(db.query("SELECT id, filed_us FROM requests WHERE state = ? AND filed_us <= ?",
                         [FILED, filed_before_us]))


def unused_grants_expired(db: sqlite_utils.Database, now_us: int) -> list[dict[str, Any]]:
    """Approved requests whose grant expired unused: id, grant_id, expires_us."""
    return list(db.query("SELECT r.id, g.id AS grant_id, g.expires_us FROM requests r JOIN grants g"
                         " ON g.request_id = r.id WHERE r.state = ? AND g.used_us IS NULL"
                         " AND g.expires_us <= ?", [APPROVED, now_us]))


def closed_unpurged(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [_row(r) for r in list(db.query("SELECT * FROM requests WHERE closed_us IS NOT NULL AND purged_us IS NULL"))]


def open_requests(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Requests filed or approved, not yet used, rejected or lapsed."""
    return [_row(r) for r in list(db.query("SELECT * FROM requests WHERE state IN (?, ?)", [FILED, APPROVED]))]


def purge_request(db: sqlite_utils.Database, request_id: int, changes: dict[str, Any]) -> None:
    """Every personal field of a request (R5.7): its own (`changes`, from the rules), its grant's
    (requester, watcher) and its exports' recipient and receipt signer. The audit chain never held them."""
    update_request(db, request_id, changes)
    db.execute("UPDATE grants SET requester = NULL, watcher = NULL WHERE request_id = ?", [request_id])
    db.execute("UPDATE exports SET detail = json_set(detail, '$.recipient', NULL, '$.receipt_signed_by', NULL)"
               " WHERE detail IS NOT NULL AND grant_id IN (SELECT id FROM grants WHERE request_id = ?)", [request_id])


def purge_backup(path: Path, ids: list[int], purged: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """The live catalog's purges repeated in a catalog backup (a maintenance copy): the requests it
    purged (`ids`), whatever state the copy caught them in, the same fields, no record (the
    backup's chain stays as it was and still verifies). `purged(request)`: the rules' changes
    (edged/rules/retrieval.py). Returns how many requests."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        db = sqlite_utils.Database(conn)
        wanted = set(ids)
        due = [_row(r) for r in list(db.query("SELECT * FROM requests WHERE purged_us IS NULL"))
               if r["id"] in wanted]
        with db.atomic():
            for req in due:
                purge_request(db, req["id"], purged(req))
        if due:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
        return len(due)
    finally:
        conn.close()
