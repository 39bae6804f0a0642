"""Picture times (design/0093): decode times from the reorder depth, re-timing of missing, alike and
jumping stamps, the reorder depth an SPS declares, a reconnect after the last run. Pure tables."""

from fractions import Fraction

import pytest

from recorder import edged_source, picture_size, rtp
from recorder.timeline import (
    ALIKE,
    JUMP,
    MISSING,
    RECONNECT_OVERLAP_US,
    DecodeTimes,
    GopTimes,
    RtpTimes,
    after_last,
    observed_depth,
    retime,
)
from tests.support import rtp_captures

pytestmark = pytest.mark.pure

F = 4500  # one frame at 20 fps, 90 kHz
S = 1_000_000

# Presentation times in decode order, as x264 sends them (tests/data/rtp: the same streams).
PLAIN = [0, F, 2 * F, 3 * F, 4 * F]
BF2 = [0, 3 * F, F, 2 * F, 6 * F, 4 * F, 5 * F, 9 * F, 7 * F, 8 * F]                 # -bf 2, no pyramid
PYRAMID = [0, 3 * F, F, 2 * F, 5 * F, 4 * F, 8 * F, 6 * F, 7 * F, 11 * F, 9 * F, 10 * F]  # b-pyramid: B-ref


@pytest.mark.parametrize(("pts", "depth", "dts"), [
    (PLAIN, 0, PLAIN),
    (BF2, 1, [-F, 0, F, 2 * F, 3 * F, 4 * F, 5 * F, 6 * F, 7 * F, 8 * F]),
    (PYRAMID, 2, [-2 * F, -F, 0, F, 2 * F, 3 * F, 4 * F, 5 * F, 6 * F, 7 * F, 8 * F, 9 * F]),
])
def test_decode_times_follow_the_reorder_depth_and_never_pass_a_picture(pts, depth, dts):
    times = DecodeTimes(depth, F)
    got = [times.dts(p) for p in pts]
    assert got == dts
    assert all(d <= p for d, p in zip(got, pts))          # nothing moves a picture
    assert all(b > a for a, b in zip(got, got[1:]))       # the muxer's rule


def test_without_b_pictures_a_stamp_alike_gets_the_next_tick_and_the_depth_stays():
    # the short way of DecodeTimes.dts for depth 0 (issue 38) gives what its steps give
    times = DecodeTimes(0, F)
    assert [times.dts(p) for p in (0, F, F, 2 * F, 2 * F - 1)] == [0, F, F + 1, 2 * F, 2 * F + 1]
    assert times.depth == 1  # 2F - 1 came before 2F: one picture deeper from there


def test_a_depth_too_small_grows_and_says_so_by_a_decode_time_after_the_picture():
    times = DecodeTimes(0, F)
    got = [times.dts(p) for p in BF2]
    assert times.depth == 1
    assert all(b > a for a, b in zip(got, got[1:]))
    late = [i for i, (d, p) in enumerate(zip(got, BF2)) if d > p]
    assert late == [2, 3]  # the pictures the record loop re-times (and counts); after them, none


def test_reset_after_a_jump_starts_again():
    times = DecodeTimes(1, F)
    for p in BF2:
        times.dts(p)
    times.reset()
    assert [times.dts(p) for p in (500 * F, 503 * F, 501 * F)] == [499 * F, 500 * F, 501 * F]


@pytest.mark.parametrize("depth", [0, 1])
def test_a_keyframe_stamped_back_starts_the_decode_times_again_and_the_depth_stays(depth):
    """Issue 92 (design/0468): a keyframe is shown after every picture before it, so one stamped
    before a picture already read (a client joining a shared stream) is the camera's clock stepping
    back: the decode times start again from it, as at the run's start, and the depth is not deepened
    (it was, for the rest of the run: the decode times then lagged and the camera was never trusted)."""
    gop = [0, 3 * F, F, 2 * F, 6 * F, 4 * F, 5 * F] if depth else [0, F, 2 * F, 3 * F, 4 * F, 5 * F, 6 * F]
    first, again = RtpTimes(0, depth, F), RtpTimes(0, depth, F)
    for p in gop:
        first.stamp(p, p == 0)
    back = 3 * F  # the keyframe of the next GOP, 0.2 s back from the 7 * F it was due at
    after = [first.stamp(back + p, p == 0) for p in gop]
    assert first.decode.depth == depth and first.jumps == 0
    assert after == [(back + p, back + d) for p, d in (again.stamp(p, p == 0) for p in gop)]
    # the same stamps without the keyframe's mark (pictures earlier than the depth allows): deeper
    deeper = RtpTimes(0, depth, F)
    for p in gop + [back + p for p in gop]:
        deeper.stamp(p)
    assert deeper.decode.depth > depth


