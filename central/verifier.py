"""The verifier's I/O shell: reads each node's unverified messages from the store in seq order,
feeds them to the pure checks (central/verify.py), and writes the derived tables and the findings.

Runs inside `edged-central run` every [verify] interval. Several instances sharing one store
(a shared subscription) each run it; a node's pass is one IMMEDIATE transaction that marks
its messages verified, so no message is verified twice. Every stored message is verified,
also one below the node's newest seq (issue 28: a high seq must not blind the verifier); a
message whose checks raise is undone and is a finding, a node whose pass fails is a finding,
and the other nodes are verified all the same.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from central import ca, coverage, verify
from central.evidence import Evidence
from central.store import Store

log = logging.getLogger("edged.central")
PAGE = 20_000  # messages of one node per pass
RETRY_US = 60_000_000  # a node whose pass failed is tried again this much later
RESEND_TRIES = 5  # a gap is asked for again this many times, a gap_grace apart, before it is a finding
VERIFIED_ROWS = 500  # messages marked verified by one statement
BUFFERED = ("retention", "footage", "audit")  # kinds whose checks write through the pass's Evidence only
CHUNK_S = 0.1  # the longest one verification transaction runs: the nodes rows it updated stay locked till then, and ingest upserts them


def day_of(us: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(us / 1e6, tz).strftime("%Y-%m-%d")


Ask = Callable[[str, int, int, str], bool]  # (node, first seq, last seq, nonce): the signed cmd/resend sent


class Verifier:
    def __init__(self, store: Store, tz: ZoneInfo, gap_grace_us: int,
                 enrolled: Callable[[str], set[str] | None] | None = None, ask: Ask | None = None):
        self.store, self.tz, self.grace = store, tz, gap_grace_us
        self.ask = ask  # None: no resend is asked (a gap is a finding once gap_grace has passed)
        self.enrolled = enrolled or (lambda _node: None)  # the office's enrolments (central/ca.py, design/0097)
        self.failed: dict[str, int] = {}  # node -> when its pass may be tried again
        self.received_us = 0  # the office's receipt of the message being verified
        self.pruned_us = 0    # when the coverage was last pruned (central/coverage.py)
        self.config_hash: str | None = None  # the node's newest birth's, written at the end of its pass
        self.ev: Evidence | None = None  # the pass's evidence and what it concluded (central/evidence.py)
        self.statements = 0   # statements a pass sent to the store (the benchmark's round trips a message)

    def run_once(self, now: int | None = None) -> int:
        """Verify every node with something new; returns the messages verified. A node whose
        pass fails is a finding of that node; the others are verified all the same.

        Nodes are verified many to a transaction (each in its own savepoint, so a failing node
        is undone alone), a transaction at most CHUNK_S long: a commit per node was most of a
        fleet's verification time (issue 28; design/0027's addendum)."""
        now = self.store.now_us() if now is None else now
        todo = [r["node"] for r in self.store.db.query(
            "SELECT DISTINCT node FROM messages WHERE verified = 0 UNION SELECT node FROM births WHERE checked = 0")]
        # another instance may hold a node (a fleet on PostgreSQL, central/pgstore.py); one that
        # failed lately is tried again after RETRY_US, not every interval (the log)
        mine = sorted(n for n in todo if self.store.lease(n) and self.failed.get(n, 0) <= now)  # in node order
        done, i = 0, 0
        while i < len(mine):
            with self.store.writing(durable=False) as conn:
                started = time.monotonic()
                while i < len(mine) and (time.monotonic() - started < CHUNK_S):
                    node, i = mine[i], i + 1
                    if not self.store.lease(node):
                        continue  # its share moved to another instance since the pass began (issue 43)
                    conn.execute("SAVEPOINT node")
                    try:
                        done += self._pass(node, now)
                        self.failed.pop(node, None)
                    except Exception as exc:  # noqa: BLE001 - one node's data must never stop the fleet's verification
                        conn.execute("ROLLBACK TO node")
                        self.failed[node] = now + RETRY_US
                        log.exception("verifying %s failed; retrying in %d s", node, RETRY_US // 1_000_000)
                        self.node, self.site = node, node.split("/", 1)[0]
                        self._finding(verify.Finding("verify_failed", verify.WARNING,
                                                     f"a verification pass failed: {exc!r}"[:400],
                                                     f"verify_failed:{type(exc).__name__}:{now // 86_400_000_000}"))
                    conn.execute("RELEASE node")
        if now - self.pruned_us >= coverage.PRUNE_EVERY_US:
            self.prune_coverage(now)
        return done

    def prune_coverage(self, now: int) -> int:
        """Store maintenance, once a day: forget the coverage no node may still hold the footage of
        (central/coverage.py prune_before, by the longest maximum retention any birth announced)."""
        self.pruned_us = now
        longest: list[float | None] = []
        for row in self.store.db.query("SELECT payload FROM births"):
            try:
                rules = verify.retention_rules(json.loads(row["payload"]))
            except (ValueError, TypeError, AttributeError):
                continue
            longest += [rules["max_days"], *(mx for _mn, mx in rules["cameras"].values())]
        with self.store.writing(durable=False):
            gone = coverage.prune(self.store.db, coverage.prune_before(now, longest))
        if gone:
            log.info("coverage: %d spans older than any node's retention forgotten", gone)
        return gone

    def node_pass(self, node: str, now: int) -> int:
        with self.store.writing(durable=False):
            return self._pass(node, now)

    # one node -------------------------------------------------------------------------------
    def _pass(self, node: str, now: int) -> int:
        db = self.store.db
        row = next(db.query("SELECT * FROM nodes WHERE node = ?", [node]), None)
        if row is None:
            return 0
        self.site, self.name, self.node = row["site"], row["name"], node
        self.key, self.session = row["public_key"], row["session"]
        self.head = None if row["head_seq"] is None else {"seq": row["head_seq"], "hash": row["head_hash"],
                                                          "at_us": row["head_at_us"]}
        self.config_hash = row.get("config_hash")
        self._births(row)
        if self.key is None and now - row["first_us"] < self.grace:
            if self.config_hash != row.get("config_hash"):
                db.execute("UPDATE nodes SET config_hash = ? WHERE node = ?", [self.config_hash, node])
            return 0  # its birth (with the key) is retained and comes on connect: wait for it a little
        policy = self._policy()
        cursor = row["verified_seq"]
        msgs = db.execute("SELECT seq, kind, received_us, payload FROM messages WHERE node = ? AND verified = 0"
                          " ORDER BY seq LIMIT ?", [node, PAGE]).fetchall()
        bodies = [_parse(payload) for _seq, _kind, _r, payload in msgs]
        self.ev = Evidence(db, node)
        try:
            self.ev.prefetch(*_wanted(msgs, bodies))
            n, done, late = 0, [], []
            for (seq, kind, received_us, _payload), body in zip(msgs, bodies):
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
            self.ev.flush()
            self.statements += self.ev.statements
        finally:
            self.ev = None
        for i in range(0, len(done), VERIFIED_ROWS):  # a statement a few hundred messages, not one each
            chunk = done[i:i + VERIFIED_ROWS]
            db.execute(f"UPDATE messages SET verified = 1 WHERE node = ? AND seq IN ({', '.join('?' * len(chunk))})",
                       [node, *chunk])
        if late:
            self._late(late)
        h = self.head or {}
        db.execute("UPDATE nodes SET verified_seq = ?, public_key = ?, session = ?, head_seq = ?, head_hash = ?,"
                   " head_at_us = ?, config_hash = ? WHERE node = ?",
                   [cursor, self.key, self.session, h.get("seq"), h.get("hash"), h.get("at_us"), self.config_hash, node])
        self.statements += 4 + (len(done) + VERIFIED_ROWS - 1) // VERIFIED_ROWS + len(late)
        return n

    def _message(self, seq: int, kind: str, body: Any, policy: dict[str, Any]) -> None:
        """One message through its checks: whatever it does wrong is undone and is a finding; the
        pass goes on with the next message. The kinds a pass writes through its Evidence (a
        fleet's nearly every message) are undone there; the others in a savepoint."""
        ev = self.ev
        assert ev is not None
        if kind == "audit" and isinstance(body, dict) and body.get("action") in verify.ACCESS_ACTIONS:
            ev.flush(("audit",))  # judging an access reads the records before it from the store
        mark, head = ev.mark(), self.head
        saved = kind not in BUFFERED
        if saved:
            self.store.db.conn.execute("SAVEPOINT msg")
        try:
            if isinstance(body, Exception):
                raise body
            handler = getattr(self, "_on_" + kind, None)
            if handler is not None and isinstance(body, dict):
                handler(seq, body, policy)
        except Exception as exc:  # noqa: BLE001 - a message, however built, never stops the pass
            ev.rollback(mark)
            self.head = head
            if saved:
                self.store.db.conn.execute("ROLLBACK TO msg")
            at = body.get("ts_us") if isinstance(body, dict) else None
            self._finding(verify.Finding("malformed_message", verify.WARNING,
                                         f"{kind} message {seq} could not be read: {exc!r}"[:400],
                                         f"malformed:{seq}", at if isinstance(at, int) else None))
        if saved:
            self.store.db.conn.execute("RELEASE msg")
            self.statements += 2

    def _births(self, row: dict[str, Any]) -> None:
        db = self.store.db
        new = list(db.query("SELECT ts_us, payload FROM births WHERE node = ? AND checked = 0 ORDER BY ts_us",
                            [self.node]))
        if not new:
            return
        prev_row = next(db.query("SELECT payload FROM births WHERE node = ? AND checked = 1 ORDER BY ts_us DESC"
                                 " LIMIT 1", [self.node]), None)
        prev = json.loads(prev_row["payload"]) if prev_row else None
        for b in new:
            try:
                birth = json.loads(b["payload"])
                allowed = self.enrolled(self.node)
                for f in verify.birth_changes(prev, birth) + verify.birth_rules(birth) + ca.birth_findings(allowed,
                                                                                                         birth):
                    self._finding(f)
                prev = birth
                if allowed is None or birth.get("public_key") in allowed:  # never a key the office did not enrol
                    self.key = birth.get("public_key") or self.key
                self.session = birth.get("session", self.session)
            except Exception as exc:  # noqa: BLE001 - schema-checked at ingest; a finding if it still fails
                self._finding(verify.Finding("malformed_message", verify.WARNING,
                                             f"birth {b['ts_us']} could not be read: {exc!r}"[:400],
                                             f"malformed:birth:{b['ts_us']}", b["ts_us"]))
            db.execute("UPDATE births SET checked = 1 WHERE node = ? AND ts_us = ?", [self.node, b["ts_us"]])
        if prev is not None:  # written with the pass's own update of the row, at its end (issue 53: an
            self.config_hash = prev.get("config_hash")  # update of its own waited on ingest's figures)

    def _policy(self) -> dict[str, Any]:
        """Every birth's retention rules in ts_us order: a destruction is judged against the rules
        in force when it happened (verify.in_force), not the newest (issue 28)."""
        births = []
        for row in self.store.db.query("SELECT ts_us, payload FROM births WHERE node = ? ORDER BY ts_us",
                                       [self.node]):
            try:
                births.append((row["ts_us"], verify.retention_rules(json.loads(row["payload"]))))
            except (ValueError, TypeError, AttributeError):
                continue  # a birth that cannot be read has been a finding of its own (_births)
        return {"births": births}

    def _resend(self, first: int, last: int, now: int) -> str | None:
        """A gap older than gap_grace (issue 43 item 2): ask the node for it again (a signed
        `cmd/resend`), up to RESEND_TRIES times a gap_grace apart (a broker may deal the resent
        messages to a dead member of the group until its session expires); None while waiting,
        else what came of it, for the finding."""
        if self.ask is None:
            return ""
        db = self.store.db
        row = next(db.query("SELECT asked_us, nonce, tries FROM resends WHERE node = ? AND first_seq = ?",
                            [self.node, first]), None)
        answer = None if row is None else self._answer(row["nonce"])
        if answer is not None:
            said = verify.resend_answered(answer, first, last)
            if said is not None:
                return said  # refused, or the node no longer has them: asking again would not help
        if row is not None and now - row["asked_us"] < self.grace:
            return None
        if row is not None and row["tries"] >= RESEND_TRIES:
            return (f"; the node was asked {row['tries']} times to send them again and "
                    + ("did not answer" if answer is None else "did, but they did not arrive"))
        nonce = f"resend-{first}-{now}"
        if not self.ask(self.node, first, last, nonce):
            return "; the office could not ask the node to send them again (no broker connection)"
        db.execute("INSERT INTO resends (node, first_seq, last_seq, asked_us, nonce, tries) VALUES (?, ?, ?, ?, ?, 1)"
                   " ON CONFLICT (node, first_seq) DO UPDATE SET asked_us = excluded.asked_us,"
                   " nonce = excluded.nonce, tries = resends.tries + 1", [self.node, first, last, now, nonce])
        return None

    def _answer(self, nonce: str) -> dict[str, Any] | None:
        """The node's reply to the resend with this nonce, if it came (replies are few: read them all)."""
        for (payload,) in self.store.db.execute(
                "SELECT payload FROM messages WHERE node = ? AND kind = 'reply' ORDER BY seq DESC LIMIT 200",
                [self.node]).fetchall():
            try:
                body = json.loads(payload)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("cmd") == "resend" and body.get("nonce") == nonce:
                return body
        return None

    def _late(self, seqs: list[int]) -> None:
        """Messages once reported lost came after all (a broker held them for a member that was
        down): the seq_gap finding says how many are still missing, or becomes seq_late when none is."""
        db = self.store.db
        for row in list(db.query("SELECT key, detail FROM findings WHERE node = ? AND kind = 'seq_gap'", [self.node])):
            d = json.loads(row["detail"])
            first, last = d["first"], d["last"]
            if not any(first <= s <= last for s in seqs):
                continue
            got = db.execute("SELECT count(*) FROM messages WHERE node = ? AND seq BETWEEN ? AND ?",
                             [self.node, first, last]).fetchone()[0]
            f = verify.late(first, last, d["count"], got)
            db.execute("UPDATE findings SET kind = ?, severity = ?, message = ?, detail = ? WHERE key = ?",
                       [f.kind, f.severity, f.message, json.dumps(f.detail, sort_keys=True), row["key"]])

    def _finding(self, f: verify.Finding) -> None:
        row = (f"{self.node}:{f.key}", self.node, self.site, f.kind, f.severity, self.store.now_us(), f.about_us,
               f.message, json.dumps(f.detail, sort_keys=True, ensure_ascii=False))
        if self.ev is not None:
            self.ev.add("findings", row)  # written with the pass's others (central/evidence.py)
        else:
            self.store.db.execute("INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us,"
                                  " message, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row))
        if f.severity == verify.CRITICAL:
            log.error("CRITICAL %s %s: %s", self.node, f.kind, f.message)

    # message kinds ----------------------------------------------------------------------------
    def _hash(self, seq_local: int) -> str | None:
        """The hash audit record ``seq_local`` was received with (None: not received)."""
        return self.store.audit_hash(self.node, seq_local) if self.ev is None else self.ev.audit_hash(seq_local)

    def _on_audit(self, seq: int, m: dict[str, Any], policy: dict[str, Any]) -> None:
        if "seq_local" in m and "prev_hash" in m and "action" in m:
            s = m["seq_local"]
            known = self._hash(s)
            before = self._hash(s - 1) if s > 1 else None
            findings = verify.check_record(m, before=before, known=known)
            for f in findings:
                self._finding(f)
            if known is None:
                assert self.ev is not None
                self.ev.audit((self.node, s, m["at_us"], m["actor"], m["action"],
                               json.dumps(m.get("detail") or {}, sort_keys=True, ensure_ascii=False), m["prev_hash"],
                               m["hash"], seq))
                if not findings and m["action"] in verify.ACCESS_ACTIONS:
                    self._access({**m, "seq": s})
        elif m.get("kind") != "chain_head":
            return  # a command record: on the chain through its own mqtt.command record
        signed = m.get("signed_head")
        if signed is None:
            s = m.get("seq_local")
            self._finding(verify.Finding("head_unsigned", verify.WARNING, f"chain head {s} came unsigned (edged "
                                         "before 0.2, or the signature was stripped)", f"head_unsigned:{seq}",
                                         m.get("at_us")))
            return
        if signed.get("seq") != m.get("seq_local") or signed.get("hash") != (m.get("hash")):
            self._finding(verify.Finding("head_bad_signature", verify.CRITICAL, f"message {seq}: the signed head "
                                         "does not name the record it came with", f"head_mismatch:{seq}",
                                         m.get("at_us")))
            return
        self.add_head(signed, seq, "mqtt")

    def add_head(self, signed: dict[str, Any], msg_seq: int, source: str) -> bool:
        """Check a signed head and keep it (valid or not); returns whether its signature is valid."""
        valid, findings = verify.check_head(signed, site=self.site, name=self.name, key=self.key,
                                            record_hash=self._hash(signed["seq"]),
                                            last=self.head)
        for f in findings:
            self._finding(f)
        row = (self.node, msg_seq, signed["seq"], signed["hash"], signed["at_us"], signed["sig"], int(valid), source)
        if self.ev is not None:
            self.ev.add("heads", row)
        else:
            self.store.db.execute("INSERT OR IGNORE INTO heads (node, msg_seq, seq_local, hash, at_us, sig, valid,"
                                  " source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row))
        if valid and (self.head is None or signed["seq"] >= self.head["seq"]):
            self.head = {"seq": signed["seq"], "hash": signed["hash"], "at_us": signed["at_us"]}
        return valid

    def _access(self, rec: dict[str, Any]) -> None:
        ok, why = self.judge(self.node, rec)
        if not ok:
            self._finding(verify.Finding("access_unapproved", verify.CRITICAL, f"{rec['action']} by "
                                         f"{verify.account(rec['actor'])} (audit record {rec['seq']}): {why}",
                                         f"access:{rec['seq']}", rec["at_us"], {"seq_local": rec["seq"]}))

    def judge(self, node: str, rec: dict[str, Any]) -> tuple[bool, str]:
        return judge_in_store(self.store, node, rec)

    def _on_alarm(self, _seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        at = m.get("at_us") or m.get("ts_us")
        if m["action"] == "raise":
            self.store.db.execute("INSERT OR IGNORE INTO alarms (node, id, raised_us, kind, severity, camera, message)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  [self.node, m["id"], at, m.get("kind"), m.get("severity"), m.get("camera"),
                                   m.get("message")])
        else:
            self.store.db.execute("UPDATE alarms SET cleared_us = ? WHERE node = ? AND id = ? AND cleared_us IS NULL",
                                  [at, self.node, m["id"]])

    def _on_ethics(self, seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        """A major or abnormal request (design/0083): its own finding, for the ethics office."""
        self._finding(verify.ethics(seq, m))

    def _on_footage(self, _seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        """Footage the node recorded: the office's clock says when it first heard of it (design/0095)."""
        assert self.ev is not None
        first, last = m["first_id"], m["last_id"]
        if not (isinstance(first, int) and isinstance(last, int)):
            raise TypeError(f"footage ids {first!r}..{last!r}")
        spans = list(coverage.spans_of(m.get("spans")))  # the time it covers, counted once (design/0115)
        self.ev.footage(first, last, self.received_us)
        for camera, row in spans:
            self.ev.add("coverage", (self.node, camera, *row))

    def _on_retention(self, seq: int, m: dict[str, Any], policy: dict[str, Any]) -> None:
        """A pass's destructions (or one, from a box before issue 53), each judged alone."""
        assert self.ev is not None
        gone = verify.destructions(m)
        for i, d in enumerate(gone):
            mark = self.ev.mark()
            try:
                self._destruction(seq, d, policy)
            except Exception as exc:  # noqa: BLE001 - one destruction, however built, never stops the others
                if len(gone) == 1 and d is m:
                    raise  # the old shape: the message is the destruction
                self.ev.rollback(mark)
                self._finding(verify.Finding("malformed_message", verify.WARNING,
                                             f"retention message {seq}, destruction {i + 1}, could not be read: "
                                             f"{exc!r}"[:400], f"malformed:{seq}:{i}"))

    def _destruction(self, seq: int, m: dict[str, Any], policy: dict[str, Any]) -> None:
        assert self.ev is not None
        birth_ts, rules = verify.in_force(policy["births"], m["destroyed_us"])
        low, high = verify.limits(rules, m["camera"])
        verdict, why = verify.judge_destruction(m, min_days=low, max_days=high)
        heard, first = self.ev.heard_of(m.get("segment_id"))
        office = verify.judge_by_office(m, heard_us=heard, reported_us=self.received_us, max_days=high,
                                        announced_from=first)
        if office is not None and office[0] != "ok" and verdict == "ok":
            verdict, why = office  # the office's clock decides, whatever the node's stamps say
        day = day_of(m["destroyed_us"], self.tz)
        self.ev.add("days", (self.node, m["camera"], day, m["reason"], verdict, 1, m.get("bytes") or 0,
                             (m["destroyed_us"] - m["end_us"] - (m.get("shift_us") or 0)) / 86_400e6))
        if verdict != "ok":
            kind = "destroyed_early" if verdict == "early" else "min_retention_breached"
            self._finding(verify.Finding(kind, verify.CRITICAL, f"camera {m['camera']}: footage "
                                         f"{day_of(m['start_us'], self.tz)} {why}", f"{kind}:{m['camera']}:{day}",
                                         m["destroyed_us"], {"camera": m["camera"], "day": day, "msg_seq": seq,
                                                             "rules_of_birth_us": birth_ts, "min_days": low,
                                                             "max_days": high, "heard_us": heard,
                                                             "reported_us": self.received_us}))

    def _on_inspection(self, _seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        self.store.db.execute(
            "INSERT INTO inspections (node, run, kind, due_us, ran_us, signed_us, countersigned_us, inspector,"
            " supervisor, cameras) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node, run) DO UPDATE SET"
            " signed_us = excluded.signed_us, countersigned_us = excluded.countersigned_us,"
            " inspector = excluded.inspector, supervisor = excluded.supervisor",
            [self.node, m["run"], m.get("kind"), m.get("due_us"), m.get("ran_us"), m.get("signed_us"),
             m.get("countersigned_us"), m.get("inspector"), m.get("supervisor"),
             json.dumps(m.get("cameras") or {}, sort_keys=True)])


def judge_in_store(store: Store, node: str, rec: dict[str, Any]) -> tuple[bool, str]:
    """judge_access with the grant's approval, the request's filing and earlier uses read from the store."""
    grant = (rec.get("detail") or {}).get("grant")
    db = store.db
    approve = filed = None
    uses = 0
    if grant is not None:
        a = next(db.query("SELECT * FROM audit WHERE node = ? AND action = 'request.approve'"
                          " AND json_extract(detail, '$.grant') = ? ORDER BY seq_local LIMIT 1", [node, grant]), None)
        if a is not None:
            approve = {**a, "detail": json.loads(a["detail"])}
            rid = approve["detail"].get("request")
            f = next(db.query("SELECT * FROM audit WHERE node = ? AND action = 'request.file'"
                              " AND json_extract(detail, '$.request') = ? ORDER BY seq_local LIMIT 1", [node, rid]), None)
            filed = None if f is None else {**f, "detail": json.loads(f["detail"])}
        uses = db.execute("SELECT count(*) FROM audit WHERE node = ? AND action = 'grant.use'"
                          " AND json_extract(detail, '$.grant') = ? AND seq_local < ?",
                          [node, grant, rec["seq"]]).fetchone()[0]
    return verify.judge_access(rec, approve=approve, filed=filed, earlier_uses=uses)


def _parse(payload: str) -> Any:
    """A stored message's body, or why it cannot be read (a finding of its message, in the pass)."""
    try:
        return json.loads(payload)
    except ValueError as exc:
        return exc


def _wanted(msgs: list[Any], bodies: list[Any]) -> tuple[list[int], list[int]]:
    """What a page of messages will ask of the store: the audit records (seq_local, the one
    before it, a head's) and the segments its destructions name (central/evidence.py prefetch)."""
    audits: list[int] = []
    segments: list[int] = []
    for (_seq, kind, _r, _p), m in zip(msgs, bodies):
        if not isinstance(m, dict):
            continue
        if kind == "audit":
            s, head = m.get("seq_local"), m.get("signed_head")
            if isinstance(s, int):
                audits += [s, s - 1]
            if isinstance(head, dict) and isinstance(head.get("seq"), int):
                audits.append(head["seq"])
        elif kind == "retention":
            segments += [d["segment_id"] for d in verify.destructions(m)
                         if isinstance(d, dict) and isinstance(d.get("segment_id"), int)]
    return audits, segments
