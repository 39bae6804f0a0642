"""storage/time/interval.py's clock samples (Sample, steady, ClockLine): the offset it proves at any
reading of a box's clock holds the true offset, whatever the clock did between the samples (drift,
steps forward and back, restarts, outages), and it is proven where a steady stretch covers the reading
(design/0305, 0310)."""

import pytest
from hypothesis import assume, example, given, settings, strategies as st

from storage.time import interval as iv

S = 1_000_000
MIN = 60 * S
DAY = 86_400 * S
T0 = 1_795_000_000 * S


class Box:
    """A box's clock on true time: an offset, a drift (ppm) and steps (true time, size); a restart
    (a new boot) at each step when `reboots`."""

    def __init__(self, offset: int, ppm: int, steps: list[tuple[int, int]], reboots: bool):
        self.offset, self.ppm, self.steps, self.reboots = offset, ppm, sorted(steps), reboots

    def off(self, t: int) -> int:
        off = self.offset + (t - T0) * self.ppm // 1_000_000
        for at, x in self.steps:  # (a loop, not sum() of a generator: called for each of 2,000 x 336 samples)
            if at <= t:
                off += x
        return off

    def read(self, t: int) -> int:
        return t + self.off(t)

    def boot(self, t: int) -> str:
        if not self.reboots:
            return "b"
        n = 0
        for at, _x in self.steps:
            if at <= t:
                n += 1
        return str(n)

    def mono(self, t: int) -> int:
        return t - T0 + (t - T0) * self.ppm // 1_000_000


