"""The tamper watcher (R1.6) on real files with a real inotify watch.

"Nothing was reported" is checked with a sentinel: after the action under test, another
segment is deleted and that report awaited; inotify events arrive in order, so anything the
action had caused would have been reported first.
"""

import os
import shutil
import threading
import time

import pytest

from storage.disk import layout
from storage.footage import inotify_reader, tamper
from storage.time.clock import FakeClock
from storage.disk.fsutil import fsync_file
from storage.disk.hashing import sha256_file
from storage.footage.tamper import DELETED, MODIFIED, MOVED, Tamper, TamperWatcher

S = 1_000_000
T0 = 1_795_220_555_123_456  # 2026-11-21T00:22:35.123456Z
DEADLINE_S = 5.0            # R1.6: reported within 5 s


def wait_for(cond, timeout=DEADLINE_S, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()


class Rig:
    """A data folder with segments, a running watcher and what it reported."""

    def __init__(self, data):
        self.data = data
        self.ours: set[str] = set()
        self.reports: list[Tamper] = []
        self._lock = threading.Lock()
        self.segs = [self._make("cam1", i) for i in range(4)]
        self.spare = self._make("cam2", 0)  # the sentinel, in another folder
        self.clock = FakeClock(T0 + 3600 * S)
        self.watcher = TamperWatcher(data, self._on_tamper, lambda rel, kind: rel in self.ours, self.clock)

    def _make(self, camera, i):
        rel = layout.segment_relpath(camera, T0 + i * 60 * S)
        path = self.data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 1234)
        return rel

    def _on_tamper(self, t):
        with self._lock:
            self.reports.append(t)

    def about(self, rel):
        with self._lock:
            return [t for t in self.reports if t.relpath == rel]

    def await_report(self, rel, kind):
        assert wait_for(lambda: any(t.kind == kind for t in self.about(rel))), (rel, kind, self.reports)
        return next(t for t in self.about(rel) if t.kind == kind)

    def sentinel(self):
        """Delete the spare segment and wait for its report: everything before it has been seen."""
        os.unlink(self.data / self.spare)
        self.await_report(self.spare, DELETED)


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    r.watcher.start()
    yield r
    r.watcher.stop()


def test_deletion_is_reported(rig):
    rel = rig.segs[0]
    rig.clock.advance(s=7)
    os.unlink(rig.data / rel)
    t = rig.await_report(rel, DELETED)
    assert t.at_us == T0 + 3607 * S, "stamped with the watcher's clock when it saw the deletion"
    assert len(rig.about(rel)) == 1


def test_truncation_is_reported_as_modified(rig):
    rel = rig.segs[0]
    os.truncate(rig.data / rel, 0)
    t = rig.await_report(rel, MODIFIED)
    assert t.detail.endswith("0")


def test_append_is_reported_once_per_burst(rig):
    rel = rig.segs[0]
    with open(rig.data / rel, "ab") as f:
        for _ in range(5):
            f.write(b"x" * 100)
            f.flush()
    rig.await_report(rel, MODIFIED)
    rig.sentinel()
    assert [t.kind for t in rig.about(rel)] == [MODIFIED], rig.about(rel)


def test_size_change_of_a_known_size_is_in_the_detail(rig):
    rel = rig.segs[0]
    rig.ours.add(rel)  # edged finishes writing it: its size is learned at close
    with open(rig.data / rel, "ab") as f:
        f.write(b"x" * 766)
    rig.sentinel()
    rig.ours.discard(rel)
    assert rig.about(rel) == []
    os.truncate(rig.data / rel, 0)
    assert rig.await_report(rel, MODIFIED).detail == "size 2000 -> 0"


def test_rename_within_the_video_folder_is_reported(rig):
    rel = rig.segs[0]
    new = str(rig.data / rel).replace(".mp4", "-x.mp4")
    os.rename(rig.data / rel, new)
    t = rig.await_report(rel, MOVED)
    assert t.detail == f"moved to {os.path.relpath(new, rig.data)}"


