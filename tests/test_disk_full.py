"""A data disk that fills (design/0058): an alarm and a pause, never an exit; real tmpfs mounts.

Something other than edged fills the disk (a ballast file beside the data folder, on the same
tmpfs): recording pauses with a critical `disk_full` alarm and edgectl says so, the daemon keeps
running, and when the room is back recording resumes by itself. A catalog write that fails for
a full disk is handed to the disk floor instead of ending the daemon.
"""

from __future__ import annotations

import sqlite3
import subprocess
import textwrap

import pytest

from edged.config import default_config
from edged.daemon.recording.supervisor import Supervisor
from edged.ports import Outlet
from edged.rules.disk import FLOOR_MAX, FLOOR_MIN, MIB, floor_bytes, short
from recorder import events
from storage import cameras as camera_table
from storage.catalog import CatalogWriter
from storage.footage.segment_rows import COMPLETE, WRITING
from storage.time.clock import FakeClock
from storage.disk.full import is_disk_full
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, rows
from tests.support.daemon import Daemon, ctl, wait_for, write_config
from tests.support.disks import tmpfs
from storage import alarm_kinds as kinds

S = 1_000_000


def test_the_floor_is_a_part_of_the_reserve_with_hysteresis():
    assert floor_bytes(2_000_000_000) == FLOOR_MAX
    assert floor_bytes(200 * MIB) == 50 * MIB
    assert floor_bytes(40 * MIB) == FLOOR_MIN
    assert floor_bytes(3 * MIB) == 3 * MIB // 2, "never above half the reserve"
    assert floor_bytes(0) == 0
    floor = 20 * MIB
    assert not short(floor, floor, False) and short(floor - 1, floor, False)
    assert short(2 * floor - 1, floor, True) and not short(2 * floor, floor, True), "resumes at twice the floor"


def test_a_full_disk_is_told_apart_from_other_failures():
    # SQLite's own SQLITE_FULL, from a real full tmpfs, is in the next test
    assert is_disk_full(OSError(28, "No space left on device"))
    assert not is_disk_full(sqlite3.OperationalError("no such table: x"))
    assert not is_disk_full(OSError(13, "Permission denied"))
    assert not is_disk_full(ValueError("disk is full"))


async def test_a_catalog_write_failing_for_a_full_disk_is_handed_on_not_raised(tmp_path):
    with tmpfs(tmp_path / "disk", "2m") as mnt:
        cfg = default_config(mnt)
        writer = CatalogWriter(mnt / "catalog.db")
        await writer.start()
        await writer.run(lambda c: camera_table.sync(
        c.db, [{"id": "a", "name": "a", "url": "synthetic:", "enabled": 1}], c.clock.now_us()))
        seen: list[BaseException] = []
        port: Outlet[BaseException] = Outlet("test")

        async def take(exc: BaseException) -> None:
            seen.append(exc)
        port.connect(take)
        sup = Supervisor(cfg, writer, clock=FakeClock(1_800_000_000 * S), disk_full=port)
        ballast = mnt / "ballast"
        subprocess.run(["dd", "if=/dev/zero", f"of={ballast}", "bs=64k"], capture_output=True)  # until ENOSPC
        try:
            for i in range(400):  # until the catalog's free pages and WAL room are used up
                start = (1_800_000_000 + 2 * i) * S
                path = f"video/a/{i:04d}-{'x' * 200}.mp4"
                await sup.handle(events.Opened("a", path, start, start))
                await sup.handle(events.Closed("a", path, start + S, "boundary", "ab" * 32, start + S, 1000, 20,
                                               "h264", 320, 240, 0))
                if seen:
                    break
            assert seen and is_disk_full(seen[0]), "a full disk reaches the disk floor"
            assert isinstance(seen[0], sqlite3.OperationalError) and seen[0].sqlite_errorcode == sqlite3.SQLITE_FULL
            ballast.unlink()
            n = len(rows(sqlite3.connect(mnt / "catalog.db"), "segments"))
            await sup.handle(events.Opened("a", "video/a/after.mp4", 1_900_000_000 * S, 1_900_000_000 * S))
            await sup.handle(events.Closed("a", "video/a/after.mp4", 1_900_000_001 * S, "boundary", "ab" * 32,
                                           1_900_000_001 * S, 1000, 20, "h264", 320, 240, 0))
            assert len(rows(sqlite3.connect(mnt / "catalog.db"), "segments")) == n + 1, "writes go on with room"
        finally:
            await writer.close()


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=10)
    with RtspServer({"a": f"clip:{clip.video}@20", "b": f"clip:{clip.video}@20"}) as server:
        yield server


def test_a_disk_filled_by_something_else_pauses_recording_with_an_alarm_and_resumes(tmp_path, cameras):
    with tmpfs(tmp_path / "disk", "96m") as mnt:
        data = mnt / "data"
        config = write_config(tmp_path / "edged.toml", data,
                              [{"id": "a", "url": cameras.url("a")}, {"id": "b", "url": cameras.url("b")}],
                              storage={"segment_length": "2s"})
        config.write_text(config.read_text() + textwrap.dedent("""
            [retention]
            reserve = "40MB"
            """))  # the floor: 16 MiB; recording resumes at 32 MiB free
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: len(d.segments("a")) >= 2 and d.segments("b"), 40, "recording")
            free = subprocess.run(["df", "--output=avail", "-B1", str(mnt)], capture_output=True, text=True)
            room = int(free.stdout.split()[-1]) - 4 * MIB
            ballast = mnt / "ballast"  # beside the data folder: not footage, nothing retention may touch
            with open(ballast, "wb") as f:
                f.write(b"\0" * room)
            alarm = wait_for(lambda: alarms(d, lambda r: r["kind"] == kinds.DISK_FULL.name, active=True), 10,
                             "the disk_full alarm within seconds")[0]
            assert alarm["severity"] == "critical" and "below the" in alarm["message"], alarm
            wait_for(lambda: all(d.camera(c)["state"] == "offline" for c in "ab"), 10, "recording paused")
            assert "data disk is full" in d.camera("a")["last_error"]
            status = ctl(d, "status")
            assert status.returncode == 0, status.stderr
            assert "RECORDING PAUSED" in status.stdout and "full" in status.stdout, status.stdout
            assert d.proc.poll() is None, "the daemon keeps running"
            assert audit_rows(d, "storage.disk.full")

            ballast.unlink()
            wait_for(lambda: not alarms(d, lambda r: r["kind"] == kinds.DISK_FULL.name, active=True), 10, "the alarm cleared")
            wait_for(lambda: rows(d, "segments", lambda r: r["created_us"] > alarm["raised_us"]
                                  and r["camera"] == "a" and r["state"] == COMPLETE), 30, "recording resumed")
            assert audit_rows(d, "storage.full_cleared")
            assert "RECORDING PAUSED" not in ctl(d, "status").stdout
        finally:
            rc = d.stop()
        assert rc == 0, d.log
        assert not rows(d, "segments", lambda r: r["state"] == WRITING)
