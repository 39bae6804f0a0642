"""central/checks/quick_verdict.py `lawful` against central/checks/verdicts.py `judge` (design/0456):
over generated clock lines (steps both ways, reboots, gaps) and destructions, `lawful` is True exactly
where `judge` says "ok"."""

from __future__ import annotations

from hypothesis import strategies as st

from central.checks import quick_verdict, verdicts
from storage.time import interval
from tests.support.properties import at_two_lengths

D, H, M = 86_400_000_000, 3_600_000_000, 60_000_000


@st.composite
def lines(draw: st.DrawFn) -> interval.ClockLine:
    """A box's samples: its offset now and then stepped, its boots, the office asking at any spacing."""
    t, offset, mono, boot = 0, draw(st.integers(-3 * D, 3 * D)), 0, 0
    out = []
    for _ in range(draw(st.integers(0, 12))):
        gap = draw(st.sampled_from([M, H, D, 5 * D, 20 * D]))
        t += gap
        mono += gap
        if draw(st.integers(0, 5)) == 0:
            offset += draw(st.sampled_from([-2 * D, -H, -M, M, H, 2 * D]))
        if draw(st.integers(0, 7)) == 0:
            boot, mono = boot + 1, draw(st.integers(0, H))
        rtt = draw(st.integers(1_000, 5_000_000))
        out.append(interval.Sample(t, t + rtt // 2 + offset, t + rtt, f"b{boot}", draw(st.sampled_from([mono, None]))))
    return interval.ClockLine(out)


@st.composite
def destructions(draw: st.DrawFn) -> tuple[dict, int | None, int, float | None, float | None]:
    end = draw(st.integers(-2 * D, 60 * D))
    destroyed = end + draw(st.one_of(st.sampled_from([30 * D + 5 * M, 30 * D - 30 * M, 31 * D + 13 * H, 45 * D, 8 * D]),
                                     st.integers(-D, 40 * D)))
    d = {"end_us": end, "destroyed_us": destroyed, "start_us": end - M,
         "reason": draw(st.sampled_from(["max_retention", "capacity", "other"]))}
    if draw(st.booleans()):
        d["shift_us"] = draw(st.sampled_from([-2 * D, -H, H, 2 * D]))
    if draw(st.booleans()):
        d["free_before"], d["reserve"] = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    heard = draw(st.one_of(st.none(), st.integers(end - D, end + 10 * D)))
    reported = destroyed + draw(st.integers(-3 * D, 20 * D))
    low = draw(st.sampled_from([None, 7.0, 30.0]))
    high = draw(st.sampled_from([None, 30.0, 31.0, 90.0]))
    return d, heard, reported, low, high


@at_two_lengths(200, lines(), destructions())
def test_lawful_is_true_exactly_where_judge_says_ok(line, case):
    d, heard_us, reported, low, high = case
    full = verdicts.judge(d, heard=None if heard_us is None else verdicts.Heard(heard_us), reported_us=reported,
                          min_days=low, max_days=high, line=line)
    assert quick_verdict.lawful(d, heard_us=heard_us, reported_us=reported, min_days=low, max_days=high,
                                line=line) == (full.verdict == "ok"), full


def test_a_lawful_destruction_on_a_steady_line_is_ok_both_ways():
    """The fleet's commonest case, named: a box answering hourly, a segment destroyed at 30 days."""
    line = interval.ClockLine([interval.Sample(h * H, h * H + 40_000 + 800_000, h * H + 80_000, "b1", h * H)
                               for h in range(24 * 32)])
    d = {"end_us": 2 * H + 800_000, "destroyed_us": 2 * H + 30 * D + 5 * M + 800_000, "reason": "max_retention"}
    kw = {"reported_us": 2 * H + 30 * D + 6 * M, "min_days": 7.0, "max_days": 30.0, "line": line}
    assert verdicts.judge(d, heard=verdicts.Heard(2 * H + M), **kw).verdict == "ok"
    assert quick_verdict.lawful(d, heard_us=2 * H + M, **kw)
    early = {**d, "destroyed_us": d["destroyed_us"] - 2 * D}
    assert verdicts.judge(early, heard=verdicts.Heard(2 * H + M), **kw).verdict == "early"
    assert not quick_verdict.lawful(early, heard_us=2 * H + M, **kw)


@at_two_lengths(200, lines(), destructions())
def test_the_one_door_gives_judges_verdict_and_none_only_for_ok(line, case):
    """`quick_verdict.verdict`, which the verifier's pass and the re-judging (central/verifier/rejudge.py)
    both call (design/0475): None exactly where `judge` says "ok", else `judge`'s own verdict, words and all."""
    d, heard_us, reported, low, high = case
    heard = None if heard_us is None else verdicts.Heard(heard_us)
    kw = {"heard": heard, "reported_us": reported, "min_days": low, "max_days": high, "line": line}
    full = verdicts.judge(d, **kw)
    got = quick_verdict.verdict(d, **kw)
    assert (got is None) == (full.verdict == "ok"), full
    assert got is None or got == full


def test_the_one_door_raises_what_judge_raises():
    """A malformed destruction: `lawful` may raise on it; the door asks `judge`, whose exception makes the finding."""
    line = interval.ClockLine([])
    bad = {"end_us": "x", "destroyed_us": 5, "reason": "max_retention"}
    kw = {"heard": None, "reported_us": 10, "min_days": 7.0, "max_days": 30.0, "line": line}
    try:
        verdicts.judge(bad, **kw)
    except Exception as exc:  # noqa: BLE001 - the same type from both
        want: type[BaseException] | None = type(exc)
    else:
        want = None
    assert want is not None
    try:
        quick_verdict.verdict(bad, **kw)
    except Exception as exc:  # noqa: BLE001
        assert type(exc) is want
    else:
        raise AssertionError("the door did not raise what judge raises")
