"""Maintenance windows: the catalog copy, the hash check, excused alarms, the audit trail."""

from __future__ import annotations

import json
import sqlite3

import pytest

from storage.footage.segment_rows import COMPLETE
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, rows
from tests.support.daemon import Daemon, ctl, wait_for, write_config
from tests.support.people import People
from storage import alarm_kinds as kinds


@pytest.fixture
def two_cameras(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"steady": f"clip:{clip.video}@20"}) as steady, \
            RtspServer({"serviced": f"clip:{clip.video}@20"}) as serviced:
        yield steady, serviced


def test_maintenance_window_protects_records_and_excuses_expected_faults(tmp_path, two_cameras, monkeypatch):
    steady, serviced = two_cameras
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "steady", "url": steady.url("steady")},
                                                          {"id": "serviced", "url": serviced.url("serviced")}])
    d = Daemon(config, data, tmp_path / "edged.log")
    d.start()
    try:
        wait_for(lambda: len(d.segments("steady")) >= 2 and len(d.segments("serviced")) >= 2, 30, "recording")
        d.stop()
        # Footage altered while edged was down (no watcher to see it): the check must find it.
        victim = d.segments("steady")[0]
        path = data / victim["path"]
        raw = bytearray(path.read_bytes())
        raw[-100] ^= 0xFF
        path.write_bytes(bytes(raw))
        d.start()
        wait_for(lambda: (d.camera("serviced") or {}).get("state") == "recording", 30, "recording again")
        people = People(config, tmp_path, monkeypatch)
        people.add("tech", "custodian")
        assert ctl(d, "maintenance", "begin", "--reason", "x").returncode == 2, "an admin does not run the box"
        people.as_("tech")

        r = ctl(d, "maintenance", "begin", "--reason", "replace the PoE switch", "--verify", "1h")
        assert r.returncode == 2 and "--attended-by" in r.stderr, "the manager attends (R8.2)"
        r = ctl(d, "maintenance", "begin", "--reason", "replace the PoE switch", "--verify", "1h",
                "--attended-by", "Manager Wang", "--json")
        assert r.returncode == 0, r.stderr
        window = json.loads(r.stdout)
        assert window["attended_by"] == "Manager Wang" and window["backup_same_disk"] == 1  # the default folder
        assert 0 < window["protected_segments"] <= len(rows(d, "segments", lambda r: r["state"] == COMPLETE))
        assert [m["path"] for m in window["mismatches"]] == [victim["path"]]
        assert alarms(d, lambda r: r["kind"] == kinds.HASH_MISMATCH.name)[0]["severity"] == "critical"
        copy = sqlite3.connect(f"file:{window['backup']}?mode=ro", uri=True)
        copied = {r["path"]: r["sha256"] for r in rows(copy, "segments", lambda r: r["state"] == COMPLETE)}
        copy.close()
        live = {r["path"]: r["sha256"] for r in rows(d, "segments")}
        assert copied and all(live[p] == h for p, h in copied.items()), "the copy matches the catalog"
        assert ctl(d, "maintenance", "begin", "--reason", "again", "--attended-by", "W").returncode == 2, \
            "one window at a time"

        serviced.stop()  # the technician unplugs a camera
        alarm = wait_for(lambda: alarms(d, lambda r: r["key"] == "camera_offline:serviced"), 40,
                         "the camera_offline alarm")[0]
        assert alarm["severity"] == "maintenance"
        n = len(d.segments("steady"))
        wait_for(lambda: len(d.segments("steady")) > n + 1, 20, "recording goes on during maintenance")

        r = ctl(d, "maintenance", "end", "--note", "switch replaced")
        assert r.returncode == 0, r.stderr
        serviced.start()
        wait_for(lambda: alarms(d, lambda r: r["key"] == "camera_offline:serviced", active=False), 40,
                 "the alarm cleared when the camera is back")
        serviced.stop()  # outside the window the same fault is critical
        wait_for(lambda: alarms(d, lambda r: r["key"] == "camera_offline:serviced" and r["severity"] == "critical",
                                active=True), 40, "a critical camera_offline alarm")
    finally:
        assert d.stop() == 0, d.log
    trail = [(r["action"], json.loads(r["detail"])) for r in audit_rows(d)]
    actions = [a for a, _ in trail]
    assert actions.index("maintenance.begin") < actions.index("maintenance.end")
    begin = dict(trail)["maintenance.begin"]
    assert begin["reason"] == "replace the PoE switch" and begin["mismatches"] == [victim["path"]]
    assert begin["attended_by"] == "Manager Wang" and begin["backup_sha256"] == window["backup_sha256"]
    assert ctl(d, "audit", "verify", "--catalog", str(d.data_dir / "catalog.db")).returncode == 0  # daemon stopped
