"""The office's clock samples pruned (issue 73, design/0344): only what no verdict can need. The pure
rule (central/checks/clock.py `keep_from`) against the clock line every verdict reads
(central/verifier/clock_samples.py `line`) on a real SQLite table; the store's rule the same as
the pure one; and the real store and verifier with a box over days (tests/support/time_fleet.py):
samples pruned, every verdict and finding the same as without pruning."""

from __future__ import annotations

from hypothesis import HealthCheck, strategies as st
import pytest

from central.checks import clock
from central.store.store import Store
from central.verifier import clock_samples, retention_watch
from central.verifier.verifier import Verifier
from tests.support import time_fleet as tf
from tests.support.catalog import central_clock_count, central_clock_cut, central_clock_table, central_destructions
from tests.support.properties import at_two_lengths

D, H, S = tf.DAY, tf.HOUR, tf.S
A = clock_samples.AROUND_US


@st.composite
def histories(draw):
    """A node's samples: an hour or a day apart, its clock off by an offset that steps (ahead or back,
    up to days) now and then; a horizon and a lowest reading among them, readings at and above it."""
    n = draw(st.integers(2, 60))
    sent, offset, out = tf.T0, draw(st.integers(-3 * D, 3 * D)), []
    for _ in range(n):
        sent += draw(st.sampled_from([H, 6 * H, D, 3 * D]))
        if draw(st.integers(0, 9)) == 0:
            offset += draw(st.integers(-3 * D, 3 * D))
        out.append((sent, sent + offset + draw(st.integers(-S, S))))
    lo, hi = min(x[1] for x in out), max(x[1] for x in out)
    lowest = draw(st.none() | st.integers(lo - 2 * D, hi + 2 * D))
    horizon = draw(st.integers(out[0][0] - D, out[-1][0] + D))
    floor = lowest if lowest is not None else out[-1][1]  # the newest sample's reading counts as needed
    readings = draw(st.lists(st.integers(floor, max(floor, hi + 3 * D)), min_size=1, max_size=6))
    return out, horizon, lowest, readings


@at_two_lengths(120, histories(), settings_kw={'suppress_health_check': [HealthCheck.too_slow]})
def test_pruning_never_changes_the_line_a_verdict_reads(history):
    """For every reading at or above the lowest a verdict may still need, the samples the office
    reads around it are the same before and after pruning; the newest sample and every one since
    the horizon stay; the store's rule is the pure one."""
    samples, horizon, lowest, readings = history
    full = central_clock_table(samples)
    cut = clock.keep_from(samples, horizon, lowest, A)
    assert clock_samples.keep_from(full, "n", horizon, lowest) == cut
    pruned = central_clock_table(samples)
    kept = central_clock_cut(pruned, cut)
    assert kept[-1] == samples[-1][0] and len(kept) >= min(2, len(samples)) and all(s in kept for s, _n in samples if s >= horizon)
    assert len(kept) == len(samples) - sum(1 for s, _n in samples if cut is not None and s < cut)
    for r in readings:
        assert clock_samples.line(pruned, "n", [r]).samples == clock_samples.line(full, "n", [r]).samples, r
    assert clock_samples.line(pruned, "n", readings).samples == clock_samples.line(full, "n", readings).samples


def _days(*pairs: tuple[int, int]) -> list[tuple[int, int]]:
    return [(a * D, b * D) for a, b in pairs]


@pytest.mark.parametrize("samples, horizon, lowest, cut", [
    ([], 0, None, None),                                                  # nothing to prune
    (_days((10, 10)), 100 * D, None, None),                               # the newest stays, always
    (_days((10, 10), (20, 20), (30, 30)), 100 * D, None, 20 * D),         # all old: the newest and the one before
    (_days((10, 10), (20, 20), (30, 30), (40, 40)), 25 * D, None, 20 * D),  # since the horizon, and the one before
    (_days((10, 10), (20, 20), (30, 30)), 5 * D, None, None),             # all since the horizon
    (_days((10, 10), (20, 20), (30, 30), (40, 40)), 100 * D, 23 * D, 20 * D),  # a reading the third may hold
    (_days((10, 10), (20, 20), (30, 30), (40, 40)), 100 * D, 13 * D, None),  # one the second may hold: all stay
    (_days((10, 90), (20, 20), (30, 30)), 100 * D, None, None),           # a clock that went back: the first reads high
])
def test_the_rule_in_a_table(samples, horizon, lowest, cut):
    assert clock.keep_from(samples, horizon, lowest, A) == cut


