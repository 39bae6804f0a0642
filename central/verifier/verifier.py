"""The verifier's I/O shell: reads each node's unverified messages from the store in seq order,
feeds them to the pure checks (central/checks/verify.py), and writes the derived tables and the findings.

Runs inside `edged-central run` every [verify] interval. Several instances sharing one store
(a shared subscription) each run it; a node's pass is one IMMEDIATE transaction that marks
its messages verified, so no message is verified twice. Every stored message is verified,
also one below the node's newest seq (issue 28: a high seq must not blind the verifier); a
message whose checks raise is undone and is a finding, a node whose pass fails is a finding,
and the other nodes are verified all the same.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Any, Callable
from zoneinfo import ZoneInfo

from central.keys import ca, keystanding
from central.checks import coverage, node_births, verify
from central import finding_words
from central.verifier import clock_lines, clock_samples, overlap, page, rejudge, retention_watch
from central.verifier.evidence import Evidence
from central.verifier.handlers import handler_of
from central.verifier.verifier_gaps import Ask, Gaps
from central.verifier.verifier_kinds import MessageKinds, day_of, judge_in_store
from central.store import coverage as stored_coverage, passes
from central.store.store import Store
from mqtt import kinds
from central.i18n import N_
from storage.msg import Msg

log = logging.getLogger("edged.central")
__all__ = ["Verifier", "day_of", "judge_in_store"]  # the last two: central/verifier/verifier_kinds.py's, as before
PAGE = 20_000  # messages of one node per pass
RETRY_US = 60_000_000  # a node whose pass failed is tried again this much later
VERIFIED_ROWS = passes.VERIFIED_ROWS  # messages marked verified by one statement (SQLite)
BUFFERED = (kinds.RETENTION.name, kinds.AUDIT.name, kinds.FOOTAGE.name)  # checks written through the pass's Evidence only
NODES_WORD = tuple(k.name for k in kinds.DURABLE_KINDS if k is not kinds.AUDIT)  # unsigned: the node's word only
# while its key stands (audit records and heads are checked against it in their own handler)
WATCH_EVERY_US = 3_600_000_000  # the retention watch (footage kept past its maximum) runs this often, on the office's clock
WATCH_CHUNK = 200  # nodes a transaction of the watch
CHUNK_S = 0.1  # the longest one verification transaction runs: the nodes rows it updated stay locked till then, and ingest upserts them


class Verifier(MessageKinds, Gaps):
    def __init__(self, store: Store, tz: ZoneInfo, gap_grace_us: int,
                 enrolled: Callable[[str], set[str] | None] | None = None, ask: Ask | None = None,
                 standing: Callable[[str, str | None], keystanding.Standing] | None = None,
                 receipt: Callable[[str, str, int], None] | None = None, twin: Store | None = None):
        self.store, self.tz, self.grace = store, tz, gap_grace_us
        # ``twin``: a second session of a PostgreSQL store: a node verified while the last one's pass is written
        self.overlap = None if twin is None else overlap.Overlap(twin)  # (central/verifier/overlap.py, design/0498)
        self.deferred: Callable[[], int] | None = None  # under it, a pass's last write, for its thread
        self.receipt = receipt  # an export's receipt to its box (central/ingest.py Receipts, design/0318); None: none
        self.ask = ask  # None: no resend is asked (a gap is a finding once gap_grace has passed)
        self.enrolled = enrolled or (lambda _node: None)  # the office's enrolments (central/keys/ca.py, design/0097)
        # a key revoked, a node nobody enrolled (central/keys/keystanding.py, design/0125)
        self.standing = standing or (lambda _node, _key: keystanding.NOBODY)
        self.standings: dict[tuple[str, str], keystanding.Standing] = {}  # its answers this run: read again each run
        self.failed: dict[str, int] = {}  # node -> when its pass may be tried again
        self.starts: dict[str, int] = {}  # node -> when its first pass may start (its lowest seq gap_grace old)
        self.received_us = 0  # the office's receipt of the message being verified
        self.pruned_us = 0    # when the coverage was last pruned (central/checks/coverage.py)
        self.watched_us = 0   # when the retention watch last ran (central/verifier/retention_watch.py)
        self.config_hash: str | None = None  # the node's newest birth's, written at the end of its pass
        self.ev: Evidence | None = None  # the pass's evidence and what it concluded (central/verifier/evidence.py)
        self.statements = 0   # statements a pass sent to the store (the benchmark's round trips a message)
        self.clock_heard_us = 0  # the newest node's answer to the office's time request taken (design/0310)
        self.settle: set[str] = set()  # the nodes that got a clock sample since the last run
        self.revoked_seen: list[tuple[Any, str, int, Any]] = []  # a pass's messages under a revoked key (design/0365)
        self.settled: dict[str, int] = {}  # node -> its newest sample's reading when its verdicts were last re-judged
        self.lines = clock_lines.Lines()  # the nodes' clock lines' pairs, kept (design/0405)

    def run_once(self, now: int | None = None) -> int:
        """Verify every node with something new; returns the messages verified. A node whose
        pass fails is a finding of that node; the others are verified all the same.

        Nodes are verified many to a transaction (each in its own savepoint, so a failing node
        is undone alone), a transaction at most CHUNK_S long: a commit per node was most of a
        fleet's verification time (issue 28; design/0027's addendum)."""
        now = self.store.now_us() if now is None else now
        self.standings = {}  # a revocation at the CA counts from the next run on
        todo = self.store.todo_nodes()
        # another instance may hold a node (a fleet on PostgreSQL, central/store/pgstore.py); one that
        # failed lately is tried again after RETRY_US, not every interval (the log); a new node's first
        # pass waits for its lowest seq to be gap_grace old (_pass), not read again every interval meanwhile
        mine = sorted(n for n in todo if self.store.lease(n) and self.failed.get(n, 0) <= now
                      and self.starts.get(n, 0) <= now)  # in node order
        self.take_clock_samples()  # before the passes: a backlog's destructions are judged on them
        done = self._chunks(mine, now) if self.overlap is None else self.overlap.run(self, mine, now)
        rejudge.settle(self, self.settle)
        self.settle = set()
        if now - self.pruned_us >= coverage.PRUNE_EVERY_US:
            self.prune_coverage(now)
            self.prune_clock_samples(now)
        if now - self.watched_us >= WATCH_EVERY_US:
            self.watch(now)
        return done

    def _chunks(self, mine: list[str], now: int) -> int:
        """The nodes verified many to a transaction, each in a savepoint (run_once)."""
        done, i = 0, 0
        while i < len(mine):
            with self.store.writing(durable=False):
                started = time.monotonic()
                while i < len(mine) and (time.monotonic() - started < CHUNK_S):
                    node, i = mine[i], i + 1
                    if not self.store.lease(node):
                        continue  # its share moved to another instance since the pass began (issue 43)
                    passes.savepoint(self.store.db, "node")
                    try:
                        done += self._pass(node, now)
                        self.failed.pop(node, None)
                    except Exception as exc:  # noqa: BLE001 - one node's data must never stop the fleet's verification
                        passes.rollback_to(self.store.db, "node")
                        self._failed(node, exc, now)
                    passes.release(self.store.db, "node")
        return done

    def _failed(self, node: str, exc: BaseException, now: int) -> None:
        """A node whose pass failed (undone already): a finding of the node, tried again after RETRY_US."""
        self.failed[node] = now + RETRY_US
        log.error("verifying %s failed; retrying in %d s", node, RETRY_US // 1_000_000, exc_info=exc)
        self.node, self.site = node, node.split("/", 1)[0]
        self._finding(verify.failed(exc, now // 86_400_000_000))

    def watch(self, now: int) -> int:
        """The retention watch on the office's clock (design/0122), for the nodes this instance
        verifies: footage kept past its maximum and a stopped retention pass, whether or not a
        destruction ever comes. Returns the findings made (a finding made before is not again)."""
        self.watched_us = now
        made = 0
        # a node with messages still to verify is not watched (its backlog may hold the destructions,
        # retention_watch.watch): one read for every node, not its rules and a probe each (design/0270)
        busy = set(self.store.todo_nodes(births=False))
        nodes = [r for r in passes.nodes(self.store.db)
                 if r["node"] not in busy and self.store.lease(r["node"])]
        for i in range(0, len(nodes), WATCH_CHUNK):  # a transaction a few hundred nodes: never a fleet's
            with self.store.writing(durable=False):
                for r in nodes[i:i + WATCH_CHUNK]:
                    self.node, self.site, self.name = r["node"], r["site"], r["name"]
                    passes.savepoint(self.store.db, "node")
                    try:
                        for f in retention_watch.watch(self.store.db, self.node, self._policy()["births"], self.lines):
                            made += self._finding(f)
                    except Exception:  # noqa: BLE001 - one node's data must never stop the fleet's watch
                        passes.rollback_to(self.store.db, "node")
                        log.exception("the retention watch of %s failed", self.node)
                    passes.release(self.store.db, "node")
        return made

    def take_clock_samples(self) -> set[str]:
        """The nodes' answers to the office's time requests, made clock samples (central/verifier/clock_samples.py
        `take_for`): the nodes this instance verifies that got one, whose destructions waiting on a
        bound are judged again at the end of the next run."""
        with self.store.writing(durable=False):
            self.clock_heard_us, got = clock_samples.take_for(self.store, self.standing, self.clock_heard_us)
        self.settle |= got
        return got

    def prune_coverage(self, now: int) -> int:
        """Store maintenance, once a day: forget the coverage no node may still hold the footage of
        (central/checks/coverage.py prune_before, by the longest maximum retention any birth announced)."""
        self.pruned_us = now
        longest: list[float | None] = []
        for payload in passes.every_birth(self.store.db):
            try:
                rules = node_births.retention_rules(json.loads(payload))
            except (ValueError, TypeError, AttributeError):
                continue
            longest += [rules["max_days"], *(mx for _mn, mx in rules["cameras"].values())]
        with self.store.writing(durable=False):
            gone = stored_coverage.prune(self.store.db, coverage.prune_before(now, longest))
        if gone:
            log.info("coverage: %d spans older than any node's retention forgotten", gone)
        return gone

    def prune_clock_samples(self, now: int) -> int:
        """The clock samples no verdict can need any more, with the coverage's (design/0344)."""
        return clock_samples.prune_nodes(self.store, now, lambda node: self._policy(passes.rules(self.store.db, node))["births"],
                                         retention_watch.oldest_held)

    def node_pass(self, node: str, now: int) -> int:
        with self.store.writing(durable=False):
            return self._pass(node, now)

    # one node -------------------------------------------------------------------------------
    def _pass(self, node: str, now: int) -> int:
        db = self.store.db
        row = passes.node(db, node)
        if row is None:
            return 0
        self.site, self.name, self.node = row["site"], row["name"], node
        self.key, self.session = row["public_key"], row["session"]
        self.head = None if row["head_seq"] is None else {"seq": row["head_seq"], "hash": row["head_hash"],
                                                          "at_us": row["head_at_us"]}
        self.config_hash = row.get("config_hash")
        cursor = row["verified_seq"]
        msgs = passes.page(db, node, PAGE)
        if not cursor and msgs and now - msgs[0][2] < self.grace:
            # a node's first pass starts at its lowest seq once that is gap_grace old: lower ones may
            # still be on their way (a dead member's session being drained, design/0210), and a cursor
            # starting above them would take them for late (a chain head behind one verified before)
            self.starts[node] = msgs[0][2] + self.grace
            return 0
        self.starts.pop(node, None)
        births = passes.births(db, node)  # once a pass: the new ones checked, every one's rules (design/0270)
        checked = self._births(births)
        if self.key is None and now - row["first_us"] < self.grace:
            passes.run(db, checked)
            if self.config_hash != row.get("config_hash"):
                passes.config_hash(db, node, self.config_hash)
            return 0  # its birth (with the key) is retained and comes on connect: wait for it a little
        policy = self._policy(births)
        bodies = [page.parse(payload) for _seq, _kind, _r, payload in msgs]
        self.ev = Evidence(db, node)
        try:
            self.ev.prefetch(*page.wanted(msgs, bodies))
            self.ev.line = clock_samples.line(db, node, clock_samples.readings(msgs, bodies), self.lines)
            self.revoked_seen = []
            n, done, late, cursor = self._page(msgs, bodies, cursor, now, policy)
            # the pass's conclusions, its messages marked verified and the node's row: on PostgreSQL
            # one statement (design/0270), each table in it written once
            then = self._revoked_count() + checked + passes.verified(db, node, done) + [
                passes.node_done(node, cursor, self.key, self.session, self.head or {}, self.config_hash)]
            last = functools.partial(overlap.last_write, self.ev, db, node, then, late)
        finally:
            self.ev = None
        self.statements += 3 + len(late)
        if self.overlap is not None:
            self.deferred = last  # written on the overlap's thread while the next node is verified
        else:
            self.statements += last()
        return n

    def _page(self, msgs: list[Any], bodies: list[Any], cursor: int, now: int, policy: dict[str, Any]
              ) -> tuple[int, list[int], list[int], int]:
        """A page of the node's messages through their checks, in seq order, from ``cursor`` (the
        highest verified seq): (messages verified, seqs to mark verified, late seqs, the new cursor)."""
        n, done, late, seen = 0, [], [], set()
        for (seq, kind, received_us, _payload), body in zip(msgs, bodies):
            if seq in seen or (cursor and seq <= cursor and self._verified_before(seq)):
                done.append(seq)  # stored twice (each side of a month's end, design/0213): judged once,
                continue          # both copies marked verified
            seen.add(seq)
            if cursor and seq > cursor + 1:
                if now - received_us < self.grace:
                    break  # a later message is here; the missing ones may still be on their way
                said = self._resend(cursor + 1, seq - 1, now)
                if said is None:
                    break  # asked for again: the node's answer, or the messages themselves, are on their way
                f = verify.gap(cursor, seq, said)
                if f is not None:
                    self._finding(f)
            self.received_us = received_us  # the office's clock at its receipt (design/0095)
            self._message(seq, kind, body, policy)
            if seq < cursor:
                late.append(seq)
            cursor = max(cursor, seq)  # a late message (below the cursor) is verified all the same
            done.append(seq)
            n += 1
        return n, done, late, cursor

    def _message(self, seq: int, kind: str, body: Any, policy: dict[str, Any]) -> None:
        """One message through its checks: whatever it does wrong is undone and is a finding; the
        pass goes on with the next message. The kinds a pass writes through its Evidence (a
        fleet's nearly every message) are undone there; the others in a savepoint."""
        ev = self.ev
        assert ev is not None
        if (kind == "audit" and isinstance(body, dict) and body.get("action") in verify.ACCESS_ACTIONS
                and not ev.judges(body)):
            ev.flush(("audit",))  # judging this access reads the records before it from the store
        st = self._revoked() if kind in NODES_WORD else None
        if st is not None:  # under a key the office had revoked when it came: never the node's record (issue 73);
            # one finding counts them (design/0365), made at the end of the pass
            self.revoked_seen.append((st, kind, seq, body.get("ts_us") if isinstance(body, dict) else None))
            return
        mark, head = ev.mark(), self.head
        saved = kind not in BUFFERED
        if saved:
            passes.savepoint(self.store.db, "msg")
        try:
            if isinstance(body, Exception):
                raise body
            handler = handler_of(kind)  # registered against its kind (central/verifier/handlers.py)
            if handler is not None and isinstance(body, dict):
                handler(self, seq, body, policy)
        except Exception as exc:  # noqa: BLE001 - a message, however built, never stops the pass
            ev.rollback(mark)
            self.head = head
            if saved:
                passes.rollback_to(self.store.db, "msg")
            at = body.get("ts_us") if isinstance(body, dict) else None
            self._finding(verify.unreadable(Msg(N_("{kind} message {seq}"), kind=kind, seq=seq), f"malformed:{seq}", at,
                                            exc))
        if saved:
            passes.release(self.store.db, "msg")
            self.statements += 2

    def _revoked_count(self) -> list[tuple[str, list[Any]]]:
        """The pass's messages under a revoked key as one finding a revocation, carrying on its count
        (central/keys/keystanding.py `revoked_messages`): kept with the pass's findings, and restated
        after them when it was kept before."""
        out: list[tuple[str, list[Any]]] = []
        for st, seen in keystanding.by_revocation(self.revoked_seen):
            key = f"{self.node}:key_revoked:messages:{st.revoked_us}"
            before = keystanding.detail_of(passes.finding_detail(self.store.db, key))
            f = keystanding.revoked_messages(st, seen, before)
            self._finding(f)
            if before is not None:
                out.append(passes.finding_now(key, f.kind, f.severity, f.message,
                                              finding_words.detail_json(f.message, f.detail)))
        self.revoked_seen = []
        return out

    def _births(self, births: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
        """The node's new births (``births``: every one of its births, by ts_us) checked against the
        newest one checked before; returns the statement marking them checked (run with the pass's
        writes, design/0270)."""
        new = [b for b in births if not b["checked"]]
        if not new:
            return []
        prev_row = next((b for b in reversed(births) if b["checked"] == 1), None)
        prev = json.loads(prev_row["payload"]) if prev_row else None
        for b in new:
            try:
                birth = json.loads(b["payload"])
                allowed = self.enrolled(self.node)
                st = self.standing(self.node, birth.get("public_key"))
                keys = keystanding.birth_findings(st, birth, b["received_us"]) or ca.birth_findings(allowed, birth)
                for f in node_births.birth_changes(prev, birth) + node_births.birth_rules(birth) + keys:
                    self._finding(f)
                prev = birth
                was = st.state == keystanding.REVOKED and not st.revoked_by(b["received_us"])  # revoked since
                if allowed is None or birth.get("public_key") in allowed or was:  # never a key the office did not enrol
                    self.key = birth.get("public_key") or self.key
                self.session = birth.get("session", self.session)
            except Exception as exc:  # noqa: BLE001 - schema-checked at ingest; a finding if it still fails
                self._finding(verify.unreadable(Msg(N_("birth {ts}"), ts=b["ts_us"]), f"malformed:birth:{b['ts_us']}",
                                                b["ts_us"], exc))
        if prev is not None:  # written with the pass's own update of the row, at its end (issue 53: an
            self.config_hash = prev.get("config_hash")  # update of its own waited on ingest's figures)
        return [passes.checked(self.node, [b["ts_us"] for b in new])]

    def _policy(self, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Every birth's retention rules in ts_us order: a destruction is judged against the rules
        in force when it happened (node_births.in_force), not the newest (issue 28). ``rows``: the node's
        births (ts_us, payload) by ts_us, read already."""
        births = []
        if rows is None:
            rows = passes.rules(self.store.db, self.node)
        for row in rows:
            try:
                births.append((row["ts_us"], node_births.retention_rules(json.loads(row["payload"]))))
            except (ValueError, TypeError, AttributeError):
                continue  # a birth that cannot be read has been a finding of its own (_births)
        return {"births": births}

    def _finding(self, f: verify.Finding) -> int:
        """Keep a finding (a finding made before is not again); returns 1 if it was new. In a pass,
        with the pass's others (central/verifier/evidence.py): 1, and a critical one is logged at its end
        if it was new."""
        row = (f"{self.node}:{f.key}", self.node, self.site, f.kind, f.severity, self.store.now_us(), f.about_us,
               f.message, finding_words.detail_json(f.message, f.detail))
        if self.ev is not None:
            self.ev.add("findings", row)
            return 1
        n = passes.finding(self.store.db, row)
        if f.severity == verify.CRITICAL and n:
            log.error("CRITICAL %s %s: %s", self.node, f.kind, f.message)
        return n
