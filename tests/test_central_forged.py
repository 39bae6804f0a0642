"""Issue 86 item 5 (design/0365): a destruction stamped after the retention message that reports it is
a forged record, found whatever the delivery; a lawful box's messages are never one."""

from __future__ import annotations

import pytest

from central.checks import verify
from central.store.store import Store
from central.verifier.verifier import Verifier
from tests.support import real_box, time_fleet as tf
from tests.support.catalog import central_destructions

D, H, S = tf.DAY, tf.HOUR, tf.S
SHORT = {"max_days": 2, "min_days": 2, "segment_us": 600 * S, "verify_every": 6}


def _gone(destroyed_us: int, sid: int = 1) -> dict:
    return {"camera": "c", "reason": "max_retention", "start_us": 0, "end_us": 1, "destroyed_us": destroyed_us,
            "segment_id": sid}


@pytest.mark.parametrize("ts, stamps, found", [
    (100 * S, [99 * S, 100 * S], None),                  # destroyed, then reported
    (100 * S, [101 * S], None),                          # a second of jitter forgiven
    (100 * S, [99 * S, 101 * S + 1, 5 * D + 100 * S], 2),  # two stamped after the message: one finding names both
    (None, [5 * D], None),                               # no stamp on the message: nothing to compare
])
def test_a_destruction_stamped_after_its_report_is_forged(ts, stamps, found):
    m = {"pass_id": 1, "destructions": [_gone(s, i) for i, s in enumerate(stamps)], **({"ts_us": ts} if ts else {})}
    f = verify.forged(7, m)
    if found is None:
        assert f is None
        return
    assert f is not None and f.kind == "destruction_forged" and f.severity == verify.CRITICAL and f.key == (
        "destruction_forged:7")
    assert f.detail["destructions"] == found and f.detail["segment_ids"] == [1, 2], f.detail
    assert "5.0 days after it" in f.message


def test_the_clock_line_is_read_where_a_forged_destruction_is_judged():
    """The samples a page's line is built from are read around each reading its verdicts map: a forged
    destruction's is its message's stamp (verify.bounded, design/0531), which is days from the stamp it says."""
    from central.verifier import clock_samples
    m = {"pass_id": 1, "ts_us": 3 * D, "destructions": [{**_gone(10 * D), "end_us": 0}, {**_gone(2 * D, 2), "end_us": 0}]}
    assert sorted(clock_samples.readings([(5, "retention", 0, None)], [m])) == [0, 0, 2 * D, 3 * D]


class _Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.mark.parametrize("pieces", [1, 3])
def test_a_forged_early_destruction_inside_an_outage_backlog_is_found(tmp_path, pieces):
    """A box offline days 1-4 destroys segment 60 a day early (at a true 1 day) and its record says it
    went at the 2-day maximum: 'ok' on both clocks by its stamp, as no sample brackets it and its receipt
    is days late (before issue 86: no finding); its destruction is stamped after the message that reports
    it: `destruction_forged`, critical, in one piece or three, and judged at the message's stamp, the
    latest it can have been made: early (design/0531; 'ok' before)."""
    clock = _Clock(tf.T0)
    store = Store(tmp_path / "c.db", clock=clock)
    plan = tf.Plan(**{**SHORT, "days": 5, "offline": [(tf.T0 + D + 1, tf.T0 + 4 * D)], "violate": {60: D},
                      "forge": True, "pieces": pieces})
    fleet = tf.Fleet(store, clock, Verifier(store, tf.UTC, gap_grace_us=0), plan)
    fleet.run()
    forged = [f for f in store.findings(limit=1000) if f["kind"] == "destruction_forged"]
    assert len(forged) == 1 and forged[0]["severity"] == "critical" and forged[0]["detail"]["segment_ids"] == [60], forged
    assert {r["segment_id"]: r["verdict"] for r in central_destructions(store)}[60] == "early", "judged at its report's stamp"
    early = [f for f in store.findings(limit=1000) if f["kind"] == "destroyed_early"]
    assert len(early) == 1 and early[0]["severity"] == "critical", early
    store.close()


def test_a_lawful_box_of_the_boxs_own_code_is_never_forged(tmp_path):
    """The box's own retention and reports, its clock stepped back an hour after recording: its
    destructions are stamped before the messages that report them (design/0365)."""
    clock = _Clock(tf.T0)
    store = Store(tmp_path / "c.db", clock=clock)
    box = real_box.RealBox(store, clock, Verifier(store, tf.UTC, gap_grace_us=0),
                           tf.Plan(**{**SHORT, "days": 3, "steps": [(tf.T0 - D, H + 7 * S), (tf.T0 + 30 * H, 0)]}),
                           tmp_path / "box")
    box.run()
    assert box.destroyed > 100
    assert not [f for f in store.findings(limit=1000) if f["kind"] == "destruction_forged"]
    box.close()
    store.close()