def test_the_horizon_is_the_longest_maximum_and_a_month():
    assert clock.horizon(400 * D, 30, 365) == (400 - 30 - clock.KEEP_MARGIN_DAYS) * D
    assert clock.horizon(400 * D, None, 365) == (400 - 365 - clock.KEEP_MARGIN_DAYS) * D


class OfficeClock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


# a box over 12 days at a 2-day maximum: a backlog in pieces, a clock step, a retention pass that
# stops (footage kept past its maximum: found), answers every hour
PLAN = {"days": 12, "max_days": 2, "min_days": 2, "segment_us": 600 * S, "verify_every": 6, "pieces": 3,
        "offline": [(tf.T0 + 5 * D + 1, tf.T0 + 6 * D + 12 * H)], "steps": [(tf.T0 + 7 * D, 3 * H)],
        "stopped": [(tf.T0 + 8 * D, tf.T0 + 9 * D + 12 * H)]}


SQLITE = Store  # the whole store stays on SQLite when tests/test_central_postgres.py runs these on PostgreSQL


def _fleet(tmp_path, name: str, prune: bool, kind: type | None = None) -> tuple[Store, tf.Fleet]:
    office = OfficeClock(tf.T0)
    store = (Store if kind is None else kind)(tmp_path / name, clock=office)
    verifier = Verifier(store, tf.UTC, gap_grace_us=0)
    if not prune:
        verifier.prune_clock_samples = lambda now: 0  # type: ignore[method-assign]
    fleet = tf.Fleet(store, office, verifier, tf.Plan(**PLAN))
    fleet.run()
    return store, fleet


def _samples(store: Store) -> int:
    return central_clock_count(store)[0]


@pytest.mark.both_engines  # design/0344: pruned on PG, whole on SQLite
def test_pruned_samples_leave_every_verdict_as_it_was(tmp_path, monkeypatch):
    """The same box with and without pruning (a day's margin instead of a month, so that the run
    prunes): rows pruned, every destruction's verdict and every finding the same."""
    monkeypatch.setattr(clock, "KEEP_MARGIN_DAYS", 1)
    whole, fleet = _fleet(tmp_path, "whole.db", False, SQLITE)
    pruned, _ = _fleet(tmp_path, "pruned.db", True)
    try:
        assert fleet.destroyed > 1000 and _samples(whole) == fleet.answered
        assert _samples(pruned) < _samples(whole) * 2 // 3, (_samples(pruned), _samples(whole))
        out = tf.outcome(whole)
        assert out["verdicts"].get("kept_past_maximum", 0) > 100, out  # a verdict that needs the samples
        assert tf.outcome(pruned) == out
        assert central_destructions(pruned) == central_destructions(whole)
        assert [(f["kind"], f["message"]) for f in pruned.findings(limit=1000)] == \
            [(f["kind"], f["message"]) for f in whole.findings(limit=1000)]
    finally:
        whole.close()
        pruned.close()


@pytest.mark.both_engines
def test_pruning_goes_in_batches_and_keeps_what_a_waiting_verdict_needs(tmp_path):
    """clock_samples.prune deletes a batch a transaction; footage the office knows the box holds
    keeps the samples around it whatever the horizon."""
    store, fleet = _fleet(tmp_path, "c.db", False)  # none pruned in the run: all of them here
    try:
        before = _samples(store)
        lowest = retention_watch.oldest_held(store.db, tf.NODE)
        assert lowest is not None and lowest > tf.T0 + 9 * D  # the footage not yet destroyed
        gone = clock_samples.prune(store, tf.NODE, tf.T0 + 100 * D, lowest, batch=7)
        assert gone > 7 * 3 and _samples(store) == before - gone
        oldest = central_clock_count(store)[1]
        assert oldest <= lowest - clock_samples.AROUND_US, "the samples around what it holds stay"
        assert clock_samples.prune(store, tf.NODE, tf.T0 + 100 * D, lowest, batch=7) == 0, "once is enough"
    finally:
        store.close()
