"""Login doors nobody can hold shut (issue 56, design/0185): pure rules over plain data and an
injected monotonic time (seconds), shared by the desk (edged/viewer/server.py), the control
socket (edged/control/sessions.py) and the dashboard (central/pages/dashboard.py).

`AccountDoor`: one account's tries from every address together, spent only by failures. A try
takes a token before its check and a right password gives it back; once the account has no token
left, an address that has not failed against it lately (the owner at her own PC) is still checked,
and an address that has is refused. So a correct password always gets through however many
addresses guess wrong, and each guessing address is held once it has failed.

Besides (issue 74, design/0320): a ceiling of `per_hour` checks an hour for one account, every
address together, so that a guesser with many addresses (each checked once per hold) is held to it
too; past it only the owner's known paths are checked: an address, or a browser's `device` mark,
that logged in right to this account in the last `known_s` (at most `known_max` of them), each
still held once it fails. `end` answers the account's failures in the last hour, for the alarm
that counts failures, not refusals.

`FairShare`: the password checks under way at once, with a share per address: an address runs at
most `share` checks and waits for at most `share` more; the next free place goes to the address
that waited longest, or first to one that logged in right lately, so a flood from many addresses
delays a person by a turn, never refuses her.

`LockPerCaller`: edgectl's lockout, per account and OS user: failures in a row from one OS user
lock the account for that OS user only, so a member of the socket's group cannot lock an account
out for everyone.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


HOUR = 3600.0


@dataclass(slots=True)
class AccountDoor:
    burst: int = 10             # failures an account takes at once, every address together
    refill_s: float = 30.0      # then one more per this long
    hold_s: float = 300.0       # an address that failed against an account out of tokens waits this
    max_pairs: int = 10_000     # (account, address) pairs remembered; the oldest are forgotten
    per_hour: int = 60          # checks an account takes an hour from paths not known to be its owner's
    known_s: float = 12 * HOUR  # a path that logged in right this long ago is the owner's known path ...
    known_max: int = 8          # ... the newest this many per account (an address and a mark a login)
    tokens: dict[str, tuple[float, float]] = field(default_factory=dict)   # account -> (tokens, at)
    failed_at: dict[tuple[str, str], float] = field(default_factory=dict)  # (account, address) -> last failure
    took: dict[tuple[str, str], int] = field(default_factory=dict)         # checks under way that took a token
    checks: dict[str, deque[float]] = field(default_factory=dict)          # account -> its checks not right, an hour
    known: dict[str, dict[str, float]] = field(default_factory=dict)       # account -> {path: last right login}

    def _tokens(self, account: str, now: float) -> float:
        tokens, at = self.tokens.get(account, (float(self.burst), now))
        return min(float(self.burst), tokens + max(0.0, now - at) / self.refill_s)

    def _hour(self, account: str, now: float) -> deque[float]:
        times = self.checks.get(account)
        if times is None:
            if len(self.checks) >= self.max_pairs:
                for quiet in [a for a, ts in self.checks.items() if not ts or now - ts[-1] >= HOUR]:
                    del self.checks[quiet]
            times = self.checks[account] = deque()
        while times and now - times[0] >= HOUR:
            times.popleft()
        return times

    def is_known(self, account: str, address: str, now: float, device: str = "") -> bool:
        """The owner's known path: this address, or this browser's mark, logged in right lately."""
        paths = self.known.get(account, {})
        return any(now - paths.get(p, -self.known_s) < self.known_s for p in _paths(address, device))

    def begin(self, account: str, address: str, now: float, device: str = "") -> float | None:
        """Before the password check: None (check it) or the seconds to wait."""
        key, tokens, hour = (account, address), self._tokens(account, now), self._hour(account, now)
        last = self.failed_at.get(key)
        held = last is not None and now - last < self.hold_s
        if len(hour) >= self.per_hour and (held or not self.is_known(account, address, now, device)):
            return max(hour[0] + HOUR - now if not held else 0.0, self.hold_s - (now - last) if last is not None else 0.0)
        if tokens >= 1:
            self.tokens[account] = (tokens - 1, now)
            self.took[key] = self.took.get(key, 0) + 1
        elif held and last is not None:
            return max((1 - tokens) * self.refill_s, self.hold_s - (now - last))
        if len(self.failed_at) >= self.max_pairs:
            for old in sorted(self.failed_at, key=self.failed_at.__getitem__)[:len(self.failed_at) // 2 or 1]:
                del self.failed_at[old]
        if len(self.tokens) >= self.max_pairs:
            for full in [a for a in self.tokens if self._tokens(a, now) >= self.burst]:
                del self.tokens[full]
        self.failed_at[key] = now   # counted as a failure until it turns out right
        hour.append(now)
        return None

    def end(self, account: str, address: str, right: bool | None, now: float, device: str = "",
            know: bool = True) -> int:
        """After the check: a right password gives its token back, clears the address and makes
        its paths known (`know`: not a one-time password's, which its setter may know); a wrong one stays counted; one never checked (None: busy) gives the token
        back, the address's mark stays (refusing it must not clear a hold). The account's checks
        that were not right in the last hour (its failures, and any still under way)."""
        key = (account, address)
        n = self.took.pop(key, 0)
        if n > 1:
            self.took[key] = n - 1
        hour = self._hour(account, now)
        if right is not False and hour:
            hour.pop()   # the newest stands for this one: only their number counts
        if right:
            self.failed_at.pop(key, None)
            if know:
                self._know(account, address, device, now)
        if right is not False:
            if n:
                self.tokens[account] = (min(float(self.burst), self._tokens(account, now) + 1), now)
        return len(hour)

    def _know(self, account: str, address: str, device: str, now: float) -> None:
        if account not in self.known and len(self.known) >= self.max_pairs:
            self.known.pop(min(self.known, key=lambda a: max(self.known[a].values(), default=0.0)))
        paths = self.known.setdefault(account, {})
        for p in _paths(address, device):
            paths.pop(p, None)
            paths[p] = now
        while len(paths) > self.known_max:
            paths.pop(min(paths, key=paths.__getitem__))


def _paths(address: str, device: str) -> tuple[str, ...]:
    return (f"a:{address}",) + ((f"d:{device}",) if device else ())


@dataclass(slots=True)
class FairShare(Generic[T]):
    """`ask(address, ticket)`: True (run now), None (queued: `done` hands the ticket back when its
    turn comes) or False (refused: the address has its share running and waiting, or `wait_max`
    tries wait already). `done(address)`: a check ended; the tickets whose turn it is now. Held
    in memory only: a restart forgets who waited, as it forgets the sessions."""
    cap: int = 4
    share: int = 1
    wait_max: int = 512
    running: dict[str, int] = field(default_factory=dict)
    waiting: OrderedDict[str, deque[T]] = field(default_factory=OrderedDict)

    def ask(self, address: str, ticket: T, ahead: bool = False) -> bool | None:
        """`ahead`: the address logged in right lately (a person's own PC): it waits first in line."""
        queued = self.waiting.get(address)
        if sum(self.running.values()) < self.cap and self.running.get(address, 0) < self.share and not queued:
            self.running[address] = self.running.get(address, 0) + 1
            return True
        if (queued is not None and len(queued) >= self.share) or sum(map(len, self.waiting.values())) >= self.wait_max:
            return False
        self.waiting.setdefault(address, deque()).append(ticket)
        if ahead:
            self.waiting.move_to_end(address, last=False)
        return None

    def forget(self, address: str, ticket: T) -> None:
        """A waiting try gave up (its client went away)."""
        queued = self.waiting.get(address)
        if queued is not None and ticket in queued:
            queued.remove(ticket)
            if not queued:
                del self.waiting[address]

    def done(self, address: str) -> list[T]:
        n = self.running.get(address, 0) - 1
        if n > 0:
            self.running[address] = n
        else:
            self.running.pop(address, None)
        started: list[T] = []
        while sum(self.running.values()) < self.cap:
            turn = next((a for a in self.waiting if self.running.get(a, 0) < self.share), None)
            if turn is None:
                break
            queued = self.waiting.pop(turn)   # the longest-waiting address with room ...
            started.append(queued.popleft())
            self.running[turn] = self.running.get(turn, 0) + 1
            if queued:
                self.waiting[turn] = queued   # ... goes to the back of the line with the rest
        return started


@dataclass(slots=True)
class LockPerCaller:
    """`after` failed logins in a row for one account from one caller (edgectl: the OS account)
    lock the account for that caller for `for_us`; a right password clears the caller's count.
    Another caller's logins to the same account are not touched (issue 56)."""
    after: int = 5
    for_us: int = 15 * 60_000_000
    max_keys: int = 10_000
    failed: dict[tuple[str, str], int] = field(default_factory=dict)
    until: dict[tuple[str, str], int] = field(default_factory=dict)

    def locked_until(self, account: str, caller: str, now_us: int, pw_changed_us: int | None = None) -> int | None:
        """The lock's end, or None; a password set after the lock began ends it (an admin's reset)."""
        end = self.until.get((account, caller))
        if end is not None and (end <= now_us or (pw_changed_us or 0) > end - self.for_us):
            del self.until[(account, caller)]
            return None
        return end

    def failure(self, account: str, caller: str, now_us: int) -> int | None:
        """One more failure in a row: the lock's end when this one locks, else None."""
        key = (account, caller)
        if len(self.failed) + len(self.until) >= self.max_keys:
            self.failed.clear()   # counts are forgotten before locks, and only under a flood of names
            for k in [k for k, end in self.until.items() if end <= now_us]:
                del self.until[k]
        n = self.failed.get(key, 0) + 1
        if n < self.after:
            self.failed[key] = n
            return None
        self.failed.pop(key, None)
        self.until[key] = now_us + self.for_us
        return self.until[key]

    def succeeded(self, account: str, caller: str) -> None:
        self.failed.pop((account, caller), None)
