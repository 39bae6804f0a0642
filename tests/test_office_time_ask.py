"""Issue 90 item 2 (design/0370): the office's signed time tied to the box's own nonce, and a replayed
or stale one refused as stale, never taken as a disagreement.

The box's answer on `clock` carries a fresh nonce of its own (`ask`, mqtt/office_time.py); the
office's next signed time to the node echoes it (central/ingest.py TimeCast, on its real store); the
box takes a time echoing an ask it made lately as tied to now (it bounds the host from above too).
A genuine time message replayed a year later, after a restart, is a lower bound only: the gate's
verdict is "stale", not "disagrees" (on main it said the host was "3.0 years ahead").
"""

from __future__ import annotations

import json
from typing import Any

from edged.daemon.time_gate import TimeGate
from mqtt import office_time
from storage.time import corroboration as co
from storage.time.clock import FakeClock
from tests.support.catalog import audit_rows, central_clock_rows
from tests.test_central_time_exchange import NODE, S, T0, Office

D = 86_400 * S
YEAR = 365 * D


def _cast(o: Office) -> bytes:
    o.ask()
    return next(p for t, p in o.published if t == f"edged/v1/{NODE}/cmd/time")


def test_the_office_echoes_the_boxs_own_nonce_and_only_a_fresh_one_ties(tmp_path, monkeypatch):
    o = Office(tmp_path)
    heard: list[tuple[Any, ...]] = []
    questions: list[dict[str, Any]] = []
    ear = office_time.Listener(o.office_key.public, NODE, lambda *a: heard.append(a), on_question=questions.append)
    first = _cast(o)
    assert "ask" not in json.loads(first)              # nothing asked yet
    ear.hear("time", first)
    assert heard == [(T0,)]                            # genuine, not tied: a lower bound
    answer = office_time.answer_message(questions[0], o.node_key.sign, T0, 7 * S, "b1", ear.ask())
    ask = json.loads(answer)["ask"]
    o.clock.now = T0 + 2 * S
    o.store.ingest([(f"edged/v1/{NODE}/clock", answer)], o.clock())
    o.verifier.run_once()
    assert len(central_clock_rows(o.store, "clock_samples")) == 1, "an answer with its ask is still a clock sample"
    o.clock.now = T0 + 60 * S
    second = _cast(o)
    assert json.loads(second)["ask"] == ask            # echoed, to this node only
    assert "ask" not in json.loads(_cast(o))           # and once
    ear.hear("time", second)
    (at, slack), = heard[1:]
    assert at == T0 + 60 * S and 0 <= slack < 60 * S   # tied, by the ask's age when heard
    heard.clear()
    restarted = office_time.Listener(o.office_key.public, NODE, lambda *a: heard.append(a))
    restarted.hear("time", second)                     # the same message after a restart: not its ask
    assert heard == [(T0 + 60 * S,)]
    heard.clear()
    monkeypatch.setattr(office_time, "ASK_FRESH_S", -1.0)  # an ask older than it may be
    again = office_time.Listener(o.office_key.public, NODE, lambda *a: heard.append(a))
    again._asks[ask] = 0.0
    again.hear("time", second)
    assert heard == [(T0 + 60 * S,)]
    o.store.close()


def _gate(clock: FakeClock) -> TimeGate:
    return TimeGate(None, None, clock, chrony=lambda: (None, ""), box_servers=lambda: (None, ""))  # type: ignore[arg-type]


def test_a_replayed_year_old_office_time_is_stale_not_a_disagreement():
    clock = FakeClock(T0)
    gate = _gate(clock)
    gate.office(T0 - YEAR)                             # genuine, signed a year ago, replayed after a restart
    v = gate.verdict()
    assert (v.state, v.source) == (co.STALE, co.OFFICE), v
    assert "refused as stale" in v.why and "not taken as a disagreement" in v.why
    # it still proves the time at least what it said (a lower bound), never more than the host's
    b = co.vouched(v, clock.now_us())
    assert b is not None and b.us <= T0 - YEAR + 1


def test_an_office_time_tied_to_the_boxs_nonce_proves_the_host_ahead():
    clock = FakeClock(T0 + 40 * D)                     # the host forty days ahead
    gate = _gate(clock)
    gate.office(T0, slack_us=2 * S)                    # the office's answer to the box's question 2 s ago
    v = gate.verdict()
    assert (v.state, v.source) == (co.DISAGREES, co.OFFICE), v
    assert "40.0 days ahead" in v.why
    gate = _gate(FakeClock(T0 + 150 * S))              # ahead by more than the tolerance, less than the round trip
    gate.office(T0, slack_us=60 * S)
    assert gate.verdict().state == co.STALE


def test_two_approvers_confirm_the_host_clock_where_the_site_asks(tmp_path):
    """Issue 90 item 3 (design/0373): `[time] confirm_by_two`: the first approver's confirmation waits
    on the record; the same person again, or a second one more than an hour later, confirms nothing;
    another approver within the hour confirms, both named on the audit record."""
    import asyncio

    from storage.catalog import CatalogWriter

    async def scenario() -> list[tuple[str, str, dict]]:
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            clock = FakeClock(T0)
            gate = TimeGate(writer, None, clock, chrony=lambda: (None, ""), box_servers=lambda: (None, ""),  # type: ignore[arg-type]
                            by_two=lambda: True)
            one = TimeGate(writer, None, clock, chrony=lambda: (None, ""), box_servers=lambda: (None, ""))  # type: ignore[arg-type]
            assert "waiting_for_second" not in await one.confirm("dave", "one approver") and one.confirmed
            assert (await gate.confirm("alice", "by phone"))["waiting_for_second"] and not gate.confirmed
            assert (await gate.confirm("alice", "again"))["waiting_for_second"] and not gate.confirmed
            clock.advance(s=3601)
            assert (await gate.confirm("bob", "late"))["waiting_for_second"] and not gate.confirmed
            done = await gate.confirm("carol", "the office's clock by phone")
            assert gate.confirmed and done["first"] == "bob" and done["first_reason"] == "late"
            return await writer.run(lambda c: [(r["actor"], r["action"], json.loads(r["detail"]))
                                               for r in audit_rows(c.db)])
        finally:
            await writer.close()

    got = asyncio.run(scenario())
    assert [(a, act) for a, act, _d in got] == [("dave", "host.clock_confirmed"), ("alice", "host.clock_confirm_asked"), ("alice", "host.clock_confirm_asked"),
                                                ("bob", "host.clock_confirm_asked"), ("carol", "host.clock_confirmed")]
    assert got[-1][2]["first"] == "bob" and "due" in got[-1][2]
