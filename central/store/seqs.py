"""The store's side of ingest's plausibility and quota checks (issue 43 item 3, design/0119): what
central/intake/plausible.py and central/intake/quota.py decide on, read from the store and kept per node, and
the quota's count in the store on SQLite. Used by central/store/store.py (both stores) and
central/store/pgshared.py; the SQL is SQLite's dialect, which central/store/pgstore.py translates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from central import finding_words
from central.intake import plausible, quota
from central.i18n import N_
from storage.msg import Msg

ANCHORS_A_READ = 1000  # nodes' anchors read by one statement (Seqs with rows)
ANCHORS_MAX = 100_000  # nodes remembered (a fleet's 4,000 and more); past it the memory starts afresh
# each node's fresh durable messages a minute, every instance's together (the same table on PostgreSQL)
QUOTA_USE = "CREATE TABLE IF NOT EXISTS quota_use (node text, minute bigint, messages bigint, PRIMARY KEY (node, minute))"
SEQ_SPAN = "SELECT min(seq), max(seq) FROM messages WHERE node = ?"
RECEIVED = "SELECT received_us FROM messages WHERE node = ? AND seq = ?"
NEWEST_BIRTH = "SELECT received_us, payload FROM births WHERE node = ? ORDER BY ts_us DESC LIMIT 1"
BUDGET_BIRTH = "SELECT payload FROM births WHERE node = ? ORDER BY ts_us DESC LIMIT 1"
OVER_BUDGET = ("INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
               " VALUES (?, ?, ?, 'quota_exceeded', 'warning', ?, ?, ?, ?)")
QUOTA_COUNT = ("INSERT INTO quota_use (node, minute, messages) VALUES (?, ?, ?) ON CONFLICT"
               " (node, minute) DO UPDATE SET messages = quota_use.messages + excluded.messages RETURNING messages")
QUOTA_FORGET = "DELETE FROM quota_use WHERE minute < ?"


def _birth(payload: Any) -> dict[str, Any] | None:
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


# what an anchor is read from: (node, first seq, last seq, the last's received_us, the newest
# birth's received_us, its payload), None where the store has nothing
AnchorRow = tuple[str, Any, Any, Any, Any, Any]


class Seqs:
    """Each node's Anchor (central/intake/plausible.py), read from the store at its first message and
    kept; read again once a batch when a seq looks implausible (another instance may have
    accepted more of the node's messages, or a lower one). With ``rows`` (PostgreSQL's store, a
    round trip a statement): the anchors of a batch's new nodes are read together at its start,
    one statement for them all instead of three a node (issue 53: each of three instances read
    every node's, 9,000 round trips of a fleet of 1,000)."""

    def __init__(self, db: Any, rows: Callable[[Sequence[str]], Iterable[AnchorRow]] | None = None):
        self.db = db
        self.rows = rows
        self.fresh = True  # with rows: the next batch's new nodes are read first (none met in the last: not)
        self.anchors: dict[str, plausible.Anchor] = {}
        self._births: dict[str, tuple[dict[str, Any], int]] = {}  # this batch's, not yet in the store
        self._taken: dict[str, list[tuple[int, int]]] = {}  # this batch's accepted (seq, received_us), likewise
        self._reread: set[str] = set()

    def batch(self, nodes: Iterable[str] = ()) -> None:
        """A new batch begins, of ``nodes``' messages (their anchors read now, with ``rows``)."""
        self._births.clear()
        self._taken.clear()
        self._reread.clear()
        if len(self.anchors) > ANCHORS_MAX:
            self.anchors.clear()
        if self.rows is not None:
            new = sorted({n for n in nodes if n not in self.anchors})
            for i in range(0, len(new), ANCHORS_A_READ):
                for row in self.rows(new[i:i + ANCHORS_A_READ]):
                    self.anchors[row[0]] = self._anchor(*row)
            self.fresh = bool(new)  # still meeting new nodes: the next batch's are read likewise

    def load(self, node: str) -> plausible.Anchor:
        self.fresh = True
        first, last = self.db.execute(SEQ_SPAN, [node]).fetchone()
        last_us = 0
        if last is not None:
            row = self.db.execute(RECEIVED, [node, last]).fetchone()
            last_us = row[0] if row else 0
        row = self.db.execute(NEWEST_BIRTH, [node]).fetchone()
        a = self._anchor(node, first, last, last_us, *(row if row is not None else (None, None)))
        if node in self._births:
            self._birth_into(a, *self._births[node])
        for seq, at in self._taken.get(node, ()):
            plausible.accepted(a, seq, at)
        self.anchors[node] = a
        return a

    @staticmethod
    def _anchor(_node: str, first: Any, last: Any, last_us: Any, birth_us: Any, birth: Any) -> plausible.Anchor:
        """The anchor of what the store holds of a node (an AnchorRow)."""
        a = plausible.Anchor(quota.birth_budget(None)[0], first, last, last_us or 0)
        if birth_us is not None:
            Seqs._birth_into(a, _birth(birth), birth_us)
        return a

    @staticmethod
    def _birth_into(a: plausible.Anchor, body: dict[str, Any] | None, received_us: int) -> None:
        a.per_minute = quota.birth_budget(body)[0]
        seq = _int((body or {}).get("last_seq"))
        if seq is not None and received_us >= a.birth_us:
            a.birth_seq, a.birth_us = seq, received_us

    def birth(self, node: str, body: dict[str, Any], received_us: int) -> None:
        """A birth in this batch: its rate and its last seq count from now."""
        self._births[node] = (body, received_us)
        a = self.anchors.get(node) or self.load(node)
        self._birth_into(a, body, received_us)

    def judge(self, node: str, seq: int, received_us: int) -> tuple[str, str] | None:
        """plausible.judge on the node's anchor (read again once if it says no); an accepted seq moves it."""
        a = self.anchors.get(node) or self.load(node)
        verdict = plausible.judge(seq, a, received_us)
        if verdict is not None and node not in self._reread:
            self._reread.add(node)
            a = self.load(node)
            verdict = plausible.judge(seq, a, received_us)
        if verdict is None:
            plausible.accepted(a, seq, received_us)
            taken = self._taken.setdefault(node, [])
            if len(taken) < 2 or seq < taken[0][0] or seq > taken[1][0]:  # the batch's lowest and highest
                taken[:] = sorted([*taken, (seq, received_us)])
                del taken[1:-1]
        return verdict


def over_budget(conn: Any, node: str, used: int, budget: int, why: str, received_us: int) -> None:
    """The `quota_exceeded` finding of a node over what its birth allows, once a node and day."""
    day = received_us // quota.DAY_US
    conn.execute(
        OVER_BUDGET,
        [f"{node}:quota_exceeded:birth:{day}", node, node.split("/", 1)[0], received_us, received_us,
         said := Msg(N_("{used} durable messages in one minute (all instances together), over the {budget} its birth "
                        "allows ({why}): check the node for a loop or a flood"), used=used, budget=budget, why=why),
         finding_words.detail_json(said, {"count": used, "budget": budget})])


class QuotaUse:
    """The quota's count in the store on SQLite (PostgreSQL's is central/store/pgshared.py's): each
    instance sharing the file adds each node's fresh durable messages to the node's row for the
    minute in its batch's transaction, and the sum is held against the node's birth."""

    def __init__(self) -> None:
        self.budgets: dict[str, tuple[int, str, int]] = {}  # node -> (a minute's budget, why, read at)
        self._swept = 0

    def count(self, conn: Any, durable: list[tuple[Any, ...]], received_us: int) -> None:
        counts = quota.fresh_counts(durable, received_us)
        minute = received_us // quota.MINUTE_US
        for node in sorted(counts):
            used = conn.execute(QUOTA_COUNT, [node, minute, counts[node]]).fetchone()[0]
            if used > quota.FLOOR:
                budget, why = self.budget(conn, node, received_us)
                if used > budget:
                    over_budget(conn, node, used, budget, why, received_us)
        if counts and received_us - self._swept > 10 * quota.MINUTE_US:  # a day of counts is kept
            conn.execute(QUOTA_FORGET, [minute - 1440])
            self._swept = received_us

    def budget(self, conn: Any, node: str, now: int) -> tuple[int, str]:
        """The node's budget by its newest birth, read again every 10 minutes."""
        known = self.budgets.get(node)
        if known is None or now - known[2] > 10 * quota.MINUTE_US:
            row = conn.execute(BUDGET_BIRTH, [node]).fetchone()
            known = self.budgets[node] = (*quota.birth_budget(_birth(row[0]) if row else None), now)
        return known[0], known[1]
