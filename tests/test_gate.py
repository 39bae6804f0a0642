"""The record gate, pure: a synthetic camera stream routed packet by packet while a scripted
detector reports motion, as the detection thread would (design/0038). What reaches the
"segments" must open on a keyframe, cover every motion from pre_roll before to post_roll
after, and hold nothing far outside."""

from __future__ import annotations

from hypothesis import example, strategies as st

from recorder.gate import RecordGate
from recorder.preroll import PreRollBuffer
from tests.support.packets import S, stream
from tests.support.properties import at_two_lengths


def simulate(packets, events, *, pre_roll, post_roll, delay, slack=2 * S):
    """Route every packet; the detector confirms each (start, end) `delay` after its start and
    reports its end post_roll after it (as MotionEvents does). Returns the runs written,
    each (entries, opened PreRoll)."""
    gate = RecordGate(PreRollBuffer(pre_roll_us=pre_roll, max_bytes=100_000_000, slack_us=slack))
    # In time order; a start before the end it precedes (the detector reports them so).
    calls = sorted([(a + delay, 0, a) for a, b in events] +
                   [(max(b + post_roll, a + delay), 1, b + post_roll) for a, b in events])
    runs: list[tuple[list, object]] = []
    current = None
    for p in packets:
        while calls and calls[0][0] <= p.t_us:
            _, kind, value = calls.pop(0)
            gate.motion_started(value) if kind == 0 else gate.motion_ended(value)
        r = gate.route(p)
        if r.close:
            current = None
        if r.opened is not None:
            current = (list(r.write), r.opened)
            runs.append(current)
        elif r.write:
            assert current is not None, "a write with no open run"
            current[0].extend(r.write)
    return runs


def test_one_motion_is_one_run_from_a_keyframe_before_the_pre_roll_to_a_keyframe_after_the_post_roll():
    packets = stream(60)  # 20 fps, a keyframe every 2 s
    runs = simulate(packets, [(20 * S + 300_000, 25 * S)], pre_roll=5 * S, post_roll=10 * S,
                    delay=400_000)
    assert len(runs) == 1
    entries, opened = runs[0]
    assert entries[0].video and entries[0].key and entries[0].t_us == 14 * S  # last keyframe <= 15.3 s
    assert opened.complete
    # Closed just before the first keyframe after 25 + 10 = 35 s: the one at 36 s.
    assert max(e.t_us for e in entries if e.video) == 36 * S - 50_000
    # Every packet in between, once, in order: from that keyframe to the one at 36 s.
    first = next(i for i, p in enumerate(packets) if p.key and p.t_us == 14 * S)
    stop = next(i for i, p in enumerate(packets) if p.key and p.t_us == 36 * S)
    assert [e.item for e in entries] == [p.item for p in packets[first:stop]]


def test_motion_again_within_the_post_roll_keeps_one_run():
    runs = simulate(stream(60), [(10 * S, 12 * S), (18 * S, 19 * S)], pre_roll=5 * S,
                    post_roll=10 * S, delay=200_000)
    assert len(runs) == 1


def test_motion_soon_after_a_close_continues_the_footage_without_a_hole():
    """The second run's pre-roll reaches into the first run's footage: the buffer restarted
    at the close keyframe, so the runs touch and the pre-roll counts as complete."""
    packets = stream(60)
    runs = simulate(packets, [(10 * S, 11 * S), (24 * S, 25 * S)], pre_roll=5 * S,
                    post_roll=10 * S, delay=200_000)
    assert len(runs) == 2
    first, second = runs[0][0], runs[1][0]
    assert second[0].key and second[0].t_us == 22 * S  # the close keyframe (after 21 s)
    assert second[0].t_us > 24 * S - 5 * S             # later than the asked pre-roll ...
    assert runs[1][1].complete                         # ... but the first run holds the rest
    written = [e.item for e in first + second]
    assert written == [p.item for p in packets[packets.index(first[0]):][:len(written)]]


def test_a_start_before_any_keyframe_waits_for_one_instead_of_being_lost():
    packets = stream(10, start_frame=25)  # connected mid-GOP; first keyframe at 2 s
    runs = simulate(packets, [(int(1.3 * S), int(1.5 * S))], pre_roll=5 * S, post_roll=2 * S,
                    delay=0)
    assert len(runs) == 1
    entries, opened = runs[0]
    assert entries[0].key and entries[0].t_us == 2 * S and not opened.complete


@at_two_lengths(150, gop=st.sampled_from([10, 20, 40, 80]), pre=st.integers(1, 8), post=st.integers(1, 12),
       delay_ms=st.integers(0, 1500),
       events=st.lists(st.tuples(st.integers(2, 80), st.integers(0, 6)), min_size=1, max_size=5))
@example(gop=10, pre=1, post=1, delay_ms=1457, events=[(2, 0)])  # reported after its post-roll ended
def test_every_motion_is_covered_and_little_else(gop, pre, post, delay_ms, events):
    fps = 20
    packets = stream(100, gop=gop, fps=fps)
    evs = sorted((a * S, (a + d) * S) for a, d in events)
    # Events that overlap (or touch within a post-roll) are one event to the detector.
    merged: list[list[int]] = []
    for a, b in evs:
        if merged and a <= merged[-1][1] + post * S:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    runs = simulate(packets, [tuple(m) for m in merged], pre_roll=pre * S, post_roll=post * S,
                    delay=delay_ms * 1000)
    written = [e for entries, _ in runs for e in entries]
    times = [e.t_us for e in written if e.video]
    assert len(set(e.item for e in written)) == len(written)        # nothing twice
    assert times == sorted(times)                                   # in order
    for entries, _ in runs:
        assert entries[0].video and entries[0].key                  # every run opens on a keyframe
    last = packets[-1].t_us
    step, gop_us = S // fps, gop * S // fps
    for a, b in merged:
        since, until = a - pre * S, min(b + post * S, last)
        if since < 0:
            continue  # the clip starts after the pre-roll would
        covered = [t for t in times if since - gop_us <= t <= until + gop_us]
        assert covered and covered[0] <= since and covered[-1] >= until - step, (a, b)
        # contiguous: no frame missing between since and until
        inside = [t for t in times if since <= t <= until]
        assert len(inside) >= (until - since) // step - 1
    # Nothing far from every motion: at most a GOP (plus the slack) before, a GOP after the
    # post-roll's end or, when the detector reports later than that, after its report (the gate
    # cannot close before it hears of the motion: it closes at the next keyframe)
    late = max(post * S, delay_ms * 1000)
    for t in times:
        assert any(a - pre * S - gop_us - 2 * S <= t <= b + late + gop_us for a, b in merged), t
