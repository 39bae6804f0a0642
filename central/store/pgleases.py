"""Which nodes an edged-central instance verifies, on PostgreSQL (design/0027 addendum, design/0104): an
instance verifies a node only while it holds that node's advisory lock (session level, on its own
connection). A dead instance's connection goes, its locks with it, and the next verification pass of
another instance takes the node over. Under `edged-central run` each instance holds only its share
(central/intake/leases.py: rendezvous hashing over the live instances). A mixin of
central/store/pgstore.py's PgStore, which owns the connection (design/0359: cut at this seam).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from central.intake.leases import Owners


def lock_key(node: str) -> int:
    """The advisory lock of a node ("site/node"): 64 bits of its SHA-256, signed as PostgreSQL's bigint."""
    return int.from_bytes(hashlib.sha256(b"edged-central:" + node.encode()).digest()[:8], "big", signed=True)


class Leases:
    """PgStore's leases (see the module's docstring)."""

    pg: Any  # PgStore's connection
    me: str | None  # under `edged-central run`: this instance, and
    members: Callable[[], Sequence[str]]  # the live ones (central/intake/leases.py)

    def __init__(self) -> None:
        self.held: set[str] = set()  # the nodes whose lock this connection holds
        self._owner = Owners()  # leases.owner, remembered

    def lease(self, node: str) -> bool:
        """True while this instance holds the node (its advisory lock, taken now if free). Under
        `edged-central run` (``me`` set), only a node of this instance's share: one of another's
        is let go of (between two nodes' passes, never in one)."""
        if self.me is not None and self._owner(node, self.members()) != self.me:
            if node in self.held:
                self.pg.execute("SELECT pg_advisory_unlock(%s)", [lock_key(node)])
                self.held.discard(node)
            return False
        if node in self.held:
            return True
        row = self.pg.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(node)]).fetchone()
        got = row is not None and row[0]
        if got:
            self.held.add(node)
        return bool(got)

    def rebalance(self) -> None:
        """Take the leases of this instance's share of every known node, and let go of the rest,
        two round trips whatever the count (before a verification pass: a share holds its
        nodes' locks also while they have nothing new, so the split shows and stays put)."""
        if self.me is None:
            return
        members = self.members()
        nodes = [r[0] for r in self.pg.execute("SELECT node FROM nodes").fetchall()]
        mine = {n for n in nodes if self._owner(n, members) == self.me}
        gone = sorted(self.held - mine)
        if gone:
            self.pg.execute("SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k", [[lock_key(n) for n in gone]])
            self.held -= set(gone)
        want = sorted(mine - self.held)
        if want:
            keys = {lock_key(n): n for n in want}
            got = self.pg.execute("SELECT k FROM unnest(%s::bigint[]) AS k WHERE pg_try_advisory_lock(k)",
                                  [list(keys)]).fetchall()
            self.held |= {keys[k] for (k,) in got}
