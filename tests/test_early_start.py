"""The recorder workers start before the daemon's imports (design/0029): the real daemon,
real RTSP cameras, a real tmpfs for the disk that is not the right one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from edged.config import CameraConfig
from edged.daemon.recording import prespawn, prestart
from storage import datainit
from tests.support.bad_cameras import BadCamera
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config

S = 1_000_000
ADOPTED = "adopted, started before the daemon's imports"


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=10)
    with RtspServer({"a": f"clip:{clip.video}@20", "b": f"clip:{clip.video}@20"}) as server:
        yield server


def now_us() -> int:
    return SYSTEM.now_us()


def footage_files(data: Path) -> set[str]:
    return {str(p.relative_to(data)) for p in (data / "video").rglob("*.mp4")}


def assert_catalog_matches_disk(d: Daemon) -> None:
    """After a clean stop: nothing left `writing`, every footage file a finished catalog row."""
    assert not rows(d, "segments", lambda r: r["state"] == "writing"), "a clean stop leaves nothing writing"
    done = {r["path"] for r in rows(d, "segments", lambda r: r["state"] in ("complete", "recovered"))}
    assert footage_files(d.data_dir) == done


def test_the_cheap_disk_check_agrees_with_the_identity_files(tmp_path):
    """edged.daemon.recording.prestart.disk_problem, on a data folder made as `edged init-data` makes it."""
    data = tmp_path / "data"
    datainit.init_data(data, "os:test", "test")
    problem, dev = prestart.disk_problem(data)
    assert problem is None and dev == os.stat(data / "video").st_dev
    (data / "video" / "edged-identity").rename(tmp_path / "moved")
    problem, dev = prestart.disk_problem(data)
    assert dev is None and "the video folder holds no edged-identity file" in problem
    (tmp_path / "moved").write_text("another-data-set\n")
    (tmp_path / "moved").rename(data / "video" / "edged-identity")
    assert "belongs to another data set" in prestart.disk_problem(data)[0]
    cams = [CameraConfig(id=f"c{i}", name=f"c{i}", url="rtsp://127.0.0.1/x", enabled=i != 2) for i in range(6)]
    assert [[c.id for c in w] for w in prestart.assign(cams, 2)] == [["c0", "c3", "c5"], ["c1", "c4"]]


def test_the_worker_count_is_guessed_from_the_toml_before_it_is_validated(tmp_path):
    """edged.daemon.recording.prespawn.guess_workers: `recorder.workers`, else one per core, at most one per
    enabled camera; none when the named data folder holds no catalog or the file is not TOML."""
    data = tmp_path / "data"
    cams = [{"id": f"c{i}", "url": "rtsp://127.0.0.1/x", "enabled": i != 1} for i in range(4)]
    config = write_config(tmp_path / "edged.toml", data, cams, recorder={"workers": 5})
    assert prespawn.guess_workers(config) == 0, "no catalog yet: the daemon decides"
    datainit.init_data(data, "os:test", "test")
    assert prespawn.guess_workers(config) == 3
    write_config(config, data, cams, recorder={"workers": 2})
    assert prespawn.guess_workers(config) == 2
    write_config(config, data, cams)
    assert prespawn.guess_workers(config) == min(os.cpu_count() or 1, 3)
    config.write_text(config.read_text() + "[[cameras\n")
    assert prespawn.guess_workers(config) == 0
    assert prespawn.guess_workers(tmp_path / "missing.toml") == 0


def test_restart_adopts_the_workers_started_first_and_the_catalog_matches_the_disk(tmp_path, cameras):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": c, "url": cameras.url(c)} for c in "ab"],
                          storage={"segment_length": "2s"}, recorder={"workers": 2})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: d.segments("a") and d.segments("b"), 40, "both cameras recording")
        # A fresh folder is initialised by the daemon: nothing is started before that.
        assert ADOPTED not in d.log and "workers spawned" not in d.log and "before the config is read" not in d.log
    finally:
        assert d.stop() == 0, d.log
    last = {c: d.segments(c)[-1]["end_us"] for c in "ab"}
    restarted, since = now_us(), len(d.log)
    d.start()
    try:
        for c in "ab":
            wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == c and r["state"] == "complete"
                                  and r["start_us"] > restarted), 40, f"camera {c} recording after the restart")
        wait_for(lambda: "ready: recording has started" in d.log[since:], 30, "ready")
        log = d.log[since:]
        assert log.count(ADOPTED) == 2, log
        # spawned before the config was read, given their cameras once it was valid (design/0025's addendum)
        assert re.search(r"start-up [\d.]+ s: python and imports [\d.]+, workers spawned [\d.]+, config [\d.]+, "
                         r"lock, disk check, cameras sent [\d.]+, cameras' first segments", log), log
    finally:
        assert d.stop() == 0, d.log
    assert_catalog_matches_disk(d)
    for c in "ab":  # the outage is one gap, measured from the footage on both sides
        gaps = d.gaps(c)
        first = min(r["start_us"] for r in rows(d, "segments",
                                                lambda r: r["camera"] == c and r["start_us"] > restarted))
        assert [(g["from_us"], g["to_us"], g["reason"]) for g in gaps] == [
            (last[c], first, "edged was not recording")], gaps


def test_sigterm_while_the_workers_started_first_record_is_a_clean_prompt_stop(tmp_path, cameras):
    """A camera that never answers keeps `edged run` waiting (up to 5 s) before the daemon's
    imports; a SIGTERM then is held for the daemon's own handler and is a clean stop."""
    data = tmp_path / "data"
    with BadCamera("hang") as hang:
        config = write_config(tmp_path / "edged.toml", data,
                              [{"id": "a", "url": cameras.url("a")}, {"id": "hang", "url": hang.url}],
                              storage={"segment_length": "2s"}, recorder={"workers": 1, "connect_timeout": "60s"})
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: d.segments("a"), 40, "recording")
        finally:
            assert d.stop() == 0, d.log
        before, since = footage_files(data), len(d.log)
        d.start()
        wait_for(lambda: d.workers(), 20, "the worker started by edged run")
        # Its first file if it comes before the daemon is ready (it usually does), then the stop.
        wait_for(lambda: footage_files(data) - before or "ready:" in d.log[since:],
                 20, "a new segment file, or the daemon ready")
        assert d.proc is not None
        stopped = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc = d.proc.wait(30)
        took = time.monotonic() - stopped
        d._log.close()
    log = d.log[since:]
    assert rc == 0, log
    assert took < 20, f"the stop took {took:.1f} s"
    assert ADOPTED in log, log
    assert_catalog_matches_disk(d)


