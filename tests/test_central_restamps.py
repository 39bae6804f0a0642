"""Issue 86 item 1 (design/0364): a box's clock set right is lawful at the office. The box is made of
its own code (tests/support/real_box.py: its catalog, its re-stamps with `shift_us`, its retention,
its reports and its answers to the office's time requests); the real Store and Verifier judge. A
2-day maximum and 10-minute segments, so each case runs in seconds."""

from __future__ import annotations

import pytest

from central.checks import verdicts
from central.store.store import Store
from central.verifier.verifier import Verifier
from storage.time import interval
from storage.time.readings import readings, reported
from tests.support import real_box, time_fleet as tf
from tests.support.catalog import central_destructions

D, H, S, M = tf.DAY, tf.HOUR, tf.S, 60 * tf.S
SHORT = {"max_days": 2, "min_days": 2, "segment_us": 600 * S, "verify_every": 6}


class OfficeClock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


def _run(tmp_path, **plan) -> tuple[Store, dict, real_box.RealBox]:
    clock = OfficeClock(tf.T0)
    store = Store(tmp_path / "c.db", clock=clock)
    box = real_box.RealBox(store, clock, Verifier(store, tf.UTC, gap_grace_us=0), tf.Plan(**{**SHORT, **plan}),
                           tmp_path / "box")
    box.run()
    return store, tf.outcome(store), box


def _stretch(box: real_box.RealBox, at: int) -> int:
    """How many destroyed segments ended in the hour between the office's two samples around a step
    at ``at`` (the box answers hourly): no evidence says on which side of the step their stamps fell."""
    return sum(1 for sid in range(1, box.recorded + 1) if at - at % H < tf.T0 + sid * SHORT["segment_us"] <= at - at % H + H)


def _read_twice(box: real_box.RealBox, at: int, ahead: int) -> int:
    """How many destroyed segments ended while the clock, set back by ``ahead`` at ``at``, read again what
    it had read before the step: the office's samples prove both offsets for those readings, and the
    receipt of the footage message naming them (sent at once) does not tell the two apart."""
    return sum(1 for sid in range(1, box.recorded + 1) if tf.T0 + ahead <= tf.T0 + sid * SHORT["segment_us"] <= at + ahead)


@pytest.mark.parametrize("name, steps", [
    ("behind a day, stepped forward at 12 h", [(tf.T0 - D, -D), (tf.T0 + 12 * H, 0)]),
    ("ahead a day, set back at 12 h", [(tf.T0 - D, D + 7 * S), (tf.T0 + 12 * H, 0)]),  # no stamp used twice
    ("booted two years behind, set right 90 minutes later", [(tf.T0 - D, -730 * D), (tf.T0 + 90 * M, 0)]),
])
def test_a_clock_set_right_and_re_stamped_is_no_finding(tmp_path, name, steps):
    """Every segment destroyed at its true 2 days (by the box's own corrected stamps): no finding but
    the warnings for what no evidence decides (the segments that ended between the office's two
    samples around the step, and after a step back those the clock read twice), and no "kept past" or
    "early" on either clock. Before issue 86 the
    office took the shift off the stamps: each re-stamped destruction "kept past its maximum" (a day
    behind: "at least 3.0 days old on the office's clock"), or "cannot be verified" (ahead), or
    "destroyed at 732.0 days" by the node's own record (two years behind)."""
    store, out, box = _run(tmp_path, days=4, steps=steps)
    assert box.restamped > 0 and box.destroyed > 250, (box.restamped, box.destroyed)
    at, ahead = steps[-1][0], steps[0][1]
    vague = _stretch(box, at) + (_read_twice(box, at, ahead) if ahead > 0 else 0)
    got = out["verdicts"]
    assert got.get("ok", 0) + got.get("unverified", 0) == box.destroyed and got.get("unverified", 0) <= vague, (name, out)
    assert set(out["findings"]) <= {"destruction_unverified (warning)"}, (name, out)
    rows = central_destructions(store)
    assert {r["verdict"] for r in rows} <= {"ok", "unverified"}
    box.close()
    store.close()


