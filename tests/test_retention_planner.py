"""The retention planner's rules, as tables and as properties (no disk, no clock)."""

from hypothesis import strategies as st

from storage.retention.forecast import forecast_retention_us, verdict
from storage.retention.plan import (
    CAPACITY,
    MAX_RETENTION,
    Disk,
    Hold,
    Limits,
    Policy,
    Alarm,
    Segment,
    breaches,
    plan,
)
from storage import alarm_kinds as kinds
from tests.support.properties import at_two_lengths

D = 86_400 * 1_000_000
NOW = 1000 * D
GB = 1_000_000_000


def seg(i, camera, age_days, length_days=0.5, size=GB):
    start = NOW - int(age_days * D)
    return Segment(i, camera, start, start + int(length_days * D), size)


def policy(min_d=30, max_d=365, reserve=10 * GB, on_full="overwrite", cameras=None):
    return Policy(Limits(min_d * D, max_d * D), cameras or {}, reserve, on_full)


def ids(p):
    return [d.segment.id for d in p.destroy]


def test_max_retention_destroys_even_with_free_space():
    segs = [seg(1, "a", 400), seg(2, "a", 366), seg(3, "a", 100)]
    p = plan(segs, [], policy(), Disk(free_bytes=900 * GB, total_bytes=1000 * GB), NOW)
    assert ids(p) == [1, 2] and {d.reason for d in p.destroy} == {MAX_RETENTION}
    assert p.alarms == []


def test_per_camera_max_override():
    segs = [seg(1, "a", 100), seg(2, "b", 100)]
    p = plan(segs, [], policy(cameras={"b": Limits(7 * D, 90 * D)}), Disk(900 * GB, 1000 * GB), NOW)
    assert ids(p) == [2]


def test_capacity_destroys_oldest_first_across_cameras_until_the_reserve():
    segs = sorted([seg(1, "a", 60), seg(2, "b", 55), seg(3, "a", 50), seg(4, "b", 45)], key=lambda s: s.start_us)
    p = plan(segs, [], policy(reserve=10 * GB), Disk(free_bytes=8 * GB, total_bytes=100 * GB), NOW)
    assert ids(p) == [1, 2] and {d.reason for d in p.destroy} == {CAPACITY}
    assert p.alarms == [] and p.short_bytes == 0


def test_min_retention_breach_is_critical_and_carries_the_achieved_retention():
    segs = [seg(1, "a", 12, length_days=1), seg(2, "a", 11, length_days=1)]
    p = plan(segs, [], policy(min_d=30), Disk(free_bytes=8 * GB, total_bytes=100 * GB), NOW)
    assert ids(p) == [1, 2]
    (alarm,) = p.alarms
    assert alarm.kind == kinds.MIN_RETENTION_BREACH.name and alarm.severity == "critical" and alarm.camera == "a"
    assert alarm.achieved_us == 10 * D  # the youngest destroyed footage ended 10 days ago
    assert "10.00 days" in alarm.message


def test_on_full_stop_stops_instead_of_breaching():
    segs = [seg(1, "a", 50), seg(2, "a", 20), seg(3, "a", 10)]
    p = plan(segs, [], policy(min_d=30, on_full="stop"), Disk(free_bytes=7 * GB, total_bytes=100 * GB), NOW)
    assert ids(p) == [1] and p.stop_recording
    assert [a.kind for a in p.alarms] == [kinds.RECORDING_STOPPED_DISK_FULL.name]


def test_holds_protect_footage_past_max_and_under_pressure_until_they_expire():
    segs = [seg(1, "a", 400), seg(2, "a", 60), seg(3, "b", 60)]
    evidence = Hold(1, frozenset({"a"}), segs[1].start_us, segs[1].end_us, expires_us=NOW + D)
    legal = Hold(2, None, segs[0].start_us, segs[0].start_us + 1, expires_us=None)
    p = plan(segs, [evidence, legal], policy(), Disk(free_bytes=8 * GB, total_bytes=100 * GB), NOW)
    assert ids(p) == [3]
    p = plan(segs, [evidence, legal], policy(), Disk(free_bytes=8 * GB, total_bytes=100 * GB), NOW + 2 * D)
    assert ids(p) == [2, 3], "an expired evidence hold protects nothing; the legal hold still does"


