"""A piece of footage has one identity for ever (invariant 11; design/0096): no segment id is
given to two segments over any sequence of recordings and destructions (hypothesis), and the
migration that makes the ids AUTOINCREMENT keeps every existing id and never hands out one a
destruction or an audit record already names."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from storage import audit, layout, segment_rows
from storage.catalog import migrations, open_db

M019 = "m019_ids_never_reused"
S = 1_000_000


def _record(db, cam: str, start_us: int) -> int:
    path = layout.segment_relpath(cam, start_us)
    segment_rows.open_row(db, cam, start_us, path, start_us)
    return next(db.query("SELECT max(id) AS n FROM segment_rows"))["n"]


def _destroy(db, segment_id: int) -> None:
    """What retention does (storage/retention/run.destroy): the record, then the row goes."""
    row = next(db.query("SELECT * FROM segments WHERE id = ?", [segment_id]))
    db.execute("INSERT INTO destructions (segment_id, camera, start_us, end_us, path, reason, destroyed_us, pass_id)"
               " VALUES (?, ?, ?, ?, ?, 'max_retention', 0, 1)",
               [row["id"], row["camera"], row["start_us"], row["end_us"], row["path"]])
    segment_rows.delete(db, segment_id)


def _catalog(folder: Path):
    db = open_db(folder / layout.CATALOG_FILE)
    db.execute("INSERT INTO cameras (id, name, url, enabled) VALUES ('a', 'a', 'synthetic:', 1), "
               "('b', 'b', 'synthetic:', 1)")
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
            live = [r["id"] for r in db.query("SELECT id FROM segment_rows ORDER BY id")]
            if verb == "record":
                clock += 60 * S
                new = _record(db, arg, clock)
                assert new not in given_to, f"id {new} given to {given_to[new]} and to {(arg, clock)}"
                given_to[new] = (arg, clock)
            elif live:
                chosen = {"oldest": live[:1], "newest": live[-1:], "all": live,
                          "kth": [live[int(arg or 0) % len(live)]]}[verb]
                for i in chosen:
                    _destroy(db, i)
        named = {r["segment_id"] for r in db.query("SELECT segment_id FROM destructions")}
        assert named <= set(given_to)
        db.conn.close()


def test_the_migration_keeps_every_id_and_never_reuses_a_destroyed_newest_one(tmp_path):
    """A catalog from before m019: ids 1-5, the newest two destroyed (named by their destruction)
    and id 7 named only by an audit record of a re-stamp. After the migration every row keeps its
    id, the view reads as before, and the next segment is 8, never 4."""
    conn = sqlite3.connect(str(tmp_path / layout.CATALOG_FILE), isolation_level=None)
    import sqlite_utils
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before=M019)
    db.execute("INSERT INTO cameras (id, name, url, enabled) VALUES ('a', 'a', 'synthetic:', 1)")
    for k in range(1, 6):
        _record(db, "a", k * 60 * S)
    _destroy(db, 5)
    _destroy(db, 4)
    audit.append(db, "edged", "segments.restamp", {"first_id": 6, "last_id": 7, "segments": 2, "shift_us": 1})
    before = list(db.query("SELECT * FROM segments ORDER BY id"))
    assert [r["id"] for r in before] == [1, 2, 3]
    # without the migration the next id would be 4: the reuse this migration ends
    assert next(db.query("SELECT max(id) + 1 AS n FROM segment_rows"))["n"] == 4
    conn.close()

    db = open_db(tmp_path / layout.CATALOG_FILE)
    assert M019 in [m.name for m in migrations.applied(db)]
    assert list(db.query("SELECT * FROM segments ORDER BY id")) == before
    assert "AUTOINCREMENT" in next(db.query("SELECT sql FROM sqlite_master WHERE name = 'segment_rows'"))["sql"]
    indexes = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                           "tbl_name = 'segment_rows'")}
    assert {"segment_rows_key", "segment_rows_writing", "segment_rows_path"} <= indexes
    assert _record(db, "a", 100 * 60 * S) == 8
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_motion_event_ids_are_not_reused_either(tmp_path):
    db = _catalog(tmp_path)
    db.execute("INSERT INTO motion_events (camera, start_us, created_us) VALUES ('a', 1, 1)")
    first = next(db.query("SELECT max(id) AS n FROM motion_events"))["n"]
    db.execute("DELETE FROM motion_events")
    db.execute("INSERT INTO motion_events (camera, start_us, created_us) VALUES ('a', 2, 2)")
    assert next(db.query("SELECT max(id) AS n FROM motion_events"))["n"] == first + 1
