"""storage/time/interval.py: every bound it proves holds for the true times behind it (design/0305)."""

from hypothesis import given, strategies as st

from storage.time import interval as iv

US = st.integers(min_value=0, max_value=10**15)
SPAN = st.integers(min_value=0, max_value=10**11)
OFFSET = st.integers(min_value=-(10**14), max_value=10**14)


@given(US, SPAN, SPAN, OFFSET)
def test_an_exchange_holds_the_true_offset(sent, before_answer, after_answer, offset):
    """Whenever the answer is read between the question and its reply, the true offset is inside."""
    answer_true = sent + before_answer
    got = iv.exchange(sent, answer_true + offset, answer_true + after_answer, "office time request")
    assert got.contains(offset)
    assert got.latest.us - got.earliest.us == before_answer + after_answer  # the round trip is the bar


@given(US, SPAN, st.integers(min_value=-500, max_value=500))
def test_carried_forward_by_a_drifting_clock_holds_the_truth(start, elapsed_true, ppm):
    measured = elapsed_true * (1_000_000 + ppm) // 1_000_000   # what a clock off by ppm reads, as a counter
    got = iv.after(iv.exactly(start, "office"), measured)
    assert got.contains(start + elapsed_true)


@given(US, OFFSET, SPAN)
def test_a_reading_on_the_reference_holds_the_truth(true_us, offset, bar):
    offset_iv = iv.Interval(iv.Bound(offset - bar, "x"), iv.Bound(offset + bar, "x"))
    assert iv.on_reference(true_us + offset, offset_iv, "stamp").contains(true_us)


def test_a_receipt_proves_no_lower_bound():
    got = iv.sent_by(1_000, "heard")
    assert got.earliest is None and got.latest.us == 1_000 and not got.proven


@given(US, US, SPAN, SPAN)
def test_an_age_holds_the_true_age(rec, dest_after, w1, w2):
    dest = rec + dest_after
    recorded = iv.Interval(iv.Bound(rec - w1, "a"), iv.Bound(rec + w2, "b"))
    destroyed = iv.Interval(iv.Bound(dest - w2, "c"), iv.Bound(dest + w1, "d"))
    assert iv.span(recorded, destroyed).contains(dest_after)


DAY = 86_400_000_000


def test_judge_gives_a_verdict_only_on_a_proven_bound():
    def age(lo, hi):
        return iv.Interval(None if lo is None else iv.Bound(lo * DAY, "lo"), None if hi is None else iv.Bound(hi * DAY, "hi"))
    assert iv.judge(age(10, 20), 30 * DAY, 60 * DAY).verdict == iv.EARLY
    assert iv.judge(age(61, 62), 30 * DAY, 60 * DAY).verdict == iv.KEPT_PAST
    assert iv.judge(age(31, 33), 30 * DAY, 60 * DAY).verdict == iv.OK
    assert iv.judge(age(29, 31), 30 * DAY, 60 * DAY) == iv.Judged(iv.UNVERIFIED, age(29, 31), iv.LOWER)
    assert iv.judge(age(None, 31), 30 * DAY, 60 * DAY).missing == iv.LOWER
    assert iv.judge(age(31, None), 30 * DAY, 60 * DAY).missing == iv.UPPER
    assert iv.judge(age(59, 61), 30 * DAY, 60 * DAY).missing == iv.UPPER
    assert iv.judge(age(31, None), 30 * DAY, None).verdict == iv.OK
    assert iv.may_destroy(age(30, None), 30 * DAY) and not iv.may_destroy(age(None, 99), 30 * DAY)


def test_meet_keeps_the_tighter_bound_and_shows_a_contradiction():
    a = iv.Interval(iv.Bound(5, "a"), iv.Bound(50, "a"))
    b = iv.Interval(iv.Bound(10, "b"), None)
    assert iv.meet(a, b) == iv.Interval(iv.Bound(10, "b"), iv.Bound(50, "a"))
    assert iv.meet(a, iv.Interval(iv.Bound(60, "c"), None)).empty
