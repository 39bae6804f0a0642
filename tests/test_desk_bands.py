"""The timeline's bands (design/0084): a camera's day built from the operations' rows, pure."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from edged.viewer.desk.bands import JOIN_US, Span, complement, day_bands, day_range, recorded_us

S = 1_000_000
H = 3600 * S
TPE = ZoneInfo("Asia/Taipei")
START, END = day_range(date(2026, 11, 23), TPE)


def seg(a: float, b: float | None, cam: str = "cam1") -> dict:
    return {"camera": cam, "start_us": START + int(a * H), "end_us": None if b is None else START + int(b * H)}


def test_a_day_is_midnight_to_midnight_in_the_sites_zone():
    assert END - START == 24 * H
    assert START == int(__import__("datetime").datetime(2026, 11, 22, 16, tzinfo=ZoneInfo("UTC")).timestamp()) * S


def test_contiguous_segments_are_one_span_and_a_gap_splits_them_with_its_reason():
    segs = [seg(0, 1 - 0.05 / 3600), seg(1, 2), seg(3, 4)]
    gaps = [{"camera": "cam1", "from_us": START + 2 * H, "to_us": START + 3 * H, "reason": "camera offline"}]
    b = day_bands("cam1", START, END, START + 4 * H, segments=segs, gaps=gaps)
    assert [(s.from_us - START, s.to_us - START, s.count) for s in b["footage"]] == [(0, 2 * H, 2), (3 * H, 4 * H, 1)]
    assert b["gap"] == [Span("gap", START + 2 * H, START + 3 * H, "camera offline")]
    assert b["unknown"] == [], "the whole day up to now is accounted for"
    assert recorded_us(b) == 3 * H


def test_nothing_after_now_and_a_segment_being_written_reaches_now():
    now = START + 10 * H + 30 * 60 * S
    b = day_bands("cam1", START, END, now, segments=[seg(8, 10), seg(10, None)])
    assert len(b["footage"]) == 1 and b["footage"][0].to_us == now and b["footage"][0].open
    assert b["unknown"] == [Span("unknown", START, START + 8 * H)], "before the first footage: no record"


def test_rows_overlapping_the_day_are_clipped_and_other_cameras_ignored():
    b = day_bands("cam1", START, END, END + H, segments=[seg(-1, 1), seg(23, 25), seg(5, 6, "cam2")],
                  not_recorded=[{"camera": "cam1", "from_us": START + H, "to_us": START + 23 * H,
                                 "reason": "no motion"}])
    assert [(s.from_us, s.to_us) for s in b["footage"]] == [(START, START + H), (START + 23 * H, END)]
    assert b["policy"] == [Span("policy", START + H, START + 23 * H, "no motion")]
    assert b["gap"] == [] and b["unknown"] == []


def test_motion_events_holds_and_destructions():
    events = [{"id": 7, "camera": "cam1", "start_us": START + H, "end_us": START + H + 20 * S},
              {"id": 8, "camera": "cam1", "start_us": START + 2 * H, "end_us": START + 2 * H},   # a mark
              {"id": 9, "camera": "cam1", "start_us": START + 3 * H, "end_us": None}]
    holds = [{"id": 1, "kind": "evidence", "cameras": ["cam1"], "from_us": START - H, "to_us": START + H},
             {"id": 2, "kind": "legal", "cameras": None, "from_us": START + 5 * H, "to_us": START + 6 * H},
             {"id": 3, "kind": "evidence", "cameras": ["cam2"], "from_us": START, "to_us": END},
             {"id": 4, "kind": "evidence", "cameras": ["cam1"], "from_us": START, "to_us": END, "ended_us": 1}]
    gone = [{"camera": "cam1", "start_us": START + i * 60 * S, "end_us": START + (i + 1) * 60 * S - 50_000,
             "reason": "max retention"} for i in range(3)]
    b = day_bands("cam1", START, END, END, events=events, holds=holds, destructions=gone)
    assert [(s.ref, s.length_us, s.open) for s in b["motion"]] == [(7, 20 * S, False), (8, 0, False), (9, 0, True)]
    assert [(s.ref, s.reason, s.from_us) for s in b["hold"]] == [(1, "evidence", START), (2, "legal", START + 5 * H)]
    assert b["destroyed"] == [Span("destroyed", START, START + 180 * S - 50_000, "max retention", None, 3)]
    assert b["unknown"] == [Span("unknown", START + 180 * S - 50_000, END)]


def test_a_hole_longer_than_the_join_tolerance_splits_footage():
    a = {"camera": "cam1", "start_us": START, "end_us": START + 60 * S}
    b_ = {"camera": "cam1", "start_us": START + 60 * S + JOIN_US + 1, "end_us": START + 120 * S}
    b = day_bands("cam1", START, END, START + 120 * S, segments=[b_, a])   # any order in
    assert len(b["footage"]) == 2
    assert complement(b["footage"], START, START + 120 * S) == [(START + 60 * S, START + 60 * S + JOIN_US + 1)]


def test_a_filed_gap_shorter_than_the_join_tolerance_still_splits_footage():
    a = {"camera": "cam1", "start_us": START, "end_us": START + 60 * S}
    b_ = {"camera": "cam1", "start_us": START + 60 * S + S, "end_us": START + 120 * S}
    gap = {"camera": "cam1", "from_us": START + 60 * S + 200_000, "to_us": START + 61 * S, "reason": "restart"}
    b = day_bands("cam1", START, END, START + 120 * S, segments=[a, b_], gaps=[gap])
    assert len(b["footage"]) == 2 and len(b["gap"]) == 1


def test_backfilled_time_is_its_own_band_beside_the_gap_it_fills():
    """Footage fetched after a gap (design/0106, 0115) is its own kind, by where it came from; the
    gap stays on its band, and the time is accounted for."""
    segs = [seg(0, 1), {**seg(1, 1.5), "source": "standby"}, {**seg(1.5, 2), "source": "backfilled"}, seg(2, 3)]
    gaps = [{"camera": "cam1", "from_us": START + 1 * H, "to_us": START + 2 * H, "reason": "edged was not running"}]
    b = day_bands("cam1", START, END, START + 3 * H, segments=segs, gaps=gaps)
    assert [(s.from_us - START, s.to_us - START) for s in b["footage"]] == [(0, 1 * H), (2 * H, 3 * H)]
    assert [(s.from_us - START, s.to_us - START, s.reason) for s in b["backfilled"]] == [
        (1 * H, int(1.5 * H), "standby"), (int(1.5 * H), 2 * H, "backfilled")]
    assert len(b["gap"]) == 1 and b["unknown"] == []
