"""Start-up reconciliation on a real catalog and real files (docs/requirements.md, invariant 3)."""

import json
import os
import shutil
import subprocess
import time

import pytest

from storage import audit, cameras as camera_table
from storage.disk import layout
from storage.footage import restamps, segment_rows
from storage.catalog import Catalog, open_db
from storage.footage.segment_rows import WRITING
from storage.time.clock import SYSTEM
from storage.disk.hashing import sha256_file
from storage.footage.reconcile import TAIL_US, Report, adopt_later, reconcile
from storage.footage.recovery_record import RECOVERY
from storage.mp4 import header_only
from tests.support.catalog import audit_rows, rows

pytestmark = pytest.mark.process  # ffmpeg makes the fragmented MP4 every test recovers (design/0473)

S = 1_000_000


@pytest.fixture(scope="module")
def fmp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "seg.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20", "-t", "5", "-c:v", "libx264",
         "-g", "20", "-bf", "0", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000",
         str(path)], check=True)
    return path


def place(data, src, camera, start_us, keep=1.0):
    rel = layout.segment_relpath(camera, start_us)
    dest = data / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    os.truncate(dest, int(os.path.getsize(src) * keep))
    return rel


def test_reconcile_recovers_adopts_quarantines_and_marks_missing(tmp_path, fmp4):
    data = tmp_path
    cat = Catalog(open_db(data / layout.CATALOG_FILE))
    camera_table.sync(cat.db, [{"id": "cam", "name": "cam", "url": "rtsp://h/x", "enabled": 1}], cat.clock.now_us())
    now = SYSTEM.now_us()
    t = now - 600 * S

    crashed = place(data, fmp4, "cam", t, keep=0.6)             # left `writing` by a crash
    segment_rows.open_row(cat.db, "cam", t, crashed, t)
    empty = place(data, fmp4, "cam", t + 10 * S, keep=0.01)     # `writing`, nothing whole in it
    segment_rows.open_row(cat.db, "cam", t + 10 * S, empty, t)
    never = layout.segment_relpath("cam", t + 20 * S)           # `writing`, file never created
    segment_rows.open_row(cat.db, "cam", t + 20 * S, never, t)
    gone = place(data, fmp4, "cam", t + 30 * S)                 # complete, then deleted behind our back
    segment_rows.open_row(cat.db, "cam", t + 30 * S, gone, t)
    segment_rows.close(cat.db, gone, {"end_us": t + 35 * S, "sha256": "x"})
    os.unlink(data / gone)
    orphan = place(data, fmp4, "cam", t + 40 * S)               # on disk, unknown to the catalog
    stray = (data / orphan).parent / "notes.txt"
    stray.write_text("not footage")
    old = place(data, fmp4, "cam", now - TAIL_US - 5 * 86_400 * S)  # orphan far outside the tail

    report = reconcile(cat, data)

    by_path = {r["path"]: r for r in rows(cat.db, "segments")}
    assert report.recovered == [crashed]
    rec = by_path[crashed]
    assert rec["state"] == "recovered" and rec["sha256"] == sha256_file(data / crashed)
    assert t + 2 * S <= rec["end_us"] < t + 5 * S and rec["frames"] % 20 == 0
    assert by_path[empty]["state"] == "quarantined" and (data / "quarantine" / empty).exists()
    assert by_path[never]["state"] == "missing" and by_path[gone]["state"] == "missing"
    assert report.adopted == [orphan] and by_path[orphan]["state"] == "recovered"
    assert by_path[orphan]["end_us"] == t + 45 * S and by_path[orphan]["sha256"] == sha256_file(data / orphan)
    assert (data / "quarantine" / stray.relative_to(data)).exists() and not stray.exists()
    assert old not in by_path and (data / old).exists(), "history beyond the tail is not scanned"
    assert not rows(cat.db, "segments", lambda r: r["state"] == WRITING)
    # Each step that cut back, quarantined or adopted is on the audit chain: what, how much, why (issue 40).
    recs = [json.loads(r["detail"]) for r in audit_rows(cat.db, RECOVERY)]
    assert [r["by_how"] for r in recs] == [{"truncated": 1, "quarantined": 1}, {"adopted": 1, "quarantined": 1}]
    cut = next(i for i in recs[0]["items"] if i["path"] == crashed)
    assert cut["cut_bytes"] > 0 and cut["bytes"] == (data / crashed).stat().st_size
    assert recs[0]["cut_bytes"] == cut["cut_bytes"] and "power cut" in recs[0]["why"]
    assert next(i for i in recs[0]["items"] if i["path"] == empty)["to"] == f"quarantine/{empty}"
    assert audit.verify(cat.db) == (2, None), "the chain stays intact"
    # A second pass finds nothing more to do.
    again = reconcile(cat, data)
    assert (again.recovered, again.adopted, again.quarantined) == ([], [], [])
    assert len(audit_rows(cat.db, RECOVERY)) == 2, "and records nothing"


