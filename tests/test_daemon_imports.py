"""A recording daemon has not loaded PyAV or aiohttp (design/0286): its start-up (recovery, the
ONVIF clocks) and its recording (the segments' rows) need neither; the worker recording its
camera has PyAV, and the pool's idle spare worker has not (design/0291). Nor numpy (design/0297):
the workers compare their pictures with the reference pictures the daemon sends them. Read off the
processes' memory maps, so an import at run time counts as much as one at the top of a module
(tests/test_start_imports.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cameras import RtspServer
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.health_clips import health_clip
from tests.support.people import People

PYAV = "libavformat"  # PyAV's FFmpeg, as its wheel maps it
AIOHTTP = "/aiohttp/"  # aiohttp's compiled parsers
NUMPY = "/numpy/"  # numpy's compiled core


def mapped(pid: int) -> set[str]:
    """The files process `pid` maps."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(None, 5)[5] for line in lines if len(line.split(None, 5)) == 6}


def test_a_recording_daemon_maps_neither_pyav_nor_aiohttp(tmp_path):
    data = tmp_path / "data"
    # "gate" answers nothing (the discard port): the daemon asks its ONVIF clock at start all the same
    config = write_config(tmp_path / "edged.toml", data, [
        {"id": "demo", "url": "synthetic:?fps=5"},
        {"id": "gate", "url": "rtsp://127.0.0.1:9/gate", "onvif": "127.0.0.1:9"}])
    d = Daemon(config, data, tmp_path / "edged.log", warm=False).start()
    try:
        wait_for(lambda: d.segments("demo"), 60, "a segment of the camera")
        wait_for(lambda: "camera gate: no ONVIF clock at 127.0.0.1:9" in d.log, 60, "the gate camera's clock asked")
        assert d.proc is not None
        files = mapped(d.proc.pid)
        assert [f for f in files if PYAV in f or AIOHTTP in f] == []
        assert any(PYAV in f for f in mapped(d.worker_of("demo")))
        # named as `top` and `ps -o comm` show them (and the run's CPU by program counts them)
        comm = [Path(f"/proc/{pid}/comm").read_text().strip() for pid in (d.proc.pid, d.worker_of("demo"))]
        assert comm == ["edged", "edged-recorder"]
    finally:
        assert d.stop() == 0, d.log


def test_pictures_are_compared_with_the_reference_by_the_worker_and_the_daemon_maps_no_numpy(tmp_path, monkeypatch):
    """A reference picture set with edgectl reaches the camera's worker, which says how alike each
    sample is; a worker killed and started again is sent it again when its first sample comes
    without it (design/0297). The daemon never maps numpy all along."""
    data = tmp_path / "data"
    server = RtspServer({"demo": health_clip(tmp_path / "clips", "healthy").spec()}).start()  # a still scene
    config = write_config(tmp_path / "edged.toml", data, [{"id": "demo", "url": server.url("demo")}],
                          tables={"health": {"sample_interval": "1s", "sample_interval_max": "1s"}})
    d = Daemon(config, data, tmp_path / "edged.log", warm=False).start()
    try:
        people = People(config, tmp_path, monkeypatch)
        people.add("tech", "custodian")
        people.as_("tech")

        def health() -> dict:
            row = d.camera("demo")
            return json.loads(row["health"]) if row and row["health"] else {}

        wait_for(lambda: health().get("samples", 0) >= 2, 60, "the camera's pictures checked")
        assert health()["similarity"] is None  # no reference yet
        # refused while the newest sample is over three intervals old (a loaded box skips one): asked again
        wait_for(lambda: people.ctl("camera", "set-reference", "demo").returncode == 0, 30, "a reference picture")
        wait_for(lambda: (health().get("similarity") or 0) > 0.6, 30, "the worker's likeness to the reference")
        worker = d.worker_of("demo")
        assert any(NUMPY in f for f in mapped(worker))

        os.kill(worker, signal.SIGKILL)
        after = health()["samples"]  # the row is written every 2 s: a few of the dead worker's may follow
        # the new worker's first sample comes without the reference (the daemon sends it then), the rest with it
        wait_for(lambda: health()["samples"] >= after + 6 and (health().get("similarity") or 0) > 0.6, 90,
                 "the new worker's samples compared with the reference")
        assert d.worker_of("demo") != worker
        assert d.proc is not None
        assert [f for f in mapped(d.proc.pid) if NUMPY in f] == []
    finally:
        try:
            assert d.stop() == 0, d.log
        finally:
            server.stop()


def _waiting_for_input(pid: int) -> bool:
    """The worker's main thread sits in read(2) on its stdin: its start-up imports are done."""
    return Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]


@pytest.mark.parametrize("spare", [False, True], ids=["slot's worker", "pool's spare"])
def test_a_worker_has_pyav_before_its_settings_and_the_spare_once_given_them(tmp_path, spare):
    proc = subprocess.Popen([sys.executable, "-m", "recorder.worker", *(["--spare"] if spare else [])], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=os.environ)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        wait_for(lambda: _waiting_for_input(proc.pid), 60, "the worker idle, waiting for its settings")
        assert any(PYAV in f for f in mapped(proc.pid)) is not spare
        settings = {"data_dir": str(tmp_path), "segment_us": 60_000_000, "fragment_us": 1_000_000,
                    "fsync_us": 2_000_000, "connect_timeout_us": 10_000_000, "read_timeout_us": 10_000_000,
                    "reconnect_max_us": 2_000_000, "sample_us": 0, "site": "t", "node": "t"}
        proc.stdin.write(json.dumps(settings) + "\n" + json.dumps(
            {"cmd": "add", "camera": {"id": "demo", "url": "synthetic:?fps=10"}}) + "\n")
        proc.stdin.flush()
        while json.loads(proc.stdout.readline() or '{"ev": "eof"}')["ev"] not in ("open", "eof"):
            pass  # the camera's first segment opened (or the worker ended: the next line fails)
        assert any(PYAV in f for f in mapped(proc.pid))
    finally:
        proc.stdin.close()
        proc.wait(60)
