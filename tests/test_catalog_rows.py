"""The compact segment rows (design/0054; storage/footage/segment_rows.py, migration m013): a catalog made
by the old schema migrates in place with nothing lost, and the derived paths are the files'."""

import logging
import os
import random
import shutil
import sqlite3
import subprocess

import pytest
import sqlite_utils

from storage import cameras as camera_table
from storage.disk import layout
from storage.footage import segment_rows, segments
from storage.schema.migrations import migrations
from storage.catalog import Catalog, open_db
from storage.footage.segment_rows import COMPLETE, SEGMENT_STATES, WRITING
from storage.disk.hashing import sha256_file
from storage.mp4 import scan_media
from storage.footage.reconcile import reconcile
from storage.schema.segments import _M013_STATES
from tests.support.catalog import add_segments, pragma, rows

S = 1_000_000
T = 1_767_225_599_999_999  # 2025-12-31 23:59:59.999999 UTC: the next segment is in the next day's folder
M013 = "m013_compact_segments"


@pytest.fixture(scope="module")
def fmp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "seg.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20", "-t", "2", "-c:v", "libx264",
         "-g", "20", "-bf", "0", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000",
         str(path)], check=True)
    return path


def old_catalog(data, fmp4):
    """A catalog at m012 (the schema before this change) with the rows the daemon writes: closed
    footage of real files, a row being written, an adopted file filed in the wrong day folder,
    a tampered and a missing row, a test's placeholder hash, a camera no longer configured."""
    db = sqlite_utils.Database(sqlite3.connect(str(data / layout.CATALOG_FILE), isolation_level=None))
    migrations.apply(db, stop_before=M013)
    db["cameras"].insert_all([{"id": c, "name": c, "url": "rtsp://h/s", "enabled": 1} for c in ("gate", "lobby 2")])
    out = []
    for i, (cam, start) in enumerate([("gate", T), ("gate", T + 1), ("lobby 2", T - 59 * S), ("gate", T + 60 * S),
                                      ("lobby 2", 1_700_000_000_000_000), ("gate", 0)]):
        rel = layout.segment_relpath(cam, start)
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fmp4, data / rel)
        info = scan_media(data / rel)
        out.append({"camera": cam, "start_us": start, "end_us": start + info.duration_us, "path": rel,
                    "bytes": os.path.getsize(data / rel), "frames": info.frames, "codec": info.codec,
                    "width": info.width, "height": info.height, "audio": int(info.audio),
                    "sha256": sha256_file(data / rel), "state": COMPLETE if i != 3 else "tampered",
                    "created_us": start + 1234, "closed_us": start + info.duration_us + 300_000,
                    "note": "changed on disk" if i == 3 else None})
    misfiled = f"{layout.VIDEO_DIR}/gate/2025-01-02/20250101T101010.000001Z.mp4"  # the day folder is not its day
    (data / misfiled).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fmp4, data / misfiled)
    out += [
        {"camera": "gate", "start_us": T + 120 * S, "path": layout.segment_relpath("gate", T + 120 * S),
         "state": WRITING, "created_us": T + 120 * S - 5},
        {"camera": "gate", "start_us": 1_735_726_210_000_001, "end_us": 1_735_726_212_000_000, "path": misfiled,
         "bytes": 10, "sha256": sha256_file(data / misfiled).upper(), "state": "recovered", "created_us": 1,
         "closed_us": 2, "note": "adopted: file was not in the catalog"},
        {"camera": "old cam", "start_us": 5 * S, "end_us": 6 * S, "path": "video/old.mp4", "bytes": 1,
         "sha256": "x", "state": "missing", "created_us": 5 * S, "note": "file gone at start-up"},
    ]
    db["segments"].insert_all(out)
    before = rows(db, "segments")
    db.conn.close()
    return before