def test_the_box_and_the_office_read_a_destruction_with_one_function():
    """The box's report of a re-stamped destruction carries the stamp as made and the shift; the office
    maps the stamp as made (the line holds the offset the clock had then) and the box's own record
    adds the shift. A clock a day behind when it stamped, a day's shift added by its re-stamp, the
    segment destroyed at a true 2 days on the corrected clock."""
    end, gone = tf.T0 - 30 * M, tf.T0 - 30 * M + 2 * D  # true time
    row = {"end_us": end - D, "destroyed_us": gone, "shift_us": D}
    d = {"camera": "c", "reason": "max_retention", "start_us": end - D - 600 * S, **reported(row)}
    r = readings(d)
    assert (r.end_us, r.shift_us, r.true_end_us, r.own_age_us) == (end - D, D, end, 2 * D)
    assert verdicts.true_end(d) == end  # the shift added, never subtracted
    # the office's samples: a day behind before the step, right after it
    line = interval.ClockLine([interval.Sample(tf.T0 - H, tf.T0 - H - D, tf.T0 - H + S),
                               interval.Sample(tf.T0, tf.T0 - D, tf.T0 + S),
                               interval.Sample(tf.T0 + 2 * D - H, tf.T0 + 2 * D - H, tf.T0 + 2 * D - H + S),
                               interval.Sample(tf.T0 + 2 * D + H, tf.T0 + 2 * D + H, tf.T0 + 2 * D + H + S)])
    said = gone + 2 * S
    v = verdicts.by_office(d, heard=None, reported_us=said, min_days=2, max_days=2, line=line)
    assert v is not None and v.verdict == "ok" and 1.99 < v.age_days < 2.01, v
    assert verdicts.judge(d, heard=None, reported_us=said, min_days=2, max_days=2, line=line).verdict == "ok"
    # the line maps the stamp as made to the true end already: adding the shift after mapping would count
    # the step twice (a day old at a true 2 days: "early")
    mapped = line.on_office(r.end_us, "stamp")
    assert mapped.proven and mapped.earliest.us <= end <= mapped.latest.us and mapped.latest.us - mapped.earliest.us < 10 * S
    assert gone - (mapped.latest.us + r.shift_us) < D + 10 * S


def test_the_box_destroys_footage_stamped_ahead_at_its_true_maximum(tmp_path):
    """The box's own retention reads a segment re-stamped back (stamped by a clock a day ahead) by its
    corrected end: due at its true maximum, not a day later (before issue 86: its stamps as made
    kept it out of the query until they were past the maximum too, a day past it)."""
    from storage import catalog
    from storage.disk import layout
    from storage.footage import restamps, segment_rows
    from storage.retention import run
    from storage.retention.plan import Limits, Policy

    db = catalog.open_db(tmp_path / "catalog.db")
    a = tf.T0 + D  # true T0, stamped a day ahead
    segment_rows.insert(db, [{"camera": "cam", "start_us": a, "end_us": a + 600 * S, "bytes": 1, "sha256": "0" * 64,
                              "state": "complete", "source": "live", "created_us": a, "closed_us": a + 600 * S,
                              "path": layout.segment_relpath("cam", a)}])
    restamps.shift(db, 0, 1, -D, tf.T0 + H, {})
    policy = Policy(Limits(2 * D, 2 * D), {}, 0)
    due = [s.id for s in run.candidates(db, policy, ["cam"], tf.T0 + 600 * S + 2 * D + H, 0, set())[0]]
    assert due == [1]
    assert run.candidates(db, policy, ["cam"], tf.T0 + 600 * S + 2 * D - H, 0, set())[0] == []
    db.conn.close()


def test_a_recording_before_the_first_contact_says_so_in_both_languages():
    """A segment recorded before the office's first sample of the node (heard of an hour later), destroyed
    at its 2-day maximum: "cannot be verified", naming why: recorded before the first time request the
    node answered (design/0369), in English and on the zh-TW month page."""
    from zoneinfo import ZoneInfo

    from central.i18n import Speaker

    end = tf.T0
    line = interval.ClockLine([interval.Sample(tf.T0 + H, tf.T0 + H, tf.T0 + H + S),
                               interval.Sample(tf.T0 + 3 * D, tf.T0 + 3 * D, tf.T0 + 3 * D + S)])
    d = {"camera": "c", "reason": "max_retention", "start_us": end - 600 * S, "end_us": end,
         "destroyed_us": end + 2 * D, "segment_id": 1}
    v = verdicts.by_office(d, heard=verdicts.Heard(tf.T0 + H + 2 * S), reported_us=end + 2 * D + S, min_days=2,
                           max_days=2, line=line)
    assert v is not None and v.verdict == "unverified", v
    assert "recorded before the first time request of the office the node answered" in v.why, v.why
    zh = Speaker("zh-TW", ZoneInfo("Asia/Taipei")).said(str(v.why), v.why.stored())
    assert "錄製於節點回覆中心第一次校時請求之前" in zh, zh
    # recorded after it: the words of a bound the evidence cannot narrow, not of the first contact
    later = {**d, "end_us": tf.T0 + 2 * H, "destroyed_us": tf.T0 + 2 * H + 2 * D}
    w = verdicts.by_office(later, heard=None, reported_us=tf.T0 + 2 * H + 2 * D + S, min_days=2, max_days=2,
                           line=line)
    assert w is not None and "first time request" not in w.why, w