def test_move_out_and_move_in_are_reported(rig, tmp_path_factory):
    out, arriving = rig.segs[0], layout.segment_relpath("cam1", T0 - 60 * S)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    os.rename(rig.data / out, elsewhere / "taken.mp4")
    (elsewhere / "forged.mp4").write_bytes(b"forged")
    os.rename(elsewhere / "forged.mp4", rig.data / arriving)
    assert rig.await_report(out, MOVED).detail == "moved to outside video/"
    assert rig.await_report(arriving, MOVED).detail == "a file moved in from outside video/"


def test_renaming_onto_another_segment_reports_both(rig):
    a, b = rig.segs[0], rig.segs[1]
    os.replace(rig.data / a, rig.data / b)
    assert rig.await_report(a, MOVED).detail == f"moved to {b}"
    rig.await_report(b, MOVED)


def test_deleted_folder_is_one_report(rig):
    day = os.path.dirname(rig.segs[0])
    shutil.rmtree(rig.data / day)  # unlinks each file, then removes the folder
    t = rig.await_report(day, DELETED)
    assert t.detail == "folder deleted" and len(rig.about(day)) == 1
    assert all(rig.about(rel)[0].kind == DELETED for rel in rig.segs)


def test_moved_folder_is_one_report(rig):
    day = os.path.dirname(rig.segs[0])
    os.rename(rig.data / day, rig.data / "video" / "cam1" / "old")
    t = rig.await_report(day, MOVED)
    assert t.detail == "folder moved to video/cam1/old"
    rig.sentinel()
    assert [x.relpath for x in rig.reports if x.relpath.endswith(".mp4")] == [rig.spare]


def test_expected_changes_are_not_reported(rig, tmp_path_factory):
    gone, cut, moved = rig.segs[0], rig.segs[1], rig.segs[2]
    rig.watcher.expect(gone, DELETED)        # the retention engine
    rig.watcher.expect(cut, MODIFIED)        # crash recovery
    rig.watcher.expect(moved, MOVED)         # quarantine
    os.unlink(rig.data / gone)
    with open(rig.data / cut, "r+b") as f:   # a burst: write, truncate, close
        f.write(b"ftyp")
        f.truncate(100)
    os.rename(rig.data / moved, tmp_path_factory.mktemp("quarantine") / "q.mp4")
    rig.sentinel()
    # (a move out waits about 0.5 s for its other half, but events stay in order behind it)
    assert rig.about(gone) == rig.about(cut) == rig.about(moved) == [], rig.reports


def test_an_expectation_is_consumed(rig, monkeypatch):
    monkeypatch.setattr(tamper, "DEBOUNCE_S", 0.0)  # no burst window: each change stands alone
    rel = rig.segs[0]
    rig.watcher.expect(rel, MODIFIED)
    os.truncate(rig.data / rel, 10)
    rig.sentinel()
    assert rig.about(rel) == []
    os.truncate(rig.data / rel, 0)
    rig.await_report(rel, MODIFIED)


def test_an_expired_expectation_does_not_hide_a_change(rig):
    rel = rig.segs[0]
    rig.watcher.expect(rel, DELETED, ttl_s=0)
    os.unlink(rig.data / rel)
    rig.await_report(rel, DELETED)


def drained(r):
    """A made file's check that only the checks' thread can report (its folder never was): all before it are done."""
    rel = layout.segment_relpath("nowhere", T0 + len(r.reports) * S)
    r.watcher.check_made(rel)
    r.await_report(rel, DELETED)


def test_made_files_deleted_before_the_watch_are_reported_once_it_is_up(tmp_path):
    """The daemon's first seconds (design/0507): the recorder's files, deleted before the walk reached their
    folder, raised no event; each is checked once its folder is watched, and reported as the watch would."""
    r = Rig(tmp_path)
    made, kept, ours = layout.segment_relpath("cam1", T0 + 3600 * S), r.segs[0], r.segs[1]
    (r.data / made).write_bytes(b"footage")
    for rel in (made, kept, ours):
        r.watcher.check_made(rel)        # told before the watch is up: they wait for it
    os.unlink(r.data / made)             # a person
    r.watcher.expect(ours, DELETED)      # the retention engine, announced
    os.unlink(r.data / ours)
    r.watcher.start()
    try:
        assert "found missing" in r.await_report(made, DELETED).detail
        drained(r)
        assert len(r.about(made)) == 1 and r.about(ours) == r.about(kept) == [], r.reports
        os.unlink(r.data / kept)         # once checked, its deletion is the watch's
        assert r.await_report(kept, DELETED).detail == "deleted"
    finally:
        r.watcher.stop()


