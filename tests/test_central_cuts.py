"""Issue 86 item 2 (design/0367): the verdicts on a lawful box's backlog do not depend on how it was
cut. The box is made of its own code (tests/support/real_box.py), offline past several of its
maximums, its backlog delivered in random pieces with the verifier run between and its first answer
to the office's time requests anywhere among them; the real Store and Verifier judge. Every cut gives
the verdicts one piece gives: each destruction "ok", no finding (before issue 86: a page of the
backlog whose readings lay more than 2 days from every sample was "cannot be verified", 198 of 2,015
in 9 pieces with the answer after the fifth)."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from central.store.store import Store
from central.verifier.verifier import Verifier
from tests.support import real_box, time_fleet as tf

pytestmark = pytest.mark.slow  # 25 s a delivery of a 16-day life on the shared build box: outside the pure tier's minute
D = tf.DAY
SHORT = {"max_days": 2, "min_days": 2, "segment_us": 600 * tf.S, "verify_every": 6}
OUTAGE = {"days": 16, "offline": [(tf.T0 + D + 1, tf.T0 + 14 * D)]}  # 13 days: pieces far from any sample


class _Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


def _outcome(path, pieces: int, answer_after: int) -> tuple[int, dict]:
    clock = _Clock(tf.T0)
    store = Store(path / "c.db", clock=clock)
    box = real_box.RealBox(store, clock, Verifier(store, tf.UTC, gap_grace_us=0),
                           tf.Plan(**{**SHORT, **OUTAGE, "pieces": pieces, "answer_after": answer_after}), path / "box")
    box.run()
    out = tf.outcome(store)
    box.close()
    store.close()
    return box.destroyed, out


@functools.cache
def _one_piece(path) -> tuple[int, dict]:
    return _outcome(path, 1, 0)


@pytest.mark.parametrize("pieces, answer_after", [(9, 5)])
def test_a_backlog_cut_where_a_page_has_no_sample_within_two_days(tmp_path, pieces, answer_after):
    n, out = _outcome(tmp_path, pieces, answer_after)
    assert n > 2000 and out == {"verdicts": {"ok": n}, "findings": {}}, out


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 12), st.integers(0, 12))
def test_the_same_verdicts_whatever_the_cut(tmp_path_factory, pieces, answer_after):
    base = _one_piece(tmp_path_factory.getbasetemp() / "one")
    got = _outcome(tmp_path_factory.mktemp("cut"), pieces, answer_after)
    assert got == base, (pieces, answer_after, got, base)