def _mount(*args: str) -> None:
    r = subprocess.run(["mount", *args], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount here: {r.stderr.strip()}")


def test_another_disk_at_the_video_folder_starts_nothing_before_the_daemons_checks(tmp_path, cameras):
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "a", "url": cameras.url("a")}],
                          storage={"segment_length": "2s"})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: d.segments("a"), 40, "recording")
    finally:
        assert d.stop() == 0, d.log
    video = data / "video"
    _mount("-t", "tmpfs", "-o", "size=50m", "tmpfs", str(video))  # an empty disk where the footage was
    try:
        since = len(d.log)
        d.start()
        try:
            wait_for(lambda: alarms(d, lambda r: r["kind"] == "storage_lost", active=True), 30, "the storage alarm")
            log = d.log[since:]
            assert "workers start after the daemon's checks: the video folder" in log, log
            assert ADOPTED not in log
            beat = int(node_value(d, "heartbeat_us"))
            wait_for(lambda: int(node_value(d, "heartbeat_us")) > beat + 3 * S, 20,
                     "three seconds of the daemon's heartbeats")
            assert list(video.rglob("*")) == [], "nothing written onto the other disk"
        finally:
            assert d.stop() == 0, d.log
    finally:
        subprocess.run(["umount", "-l", str(video)], check=False)


def test_a_config_that_fails_validation_after_the_early_spawn_records_nothing(tmp_path, cameras):
    """`edged run` starts the workers' interpreters before it validates the config (design/0025's
    addendum): a file that is good TOML but a bad config still stops everything, with the
    config's own error and status 78, the idle workers gone and nothing written."""
    data = tmp_path / "data"
    cams = [{"id": c, "url": cameras.url(c)} for c in "ab"]
    config = write_config(tmp_path / "edged.toml", data, cams, storage={"segment_length": "2s"},
                          recorder={"workers": 2})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: d.segments("a") and d.segments("b"), 40, "both cameras recording")
    finally:
        assert d.stop() == 0, d.log
    before_rows, before_files = rows(d, "segments", lambda r: True), footage_files(data)
    write_config(config, data, cams, storage={"segment_length": "2s"}, recorder={"workers": 2, "worker": 3})
    since = len(d.log)
    d.start()
    try:
        rc = d.proc.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError("edged kept running on a bad config:\n" + d.log[since:]) from None
    log = d.log[since:]
    assert rc == 78, log
    assert re.search(r"bad config: .*recorder\.worker\b", log), log
    m = re.search(r"2 recorder worker\(s\) started before the config is read \(pids (\d+) (\d+)\)", log)
    assert m, log
    for pid in map(int, m.groups()):  # waited for by edged run itself, not left behind
        assert not Path(f"/proc/{pid}").exists(), f"idle worker {pid} outlived edged run"
    assert "ready" not in log and "recording" not in log, log
    assert rows(d, "segments", lambda r: True) == before_rows
    assert footage_files(data) == before_files