def test_a_cut_during_recovery_leaves_it_on_the_record_or_not_done(tmp_path, fmp4, monkeypatch):
    """The record is written in the transaction that changes the rows: a crash between them
    (simulated: the record's write fails, as a process killed there would never commit) leaves the
    segment `writing`, to be recovered and recorded by the next start. LazyFS is not in this suite;
    the catalog's transactions are SQLite's own (fsync at commit)."""
    data = tmp_path
    cat = Catalog(open_db(data / layout.CATALOG_FILE))
    camera_table.sync(cat.db, [{"id": "cam", "name": "cam", "url": "rtsp://h/x", "enabled": 1}], cat.clock.now_us())
    t = SYSTEM.now_us() - 600 * S
    crashed = place(data, fmp4, "cam", t, keep=0.6)
    segment_rows.open_row(cat.db, "cam", t, crashed, t)

    def cut(*_a, **_k):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(audit, "append", cut)
    with pytest.raises(KeyboardInterrupt):
        reconcile(cat, data)
    assert rows(cat.db, "segments")[0]["state"] == WRITING and not audit_rows(cat.db, RECOVERY)
    monkeypatch.undo()
    report = reconcile(cat, data)
    assert report.recovered == [crashed] and len(audit_rows(cat.db, RECOVERY)) == 1


def test_cataloged_files_early_in_the_first_tail_day_are_left_alone(tmp_path, fmp4):
    """Regression: the tail starts mid-day; files of that day before it are known, not orphans."""
    import calendar

    data = tmp_path
    cat = Catalog(open_db(data / layout.CATALOG_FILE))
    camera_table.sync(cat.db, [{"id": "cam", "name": "cam", "url": "rtsp://h/x", "enabled": 1}], cat.clock.now_us())
    now = SYSTEM.now_us()
    first_day = time.strftime("%Y-%m-%d", time.gmtime((now - TAIL_US) / 1e6))
    early = (calendar.timegm(time.strptime(first_day, "%Y-%m-%d")) + 1) * S  # 00:00:01 of that day
    for start in (early, now - 60 * S):
        rel = place(data, fmp4, "cam", start)
        segment_rows.open_row(cat.db, "cam", start, rel, start)
        segment_rows.close(cat.db, rel, {"end_us": start + 5 * S, "sha256": sha256_file(data / rel)})
    report = reconcile(cat, data)
    assert (report.adopted, report.quarantined, report.missing) == ([], [], [])


def test_a_file_the_media_parser_dies_on_is_kept_in_quarantine_and_the_daemon_lives_on(tmp_path, fmp4, monkeypatch):
    """design/0063: the parser runs in a process of its own; its crash (here SIGSEGV, by the
    test hook of storage/mp4.py) is a finding about the file, not the end of the caller."""
    data = tmp_path
    cat = Catalog(open_db(data / layout.CATALOG_FILE))
    camera_table.sync(cat.db, [{"id": "cam", "name": "cam", "url": "rtsp://h/x", "enabled": 1}], cat.clock.now_us())
    t = SYSTEM.now_us() - 600 * S
    fine = place(data, fmp4, "cam", t, keep=0.6)
    segment_rows.open_row(cat.db, "cam", t, fine, t)
    deadly = place(data, fmp4, "cam", t + 10 * S, keep=0.6)
    segment_rows.open_row(cat.db, "cam", t + 10 * S, deadly, t)
    monkeypatch.setenv("EDGED_TEST_CRASH_SCAN", os.path.basename(deadly))

    report = reconcile(cat, data)

    by_path = {r["path"]: r for r in rows(cat.db, "segments")}
    assert report.recovered == [fine] and by_path[fine]["state"] == "recovered"
    assert report.quarantined == [deadly] and by_path[deadly]["state"] == "quarantined"
    assert (data / "quarantine" / deadly).exists(), "the file is kept"


