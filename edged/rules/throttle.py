"""How many logins the viewer tries, and how many failures it writes down (design/0021). Pure:
plain data and an injected clock (seconds, monotonic), no I/O.

Per client address, a token bucket: `burst` tries at once, then one per `refill_s`; an address
out of tokens is told to wait and nothing is stored or checked. The limit is on the address,
never on the account, so a flood from one machine cannot lock a custodian out from another
(the account-wide lock of edgectl's logins does not apply to the viewer).

Per account besides (issue 45), a bucket of its own across every address (`ACCOUNT_LIMITS`): an
attacker with many addresses still tries one account's password only so fast; past `alarm_after`
tries refused in a row the account's `password_guessed` alarm rises (the edge raises it). Only
failures spend it (storage/people/doors.AccountDoor, issue 56, design/0185), so a correct password
always gets through however many addresses guess wrong. Issue 74 (design/0320): at most `PER_HOUR`
checks an hour for one account from paths not known to be its owner's (an address or a browser's
mark that logged in right lately), and `FAILURES_AN_HOUR` wrong passwords in an hour raise the alarm
as well, refused or not.

Globally, at most `records_per_min` failed logins are written per minute (catalog and MQTT
outbox: the footage disk); the rest are counted and written as one summary record, so a flood
from many addresses still cannot fill the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Limits:
    burst: int = 5              # tries an address may make at once
    refill_s: float = 60.0      # then one more per this long
    records_per_min: int = 30   # failed logins written one by one per minute, all addresses together
    max_addresses: int = 10_000  # addresses remembered (the fullest buckets are forgotten first)


ACCOUNT_LIMITS = Limits(burst=10, refill_s=30.0)
ALARM_AFTER = 20   # tries refused for one account before its alarm
PER_HOUR = 60      # wrong passwords checked an hour for one account, every address together (issue 74) ...
FAILURES_AN_HOUR = 20   # ... and the number of them that raises its alarm, refused or not


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class LoginThrottle:
    limits: Limits = field(default_factory=Limits)
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    window_start: float = float("-inf")
    written: int = 0            # failure records written in the current minute
    suppressed: int = 0         # failures not written one by one since the last summary

    def _bucket(self, address: str, now: float) -> _Bucket:
        b = self.buckets.get(address)
        if b is None:
            if len(self.buckets) >= self.limits.max_addresses:
                self._forget(now)
            b = self.buckets[address] = _Bucket(float(self.limits.burst), now)
        b.tokens = min(float(self.limits.burst), b.tokens + (now - b.at) / self.limits.refill_s)
        b.at = now
        return b

    def _forget(self, now: float) -> None:
        """Drop the addresses that are back to a full bucket (or, failing that, the fullest half)."""
        full = [a for a, b in self.buckets.items()
                if b.tokens + (now - b.at) / self.limits.refill_s >= self.limits.burst]
        if not full:
            full = sorted(self.buckets, key=lambda a: -self.buckets[a].tokens)[:len(self.buckets) // 2 or 1]
        for a in full:
            del self.buckets[a]

    def try_login(self, address: str, now: float) -> float | None:
        """Take a token for one try; None if allowed, else the seconds to wait."""
        b = self._bucket(address, now)
        if b.tokens >= 1:
            b.tokens -= 1
            return None
        return (1 - b.tokens) * self.limits.refill_s

    def succeeded(self, address: str, now: float) -> None:
        """A correct password gives the try back: people who type it right are never slowed."""
        b = self._bucket(address, now)
        b.tokens = min(float(self.limits.burst), b.tokens + 1)

    def record_failure(self, now: float) -> tuple[bool, int]:
        """(write this failure one by one?, failures left out since the last one written).
        Asked before the password check; `unused` gives the slot back when the login succeeds."""
        if now - self.window_start >= 60.0:
            self.window_start, self.written = now, 0
        if self.written < self.limits.records_per_min:
            self.written += 1
            left_out, self.suppressed = self.suppressed, 0
            return True, left_out
        self.suppressed += 1
        return False, self.suppressed

    def unused(self, written: bool, left_out: int) -> None:
        """The try that took a slot did not fail after all."""
        if written:
            self.written -= 1
            self.suppressed += left_out
        else:
            self.suppressed -= 1

    def summary_due(self, now: float) -> int:
        """Failures left out and not yet counted in a record, once their minute is over (0: none)."""
        if not self.suppressed or now - self.window_start < 60.0:
            return 0
        n, self.suppressed = self.suppressed, 0
        return n

