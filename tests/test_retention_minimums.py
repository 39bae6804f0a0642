"""Per-camera minimum retention under disk pressure (R1.3; design/0035): the planner takes
surplus (footage past its own camera's minimum) before any footage a minimum protects, and
when it must breach, breaches fairly. Tables for the cases people ask about, then properties
over random cameras, minimums, segments, holds and disks (no disk, no clock)."""

from fractions import Fraction

from hypothesis import strategies as st

from storage.retention.forecast import forecast_by_camera
from storage.retention.plan import (
    CAPACITY,
    MAX_RETENTION,
    Disk,
    Hold,
    Limits,
    Policy,
    Segment,
    kept_fraction,
    plan,
    surplus,
)
from storage import alarm_kinds as kinds
from tests.support.properties import at_two_lengths

D = 86_400 * 1_000_000
H = 3_600_000_000
NOW = 1000 * D
GB = 1_000_000_000


def daily(first_id, camera, days, size=GB):
    """One segment a day for `days` days: segment first_id + i ends i days ago."""
    return [Segment(first_id + i, camera, NOW - (i + 1) * D, NOW - i * D, size) for i in range(days)]


def oldest_first(segs):
    return sorted(segs, key=lambda s: (s.start_us, s.id))


def ids(p):
    return {d.segment.id for d in p.destroy}


def by_camera(p):
    out: dict[str, int] = {}
    for d in p.destroy:
        out[d.segment.camera] = out.get(d.segment.camera, 0) + 1
    return out


SITE = Limits(30 * D, 365 * D)
LONG = {"vault": Limits(90 * D, 365 * D)}


def test_a_90_day_camera_is_kept_while_30_day_cameras_give_up_surplus():
    """The issue's case: the 90-day camera holds the oldest footage on the disk, yet only the
    30-day cameras' footage past 30 days goes (the old planner took the vault's first)."""
    segs = oldest_first(daily(0, "vault", 80) + daily(100, "door", 45) + daily(200, "desk", 45))
    pol = Policy(SITE, LONG, reserve_bytes=20 * GB, on_full="overwrite")
    p = plan(segs, [], pol, Disk(free_bytes=0, total_bytes=1000 * GB), NOW)
    assert by_camera(p) == {"door": 10, "desk": 10}, "20 GB from the two 30-day cameras' surplus only"
    assert all(surplus(d.segment, pol, NOW) and d.reason == CAPACITY for d in p.destroy)
    assert [d.segment.start_us for d in p.destroy] == sorted(d.segment.start_us for d in p.destroy), "oldest first"
    assert p.alarms == [] and p.short_bytes == 0 and not p.stop_recording


def test_on_full_stop_does_not_stop_while_another_camera_has_surplus():
    segs = oldest_first(daily(0, "vault", 80) + daily(100, "door", 45))
    pol = Policy(SITE, LONG, reserve_bytes=10 * GB, on_full="stop")
    p = plan(segs, [], pol, Disk(free_bytes=0, total_bytes=1000 * GB), NOW)
    assert by_camera(p) == {"door": 10} and not p.stop_recording and p.alarms == []
    # Surplus gone: now it stops, takes nothing protected, and names the cameras it protects.
    p = plan(segs, [], pol, Disk(free_bytes=-10 * GB, total_bytes=1000 * GB), NOW)
    assert by_camera(p) == {"door": 15} and p.stop_recording and p.blocked_by == ["door", "vault"]
    (alarm,) = p.alarms
    assert alarm.kind == kinds.RECORDING_STOPPED_DISK_FULL.name and "door, vault" in alarm.message


def test_a_breach_is_shared_in_proportion_to_each_minimum():
    """No surplus anywhere: each breached camera keeps about the same fraction of its own
    minimum (the 90-day camera three times the days of the 30-day one), and each alarm says
    by how much."""
    segs = oldest_first(daily(0, "vault", 90) + daily(100, "door", 30))
    pol = Policy(SITE, LONG, reserve_bytes=40 * GB, on_full="overwrite")
    p = plan(segs, [], pol, Disk(free_bytes=0, total_bytes=1000 * GB), NOW)
    assert by_camera(p) == {"vault": 30, "door": 10}, "each keeps 2/3 of its minimum: 60 and 20 days"
    alarms = {a.camera: a for a in p.alarms}
    assert set(alarms) == {"vault", "door"} and all(a.kind == kinds.MIN_RETENTION_BREACH.name for a in alarms.values())
    assert (alarms["vault"].achieved_us, alarms["vault"].min_us) == (60 * D, 90 * D)
    assert (alarms["door"].achieved_us, alarms["door"].min_us) == (20 * D, 30 * D)
    assert "60.00 days" in alarms["vault"].message and "30.00 days short" in alarms["vault"].message
    assert "67 % of it kept" in alarms["door"].message


