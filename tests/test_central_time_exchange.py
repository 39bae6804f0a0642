"""The office's side of the time exchange (issue 73, design/0310), over a real store and verifier
on an injected office clock: the office's time request (mqtt/office_time.py) keeps its nonce and
its time of sending (central/ingest.py TimeCast); a node's signed answer on its `clock` topic is a
clock sample only when it answers a nonce sent to that node within 120 s and verifies with the
node's key, not revoked when heard. Everything else is no sample. (The same tests run on
PostgreSQL: tests/test_central_postgres.py.)"""

from __future__ import annotations

import base64
import json
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.ingest import TimeCast
from central.keys import keystanding
from central.store.store import Store
from central.verifier.verifier import Verifier
from mqtt import office_time
from mqtt.commands import canonical
from storage.keys import nodekey
from tests.support.catalog import central_clock_rows, central_record_of

UTC = ZoneInfo("UTC")
S = 1_000_000
T0 = 1_795_000_000 * S
NODE = "s/n1"


class OfficeClock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


class Office:
    """A store, its verifier and its time requests, with what it published kept."""

    def __init__(self, tmp_path, revoked_us: int | None = None):
        self.clock = OfficeClock(T0)
        self.store = Store(tmp_path / "c.db", clock=self.clock)
        self.node_key = nodekey.NodeKey(Ed25519PrivateKey.generate())
        self.office_key = nodekey.NodeKey(Ed25519PrivateKey.generate())
        st = (keystanding.Standing(keystanding.REVOKED, revoked_us) if revoked_us is not None
              else keystanding.Standing(keystanding.ENROLLED))
        self.verifier = Verifier(self.store, UTC, gap_grace_us=0, standing=lambda _n, _k: st)
        self.published: list[tuple[str, bytes]] = []
        self.cast = TimeCast(lambda: self.office_key, self._publish, self.clock)
        for node in (NODE, "s/n2"):  # two nodes: the node's birth (its key) and its first pass
            birth = {"ts_us": T0, "session": 1, "config_hash": "a", "public_key": self.node_key.public_b64}
            self.store.ingest([(f"edged/v1/{node}/birth", json.dumps(birth).encode())], T0)
        self.verifier.run_once()

    def _publish(self, topic: str, payload: bytes) -> bool:
        self.published.append((topic, payload))
        return True

    def ask(self) -> dict[str, dict]:
        """The office's time requests now (every node), by node."""
        self.cast.sent_at = float("-inf")
        self.published.clear()
        assert self.cast.maybe(self.store) == 2
        return {t.split("/")[2] + "/" + t.split("/")[3]: json.loads(p) for t, p in self.published}

    def answer(self, question: dict, node: str = NODE, *, node_us: int, key: nodekey.NodeKey | None = None,
               sig: str | None = None) -> None:
        """The node's signed answer (``sig``: another signature), heard now (the office's clock)."""
        body = {"nonce": question["nonce"], "at_us": question["at_us"], "node_us": node_us, "mono_us": 5 * S,
                "boot": "b1"}
        body["sig"] = sig or base64.b64encode((key or self.node_key).sign(canonical(body))).decode()
        self.store.ingest([(f"edged/v1/{node}/clock", json.dumps(body).encode())], self.clock())

    def samples(self) -> list[dict]:
        return central_clock_rows(self.store, "clock_samples")


@pytest.mark.both_engines  # issue 73, design/0310
def test_a_genuine_answer_is_a_sample_whose_round_trip_is_its_bar(tmp_path):
    o = Office(tmp_path)
    q = o.ask()
    assert q[NODE]["cmd"] == "time" and q[NODE]["at_us"] == T0
    assert office_time.signed_time(json.dumps(q[NODE]).encode(), o.office_key.public, NODE) == T0  # the box's check
    asks = central_clock_rows(o.store, "clock_asks")
    assert {(a["node"], a["nonce"], a["sent_us"]) for a in asks} == {(n, q[n]["nonce"], T0) for n in q}
    o.clock.now = T0 + 2 * S
    o.answer(q[NODE], node_us=T0 + 3600 * S)  # its clock an hour ahead
    o.verifier.run_once()
    (s,) = o.samples()
    assert (s["node"], s["sent_us"], s["node_us"], s["received_us"], s["boot"]) == (NODE, T0, T0 + 3600 * S, T0 + 2 * S,
                                                                                      "b1")
    o.clock.now = T0 + 3 * S
    o.answer(q[NODE], node_us=T0 + 3600 * S)  # the same answer again: one question, one sample
    o.verifier.run_once()
    assert len(o.samples()) == 1
    o.store.close()