def test_everything_held_is_an_alarm_not_a_destruction():
    segs = [seg(1, "a", 60)]
    hold = Hold(1, None, 0, NOW, None)
    p = plan(segs, [hold], policy(), Disk(free_bytes=1 * GB, total_bytes=100 * GB), NOW)
    assert p.destroy == [] and p.short_bytes == 9 * GB
    assert [a.kind for a in p.alarms] == [kinds.DISK_FULL_HELD.name]


def test_forecast_and_verdict():
    assert forecast_retention_us(100 * GB, 10 * GB, 1_000_000) == 90_000 * 1_000_000
    assert forecast_retention_us(100 * GB, 0, 0) is None
    assert verdict(40 * D, 30 * D, breached=False) == "OK"
    assert verdict(31 * D, 30 * D, breached=False) == "AT RISK"
    assert verdict(90 * D, 30 * D, breached=True) == "BREACHED"


# properties ---------------------------------------------------------------------------
cameras = st.sampled_from(["a", "b", "c"])
segments = st.lists(st.tuples(cameras, st.integers(0, 500 * 24), st.integers(1, 10)), max_size=40).map(
    lambda xs: sorted([Segment(i, c, NOW - h * 3_600_000_000, NOW - h * 3_600_000_000 + 3_600_000_000, s * GB)
                       for i, (c, h, s) in enumerate(xs)], key=lambda s: s.start_us))
holds = st.lists(st.tuples(st.one_of(st.none(), st.frozensets(cameras, min_size=1)), st.integers(0, 500 * 24),
                           st.integers(1, 100 * 24), st.one_of(st.none(), st.integers(-10 * D, 10 * D))),
                 max_size=4).map(lambda xs: [Hold(i, c, NOW - h * 3_600_000_000, NOW - h * 3_600_000_000 + l * 3_600_000_000,
                                                  None if e is None else NOW + e) for i, (c, h, l, e) in enumerate(xs)])
policies = st.builds(lambda mn, mx, res, full: policy(mn, mn + mx, res * GB, full),
                     st.integers(1, 60), st.integers(0, 400), st.integers(0, 50), st.sampled_from(["overwrite", "stop"]))
disks = st.integers(0, 60).map(lambda f: Disk(f * GB, 1000 * GB))


@at_two_lengths(400, segments, holds, policies, disks)
def test_planner_properties(segs, hs, pol, disk):
    p = plan(segs, hs, pol, disk, NOW)
    destroyed = {d.segment.id for d in p.destroy}
    active = [h for h in hs if h.active(NOW)]

    def held(s):
        return any(h.covers(s) for h in active)

    assert len(destroyed) == len(p.destroy), "nothing destroyed twice"
    assert not any(held(d.segment) for d in p.destroy), "held footage is never destroyed"
    for s in segs:
        if s.end_us < NOW - pol.limits(s.camera).max_us and not held(s):
            assert s.id in destroyed, "unheld footage past max retention is destroyed"
    if disk.free_bytes >= pol.reserve_bytes:
        assert all(d.reason == MAX_RETENTION for d in p.destroy), "no capacity destruction with free space"
    capacity = [d.segment for d in p.destroy if d.reason == CAPACITY]
    if capacity:
        newest = max(s.start_us for s in capacity)
        older_kept = [s for s in segs if s.start_us < newest and s.id not in destroyed and not held(s)]
        if pol.on_full == "overwrite":
            assert older_kept == [], "capacity destroys oldest first"
    if pol.on_full == "stop":
        assert all(s.end_us <= NOW - pol.limits(s.camera).min_us for s in capacity), \
            "on_full=stop never destroys footage younger than the minimum"
    young = [s for s in capacity if s.end_us > NOW - pol.limits(s.camera).min_us]
    assert bool(young) == any(a.kind == kinds.MIN_RETENTION_BREACH.name for a in p.alarms), "a breach is always an alarm"


# --- grace (design/0022) -------------------------------------------------------------------


