"""The central office judges every age on its own clock (design/0095, issue 39 item 2; on intervals
since issue 73, design/0310): the segment recorded no earlier than its stamp at the node's offset
proven by the office's time requests, and no later than the office's receipt of the `footage`
message naming it; destroyed no later than its receipt of the destruction. A node whose clock ran
ahead destroys footage "past its maximum" by its own stamps, and the office calls it
`destroyed_early`. Over a real SQLite store with an injected clock (the same test runs on
PostgreSQL in tests/test_central_postgres.py)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from central.store import clocks, destructions, migrate
from central.checks import node_births, verdicts
from central.store.store import Store
from central.store.store_schema import SCHEMA_VERSION
from central.store.versions import SchemaError
from central.verifier.verifier import Verifier
from storage.time import interval
from tests.support.catalog import (central_add_destruction, central_as_schema, central_as_schema_2, central_clock_samples,
                                   central_destruction_days, central_plan, central_resends, central_schema)

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


def _answered(store: Store, *samples: tuple[int, int, str]) -> None:
    """The node's answers to the office's time requests (sent_us, its clock then, its boot), as
    central/verifier/clock_samples.py keeps them (its own path: tests/test_central_time_exchange.py)."""
    central_clock_samples(store, "s/n1", [(sent, node_us, sent + S // 10, boot) for sent, node_us, boot in samples])


@pytest.mark.both_engines
def test_a_destruction_made_early_by_the_nodes_clock_is_destroyed_early_at_the_office(tmp_path):
    clock = OfficeClock(T0)
    store = Store(tmp_path / "c.db", clock=clock)
    # the node answered the office's time requests on a true clock, then restarted two years ahead
    _answered(store, (T0 - 3600 * S, T0 - 3600 * S, "a"), (T0 - 10 * S, T0 - 10 * S, "a"),
              (T0 + 30 * S, T0 + 2 * YEAR - 30 * S, "b"))
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
    # segment 5 was recorded before the office's first sample and never named: the office proves
    # nothing of it, but the node's own stamps (1,130 days) admit it was kept past its maximum
    store.ingest([_gone(T0 - 5 * S + 2, 5, T0 - 400 * DAY, T0 + 2 * YEAR)], clock())
    # segment 30 was never named, but the samples bracket its recording: early all the same
    store.ingest([_gone(T0 - 5 * S + 3, 30, T0 - 30 * S, T0 + 2 * YEAR)], clock())
    Verifier(store, UTC, gap_grace_us=0).run_once()
    early = [f for f in store.findings(limit=100) if f["kind"] == "destroyed_early"]
    assert len(early) == 1, early   # one finding per camera and day (both early ones share it)
    f = early[0]
    assert f["severity"] == "critical" and "office's clock" in f["message"], f
    assert f["detail"]["heard_us"] == T0 and f["detail"]["reported_us"] == T0 + 60 * S
    assert f["found_us"] == T0 + 60 * S, "found on the office's injected clock"
    verdicts = central_destruction_days(store)
    assert verdicts == {"early": 2, "kept_past_maximum": 1}, verdicts
    (k,) = [f for f in store.findings(limit=100) if f["kind"] == "kept_past_maximum"]
    assert k["detail"]["clock"] == "node" and "by the node's own record" in k["message"], k
    store.close()


def test_a_lawful_destruction_is_ok_by_the_offices_clock(tmp_path):
    clock = OfficeClock(T0)
    store = Store(tmp_path / "c.db", clock=clock)
    birth = {"ts_us": T0 - DAY, "session": 1, "config_hash": "a", "cameras": [{"id": "cam"}],
             "retention": {"min_days": 30, "max_days": 30}}
    store.ingest([_msg("birth", birth),
                  _msg("footage", {"seq": T0, "ts_us": T0, "first_id": 1, "last_id": 3})], clock())
    _answered(store, *((T0 + k * DAY, T0 + k * DAY, "a") for k in range(-1, 33)))
    clock.now = T0 + int(30.2 * DAY)
    store.ingest([_gone(T0 + 1, 2, T0, T0 + int(30.2 * DAY))], clock())
    Verifier(store, UTC, gap_grace_us=0).run_once()
    assert [f for f in store.findings(limit=100) if f["kind"] in ("destroyed_early", "destruction_unverified")] == []
    assert central_destruction_days(store) == {"ok": 1}
    store.close()


def _line(*spans: tuple[int, int]) -> interval.ClockLine:
    """A node sampled hourly on a true clock over each (from, to) of the office's clock."""
    return interval.ClockLine([interval.Sample(t, t, t + S, "a") for a, b in spans for t in range(a, b, 3600 * S)])