def _samples(box: Box, every: int, days: int, outages: list[tuple[int, int]], d1: int, d2: int) -> list[iv.Sample]:
    out = []
    for k in range(days * DAY // every):
        sent = T0 + k * every
        if outages and any(a <= sent - T0 < b for a, b in outages):
            continue
        t = sent + d1
        out.append(iv.Sample(sent, box.read(t), t + d2, box.boot(t), box.mono(t)))
    return out


boxes = st.builds(Box, st.integers(-3 * DAY, 3 * DAY), st.integers(-100, 100),
                  st.lists(st.tuples(st.integers(T0, T0 + 6 * DAY), st.integers(-2 * DAY, 2 * DAY)), max_size=3),
                  st.booleans())
outages = st.lists(st.tuples(st.integers(0, 6 * DAY), st.integers(MIN, 3 * DAY)).map(lambda p: (p[0], p[0] + p[1])),
                   max_size=3)


def _holds(box: Box, outs: list[tuple[int, int]], d1: int, d2: int, moments: list[int]) -> None:
    """At every moment the box read its clock, the offset the line proves for that reading (if
    any) holds the true offset then, for every reading made between the first sample and the last.
    (What no evidence can show: a clock stepped and stepped back by as much between two samples,
    and what it read before the first sample or after the last, which may repeat any reading of the
    sampled time. Steps here are two sample periods apart at least.)"""
    at = sorted(t for t, _x in box.steps)
    assume(all(b - a > 60 * MIN for a, b in zip(at, at[1:])))
    line = iv.ClockLine(_samples(box, 30 * MIN, 7, outs, d1, d2))
    if not line.samples:
        return
    first, last = line.samples[0].sent_us + d1, line.samples[-1].sent_us + d1
    for t in (m for m in moments if first <= m <= last):
        got = line.offset_at(box.read(t))
        assert not got.proven or got.contains(box.off(t)), (t, got)
        told = line.offset_at(box.read(t), t + d1)  # a message that told of the reading, heard d1 later
        assert not told.proven or told.contains(box.off(t)), (t, told)
        assert not got.proven or told.proven, "knowing when it was told never unproves it"


CASES = (boxes, outages, st.integers(0, 5 * S), st.integers(0, 5 * S),
         st.lists(st.integers(T0, T0 + 7 * DAY), min_size=1, max_size=20))
test_a_proven_offset_holds_the_truth = settings(max_examples=60, deadline=None)(given(*CASES)(_holds))
test_a_proven_offset_holds_the_truth_at_length = pytest.mark.slow(
    settings(max_examples=2000, deadline=None)(given(*CASES)(_holds)))


@settings(max_examples=40, deadline=None)
@given(st.integers(-3 * DAY, 3 * DAY), st.integers(-100, 100), outages, st.integers(0, 2 * S),
       st.integers(T0 + DAY, T0 + 6 * DAY))
@example(0, 0, [(0, 84_600_000_001)], 1, T0 + DAY + 1)  # the first sample's own reading: proven
def test_a_steady_clock_is_proven_everywhere_between_its_samples(offset, ppm, outs, rtt, t):
    """A clock that never steps has a proven offset at every reading between its first and last
    sample, outages or not, and the bar is the round trip and the drift since (no wider)."""
    box = Box(offset, ppm, [], False)
    line = iv.ClockLine(_samples(box, 30 * MIN, 7, outs, rtt, rtt))
    # between its samples: an outage from the start may put the first after t (found by hypothesis:
    # outs [(0, 23.5 h + 1 us)], rtt 1 us, t one microsecond before the first sample was read)
    assume(line.samples and line.samples[0].sent_us + rtt <= t <= line.samples[-1].sent_us + rtt)
    got = line.offset_at(box.read(t))
    assert got.proven and got.contains(box.off(t))
    bar = 4 * DAY * iv.DRIFT_PPM // 1_000_000 + 1  # the drift over the longest stretch (an outage)
    assert got.latest.us - got.earliest.us <= 2 * rtt + 4 * bar + bar // 5  # and the clock's own drift (100 ppm)


def test_a_step_between_two_samples_leaves_the_readings_between_unproven():
    box = Box(0, 0, [(T0 + DAY + 10 * MIN, DAY)], False)  # a day ahead between two samples half an hour apart
    line = iv.ClockLine(_samples(box, 30 * MIN, 3, [], S, S))
    assert not line.offset_at(box.read(T0 + DAY + 5 * MIN)).proven
    assert line.offset_at(box.read(T0 + 2 * DAY)).contains(DAY)
    assert line.offset_at(box.read(T0 + DAY // 2)).contains(0)


def test_a_step_during_an_outage_past_the_drift_leaves_the_outage_unproven():
    """Samples 3 days apart may differ by the drift (500 ppm: 130 s) and still be one stretch; a
    200 s step in between is past it: every reading of the outage is unproven."""
    box = Box(0, 0, [(T0 + DAY, 200 * S)], False)
    a, b = (iv.Sample(t, box.read(t), t, "b", box.mono(t)) for t in (T0, T0 + 3 * DAY))
    assert not iv.steady(a, b)
    assert not iv.ClockLine([a, b]).offset_at(box.read(T0 + 2 * DAY)).proven
    assert not iv.ClockLine([a, b]).offset_at(box.read(T0 + HALF)).proven
    calm = Box(0, 0, [(T0 + DAY, 100 * S)], False)  # within the drift: one stretch, each reading's bar holds it
    a, b = (iv.Sample(t, calm.read(t), t, "b", calm.mono(t)) for t in (T0, T0 + 3 * DAY))
    assert iv.steady(a, b) and iv.ClockLine([a, b]).offset_at(calm.read(T0 + 2 * DAY)).contains(100 * S)


def test_a_reading_before_the_first_sample_may_repeat_one_after_it():
    """The limit of any clock evidence: a clock stepped back 31 minutes just before its first sample
    read at T0 what it reads again a minute after the first sample; the office maps it as the
    later reading. (The design says so: design/0310.)"""
    box = Box(0, 0, [(T0 + MIN, -31 * MIN)], False)
    line = iv.ClockLine(_samples(box, 30 * MIN, 1, [(0, 2 * MIN)], S, S))
    assert line.samples[0].node_us < box.read(T0) < line.samples[1].node_us
    assert not line.offset_at(box.read(T0)).contains(box.off(T0))


def test_before_the_first_sample_and_after_the_last_nothing_is_proven():
    box = Box(3 * DAY, 0, [], False)
    line = iv.ClockLine(_samples(box, 30 * MIN, 1, [], S, S))
    assert not line.offset_at(box.read(T0 - MIN)).proven
    assert not line.offset_at(box.read(T0 + DAY + MIN)).proven
    assert line.on_office(box.read(T0 + HALF), "x").contains(T0 + HALF)
    assert iv.ClockLine([]).on_office(T0, "x") == iv.UNKNOWN


HALF = DAY // 2
