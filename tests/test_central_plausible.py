"""Issue 43 item 3 (design/0119): a seq the node could not have sent by its birth's rate is
quarantined, one far below its first refused, no PostgreSQL partition outside a window around
the receipt (the decisions as tables), and the quota counted across instances sharing a SQLite
file (the real SQLite)."""

from __future__ import annotations

import json

import pytest

from central.intake import plausible, quota
from central.store.seqs import Seqs
from central.intake.plausible import Anchor
from central.store.store import Store
from mqtt.reporter import packet_size

pytestmark = pytest.mark.pure

MIN = 60_000_000
DAY = 86_400_000_000
T = 1_800_000_000_000_000          # the office's clock
S0 = 1_760_000_000_000_000         # the node's outbox was made then: its seqs count up from here
RATE = quota.birth_budget({"cameras": [{"id": f"c{i}"} for i in range(16)], "cadence": {"segment_s": 60}})[0]
M = plausible.margin(RATE)          # an hour at the rate (6,240 < 10,000: the floor)


@pytest.mark.parametrize("seq, anchor, received, verdict", [
    # no anchor yet (a node's first message): only the bound of every seq (central/store/store.py)
    (S0, Anchor(RATE), T, None),
    # since the last accepted message, a minute at the rate plus the margin, and not one more
    (S0 + 100 + RATE + M, Anchor(RATE, S0, S0 + 100, T - MIN), T, None),
    (S0 + 100 + RATE + M + 1, Anchor(RATE, S0, S0 + 100, T - MIN), T, "seq_beyond_rate"),
    # the case: a seq 5 minutes (of microseconds) past the node's last, a second later
    (S0 + 100 + 300_000_000, Anchor(RATE, S0, S0 + 100, T - 1_000_000), T, "seq_beyond_rate"),
    # and one numbered at the office's own clock, for a node whose counter started two years ago
    (T, Anchor(RATE, S0, S0 + 100, T - MIN), T, "seq_beyond_rate"),
    # a day offline: a day at its rate is lawful when it comes back
    (S0 + 100 + RATE * 1440, Anchor(RATE, S0, S0 + 100, T - DAY), T, None),
    # an outbox that queued during an outage drains: its birth said its last seq when it connected
    (S0 + 500_000, Anchor(RATE, S0, S0 + 100, T - MIN, S0 + 500_000, T - 1_000), T, None),
    # a lost disk: a new outbox counts from the node's clock and its birth says so
    (T - DAY + 7, Anchor(RATE, S0, S0 + 100, T - MIN, T - DAY + 5, T - 1_000), T, None),
    # a birth that claims a last seq past its own receipt does not move the ceiling
    (T + 60 * MIN, Anchor(RATE, S0, S0 + 100, T - MIN, T + 60 * MIN, T - 1_000), T, "seq_beyond_rate"),
    # far below the first known: never given by this outbox; within the margin: a late one, lawful
    (S0 - M - 1, Anchor(RATE, S0, S0 + 100, T - MIN), T, "seq_below_first"),
    (S0 - M, Anchor(RATE, S0, S0 + 100, T - MIN), T, None),
    (S0 - 86_400_000_000 * 60, Anchor(RATE, S0, S0 + 100, T - MIN), T, "seq_below_first"),  # two months back
    # a node with no birth: the floor's rate
    (100 + 10_000 + quota.birth_budget(None)[0] + 1, Anchor(quota.birth_budget(None)[0], 50, 100, T - MIN), T,
     "seq_beyond_rate"),
])
def test_a_seq_is_judged_by_the_nodes_rate_since_its_last_and_by_its_first(seq, anchor, received, verdict):
    got = plausible.judge(seq, anchor, received)
    assert (got[0] if got else None) == verdict, got


def test_an_accepted_seq_moves_the_anchor():
    a = Anchor(RATE)
    plausible.accepted(a, S0 + 5, T)
    plausible.accepted(a, S0 + 3, T + 1)
    assert (a.first_seq, a.last_seq, a.last_us) == (S0 + 3, S0 + 5, T)


JAN, FEB, MAR = 1_767_225_600_000_000, 1_769_904_000_000_000, 1_772_323_200_000_000  # 2026-01-01, -02-01, -03-01


@pytest.mark.parametrize("start, end, received, allowed", [
    (FEB, MAR, FEB + 10, True),                # this month
    (JAN, FEB, FEB + 10, True),                # last month (a message of its last days arrives late)
    (JAN, FEB, FEB + 35 * DAY - 1, True),      # within 35 days of the month's end
    (JAN, FEB, FEB + 35 * DAY, False),
    (JAN - 31 * DAY * 12, JAN - 31 * DAY * 11, FEB + 10, False),  # a year back: the default partition
    (MAR, MAR + 31 * DAY, MAR - 600_000_000, True),   # next month, at most 10 minutes ahead
    (MAR, MAR + 31 * DAY, MAR - 600_000_001, False),
])
def test_a_partition_is_made_only_within_a_window_around_the_receipt(start, end, received, allowed):
    assert plausible.partition_allowed(start, end, received) is allowed


def test_a_publish_packets_size_is_bounded_from_above():
    assert packet_size("edged/v1/s/n/alarm", b"x" * 100, None) == 5 + 2 + 18 + 2 + 4 + 100
    assert packet_size("t", b"", b"12345678") == 5 + 2 + 1 + 2 + 4 + 3 + 8