@pytest.mark.parametrize("heard, reported, stamped, spans, verdict", [
    (T0, T0 + 60 * S, T0 + 2 * YEAR, ((T0 - DAY, T0 + DAY),), "early"),    # told a minute later "2 years"
    (T0, T0 + 365 * DAY + 60 * S, T0 + 365 * DAY, ((T0 - DAY, T0 + 367 * DAY),), "ok"),
    (T0, T0 + 365.4 * DAY, T0 + 365.4 * DAY, ((T0 - DAY, T0 + 366 * DAY),), "ok"),  # within its half a day
    (T0, T0 + 363 * DAY, T0 + 363 * DAY, ((T0 - DAY, T0 + 364 * DAY),), "early"),
    (T0, T0 + 363 * DAY, T0 + 363 * DAY, ((T0 - DAY, T0 + DAY),), "early"),  # destroyed at most 363 days
    (T0, T0 + 400 * DAY, T0 + 400 * DAY, ((T0 - DAY, T0 + 401 * DAY),), "kept_past_maximum"),
    (None, T0 + 365.2 * DAY, T0 + 365.2 * DAY, ((T0 - DAY, T0 + 367 * DAY),), "ok"),  # never named: stamps
    (T0, T0 + 365.2 * DAY, T0 + 365.2 * DAY, (), "unverified"),  # no sample: a receipt proves only a latest
    (T0, T0 + 365.2 * DAY, T0 + 365.2 * DAY, ((T0 + DAY, T0 + 367 * DAY),), "unverified"),  # first heard after
])
def test_judged_on_the_offices_clock_on_intervals(heard, reported, stamped, spans, verdict):
    line = _line(*spans)  # built by the test, not at import: every process that collects would pay for it
    d = {"reason": "max_retention", "segment_id": 7, "camera": "cam", "start_us": T0 - 60 * S, "end_us": T0,
         "destroyed_us": int(stamped)}
    ev = None if heard is None else verdicts.Heard(heard)
    got = verdicts.by_office(d, heard=ev, reported_us=int(reported), min_days=None, max_days=365, line=line)
    assert (got.verdict if got else None) == verdict, got
    assert verdicts.by_office({**d, "reason": "other"}, heard=verdicts.Heard(T0), reported_us=T0, min_days=1,
                              max_days=365, line=line) is None


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


@pytest.mark.both_engines  # issue 86, design/0420
def test_a_store_of_schema_12_gains_the_index_the_rejudging_reads(tmp_path):
    """Schema 13: a node's destructions that wait on a clock sample are read by their own partial
    index at each re-judging, not by reading every destruction of the node; migrated on both engines."""
    store = Store(tmp_path / "c.db")
    central_as_schema(store, 12)
    store.close()
    with pytest.raises(SchemaError, match="schema version 12 and this edged-central expects"):
        Store(tmp_path / "c.db")
    store = Store(tmp_path / "c.db", migrate=True)
    try:
        assert migrate.run(store, dry_run=False, progress=lambda _t: None)["done"] == list(range(13, SCHEMA_VERSION + 1))
        with store.writing() as conn:
            for seq in range(1, 3001):  # two nodes' destructions, one in fifty of each waiting, some found early
                verdict = "unverified" if seq % 50 in (1, 2) else "early" if seq % 50 == 3 else "ok"
                central_add_destruction(conn, "s/n1" if seq % 2 else "s/n2", seq, T0 + seq * S, verdict)
        got = destructions.waiting(store.db, "s/n1", T0 + 100 * S, T0 + 1000 * S, 5)
        assert got == [(101, 0), (151, 0), (201, 0), (251, 0), (301, 0)], got
        assert destructions.waiting(store.db, "s/n1", T0 + 2952 * S, T0 + 9000 * S, 5) == [], "none waiting after"
        for sql, params in ((destructions.WAITING, ["s/n1", T0, T0 + 9000 * S, 5000]), (clocks.WAITING, ["s/n1", T0])):
            assert f"verdict = '{interval.UNVERIFIED}'" in sql  # the verdict spelt as the index's, a literal
            plan = central_plan(store, sql, params)
            assert "destructions_waiting" in plan, plan
    finally:
        store.close()
