"""Issue 14: no single fault beside the recorders stops recording. Faults are injected into a
real daemon (EDGED_TEST_HOOKS=1, SIGUSR1): an exception in the viewer, the MQTT task and the
health monitor, EMFILE on unlinks of a retention pass. Each raises its alarm, the task comes
back, and the camera's footage stays one unbroken run."""

from __future__ import annotations

import asyncio
import random
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from edged.daemon import task_keeper
from edged.daemon.recording.supervisor import AUX_STOP_S
from storage.footage.segment_rows import FOOTAGE_STATES
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.catalog import alarms as alarm_rows, rows
from tests.support.daemon import Daemon, wait_for, write_config
from storage import alarm_kinds as kinds

BASE = "edged/v1/test/node1"


def test_a_task_others_wait_for_runs_once_even_if_edged_stopped_before_it_started():
    """The start-up recovery: adopted workers' first gaps wait for it (design/0029)."""
    async def main() -> list:
        stopping = asyncio.Event()
        stopping.set()
        ran: list = []

        async def fn(s: asyncio.Event) -> None:
            ran.append(s.is_set())
            if len(ran) > 1:
                raise RuntimeError("fails once stopped: not started again")

        await task_keeper.keep("plain", fn, stopping, None)
        assert ran == [], "a plain task does not start once edged stops"
        await task_keeper.keep("recovery", fn, stopping, None, even_if_stopped=True)
        await task_keeper.keep("recovery", fn, stopping, None, even_if_stopped=True)
        return ran
    assert asyncio.run(main()) == [True, True]


def test_backoff_doubles_to_a_cap_with_jitter():
    rng = random.Random(1)
    first = [task_keeper.backoff_s(n, rng) for n in range(1, 10)]
    assert 0.8 <= first[0] <= 1.2 and 1.6 <= first[1] <= 2.4
    assert all(v <= task_keeper.MAX_BACKOFF_S * 1.2 for v in first) and first[-1] >= task_keeper.MAX_BACKOFF_S * 0.8


def unbroken(d: Daemon, camera: str) -> list[tuple[int, int]]:
    """Every piece of the camera's footage, kept or destroyed by retention, in order; they must abut."""
    # Two reads of a running daemon's catalog: a segment destroyed between them is in both, once
    # each (its destruction is written with its deletion), so pieces are keyed by segment id.
    kept = {r["id"]: r for r in rows(d, "segments", lambda r: r["camera"] == camera and r["state"] in FOOTAGE_STATES)}
    gone = {r["segment_id"]: r for r in rows(d, "destructions", lambda r: r["camera"] == camera)}
    pieces = sorted({**kept, **gone}.values(), key=lambda r: r["start_us"])
    spans = [(r["start_us"], r["end_us"]) for r in pieces]
    holes = [(a, b) for (_, a), (b, _) in zip(spans, spans[1:]) if b != a]
    assert holes == [], f"footage has holes: {holes}"
    return spans


def viewer_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def camera(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as srv:
        yield srv


def test_faults_in_viewer_mqtt_health_and_retention_are_alarms_and_restarts(tmp_path, camera, monkeypatch):
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, f"{BASE}/#").start()
    port = free_port()
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"}, tables={
                              "retention": {"min_retention": "1s", "max_retention": "6s", "interval": "1s",
                                            "allow_short_for_tests": True},
                              "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                              "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                                       "reconnect_max": "1s"}})
    monkeypatch.setenv("EDGED_TEST_HOOKS", "1")
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: rows(d, "destructions"), 40, "retention destroying footage past 6 s")
        wait_for(lambda: viewer_up(port), 20, "the viewer")
        wait_for(lambda: sub.last(f"{BASE}/status") and sub.last(f"{BASE}/status").payload == b"online", 20,
                 "MQTT online")
        online_before = sum(m.topic == f"{BASE}/status" and m.payload == b"online" for m in list(sub.messages))
        destroyed_before = len(rows(d, "destructions"))

        (data / "test-faults").write_text("viewer\nreporting\nhealth\nretention-emfile 2\n")
        d.signal(signal.SIGUSR1)

        def alarms(kind: str) -> list[dict]:
            return alarm_rows(d, lambda r: r["kind"] == kind)

        for task in ("viewer", "reporting", "health"):
            wait_for(lambda: any(a["key"] == f"task_failed:{task}" for a in alarms(kinds.TASK_FAILED.name)), 20,
                     f"the task_failed alarm of {task}")
        failed = wait_for(lambda: alarms(kinds.RETENTION_FILE_ERRORS.name), 30, "the retention_file_errors alarm")[0]
        assert "EMFILE" in failed["message"] or "Too many open files" in failed["message"]
        # the skipped files stay on the books and go at a later pass; the alarm clears
        wait_for(lambda: alarms(kinds.RETENTION_FILE_ERRORS.name)[0]["cleared_us"], 30, "the file-error alarm cleared")
        wait_for(lambda: not rows(d, "garbage"), 10, "the skipped files removed later")
        assert len(rows(d, "destructions")) > destroyed_before
        on_disk = {str(p.relative_to(data)) for p in (data / "video").rglob("*.mp4")}
        assert not on_disk & {r["path"] for r in rows(d, "destructions")}

        # every task is back
        wait_for(lambda: viewer_up(port), 20, "the viewer back")
        wait_for(lambda: sum(m.topic == f"{BASE}/status" and m.payload == b"online"
                             for m in list(sub.messages)) > online_before, 30, "MQTT online again")
        wait_for(lambda: all(f"task {t} restarted" in d.log for t in ("viewer", "reporting", "health")), 20,
                 "the three tasks restarted")
        raised = {a["key"]: a for a in alarms(kinds.TASK_FAILED.name)}
        assert set(raised) == {"task_failed:viewer", "task_failed:reporting", "task_failed:health"}
        assert all(a["severity"] == "critical" for a in raised.values())
        mqtt_alarms = [m.json() for m in list(sub.messages) if m.topic == f"{BASE}/alarm"]
        assert {"task_failed:health", kinds.RETENTION_FILE_ERRORS.name} <= {a.get("id") for a in mqtt_alarms}

        # recording never stopped: one unbroken run, still growing
        n = len(unbroken(d, "cam"))
        wait_for(lambda: len(unbroken(d, "cam")) >= n + 2, 20, "recording going on")
        assert d.gaps("cam") == []
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0, d.log[-3000:]
        broker.stop()