def test_a_made_file_deleted_as_its_check_runs_is_reported_once(rig):
    rel = rig.segs[0]
    os.unlink(rig.data / rel)            # the watch sees it, and the check finds it gone: one report
    rig.watcher.check_made(rel)
    rig.await_report(rel, DELETED)
    rig.sentinel()
    drained(rig)
    assert len(rig.about(rel)) == 1, rig.reports


def test_a_new_folders_first_file_deleted_at_once_is_reported(rig):
    """A new day folder's watch comes once its IN_CREATE is read (up to LINGER_S later): a file made and deleted
    before that raised no event; its check waits for the folder's watch, then finds it gone."""
    rel = layout.segment_relpath("cam3", T0)
    (rig.data / rel).parent.mkdir(parents=True)
    (rig.data / rel).write_bytes(b"footage")
    os.unlink(rig.data / rel)
    rig.watcher.check_made(rel)
    rig.await_report(rel, DELETED)
    drained(rig)
    assert len(rig.about(rel)) == 1, rig.reports


def test_a_made_file_in_a_folder_moved_away_is_the_folders_report_alone(rig, tmp_path_factory):
    folder = (rig.data / rig.segs[0]).parent
    os.rename(folder, tmp_path_factory.mktemp("elsewhere") / "day")
    rig.await_report(folder.relative_to(rig.data).as_posix(), MOVED)
    rig.watcher.check_made(rig.segs[0])
    drained(rig)
    assert rig.about(rig.segs[0]) == [], rig.reports


def test_a_folder_never_watched_is_waited_for_once_and_its_files_checked_anyway(rig, monkeypatch):
    """watchdog skips a folder past the inotify limit: its files' checks do not each wait WATCHED_WAIT_S."""
    waits = []
    monkeypatch.setattr(inotify_reader.LingeringFD, "wait_watched", lambda self, folder, *a: waits.append(folder) and False)
    gone = [layout.segment_relpath("cam1", T0 + i * S) for i in (7, 8)]  # in a folder the mock says is not watched
    for rel in gone:
        rig.watcher.check_made(rel)
    for rel in gone:
        assert "found missing" in rig.await_report(rel, DELETED).detail
    assert waits == [rig.data / "video" / "cam1" / layout.segment_relpath("cam1", T0).split("/")[2]], waits


def test_our_writes_and_new_files_are_not_reported(rig):
    writing, new = rig.segs[0], layout.segment_relpath("cam1", T0 + 3600 * S)
    rig.ours.update({writing, new})
    with open(rig.data / writing, "ab") as f:
        f.write(b"more footage")
    fd = os.open(rig.data / new, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o640)  # as the segmenter does
    os.close(fd)
    (rig.data / new).write_bytes(b"fresh footage")
    rig.sentinel()
    assert rig.about(writing) == rig.about(new) == [], rig.reports


def test_a_stranger_writing_a_new_segment_is_reported(rig):
    planted = layout.segment_relpath("cam1", T0 + 3600 * S)
    (rig.data / planted).write_bytes(b"planted")
    rig.await_report(planted, MODIFIED)


def test_reading_reports_nothing(rig):
    rel = rig.segs[0]
    with open(rig.data / rel, "rb") as f:
        f.read()
    sha256_file(rig.data / rel)
    fsync_file(rig.data / rel)
    rig.sentinel()
    assert rig.about(rel) == [], rig.reports


def test_other_files_are_ignored(rig):
    notes = rig.data / "video" / "cam1" / "notes.txt"
    notes.write_text("x")
    notes.unlink()
    (rig.data / "catalog.db").write_bytes(b"x")
    rig.sentinel()
    assert [t.relpath for t in rig.reports] == [rig.spare]


