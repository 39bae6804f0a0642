"""The pre-roll buffer, pure: synthetic packet records (time, keyframe flag, size) as a camera
sends them: video at a frame rate with a keyframe every GOP, audio in between."""

from __future__ import annotations

from bisect import bisect_left

from hypothesis import strategies as st

from recorder.preroll import Buffered, PreRollBuffer
from tests.support.packets import AUDIO_BYTES, FRAME_BYTES, KEY_BYTES, S, stream
from tests.support.properties import at_two_lengths

FPS = 20
GOP = 2 * FPS  # frames: a 2 s GOP


def fill(buf: PreRollBuffer, packets: list[Buffered]) -> None:
    for p in packets:
        buf.push(p)


def test_the_buffer_starts_at_the_last_keyframe_that_still_covers_the_pre_roll():
    buf = PreRollBuffer(pre_roll_us=5 * S, max_bytes=10_000_000, slack_us=1 * S)
    packets = stream(60)
    fill(buf, packets)
    newest = packets[-1].t_us  # 59.95 s
    need = newest - 6 * S      # 53.95 s: the keyframe at 52 s is the last one before it
    assert buf.start_us == 52 * S
    assert buf.span_us == newest - 52 * S
    # Exactly the packets from that keyframe on, in arrival order.
    first = next(i for i, p in enumerate(packets) if p.video and p.key and p.t_us == 52 * S)
    assert len(buf) == len(packets) - first
    assert buf.bytes == sum(p.size for p in packets[first:])
    assert need > buf.start_us


def test_take_hands_over_from_the_keyframe_before_motion_minus_pre_roll_and_empties():
    buf = PreRollBuffer(pre_roll_us=5 * S, max_bytes=10_000_000, slack_us=2 * S)
    packets = stream(60)
    fill(buf, packets)
    motion = 58 * S + 300_000   # motion began at 58.3 s, confirmed a little later
    pre = buf.take(motion - 5 * S)
    assert pre.complete and pre.start_us == 52 * S  # the keyframe at or before 53.3 s
    first = pre.entries[0]
    assert first.video and first.key and first.t_us <= motion - 5 * S
    # Everything after it, in order, nothing before it: the writer gets a decodable run.
    assert [e.item for e in pre.entries] == [p.item for p in packets if p.t_us >= 52 * S]
    assert len(buf) == 0 and buf.bytes == 0 and buf.start_us is None


def test_packets_before_the_first_keyframe_are_never_kept():
    buf = PreRollBuffer(pre_roll_us=5 * S, max_bytes=10_000_000)
    packets = stream(3, start_frame=25)  # connected mid-GOP: the keyframe comes at frame 40
    fill(buf, packets)
    assert buf.start_us == 2 * S
    head = [p for p in packets if p.t_us < 2 * S]
    assert buf.dropped_packets == len(head) > 0
    # Asking for more than it has: what there is, said to be short.
    pre = buf.take(0)
    assert not pre.complete and pre.start_us == 2 * S and pre.entries[0].key


def test_bytes_bound_drops_whole_gops_from_the_front_and_says_the_pre_roll_is_short():
    per_gop = KEY_BYTES + (GOP - 1) * FRAME_BYTES + 32 * AUDIO_BYTES  # ~300 kB per 2 s
    buf = PreRollBuffer(pre_roll_us=5 * S, max_bytes=2 * per_gop, slack_us=1 * S)
    for p in stream(30):
        buf.push(p)
        assert buf.bytes <= 2 * per_gop
        if p.t_us > 0:  # (the audio packet before the first keyframe is not kept)
            assert buf.start_us is not None  # a 2-GOP limit always holds the GOP in progress
    assert buf.cut_gops > 0
    pre = buf.take(30 * S - 6 * S)
    assert not pre.complete and pre.entries[0].key and pre.start_us > 24 * S


def test_a_gop_bigger_than_the_limit_is_dropped_whole_and_the_buffer_waits_for_a_keyframe():
    buf = PreRollBuffer(pre_roll_us=5 * S, max_bytes=100_000)  # a 2 s GOP is ~300 kB
    packets = stream(5)
    for p in packets:
        buf.push(p)
        assert buf.bytes <= 100_000
        assert buf.start_us is None or buf.start_us % (2 * S) == 0
    assert buf.dropped_packets > 0 and buf.cut_gops >= 2


def test_clear_forgets_the_old_run():
    buf = PreRollBuffer(pre_roll_us=5 * S, max_bytes=10_000_000)
    fill(buf, stream(10))
    buf.clear()
    assert len(buf) == 0 and buf.start_us is None and buf.take(0).entries == []


@at_two_lengths(200, gop=st.integers(1, 120), fps=st.sampled_from([5, 10, 15, 25, 30]),
       pre_roll=st.integers(0, 10), slack_ms=st.integers(0, 3000), seconds=st.integers(1, 40),
       max_kb=st.integers(50, 5000), start=st.integers(0, 200), key_kb=st.integers(1, 300))
def test_invariants_hold_for_any_stream(gop, fps, pre_roll, slack_ms, seconds, max_kb, start, key_kb):
    """After every push: within the bytes, starting at a keyframe, holding no GOP it could
    drop; a take at the asked time is complete whenever the needed span fits the bytes."""
    buf = PreRollBuffer(pre_roll_us=pre_roll * S, max_bytes=max_kb * 1000, slack_us=slack_ms * 1000)
    packets = stream(seconds, start_frame=start, gop=gop, fps=fps, key_bytes=key_kb * 1000)
    # The newest time and the keyframes pushed so far, kept as they grow (measured again from
    # packets[:i + 1] at every push, they were most of this test's time); keyframes come in time order.
    newest, key_times = packets[0].t_us, []
    for p in packets:
        buf.push(p)
        assert buf.bytes <= buf.max_bytes
        newest = max(newest, p.t_us)
        if p.key:
            assert not key_times or p.t_us > key_times[-1]
            key_times.append(p.t_us)
        if buf.start_us is not None:
            need = newest - buf.pre_roll_us - buf.slack_us
            first = bisect_left(key_times, buf.start_us)
            keys = key_times[first:first + 2]   # the first two at or after the start
            assert keys and keys[0] == buf.start_us
            # Minimal: the next keyframe in the buffer starts after the needed time.
            assert len(keys) < 2 or keys[1] > need
    since = packets[-1].t_us - pre_roll * S
    keys_before = [q.t_us for q in packets if q.key and q.t_us <= since]
    fits = keys_before and sum(q.size for q in packets if q.t_us >= keys_before[-1]) <= buf.max_bytes
    pre = buf.take(since)
    if pre.entries:
        assert pre.entries[0].key and pre.entries[0].t_us == pre.start_us
        assert [e.t_us for e in pre.entries] == [q.t_us for q in packets[-len(pre.entries):]]
    if fits:
        assert pre.complete and pre.start_us == keys_before[-1]
    if pre.complete:
        assert pre.start_us <= since
