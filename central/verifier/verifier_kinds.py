"""The verifier's handlers of each kind of message, each registered against its kind (`@handles`,
central/verifier/handlers.py; central/verifier/verifier.py runs them in a node's pass, in seq
order): what each message says, checked by the pure functions of central/checks/verify.py,
written through the pass's Evidence (central/verifier/evidence.py) or, for the few kinds a day, at once.
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from central.checks import coverage, node_births, quick_verdict, verdicts, verify
from central.keys import keystanding
from central.verifier.evidence import Evidence
from central.store import intakes, passes
from central.store.store import Store
from central.store.store_schema import destruction_row
from central.i18n import N_
from central.verifier.handlers import handles
from mqtt import kinds
from storage.msg import Msg
from storage.time.readings import readings

log = logging.getLogger("edged.central")
__all__ = ["MessageKinds", "day_of", "judge_in_store"]


def day_of(us: int, tz: ZoneInfo) -> str:
    """The local day of ``us`` (a second's, remembered: a pass's destructions share a few)."""
    return _day_of_second(us // 1_000_000, tz)  # a day begins on a whole second in every zone


@functools.lru_cache(maxsize=4096)
def _day_of_second(second: int, tz: ZoneInfo) -> str:
    return _day(second * 1_000_000, tz)


def _day(us: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(us / 1e6, tz).strftime("%Y-%m-%d")


class MessageKinds:
    """A mixin of central/verifier/verifier.py's Verifier: the node being verified is its state."""

    store: Store
    tz: ZoneInfo
    ev: Evidence | None
    node: str
    site: str
    name: str
    key: str | None
    head: dict[str, Any] | None
    received_us: int
    standing: Callable[[str, str | None], keystanding.Standing]
    standings: dict[tuple[str, str], keystanding.Standing]  # standing's answers this run (central/verifier/verifier.py)
    statements: int
    revoked_seen: list[tuple[Any, str, int, Any]]  # a pass's messages under a revoked key (design/0365)
    receipt: Callable[[str, str, int], None] | None  # (node, manifest SHA-256, heard_us): design/0318

    def _finding(self, f: verify.Finding) -> int:
        raise NotImplementedError

    def _hash(self, seq_local: int) -> str | None:
        """The hash audit record ``seq_local`` was received with (None: not received)."""
        return self.store.audit_hash(self.node, seq_local) if self.ev is None else self.ev.audit_hash(seq_local)

    @handles(kinds.AUDIT)
    def _on_audit(self, seq: int, m: dict[str, Any], policy: dict[str, Any]) -> None:
        if "seq_local" in m and "prev_hash" in m and "action" in m:
            s = m["seq_local"]
            known = self._hash(s)
            before = self._hash(s - 1) if s > 1 else None
            findings = verify.check_record(m, before=before, known=known)
            for f in findings:
                self._finding(f)
            st = self._revoked()
            if st is not None:  # not on the node's chain: the office revoked the key it speaks with; counted
                self._revoked_one(st, "audit", seq, m.get("at_us"), Msg(N_("audit record {seq}"), seq=s), f"audit:{seq}")
            elif known is None:
                assert self.ev is not None
                self.ev.audit((self.node, s, m["at_us"], m["actor"], m["action"],
                               json.dumps(m.get("detail") or {}, sort_keys=True, ensure_ascii=False), m["prev_hash"],
                               m["hash"], seq))
                if not findings and m["action"] in verify.ACCESS_ACTIONS:
                    self._access({**m, "seq": s})
                if not findings:
                    self._receipt(m)
        elif m.get("kind") != "chain_head":
            return  # a command record: on the chain through its own mqtt.command record
        signed = m.get("signed_head")
        if signed is None:
            s = m.get("seq_local")
            self._finding(verify.head_unsigned(s, seq, m.get("at_us")))
            return
        if signed.get("seq") != m.get("seq_local") or signed.get("hash") != (m.get("hash")):
            self._finding(verify.head_mismatch(seq, m.get("at_us")))
            return
        self.add_head(signed, seq, "mqtt")

    def _revoked_one(self, st: Any, kind: str, seq: int, at_us: Any, what: Msg, ident: str) -> None:
        """A message under a key the office had revoked: counted in the pass's one finding
        (central/verifier/verifier.py `_revoked_count`, design/0365); outside a pass, its own finding."""
        if self.ev is not None:
            self.revoked_seen.append((st, kind, seq, at_us))
        else:
            self._finding(keystanding.revoked_message(what, ident, at_us, st))

    def _receipt(self, m: dict[str, Any]) -> None:
        """An export's record, on the node's chain and verified: its manifest's receipt to the box,
        timed by the office's receipt of the record (design/0318)."""
        digest = (m.get("detail") or {}).get("manifest_sha256")
        if self.receipt is not None and m["action"] == "export.done" and isinstance(digest, str):
            self.receipt(self.node, digest, self.received_us or self.store.now_us())

    def add_head(self, signed: dict[str, Any], msg_seq: int, source: str) -> bool:
        """Check a signed head and keep it (valid or not); returns whether its signature is valid."""
        valid, findings = verify.check_head(signed, site=self.site, name=self.name, key=self.key,
                                            record_hash=self._hash(signed["seq"]),
                                            last=self.head)
        st = self._revoked() if valid else None
        if st is not None:  # a good signature of a key the office had revoked when the head came
            valid, findings = False, []
            self._revoked_one(st, "audit", msg_seq, signed.get("at_us"), Msg(N_("chain head {seq}"), seq=signed['seq']),
                              f"head:{msg_seq}")
        for f in findings:
            self._finding(f)
        row = (self.node, msg_seq, signed["seq"], signed["hash"], signed["at_us"], signed["sig"], int(valid), source)
        if self.ev is not None:
            self.ev.add("heads", row)
        else:
            passes.head(self.store.db, row)
        if valid and (self.head is None or signed["seq"] >= self.head["seq"]):
            self.head = {"seq": signed["seq"], "hash": signed["hash"], "at_us": signed["at_us"]}
        return valid

    def _revoked(self) -> keystanding.Standing | None:
        """The node key's standing when the office had revoked it by its receipt of the message
        being verified (by now for a head typed in by hand), else None."""
        st = keystanding.NOBODY
        if self.key:  # read once a node and key a run (a stat of the register each message was ~10 % of a pass)
            st = self.standings.get((self.node, self.key)) or self.standings.setdefault(
                (self.node, self.key), self.standing(self.node, self.key))
        return st if st.revoked_by(self.received_us or self.store.now_us()) else None

    def _access(self, rec: dict[str, Any]) -> None:
        ok, why = self.judge(self.node, rec)
        if not ok:
            self._finding(verify.unapproved(rec, why))

    def judge(self, node: str, rec: dict[str, Any]) -> tuple[bool, str]:
        """judge_in_store's answer: from the pass's evidence when it holds the records (design/0270)."""
        got = None if self.ev is None else self.ev.access(rec)
        if got is None:  # the pass's records before it are in the store (central/verifier/verifier.py _message)
            return judge_in_store(self.store, node, rec)
        approve, filed, uses = got
        return verify.judge_access(rec, approve=approve, filed=filed, earlier_uses=uses)

    @handles(kinds.ALARM)
    def _on_alarm(self, _seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        at = m.get("at_us") or m.get("ts_us")
        if m["action"] == "raise":
            words = m.get("words")  # checked at ingest (mqtt/kinds.py WORDS); absent from a box before issue 80
            passes.alarm(self.store.db, [self.node, m["id"], at, m.get("kind"), m.get("severity"), m.get("camera"),
                                         m.get("message"), None if words is None else json.dumps(words, ensure_ascii=False)])
        else:
            passes.alarm_cleared(self.store.db, self.node, m["id"], at)

    @handles(kinds.ETHICS)
    def _on_ethics(self, seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        """A major or abnormal request (design/0083): its own finding, for the ethics office."""
        self._finding(verify.ethics(seq, m))

    @handles(kinds.INTAKE)
    def _on_intake(self, seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        """A portable device's recording the box took in (design/0349): kept for the month page."""
        intakes.put(self.store.db, self.node, self.site, seq, m, self.received_us)

    @handles(kinds.INTAKE_DESTROYED)
    def _on_intake_destroyed(self, seq: int, m: dict[str, Any], policy: dict[str, Any]) -> None:
        """An intake's original destroyed by the box's retention (design/0355): recorded on the
        intake's row (the first word kept) and judged against the minimum counted from the intake."""
        heard = intakes.one(self.store.db, self.node, m["intake"])
        if heard is not None and heard.get("destroyed_us") is not None:
            return  # said again (a resend): judged once
        camera = (heard or {}).get("camera") or m.get("camera") or "-"  # as the intake said it, when heard of
        _birth, rules = node_births.in_force(policy["births"], m["destroyed_us"])
        low, _high = node_births.limits(rules, camera)
        verdict, finding = verify.original_destroyed(m, heard, low, camera)
        if heard is not None and heard.get("sha256") == m["sha256"]:
            intakes.destroyed(self.store.db, self.node, m, self.received_us, verdict)
        if finding is not None:
            self._finding(finding)

    @handles(kinds.FOOTAGE)
    def _on_footage(self, seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        """Footage the node recorded: the office's clock says when it first heard of it (design/0095),
        and what else it holds of when it was recorded (design/0122). Kept with the pass's
        conclusions (central/verifier/evidence.py), its clock offset read from the page's window."""
        assert self.ev is not None
        first, last = m["first_id"], m["last_id"]
        if not (isinstance(first, int) and isinstance(last, int)):
            raise TypeError(f"footage ids {first!r}..{last!r}")
        spans = list(coverage.spans_of(m.get("spans")))  # the time it covers, counted once (design/0115)
        self.ev.footage(seq, m, self.received_us)
        for camera, row in spans:
            self.ev.add("coverage", (self.node, camera, *row))

    @handles(kinds.RETENTION)
    def _on_retention(self, seq: int, m: dict[str, Any], policy: dict[str, Any]) -> None:
        """A pass's destructions (or one, from a box before issue 53), each judged alone."""
        assert self.ev is not None
        gone = verify.destructions(m)
        forged = verify.forged(seq, m)  # stamped after the message reporting them (design/0365)
        if forged is not None:
            self._finding(forged)
        for i, d in enumerate(gone):
            try:
                rows, finding = self._destruction(seq, i, d, policy, m.get("ts_us"))
            except Exception as exc:  # noqa: BLE001 - one destruction, however built, never stops the others
                if len(gone) == 1 and d is m:
                    raise  # the old shape: the message is the destruction
                self._finding(verify.unreadable(Msg(N_("retention message {seq}, destruction {n}"), seq=seq, n=i + 1),
                                                f"malformed:{seq}:{i}", None, exc))
                continue
            for table, row in rows.items():
                self.ev.add(table, row)
            if finding is not None:
                self._finding(finding)

    def _destruction(self, seq: int, n: int, m: dict[str, Any], policy: dict[str, Any], report_ts: Any = None
                     ) -> tuple[dict[str, tuple[Any, ...]], verify.Finding | None]:
        """One destruction judged on every clock (central/checks/verdicts.py, design/0122), the ``n``-th of
        message ``seq``: its rows (destruction_days, destructions one by one for the auditor's month,
        retention_heard) and its finding, if any; nothing written."""
        assert self.ev is not None
        birth_ts, rules = node_births.in_force(policy["births"], m["destroyed_us"])
        low, high = node_births.limits(rules, m["camera"])
        found, _first = self.ev.heard_of(m.get("segment_id"))
        heard = None if found is None else found.heard
        v = quick_verdict.verdict(verify.bounded(m, report_ts), heard=heard, reported_us=self.received_us,
                                  min_days=low, max_days=high, line=self.ev.line)  # None: "ok" (design/0456, 0475, 0531)
        verdict = "ok" if v is None else v.verdict
        day = day_of(m["destroyed_us"], self.tz)
        sid = m.get("segment_id")
        rows = {"days": (self.node, m["camera"], day, m["reason"], verdict, 1, m.get("bytes") or 0,
                         readings(m).own_age_us / 86_400e6),
                "destructions": destruction_row(self.node, self.site, seq, n, m, verdict),
                "retention_heard": (self.node, sid if isinstance(sid, int) and not isinstance(sid, bool) else None,
                                    self.received_us)}
        if v is None or verdict == "ok":
            return rows, None
        return rows, verify.destroyed(verdict, m["camera"], day_of(m["start_us"], self.tz), v.why, day,
                                      self.received_us if v.clock == verdicts.OFFICE else m["destroyed_us"],
                                      {"camera": m["camera"], "day": day, "msg_seq": seq, "rules_of_birth_us": birth_ts,
                                       "min_days": low, "max_days": high,
                                       "heard_us": None if found is None else found.heard.heard_us,
                                       "reported_us": self.received_us, **v.basis()})

    @handles(kinds.INSPECTION)
    def _on_inspection(self, _seq: int, m: dict[str, Any], _policy: dict[str, Any]) -> None:
        passes.inspection(self.store.db, [self.node, m["run"], m.get("kind"), m.get("due_us"), m.get("ran_us"), m.get("signed_us"),
             m.get("countersigned_us"), m.get("inspector"), m.get("supervisor"),
             json.dumps(m.get("cameras") or {}, sort_keys=True)])


def judge_in_store(store: Store, node: str, rec: dict[str, Any]) -> tuple[bool, str]:
    """judge_access with the grant's approval, the request's filing and earlier uses read from the store."""
    grant = (rec.get("detail") or {}).get("grant")
    db = store.db
    approve = filed = None
    uses = 0
    if grant is not None:
        a = passes.approval(db, node, grant)
        if a is not None:
            approve = {**a, "detail": json.loads(a["detail"])}
            rid = approve["detail"].get("request")
            f = passes.filing(db, node, rid)
            filed = None if f is None else {**f, "detail": json.loads(f["detail"])}
        uses = passes.earlier_uses(db, node, grant, rec["seq"])
    return verify.judge_access(rec, approve=approve, filed=filed, earlier_uses=uses)
