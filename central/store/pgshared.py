"""The rows every edged-central instance rewrites, on PostgreSQL (issue 43, design/0104): a
topic's retained state, a node's figures and status, each node's count of fresh messages for
the minute. Under `edged-central run` (``coalesce_s``) a store holds them from its batches and
writes them once a second, skipping (`SKIP LOCKED`) and keeping for the next second any row
another transaction holds; a direct caller writes them with each batch. With N instances live
each writes the nodes' figures, statuses and counts every N seconds, the retained states every
second (design/0295): every instance hears from nearly every node each second, so the fleet's
node rows are still written about once a second, not N times. A mixin of
central/store/pgstore.py's PgStore, which owns the connection, the staging tables and the retries.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import psycopg

from central.intake import quota
from central.store import seqs
from central.store.store import Batch

# under run (PgStore.coalesce_s): the shared rows no other transaction holds, written; those taken
# by another are kept for the next second. The retained rows are locked by a probe of their key each,
# in key order: a second's changes, not a hash of the fleet's every topic (74,000 rows at 4,000 nodes)
# built anew each second by each instance (issue 53, design/0299)
_SKIP_RETAINED = ("WITH free AS (SELECT r.topic FROM (SELECT topic FROM stage_retained ORDER BY topic) s, LATERAL"
                  " (SELECT topic FROM retained WHERE retained.topic = s.topic FOR UPDATE SKIP LOCKED) r),"
                  " up AS (UPDATE retained r SET received_us = s.received_us, payload = s.payload"
                  " FROM stage_retained s WHERE r.topic = s.topic AND r.topic IN (SELECT topic FROM free)"
                  " AND s.received_us >= r.received_us) SELECT topic FROM free")
# the states of topics not yet in `retained`, probed by their key (the same as a NOT EXISTS of every
# staged topic hashed the whole table each second: 18 ms at 74,000 states, design/0300)
_NEW_RETAINED = ("INSERT INTO retained (topic, node, what, received_us, payload) SELECT * FROM stage_retained s"
                 " WHERE s.topic = ANY(%s) AND NOT EXISTS (SELECT 1 FROM retained r WHERE r.topic = s.topic)"
                 " ORDER BY topic ON CONFLICT (topic) DO NOTHING RETURNING topic")
_SKIP_NODES = ("WITH free AS (SELECT n.node FROM nodes n JOIN stage_nodes s USING (node) ORDER BY n.node"
               " FOR UPDATE OF n SKIP LOCKED), up AS (UPDATE nodes n SET last_us = greatest(n.last_us, s.last_us),"
               " max_seq = greatest(n.max_seq, s.max_seq) FROM stage_nodes s WHERE n.node = s.node"
               " AND n.node IN (SELECT node FROM free)) SELECT node FROM free")
_COUNT = ("INSERT INTO quota_use AS q (node, minute, messages) SELECT n, %s, m FROM unnest(%s::text[], %s::bigint[])"
          " AS u(n, m) ORDER BY n ON CONFLICT (node, minute) DO UPDATE SET messages = q.messages + excluded.messages"
          " RETURNING node, messages")


class SharedRows:
    """PgStore's shared rows (see the module's docstring)."""

    _shared: Any  # PgStore's: the transactions, their retries, the staging tables
    _again: Any
    _stage: Any
    members: Any  # PgStore's: the live instances (central/intake/leases.py), () when not shared

    def __init__(self) -> None:
        self.coalesce_s = 0.0  # `edged-central run` sets 1 s (central/ingest.py); a direct caller: at once
        self._held = _Held()  # the batches' shared rows not written yet, newest wins
        self._counts: dict[str, int] = {}  # node -> fresh durable messages this minute, not written yet
        self._left: Batch | None = None  # of the last write: the rows another transaction held
        self._settled = 0.0
        self._figured = 0.0  # when the nodes' figures, statuses and counts were last written
        self._swept = 0
        self.budgets: dict[str, tuple[int, str, int]] = {}  # node -> (a minute's budget, why, read at)

    def _hold(self, b: Batch) -> None:
        """A batch's shared rows into those not written yet: a topic's newest state, a node's
        newest figures (its greatest seq), status and this minute's count of fresh messages."""
        h = self._held
        if h.received_us and b.received_us // quota.MINUTE_US != h.received_us // quota.MINUTE_US:
            self._settle()  # a minute's count goes into that minute's row
        self._held.add(b)
        for node, k in quota.fresh_counts(b.durable, b.received_us).items():
            self._counts[node] = self._counts.get(node, 0) + k

    def _settle(self, everything: bool = True) -> None:
        """Write the shared rows held (``_hold``) in short transactions: the retained states, and
        the nodes' figures, statuses and counts with them when ``everything`` or when their turn
        has come (every ``coalesce_s`` times the live instances; else they are held on)."""
        h, counts = self._held, self._counts
        now = time.monotonic()
        live = len(self.members())
        figures = everything or live <= 1 or now - self._figured >= self.coalesce_s * live
        write = h.batch(figures)
        if write.retained or write.nodes or write.statuses or (figures and counts):
            self._again(lambda: self._shared(write, counts if figures else {}))
        if figures:
            self._counts, self._figured = {}, now
        # held on: the figures not written (the same minute's: ``_hold`` writes everything before a
        # batch of the next) and what another transaction held, tried again with the next second's
        rest = _Held(h.received_us, {}, {} if figures else h.nodes, {} if figures else h.statuses)
        if self._left is not None:
            rest.add(self._left)
        self._held = rest if rest.retained or rest.nodes or rest.statuses or self._counts else _Held()
        self._left = None
        self._settled = now

    def settle(self) -> None:
        """The shared rows held, written now (the store thread when idle, and at close)."""
        if self._held.received_us:
            self._settle()

    def _unlocked(self, cur: psycopg.Cursor, b: Batch) -> set[str]:
        """The shared rows of ``b`` no other transaction holds now (`SKIP LOCKED`: a verifier's
        pass, another instance's second), written; those it holds are kept for the next
        ``settle`` (a newer value held since replaces them). Returns the nodes written. A
        topic's state is never put back to an older one (received_us)."""
        topics: set[str] = set()
        if b.retained:
            self._stage(cur, "retained", b.retained, _SKIP_RETAINED)
            topics = {r[0] for r in cur.fetchall()}
            new = sorted({r[0] for r in b.retained} - topics)  # a first state, or one another transaction holds
            if new:
                topics |= {r[0] for r in cur.execute(_NEW_RETAINED, [new]).fetchall()}
        done: set[str] = set()
        if b.nodes:
            self._stage(cur, "nodes", b.nodes, _SKIP_NODES)
            done = {r[0] for r in cur.fetchall()}
        left = Batch([], [r for r in b.retained if r[0] not in topics], [], [r for r in b.nodes if r[0] not in done],
                     [st for st in b.statuses if st[2] not in done], [], b.received_us)
        if left.retained or left.nodes:
            kept = self._left or _nothing(b.received_us)
            self._left = kept._replace(retained=kept.retained + left.retained, nodes=kept.nodes + left.nodes,
                                       statuses=kept.statuses + left.statuses)
        return done

    def _count(self, cur: psycopg.Cursor, conn: Any, b: Batch, counts: dict[str, int]) -> None:
        """Each node's fresh durable messages counted into this minute's row, shared by every
        instance, against what its birth allows (quota.birth_budget): over is a finding, once a
        node and day (the per-process quota of central/intake/quota.py still drops a flood)."""
        if not counts:
            return
        minute = b.received_us // quota.MINUTE_US
        nodes = sorted(counts)
        used: dict[str, int] = dict(cur.execute(_COUNT, [minute, nodes, [counts[n] for n in nodes]]).fetchall())
        over = {n: k for n, k in used.items() if k > quota.FLOOR}
        self._budgets(cur, sorted(over), b.received_us)
        for node, k in sorted(over.items()):
            budget, why = self._budget(cur, node, b.received_us)
            if k > budget:
                seqs.over_budget(conn, node, k, budget, why, b.received_us)
        if b.received_us - self._swept > 10 * quota.MINUTE_US:  # a day of counts is kept
            cur.execute("DELETE FROM quota_use WHERE minute < %s", [minute - 1440])
            self._swept = b.received_us

    def _budgets(self, cur: psycopg.Cursor, nodes: list[str], now: int) -> None:
        """The budgets ``_budget`` would read again of ``nodes``, read in one statement (issue 53:
        each instance read every node's, a round trip each)."""
        stale = [n for n in nodes if (k := self.budgets.get(n)) is None or now - k[2] > 10 * quota.MINUTE_US]
        for i in range(0, len(stale), 1000):
            rows: dict[str, Any] = dict(cur.execute("SELECT DISTINCT ON (node) node, payload FROM births"
                                                    " WHERE node = ANY(%s) ORDER BY node, ts_us DESC",
                                                    [stale[i:i + 1000]]).fetchall())
            for node in stale[i:i + 1000]:
                self.budgets[node] = (*quota.birth_budget(_body(rows.get(node))), now)

    def _budget(self, cur: psycopg.Cursor, node: str, now: int) -> tuple[int, str]:
        """The node's budget by its newest birth, read again every 10 minutes."""
        known = self.budgets.get(node)
        if known is None or now - known[2] > 10 * quota.MINUTE_US:
            row = cur.execute("SELECT payload FROM births WHERE node = %s ORDER BY ts_us DESC LIMIT 1", [node]).fetchone()
            known = self.budgets[node] = (*quota.birth_budget(_body(row[0] if row else None)), now)
        return known[0], known[1]


