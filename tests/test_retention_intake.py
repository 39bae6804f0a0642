"""An imported recording's age (issue 76, design/0346, 0381): its stamps are the device's claim, so the
planner judges its age from its intake. A device clock that claims old times never
makes it go by max retention, nor count as surplus, before intake + the minimum. Pure: no disk, no clock."""

from hypothesis import strategies as st

from storage.retention.intake import age_end
from storage.retention.intake_original import Original, originals_due
from storage.retention.plan import Disk, Grace, Hold, Limits, Policy, Segment, kept_fraction, past_max, plan, surplus
from tests.support.properties import at_two_lengths

D = 86_400 * 1_000_000
NOW = 1000 * D
GB = 1_000_000_000
POLICY = Policy(Limits(30 * D, 90 * D), {}, reserve_bytes=10 * GB)
ROOMY = Disk(free_bytes=100 * GB, total_bytes=200 * GB)


def claimed(days_ago: float, intake_days_ago: float | None) -> Segment:
    """A portable device's segment whose stamps claim it ended `days_ago`, taken in `intake_days_ago`."""
    end = NOW - int(days_ago * D)
    intake = None if intake_days_ago is None else NOW - int(intake_days_ago * D)
    return Segment(1, "portable:bwc-7", end - 60_000_000, end, GB, intake_us=intake)


def test_an_import_claiming_a_year_ago_is_not_past_max_the_day_after_intake():
    seg = claimed(365, intake_days_ago=1)
    assert age_end(seg) == NOW - D
    assert not past_max(seg, POLICY, NOW)
    assert plan([seg], [], POLICY, ROOMY, NOW).destroy == []


def test_the_same_stamps_recorded_here_go_by_max_retention():
    """The rule is the intake: without one, the same stamps are past the maximum (so the test can fail)."""
    seg = claimed(365, intake_days_ago=None)
    assert past_max(seg, POLICY, NOW)
    assert [d.segment.id for d in plan([seg], [], POLICY, ROOMY, NOW).destroy] == [1]


def test_an_import_goes_by_max_retention_counted_from_intake():
    assert past_max(claimed(400, intake_days_ago=91), POLICY, NOW)
    assert not past_max(claimed(400, intake_days_ago=89), POLICY, NOW)


def test_an_import_is_not_surplus_before_intake_plus_minimum_under_pressure():
    seg = claimed(200, intake_days_ago=5)
    assert not surplus(seg, POLICY, NOW)
    assert kept_fraction(seg, POLICY, NOW) == kept_fraction(claimed(5, None), POLICY, NOW)
    assert surplus(claimed(200, intake_days_ago=31), POLICY, NOW)


def test_a_device_claiming_the_future_is_judged_by_its_intake():
    """A later claim than the intake never keeps the footage past its maximum from the intake (design/0381)."""
    seg = claimed(-10, intake_days_ago=1)
    assert age_end(seg) == seg.intake_us
    assert past_max(claimed(-4000, intake_days_ago=91), POLICY, NOW)
    assert not past_max(claimed(-4000, intake_days_ago=89), POLICY, NOW)
    assert [d.segment.id for d in plan([claimed(-4000, 91)], [], POLICY, ROOMY, NOW).destroy] == [1]


@at_two_lengths(300, claim=st.integers(-100 * D, 3000 * D), intake_ago=st.integers(0, 200 * D), free=st.integers(0, 200 * GB))
def test_nothing_imported_goes_by_age_before_intake_plus_minimum(claim, intake_ago, free):
    """Whatever the device's clock claims, with a roomy disk or a full one under on_full = stop."""
    end = NOW - claim
    seg = Segment(1, "portable:bwc-7", end - 1, end, GB, intake_us=NOW - intake_ago)
    pol = Policy(POLICY.site, {}, POLICY.reserve_bytes, on_full="stop")
    destroyed = [d.segment.id for d in plan([seg], [], pol, Disk(free, 200 * GB), NOW).destroy]
    if intake_ago < POLICY.site.min_us:
        assert destroyed == []
    if intake_ago <= POLICY.site.max_us and free >= POLICY.reserve_bytes:
        assert destroyed == []
    if intake_ago > POLICY.site.max_us:
        assert destroyed == [1], "past its maximum from the intake, whatever its claim"