@pytest.mark.process
def test_m013_migrates_an_old_catalog_in_place_with_nothing_lost(tmp_path, fmp4, caplog):
    before = old_catalog(tmp_path, fmp4)
    assert len(before) == 9 and [r["id"] for r in before] == list(range(1, 10))
    caplog.set_level(logging.INFO, logger="storage.catalog")
    db = open_db(tmp_path / layout.CATALOG_FILE)  # the daemon's own start: migrates, then compacts the file
    # A start that takes minutes on a big site says why, before and after.
    said = [r.getMessage() for r in caplog.records if r.name == "storage.catalog"]
    assert said[:1] and said[0].startswith("catalog: upgrading the segment rows to their compact form")
    assert said[1:] and said[-1].startswith("catalog: segment rows upgraded in ")
    assert M013 in [m.name for m in migrations.applied(db)]
    after = rows(db, "segments")
    assert {r.pop("source") for r in after} == {"live"}  # m022's column (design/0106): every old segment live
    assert {r.pop("intake_us") for r in after} == {None}  # m029's (design/0349): none imported
    # same ids, cameras, times, paths, hashes, states, notes: every column (and m021's `retimed`, unknown)
    assert after == [{**r, "retimed": None} for r in before]
    assert pragma(db.conn, "freelist_count") == 0  # the old table's pages are given back
    # The rows whose path is the derived one store none; the misfiled one keeps its path.
    stored = rows(db, "segment_rows", order="id")
    assert [r["path"] for r in stored if r["path"] is not None] == [before[7]["path"], "video/old.mp4"]
    assert [r["id"] for r in stored if isinstance(r["sha256"], bytes) and len(r["sha256"]) == 32] == [1, 2, 3, 4, 5, 6]
    # Every path finds its row by key, the stored ones too.
    assert [segments.state_of(db, r["path"]) for r in before] == [r["state"] for r in before]
    # The files on disk are exactly the catalog's: reconcile adopts nothing and misses nothing.
    report = reconcile(Catalog(db), tmp_path, before_us=T + 120 * S)
    assert (report.adopted, report.missing, report.quarantined) == ([], [], [])
    db.conn.close()


def test_derived_paths_are_the_recorders_to_the_microsecond(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="storage.catalog")
    db = open_db(tmp_path / layout.CATALOG_FILE)
    assert [r for r in caplog.records if r.name == "storage.catalog"] == []  # a new catalog has nothing to upgrade
    cat = Catalog(db)
    rng = random.Random(7)
    starts = [0, 1, 999_999, 1_000_000, T, T + 1, 86_400 * S - 1, 4_102_444_800 * S - 1] + [
        rng.randrange(0, 4_102_444_800 * S) for _ in range(2000)]  # 1970 to 2100
    for i, start in enumerate(starts):
        segment_rows.open_row(cat.db, f"cam{i % 3}", start, layout.segment_relpath(f"cam{i % 3}", start), start + 10)
    got = rows(db, "segments", order="id")
    assert [r["path"] for r in got] == [layout.segment_relpath(f"cam{i % 3}", s) for i, s in enumerate(starts)]
    assert rows(db, "segment_rows", lambda r: r["path"] is not None) == []
    # reconcile's own derivation (storage/segment_rows.paths_since) agrees too
    camera_table.sync(cat.db, [{"id": f"cam{i}", "name": "c", "url": "u", "enabled": 1} for i in range(3)],
                      cat.clock.now_us())
    assert sorted(segment_rows.known_paths_since(cat.db, 0)) == sorted(r["path"] for r in got)
    db.conn.close()