def test_a_lowered_max_keeps_its_old_value_until_the_grace_ends():
    from storage.retention.plan import Grace

    segs = [seg(1, "a", 2), seg(2, "a", 400), seg(3, "b", 2)]
    grace = [Grace("a", 365 * D, NOW + D)]  # a: 365 d lowered to 1 d, grace for another day
    low = policy(min_d=0, max_d=1)
    p = plan(segs, [], low, Disk(900 * GB, 1000 * GB), NOW, grace)
    assert ids(p) == [2, 3], "past the old max too: no grace; camera b was not lowered"
    alarm = next(a for a in p.alarms if a.kind == kinds.RETENTION_GRACE.name)
    assert (alarm.camera, alarm.severity, alarm.until_us) == ("a", "warning", NOW + D)
    assert "1 segments of a" in alarm.message and "destroyed from" in alarm.message
    later = plan(segs, [], low, Disk(900 * GB, 1000 * GB), NOW + D, grace)  # the grace is over
    assert 1 in ids(later) and not [a for a in later.alarms if a.kind == kinds.RETENTION_GRACE.name]


def test_a_released_hold_keeps_its_footage_from_max_retention_for_the_grace_only():
    segs = [seg(1, "a", 400), seg(2, "a", 380)]
    released = Hold(7, None, NOW - 390 * D, NOW - 379 * D, None, grace_until_us=NOW + D)
    p = plan(segs, [released], policy(), Disk(900 * GB, 1000 * GB), NOW)
    assert ids(p) == [1] and [a.kind for a in p.alarms] == [kinds.RETENTION_GRACE.name]
    assert ids(plan(segs, [released], policy(), Disk(900 * GB, 1000 * GB), NOW + D)) == [1, 2]
    # a full disk does not wait: recording comes first
    full = plan(segs, [released], policy(reserve=10 * GB), Disk(5 * GB, 1000 * GB), NOW)
    assert ids(full) == [1, 2] and {d.reason for d in full.destroy} == {MAX_RETENTION, CAPACITY}


def test_policy_changes_and_lowered_max():
    from storage.retention.changes import lowered_max, policy_changes

    old = {"min_us": 30 * D, "max_us": 365 * D, "reserve": {"percent": 5.0}, "on_full": "overwrite",
           "cameras": {"b": {"min_us": None, "max_us": 90 * D}}}
    new = {**old, "max_us": D, "on_full": "stop", "cameras": {"b": {"min_us": None, "max_us": 120 * D}}}
    assert policy_changes(old, old) == []
    assert policy_changes(old, new) == [
        {"setting": "max_us", "old": 365 * D, "new": D}, {"setting": "on_full", "old": "overwrite", "new": "stop"},
        {"setting": "cameras.b.max_us", "old": 90 * D, "new": 120 * D}]
    assert lowered_max(old, new, ["a", "b"]) == {"a": (365 * D, D)}, "b went up"
def _breach(cam, days):
    return Alarm(kinds.MIN_RETENTION_BREACH.name, "critical", cam, "destroyed young", int(days * D))


def test_a_breach_is_a_state_raised_once_and_cleared_with_margin():
    """design/0024: each pass destroys only the oldest footage, often one camera's; the
    others stay in breach while their oldest footage is younger than the minimum."""
    pol = policy(min_d=30)
    raised: set[str] = set()
    history = []
    # Four cameras on a disk too small: each pass destroys one camera's footage, in turn.
    for n in range(12):
        cam = "abcd"[n % 4]
        achieved = {c: int(2 * D) for c in "abcd"}
        now = breaches(raised, [_breach(cam, 2)], achieved, pol)
        history.append((set(now) - raised, raised - set(now)))
        raised = set(now)
    raises = [c for new, _gone in history for c in new]
    clears = [c for _new, gone in history for c in gone]
    assert sorted(raises) == ["a", "b", "c", "d"] and clears == [], "one raise per camera, no flapping"
    # Back to the minimum exactly is not enough: the margin keeps it raised ...
    assert set(breaches({"a"}, [], {"a": 30 * D}, pol)) == {"a"}
    assert breaches({"a"}, [], {"a": None}, pol)["a"].achieved_us is None, "no footage left: still breached"
    # ... 5 % above it clears it; a camera never breached is not raised by a young age alone.
    assert breaches({"a"}, [], {"a": int(31.5 * D)}, pol) == {}
    assert breaches(set(), [], {"a": 1 * D}, pol) == {}
    # A camera destroyed young again while its age is fine (a spike) is raised.
    assert set(breaches(set(), [_breach("a", 29)], {"a": 40 * D}, pol)) == {"a"}
