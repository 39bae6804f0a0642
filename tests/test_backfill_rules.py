"""The planning of a backfill from the camera's recording (design/0106): pure."""

from __future__ import annotations

import pytest

from edged.rules import backfill as bf

pytestmark = pytest.mark.pure
S = 1_000_000


def _gap(cam: str, a: int, b: int, state: str | None = None) -> dict:
    return {"camera": cam, "from_us": a * S, "to_us": b * S, "backfill": state}


@pytest.mark.parametrize("gaps, edge, now, expected", [
    ([], {"c1"}, 100, None),
    ([_gap("c1", 10, 20)], {"c1"}, 100, 0),
    ([_gap("c1", 10, 20)], {"c2"}, 100, None),                          # no edge recording
    ([_gap("c1", 10, 20)], {"c1"}, 22, None),                           # ended too recently
    ([_gap("c1", 10, 20, bf.DONE), _gap("c1", 30, 40)], {"c1"}, 100, 1),
    ([_gap("c1", 10, 20, bf.GIVEN_UP), _gap("c1", 30, 40, bf.PENDING)], {"c1"}, 100, 1),
    ([_gap("c2", 30, 40), _gap("c1", 10, 20)], {"c1", "c2"}, 100, 1),     # the oldest first
    ([{"camera": "c1", "from_us": 10 * S, "to_us": 10 * S + 1000, "backfill": None}], {"c1"}, 100, None),  # too short
])
def test_next_gap(gaps, edge, now, expected):
    got = bf.next_gap(gaps, edge, now * S)
    assert got is (None if expected is None else gaps[expected])


@pytest.mark.parametrize("progress, segments, expected", [
    (None, [], 10),
    (15, [], 15),
    (None, [(10, 14)], 14),          # a crash left a segment behind the progress
    (16, [(10, 14)], 16),
    (12, [(10, 14), (14, 18)], 18),
])
def test_resume_point(progress, segments, expected):
    got = bf.resume_point(10 * S, None if progress is None else progress * S, [(a * S, b * S) for a, b in segments])
    assert got == expected * S


@pytest.mark.parametrize("start, rec, expected", [
    (10, (0, 100), bf.Fetch(10 * S, 20 * S)),
    (15, (0, 100), bf.Fetch(15 * S, 20 * S)),            # resumed
    (10, (12, 100), bf.Fetch(12 * S, 20 * S)),           # the start was overwritten: the rest
    (10, (20, 100), bf.GiveUp(bf.OVERWRITTEN)),
    (10, (0, 16), bf.Fetch(10 * S, 16 * S)),             # it stopped recording at 16
    (10, (0, 10), bf.GiveUp(bf.NOT_RECORDED)),
    (20, (0, 100), bf.Done()),
])
def test_plan_asks_only_for_the_gap(start, rec, expected):
    assert bf.plan(10 * S, 20 * S, start * S, rec[0] * S, rec[1] * S) == expected


@pytest.mark.parametrize("asked, start, fetched, expected", [
    ((10, 20), 10, 20, bf.Done()),
    ((10, 20), 10, 19.9, bf.Done()),                       # within MIN_US
    ((10, 20), 10, 15, bf.GiveUp(bf.NOT_RECORDED)),
    ((12, 20), 10, 20, bf.GiveUp(bf.OVERWRITTEN)),
])
def test_after_fetch(asked, start, fetched, expected):
    assert bf.after_fetch(20 * S, int(fetched * S), bf.Fetch(asked[0] * S, asked[1] * S), start * S) == expected


@pytest.mark.parametrize("t, kept", [(9.99, False), (10, True), (15, True), (19.99, True), (20, False)])
def test_keep_never_past_the_gap(t, kept):
    assert bf.keep(int(t * S), 10 * S, 20 * S) is kept


@pytest.mark.parametrize("start, t, key, length, expected", [
    (None, 5, False, 60, True), (0, 30, True, 60, False), (0, 60, False, 60, False), (0, 60, True, 60, True),
    (3, 9.9, True, 10, False), (3, 10, True, 10, True), (3, 10.5, True, 10, True),  # the site's grid, not 10 s on
    (13, 20, False, 10, False), (13, 21, True, 10, True), (59.995, 60.5, True, 10, False)])  # opened at :00 already
def test_cut_at_the_sites_segment_length_on_the_wall_clock_grid(start, t, key, length, expected):
    assert bf.cut(None if start is None else int(start * S), int(t * S), key, length * S) is expected


@pytest.mark.parametrize("sent, elapsed, cap, wait", [(0, 0, 1000, 0), (2000, 1, 1000, 1), (500, 1, 1000, 0),
                                                      (10**9, 0, 0, 0)])
