"""Which instance verifies which node (issue 43 item 1, design/0104): rendezvous hashing over
the live instances, pure. The instances on a real PostgreSQL, one killed, are in
tests/test_central_instances.py."""

from __future__ import annotations

import pytest

from central.intake import leases
from central import ops

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


def test_metrics_listen_in_the_config(tmp_path):
    from central import config

    p = tmp_path / "c.toml"
    p.write_text('[metrics]\nlisten = "127.0.0.1:9464"\n')
    assert config.load(p).metrics.listen == "127.0.0.1:9464"
    p.write_text('[metrics]\nlisten = ""\n')
    assert config.load(p).metrics.listen is None
    p.write_text('[metrics]\nlisten = 9464\n')
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.where == "metrics.listen" and "HOST:PORT" in str(e.value)


@pytest.mark.parametrize("birth, budget", [
    (None, 2 * 10 + 20),                                                    # no birth: heads and audit only
    ({"cameras": [{"id": "a"}, {"id": "b", "enabled": False}]}, 2 * (1 * 2 + 10) + 20),  # a disabled camera: none
    ({"cameras": [{"id": f"c{i}"} for i in range(16)]}, 2 * (16 * 2 + 10) + 20),
    ({"cameras": [{"id": "a"}], "cadence": {"segment_s": 2}}, 2 * (1 * 31 + 10) + 20),  # short segments
    ({"cameras": [{"id": "a"}], "cadence": {"segment_s": "x"}}, 2 * (1 * 2 + 10) + 20),  # not a number: 60 s
])
def test_what_a_birth_allows(birth, budget):
    from central.intake import quota

    assert quota.birth_budget(birth)[0] == budget


def test_an_outbox_draining_is_not_counted():
    from central.intake import quota

    rows = [("s/a", 1, "alarm", 1_000, 0, ""), ("s/a", 2, "alarm", 1_000 + quota.DRAIN_US, 0, ""),
            ("s/b", 3, "alarm", 2_000_000_000, 0, "")]
    assert quota.fresh_counts(rows, 1_000 + quota.DRAIN_US) == {"s/a": 1, "s/b": 1}


def test_owners_remembers_owner_while_the_live_instances_stay_the_same():
    """leases.Owners (issue 53): the same answer as owner, for a list as for a tuple, and afresh
    when an instance joins or leaves."""
    owners = leases.Owners()
    nodes = [f"s/n{i}" for i in range(50)]
    for live in (("a", "b", "c"), ["a", "b", "c"], ("a", "c"), ("a", "b", "c", "d"), ()):
        assert [owners(n, live) for n in nodes] == [leases.owner(n, live) for n in nodes], live