def test_a_failing_callback_does_not_stop_the_watcher(tmp_path):
    seen = []

    def on_tamper(t):
        seen.append(t)
        if len(seen) == 1:
            raise RuntimeError("boom")

    def is_ours(rel, kind):
        if rel.endswith(".mp4") and kind == DELETED and not seen:
            raise RuntimeError("catalog unavailable")  # treated as not ours: reported
        return False

    r = Rig(tmp_path)
    w = TamperWatcher(tmp_path, on_tamper, is_ours)
    w.start()
    try:
        os.unlink(tmp_path / r.segs[0])
        assert wait_for(lambda: len(seen) == 1)
        os.unlink(tmp_path / r.segs[1])
        assert wait_for(lambda: len(seen) == 2)
        assert [t.relpath for t in seen] == r.segs[:2]
    finally:
        w.stop()


def test_start_creates_the_video_folder_and_stop_stops(tmp_path):
    seen = []
    w = TamperWatcher(tmp_path / "data", seen.append, lambda rel, kind: False)
    w.start()
    assert (tmp_path / "data" / "video").is_dir()
    assert w.running
    rel = "video/planted.mp4"  # in the watched root: a new subfolder's watch comes a moment after it
    (tmp_path / "data" / rel).write_bytes(b"x")
    assert wait_for(lambda: [t.relpath for t in seen] == [rel])
    w.stop()
    assert not w.running
    os.unlink(tmp_path / "data" / rel)  # the watch threads are joined: nothing can report this
    assert [t.relpath for t in seen] == [rel]
    w.stop()  # idempotent


def test_a_truncation_amid_our_fragment_writes_is_reported_and_the_writes_read_in_batches(rig, monkeypatch):
    """A recording box raises an IN_MODIFY for every fragment each camera writes; they are read at
    most every LINGER_S (design/0301: one at a time they cost ~10x the CPU), and a stranger's
    truncation among them is still reported within R1.6's deadline."""
    reads = []
    real = inotify_reader.InotifyFD._read_event_buffer
    monkeypatch.setattr(inotify_reader.InotifyFD, "_read_event_buffer",
                        lambda self, size: reads.append(time.monotonic()) or real(self, size))
    writing = [layout.segment_relpath(f"cam{c}", T0 + 600 * S) for c in range(3, 11)]
    for rel in writing:
        (rig.data / rel).parent.mkdir(parents=True, exist_ok=True)
        rig.ours.add(rel)
    fds = [os.open(rig.data / rel, os.O_WRONLY | os.O_CREAT, 0o600) for rel in writing]
    try:
        began = time.monotonic()
        for k in range(16):  # two seconds of eight cameras' fragments, 8 a second each
            for fd in fds:
                os.write(fd, b"\1" * 100)
                time.sleep(1 / 64)
            if k == 8:
                os.truncate(rig.data / rig.segs[0], 0)
                truncated = time.monotonic()
        report = rig.await_report(rig.segs[0], MODIFIED)
        assert report.detail.endswith("0") and time.monotonic() - truncated < DEADLINE_S
        rig.sentinel()
    finally:
        for fd in fds:
            os.close(fd)
    during = [t for t in reads if began <= t <= began + 2]
    # 128 writes in two seconds: read in a handful of batches, not one read each
    assert 1 <= len(during) <= 2 / 0.5 + 2, len(during)  # LINGER_S 0.5
    assert not [t for t in rig.reports if t.relpath in writing], rig.reports


def _handled(monkeypatch):
    """The events that reach the watcher's handler (past watchdog's hand-offs), as they come."""
    seen = []
    real = tamper.TamperWatcher._handle
    monkeypatch.setattr(tamper.TamperWatcher, "_handle", lambda self, event: seen.append(event) or real(self, event))
    return seen


