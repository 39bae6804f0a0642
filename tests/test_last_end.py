"""The end of a camera's footage before a moment (storage/footage/segments.py last_end_before):
the segment a new one follows and the host clock's history at start (design/0059) ask it. Found
by the timeline's benchmark (bench/desk, design/0084): a max(end_us) over every earlier row took
8-19 s on a year of 60 s segments, on the writer thread; now it is read by index. Same answers."""

from __future__ import annotations

from storage.disk import layout
from storage.footage import segments as segment_table
from storage.catalog import open_db
from storage.footage.segment_rows import COMPLETE, SEGMENT_LOOKBACK_US
from tests.support.catalog import add_segments

S = 1_000_000
T = 1_767_225_600_000_000


def seg(cam: str, start: int, length: int, state: str = COMPLETE) -> dict:
    return {"camera": cam, "start_us": start, "end_us": start + length, "path": layout.segment_relpath(cam, start),
            "bytes": 1, "frames": 1, "codec": "h264", "width": 2, "height": 2, "audio": 0, "sha256": "00" * 32,
            "state": state, "created_us": start, "closed_us": start + length}


def brute(rows: list[dict], cam: str, before: int | None) -> int | None:
    ends = [r["end_us"] for r in rows if r["camera"] == cam and r["state"] == COMPLETE
            and (before is None or r["start_us"] < before)]
    return max(ends, default=None)


def test_last_end_before_answers_as_the_scan_did(tmp_path):
    db = open_db(tmp_path / layout.CATALOG_FILE)
    db["cameras"].insert_all([{"id": c, "name": c, "url": "rtsp://h/s", "enabled": 1} for c in ("a", "b")])
    rows = [seg("a", T + i * 60 * S, 60 * S - 50_000) for i in range(30)]
    rows += [seg("a", T - 3 * SEGMENT_LOOKBACK_US, SEGMENT_LOOKBACK_US),   # a day-long one, long ago
             seg("a", T + 40 * 60 * S, 30 * S, "writing"),               # not footage yet
             seg("a", T + 29 * 60 * S + S, 10 * S),                       # a short one inside the last
             seg("b", T + 5 * S, 7 * S)]
    add_segments(db, rows)
    for cam in ("a", "b", "c"):
        assert segment_table.last_end(db, cam) == brute(rows, cam, None), cam
        for before in (T - 4 * SEGMENT_LOOKBACK_US, T - SEGMENT_LOOKBACK_US, T, T + 1, T + 60 * S, T + 29 * 60 * S + 2 * S,
                       T + 41 * 60 * S, T + 10**12):
            assert segment_table.last_end_before(db, cam, before) == brute(rows, cam, before), (cam, before)
    assert segment_table.clock_history(db)[0] == max(brute(rows, "a", None), brute(rows, "b", None))