def test_pace(sent, elapsed, cap, wait):
    assert bf.pace_s(sent, elapsed, cap) == wait


def _rtp(ext: bytes | None, csrc: int = 0) -> bytes:
    head = bytes([0x80 | (0x10 if ext is not None else 0) | csrc, 96, 0, 1]) + b"\x00" * 8 + b"\x00\x00\x00\x01" * csrc
    if ext is None:
        return head + b"\x65payload"
    return head + ext + b"\x65payload"


def _onvif(sec: int, frac: int, profile: int = 0xABAC) -> bytes:
    import struct
    return struct.pack("!HHIIBBH", profile, 3, sec, frac, 0xA0, 0, 0)


@pytest.mark.parametrize("pkt, expected", [
    (_rtp(None), None),
    (_rtp(_onvif(2_208_988_800 + 1_800_000_000, 1 << 31)), 1_800_000_000_500_000),
    (_rtp(_onvif(2_208_988_800 + 1_800_000_000, 1 << 31), csrc=2), 1_800_000_000_500_000),  # after CSRCs
    (_rtp(_onvif(2_208_988_800 + 1, 4294)), 1_000_001),                                     # 0.99977 us: to the nearest us
    (_rtp(_onvif(0xFFFFFFFF, 0xFFFFFFFF)), None),                                           # "time unknown"
    (_rtp(_onvif(2_208_988_800, 0, profile=0xBEDE)), None),                                 # another extension
    (_rtp(_onvif(2_208_988_800, 0))[:20], None),                                            # cut short
])
def test_the_onvif_extensions_time(pkt, expected):
    from recorder.replay import onvif_time_us
    assert onvif_time_us(pkt) == expected


@pytest.mark.parametrize("us, up, text", [
    (1_767_225_600_000_000, False, "20260101T000000.000Z"),
    (1_767_225_600_020_400, False, "20260101T000000.020Z"),
    (1_767_225_600_020_400, True, "20260101T000000.021Z"),   # a start: the camera's first frame not before it
    (1_767_225_600_999_500, True, "20260101T000001.000Z"),
])
def test_the_clock_range_times(us, up, text):
    from recorder.replay import clock_time
    assert clock_time(us, up) == text


def test_status_says_what_is_being_backfilled_and_why_not_in_the_readers_language():
    import json

    from edged.cli.edgectl import backfill_text
    from edged.i18n import Msg, speaking

    pending = {"camera": "gate", "from_us": 10 * S, "to_us": 70 * S, "backfill": bf.PENDING, "backfill_to_us": 40 * S,
               "backfill_note": None}
    assert "camera gate:" in backfill_text(pending) and "being fetched from the camera's own recording" in \
        backfill_text(pending)
    msg = Msg(bf.REFUSED, why="ter:NotAuthorized")
    given_up = {**pending, "backfill": bf.GIVEN_UP, "backfill_note": json.dumps({"text": str(msg), **msg.stored()})}
    assert backfill_text(given_up).endswith("not backfilled: the camera refused to replay its recording: "
                                            "ter:NotAuthorized")
    with speaking("zh-TW"):
        assert "攝影機拒絕回放其錄影：ter:NotAuthorized" in backfill_text(given_up)
        assert "正自攝影機本身的錄影回補" in backfill_text(pending)


@pytest.mark.parametrize("standby_state, now, expected", [
    (None, 100, False),             # a box with a standby asks it first: the camera waits
    ("done", 100, True),            # the standby was asked: the camera for what is still missing
    ("none", 100, True),
    (None, 20 + 121, True),         # a standby that never answers holds nothing up for ever
])
def test_next_gap_asks_the_standby_first(standby_state, now, expected):
    gaps = [{**_gap("c1", 10, 20), "standby": standby_state}]
    assert (bf.next_gap(gaps, {"c1"}, now * S, standby=True) is not None) is expected
    assert bf.next_gap(gaps, {"c1"}, now * S) is gaps[0]  # no standby: at once


@pytest.mark.parametrize("held, expected", [
    ([], [(10, 20)]),                                   # nothing held: the whole gap
    ([(12, 25)], [(10, 12)]),                           # the standby's from 12 on: the takeover only
    ([(8, 10.2), (12, 18)], [(10.2, 12), (18, 20)]),    # never over footage held
    ([(10, 10.3), (10.6, 20)], []),                     # a stretch under MIN_US is not worth a replay
    ([(5, 30)], []),
])
def test_missing_is_the_gap_less_what_is_held(held, expected):
    got = bf.missing(10 * S, 20 * S, [(int(a * S), int(b * S)) for a, b in held])
    assert got == [(int(a * S), int(b * S)) for a, b in expected]
