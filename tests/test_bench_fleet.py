"""bench/central_fleet's sample (issue 43): what a simulated 16-camera box queues while the office
is away follows the daemon's cadences (its day's count is what the office is sized by), holds only
durable messages in seq order, and every one is well formed for the office's checks."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import central_fleet as cf
from central.checks import verify
from storage.keys.nodekey import NodeKey

pytestmark = pytest.mark.pure


def test_a_node_day_by_the_code_s_cadences():
    day = cf.day_per_node(16)
    assert day["retention"] == 16 * 1440  # a 60 s segment a camera destroyed each minute
    assert day["footage"] == day["audit retention.pass"] == day["audit chain head"] == 1440
    assert sum(day.values()) == 28_224


def test_the_sample_sends_a_node_day_at_those_cadences_durable_only_in_seq_order():
    key = NodeKey(Ed25519PrivateKey.generate())
    nodes = [cf.OutageNode(i, 16, 1_700_000_000_000_000, key) for i in range(3)]
    sent = {n.name: [] for n in nodes}
    for t in range(600):  # one whole cycle of every cadence (the people's burst is every 10 minutes)
        for i, n in enumerate(nodes):
            sent[n.name] += n.second(t, i)
    for msgs in sent.values():
        assert all(qos == 1 and not retain for _t, _p, qos, retain in msgs)
        seqs = [json.loads(p)["seq"] for _t, p, _q, _r in msgs]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert len(msgs) * 86_400 // 600 == sum(cf.day_per_node(16).values())
        before = None
        records = [m for t, p, _q, _r in msgs if t.endswith(b"/audit") and "prev_hash" in (m := json.loads(p))]
        assert {m["action"] for m in records} >= {"retention.pass", "request.approve"}
        for m in records:  # the retention pass's records and people's, one chain the office accepts
            assert verify.check_record(m, before=before, known=None) == []
            before = m["hash"]


def test_evenness():
    assert cf.evenness([10, 10, 10], 30) == 0
    assert cf.evenness([13, 24, 13], 50) == pytest.approx(0.44, abs=0.01)


def test_the_batched_sample_sends_a_retention_message_a_pass_with_no_gap():
    """Issue 53: the same node-day with a pass's destructions in one message: 6,624 messages,
    seqs without a gap, each pass's 16 destructions in one `retention` message."""
    assert sum(cf.day_per_node(16, batched=True).values()) == 6_624
    n = cf.OutageNode(0, 16, 1_700_000_000_000_000, NodeKey(Ed25519PrivateKey.generate()))
    n.batched, n.per_segment = True, False
    msgs = [m for t in range(600) for m in n.second(t, 0)]
    seqs = [json.loads(p)["seq"] for _t, p, _q, _r in msgs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len(msgs) * 86_400 // 600 == 6_624
    gone = [json.loads(p) for t, p, _q, _r in msgs if t.endswith(b"/retention")]
    assert len(gone) == 10 and all(len(verify.destructions(m)) == 16 for m in gone)
