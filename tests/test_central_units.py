"""edged-central's pure parts (issue 21): signed heads, the chain and head checks, births,
accesses, destructions, compliance days, the config; plus the store's idempotent ingest and
the verifier over a real SQLite file, fed real payload shapes (mqtt/reporter.py,
edged/daemon/reporting.py)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from central.report import compliance
from central import config
from central.checks import node_births, verify
from central.verifier.logcheck import check as check_log
from central.store.store import Store
from central.verifier.verifier import Verifier
from storage import audit
from storage.keys import chainhead
from storage.keys.nodekey import NodeKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.support.catalog import central_verdicts
from tests.support.daemon import ROOT

UTC = ZoneInfo("UTC")
DAY = 86_400_000_000
T0 = 1_795_000_000_000_000


@pytest.fixture(scope="module")
def key() -> NodeKey:
    return NodeKey(Ed25519PrivateKey.generate())


def chain(n: int, actor: str = "carol") -> list[dict]:
    prev, out = audit.GENESIS, []
    for i in range(1, n + 1):
        body = {"seq": i, "at_us": T0 + i, "actor": actor, "action": "login", "detail": {"via": "cli"}}
        h = audit.record_hash(prev, body)
        out.append({"seq_local": i, "at_us": body["at_us"], "actor": actor, "action": "login",
                    "detail": body["detail"], "prev_hash": prev, "hash": h, "chain_head": h})
        prev = h
    return out


# signed heads -----------------------------------------------------------------------------------
def test_a_signed_head_checks_only_for_its_node_and_key(key):
    h = chainhead.sign(key, "s1", "n1", 7, "ab" * 32, T0)
    assert chainhead.check(key.public_b64, "s1", "n1", h)
    assert not chainhead.check(key.public_b64, "s1", "n2", h), "replayed as another node's"
    assert not chainhead.check(key.public_b64, "s1", "n1", {**h, "seq": 8})
    other = NodeKey(Ed25519PrivateKey.generate())
    assert not chainhead.check(other.public_b64, "s1", "n1", h)
    assert not chainhead.check("not a key", "s1", "n1", h)
    site, node, back = chainhead.from_line(chainhead.to_line("s1", "n1", h))
    assert (site, node, back) == ("s1", "n1", h)
    with pytest.raises(ValueError, match="not a signed chain head line"):
        chainhead.from_line("edged-head v1 s1/n1 7")


# the audit chain ------------------------------------------------------------------------------
def test_records_altered_or_not_following_what_was_received_are_critical():
    c = chain(3)
    assert verify.check_record(c[1], before=c[0]["hash"], known=None) == []
    altered = {**c[1], "actor": "mallory"}
    assert [f.kind for f in verify.check_record(altered, before=c[0]["hash"], known=None)] == ["audit_record_altered"]
    rewritten = chain(3, actor="mallory")  # re-hashed from the start: consistent, but not what was received
    f = verify.check_record(rewritten[2], before=c[1]["hash"], known=None)
    assert [x.kind for x in f] == ["audit_fork"] and f[0].severity == "critical" and "record 3" in f[0].message
    f = verify.check_record(rewritten[1], before=None, known=c[1]["hash"])
    assert [x.kind for x in f] == ["audit_fork"] and "arrived again with another hash" in f[0].message


def test_heads_bad_signature_fork_and_regression(key):
    h = chainhead.sign(key, "s", "n", 5, "aa" * 32, T0)
    ok, f = verify.check_head(h, site="s", name="n", key=key.public_b64, record_hash="aa" * 32, last=None)
    assert ok and f == []
    forged = {**h, "hash": "bb" * 32}
    ok, f = verify.check_head(forged, site="s", name="n", key=key.public_b64, record_hash=None, last=None)
    assert not ok and [x.kind for x in f] == ["head_bad_signature"]
    other = chainhead.sign(key, "s", "n", 5, "bb" * 32, T0 + 1)
    ok, f = verify.check_head(other, site="s", name="n", key=key.public_b64, record_hash="aa" * 32,
                              last={"seq": 5, "hash": "aa" * 32})
    assert ok and [x.kind for x in f] == ["audit_fork", "audit_fork"]
    back = chainhead.sign(key, "s", "n", 3, "cc" * 32, T0 + 2)
    ok, f = verify.check_head(back, site="s", name="n", key=key.public_b64, record_hash=None,
                              last={"seq": 5, "hash": "aa" * 32})
    assert [x.kind for x in f] == ["audit_head_regressed"]
    ok, f = verify.check_head(h, site="s", name="n", key=None, record_hash=None, last=None)
    assert not ok and [x.kind for x in f] == ["head_unverifiable"]


@pytest.mark.parametrize("prev,new,kinds", [
    (None, {"session": 1}, []),
    ({"session": 1, "public_key": "A"}, {"session": 2, "public_key": "B"}, ["key_changed"]),
    ({"session": 2, "public_key": "A"}, {"session": 2, "public_key": "B"}, ["key_changed_without_birth"]),
    ({"session": 3}, {"session": 2}, ["session_regressed"]),
    ({"session": 1, "config_hash": "x"}, {"session": 2, "config_hash": "y"}, ["config_changed"]),
    ({"session": 1, "cameras": [{"id": "a"}]}, {"session": 2, "cameras": [{"id": "b"}]}, ["cameras_changed"]),
    ({"session": 1, "version": "0.1.0"}, {"session": 2, "version": "0.2.0"}, ["software_changed"]),
    # issue 28: a rule that lets footage go sooner is a warning, not an info config_changed
    ({"config_hash": "x", "retention": {"min_days": 30, "max_days": 365}},
     {"config_hash": "y", "retention": {"min_days": 30, "max_days": 60}}, ["config_changed", "retention_lowered"]),
    ({"retention": {"min_days": 30, "max_days": 365}}, {"retention": {"min_days": 7, "max_days": 365}},
     ["retention_lowered"]),
    ({"retention": {"min_days": 30, "max_days": 60}}, {"retention": {"min_days": 90, "max_days": 365}}, []),
    ({"cameras": [{"id": "a"}], "retention": {"min_days": 30, "max_days": 365}},
     {"cameras": [{"id": "a"}], "retention": {"min_days": 30, "max_days": 365,
                                              "cameras": {"a": {"min_days": 30, "max_days": 31}}}},
     ["retention_lowered"]),
    ({"retention": "x"}, {"retention": {"min_days": 1, "max_days": 2}}, []),
])
def test_birth_changes(prev, new, kinds):
    assert [f.kind for f in node_births.birth_changes(prev, new)] == kinds


def test_a_lowered_retention_names_each_limit_and_the_grace():
    f = node_births.birth_changes({"retention": {"min_days": 30, "max_days": 365}},
                             {"ts_us": T0, "retention": {"min_days": 30, "max_days": 60, "grace_hours": 24,
                                                         "cameras": {"b": {"min_days": 7, "max_days": 60}}}})
    assert [(x.kind, x.severity) for x in f] == [("retention_lowered", "warning")]
    assert f[0].detail["changes"] == [
        {"camera": None, "setting": "max_days", "old": 365, "new": 60},
        {"camera": "b", "setting": "min_days", "old": 30, "new": 7},
        {"camera": "b", "setting": "max_days", "old": 365, "new": 60}]
    assert "site maximum 365 -> 60 days" in f[0].message and "grace of 24 h" in f[0].message


def test_a_birth_with_the_test_setting_is_critical():
    assert node_births.birth_rules({"retention": {"min_days": 30, "max_days": 365, "allow_short_for_tests": False}}) == []
    assert node_births.birth_rules({"retention": "x"}) == [] and node_births.birth_rules({}) == []
    f = node_births.birth_rules({"ts_us": T0, "config_hash": "h", "retention": {"allow_short_for_tests": True}})
    assert [(x.kind, x.severity, x.key) for x in f] == [("test_retention_allowed", "critical",
                                                          "test_retention_allowed:h")]


def test_the_rules_in_force_are_the_newest_birth_before_the_moment():
    births = [(T0, node_births.retention_rules({"retention": {"min_days": 30, "max_days": 30}})),
              (T0 + 100 * DAY, node_births.retention_rules({"retention": {"min_days": 30, "max_days": 365,
                                                                     "cameras": {"c": {"min_days": 90,
                                                                                       "max_days": 400}}}}))]
    assert node_births.in_force(births, T0 + 5)[0] == T0
    assert node_births.in_force(births, T0 - 5)[0] == T0, "before the first birth: the oldest known"
    assert node_births.in_force(births, T0 + 100 * DAY)[0] == T0 + 100 * DAY
    assert node_births.limits(node_births.in_force(births, T0 + 101 * DAY)[1], "c") == (90, 400)
    assert node_births.limits(node_births.in_force(births, T0 + 101 * DAY)[1], "d") == (30, 365)
    assert node_births.in_force([], T0) == (None, node_births.retention_rules(None))


def test_seq_gap_names_the_range():
    assert verify.gap(10, 11) is None and verify.gap(0, 500) is None
    f = verify.gap(10, 14)
    assert f.detail == {"first": 11, "last": 13, "count": 3} and "messages 11 to 13" in f.message
    assert verify.gap(10, 14, "; the node no longer has them").message.endswith("(3 lost); the node no longer has them")


@pytest.mark.parametrize("reply, says", [
    ({"ok": True, "result": {"requeued": 3, "missing": []}}, None),
    ({"ok": True, "result": {"requeued": 1, "missing": [[11, 12]]}}, None),           # some are coming: wait
    ({"ok": True, "result": {"requeued": 0, "missing": [[5, 11], [12, 20]], "history_days": 14}},
     "; the node no longer has them (it keeps 14 days)"),
    ({"ok": True, "result": {"missing": [[11, 13]]}}, "; the node no longer has them"),
    ({"ok": True, "result": {"missing": [["x", 13], [11]]}}, None),                   # nonsense read as nothing
    ({"ok": True, "result": "x"}, None),
    ({"ok": False, "error": "unknown command"}, "; the node refused to send them again: unknown command"),
])
def test_what_a_resend_answer_means(reply, says):
    assert verify.resend_answered(reply, 11, 13) == says


# accesses and destructions --------------------------------------------------------------------
def test_accesses_need_an_approval_by_someone_else_once():
    use = {"action": "grant.use", "actor": "carol (os: root)", "at_us": T0, "detail": {"grant": 4, "mode": "copy"}}
    approve = {"actor": "alice (os: root)", "detail": {"grant": 4, "request": 2, "mode": "copy", "expires_us": T0 + 1}}
    assert verify.judge_access(use, approve=approve, filed={"actor": "carol"}, earlier_uses=0) == \
        (True, "grant 4, approved by alice")
    assert not verify.judge_access(use, approve=None, filed=None, earlier_uses=0)[0]
    assert "who filed" in verify.judge_access(use, approve=approve, filed={"actor": "alice"}, earlier_uses=0)[1]
    assert "used again" in verify.judge_access(use, approve=approve, filed=None, earlier_uses=1)[1]
    assert "expired" in verify.judge_access({**use, "at_us": T0 + 5}, approve=approve, filed=None, earlier_uses=0)[1]
    play = {"action": "playback.start", "actor": "carol", "at_us": T0, "detail": {"camera": "c"}}
    assert "names no grant" in verify.judge_access(play, approve=None, filed=None, earlier_uses=0)[1]


@pytest.mark.parametrize("d,verdict", [
    ({"reason": "max_retention", "end_us": T0, "destroyed_us": T0 + 366 * DAY}, "ok"),
    ({"reason": "max_retention", "end_us": T0, "destroyed_us": T0 + 100 * DAY}, "early"),
    ({"reason": "capacity", "end_us": T0, "destroyed_us": T0 + 40 * DAY, "free_before": 1, "reserve": 10}, "ok"),
    ({"reason": "capacity", "end_us": T0, "destroyed_us": T0 + 40 * DAY, "free_before": 99, "reserve": 10}, "early"),
    ({"reason": "capacity", "end_us": T0, "destroyed_us": T0 + 5 * DAY, "free_before": 1, "reserve": 10},
     "min_breached"),
])
def test_destructions(d, verdict):
    assert verify.judge_destruction(d, min_days=30, max_days=365)[0] == verdict


# compliance days ----------------------------------------------------------------------------------
def test_month_days_are_local_days():
    days = compliance.month_days("2026-11", ZoneInfo("Asia/Taipei"))
    assert len(days) == 30 and days[0].name == "2026-11-01"
    assert days[0].end_us - days[0].start_us == DAY
    with pytest.raises(ValueError, match="not a month"):
        compliance.month_days("11/2026", UTC)


def test_inspection_verdicts():
    day = compliance.month_days("2026-11", UTC)[9]
    ran = day.start_us + 3600 * 1_000_000
    run = lambda **k: {"ran_us": ran, "cameras": ["c"], "signed_us": None, **k}  # noqa: E731
    v = lambda runs, now=day.end_us + 3 * DAY: compliance.inspection_verdict(  # noqa: E731
        runs, "c", day, period_us=DAY, sign_within_us=DAY, now_us=now)
    assert v([]) == "missing"
    assert v([run(signed_us=ran + 60_000_000)]) == "ok"
    assert v([run(signed_us=ran + 2 * DAY)]) == "signed late"
    assert v([run()]) == "unsigned"
    assert v([run()], now=day.end_us) == "pending"
    assert v([], now=day.start_us) == "pending"


# the store and the verifier over real payload shapes ----------------------------------------------
def payload(seq: int, body: dict) -> bytes:
    return json.dumps({"seq": seq, "ts_us": T0 + seq, **body}, separators=(",", ":")).encode()


def _birth(key) -> dict:
    """Node n1's birth message at site s, its key `key`'s."""
    return {"ts_us": T0, "version": "0.1.0", "session": 1, "config_hash": "h", "site": "s", "node": "n1",
            "retention": {"min_days": 30, "max_days": 365}, "cameras": [{"id": "cam"}], "public_key": key.public_b64}

@pytest.mark.both_engines
def test_store_is_idempotent_and_the_verifier_finds_gap_fork_and_bad_signature(tmp_path, key):
    store = Store(tmp_path / "c.db")
    base = "edged/v1/s/n1"
    birth = _birth(key)
    c = chain(3)
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())]
    msgs += [(f"{base}/audit", payload(100 + i, {**r, "signed_head": chainhead.sign(key, "s", "n1", r["seq_local"],
                                                                                     r["hash"], T0 + 9)}))
             for i, r in enumerate(c)]
    assert store.ingest(msgs, T0) == 3
    assert store.ingest(msgs, T0) == 0, "the same messages again: stored once"
    v = Verifier(store, UTC, gap_grace_us=0)
    assert v.run_once(T0 + 1) == 3
    assert store.findings() == []
    assert store.nodes()[0]["head_seq"] == 3
    # verify-log: the chain as published passes; one re-hashed from the start names record 1
    lines = [audit.export_line({**r, "seq": r["seq_local"]}) for r in c]
    assert check_log(store, "s/n1", lines)["ok"]
    bad = [audit.export_line({**r, "seq": r["seq_local"]}) for r in chain(3, actor="x")]
    assert check_log(store, "s/n1", bad)["first_bad"]["seq"] == 1
    # a gap, then a head for record 2 with another hash, then a head signed by another key
    other = NodeKey(Ed25519PrivateKey.generate())
    forged = chainhead.sign(key, "s", "n1", 2, "ee" * 32, T0 + 20)
    store.ingest([(f"{base}/audit", payload(106, {"kind": "chain_head", "seq_local": 2, "hash": "ee" * 32,
                                                   "signed_head": forged})),
                  (f"{base}/audit", payload(107, {"kind": "chain_head", "seq_local": 3, "hash": c[2]["hash"],
                                                   "signed_head": chainhead.sign(other, "s", "n1", 3, c[2]["hash"],
                                                                                 T0 + 21)}))], T0 + 2)
    v.run_once(T0 + 3)
    kinds = sorted(f["kind"] for f in store.findings())
    assert kinds == ["audit_fork", "audit_head_regressed", "head_bad_signature", "seq_gap"], kinds
    gap = [f for f in store.findings() if f["kind"] == "seq_gap"][0]
    assert gap["detail"] == {"first": 103, "last": 105, "count": 3}
    # the node signed two heads for record 2: no log can match both, and verify-log says where
    assert check_log(store, "s/n1", lines)["first_bad"]["seq"] == 2
    store.close()


def test_each_records_head_is_checked_though_a_later_head_proves_the_chain(tmp_path, key):
    """design/0486: a delivery's records chain by hash to its newest head, whose signature is good; a head
    of an earlier record in it, its at_us altered after signing, is still a forged head (one signature
    check a delivery would store it valid and find nothing)."""
    store = Store(tmp_path / "c.db")
    base = "edged/v1/s/n1"
    birth = _birth(key)
    c = chain(4)
    heads = [chainhead.sign(key, "s", "n1", r["seq_local"], r["hash"], T0 + 9 + i) for i, r in enumerate(c)]
    heads[1] = {**heads[1], "at_us": heads[1]["at_us"] + 3_600_000_000}  # the box's word on when, changed
    msgs = [(f"{base}/status", b"online"), (f"{base}/birth", json.dumps(birth).encode())]
    msgs += [(f"{base}/audit", payload(100 + i, {**r, "signed_head": h})) for i, (r, h) in enumerate(zip(c, heads))]
    store.ingest(msgs, T0)
    Verifier(store, UTC, gap_grace_us=0).run_once(T0 + 1)
    assert [(f["kind"], f["detail"]["head"]["seq"]) for f in store.findings()] == [("head_bad_signature", 2)]
    assert store.nodes()[0]["head_seq"] == 4, "the chain itself is proven by the newest head"


def test_a_gap_is_asked_for_again_before_it_is_a_finding(tmp_path):
    """Issue 43 item 2: a gap older than gap_grace is first asked for again (a signed cmd/resend);
    verification waits for it. What the node sends again closes the gap with no finding; a node
    that no longer has the messages, refuses, or never answers makes it a finding that says so."""
    store = Store(tmp_path / "c.db")
    G = 1_000_000
    asked: list[tuple] = []
    v = Verifier(store, UTC, gap_grace_us=G, ask=lambda *a: asked.append(a) or True)
    alarm = lambda node, seq: (f"edged/v1/s/{node}/alarm", payload(seq, {"id": f"a{seq}", "action": "raise"}))  # noqa: E731

    def reply(node: str, seq: int, nonce: str, **result) -> tuple:
        ok = result.pop("ok", True)
        body = {"cmd": "resend", "ok": ok, "nonce": nonce, **({"result": result} if ok else {"error": "no"})}
        return (f"edged/v1/s/{node}/cmd/resend/reply", payload(seq, body))

    for node in ("n1", "n2", "n3", "n4"):
        store.ingest([alarm(node, s) for s in (100, 101, 105)], T0)
    v.run_once(T0 + G)  # grace passed: each node asked once, nothing found
    assert sorted((a[0], a[1], a[2]) for a in asked) == [(f"s/{n}", 102, 104) for n in ("n1", "n2", "n3", "n4")]
    assert store.findings() == []
    nonce = {a[0]: a[3] for a in asked}
    # n1 sends them again; n2 no longer has them; n3 refuses; n4 says nothing
    store.ingest([reply("n1", 106, nonce["s/n1"], requeued=3, missing=[]), *(alarm("n1", s) for s in (102, 103, 104)),
                  reply("n2", 106, nonce["s/n2"], requeued=0, missing=[[102, 104]], history_days=14),
                  reply("n3", 106, nonce["s/n3"], ok=False)], T0 + G + 5)
    v.run_once(T0 + G + 10)
    found = {f["node"]: f for f in store.findings()}
    assert set(found) == {"s/n2", "s/n3"}, found
    assert "the node no longer has them (it keeps 14 days)" in found["s/n2"]["message"]
    assert "refused to send them again" in found["s/n3"]["message"]
    for k in range(2, 6):  # n4 asked again a grace apart, five times in all, then a finding
        v.run_once(T0 + k * G + 1)
    assert [a[0] for a in asked].count("s/n4") == 5 and "s/n4" not in {f["node"] for f in store.findings()}
    v.run_once(T0 + 6 * G + 2)
    (f4,) = [f for f in store.findings() if f["node"] == "s/n4"]
    assert f4["kind"] == "seq_gap" and "asked 5 times to send them again and did not answer" in f4["message"]
    assert {n["node"]: n["verified_seq"] for n in store.nodes()} == {
        "s/n1": 106, "s/n2": 106, "s/n3": 106, "s/n4": 105}
    store.close()


def test_a_gap_whose_messages_come_late_says_so_and_is_no_longer_a_loss(tmp_path):
    """A broker holds part of a shared subscription for a member that died; those messages come
    when it is back, after the gap was reported. The finding then says how many are still missing,
    and becomes seq_late (information) when none is."""
    store = Store(tmp_path / "c.db")
    alarm = lambda seq: ("edged/v1/s/n1/alarm", payload(seq, {"id": f"a{seq}", "action": "raise"}))  # noqa: E731
    v = Verifier(store, UTC, gap_grace_us=0)
    store.ingest([alarm(s) for s in (100, 101, 105)], T0)
    v.run_once(T0 + 1)
    (f,) = store.findings()
    assert (f["kind"], f["detail"]["count"]) == ("seq_gap", 3)
    store.ingest([alarm(103)], T0 + 2)
    v.run_once(T0 + 3)
    (f,) = store.findings()
    assert (f["kind"], f["severity"], f["detail"]["arrived_late"]) == ("seq_gap", "warning", 1), f
    assert "2 never received, 1 came late" in f["message"]
    store.ingest([alarm(102), alarm(104)], T0 + 4)
    v.run_once(T0 + 5)
    (f,) = store.findings()
    assert (f["kind"], f["severity"], f["detail"]) == (
        "seq_late", "info", {"first": 102, "last": 104, "count": 3, "arrived_late": 3}), f
    store.close()


def test_a_motion_event_between_alarms_is_no_lost_message(tmp_path):
    """A node's motion events take seqs from the same outbox as its alarms and audit records:
    stored and verified, they leave no gap (they were dropped at ingest, and each read as lost)."""
    store = Store(tmp_path / "c.db")
    alarm = lambda seq: ("edged/v1/s/n1/alarm", payload(seq, {"id": f"a{seq}", "action": "raise"}))  # noqa: E731
    event = ("edged/v1/s/n1/event", payload(101, {"id": 7, "camera": "cam", "phase": "start", "start_us": T0,
                                                   "peak": 0.4, "score": 0.2, "at_us": T0}))
    assert store.ingest([alarm(100), event, alarm(102)], T0) == 3
    Verifier(store, UTC, gap_grace_us=0).run_once(T0 + 1)
    assert store.findings() == []
    bad = ("edged/v1/s/n1/event", payload(103, {"camera": {"x": 1}, "phase": "start"}))
    store.ingest([bad], T0 + 2)
    assert [f["kind"] for f in store.findings()] == ["malformed_message"]
    store.close()


@pytest.mark.both_engines
def test_each_destruction_is_judged_by_the_birth_in_force_when_it_happened(tmp_path):
    """Issue 28: the maximum was 30 days, then raised to 365. A segment destroyed at 30.2 days under
    the old rule is on time (31 days is kept past it since issue 73); one destroyed at 30.2 days after
    the raise is early. Judged by the
    newest birth, both were early. A birth with the test setting and one lowering the minimum are
    findings too."""
    store = Store(tmp_path / "c.db")
    base = "edged/v1/s/n1"
    now = T0 + 300 * DAY
    b1 = {"ts_us": T0, "session": 1, "config_hash": "a", "cameras": [{"id": "cam"}],
          "retention": {"min_days": 30, "max_days": 30, "allow_short_for_tests": False}}
    b2 = {**b1, "ts_us": T0 + 100 * DAY, "session": 2, "config_hash": "b",
          "retention": {"min_days": 30, "max_days": 365}}
    b3 = {**b1, "ts_us": T0 + 200 * DAY, "session": 3, "config_hash": "c",
          "retention": {"min_days": 7, "max_days": 365, "allow_short_for_tests": True}}
    gone = lambda seq, at: (f"{base}/retention", json.dumps({  # noqa: E731
        "seq": seq, "ts_us": at, "camera": "cam", "reason": "max_retention",
        "start_us": at - int(30.2 * DAY) - 60_000_000, "end_us": at - int(30.2 * DAY), "destroyed_us": at,
        "bytes": 10}).encode())
    store.ingest([(f"{base}/birth", json.dumps(b).encode()) for b in (b1, b2, b3)]
                 + [gone(T0 + 50 * DAY, T0 + 50 * DAY), gone(T0 + 50 * DAY + 1, T0 + 150 * DAY)], now)
    Verifier(store, UTC, gap_grace_us=0).run_once(now)
    found = {(f["kind"], f["severity"]): f for f in store.findings(limit=100)}
    early = [f for f in store.findings(limit=100) if f["kind"] == "destroyed_early"]
    assert len(early) == 1 and early[0]["about_us"] == T0 + 150 * DAY, early
    assert early[0]["detail"]["rules_of_birth_us"] == T0 + 100 * DAY and early[0]["detail"]["max_days"] == 365
    assert ("retention_lowered", "warning") in found and ("test_retention_allowed", "critical") in found, found
    assert found[("retention_lowered", "warning")]["detail"]["changes"] == [
        {"camera": None, "setting": "min_days", "old": 30, "new": 7}]
    # the one on time by its stamps: "unverified" at the office, which holds no sample of the node (issue 73)
    assert sorted(v for _day, v in central_verdicts(store)) == ["early", "unverified"]
    store.close()


# config and CLI surface -----------------------------------------------------------------------------
def test_config_errors_name_the_field(tmp_path):
    p = tmp_path / "c.toml"
    for text, where in [("[broker]\nport = 0\n", "broker.port"), ("[broker]\nshared_group = 'a/b'\n",
                                                                     "broker.shared_group"),
                        ("[verify]\ninterval = 'soon'\n", "verify.interval"), ("[nope]\n", "nope"),
                        ("[report]\ntimezone = 'Mars/Base'\n", "report.timezone"),
                        ("[report]\nlanguage = 'fr'\n", "report.language")]:
        p.write_text(text)
        with pytest.raises(config.ConfigError) as e:
            config.load(p)
        assert e.value.where == where
    p.write_text("[broker]\nshared_group = 'central'\n[storage]\ndata_dir = 'd'\n")
    cfg = config.load(p)
    assert cfg.broker.subscription == "$share/central/edged/v1/+/+/#" and cfg.storage.data_dir == tmp_path / "d"
    assert cfg.report.language == "en", "the edge's default: English"
    p.write_text("[report]\nlanguage = 'zh_TW'\n")
    assert config.load(p).report.language == "zh-TW"
    r = subprocess.run([sys.executable, "-m", "central.cli", "--config", str(tmp_path / "none.toml"), "status"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 78 and "no such file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "central.cli", "--config", str(tmp_path), "status"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 78 and "cannot be read" in r.stderr, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to read as another account")
def test_a_config_its_account_cannot_read_is_a_config_error_not_a_restart_loop(tmp_path):
    """The package tier found edged-central restarting a second at a time on a PermissionError: its
    config's folder kept its account out. A config it cannot read is EX_CONFIG (78), which the unit
    does not restart (RestartPreventExitStatus), saying what to check. Read in a child that has
    become nobody (the code already loaded: nobody cannot read this checkout's interpreter)."""
    folder = tmp_path / "etc"
    folder.mkdir(mode=0o700)
    (folder / "central.toml").write_text("[broker]\nport = 1883\n")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            config.load(folder / "central.toml")
        except config.ConfigError as exc:
            code = 78 if "permission denied" in str(exc) else 3
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 78



def test_a_cleanly_stopped_office_keeps_its_session_a_week_a_dead_one_a_minute(tmp_path):
    """Issue 53 item 4 (design/0139): in a shared group a dead instance's session goes after a
    minute (its share goes to the others); one stopped on purpose is kept, so the broker queues
    what the boxes send while the whole office is away."""
    p = tmp_path / "c.toml"
    p.write_text("[broker]\nshared_group = 'central'\n")
    b = config.load(p).broker
    assert (b.session_expiry_s, b.stopped_expiry_s) == (60, 7 * 86_400)
    p.write_text("[broker]\nshared_group = 'central'\nsession_expiry_stopped = '2h'\n")
    assert config.load(p).broker.stopped_expiry_s == 7200
    p.write_text("[broker]\nsession_expiry_stopped = 'soon'\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.where == "broker.session_expiry_stopped"


def test_every_edged_central_verb_is_in_the_reference():
    out = subprocess.run([sys.executable, "-m", "central.cli", "--help"], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    readme = (ROOT / "docs" / "ref" / "central.md").read_text()
    for verb in re.search(r"\{([a-z,-]+)\}", out).group(1).split(","):
        assert f"edged-central {verb}" in readme, verb


def test_central_imports_nothing_from_edged():
    for path in (ROOT / "central").glob("*.py"):
        assert not re.search(r"^\s*(from|import) edged\b", path.read_text(), re.M), path.name


def test_the_edge_chain_head_interval_is_configurable(tmp_path):
    from edged.config import load_config
    from tests.support.configs import MINIMAL, error_for, write

    cfg = load_config(write(tmp_path, MINIMAL + '[mqtt]\nhost = "b"\nchain_head = "2s"\n'))
    assert cfg.mqtt.chain_head_us == 2_000_000
    assert load_config(write(tmp_path, MINIMAL)).mqtt.chain_head_us == 60_000_000
    assert error_for(tmp_path, MINIMAL + '[mqtt]\nchain_head = "10ms"\n').args[0].startswith("mqtt.chain_head")