def test_our_fragment_writes_are_dropped_as_read_and_a_strangers_change_is_still_reported(rig, monkeypatch):
    """A segment edged is writing raises an IN_MODIFY a fragment; nothing comes of them, so they are dropped
    by the inotify reader before watchdog's hand-offs (design/0535). Its close still reaches the handler (a
    closed segment's size is remembered), as do a stranger's change and an announced change of one."""
    seen = _handled(monkeypatch)
    writing = layout.segment_relpath("cam1", T0 + 600 * S)
    rig.ours.add(writing)
    fd = os.open(rig.data / writing, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(20):
            os.write(fd, b"\1" * 100)
    finally:
        os.close(fd)
    announced = rig.segs[1]
    rig.ours.add(announced)                      # ours, and a change of it announced: handled, and consumed
    rig.watcher.expect(announced, MODIFIED)
    os.truncate(rig.data / announced, 10)
    os.truncate(rig.data / rig.segs[0], 0)       # a stranger's
    assert rig.await_report(rig.segs[0], MODIFIED).detail.endswith("0")
    rig.sentinel()
    mine = [type(e).__name__ for e in seen if e.src_path.endswith(writing)]
    assert mine == ["FileClosedEvent"], mine
    assert any(e.src_path.endswith(announced) and isinstance(e, tamper.FileModifiedEvent) for e in seen), seen
    assert not rig.watcher._expected, rig.watcher._expected
    assert rig.about(writing) == rig.about(announced) == [], rig.reports


def test_once_a_folder_moved_every_modification_reaches_the_handler(rig, monkeypatch):
    """A moved folder's watch keeps its descriptor under a new path, which the reader does not follow:
    from then on it drops nothing, and the handler judges every change by the path watchdog gives."""
    seen = _handled(monkeypatch)
    day = os.path.dirname(rig.segs[0])
    os.rename(rig.data / day, rig.data / "video" / "cam1" / "old")
    rig.await_report(day, MOVED)
    writing = layout.segment_relpath("cam2", T0 + 600 * S)
    rig.ours.add(writing)
    (rig.data / writing).write_bytes(b"footage")
    rig.sentinel()
    assert any(e.src_path.endswith(writing) and isinstance(e, tamper.FileModifiedEvent) for e in seen), seen
    assert rig.about(writing) == [], rig.reports


# an intake's folder (issue 76, design/0354) ----------------------------------------------------
SHA = "ab" * 32


def _intake(data, sha=SHA):
    """An intake placed as storage/intake/take.py places one: written in a staging folder of its own
    (take.py's names are random: a name used twice lets watchdog, reading late, give the second
    folder's watch the first one's path), renamed."""
    staging = data / "imports" / f".incoming-{sha[:8]}"
    staging.mkdir(parents=True)
    (staging / "original").write_bytes(b"the device's file" * 100)
    (staging / "000.mp4").write_bytes(b"\0" * 1234)
    os.replace(staging / "original", staging / "original.mp4")
    os.replace(staging, data / "imports" / sha)
    return f"imports/{sha}"


def test_an_intake_placed_reports_nothing_and_its_files_changed_by_hand_are_reported(rig):
    folder = _intake(rig.data)
    rig.sentinel()
    assert [t.relpath for t in rig.reports] == [rig.spare], "the intake's own staging and rename"
    with open(rig.data / folder / "original.mp4", "r+b") as f:   # the original edited
        f.write(b"edited")
    assert rig.await_report(f"{folder}/original.mp4", MODIFIED).detail.startswith("size now")
    os.unlink(rig.data / folder / "000.mp4")                      # a segment of it deleted
    rig.await_report(f"{folder}/000.mp4", DELETED)


def test_an_intake_folder_deleted_or_moved_by_hand_is_reported(rig, tmp_path_factory):
    folder = _intake(rig.data)
    other = _intake(rig.data, "cd" * 32)
    rig.sentinel()  # the watches on the placed folders are in (inotify adds one as it reads the rename)
    shutil.rmtree(rig.data / folder)
    assert rig.await_report(folder, DELETED).detail == "folder deleted"
    rig.await_report(f"{folder}/original.mp4", DELETED)
    os.rename(rig.data / other, tmp_path_factory.mktemp("elsewhere") / "x")
    assert rig.await_report(other, MOVED).detail == "folder moved to outside video/"


def test_the_retention_engine_removing_an_intake_announced_reports_nothing(rig):
    folder = _intake(rig.data)
    os.unlink(rig.data / rig.segs[3])  # a first sentinel: the watch on the placed folder is in
    rig.await_report(rig.segs[3], DELETED)
    for name in ("000.mp4", "original.mp4"):
        rig.watcher.expect(f"{folder}/{name}", DELETED)
        os.unlink(rig.data / folder / name)
    rig.watcher.expect(folder, DELETED)
    os.rmdir(rig.data / folder)
    rig.sentinel()
    assert [t.relpath for t in rig.reports] == [rig.segs[3], rig.spare], rig.reports
