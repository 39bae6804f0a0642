"""Which instance verifies which node (issue 43, design/0104): every live edged-central instance
on one PostgreSQL store holds its share of the nodes, by rendezvous hashing over the live
instances, so the shares move only as far as they must when an instance joins or leaves.

This is the pure part (``owner``, ``split``, ``live``): plain data and no clock. The shell
(``Membership``, central/store/instances.py since issue 80: the office's SQL is its store's) is a
thread with a connection of its own: it registers this instance in the store's ``instances``
table, writes a heartbeat (the database's clock, so the instances' clocks need not agree) with the
instance's figures every HEARTBEAT_S, and reads back the live instances. An instance is live while
its heartbeat is younger than STALE_US and the connection that writes it is still open (a killed
instance's connection goes at once: its share moves at the others' next heartbeat, not STALE_US
later). The verifier's store (central/store/pgstore.py) takes and lets go of the nodes' advisory
locks as the live set says; the lock, not this hash, keeps a node to one instance at a time while
the shares move.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

STALE_US = 15_000_000      # an instance whose heartbeat is older is taken for gone


# the pure part ----------------------------------------------------------------------------------
def weight(instance: str, node: str) -> int:
    """The node's score at one instance: the highest score among the live instances wins it."""
    return int.from_bytes(hashlib.sha256(f"{instance}\0{node}".encode()).digest()[:8], "big")


def owner(node: str, instances: Sequence[str]) -> str | None:
    """The live instance that verifies ``node`` (None while no instance is live)."""
    return max(instances, key=lambda i: (weight(i, node), i)) if instances else None


class Owners:
    """``owner``, remembered (a verifier's pass asks it of every node twice, a hash an instance
    each: issue 53): functools' LRU cache of the node and the live instances, at most MAX."""

    MAX = 100_000

    def __init__(self) -> None:
        self._owner = functools.lru_cache(maxsize=self.MAX)(owner)

    def __call__(self, node: str, instances: Sequence[str]) -> str | None:
        return self._owner(node, tuple(instances))


def split(nodes: Iterable[str], instances: Sequence[str]) -> dict[str, int]:
    """How many of ``nodes`` each instance holds."""
    out = dict.fromkeys(instances, 0)
    for n in nodes:
        o = owner(n, instances)
        if o is not None:
            out[o] += 1
    return out


def live(rows: Iterable[dict[str, Any]], now_us: int, connected: set[int]) -> tuple[str, ...]:
    """The live instances of ``rows`` (id, heartbeat_us, backend): a heartbeat younger than
    STALE_US and its connection still open (``connected``: the server's backend pids)."""
    return tuple(sorted(r["id"] for r in rows
                        if now_us - r["heartbeat_us"] < STALE_US and r["backend"] in connected))
