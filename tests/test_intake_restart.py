"""Imported footage is its own kind in every model of the box (issue 87, design/0380, 0381): a real
daemon recording a real camera takes in a device's file claiming an hour ago and one whose clock is
set to 2031, then restarts. The start-up reconcile walks `imports/` as it walks `video/` (nothing
marked missing, no `footage_missing`, no `footage.missing`), the host clock's history and its order
check read only the box's camera (no `host_clock_step`, no flag), and a file truly removed while the
daemon was down is still found missing. Then retention destroys the 2031 import at its maximum counted
from the intake, not from its claim."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edged.config import CameraConfig, RetentionConfig
from storage.catalog import open_db
from storage.keys import nodecert
from storage.retention.run import run_pass
from storage.time.clock import SYSTEM, FakeClock
from tests.support import portable
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.enrol import Office
from tests.support.people import People
from tests.test_clip_origin import checker as run_checker

S = 1_000_000
D = 86_400 * S
AHEAD = "2031-06-01T08:00:00Z"


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip"), width=320, height=240, fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as server:
        yield server


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    os.chmod(d, 0o755)
    an_hour_ago = datetime.fromtimestamp(SYSTEM.now_us() / 1e6 - 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = {"recent": portable.body_camera(d / "recent.mp4", seconds=8, created=an_hour_ago),
            "ahead": portable.body_camera(d / "ahead.mp4", seconds=8, created=AHEAD, model="CAMCORDER-31"),
            "cjk": portable.body_camera(d / "錄影.mp4", seconds=3, created=an_hour_ago)}
    for p in made.values():
        os.chmod(p, 0o644)
    return made


def decodes(path: Path) -> bool:
    """ffmpeg reads every packet and decodes every picture without an error."""
    return subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, timeout=120).returncode == 0


def reconciled(d: Daemon, runs: int) -> None:
    wait_for(lambda: d.log.count("catalog reconciled with the disk") >= runs, 60, f"start-up reconcile {runs}")


def order_checked_through(d: Daemon, segment_id: int) -> None:
    """The host clock's order detector (edged/daemon/host_clock.py) has read every row up to this id."""
    def through() -> bool:
        value = node_value(d, "order_checked")
        return value is not None and json.loads(value)["through"] >= segment_id
    wait_for(through, 60, f"the order detector past segment {segment_id}")


def newest_closed_cam_id(d: Daemon) -> int:
    return max(s["id"] for s in d.segments("cam"))


