"""Issue 86 item 4 (design/0368): a box that stops recording cannot hide an overrun. Its cameras stop,
its retention stops, and it stays online answering the office's time requests and raising durable
alarms: the office proves it still held the footage from its newest message of any kind queued after
the footage, not only a later footage message. The box is made of its own code
(tests/support/real_box.py); the real Store and Verifier judge."""

from __future__ import annotations

from central.store.store import Store
from central.verifier.verifier import Verifier
from tests.support import real_box, time_fleet as tf

D = tf.DAY
SHORT = {"max_days": 2, "min_days": 2, "segment_us": 600 * tf.S, "verify_every": 6}


class _Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


def _run(tmp_path, alarms: bool) -> dict:
    clock = _Clock(tf.T0)
    store = Store(tmp_path / "c.db", clock=clock)
    box = real_box.RealBox(store, clock, Verifier(store, tf.UTC, gap_grace_us=0),
                           tf.Plan(**{**SHORT, "days": 6, "stopped": [(tf.T0 + 2 * D, tf.T0 + 7 * D)]}), tmp_path / "box")
    box.record_until, box.alarm_every = tf.T0 + 2 * D, alarms
    box.run()
    found = {f["kind"]: f for f in store.findings(limit=1000) if f["severity"] == "critical"}
    box.close()
    store.close()
    return found


def test_a_box_that_stops_recording_and_destroying_is_found_by_its_later_alarms(tmp_path):
    """Cameras and retention stopped at day 2 (a 2-day maximum), the box online raising an alarm an hour:
    by day 6 its footage of day 1 is kept past its maximum by at least a day on the office's clock, and
    its retention has stopped (before issue 86: no finding, its newest footage message being of day 2)."""
    found = _run(tmp_path / "a", alarms=True)
    assert set(found) == {"kept_past_maximum", "retention_stopped"}, found
    kept = found["kept_past_maximum"]
    assert kept["detail"]["clock"] == "office" and "a message the node queued after them" in kept["message"], kept
    assert kept["detail"]["newest_us"] > tf.T0 + 2 * D + 12 * tf.HOUR, kept["detail"]  # after its last footage


def test_a_box_that_says_nothing_after_its_last_footage_proves_nothing(tmp_path):
    """The same box silent but for its answers (no durable message after its last footage): the office
    holds no proof it still held the footage, and says nothing (answers are no such proof)."""
    assert _run(tmp_path / "b", alarms=False) == {}
