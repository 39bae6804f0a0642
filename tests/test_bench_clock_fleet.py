"""bench/clock_fleet's boxes and figures (issue 86 item 6, design/0405): a box's day is bench/central_fleet's
day with its destructions reported by the box's own builder, its answers to the office's time requests
are the box's own and the office takes them, a line built with a node's kept pairs is the line built
without, and the kept pairs stay within their bound. The speed is measured in bench/, not here."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import central_fleet as cf
from bench import clock_fleet as bf
from central.checks import clock, verify
from central.verifier import clock_lines
from storage.keys.nodekey import NodeKey
from storage.time import interval
from storage.time.readings import readings

pytestmark = pytest.mark.pure
S, MIN = 1_000_000, 60_000_000


def _box(ahead: int = 800_000) -> bf.Box:
    return bf.Box(0, 16, NodeKey(Ed25519PrivateKey.generate()), ahead)


def test_a_box_s_day_is_the_fleet_bench_s_day_with_its_own_retention_reports():
    box = _box()
    day = [m for minute in range(bf.AWAY, bf.AWAY + 600) for m in box.minute(minute)]
    kinds: dict[str, int] = {}
    for topic, _p, qos, retain in day:
        assert qos == 1 and not retain
        kinds[topic.rsplit(b"/", 1)[1].decode()] = kinds.get(topic.rsplit(b"/", 1)[1].decode(), 0) + 1
    per_day = {k: v * 1440 // 600 for k, v in kinds.items()}
    want = cf.day_per_node(16, batched=True)
    assert per_day["retention"] == want["retention"] and per_day["footage"] == want["footage"]
    assert per_day["audit"] == want["audit retention.pass"] + want["audit chain head"] + want["audit, people"]
    seqs = [json.loads(p)["seq"] for _t, p, _q, _r in day]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    gone = [d for t, p, _q, _r in day if t.endswith(b"/retention") for d in verify.destructions(json.loads(p))]
    assert len(gone) == 16 * 600
    first = readings(gone[0])  # the box's own report: its stamps as made, due at 30 days and 5 minutes
    assert first.destroyed_us - first.end_us == bf.KEEP_MIN * MIN
    assert first.end_us == box.stamp(bf.T0 + (bf.AWAY - bf.KEEP_MIN + 1) * MIN)


def test_a_box_s_answer_is_one_the_office_takes():
    box = _box(ahead=2 * S)
    t = bf.T0 + 5 * MIN
    topic, body = box.answer("n1", t)
    assert topic == "edged/v1/site0000/node0000/clock"
    s = clock.sample_of(json.loads(body), t, t + bf.RTT, box.key.public_b64)
    assert s is not None and s.offset.contains(2 * S)
    assert clock.sample_of(json.loads(body), t, t + bf.RTT, _box().key.public_b64) is None  # another key: none


def _samples(n: int, every: int = MIN) -> list[interval.Sample]:
    t0 = bf.T0
    return [interval.Sample(t0 + k * every, t0 + k * every + 700_000, t0 + k * every + 80_000, "b1", k * every)
            for k in range(n)]


def test_a_line_built_with_the_node_s_kept_pairs_is_the_line_built_without():
    every = _samples(400)
    lines = clock_lines.Lines()
    memo = lines.memo("s/n1")
    first = interval.ClockLine(every[:300], memo=memo)
    lines.count(first, 0)
    assert first.fresh == 299
    later = interval.ClockLine(every[50:], memo=memo)  # the next page: most of its pairs kept
    lines.count(later, 299)
    assert later.fresh == 100 and len(memo) == 349
    plain = interval.ClockLine(every[50:])
    for r in range(bf.T0 + 50 * MIN, bf.T0 + 400 * MIN, 17 * S):
        assert later.offset_at(r) == plain.offset_at(r)
        assert later.offset_at(r, r - 3 * MIN) == plain.offset_at(r, r - 3 * MIN)
        assert later.elapsed(r, r + 5 * MIN) == plain.elapsed(r, r + 5 * MIN)
    assert (lines.built, lines.pairs, lines.fresh, lines.held) == (2, 648, 399, 349)


def test_the_kept_pairs_stay_within_their_bound_the_nodes_used_longest_ago_dropped_first():
    lines = clock_lines.Lines(most=250)
    for node in ("a", "b", "c"):
        memo = lines.memo(node)
        lines.count(interval.ClockLine(_samples(101), memo=memo), 0)
    lines.memo("d")  # 300 held: the oldest go until within the bound
    assert list(lines.kept) == ["b", "c", "d"] and lines.held == 200
    lines.forget("b")
    assert list(lines.kept) == ["c", "d"] and lines.held == 100


def test_the_outage_s_hours_on_instances():
    unit = {"node_day": 1.8, "rt": 0.05}
    hours = bf.outage_hours(unit, 6_624, 4_000, 1 / 3, 0.2)
    assert hours == pytest.approx(4_000 / 3 * (1.8 + 6_624 * 0.05 * 0.0002) / 3600)