# x264's b-pyramid needs one picture in this order, though its SPS declares two (libavformat takes two).
@pytest.mark.parametrize(("pts", "depth"), [(PLAIN, 0), (BF2, 1), (PYRAMID, 1), ([5 * F, 4 * F, 3 * F, 2 * F], 3)])
def test_observed_depth(pts, depth):
    assert observed_depth(pts) == depth


@pytest.mark.parametrize(("dts", "last", "elapsed", "want"), [
    (None, None, 0, (0, MISSING)),
    (None, 9000, 0, (9000 + F, MISSING)),
    (9000, 9000, 0, (9000 + F, ALIKE)),              # stamped alike (VLC): one frame on
    (9000 - F, 9000, 0, (9000 + F, ALIKE)),          # a little back: the same
    (9000 + F, 9000, 0, (9000 + F, None)),
    (9000 + 50 * F, 9000, 50 * F, (9000 + 50 * F, None)),        # a real gap: monotonic time passed too
    (9000 + 3600 * 90000, 9000, 0, (9000 + F, JUMP)),            # +1 h on the camera's clock: on time
    (9000 + 3600 * 90000, 9000, 2 * F, (9000 + 2 * F, JUMP)),    # ... or as late as it arrived
    (9000 - 3600 * 90000, 9000, 0, (9000 + F, JUMP)),            # back 1 h
    (9000 - 2 * 90000, 9000, 0, (9000 + F, JUMP)),               # back 2 s
])
def test_retime(dts, last, elapsed, want):
    assert retime(dts, last, F, elapsed, 90000, 90000) == want


def test_a_camera_stamping_half_of_each_gop_alike_decodes_at_its_rate():
    """VLC's pattern: 20 pictures of a 40-picture GOP under one stamp, the rest right."""
    stamps = [0] * 20 + [20 * F + i * F for i in range(20)] + [40 * F] * 20
    last = None
    out, fixed = [], 0
    for dts in stamps:
        if last is not None and last < dts <= last + 90000:
            got = dts
        else:
            got, problem = retime(dts, last, F, 0, 90000, 90000)
            fixed += problem is not None
        out.append(got)
        last = got
    assert out == [i * F for i in range(60)]
    assert fixed == 38  # the first of each alike run keeps its own stamp


@pytest.mark.parametrize(("first", "last_end", "same", "offset"), [
    (100 * S, None, True, 0),                       # a first run
    (100 * S, 100 * S + 720_000, True, 720_000),    # VLC's reconnect overlap: starts at the last end
    (100 * S, 99 * S, True, 0),                     # a gap: as it is
    (100 * S, 100 * S + RECONNECT_OVERLAP_US + 1, True, 0),  # more than the media clock can explain
    (100 * S, 100 * S + 720_000, False, 0),         # another host clock: the host-clock watch judges
])
def test_a_reconnect_begins_after_the_last_run(first, last_end, same, offset):
    assert after_last(0, first, last_end, same) == offset


@pytest.mark.parametrize(("capture", "codec", "depth"), [
    ("plain_h264", "h264", 0), ("bframes_h264", "h264", 2), ("bframes_h265", "hevc", 2), ("slices_h264", "h264", 0),
])
def test_reorder_depth_from_the_sps(capture, codec, depth):
    dep = rtp.Depacketizer(codec)
    key = next(u for p in rtp_captures.read(rtp_captures.HERE / f"{capture}.rtp") for u in dep.push(p))
    assert key.key and key.params
    assert picture_size.reorder_depth(codec, key.data) == depth