def test_writes_through_the_view_columns_round_trip(tmp_path):
    db = open_db(tmp_path / layout.CATALOG_FILE)
    cat = Catalog(db)
    camera_table.sync(cat.db, [{"id": "a", "name": "a", "url": "u", "enabled": 1}], cat.clock.now_us())
    rel = layout.segment_relpath("a", T)
    segment_rows.open_row(cat.db, "a", T, rel, T + 40)
    segment_rows.open_row(cat.db, "a", T, rel, T + 99)  # the same path again: nothing
    sha = "ab" * 32
    segment_rows.close(cat.db, rel, {"end_us": T + 60 * S, "bytes": 7, "frames": 3, "codec": "hevc", "width": 2,
                                     "height": 1, "audio": 1, "sha256": sha, "closed_us": T + 61 * S, "retimed": 4})
    (row,) = rows(db, "segments")
    assert row == {"id": 1, "camera": "a", "start_us": T, "end_us": T + 60 * S, "path": rel, "bytes": 7, "frames": 3,
                   "codec": "hevc", "width": 2, "height": 1, "audio": 1, "sha256": sha, "state": COMPLETE,
                   "created_us": T + 40, "closed_us": T + 61 * S, "note": None, "retimed": 4, "source": "live", "intake_us": None}
    assert segments.mark_tampered(db, rel, "x") and not segments.mark_tampered(db, rel, "x")
    segment_rows.strand(cat.db, rel, "gone")  # only a row being written is stranded
    assert segments.state_of(db, rel) == "tampered" and segments.state_of(db, "video/none.mp4") is None
    add_segments(db, [{"camera": "b", "start_us": 3, "path": "elsewhere/b.mp4", "state": WRITING, "created_us": 3}])
    assert [r["path"] for r in segment_rows.in_state(cat.db, WRITING)] == ["elsewhere/b.mp4"]
    looks_derived = layout.segment_relpath("a", T + 5)  # a stored path that is another start's derived one
    add_segments(db, [{"camera": "a", "start_us": 9, "path": looks_derived, "state": COMPLETE, "created_us": 9}])
    assert segments.mark_tampered(db, looks_derived, "y") and segments.state_of(db, looks_derived) == "tampered"
    assert segments.state_of(db, "video/a/2025-02-30/20250230T000000.000000Z.mp4") is None  # no such day
    add_segments(db, [{"camera": "a", "start_us": 11, "path": "video/c.mp4", "state": COMPLETE, "created_us": 11,
                       "sha256": " " + "ab" * 31 + " "}])  # 64 characters, not a hash: kept as it is
    assert rows(db, "segments", lambda r: r["path"] == "video/c.mp4")[0]["sha256"] == " " + "ab" * 31 + " "
    with pytest.raises(ValueError):
        segment_rows.update(db, rel, {"path": "video/other.mp4"})  # a path is never rewritten
    db.conn.close()


def test_the_frozen_state_numbers_are_the_declared_states():
    assert _M013_STATES == SEGMENT_STATES


def test_the_migrations_split_their_scripts_as_sqlite_utils_does(tmp_path, monkeypatch):
    """storage/schema/script.py asks sqlite3.complete_statement only at a `;` (design/0514): the same statements
    as sqlite-utils' own splitter, on every migration's script and on the cases a `;` is not an end (a trigger's
    body, a string, a comment), and a new catalog's schema is the same made either way."""
    from sqlite_utils.db import _iter_complete_sql_statements

    from storage.schema import script, today
    from tests.support.fresh_catalog import _real_open_db  # not a copy of the process's template: made here

    tricky = ["CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET x = ';'; DELETE FROM c; END; SELECT 1 -- ; x\n"
              "; SELECT 2", "  \n ", "SELECT 'a;b' /* ; */ ;;  SELECT 3;\n-- the end"]
    seen: list[str] = []
    monkeypatch.setattr(script, "statements", lambda sql: seen.append(sql) or _iter_complete_sql_statements(sql))
    _real_open_db(tmp_path / "old.db", synced=False).conn.close()
    monkeypatch.undo()
    assert len(seen) >= 10
    for sql in seen + tricky:
        assert list(script.statements(sql)) == list(_iter_complete_sql_statements(sql))
    _real_open_db(tmp_path / "new.db", synced=False).conn.close()
    old, new = (_real_open_db(tmp_path / name) for name in ("old.db", "new.db"))
    assert today.sql(old) == today.sql(new)   # docs/ref/catalog-schema.md's text: every table, index and view
    old.conn.close()
    new.conn.close()


def test_no_sqlite_utils_plugin_runs_on_the_catalog(tmp_path, monkeypatch):
    """No installed package's sqlite-utils plugin is looked for or run on edged's connections (design/0514): the
    scan of every package's entry points was 0.04 s of each daemon's start, and a plugin's code has no business on
    an evidence catalog."""
    import sqlite_utils.db

    from storage.readonly import open_readonly
    from tests.support.fresh_catalog import _real_open_db

    def refused(*_a, **_k):
        raise AssertionError("sqlite-utils' plugins were loaded")

    monkeypatch.setattr(sqlite_utils.db, "ensure_plugins_loaded", refused)
    _real_open_db(tmp_path / "catalog.db").conn.close()
    open_readonly(tmp_path / "catalog.db").conn.close()