def test_after_a_step_back_across_a_restart_the_last_runs_leftovers_stamped_after_the_start_are_recovered(
        tmp_path, fmp4):
    """design/0059: the clock went back an hour while edged was down, so the last run's open
    segment and the file it never catalogued are stamped after this run's start. They are the
    last run's (their ids are older than the run; nobody holds the file open) and are recovered
    and adopted; the new run's own (a row above the id, a file a worker holds open before its
    `open` reached the catalog, a file whose `open` reaches the catalog before the files put
    off are judged) are left alone. The old reconciliation skipped both by stamp."""
    data = tmp_path
    cat = Catalog(open_db(data / layout.CATALOG_FILE))
    camera_table.sync(cat.db, [{"id": "cam", "name": "cam", "url": "rtsp://h/x", "enabled": 1}], cat.clock.now_us())
    started = SYSTEM.now_us() - 3600 * S             # this run's start, on a clock an hour behind
    crashed = place(data, fmp4, "cam", started + 600 * S, keep=0.6)   # the last run's, left `writing`
    segment_rows.open_row(cat.db, "cam", started + 600 * S, crashed, started)
    orphan = place(data, fmp4, "cam", started + 700 * S)             # the last run's, never catalogued
    before_id = restamps.newest_id(cat.db)
    mine = place(data, fmp4, "cam", started + 5 * S)                  # the new run's, being written
    segment_rows.open_row(cat.db, "cam", started + 5 * S, mine, started)
    writing = place(data, fmp4, "cam", started + 15 * S)              # the new run's, `open` not in yet
    piped = place(data, fmp4, "cam", started + 25 * S)   # the new run's, closed, its `open` in a worker's pipe
    with open(data / writing, "ab"):                                  # a worker holds it open
        report = reconcile(cat, data, before_us=started, before_id=before_id)
        assert report.recovered == [crashed] and report.adopted == [] and sorted(report.later) == sorted([orphan, piped])
        segment_rows.open_row(cat.db, "cam", started + 25 * S, piped, started)       # the pipe is read: its row arrives
        later = adopt_later(cat, data, report.later, Report())
    by_path = {r["path"]: r for r in rows(cat.db, "segments")}
    assert by_path[crashed]["state"] == "recovered"
    assert later.adopted == [orphan] and by_path[orphan]["state"] == "recovered"
    assert by_path[mine]["state"] == WRITING and by_path[piped]["state"] == WRITING and writing not in by_path
    assert report.missing == [] and report.quarantined == [] and later.quarantined == []


def test_a_segments_header_alone_is_removed_on_the_record_not_quarantined(tmp_path, fmp4):
    """Issue 79: a kill just after a segment boundary leaves each camera's new file with its header
    alone (ftyp and moov, ~1 KB, no byte of a picture). Recovery removes it and the record says so
    (its size and SHA-256), the row is not footage; a file with some of a fragment is still kept
    in quarantine/."""
    data = tmp_path
    cat = Catalog(open_db(data / layout.CATALOG_FILE))
    camera_table.sync(cat.db, [{"id": c, "name": c, "url": "rtsp://h/x", "enabled": 1} for c in ("a", "b")],
                      cat.clock.now_us())
    t = SYSTEM.now_us() - 600 * S
    header = _header_size(fmp4)
    bare = place(data, fmp4, "a", t, keep=header / os.path.getsize(fmp4))     # `writing`: its header alone
    os.truncate(data / bare, header)
    segment_rows.open_row(cat.db, "a", t, bare, t)
    orphan = place(data, fmp4, "b", t, keep=1.0)                                 # unknown, its header alone
    os.truncate(data / orphan, header)
    partial = place(data, fmp4, "b", t + 10 * S)                                 # some of a fragment: kept
    os.truncate(data / partial, header + 100)
    segment_rows.open_row(cat.db, "b", t + 10 * S, partial, t)
    assert header_only(data / bare) and header_only(data / orphan) and not header_only(data / partial)
    digest = sha256_file(data / bare)

    report = reconcile(cat, data)

    assert sorted(report.removed) == sorted([bare, orphan]) and report.quarantined == [partial]
    assert not (data / bare).exists() and not (data / orphan).exists()
    assert not (data / "quarantine" / bare).exists() and not (data / "quarantine" / orphan).exists()
    assert (data / "quarantine" / partial).exists()
    by_path = {r["path"]: r for r in rows(cat.db, "segments")}
    assert by_path[bare]["state"] == "quarantined" and "header" in by_path[bare]["note"]
    assert orphan not in by_path
    recs = [json.loads(r["detail"]) for r in audit_rows(cat.db, RECOVERY)]
    items = [i for r in recs for i in r["items"]]
    gone = next(i for i in items if i["path"] == bare)
    assert gone["how"] == "removed" and gone["bytes"] == header and gone["sha256"] == digest
    assert next(i for i in items if i["path"] == orphan)["how"] == "removed"
    assert sum(r["removed_bytes"] for r in recs) == 2 * header
    assert audit.verify(cat.db)[1] is None


def _header_size(path) -> int:
    """The bytes of an fMP4's ftyp and moov (its first moof starts after them)."""
    data = path.read_bytes()
    at = 0
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        if kind == b"moof":
            return at
        at += size
    raise AssertionError("no fragment")