def test_no_bitstream_restriction_is_unknown_and_baseline_is_none():
    from tests.support.sps import h264_sps
    assert picture_size.reorder_depth("h264", h264_sps(1280, 720)) == 0             # Baseline: no B slices
    assert picture_size.reorder_depth("h264", h264_sps(1280, 720, profile=77)) is None  # Main, no VUI: unsaid
    assert picture_size.reorder_depth("h264", b"") is None
    assert picture_size.reorder_depth("mjpeg", b"\x00\x00\x00\x01\x67") is None


def test_the_edged_reader_follows_every_sender_report_and_forgets_them_at_a_jump():
    """design/0093: the camera's clock at media time 0 follows the newest RTCP sender report (the
    first of VLC's said 60 s off); after a jump of the RTP clock it waits for a report from after."""
    import io

    import av

    from recorder.edged_source import EdgedSource

    dep = rtp.Depacketizer("h264")
    units = [u for p in rtp_captures.read(rtp_captures.HERE / "plain_h264.rtp") for u in dep.push(p)]
    t0 = units[0].ts
    units = units[:10] + [rtp.AccessUnit(u.ts + 3600 * 90000, u.key, u.data, u.params) for u in units[10:20]]
    src = EdgedSource.__new__(EdgedSource)
    template = av.open(io.BytesIO(units[0].data), format="h264")
    src._stream, src._origin, src._times = template.streams.video[0], t0, RtpTimes(t0, 0, F)
    src._pending, src.start_time_realtime, src._sr = [], None, None
    wall0 = 1_800_000_000 * S
    reports = {2: (wall0 + 60 * S, t0), 5: (wall0, t0 + 5 * F)}  # before picture i: (camera wall, RTP time)

    def arriving():
        for i, u in enumerate(units):
            if i in reports:
                src._sr = reports[i]
            yield u

    src._rest = arriving()
    seen = [src.start_time_realtime for _pkt in src.demux()]
    template.close()
    assert seen[:2] == [None, None]                            # no report yet
    assert seen[2:5] == [wall0 + 60 * S] * 3                   # the first report: 60 s off
    assert seen[5:10] == [wall0 - 5 * F * S // 90000] * 5      # the newest: media time 0 at wall0 - 0.25 s
    assert seen[10:] == [None] * 10                            # the clock jumped: nothing known until a report


@pytest.mark.parametrize(("pts", "fps"), [(PLAIN[:2], 20), (BF2[:2], Fraction(20, 3)), (BF2, 20), (PYRAMID, 20),
                                          ([0], 25)])
def test_the_frame_rate_from_the_first_pictures_in_presentation_order(pts, fps):
    """Without a frame rate in the SDP: with B pictures the second picture received is three
    frames on (6.7 fps from two pictures), so the reader reads more of them (edged_source._first)."""
    units = [rtp.AccessUnit(t, False, b"", False) for t in pts]
    assert edged_source.frame_rate(units) == fps


# GopTimes (design/0150) --------------------------------------------------------------------------
def _made(stamps: list[tuple[int, bool]], step: int = 4500, last: int = -4500) -> tuple[list[int], GopTimes]:
    gops = GopTimes(step, last)
    return [gops.stamp(ts, ts, key, ts)[1] for ts, key in stamps], gops


def test_vlcs_gops_are_made_one_frame_apart_at_the_keyframes_interval():
    # 2 s GOPs of 40 pictures stamped 0.1 s apart; from the 2nd keyframe on the times are made
    stamps = [((i - i % 40) * 4500 + (i % 40) * 9000, i % 40 == 0) for i in range(40, 160)]
    made, gops = _made(stamps, last=39 * 9000)
    assert made[0] == 39 * 9000 + 4500  # the keyframe that went back: a frame after the last
    assert {b - a for a, b in zip(made, made[1:])} == {4500}
    assert [m - made[0] for m in made[40::40]] == [180000, 360000]  # each keyframe at its interval


def test_stamps_alike_are_spread_and_the_keyframes_kept():
    stamps = [((i - i % 40) * 4500 if i % 40 < 20 else i * 4500, i % 40 == 0) for i in range(120)]
    made, gops = _made(stamps)
    assert made == [i * 4500 for i in range(120)]
    kept = gops.take(made[59])
    assert len(kept) == 19 * 2 and all(c in (0, 180000) for _w, c in kept)  # pictures 1-19 of two GOPs
    assert len(gops.take(10**9)) == 19


def test_a_camera_whose_stamps_are_whole_for_a_gop_is_trusted_again():
    """Issue 92: the times are made while the camera stamps pictures alike; after a GOP it stamps
    whole (written at its own times), the next keyframe says so; one picture moved in a GOP does not."""
    alike = [((i - i % 40) * 4500 if i % 40 < 20 else i * 4500, i % 40 == 0) for i in range(40)]
    whole = [(i * 4500, i % 40 == 0) for i in range(40, 81)]
    gops = GopTimes(4500, None)
    trusted = []
    for ts, key in alike + whole:
        gops.stamp(ts, ts, key, ts)
        trusted.append(gops.trusted)
    assert trusted.index(True) == 80  # the keyframe after the first whole GOP
    again = GopTimes(4500, None)
    for i, (ts, key) in enumerate(alike + whole):
        again.stamp(ts - 4500 * (i == 60), ts - 4500 * (i == 60), key, ts)  # one picture alike in the GOP
    assert not again.trusted


def test_a_b_picture_camera_is_trusted_again_at_its_own_times():
    depth, step = 2, 3000
    order = [0, 3, 1, 2]  # a keyframe, then P and two B pictures, repeated: presentation slots in decode order
    pts = [(g * 4 + o) * step for g in range(6) for o in order]
    decode = DecodeTimes(depth, step)
    gops = GopTimes(step, None, depth)
    states = []
    for i, p in enumerate(pts):
        gops.stamp(p, decode.dts(p), i % 4 == 0, p)
        states.append(gops.trusted)
    assert states[4] and not any(states[:4])  # the run began at a keyframe: its first GOP whole


def test_a_segments_camera_times_are_of_its_own_pictures_only():
    """Issue 92: a reconnect's first segment opens at a keyframe after pictures never written;
    their pairs are not the segment's (151 pairs for 120 pictures)."""
    stamps = [((i - i % 40) * 4500 if i % 40 < 20 else i * 4500, i % 40 == 0) for i in range(120)]
    made, gops = _made(stamps)
    kept = gops.take(made[79], since=made[40])  # the file opened at the second keyframe
    assert len(kept) == 19 and all(c == 180000 for _w, c in kept)
    assert gops.take(made[79], since=made[40]) == []  # taken (and those before `since` dropped)
    assert len(gops.take(10**9)) == 19


def test_a_cut_cras_pair_stays_for_the_file_it_opens():
    """design/0543: the file closing at a CRA holds a copy of it no decoder shows, and the RASL pictures after it;
    their pairs are its own, the CRA's is the next file's (`leave`)."""
    stamps = [((i - i % 40) * 4500 if i % 40 < 20 else i * 4500, i % 40 == 0) for i in range(120)]
    made, plain = _made(stamps)
    _, cut = _made(stamps)
    closing, opening = plain.take(made[45], since=made[0]), plain.take(made[79], since=made[41])
    held = next(pair for pair in closing if pair[0] == made[41])  # (a picture with its times made, as the CRA)
    assert cut.take(made[45], since=made[0], leave=made[41]) == [pair for pair in closing if pair != held]
    assert cut.take(made[79], since=made[41]) == [held] + opening


@pytest.mark.parametrize("interval, pace", [(180000, 4500), (90000, 2250), (1000, 2250), (10**7, 9000)])
def test_the_pace_is_the_cameras_keyframe_interval_within_half_and_twice_the_rate(interval, pace):
    gops = GopTimes(4500, -4500)
    for key_at in (0, interval):
        for i in range(40):
            gops.stamp(key_at, key_at, i == 0, key_at)
    assert gops.pace == pace


def test_b_pictures_keep_their_reorder_and_times_never_go_back():
    gops = GopTimes(4500, 0)
    pts, dts, moved = gops.stamp(13500, 4500, False, 13500)  # a P picture shown two frames on
    assert (pts, dts) == (4500 + 9000, 4500) and not moved
    pts, dts, moved = gops.stamp(0, 0, False, 0)  # stamped back: a frame after the last
    assert (pts, dts) == (9000, 9000) and moved
