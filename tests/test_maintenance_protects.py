"""A maintenance window protects the footage (R1.7, 002 §15) on a real small disk (tmpfs) with
real cameras: while it is open nothing is destroyed, though max retention makes footage due; the
catalog copy goes to another disk ([maintenance] backup_dir) and the window records what it
protected; when the disk fills, a critical alarm says so, recording goes on into the reserve, and
below half the reserve retention makes room (on the window's record) rather than let recording
stop; once the window ends, destruction resumes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import subprocess
import textwrap

import pytest

from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, rows
from tests.support.daemon import Daemon, ROOT, ctl, wait_for, write_config
from tests.support.disks import tmpfs
from tests.support.people import People
from storage import alarm_kinds as kinds

S = 1_000_000
MB = 1_000_000


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "disk", "24m") as mnt:
        yield mnt


def test_a_window_destroys_nothing_until_recording_needs_room_and_destruction_resumes_after(
        tmp_path, small_disk, monkeypatch):
    clip = make_clip(tmp_path / "clips", width=640, height=360, fps=20, gop=20, seconds=10, bitrate="2M")
    backups = tmp_path / "backups"  # another filesystem than the tmpfs
    backups.mkdir()
    with RtspServer({"a": f"clip:{clip.video}@20", "b": f"clip:{clip.video}@20"}) as cams:
        data = small_disk / "data"
        config = write_config(tmp_path / "edged.toml", data, [{"id": "a", "url": cams.url("a")},
                                                              {"id": "b", "url": cams.url("b")}],
                              storage={"segment_length": "2s"})
        config.write_text(config.read_text() + textwrap.dedent(f"""
            [retention]
            min_retention = "2s"
            max_retention = "6s"
            allow_short_for_tests = true
            reserve = "8MB"
            interval = "1s"
            grace = "1s"

            [maintenance]
            backup_dir = "{backups}"
            """))
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            people = People(config, tmp_path, monkeypatch)
            people.add("tech", "custodian")
            people.as_("tech")
            wait_for(lambda: len(rows(d, "destructions")) >= 3, 60, "max retention destroying footage")

            r = ctl(d, "maintenance", "begin", "--reason", "replace the disk controller", "--attended-by",
                    "Manager Wang", "--verify", "1m", "--json")
            assert r.returncode == 0, r.stderr
            w = json.loads(r.stdout)
            before = len(rows(d, "destructions"))
            # The window counts the footage complete when its record is written: at least what the
            # catalog copy (taken before, with retention already held) has, at most what is complete
            # now (a segment that ended before the window may close after its record; none destroyed).
            assert w["attended_by"] == "Manager Wang" and w["backup_same_disk"] == 0
            assert w["backup"].startswith(str(backups))
            with open(w["backup"], "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == w["backup_sha256"]
            copy = sqlite3.connect(f"file:{w['backup']}?mode=ro", uri=True)
            try:
                copied = rows(copy, "segments", lambda x: x["state"] == "complete")
            finally:
                copy.close()
            now = rows(d, "segments", lambda x: x["state"] == "complete")
            assert 0 < len(copied) <= w["protected_segments"] <= len(now)
            assert sum(x["bytes"] for x in copied) <= w["protected_bytes"] <= sum(x["bytes"] for x in now)

            # The disk fills: nothing is destroyed, a critical alarm says why, recording goes on.
            short = wait_for(lambda: alarms(d, lambda x: x["key"] == kinds.MAINTENANCE_DISK_SHORT.name, active=True), 90,
                             "the disk below its reserve during the window")[0]
            assert short["severity"] == "critical" and "nothing is destroyed until it ends" in short["message"]
            assert "retention paused: maintenance window" in d.log

            # Below half the reserve, recording comes first: retention makes room, on the window's record.
            wait_for(lambda: len(rows(d, "destructions")) > before, 90, "retention making room for recording")
            newest = max(x["end_us"] or 0 for x in rows(d, "segments", lambda x: x["camera"] == "b"))
            assert SYSTEM.now_us() - newest < 10 * S, "recording never stopped"
            window = wait_for(lambda: [x for x in rows(d, "maintenance") if x["yielded_segments"]], 30,
                              "the window's record of what it destroyed")[0]
            assert window["yielded_bytes"] > 0
            yields = audit_rows(d, "maintenance.yield")
            assert yields and json.loads(yields[0]["detail"])["window"] == w["id"]

            # Every pass that destroyed anything in the window ran with less than half the reserve free.
            passes = {x["id"]: x for x in rows(d, "retention_passes")}
            inside = [x for x in rows(d, "destructions") if x["destroyed_us"] >= w["began_us"]]
            assert inside and all(passes[x["pass_id"]]["free_before"] < 4 * MB for x in inside)
            assert len(inside) == len(rows(d, "destructions")) - before

            r = ctl(d, "maintenance", "end", "--note", "controller replaced")
            assert r.returncode == 0, r.stderr
            ended = len(rows(d, "destructions"))
            wait_for(lambda: len(rows(d, "destructions")) > ended, 30, "destruction resuming after the window")
            wait_for(lambda: not alarms(d, lambda x: x["key"] == kinds.MAINTENANCE_DISK_SHORT.name, active=True), 30,
                     "maintenance_disk_short to clear")
            listing = ctl(d, "maintenance", "list")
            assert listing.returncode == 0 and "Manager Wang" in listing.stdout
        finally:
            assert d.stop() == 0, d.log
    assert ctl(d, "audit", "verify", "--catalog", str(data / "catalog.db")).returncode == 0


def test_check_config_says_when_the_catalog_copy_is_not_on_another_disk(tmp_path, small_disk):
    def check(backup_dir) -> str:
        config = write_config(tmp_path / "edged.toml", small_disk / "data", [])
        config.write_text(config.read_text() + f'\n[maintenance]\nbackup_dir = "{backup_dir}"\n')
        r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(config)], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    (small_disk / "data").mkdir()
    (small_disk / "copies").mkdir()
    assert "note: maintenance.backup_dir" not in check(tmp_path)               # another disk: nothing to say
    assert "same disk as the data folder" in check(small_disk / "copies")
    assert "does not exist" in check(tmp_path / "unmounted")