# an intake's original file (design/0354) ------------------------------------------------------
CAM = "portable.bwc-7"


def original(intake_days_ago: float, claim_days_ago: float = 4000, left: int = 0, minutes: int = 10) -> Original:
    """An original whose footage claims to have ended `claim_days_ago`, taken in `intake_days_ago`."""
    end = NOW - int(claim_days_ago * D)
    return Original(7, CAM, NOW - int(intake_days_ago * D), end - minutes * 60_000_000, end, left)


def hold(from_us: int, to_us: int, cameras: frozenset[str] | None = frozenset({CAM}), **kw) -> Hold:
    return Hold(1, cameras, from_us, to_us, None, **kw)


def test_an_original_goes_at_its_maximum_from_intake_not_from_its_claim():
    assert originals_due([original(89)], [], POLICY, NOW) == []
    assert originals_due([original(91)], [], POLICY, NOW) == [original(91)]
    ahead = original(91, claim_days_ago=-5)
    assert originals_due([ahead], [], POLICY, NOW) == [ahead], "a claim ahead never keeps it longer"


def test_an_original_outlives_its_segments_and_an_untrusted_clock():
    assert originals_due([original(91, left=1)], [], POLICY, NOW) == []
    assert originals_due([original(91)], [], POLICY, NOW, age_trusted=False) == []


def test_a_hold_over_its_footage_or_its_intake_keeps_an_original():
    o = original(91)
    assert originals_due([o], [hold(o.end_us - 1, o.end_us + D)], POLICY, NOW) == []
    assert originals_due([o], [hold(o.intake_us, o.intake_us + 1)], POLICY, NOW) == []
    assert originals_due([o], [hold(o.intake_us, o.intake_us + 1, cameras=None)], POLICY, NOW) == []
    assert originals_due([o], [hold(o.end_us + 1, o.end_us + D)], POLICY, NOW) == [o], "a hold beside it"
    assert originals_due([o], [hold(o.start_us, o.end_us, frozenset({"c1"}))], POLICY, NOW) == [o], "another camera's"
    released = hold(o.start_us, o.end_us, grace_until_us=NOW + D)
    assert originals_due([o], [released], POLICY, NOW) == [], "a released hold in its grace"
    assert originals_due([o], [released], POLICY, NOW + 2 * D) == [o]


def test_a_lowered_maximum_in_its_grace_keeps_an_original_by_the_old_one():
    o = original(91)
    assert originals_due([o], [], POLICY, NOW, [Grace(CAM, 120 * D, NOW + D)]) == []
    assert originals_due([o], [], POLICY, NOW, [Grace(CAM, 120 * D, NOW - 1)]) == [o]


@at_two_lengths(400, claim=st.integers(-400 * D, 4000 * D), intake_ago=st.integers(0, 400 * D), left=st.integers(0, 2),
       held_at=st.one_of(st.none(), st.integers(-500 * D, 4500 * D)), legal=st.booleans(), trusted=st.booleans(),
       minimum=st.integers(0, 100 * D), extra=st.integers(0, 300 * D))
def test_an_original_never_goes_before_its_minimum_nor_stays_past_its_maximum_unless_held(
        claim, intake_ago, left, held_at, legal, trusted, minimum, extra):
    """Over any claim, intake, hold, limits and clock: before intake + minimum it is kept; past the
    maximum (from its intake, whatever it claims), with no segment left, on a trusted
    clock and no hold over it, it goes; a hold over its footage or its intake keeps it."""
    pol = Policy(Limits(minimum, minimum + extra), {}, reserve_bytes=0)
    o = Original(3, CAM, NOW - intake_ago, NOW - claim - 60_000_000, NOW - claim, left)
    holds = [] if held_at is None else [Hold(1, None if legal else frozenset({CAM}), NOW - held_at,
                                             NOW - held_at + 3_600_000_000, None)]
    covered = any(h.from_us < o.end_us and h.to_us > o.start_us or h.from_us <= o.intake_us < h.to_us for h in holds)
    gone = originals_due([o], holds, pol, NOW, age_trusted=trusted) == [o]
    if intake_ago < minimum:
        assert not gone
    past = o.intake_us < NOW - pol.site.max_us
    assert gone == (past and not left and trusted and not covered)
