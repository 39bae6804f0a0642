"""The clock lines the verifier keeps per node (central/verifier/clock_lines.py `Lines.line`, design/0523):
the node's last line served again for the same rows, extended for the same rows and later ones
(storage/time/interval.py `ClockLine.extended`), built otherwise; whichever, the line is the one
`ClockLine` builds of the same samples, pair for pair, bucket for bucket and answer for answer."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from central.verifier import clock_lines
from storage.time import interval as iv

S, MIN, HOUR, DAY = 1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000
T0 = 1_795_000_000 * S


def _rows(every: int, n: int, steps: list[tuple[int, int]], outages: list[tuple[int, int]], rtt: int,
          reboots: bool) -> list[tuple[int, int, int, str, int | None]]:
    """A box's answers as the store's rows (sent_us, node_us, received_us, boot, mono_us), by sent_us:
    a request every ``every``, its clock stepped by (k, x) at the k-th, none answered in an outage."""
    out = []
    for k in range(n):
        if any(a <= k < a + d for a, d in outages):
            continue
        sent = T0 + k * every
        shift = sum(x for at, x in steps if at <= k)
        boot = str(sum(1 for at, _x in steps if at <= k)) if reboots else "b"
        out.append((sent, sent + rtt // 2 + shift, sent + rtt, boot, k * every if k % 7 else None))
    return out


def _same(line: iv.ClockLine, whole: iv.ClockLine, rows: list[tuple]) -> None:
    assert line.samples == whole.samples and line._grain == whole._grain
    assert [(p[0], p[1], p[2], p[3]) for p in line._pairs] == [(p[0], p[1], p[2], p[3]) for p in whole._pairs]
    assert line._hours == whole._hours and line._wide == whole._wide
    for r in rows:
        for x in (r[1] - HOUR, r[1] - 1, r[1], r[1] + 1, r[1] + 7 * MIN, r[1] + DAY):
            for before in (None, r[0], r[2] + MIN):
                assert repr(line.offset_at(x, before)) == repr(whole.offset_at(x, before)), (x, before)
                assert line.stretch_of(x, before) == whole.stretch_of(x, before)
        assert repr(line.elapsed(rows[0][1], r[1])) == repr(whole.elapsed(rows[0][1], r[1]))


lives = st.tuples(st.sampled_from([MIN, 10 * MIN, HOUR, 3 * HOUR, DAY]), st.integers(2, 60),
                  st.lists(st.tuples(st.integers(0, 60), st.sampled_from([-400 * DAY, -DAY, -MIN, -S, S, 3 * MIN, 400 * DAY])),
                           max_size=2),
                  st.lists(st.tuples(st.integers(0, 60), st.integers(1, 70)), max_size=2),
                  st.integers(0, 5 * S), st.booleans())
# what the verifier asks of a node, one line after another: rows [lo, hi) of its samples so far
asks = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 70)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(lives, asks, st.sampled_from([3, 40, clock_lines.KEEP_PAIRS]))
def test_a_line_kept_extended_or_built_is_the_line_built_whole(life, windows, most):
    rows = _rows(*life)
    lines = clock_lines.Lines(most=most)
    for lo, hi in windows:
        got = rows[min(lo, len(rows)):max(lo, min(hi, len(rows)))]
        for node in ("s/a", "s/b"):  # two nodes: one's line never serves the other's
            line = lines.line(node, got if node == "s/a" else got[1:])
            want = got if node == "s/a" else got[1:]
            _same(line, iv.ClockLine(clock_lines._samples(want)), want)
    assert lines.samples <= max(most, len(rows))


def test_a_node_s_next_sample_extends_its_line_and_the_same_rows_are_its_line_again():
    """What the counts say happened (so the property above is not passed by building every line):
    a box answering every minute, the office asking for its line as each answer comes."""
    rows = _rows(MIN, 300, [(120, -S)], [(200, 30)], 80_000, False)
    lines = clock_lines.Lines()
    for k in range(2, len(rows) + 1):
        line = lines.line("s/a", rows[:k])
        assert lines.line("s/a", rows[:k]) is line  # the page's line, then the watch's: one line
    _same(line, iv.ClockLine(clock_lines._samples(rows)), rows)
    assert lines.built == 1 and lines.extended == len(rows) - 2 and lines.reused == len(rows) - 1
    assert lines.samples == len(rows)
    line = lines.line("s/a", rows[5:])  # a sample pruned: built again
    assert lines.built == 2 and lines.samples == len(rows) - 5
    _same(line, iv.ClockLine(clock_lines._samples(rows[5:])), rows[5:])


def test_a_line_extended_across_a_step_back_of_a_year_and_a_long_outage_is_the_line_built_whole():
    """Its pairs over more than interval.WIDE_US of the box's clock (looked at for every reading) and a
    pair that spans an outage, each the last of a line when the next sample comes."""
    for steps, outages in (([(6, -400 * DAY)], []), ([(3, S)], [(5, 70)]), ([(1, 400 * DAY), (9, -400 * DAY)], [])):
        rows = _rows(DAY, 90, steps, outages, 80_000, False)
        lines = clock_lines.Lines()
        for k in range(1, len(rows) + 1):
            _same(lines.line("s/a", rows[:k]), iv.ClockLine(clock_lines._samples(rows[:k])), rows[:k])
        assert lines.built == 2 and lines.extended == len(rows) - 2  # one sample, then two: built