@pytest.mark.both_engines  # issue 43 item 3: across instances
def test_two_instances_sharing_a_sqlite_file_count_a_flood_together(tmp_path):
    """The quota by the birth (design/0104) counted across instances: on SQLite instances on one
    machine share the file, so its quota_use rows (on PostgreSQL its table: tests/test_central_postgres.py
    runs this test there); halves of a flood add up to a finding neither half alone raises, and an
    outbox draining old messages is not counted."""
    birth = {"ts_us": 1, "cameras": [{"id": f"c{i}", "enabled": True} for i in range(4)],
             "cadence": {"segment_s": 60}}
    budget = quota.birth_budget(birth)[0]
    assert budget == 2 * (4 * 2 + 10) + 20
    now = 1_800_000_000_000_000  # the top of a minute
    a, b = Store(tmp_path / "c.db"), Store(tmp_path / "c.db")
    a.ingest([("edged/v1/s/n/birth", json.dumps(birth).encode())], now)

    def alarms(lo: int, hi: int, age_us: int) -> list[tuple[str, bytes]]:
        return [("edged/v1/s/n/alarm", json.dumps({"seq": now - 10**9 + i, "ts_us": now - age_us, "id": f"a{i}",
                                                   "action": "raise"}).encode()) for i in range(lo, hi)]
    half = budget // 2 + 5
    assert a.ingest(alarms(0, 500, quota.DRAIN_US + 1), now + 1) == 500, "an outbox draining: not counted"
    assert a.ingest(alarms(500, 500 + half, 0), now + 2) == half
    assert [f for f in a.findings() if f["kind"] == "quota_exceeded"] == [], "half the flood: under the budget"
    assert b.ingest(alarms(1000, 1000 + half, 0), now + 3) == half
    found = [f for f in b.findings() if f["kind"] == "quota_exceeded"]
    assert len(found) == 1 and f"over the {budget}" in found[0]["message"] and "4 cameras" in found[0]["message"]
    assert found[0]["severity"] == "warning"
    a.close()
    b.close()


def test_a_seq_beyond_the_rate_is_quarantined_and_one_below_the_first_refused(tmp_path):
    """In the store (both instances' caches: the second reads what the first accepted)."""
    a, b = Store(tmp_path / "c.db"), Store(tmp_path / "c.db")
    msg = lambda seq: ("edged/v1/s/n/alarm", json.dumps({"seq": seq, "ts_us": 1, "id": f"a{seq}",  # noqa: E731
                                                          "action": "raise"}).encode())
    assert a.ingest([msg(S0 + i) for i in range(100)], T) == 100
    assert b.ingest([msg(S0 + 200)], T + MIN) == 1, "another instance: within the rate"
    assert a.ingest([msg(S0 + 200 + 300_000_000)], T + MIN + 1_000_000) == 0
    assert a.ingest([msg(S0 - 10**9), msg(S0 - 10**9 + 1)], T + MIN + 2_000_000) == 0
    kinds = sorted((f["kind"], f["severity"]) for f in a.findings())
    assert kinds == [("seq_below_first", "warning"), ("seq_beyond_rate", "critical")], kinds
    assert [r["why"].split(" is ")[0] for r in a.rejected()] == [f"seq {S0 + 200 + 300_000_000}"], "only it kept"
    assert a.nodes()[0]["max_seq"] == S0 + 200
    a.close()
    b.close()


def test_a_batchs_new_nodes_anchors_are_read_together_and_as_one_node_alone(tmp_path):
    """Seqs with ``rows`` (PostgreSQL's store reads them in one statement, issue 53): a batch's
    nodes without an anchor are read at its start, once; a known node is not read again, and once
    a batch meets no new node the next is not even looked over; each anchor is the one Seqs.load
    reads of the same store."""
    store = Store(tmp_path / "c.db")
    birth = {"ts_us": 1, "last_seq": S0 + 5, "cameras": [{"id": "c", "enabled": True}]}
    store.ingest([("edged/v1/s/a/birth", json.dumps(birth).encode())] + [
        (f"edged/v1/s/{n}/alarm", json.dumps({"seq": S0 + i, "ts_us": 1, "id": f"x{i}", "action": "raise"}).encode())
        for n in ("a", "b") for i in range(3)], T)
    asked: list[list[str]] = []

    held = {"s/a": (S0, S0 + 2, T, T, json.dumps(birth)), "s/b": (S0, S0 + 2, T, None, None),
            "s/c": (None, None, None, None, None)}  # what the store holds, as PostgreSQL's statement reads it

    def rows(nodes):
        asked.append(list(nodes))
        return [(n, *held[n]) for n in nodes]

    seqs = Seqs(store.db, rows)
    seqs.batch(["s/b", "s/a", "s/c", "s/a"])
    assert asked == [["s/a", "s/b", "s/c"]]
    alone = Seqs(store.db)
    for n in ("s/a", "s/b", "s/c"):
        assert seqs.anchors[n] == alone.load(n), n
    assert seqs.anchors["s/a"].birth_seq == S0 + 5 and seqs.anchors["s/c"].last_seq is None
    assert seqs.fresh, "new nodes met: the next batch is looked over too"
    seqs.batch(["s/a", "s/b"])
    assert asked == [["s/a", "s/b", "s/c"]] and not seqs.fresh, "no new node: no read, and no look at the next"
    seqs.judge("s/d", S0, T)  # a node met alone (read by load): the next batch is looked over again
    assert seqs.fresh
    store.close()
