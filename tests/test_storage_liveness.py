"""The data disk goes away while recording, and comes back (design/0023): real tmpfs mounts.

A bind mount of a tmpfs stands for the disk: `umount -l` of the bind leaves the root
filesystem's empty folder under the mount point (what an unplugged or failed disk leaves),
while the tmpfs itself stays reachable to the test; binding it again is the same disk back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.footage.segment_rows import COMPLETE, FOOTAGE_STATES, MISSING, WRITING
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, node_value, one, rows
from tests.support.daemon import Daemon, ROOT, ctl, wait_for, write_config
from storage import alarm_kinds as kinds


def _mount(*args: str) -> None:
    r = subprocess.run(["mount", *args], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount here: {r.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=True, capture_output=True)


@pytest.fixture
def disk(tmp_path):
    """A tmpfs (the disk), mounted where the test can always reach it."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    _mount("-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mnt))
    yield mnt
    mine = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(tmp_path) + "/")]
    for point in sorted(mine, key=len, reverse=True):  # the binds under the data folder, then the disk
        subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=10)
    with RtspServer({"a": f"clip:{clip.video}@20", "b": f"clip:{clip.video}@20"}) as server:
        yield server


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def heartbeat(d: Daemon) -> int:
    return int(node_value(d, "heartbeat_us"))


def active(d: Daemon, kind: str) -> list[dict]:
    return alarms(d, lambda r: r["kind"] == kind, active=True)


def test_video_folder_unmounted_and_remounted_while_recording(tmp_path, disk, cameras):
    data = tmp_path / "data"
    video = data / "video"
    video.mkdir(parents=True)
    _mount("--bind", str(disk), str(video))
    config = write_config(tmp_path / "edged.toml", data,
                          [{"id": "a", "url": cameras.url("a")}, {"id": "b", "url": cameras.url("b")}],
                          storage={"segment_length": "2s"})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: len(d.segments("a")) >= 2 and d.segments("b"), 40, "recording")
        assert (disk / "edged-identity").read_text().strip(), "the identity file is on the footage's filesystem"
        before = {r["path"] for r in rows(d, "segments")}

        _umount(video)  # the disk goes away: the root filesystem's empty folder is left at its path
        alarm = wait_for(lambda: active(d, kinds.STORAGE_LOST.name), 8, "the storage alarm within seconds")[0]
        assert alarm["severity"] == "critical" and "video folder" in alarm["message"], alarm
        wait_for(lambda: all(d.camera(c)["state"] == "offline" for c in "ab"), 10, "the cameras stopped")
        assert {d.camera(c)["error_kind"] for c in "ab"} == {"storage"}, "why, for scripts too"
        status = ctl(d, "status")
        assert status.returncode == 0, status.stderr
        assert "RECORDING STOPPED" in status.stdout and "data disk" in status.stdout, status.stdout
        # The segments open at the loss: closed on their own disk, then `missing` until it is back;
        # never left `writing`, never `complete` with a file that is not at its path.
        wait_for(lambda: not rows(d, "segments", lambda r: r["state"] == WRITING), 15, "no segment left writing")
        for r in rows(d, "segments", lambda r: r["state"] in FOOTAGE_STATES):
            assert (disk / Path(r["path"]).relative_to("video")).exists(), r
        stranded = rows(d, "segments", lambda r: r["state"] == MISSING)
        assert all(r["note"].startswith("storage lost") for r in stranded), stranded
        assert files_under(video) == [], "nothing written under the empty mount point"
        retention = len(rows(d, "retention_passes"))

        _mount("--bind", str(disk), str(video))  # the same disk back
        wait_for(lambda: not active(d, kinds.STORAGE_LOST.name), 10, "the alarm cleared")
        wait_for(lambda: rows(d, "segments", lambda r: r["created_us"] > alarm["raised_us"]
                              and r["state"] == COMPLETE), 30, "recording resumed")
        for r in stranded:
            row = one(d, "segments", lambda s: s["id"] == r["id"])
            assert row["state"] == "recovered" and row["sha256"], row
        assert len(rows(d, "retention_passes")) >= retention
        assert set(before) <= {r["path"] for r in rows(d, "segments")}

        # A different (empty) disk under the mount point is not the disk: nothing is written to it.
        _umount(video)
        wait_for(lambda: active(d, kinds.STORAGE_LOST.name), 8, "the storage alarm again")
        _mount("-t", "tmpfs", "-o", "size=50m", "tmpfs", str(video))
        beat = heartbeat(d)
        wait_for(lambda: heartbeat(d) > beat + 4_000_000, 20, "four seconds of the daemon's heartbeats")
        status = ctl(d, "status")
        assert "RECORDING STOPPED" in status.stdout, status.stdout
        assert active(d, kinds.STORAGE_LOST.name)
        assert files_under(video) == [], "nothing written onto another disk"
    finally:
        rc = d.stop()
    assert rc == 0, d.log
    assert not rows(d, "segments", lambda r: r["state"] == WRITING), "a clean stop leaves nothing writing"
    assert "every open segment was closed" not in d.log.split("SIGTERM")[-1] or \
        not rows(d, "segments", lambda r: (r["note"] or "").endswith("when edged stopped"))
    assert files_under(video) == []
    _umount(video)
    # Restarted with the right disk back: recording goes on onto it.
    _mount("--bind", str(disk), str(video))
    restarted = SYSTEM.now_us()
    d2 = Daemon(config, data, tmp_path / "edged2.log").start()
    try:
        wait_for(lambda: not active(d2, kinds.STORAGE_LOST.name) and rows(
            d2, "segments", lambda r: r["created_us"] > restarted and r["state"] == COMPLETE and r["camera"] == "a"),
            40, "recording after a restart")
    finally:
        assert d2.stop() == 0, d2.log


