"""The dashboard's accounts, roles and sessions (issue 28): pure, no I/O and no clock of its own.

Accounts are in the central config (`[dashboard.accounts.NAME]` with `role` and
`password_hash`), hashed with scrypt (hashlib; `edged-central hash-password` makes one).
Roles: `auditor` (the central office's auditor: everything, findings included) and
`technician` (nodes, cameras and alarms; not the findings, which may name people).
Sessions are random tokens held in memory (a restart logs everyone out), sent as an
HttpOnly, Secure, SameSite=Strict cookie, expiring after `SESSION_US` of idleness.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ROLES = ("auditor", "technician")
SESSION_US = 8 * 3600 * 1_000_000
FAIL_WINDOW_US = 300 * 1_000_000
MAX_FAILS = 10            # failed logins from one address in FAIL_WINDOW_US before it must wait
_N, _R, _P = 2**14, 8, 1  # scrypt cost: about 50 ms and 16 MiB per check


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def valid_hash(text: str) -> bool:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(p.isdigit() for p in parts[1:4]):
        return False
    try:
        return len(base64.b64decode(parts[4], validate=True)) >= 8 and len(base64.b64decode(parts[5], validate=True)) >= 16
    except ValueError:
        return False


def check_password(password: str, stored: str) -> bool:
    """Blocking (scrypt): call from a thread."""
    if not valid_hash(stored):
        return False
    _s, n, r, p, salt, digest = stored.split("$")
    want = base64.b64decode(digest)
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                         maxmem=256 * 1024 * 1024, dklen=len(want))
    return hmac.compare_digest(got, want)


@dataclass(slots=True)
class Session:
    user: str
    role: str
    seen_us: int


class Sessions:
    def __init__(self) -> None:
        self.by_token: dict[str, Session] = {}
        self.fails: dict[str, list[int]] = {}

    def open(self, user: str, role: str, now_us: int) -> str:
        token = secrets.token_urlsafe(32)
        self.by_token[token] = Session(user, role, now_us)
        return token

    def get(self, token: str | None, now_us: int) -> Session | None:
        s = self.by_token.get(token or "")
        if s is None:
            return None
        if now_us - s.seen_us > SESSION_US:
            del self.by_token[token or ""]
            return None
        s.seen_us = now_us
        return s

    def close(self, token: str | None) -> None:
        self.by_token.pop(token or "", None)

    def may_try(self, address: str, now_us: int) -> bool:
        recent = [t for t in self.fails.get(address, []) if now_us - t < FAIL_WINDOW_US]
        self.fails[address] = recent
        return len(recent) < MAX_FAILS

    def failed(self, address: str, now_us: int) -> None:
        self.fails.setdefault(address, []).append(now_us)