@pytest.mark.both_engines
def test_no_sample_from_an_answer_the_office_did_not_ask_for(tmp_path):
    o = Office(tmp_path)
    q = o.ask()
    forged = nodekey.NodeKey(Ed25519PrivateKey.generate())
    cases = [
        lambda: o.answer(q["s/n2"], NODE, node_us=T0),              # a nonce sent to another node
        lambda: o.answer({**q[NODE], "nonce": "feed"}, node_us=T0),  # a nonce never sent
        lambda: o.answer({**q[NODE], "at_us": T0 - S}, node_us=T0),  # the office's time not echoed
        lambda: o.answer(q[NODE], node_us=T0, key=forged),           # signed by another key
        lambda: o.answer(q[NODE], node_us=T0, sig="AAAA"),           # a signature that is no signature
    ]
    for i, send in enumerate(cases):
        o.clock.now = T0 + (i + 1) * S
        send()
        o.verifier.run_once()
        assert o.samples() == [], i
    o.clock.now = T0 + 121 * S  # the genuine answer, heard after 120 s: a late answer is no sample
    o.answer(q[NODE], node_us=T0)
    o.verifier.run_once()
    assert o.samples() == []
    o.store.close()


def test_no_sample_under_a_key_revoked_before_the_answer_came(tmp_path):
    o = Office(tmp_path, revoked_us=T0 + S)
    q = o.ask()
    o.clock.now = T0 + 2 * S
    o.answer(q[NODE], node_us=T0)
    o.verifier.run_once()
    assert o.samples() == []
    o.store.close()


def test_an_answer_heard_before_the_revocation_is_a_sample(tmp_path):
    o = Office(tmp_path, revoked_us=T0 + 10 * S)
    q = o.ask()
    o.clock.now = T0 + 2 * S
    o.answer(q[NODE], node_us=T0)
    o.verifier.run_once()
    assert len(o.samples()) == 1
    o.store.close()


@pytest.mark.both_engines
def test_a_revoked_nodes_messages_after_the_revocation_are_never_its_record(tmp_path):
    """Item 5 (issue 73): footage, destructions and alarms heard after the office revoked the node's
    key are each a `key_revoked` finding and enter nothing of the node's record; those heard before
    are taken."""
    o = Office(tmp_path, revoked_us=T0 + 10 * S)
    seq = T0 - 60 * S

    def send(kind: str, body: dict) -> None:
        nonlocal seq
        seq += 1
        o.store.ingest([(f"edged/v1/{NODE}/{kind}", json.dumps({"seq": seq, "ts_us": o.clock(), **body}).encode())],
                       o.clock())

    o.clock.now = T0 + 5 * S
    send("alarm", {"action": "raise", "id": "before"})
    o.clock.now = T0 + 20 * S
    send("footage", {"first_id": 1, "last_id": 9})
    send("retention", {"camera": "cam", "reason": "max_retention", "start_us": T0 - 60 * S, "end_us": T0,
                       "destroyed_us": T0, "segment_id": 3})
    send("alarm", {"action": "raise", "id": "after"})
    o.verifier.run_once(T0 + 30 * S)
    revoked = sorted(f["message"] for f in o.store.findings(node=NODE, limit=100) if f["kind"] == "key_revoked")
    assert revoked == [f"3 messages came after the office revoked the node's key, the first footage message "
                       f"{T0 - 60 * S + 2}, the last alarm message {T0 - 60 * S + 4}: none is taken as the node's"], revoked
    # more of them in a later pass: the same finding, its count carried on (design/0365)
    o.clock.now = T0 + 40 * S
    send("alarm", {"action": "raise", "id": "later"})
    send("alarm", {"action": "clear", "id": "later"})
    o.verifier.run_once(T0 + 50 * S)
    (f,) = [f for f in o.store.findings(node=NODE, limit=100) if f["kind"] == "key_revoked"]
    assert (f["detail"]["messages"], f["detail"]["first"]["seq"], f["detail"]["last"]["seq"]) == (
        5, T0 - 60 * S + 2, T0 - 60 * S + 6) and f["message"].startswith("5 messages"), f
    assert central_record_of(o.store, NODE) == {"alarms": ["before"], "destructions": 0, "footage_ranges": 0}
    o.store.close()