def test_whole_data_folder_unmounted_then_restarted_never_makes_a_new_catalog_or_key(tmp_path, disk, cameras):
    data = tmp_path / "data"
    data.mkdir()
    _mount("--bind", str(disk), str(data))
    config = write_config(tmp_path / "edged.toml", data, [{"id": "a", "url": cameras.url("a")}],
                          storage={"segment_length": "2s"})
    # The test reads the catalog through the tmpfs itself, which stays mounted at `disk`.
    d = Daemon(config, disk, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: len(d.segments("a")) >= 2, 40, "recording")
        key = (disk / "node-ed25519.key").read_bytes()
        assert (disk / "backups" / "node-ed25519.key").read_bytes() == key, "the node key is backed up"
        init = audit_rows(d, "data.init")
        assert len(init) == 1 and json.loads(init[0]["detail"])["how"] == "edged run --init-data"

        _umount(data)
        alarm = wait_for(lambda: active(d, kinds.STORAGE_LOST.name), 8, "the storage alarm within seconds")[0]
        assert "data folder" in alarm["message"], alarm
        wait_for(lambda: d.camera("a")["state"] == "offline", 10, "the camera stopped")
        wait_for(lambda: not rows(d, "segments", lambda r: r["state"] == WRITING), 15, "no segment left writing")
        assert files_under(data) == [], "nothing written into the empty mount point"
        # The control socket (the default, inside the data folder) went with the disk: edged listens
        # at its path again, so status says what happened; the catalog's reports refuse in words.
        status = wait_for(lambda: (r := ctl(d, "status")).returncode == 0 and r, 10, "edgectl status answering")
        assert "RECORDING STOPPED" in status.stdout and "disk:      unknown: the data disk is gone" in status.stdout, \
            status.stdout
        as_json = json.loads(ctl(d, "status", "--json").stdout)
        assert as_json["storage"]["state"] == "lost" and as_json["disk_free"] is None, as_json
        for verb in (["cameras"], ["alarms"], ["retention"], ["segments", "--camera", "a"], ["destructions"],
                     ["hold", "list"], ["audit", "verify"]):
            r = ctl(d, *verb)
            assert r.returncode == 2, (verb, r.returncode, r.stdout, r.stderr)
            assert "the catalog cannot be read while the data disk is gone (the data folder" in r.stderr, \
                (verb, r.stderr)
            assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (verb, r.stderr)
        assert "control request" not in d.log, "no handler failed with a traceback in the daemon's log"
    finally:
        assert d.stop() == 0, d.log
    assert not rows(d, "segments", lambda r: r["state"] == WRITING)
    stranded = [r["id"] for r in rows(d, "segments", lambda r: r["state"] == MISSING)]
    assert stranded, "the segment open at the loss is missing until its disk is back"

    # Restarted (as systemd would) while the disk is still gone: it waits, and makes nothing.
    waiting = Daemon(config, data, tmp_path / "edged2.log", init_data=False).start()
    try:
        wait_for(lambda: "waiting for the data disk" in waiting.log, 20, "the daemon to say it waits")
        assert waiting.proc.poll() is None
        # edgectl: the daemon is up and waits, for what, and what the operator can do (not "not running")
        r = wait_for(lambda: (r := ctl(waiting, "status")).returncode == 0 and r, 15, "edgectl status while waiting")
        assert "running (pid" in r.stdout and "NOT RECORDING: waiting for its data disk" in r.stdout, r.stdout
        assert f"no catalog in {data}" in r.stdout and "mount the data disk" in r.stdout, r.stdout
        assert "edged init-data --config" in r.stdout, r.stdout
        as_json = json.loads(ctl(waiting, "status", "--json").stdout)
        assert as_json["state"] == "waiting" and as_json["recording"] is False, as_json
        assert as_json["pid"] == waiting.proc.pid and as_json["data_dir"] == str(data), as_json
        r = ctl(waiting, "cameras")
        assert r.returncode == 2 and "edged is running but not recording: it waits for its data disk" in r.stderr, \
            (r.returncode, r.stderr)
        assert "Traceback" not in r.stderr
        assert files_under(data) == [], "no new catalog, no new node key"
        _mount("--bind", str(disk), str(data))  # the disk is back
        wait_for(lambda: rows(d, "segments", lambda r: r["state"] == COMPLETE
                              and r["created_us"] > alarm["raised_us"]), 40, "recording on the disk that came back")
        assert (disk / "node-ed25519.key").read_bytes() == key, "the same node key"
        # the last run's open segments are recovered beside recording, on a thread at nice +10 (design/0025):
        # the first segment on the disk that came back may be written before it is done
        for row_id in stranded:
            wait_for(lambda: one(d, "segments", lambda r: r["id"] == row_id)["state"] == "recovered", 40,
                     f"segment {row_id}, missing while the disk was gone, recovered")
    finally:
        assert waiting.stop() == 0, waiting.log
    assert not rows(d, "segments", lambda r: r["state"] == WRITING)
    assert len(audit_rows(d, "data.init")) == 1


def test_init_data_refuses_a_folder_that_has_a_catalog(tmp_path):
    config = write_config(tmp_path / "edged.toml", tmp_path / "data", [])
    first = subprocess.run([sys.executable, "-m", "edged.cli", "init-data", "--config", str(config),
                            "--reason", "new installation"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "node key SHA256:" in first.stdout
    again = subprocess.run([sys.executable, "-m", "edged.cli", "init-data", "--config", str(config)],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert again.returncode == 1 and "already holds a catalog" in again.stderr
    d = Daemon(config, tmp_path / "data", tmp_path / "edged.log")
    records = audit_rows(d)
    assert [r["action"] for r in records] == ["data.init"]
    assert json.loads(records[0]["detail"])["reason"] == "new installation" and records[0]["actor"].startswith("os:")
    assert (tmp_path / "data" / "video" / "edged-identity").read_text() == (tmp_path / "data" / "edged-identity").read_text()
