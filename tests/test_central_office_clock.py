"""The central office judges every age on its own clock (design/0095, issue 39 item 2): when it first
heard of a segment (its receipt of the `footage` message naming it), against when it heard of
its destruction; a node whose clock ran ahead destroys footage "past its maximum" by its own
stamps, and the office calls it `destroyed_early`. Over a real SQLite store with an injected
clock (the same test runs on PostgreSQL in tests/test_central_postgres.py)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from central.store import migrate
from central.checks import node_births, verdicts
from central.store.store import Store
from central.store.store_schema import SCHEMA_VERSION
from central.verifier.verifier import Verifier
from tests.support.catalog import central_as_schema_2, central_resends, central_destruction_days, central_schema

UTC = ZoneInfo("UTC")
S = 1_000_000
DAY = 86_400 * S
YEAR = 365 * DAY
T0 = 1_795_000_000 * S
BASE = "edged/v1/s/n1"


class OfficeClock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


def _msg(kind: str, body: dict) -> tuple[str, bytes]:
    return f"{BASE}/{kind}", json.dumps(body).encode()


def _gone(seq: int, segment_id: int, end_us: int, destroyed_us: int) -> tuple[str, bytes]:
    return _msg("retention", {"seq": seq, "ts_us": destroyed_us, "camera": "cam", "reason": "max_retention",
                              "start_us": end_us - 60 * S, "end_us": end_us, "destroyed_us": destroyed_us,
                              "bytes": 10, "segment_id": segment_id})


def test_a_destruction_made_early_by_the_nodes_clock_is_destroyed_early_at_the_office(tmp_path):
    clock = OfficeClock(T0)
    store = Store(tmp_path / "c.db", clock=clock)
    birth = {"ts_us": T0 - DAY, "session": 1, "config_hash": "a", "cameras": [{"id": "cam"}],
             "retention": {"min_days": 30, "max_days": 365}}
    # the node recorded segments 10..23 on a true clock; the office hears of them now (T0)
    store.ingest([_msg("birth", birth),
                  _msg("footage", {"seq": T0 - 5 * S, "ts_us": T0 - 5 * S, "first_id": 10, "last_id": 23,
                                   "from_us": T0 - 60 * S, "to_us": T0, "segments": 14, "cameras": 1})],
                 clock())
    # a minute later by the office's clock the node, restarted two years ahead, reports segment 12
    # destroyed as past its maximum: by its own stamps 730 days old
    clock.now = T0 + 60 * S
    store.ingest([_gone(T0 - 5 * S + 1, 12, T0 - 30 * S, T0 + 2 * YEAR)], clock())
    # segment 5 was recorded before the node first named its footage: judged by its stamps (lawful)
    store.ingest([_gone(T0 - 5 * S + 2, 5, T0 - 400 * DAY, T0 + 2 * YEAR)], clock())
    # segment 30 was never named though the node names its footage: its age cannot be known
    store.ingest([_gone(T0 - 5 * S + 3, 30, T0 - 30 * S, T0 + 2 * YEAR)], clock())
    Verifier(store, UTC, gap_grace_us=0).run_once()
    early = [f for f in store.findings(limit=100) if f["kind"] == "destroyed_early"]
    assert len(early) == 1, early   # one finding per camera and day (both early ones share it)
    f = early[0]
    assert f["severity"] == "critical" and "office's clock" in f["message"], f
    assert f["detail"]["heard_us"] == T0 and f["detail"]["reported_us"] == T0 + 60 * S
    assert f["found_us"] == T0 + 60 * S, "found on the office's injected clock"
    verdicts = central_destruction_days(store)
    assert verdicts == {"early": 2, "ok": 1}, verdicts
    store.close()


def test_a_lawful_destruction_is_ok_by_the_offices_clock(tmp_path):
    clock = OfficeClock(T0)
    store = Store(tmp_path / "c.db", clock=clock)
    birth = {"ts_us": T0 - DAY, "session": 1, "config_hash": "a", "cameras": [{"id": "cam"}],
             "retention": {"min_days": 30, "max_days": 30}}
    store.ingest([_msg("birth", birth),
                  _msg("footage", {"seq": T0, "ts_us": T0, "first_id": 1, "last_id": 3})], clock())
    clock.now = T0 + 31 * DAY
    store.ingest([_gone(T0 + 1, 2, T0, T0 + 31 * DAY)], clock())
    Verifier(store, UTC, gap_grace_us=0).run_once()
    assert [f for f in store.findings(limit=100) if f["kind"] == "destroyed_early"] == []
    store.close()


@pytest.mark.parametrize("heard, reported, max_days, first, verdict", [
    (T0, T0 + 60 * S, 365, 1, "early"),                  # heard a minute before it was destroyed "at 2 years"
    (T0, T0 + 366 * DAY, 365, 1, "ok"),
    (T0, T0 + 364.5 * DAY, 365, 1, "ok"),                # within the slack of what the office cannot see
    (T0, T0 + 363 * DAY, 365, 1, "early"),
    (None, T0, 365, 1, "early"),                         # named nowhere though the node names its footage
    (None, T0, 365, 50, None),                           # older than the first footage message: stamps judge
    (None, T0, 365, None, None),                         # a node that names no footage (an older edged)
])
def test_judged_on_the_offices_clock_from_its_receipt_of_the_footage(heard, reported, max_days, first, verdict):
    d = {"reason": "max_retention", "segment_id": 7, "camera": "cam", "start_us": T0 - 60 * S, "end_us": T0}
    ev = None if heard is None else verdicts.Heard(heard)
    got = verdicts.by_office(d, heard=ev, reported_us=int(reported), min_days=None, max_days=max_days,
                             announced_from=first)
    assert (got.verdict if got else None) == verdict
    assert verdicts.by_office({**d, "reason": "other"}, heard=verdicts.Heard(T0), reported_us=T0, min_days=1,
                              max_days=365, announced_from=1) is None


def test_a_node_with_no_time_source_is_reported():
    birth = {"ts_us": T0, "config_hash": "a", "time_sources": []}
    assert [f.kind for f in node_births.birth_rules(birth)] == ["time_sources_none"]
    assert node_births.birth_rules({**birth, "time_sources": ["office"]}) == []
    assert node_births.birth_rules({"ts_us": T0}) == [], "an older edged says nothing of it"


def test_a_store_of_schema_2_gains_the_footage_table(tmp_path):
    store = Store(tmp_path / "c.db")
    central_as_schema_2(store)
    store.close()
    store = Store(tmp_path / "c.db", migrate=True)  # `edged-central migrate` (design/0121)
    migrate.run(store, dry_run=False, progress=lambda _t: None)
    assert central_schema(store) == (SCHEMA_VERSION, 0)  # and schema 4's resends (issue 43) and coverage (design/0115)
    assert central_resends(store.db) == (0, None)
    store.close()