def test_imports_survive_restarts_and_never_judge_the_boxs_clock(tmp_path, devices, camera):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "3s"})
    log = tmp_path / "edged.log"
    d = Daemon(config, data, log).start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.as_("carol")
        wait_for(lambda: len(d.segments("cam")) >= 1, 60, "the camera's first segment")
        taken = {}
        for key, device in (("recent", "bwc-7"), ("ahead", "cam-31")):
            r = people.ctl("evidence", "import", str(devices[key]), "--device", device, "--by", "officer Lin", "--json")
            assert r.returncode == 0, r.stderr
            taken[key] = json.loads(r.stdout)
        assert taken["ahead"]["claimed_start"].startswith("2031-06-01")
        imported = {k: d.segments(v["camera"]) for k, v in taken.items()}
        assert all(len(v) >= 2 for v in imported.values()), imported
        wait_for(lambda: len(d.segments("cam")) >= 3, 60, "the camera recording after the intakes")

        # free text under the rule (design/0383): a forged register line, a direction mark, 5,000
        # characters refused before a byte is sent, the file's CJK name shown as itself
        for by, shown in (("PC Lin\n9  2026-01-01 00:00:00  admin  bwc-99", "\\n"), ("PC \u202eniL", "\\u202e"),
                          ("L" * 5000, "5000 characters")):
            r = people.ctl("evidence", "import", str(devices["cjk"]), "--device", "bwc-8", "--by", by)
            assert r.returncode != 0 and "not plain text" in r.stderr and shown in r.stderr, r.stderr
        r = people.ctl("evidence", "import", str(devices["cjk"]), "--device", "bwc-8", "--by", "林警員 (第二分局)")
        assert r.returncode == 0 and "recorded by 林警員 (第二分局)" in r.stdout, r.stdout + r.stderr
        r = people.ctl("evidence", "import", str(devices["cjk"]), "--device", "bwc-8", "--by", "林警員")
        assert r.returncode != 0 and "錄影.mp4 was taken in already" in r.stderr and "\\u" not in r.stderr, r.stderr
        taken["cjk"] = {"camera": "portable.bwc-8"}
        imported["cjk"] = d.segments("portable.bwc-8")
        r = people.ctl("evidence", "list")
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 4 and "林警員 (第二分局)" in r.stdout, r.stdout
        assert "錄影.mp4" in r.stdout and "ahead.mp4" in r.stdout, "the device's file names kept (design/0403)"
    finally:
        d.stop()

    # a clean restart: every import is present, and none judges the box's clock
    last_id = max(r["id"] for r in rows(d, "segment_rows"))
    d = Daemon(config, data, log, init_data=False).start()
    try:
        reconciled(d, 2)
        wait_for(lambda: newest_closed_cam_id(d) > last_id, 60, "a segment of the camera after the restart")
        order_checked_through(d, newest_closed_cam_id(d))
        assert [s["path"] for s in rows(d, "segments", lambda r: r["state"] == "missing")] == []
        assert alarms(d, lambda r: r["kind"] in ("footage_missing", "host_clock_step", "segments_flagged")) == []
        assert audit_rows(d, "footage.missing") == [] and audit_rows(d, "segments.flagged") == []
        assert rows(d, "restamps") == [], "no segment flagged or re-stamped, the fixed camera's nor a device's"
        assert "host clock stepped" not in d.log
        assert all(len(d.segments(v["camera"])) == len(imported[k]) for k, v in taken.items())
    finally:
        d.stop()

    # a segment of an import truly removed while edged was down: still found missing, and only it
    gone = imported["recent"][1]["path"]
    (data / gone).unlink()
    d = Daemon(config, data, log, init_data=False).start()
    try:
        reconciled(d, 3)
        wait_for(lambda: alarms(d, lambda r: r["kind"] == "footage_missing"), 30, "the footage_missing alarm")
        assert [s["path"] for s in rows(d, "segments", lambda r: r["state"] == "missing")] == [gone]
        [rec] = audit_rows(d, "footage.missing")
        assert gone in rec["detail"]
    finally:
        d.stop()

    # retention after the restarts: the 2031 import goes at its maximum counted from its intake
    intake_us = taken["ahead"]["intake_us"]
    ahead_folder = data / "imports" / taken["ahead"]["sha256"]
    db = open_db(data / "catalog.db")
    try:
        retention = (db, data, RetentionConfig(max_retention_us=30 * D, min_retention_us=D),
                     [CameraConfig(id="cam", name="cam", url=camera.url("cam"))], shutil.disk_usage)
        r = run_pass(*retention, clock=FakeClock(intake_us + 29 * D))
        assert r.originals == 0 and ahead_folder.exists()
        assert len(rows(db, "segments", lambda x: x["camera"] == taken["ahead"]["camera"])) == len(imported["ahead"])
        r = run_pass(*retention, clock=FakeClock(intake_us + 31 * D))
        assert not ahead_folder.exists(), "destroyed at the maximum from the intake, not 2031's"
        [rec] = [json.loads(x["detail"]) for x in audit_rows(db, "evidence.original_destroyed")
                 if taken["ahead"]["sha256"] in x["detail"]]
        assert rec["intake"] == taken["ahead"]["id"]
        assert rows(db, "segments", lambda x: x["camera"] == taken["ahead"]["camera"]) == []
    finally:
        db.conn.close()


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / S, timezone.utc).isoformat()