@pytest.mark.parametrize("moment", ["the catalog is open", "recording is about to start", "recording"])
def test_a_stop_at_any_moment_of_start_up_ends_promptly_and_cleanly(tmp_path, camera, moment):
    """CI once waited 40 s for a daemon stopped during start-up: the task announcing READY waited
    for a start that a stop had called off. Every task must end on the stop, none be cancelled."""
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}])
    d = Daemon(config, data, tmp_path / "edged.log").start()
    marks = {"the catalog is open": "made the data folder", "recording is about to start": "recording 1 cameras into",
             "recording": "ready: recording has started"}
    wait_for(lambda: marks[moment] in d.log, 30, moment, interval=0.01)
    started = time.monotonic()
    assert d.stop(timeout=30) == 0, d.log[-3000:]  # SIGTERM, then wait
    took = time.monotonic() - started
    assert "had not ended" not in d.log and "never retrieved" not in d.log, d.log[-3000:]
    assert took < AUX_STOP_S, f"the stop took {took:.1f} s"


def catches(pid: int, sig: int) -> bool:
    """The process has a handler of its own for `sig` (/proc's SigCgt mask)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    mask = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(mask >> (sig - 1) & 1)


@pytest.mark.parametrize("start", ["first start", "restart"])
def test_a_sigterm_as_soon_as_edged_run_catches_it_is_a_clean_stop(tmp_path, camera, start):
    """design/0205: a technician's `systemctl stop` from the moment `edged run` catches SIGTERM
    (its first line: before the config, the data folder's lock, the workers) is edged's own
    prompt stop with status 0, and no worker stays."""
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}])
    d = Daemon(config, data, tmp_path / "edged.log")
    if start == "restart":  # a catalog: `edged run` would start the workers before the daemon's imports
        d.start()
        wait_for(lambda: "ready: recording has started" in d.log, 60, "recording")
        assert d.stop() == 0, d.log[-3000:]
    since = len(d.log) if d.log_path.exists() else 0
    d.start()
    assert d.proc is not None
    pid = d.proc.pid
    wait_for(lambda: catches(pid, signal.SIGTERM) or d.proc.poll() is not None, 30, "edged run catching SIGTERM",
             interval=0.001)
    started = time.monotonic()
    assert d.stop(timeout=30) == 0, d.log[since:]  # SIGTERM, then wait
    took = time.monotonic() - started
    log = d.log[since:]
    # edged's own stop (a signal's default action would be status -15), wherever start-up had got to
    assert ("stopped during start-up, before the data folder was opened" in log
            or "SIGTERM: closing open segments and stopping" in log), log
    assert took < AUX_STOP_S, f"the stop took {took:.1f} s"
    assert not in_group(pid), "a recorder worker outlived edged run"


def in_group(pgid: int) -> list[int]:
    """The processes of this process group (the daemon's session: its workers too)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
            found.append(int(entry.name))
    return found


def test_a_failing_recovery_after_a_worker_death_is_kept_not_fatal(monkeypatch):
    """recover-N (issue 27): an EIO while salvaging a dead worker's segments is the task's
    alarm and a retry; the supervisor's other tasks (recording) go on."""
    import errno
    import types

    from edged.daemon.recording import supervisor as sv
    calls: list[str] = []

    async def recover(writer, data_dir, expect, cams, died_us, what, done):
        calls.append(what)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        done.set_result(None) if not done.done() else None

    class Alarms:
        def __init__(self):
            self.raised: list[str] = []

        async def raise_(self, kind, message, detail=None, *, camera=None, about=None):
            self.raised.append(kind.key(about))

        async def clear(self, key):
            pass

    monkeypatch.setattr(sv, "recover_dead_worker", recover)
    monkeypatch.setattr(task_keeper, "FIRST_BACKOFF_S", 0.05)

    async def main():
        sup = object.__new__(sv.Supervisor)
        sup.stopping, sup.alarms, sup.guard, sup.writer = asyncio.Event(), Alarms(), None, None
        sup.cfg = types.SimpleNamespace(storage=types.SimpleNamespace(data_dir="/nonexistent"))
        sup.clock = types.SimpleNamespace(now_us=lambda: 1)
        sup.gaps = types.SimpleNamespace(reason={}, expect_recovery=lambda cams, done: None)
        sup.cameras = types.SimpleNamespace(mark_offline=lambda cam: None)
        recording = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            sup._tg = tg
            still = tg.create_task(asyncio.wait_for(recording.wait(), 60))  # stands for the recording tasks
            sup._after_worker_death(types.SimpleNamespace(cameras={"cam": None}, index=3))
            deadline = asyncio.get_running_loop().time() + 30
            while len(calls) < 2 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            assert not still.done(), "the failure ended the supervisor's other tasks"
            recording.set()
        return calls, sup.alarms.raised

    calls_made, raised = asyncio.run(main())
    assert calls_made == ["worker 3 died", "worker 3 died"] and raised == ["task_failed:recover-3"]


def test_recovery_priority_is_lowered_or_the_refusal_is_logged(monkeypatch, caplog):
    """The unit's `~@resources` filter refused setpriority and nothing said so (issue 27)."""
    import errno
    import os
    import threading
    from pathlib import Path

    from storage.footage import reconcile

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert asyncio.run(reconcile.in_background(niceness)) == reconcile.NICE

    def refused(*_a):
        raise PermissionError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(os, "setpriority", refused)
    with caplog.at_level("WARNING", logger="storage.footage.reconcile"):
        assert asyncio.run(reconcile.in_background(lambda: "done")) == "done"
    assert "normal CPU priority: setpriority(nice +10) was refused (Operation not permitted)" in caplog.text

    unit = (Path(__file__).resolve().parent.parent / "systemd" / "edged.service").read_text().splitlines()
    filters = [line.split("=", 1)[1] for line in unit if line.startswith("SystemCallFilter=")]
    removes = max(i for i, f in enumerate(filters) if "@resources" in f and f.startswith("~"))
    assert any("setpriority" in f.split() for f in filters[removes + 1:]), "setpriority allowed after ~@resources"



def test_the_tests_door_to_a_daemon_sees_each_commit_and_lets_the_catalog_go_before_a_stop(tmp_path):
    """tests/support/daemon.py (design/0516): while the daemon runs its catalog reads keep one connection and
    see every commit; a stop lets it go first, so the daemon's last close still folds its WAL into the catalog
    (a reader left open keeps the WAL beside it). Its log is read from where the last read ended, a character
    cut by a write whole at the next read, and a log cut shorter from its start."""
    import subprocess

    from storage.catalog import open_db
    from tests.support.catalog import node_value, set_node

    log = tmp_path / "edged.log"
    d = Daemon(tmp_path / "edged.toml", tmp_path, log)
    writer = open_db(tmp_path / "catalog.db")  # stands for the daemon's catalog writer
    d.proc = subprocess.Popen(["sleep", "60"])  # and this for the running daemon
    d._log = open(log, "ab")
    try:
        assert node_value(d, "k") is None
        for n in range(3):
            set_node(writer, "k", f"v{n}")
            assert node_value(d, "k") == f"v{n}"
        log.write_bytes("錄影 started\n".encode() + "已".encode()[:2])
        assert d.log == "錄影 started\n"
        with open(log, "ab") as f:
            f.write("已".encode()[2:] + b" ready\n")
        assert d.log == "錄影 started\n已 ready\n" == log.read_text()
        log.write_text("restarted\n")
        assert d.log == "restarted\n"
    finally:
        d.stop()
    assert (tmp_path / "catalog.db-wal").exists()  # the writer's, still open
    writer.conn.close()
    assert not (tmp_path / "catalog.db-wal").exists(), "a reader left open kept the WAL beside the catalog"
    assert node_value(d, "k") == "v2"
