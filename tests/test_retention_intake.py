"""An imported recording's age (issue 76, design/0346): its stamps are the device's claim, so the
planner judges its age from no earlier than its intake. A device clock that claims old times never
makes it go by max retention, nor count as surplus, before intake + the minimum. Pure: no disk, no clock."""

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.retention.intake import age_end
from storage.retention.plan import Disk, Limits, Policy, Segment, kept_fraction, past_max, plan, surplus

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


def test_a_device_claiming_the_future_is_judged_by_its_claim():
    """A later claim than the intake keeps the footage longer, never shorter: the later of the two."""
    seg = claimed(-10, intake_days_ago=1)
    assert age_end(seg) == seg.end_us


@settings(max_examples=300)
@given(claim=st.integers(-100 * D, 3000 * D), intake_ago=st.integers(0, 200 * D), free=st.integers(0, 200 * GB))
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