def _frames(path) -> int:
    """The video pictures ffprobe counts in a file (its packets, read to the end)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return int(out.strip())


def _exported(people: People, camera: str, segs: list[dict], out) -> dict:
    """A copy of all of `camera`'s footage (its device's claimed times) through a grant, verified."""
    people.as_("carol")
    r = people.ctl("request", "file", "--kind", "agency", "--category", "other", "--reason", "a dispute filmed",
                   "--camera", camera, "--from", _iso(segs[0]["start_us"]), "--to", _iso(segs[-1]["end_us"]),
                   "--copy", "--requester", "Sgt. Lin", "--org", "precinct 3", "--letter", "P-87", "--json")
    assert r.returncode == 0, r.stderr
    people.as_("alice")
    r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "letter checked", "--json")
    assert r.returncode == 0, r.stderr
    people.as_("carol")
    r = people.ctl("export", "--grant", str(json.loads(r.stdout)["grant"]["id"]), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    v = people.ctl("verify", str(out), "--key", json.loads(r.stdout)["public_key"])
    assert v.returncode == 0 and v.stdout.startswith("OK: "), v.stdout + v.stderr
    return json.loads((out / "manifest.json").read_text())


def test_an_import_through_a_restart_is_exported_whole_its_device_clock_ahead_or_behind(tmp_path, devices, camera):
    """The house's rule for two models meeting (DESIGN.md): an import through a restart's reconcile and
    clock check, then out in an export. One device's clock is 4.5 years ahead of the box's (2031), one an
    hour behind (inside the start-up tail, where a restart once marked it missing). After the restart
    neither is touched (same rows, same hashes, no alarm, no re-stamp), and a grant's copy of each, over
    its device's claimed times, carries all of its pictures, names its intake, decodes and verifies."""
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "3s"})
    log = tmp_path / "edged.log"
    d = Daemon(config, data, log).start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.add("alice", "approver")
        people.as_("carol")
        wait_for(lambda: len(d.segments("cam")) >= 1, 60, "the camera's first segment")
        taken = {}
        for key, device in (("ahead", "cam-31"), ("recent", "bwc-7")):
            r = people.ctl("evidence", "import", str(devices[key]), "--device", device, "--by", "officer Lin", "--json")
            assert r.returncode == 0, r.stderr
            taken[key] = json.loads(r.stdout)
        assert taken["ahead"]["claimed_start"].startswith("2031-06-01")
        assert (taken["ahead"]["file_name"], taken["recent"]["file_name"]) == ("ahead.mp4", "recent.mp4"), taken
        before = {k: d.segments(v["camera"]) for k, v in taken.items()}
    finally:
        d.stop()

    last_id = max(r["id"] for r in rows(d, "segment_rows"))
    office = Office()   # enrolled while it is down: its copies carry the chain the court's checker reads
    office.enrol(data, "test", "node1")
    (tmp_path / "ca.pem").write_bytes(nodecert.pem([office.ca]))
    d = Daemon(config, data, log, init_data=False).start()
    try:
        reconciled(d, 2)
        wait_for(lambda: newest_closed_cam_id(d) > last_id, 60, "a segment of the camera after the restart")
        order_checked_through(d, newest_closed_cam_id(d))
        assert alarms(d, lambda r: r["kind"] in ("footage_missing", "host_clock_step", "segments_flagged")) == []
        assert audit_rows(d, "footage.missing") == [] and rows(d, "restamps") == []
        for key, intake in taken.items():
            segs = d.segments(intake["camera"])
            assert segs == before[key], f"the {key} device's footage untouched by the restart"
            assert all(hashlib.sha256((data / s["path"]).read_bytes()).hexdigest() == s["sha256"] for s in segs)

            manifest = _exported(people, intake["camera"], segs, tmp_path / f"copy-{key}")
            [cam] = manifest["cameras"]
            assert cam["camera"] == intake["camera"] and cam["gaps"] == [], cam["gaps"]
            assert {(s["imported"]["original_sha256"], s["imported"]["file_name"]) for s in cam["sources"]} == {
                (intake["sha256"], f"{key}.mp4")}, "the original's hash and the device's file name (design/0403)"
            assert len(cam["sources"]) == len(segs) and {s["imported"]["intake"] for s in cam["sources"]} == {
                intake["id"]}
            for clip in cam["clips"]:
                assert decodes(tmp_path / f"copy-{key}" / clip["file"]), clip
            assert sum(_frames(tmp_path / f"copy-{key}" / c["file"]) for c in cam["clips"]) == sum(
                s["frames"] for s in segs) == 8 * 15, f"every picture of the {key} device's file"
            # the court's checker, with the office's list of a month after the intake: its footage ended at
            # the intake on the box's clock, whatever year its device claims (design/0400)
            (tmp_path / "crl.pem").write_bytes(office.crl_pem(intake["intake_us"] + 33 * D))
            code, said = run_checker(str(tmp_path / f"copy-{key}"), "--ca", str(tmp_path / "ca.pem"), "--crl",
                                     str(tmp_path / "crl.pem"))
            assert (code, said["verdict"]) == (0, "CHECKED"), said
            assert any(f"intake {intake['id']}: imported on" in n for n in said["notes"]), said["notes"]
        assert alarms(d, lambda r: r["kind"] in ("footage_missing", "host_clock_step", "segments_flagged")) == []
    finally:
        d.stop()