def test_a_breach_with_equal_minimums_is_oldest_first():
    segs = oldest_first(daily(0, "a", 20) + daily(100, "b", 10))
    pol = Policy(SITE, {}, reserve_bytes=12 * GB)
    p = plan(segs, [], pol, Disk(0, 1000 * GB), NOW)
    assert by_camera(p) == {"a": 11, "b": 1}, "a's 11 oldest days down to b's age, then one each"


def test_held_footage_is_not_surplus_to_take_and_max_retention_still_runs():
    segs = oldest_first(daily(0, "vault", 80) + daily(100, "door", 400))
    hold = Hold(1, frozenset({"door"}), NOW - 60 * D, NOW - 30 * D, None)  # door's days 30-60: legal hold
    pol = Policy(SITE, LONG, reserve_bytes=340 * GB)
    p = plan(segs, [hold], pol, Disk(0, 1000 * GB), NOW)
    past_max = {d.segment.id for d in p.destroy if d.reason == MAX_RETENTION}
    assert past_max == set(range(100 + 366, 100 + 400)), "door's 34 days past 365 go as max retention"
    assert not any(hold.covers(d.segment) for d in p.destroy)
    capacity = [d.segment for d in p.destroy if d.reason == CAPACITY]
    # 340 - 34 = 306 GB more: door's unheld surplus (days 60-365, 306 of them) is exactly it;
    # the vault's 80 days (all under its 90-day minimum) are untouched.
    assert {s.camera for s in capacity} == {"door"} and len(capacity) == 306 and p.alarms == []


def test_the_forecast_per_camera_follows_the_same_rules():
    """1 GB a day per camera. 200 GB: the vault keeps its 90 days, the two 30-day cameras
    share the rest equally (55 days each); 100 GB: minimums do not fit (150 GB), each keeps
    2/3 of its own; 2000 GB: everyone reaches max retention (365 days)."""
    pol = Policy(SITE, LONG, reserve_bytes=0)
    rates = {"vault": GB / 86_400, "door": GB / 86_400, "desk": GB / 86_400, "off": 0.0}
    days = {c: None if v is None else round(v / D, 2) for c, v in forecast_by_camera(200 * GB, 0, rates, pol).items()}
    assert days == {"vault": 90, "door": 55, "desk": 55, "off": None}
    days = {c: round(v / D, 2) for c, v in forecast_by_camera(110 * GB, 10 * GB, rates, pol).items() if v}
    assert days == {"vault": 60, "door": 20, "desk": 20}, "held footage is not room"
    assert {round(v / D) for v in forecast_by_camera(2000 * GB, 0, rates, pol).values() if v} == {365}


# properties ---------------------------------------------------------------------------
CAMS = ["a", "b", "c", "d"]
limits = st.tuples(st.integers(1, 120), st.integers(0, 300)).map(lambda t: Limits(t[0] * D, (t[0] + t[1]) * D))
policies = st.builds(
    lambda site, cams, reserve, full: Policy(site, cams, reserve * GB, full),
    limits, st.dictionaries(st.sampled_from(CAMS), limits, max_size=4), st.integers(0, 80),
    st.sampled_from(["overwrite", "stop"]))
segments = st.lists(st.tuples(st.sampled_from(CAMS), st.integers(0, 500 * 24), st.integers(1, 72), st.integers(1, 10)),
                    max_size=60).map(lambda xs: oldest_first(
                        [Segment(i, c, NOW - h * H, NOW - h * H + n * H, s * GB) for i, (c, h, n, s) in enumerate(xs)]))
holds = st.lists(st.tuples(st.one_of(st.none(), st.frozensets(st.sampled_from(CAMS), min_size=1)),
                           st.integers(0, 500 * 24), st.integers(1, 100 * 24),
                           st.one_of(st.none(), st.integers(-10, 10))), max_size=3).map(
    lambda xs: [Hold(i, c, NOW - h * H, NOW - h * H + n * H, None if e is None else NOW + e * D)
                for i, (c, h, n, e) in enumerate(xs)])
disks = st.integers(0, 80).map(lambda f: Disk(f * GB, 1000 * GB))


