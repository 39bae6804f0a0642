"""Corroborated time (design/0095, issue 39 item 1), the pure core as tables: the verdict over the
sources' readings, the proven time (design/0305), and the retention plan that takes them as plain data; the
office's signed time as the box checks it. The daemon restarted with its clock ahead is
tests/test_corroboration_daemon.py."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mqtt import office_time
from storage.time import corroboration as co
from storage.retention.budget import plan_at as plan
from storage.retention.plan import CAPACITY, MAX_RETENTION, Disk, Limits, Policy, Segment

pytestmark = pytest.mark.pure

S = co.SECOND_US
MIN = 60 * S
D = co.DAY_US
YEAR = 365 * D
TRUE = 1_790_000_000 * S            # the true time
GB = 1_000_000_000
POLICY_365 = Policy(Limits(30 * D, 365 * D), {}, reserve_bytes=10 * GB)
POLICY_30 = Policy(Limits(7 * D, 30 * D), {}, reserve_bytes=10 * GB)


def office(offset: int, age: int = 0, tied: bool = False) -> co.Reading:
    return co.Reading(co.OFFICE, "office", offset, age, tied=tied)


def cam(name: str, offset: int, age: int = 0) -> co.Reading:
    return co.Reading(co.CAMERA, name, offset, age)


def nts(offset: int) -> co.Reading:
    return co.Reading(co.NTS, "chrony:nts.example", offset)


@pytest.mark.parametrize("readings, state, source", [
    ([], co.UNHEARD, ""),                                               # nothing heard
    ([office(3 * S)], co.CORROBORATED, co.OFFICE),                      # the office agrees within 2 min
    # the host ahead of the office's signed time: a disagreement only in an exchange tied to the
    # box's own nonce; otherwise (a replay, a late message) stale: a lower bound (design/0370)
    ([office(-2 * YEAR, tied=True)], co.DISAGREES, co.OFFICE),          # the host two years ahead of the office
    ([office(-40 * D, tied=True)], co.DISAGREES, co.OFFICE),            # forty days ahead
    ([office(-3 * MIN, tied=True)], co.DISAGREES, co.OFFICE),           # just past the tolerance
    ([office(-2 * YEAR)], co.STALE, co.OFFICE),                         # a replayed year-old time: stale
    ([office(-40 * D)], co.STALE, co.OFFICE),
    ([office(-3 * MIN)], co.STALE, co.OFFICE),
    ([office(-2 * YEAR), office(-40 * D, tied=True)], co.DISAGREES, co.OFFICE),  # the tied one decides
    ([office(40 * D)], co.DISAGREES, co.OFFICE),                        # the host behind even a stale one: proven
    ([office(0, age=2 * 3600 * S)], co.UNHEARD, ""),                    # a stale office reading says nothing
    ([office(-2 * YEAR, tied=True), cam("a", 0), cam("b", 0)], co.DISAGREES, co.OFFICE),  # the office over cameras
    ([office(-2 * YEAR), cam("a", 0), cam("b", 0)], co.STALE, co.OFFICE),  # agreeing cameras vouch for nothing
    ([office(-2 * YEAR), nts(S)], co.CORROBORATED, co.NTS),             # NTS over a stale office time
    ([nts(S)], co.CORROBORATED, co.NTS),                                # chrony with NTS agrees
    ([cam("a", -2 * YEAR), cam("b", -2 * YEAR)], co.DISAGREES, co.CAMERA),  # cameras on the true time
    ([cam("a", 2 * S), cam("b", -S)], co.UNHEARD, co.CAMERA),           # two cameras agree: not authenticated
    ([cam("a", 2 * S)], co.UNHEARD, ""),                                # one camera is not a majority
    ([cam("a", 0), cam("b", -2 * YEAR)], co.UNHEARD, ""),               # two that disagree with each other
    ([cam("a", 0), cam("b", S), cam("c", -2 * YEAR)], co.UNHEARD, co.CAMERA),   # 2 of 3 agree: nothing vouched
    ([cam("a", -2 * YEAR), cam("b", -2 * YEAR), cam("c", 0)], co.DISAGREES, co.CAMERA),  # 2 of 3 say ahead
    ([cam("a", 0), cam("b", 0), cam("c", -YEAR), cam("d", -YEAR)], co.UNHEARD, ""),  # a tie is no majority
    ([cam("a", 0, age=3 * D), cam("b", 0, age=3 * D)], co.UNHEARD, ""),  # stale ONVIF readings
])
def test_the_verdict_names_the_source_that_decided(readings, state, source):
    v = co.judge(readings)
    assert (v.state, v.source) == (state, source)
    assert (v.why == "") == (state == co.CORROBORATED)
    if state == co.DISAGREES:
        assert "host clock" in v.why and ("ahead" in v.why or "behind" in v.why)
    if state == co.STALE:
        assert "stale" in v.why and "not taken as a disagreement" in v.why


def test_the_tolerance_is_a_parameter():
    assert co.judge([office(-3 * MIN)], tolerance_us=5 * MIN).corroborated
    assert not co.judge([office(-3 * MIN)], tolerance_us=2 * MIN).corroborated


def segs(ends_days_ago: list[float], now: int) -> list[Segment]:
    return [Segment(i + 1, "cam", now - int(d * D) - MIN, now - int(d * D), GB) for i, d in enumerate(ends_days_ago)]


def judged_destroyed(verdict: co.Verdict, true_now: int, host_now: int, policy: Policy, last: co.Carried | None,
                     mono: int, recorded_days_ago: list[float], confirmed: bool = False, boot: str = "now") -> list[int]:
    """A pass as the runner makes it: the verdict and the proven time -> the plan's destructions by
    age (the footage was recorded before this boot, which began `mono` ago)."""
    proven = co.proven_now(verdict, host_now, last, boot, mono, confirmed)
    age = co.age_now(verdict, host_now, proven)
    footage = segs(recorded_days_ago, true_now)
    p = plan(footage, [], policy, Disk(100 * GB, 200 * GB), host_now, age_trusted=age is not None,
             age_now_us=None if age is None or age >= host_now else age, measured_from_us=host_now - mono)
    return [d.segment.id for d in p.destroy if d.reason == MAX_RETENTION]


# footage recorded 400, 365.5, 100 and 0.001 days before the true time; the last pass proved the
# time a day ago, in the boot before this one (nothing carried across the reboot)
FOOTAGE = [400, 365.5, 100, 0.001]
LAST = co.Carried(TRUE - D, 0, "before", "the central office's signed time")


@pytest.mark.parametrize("ahead, policy, readings, confirmed, destroyed", [
    # restarted two years ahead, nothing heard: only what was due at the last proven time
    (2 * YEAR, POLICY_365, [], False, [1]),
    # the office's signed time, in an exchange tied to the box's nonce, disagrees: nothing by age at all
    (2 * YEAR, POLICY_365, [office(-2 * YEAR, tied=True)], False, []),
    # ... not tied to it: it proves the true time at least what it says, so what is due by it goes
    (2 * YEAR, POLICY_365, [office(-2 * YEAR)], False, [1, 2]),
    # cameras on the true time: they disagree with the host
    (2 * YEAR, POLICY_365, [cam("a", -2 * YEAR), cam("b", -2 * YEAR)], False, []),
    # forty days ahead against a 30-day maximum: the same
    (40 * D, POLICY_30, [], False, [1, 2, 3]),
    (40 * D, POLICY_30, [office(-40 * D, tied=True)], False, []),
    (40 * D, POLICY_30, [office(-40 * D)], False, [1, 2, 3]),
    (40 * D, POLICY_30, [cam("a", -40 * D), cam("b", -40 * D)], False, []),
    # a true clock the office agrees with: the lawful destructions go ahead
    (0, POLICY_365, [office(S)], False, [1, 2]),
    (0, POLICY_30, [office(S)], False, [1, 2, 3]),
    # a true clock two cameras agree with: they vouch for nothing (design/0370), so only what was
    # due at the last proven time
    (0, POLICY_365, [cam("a", 0), cam("b", S)], False, [1]),
    # a true clock nobody corroborates: what was due at the last proven time
    (0, POLICY_365, [], False, [1]),
    # ... unless an approver confirmed the host clock on the record
    (0, POLICY_365, [], True, [1, 2]),
])
def test_a_clock_ahead_at_start_destroys_nothing_unless_corroborated(ahead, policy, readings, confirmed, destroyed):
    got = judged_destroyed(co.judge(readings), TRUE, TRUE + ahead, policy, LAST, mono=5 * S,
                           recorded_days_ago=FOOTAGE, confirmed=confirmed)
    assert got == destroyed


@pytest.mark.parametrize("ahead, policy", [(2 * YEAR, POLICY_365), (40 * D, POLICY_30)])
def test_with_no_source_a_jump_destroys_only_what_was_due_before_it(ahead, policy):
    """The issue's box: footage recorded for a minute on a true clock, restarted ahead: with no
    source, what the last pass had not found due stays (the alarm says why)."""
    last = co.Carried(TRUE, 0, "before", co.FIRST_PASS)  # the last pass, just before the stop
    got = judged_destroyed(co.judge([]), TRUE + MIN, TRUE + MIN + ahead, policy, last, mono=S,
                           recorded_days_ago=[0.001, 0.0005])
    assert got == []
    proven = co.proven_now(co.judge([]), TRUE + MIN + ahead, last, "now", S)
    why = co.held_back(co.judge([]), TRUE + MIN + ahead, proven.us, proven.evidence)
    assert "host clock" in why and "ahead" in why and "confirm-time" in why and "NTS" in why


def test_the_proven_time_advances_with_monotonic_time_less_its_drift_and_not_at_a_reboot():
    last = co.Carried(TRUE, 100 * S, "b1", "the central office's signed time")
    # an hour of monotonic time later, the host says two years later: an hour, less what a clock 500 ppm
    # fast would have read in it (3600 s * 500 / 999,500, and a microsecond for the reading's rounding)
    b = co.carried(last, "b1", 100 * S + 3600 * S)
    assert b is not None and b.us == TRUE + 3600 * S - 1_800_901 and "monotonic" in b.evidence
    again = co.carried(co.Carried(b.us, 100 * S + 3600 * S, "b1", b.evidence), "b1", 100 * S + 3601 * S)
    assert again is not None and again.evidence == b.evidence, "the evidence does not grow pass by pass"
    # across a reboot (another boot id): nothing added, however long the box was down
    b = co.carried(last, "b2", 5 * S)
    assert b is not None and b.us == TRUE and "reboot" in b.evidence
    # a monotonic clock that reads less than the bound's, in "the same boot": not carried
    assert co.carried(last, "b1", 5 * S).us == TRUE  # type: ignore[union-attr]
    # nothing ever proved (a new catalog): the first pass's own time
    first = co.proven_now(co.judge([]), TRUE, None, "b1", 5 * S)
    assert (first.us, first.evidence) == (TRUE, co.FIRST_PASS)
    # no margin per pass: a host two years ahead, pass after pass, moves the proven time by the
    # monotonic time only
    c, mono = last, 100 * S
    for _ in range(1000):
        mono += S
        p = co.proven_now(co.judge([]), TRUE + 2 * YEAR + mono, c, "b1", mono)
        assert co.age_now(co.judge([]), TRUE + 2 * YEAR + mono, p) == p.us <= TRUE + (mono - 100 * S)
        c = co.Carried(p.us, mono, "b1", p.evidence)
    # what vouches now wins over what is carried, and the lower of the host and the office
    v = co.judge([office(-30 * S)])
    assert co.proven_now(v, TRUE + 30 * S, last, "b2", 0).us == TRUE
    assert co.proven_now(co.judge([]), TRUE, last, "b2", 0, confirmed=True).evidence.startswith("an approver")


def test_footage_recorded_in_this_boot_is_judged_on_the_host_clock():
    """The proven time holds back only footage from before this boot: what this boot recorded is
    on the clock the monotonic clock measures (a step is re-stamped, design/0059)."""
    from storage.retention.plan import Hold

    host = TRUE + 2 * YEAR
    old = segs([400, 366], TRUE)                       # recorded truly, before the reboot
    mine = [Segment(10 + i, "cam", host - int(d * D) - MIN, host - int(d * D), GB) for i, d in enumerate([40, 1])]
    footage = sorted(old + mine, key=lambda s: s.start_us)
    p = plan(footage, [], POLICY_30, Disk(100 * GB, 200 * GB), host, age_now_us=TRUE - D,
             measured_from_us=host - 50 * D)
    assert sorted(d.segment.id for d in p.destroy) == [1, 2, 10]
    # a hold that stands at the proven time stands for this boot's footage too
    hold = Hold(1, None, 0, host, expires_us=TRUE)
    p = plan(footage, [hold], POLICY_30, Disk(100 * GB, 200 * GB), host, age_now_us=TRUE - D,
             measured_from_us=host - 50 * D)
    assert p.destroy == []


def test_overwrite_for_space_goes_on_when_age_is_not_judged():
    footage = segs([0.5, 0.4, 0.3], TRUE)
    p = plan(footage, [], POLICY_365, Disk(5 * GB, 200 * GB), TRUE + 2 * YEAR, age_trusted=False)
    assert [d.reason for d in p.destroy] == [CAPACITY] * 3 or all(d.reason == CAPACITY for d in p.destroy)
    assert p.destroy   # the disk is below its reserve: recording never stops (R1.4)
    budget = plan(footage, [], POLICY_365, Disk(5 * GB, 200 * GB), TRUE + 2 * YEAR, age_now_us=TRUE)
    assert budget.destroy and all(d.reason == CAPACITY for d in budget.destroy)


def test_the_proven_time_is_rule_1s_time_only():
    footage = segs([400, 100, 10], TRUE)
    p = plan(footage, [], POLICY_30, Disk(100 * GB, 200 * GB), TRUE + 40 * D, age_now_us=TRUE)
    assert [(d.segment.id, d.reason) for d in p.destroy] == [(1, MAX_RETENTION), (2, MAX_RETENTION)]


def test_projections_on_the_monotonic_clock():
    # the office said TRUE when our monotonic clock read 10 s; 50 s later the host reads TRUE + 2 years
    assert co.office_offset(TRUE, 10 * S, TRUE + 2 * YEAR + 50 * S, 60 * S) == -2 * YEAR
    # an ONVIF reading taken before the host was stepped forward a year still says where the camera is
    assert co.camera_offset(0, TRUE, 10 * S, TRUE + YEAR + 20 * S, 30 * S) == -YEAR
    assert co.camera_offset(0, TRUE, None, TRUE, 30 * S) is None


@pytest.mark.parametrize("tracking, sources, authdata, offset, why", [
    ("C0A80001,nts.example,2,1790000000.0,0.000123,0.0,0.0,0.0,0.0,0.0,0.0,0.0,64.0,Normal\n",
     "^,*,nts.example,2,6,377,10,0.0,0.0,0.0\n", "nts.example,NTS,1,15,256,33,0,0,8,100\n", 123, ""),
    ("C0A80001,ntp.example,2,1790000000.0,0.000123,0.0,0.0,0.0,0.0,0.0,0.0,0.0,64.0,Normal\n",
     "^,*,ntp.example,2,6,377,10,0.0,0.0,0.0\n", "ntp.example,-,0,none,0,0,0,0,0,0\n", None, "not authenticated"),
    ("7F7F0101,,10,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,Not synchronised\n", "", "", None, "not synchronised"),
    ("", "", "", None, "said nothing"),
])
def test_chrony_counts_only_an_authenticated_source(tracking, sources, authdata, offset, why):
    reading, said = co.chrony_reading(tracking, sources, authdata)
    assert (reading.offset_us if reading else None) == offset
    assert why in said


def test_what_a_site_has_to_corroborate_with():
    assert co.site_sources(False, False) == []           # cameras, whatever servers they name, never count (0370)
    assert co.site_sources(True, True) == [co.OFFICE, co.NTS]


def _signed(key: Ed25519PrivateKey, doc: dict) -> bytes:
    from mqtt.commands import canonical

    return json.dumps({**doc, "sig": base64.b64encode(key.sign(canonical(doc))).decode()}).encode()


def test_the_offices_signed_time_is_read_only_when_signed_for_this_node():
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    msg = office_time.time_message(key.sign, "s/n", TRUE)
    assert office_time.signed_time(msg, key.public_key(), "s/n") == TRUE
    assert office_time.signed_time(msg, key.public_key(), "s/other") is None      # another node's
    assert office_time.signed_time(msg, other.public_key(), "s/n") is None        # another key
    assert office_time.signed_time(msg, None, "s/n") is None                      # no key configured
    forged = json.loads(msg)
    forged["at_us"] = TRUE + 2 * YEAR
    assert office_time.signed_time(json.dumps(forged).encode(), key.public_key(), "s/n") is None
    # every signed command carries the office's time too
    cmd = _signed(key, {"cmd": "hold", "to": "s/n", "args": {}, "nonce": "n" * 8, "expires_us": TRUE + S,
                        "issued_us": TRUE})
    assert office_time.signed_time(cmd, key.public_key(), "s/n") == TRUE
    heard: list[int] = []
    listener = office_time.Listener(key.public_key(), "s/n", heard.append)
    listener.hear("time", msg)
    listener.hear("time", msg)    # the same payload again: a hash, not a check (it says nothing new)
    assert heard == [TRUE]


def test_the_catalog_names_new_footage_once_and_a_pass_judges_age_at_the_budget(tmp_path):
    """storage/retention/report.footage_since over a real catalog: nothing the first time (what is
    on record predates the office's hearing), then each new range once; run_pass with the budget
    destroys nothing a clock's jump made due, and with the host's time what is due."""
    import shutil

    from edged.config import CameraConfig, RetentionConfig
    from storage import cameras as camera_table
    from storage.catalog import Catalog, open_db
    from storage.time.clock import FakeClock
    from storage.retention.report import footage_since
    from storage.retention.run import run_pass
    from tests.support.catalog import add_segments, rows

    db = open_db(tmp_path / "catalog.db")
    cat = Catalog(db)
    camera_table.sync(cat.db, [{"id": "c1", "name": "c1", "url": "synthetic:", "enabled": 1}], TRUE)

    def seg(n: int, end: int) -> dict:
        (tmp_path / "video").mkdir(exist_ok=True)
        (tmp_path / "video" / f"{n}.mp4").write_bytes(b"x" * 100)
        return {"camera": "c1", "start_us": end - MIN, "end_us": end, "path": f"video/{n}.mp4", "bytes": 100,
                "state": "complete", "created_us": end - MIN}

    add_segments(db, [seg(1, TRUE - 400 * D)])
    assert footage_since(db) == []                       # the upgrade: already on record, not announced
    add_segments(db, [seg(2, TRUE - MIN), seg(3, TRUE)])
    (got,) = footage_since(db)
    assert (got["first_id"], got["last_id"], got["segments"], got["cameras"]) == (2, 3, 2, 1)
    from storage import node
    node.set_values(db, {"mqtt_footage_id": got["last_id"]})
    assert footage_since(db) == []

    retention = RetentionConfig(max_retention_us=365 * D, min_retention_us=30 * D)
    cams = [CameraConfig(id="c1", name="c1", url="synthetic:")]
    ahead = FakeClock(TRUE + 2 * YEAR)
    # two years ahead, judged at the budget (the true time): only the segment 400 days old goes
    p = run_pass(db, tmp_path, retention, cams, shutil.disk_usage, clock=ahead, age_now_us=TRUE)
    assert [d.segment.id for d in p.plan.destroy] == [1]
    # the same clock, believed: everything
    p = run_pass(db, tmp_path, retention, cams, shutil.disk_usage, clock=ahead)
    assert sorted(d.segment.id for d in p.plan.destroy) == [2, 3]
    assert len(rows(db, "destructions")) == 3
