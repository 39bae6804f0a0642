"""A piece of footage has one identity for ever (invariant 11; design/0096): no segment id is
given to two segments over any sequence of recordings and destructions (hypothesis), and the
migration that makes the ids AUTOINCREMENT keeps every existing id and never hands out one a
destruction or an audit record already names."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import sqlite_utils
from hypothesis import given, settings, strategies as st

from storage.retention.plan import MAX_RETENTION, Destroy, Segment

from storage import audit, cameras as camera_table
from storage.disk import layout
from storage.footage import segment_rows
from storage.schema.migrations import migrations
from storage.catalog import open_db
from storage.retention.run import destroy
from tests.support.catalog import delete_all, index_names, insert_row, integrity, rows, schema_sql

M019 = "m019_ids_never_reused"
S = 1_000_000


def _record(db, cam: str, start_us: int) -> int:
    path = layout.segment_relpath(cam, start_us)
    segment_rows.open_row(db, cam, start_us, path, start_us)
    return max(r["id"] for r in rows(db, "segment_rows"))


def _destroy(db, folder: Path, ids: list[int]) -> None:
    """Retention's own destruction (storage/retention/run.destroy): the record, then the row goes."""
    segs = [Segment(r["id"], r["camera"], r["start_us"], r["start_us"], 0) for r in rows(db, "segments")
            if r["id"] in ids]
    destroy(db, folder, [Destroy(s, MAX_RETENTION) for s in segs], pass_id=1)


def _catalog(folder: Path):
    db = open_db(folder / layout.CATALOG_FILE)
    camera_table.sync(db, [{"id": c, "name": c, "url": "", "enabled": 1} for c in "ab"], 0)
    return db


# A step: record on a camera, or destroy the oldest / newest / k-th live segment (newest first is
# what reused ids in the field: every segment destroyed, then ids 1, 2, 3 again).
steps = st.lists(st.one_of(st.tuples(st.just("record"), st.sampled_from("ab")),
                           st.tuples(st.sampled_from(["oldest", "newest", "all"]), st.just("")),
                           st.tuples(st.just("kth"), st.integers(0, 20).map(str))), max_size=60)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_no_segment_id_is_ever_given_to_two_segments(sequence):
    with tempfile.TemporaryDirectory() as tmp:
        db = _catalog(Path(tmp))
        given_to: dict[int, tuple[str, int]] = {}
        clock = 0
        for verb, arg in sequence:
            live = sorted(r["id"] for r in rows(db, "segment_rows"))
            if verb == "record":
                clock += 60 * S
                new = _record(db, arg, clock)
                assert new not in given_to, f"id {new} given to {given_to[new]} and to {(arg, clock)}"
                given_to[new] = (arg, clock)
            elif live:
                chosen = {"oldest": live[:1], "newest": live[-1:], "all": live,
                          "kth": [live[int(arg or 0) % len(live)]]}[verb]
                _destroy(db, Path(tmp), chosen)
        named = {r["segment_id"] for r in rows(db, "destructions")}
        assert named <= set(given_to)
        db.conn.close()


def test_the_migration_keeps_every_id_and_never_reuses_a_destroyed_newest_one(tmp_path):
    """A catalog from before m019: ids 1-5, the newest two destroyed (named by their destruction)
    and id 7 named only by an audit record of a re-stamp. After the migration every row keeps its
    id, the view reads as before, and the next segment is 8, never 4."""
    conn = sqlite3.connect(str(tmp_path / layout.CATALOG_FILE), isolation_level=None)
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before=M019)
    camera_table.sync(db, [{"id": "a", "name": "a", "url": "", "enabled": 1}], 0)
    for k in range(1, 6):
        _record(db, "a", k * 60 * S)
    _destroy(db, tmp_path, [5])
    _destroy(db, tmp_path, [4])
    audit.append(db, "edged", "segments.restamp", {"first_id": 6, "last_id": 7, "segments": 2, "shift_us": 1})
    before = rows(db, "segments", order="id")
    assert [r["id"] for r in before] == [1, 2, 3]
    # without the migration the next id would be 4: the reuse this migration ends
    assert "AUTOINCREMENT" not in (schema_sql(db, "segment_rows") or "")
    conn.close()

    db = open_db(tmp_path / layout.CATALOG_FILE)
    assert M019 in [m.name for m in migrations.applied(db)]
    after = rows(db, "segments", order="id")   # later migrations add `retimed` (m021), `source` (m022), `intake_us` (m029)
    assert [{k: v for k, v in r.items() if k not in ("retimed", "source", "intake_us")} for r in after] == before
    assert "AUTOINCREMENT" in (schema_sql(db, "segment_rows") or "")
    assert {"segment_rows_key", "segment_rows_writing", "segment_rows_path"} <= index_names(db, "segment_rows")
    assert _record(db, "a", 100 * 60 * S) == 8
    assert integrity(db) == "ok"


def test_motion_event_ids_are_not_reused_either(tmp_path):
    db = _catalog(tmp_path)
    insert_row(db, "motion_events", {"camera": "a", "start_us": 1, "created_us": 1})
    first = max(r["id"] for r in rows(db, "motion_events"))
    delete_all(db, "motion_events")
    insert_row(db, "motion_events", {"camera": "a", "start_us": 2, "created_us": 2})
    assert max(r["id"] for r in rows(db, "motion_events")) == first + 1