@dataclasses.dataclass
class _Held:
    """The shared rows held till their write, by key (a batch's merged in, not the whole set
    rebuilt and sorted each batch: with N instances the nodes' figures are held N seconds)."""

    received_us: int = 0
    retained: dict[str, Any] = dataclasses.field(default_factory=dict)  # topic -> its newest row
    nodes: dict[str, Any] = dataclasses.field(default_factory=dict)  # node -> its figures
    statuses: dict[str, Any] = dataclasses.field(default_factory=dict)  # node -> its newest status

    def add(self, b: Batch) -> None:
        self.retained.update((r[0], r) for r in b.retained)
        nodes = self.nodes
        for r in b.nodes:
            o = nodes.get(r[0])
            nodes[r[0]] = r if o is None else (*r[:3], min(o[3], r[3]), max(o[4], r[4]), max(o[5], r[5]))
        self.statuses.update((st[2], st) for st in b.statuses)
        self.received_us = b.received_us

    def batch(self, figures: bool) -> Batch:
        """What is written now: the retained states, and the nodes' figures and statuses with `figures`."""
        return Batch([], sorted(self.retained.values()), [], sorted(self.nodes.values()) if figures else [],
                     sorted(self.statuses.values(), key=lambda st: st[2]) if figures else [], [], self.received_us)


def _nothing(received_us: int = 0) -> Batch:
    """A batch with no rows (fresh lists: the held batches are built on, never shared)."""
    return Batch([], [], [], [], [], [], received_us)


def _body(payload: Any) -> Any:
    """A birth's JSON (None: none, or not JSON)."""
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None
