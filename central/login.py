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
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from storage.people.doors import AccountDoor, FairShare

ROLES = ("auditor", "technician")
SESSION_US = 8 * 3600 * 1_000_000
ABSOLUTE_US = 12 * 3600 * 1_000_000   # a session ends this long after its login, however busy (issue 45)
FAIL_WINDOW_US = 300 * 1_000_000
MAX_FAILS = 10            # failed logins from one address in FAIL_WINDOW_US before it must wait
MAX_IN_FLIGHT = 4         # password checks under way at once, every address together ...
SHARE = 1                 # ... of which one per address, with one more waiting its turn (issue 56)
PER_HOUR = 60             # wrong passwords checked an hour for one account but from its known paths (issue 74) ...
FAILURES_AN_HOUR = 20     # ... and the number of them that is logged as an error, refused or not
MARK_COOKIE = "edged_central_known"   # a browser's mark: the owner's known path (design/0320)
_N, _R, _P = 2**14, 8, 1  # scrypt cost: about 50 ms and 16 MiB per check


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@functools.cache
def dummy_hash() -> str:
    """The hash an unknown account's password is checked against (the same work as a known one's),
    made once: never a scrypt on the event loop per try (issue 56)."""
    return hash_password("x", b"0" * 16)


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


def device_of(mark: str) -> str:
    """The digest of a browser's mark, as the door keeps it (never the mark itself)."""
    return hashlib.sha256(mark.encode()).hexdigest()


@dataclass(slots=True)
class Session:
    user: str
    role: str
    seen_us: int
    opened_us: int = 0


class Sessions:
    """Sessions and the login throttle. A try takes its place before the password is checked
    (`begin`), counted as a failure until it turns out right (`succeeded`), so 200 tries at once
    from one address are 10 checks, not 187 (issue 45). The desk's buckets besides (issue 56,
    design/0185): `door`, one account's failures from every address together, and `slots`, at
    most MAX_IN_FLIGHT checks at once with a share per address, the rest waiting their turn."""

    def __init__(self) -> None:
        self.by_token: dict[str, Session] = {}
        self.fails: dict[str, list[int]] = {}
        self.door = AccountDoor(per_hour=PER_HOUR)
        self.slots: FairShare[Any] = FairShare(cap=MAX_IN_FLIGHT, share=SHARE)
        self.known: dict[str, int] = {}   # address -> its last right login: served first (issue 56)

    def open(self, user: str, role: str, now_us: int) -> str:
        self.sweep(now_us)
        token = secrets.token_urlsafe(32)
        self.by_token[token] = Session(user, role, now_us, now_us)
        return token

    def get(self, token: str | None, now_us: int) -> Session | None:
        s = self.by_token.get(token or "")
        if s is None:
            return None
        if now_us - s.seen_us > SESSION_US or now_us - s.opened_us > ABSOLUTE_US:
            del self.by_token[token or ""]
            return None
        s.seen_us = now_us
        return s

    def close(self, token: str | None) -> None:
        self.by_token.pop(token or "", None)

    def sweep(self, now_us: int) -> None:
        """Forget the sessions that ended and the addresses with no failure left in the window."""
        for token in [t for t, s in self.by_token.items()
                      if now_us - s.seen_us > SESSION_US or now_us - s.opened_us > ABSOLUTE_US]:
            del self.by_token[token]
        for address in [a for a, ts in self.fails.items() if not ts or now_us - ts[-1] >= FAIL_WINDOW_US]:
            del self.fails[address]

    def may_try(self, address: str, now_us: int) -> bool:
        recent = [t for t in self.fails.get(address, []) if now_us - t < FAIL_WINDOW_US]
        self.fails[address] = recent
        return len(recent) < MAX_FAILS

    def begin(self, address: str, now_us: int) -> bool:
        """Take a place for one try: False when the address has used its tries. A place taken
        counts as a failure until `succeeded`."""
        if len(self.fails) > 10_000:
            self.sweep(now_us)
        if not self.may_try(address, now_us):
            return False
        self.fails.setdefault(address, []).append(now_us)
        return True

    def succeeded(self, address: str, began_us: int) -> None:
        """The try begun at `began_us` was right: it is not a failure."""
        ts = self.fails.get(address, [])
        if began_us in ts:
            ts.remove(began_us)
        if len(self.known) >= 10_000:
            self.known.pop(min(self.known, key=self.known.__getitem__))
        self.known[address] = began_us

    def is_known(self, address: str, now_us: int) -> bool:
        """Logged in right from this address in the last ABSOLUTE_US."""
        return now_us - self.known.get(address, -ABSOLUTE_US) < ABSOLUTE_US

    def failed(self, address: str, now_us: int) -> None:
        self.fails.setdefault(address, []).append(now_us)
