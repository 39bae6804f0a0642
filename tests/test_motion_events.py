"""Motion events and holes by policy in a real SQLite catalog (storage/footage/events.py), and their
destruction with the footage that shows them by a real retention pass."""

from __future__ import annotations

import json
import shutil

import pytest

from edged.config import CameraConfig, RetentionConfig
from storage import cameras as camera_table
from storage.footage import events
from storage.catalog import open_db
from storage.time.clock import FakeClock, SYSTEM
from storage.retention.run import run_pass
from tests.support.catalog import add_segments, audit_rows, rows

S = 1_000_000
DAY = 86_400 * S


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": c, "name": c, "url": "synthetic:", "enabled": 1, "mode": "motion"}
                           for c in ("gate", "yard")], SYSTEM.now_us())
    return db


def segment(db, tmp_path, camera: str, start: int, end: int) -> None:
    path = f"video/{camera}/{start}.mp4"
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_bytes(b"x" * 100)
    add_segments(db, [{"camera": camera, "start_us": start, "end_us": end, "path": path, "bytes": 100,
                       "state": "complete", "created_us": start}])


def test_an_event_opens_at_its_start_closes_at_its_end_and_lists_by_camera_and_time(db):
    a = events.started(db, "gate", 10 * S, 11 * S)
    assert events.ended(db, "gate", 10 * S, 14 * S, 0.02, b"\xff\xd8jpeg", 25 * S) == a
    # An end whose start the daemon never saw (it restarted in between) is kept whole.
    b = events.ended(db, "yard", 30 * S, 31 * S, 0.01, None, 45 * S)
    events.started(db, "gate", 50 * S, 51 * S)  # going on
    listed = events.listing(db, None, None, None, 100)
    assert [(r["id"], r["camera"], r["end_us"]) for r in listed] == [(a, "gate", 14 * S), (b, "yard", 31 * S),
                                                                      (a + 2, "gate", None)]
    assert "thumb" not in listed[0] and events.listing(db, ["gate"], None, None, 1, thumbs=True)[0]["thumb"]
    assert [r["id"] for r in events.listing(db, ["gate"], 20 * S, None, 100)] == [a + 2]
    assert [r["id"] for r in events.listing(db, None, 12 * S, 40 * S, 100)] == [a, b]


def test_holes_by_policy_have_only_the_declared_reasons(db):
    events.add_not_recorded(db, "gate", 0, 5 * S, events.NO_MOTION)
    with pytest.raises(ValueError):
        events.add_not_recorded(db, "gate", 5 * S, 6 * S, "camera unplugged")
    assert [r["reason"] for r in events.not_recorded_between(db, 0, 10 * S, ["gate"])] == ["no motion"]
    assert events.not_recorded_between(db, 0, 10 * S, ["yard"]) == []


def test_retention_destroys_an_event_with_the_last_footage_that_shows_it_and_records_it(db, tmp_path):
    segment(db, tmp_path, "gate", 0, 60 * S)           # old: past max retention
    segment(db, tmp_path, "gate", 60 * S, 120 * S)     # old too
    segment(db, tmp_path, "gate", 40 * DAY, 40 * DAY + 60 * S)  # recent
    old = events.ended(db, "gate", 10 * S, 20 * S, 0.02, b"j", 30 * S)
    across = events.ended(db, "gate", 50 * S, 70 * S, 0.02, b"j", 80 * S)   # shown by both old segments
    recent = events.ended(db, "gate", 40 * DAY + 5 * S, 40 * DAY + 9 * S, 0.02, b"j", 40 * DAY + 20 * S)
    cams = [CameraConfig(id="gate", name="gate", url="synthetic:")]
    args = (db, tmp_path, RetentionConfig(max_retention_us=30 * DAY, min_retention_us=DAY), cams, shutil.disk_usage)
    result = run_pass(*args, clock=FakeClock(45 * DAY))
    assert result.destroyed == 2
    assert [r["id"] for r in rows(db, "motion_events")] == [recent]
    record = audit_rows(db, "events.destroyed")
    assert len(record) == 1 and sorted(json.loads(record[0]["detail"])["ids"]) == sorted([old, across])