@at_two_lengths(600, segments, holds, policies, disks)
def test_minimums_under_pressure(segs, hs, pol, disk):
    p = plan(segs, hs, pol, disk, NOW)
    destroyed = ids(p)
    active = [h for h in hs if h.active(NOW)]

    def held(s):
        return any(h.covers(s) for h in active)

    def spare(s):
        return surplus(s, pol, NOW)

    free_segs = [s for s in segs if not held(s)]
    capacity = [d.segment for d in p.destroy if d.reason == CAPACITY]
    taken_young = [s for s in capacity if not spare(s)]

    assert len(destroyed) == len(p.destroy), "nothing destroyed twice"
    assert not any(held(d.segment) for d in p.destroy), "holds are never taken"
    for s in free_segs:  # max retention still enforced, pressure or not
        if s.end_us < NOW - pol.limits(s.camera).max_us:
            assert s.id in destroyed and next(d for d in p.destroy if d.segment.id == s.id).reason == MAX_RETENTION
    assert all(d.reason == MAX_RETENTION or not held(d.segment) for d in p.destroy)
    if disk.free_bytes >= pol.reserve_bytes:
        assert capacity == [], "no capacity destruction with the reserve free"

    # 1. No footage under its own minimum is taken while any camera has surplus left.
    if taken_young:
        assert all(s.id in destroyed for s in free_segs if spare(s)), "surplus left while a minimum was breached"
    # 2. Surplus goes oldest first across cameras (R1.4).
    spare_taken = [s for s in capacity if spare(s)]
    if spare_taken:
        newest = max(s.start_us for s in spare_taken)
        assert not [s for s in free_segs if spare(s) and s.start_us < newest and s.id not in destroyed]
    # 3. Capacity met when possible, and no more taken than needed (the last one crosses the line).
    reachable = disk.free_bytes + sum(s.bytes for s in free_segs
                                      if pol.on_full == "overwrite" or spare(s)
                                      or s.end_us < NOW - pol.limits(s.camera).max_us)
    if reachable >= pol.reserve_bytes:
        assert p.short_bytes == 0 and not p.stop_recording, "the reserve was reachable"
    if capacity:
        before_last = disk.free_bytes + sum(d.segment.bytes for d in p.destroy) - capacity[-1].bytes
        assert before_last < pol.reserve_bytes, "capacity took more than the deficit"
    # 4. on_full = stop never breaches, and stops only when surplus is gone.
    if pol.on_full == "stop":
        assert taken_young == []
        if p.stop_recording:
            assert all(s.id in destroyed for s in free_segs if spare(s))
            assert p.blocked_by == sorted({s.camera for s in free_segs if s.id not in destroyed})
    # 5. Fairness: every protected segment taken leaves its camera at least as large a fraction
    #    of its minimum as any protected segment kept would have.
    if taken_young:
        kept_young = [s for s in free_segs if not spare(s) and s.id not in destroyed]
        lowest_taken = min(kept_fraction(s, pol, NOW) for s in taken_young)
        assert all(kept_fraction(s, pol, NOW) <= lowest_taken for s in kept_young)
    # 6. Each breached camera has one alarm saying by how much.
    breach = {a.camera: a for a in p.alarms if a.kind == kinds.MIN_RETENTION_BREACH.name}
    assert set(breach) == {s.camera for s in taken_young}
    for cam, a in breach.items():
        youngest = max(s.end_us for s in taken_young if s.camera == cam)
        assert a.achieved_us == NOW - youngest and a.min_us == pol.limits(cam).min_us
        assert a.achieved_us < a.min_us
        assert Fraction(a.achieved_us, a.min_us) == min(kept_fraction(s, pol, NOW) for s in taken_young
                                                       if s.camera == cam)


# the shell feeds the planner every camera's surplus (real SQLite catalog) -------------------
def test_the_pass_looks_past_a_long_cameras_old_footage_for_surplus(tmp_path):
    """The catalog's oldest rows all belong to the vault (a one-year minimum); the 30-day
    camera's surplus lies beyond the site's oldest batch, and there is more of it than one
    batch per camera holds. The pass must find it rather than breach the vault."""
    from collections import namedtuple

    from edged.config import CameraConfig, RetentionConfig
    from storage import audit, cameras as camera_table
    from storage.catalog import open_db
    from storage.time.clock import SYSTEM, FakeClock
    from storage.retention.run import FIRST_BATCH, run_pass
    from tests.support.catalog import add_segments, rows

    db = open_db(tmp_path / "catalog.db")
    hours = {"vault": 200 * 24, "door": 125 * 24}  # door: 95 days past its 30-day minimum
    camera_table.sync(db, [{"id": c, "name": c, "url": "synthetic:", "enabled": 1} for c in hours], SYSTEM.now_us())
    for cam, n in hours.items():
        add_segments(db, (
            {"camera": cam, "start_us": NOW - (i + 1) * H, "end_us": NOW - i * H, "path": f"{cam}/{i}.mp4",
             "bytes": 1_000_000, "state": "complete", "created_us": NOW - i * H} for i in range(n)))
    need = FIRST_BATCH  # more door segments than the first batch gives door
    retention = RetentionConfig(reserve_bytes=need * 1_000_000, reserve_percent=None)
    cams = [CameraConfig("vault", "vault", "synthetic:", min_retention_us=365 * D, max_retention_us=400 * D),
            CameraConfig("door", "door", "synthetic:")]
    Usage = namedtuple("Usage", "total used free")
    r = run_pass(db, tmp_path, retention, cams, lambda _d: Usage(10**12, 10**12, 0), clock=FakeClock(NOW))
    destroyed = rows(db, "destructions")
    assert {x["camera"] for x in destroyed} == {"door"} and len(destroyed) == need, \
        "all from door's surplus, none from the vault"
    assert max(x["end_us"] for x in destroyed) <= NOW - 30 * D and r.plan.alarms == []
    record = [row for row in audit.records(db) if row["action"] == "retention.pass"][-1]
    assert "breached" not in record["detail"]
