"""Which instance verifies which node (issue 43 item 1, design/0104): rendezvous hashing over
the live instances, pure. The instances on a real PostgreSQL, one killed, are in
tests/test_central_postgres.py."""

from __future__ import annotations

import pytest

from central import leases, ops

NODES = [f"site{i // 10:04d}/node{i:04d}" for i in range(3000)]


def test_each_node_has_one_owner_and_the_split_is_even():
    three = ("a", "b", "c")
    split = leases.split(NODES, three)
    assert sum(split.values()) == len(NODES)
    assert all(abs(n - 1000) < 200 for n in split.values()), split  # within 20 % of even
    assert leases.owner("s/n", ()) is None
    assert leases.owner("s/n", ("a",)) == "a"
    assert leases.owner("s/n", three) == leases.owner("s/n", ("c", "b", "a")), "the order of the list does not count"


@pytest.mark.parametrize("before, after", [(("a", "b", "c"), ("a", "c")), (("a", "c"), ("a", "b", "c"))])
def test_only_the_share_of_the_instance_that_left_or_joined_moves(before, after):
    moved = {n for n in NODES if leases.owner(n, before) != leases.owner(n, after)}
    changed = set(before) ^ set(after)
    assert moved == {n for n in NODES if {leases.owner(n, before), leases.owner(n, after)} & changed}
    assert 800 < len(moved) < 1200, "about a third of the nodes move, no more"


def test_live_needs_a_fresh_heartbeat_and_an_open_connection():
    now = 100 * leases.STALE_US
    rows = [{"id": "fresh", "heartbeat_us": now - 1, "backend": 11},
            {"id": "stale", "heartbeat_us": now - leases.STALE_US, "backend": 12},
            {"id": "killed", "heartbeat_us": now - 1, "backend": 13},   # its connection went with it
            {"id": "also", "heartbeat_us": now, "backend": 14}]
    assert leases.live(rows, now, {11, 12, 14}) == ("also", "fresh")


def test_the_instances_as_status_shows_them():
    rows = [{"id": "a", "host": "h", "pid": 7, "heartbeat_us": 9_000_000, "started_us": 1_000_000,
             "figures": {"leases": 5, "ingest_lag_s": 0.2}},
            {"id": "b", "host": "h", "pid": 8, "heartbeat_us": 2_000_000, "started_us": 1_000_000, "figures": None}]
    assert ops.fleet(rows, ("a",), 10_000_000) == [
        {"id": "a", "host": "h", "pid": 7, "live": True, "heartbeat_age_s": 1.0, "up_s": 8.0, "leases": 5,
         "ingest_lag_s": 0.2},
        {"id": "b", "host": "h", "pid": 8, "live": False, "heartbeat_age_s": 8.0, "up_s": 1.0}]
