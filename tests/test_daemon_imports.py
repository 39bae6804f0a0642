"""A recording daemon has not loaded PyAV or aiohttp (design/0286): its start-up (recovery, the
ONVIF clocks) and its recording (the segments' rows) need neither; the worker recording its
camera has PyAV. Read off the processes' memory maps, so an import at run time counts as much as
one at the top of a module (tests/test_start_imports.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import Daemon, wait_for, write_config

PYAV = "libavformat"  # PyAV's FFmpeg, as its wheel maps it
AIOHTTP = "/aiohttp/"  # aiohttp's compiled parsers


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
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: d.segments("demo"), 60, "a segment of the camera")
        wait_for(lambda: "camera gate: no ONVIF clock at 127.0.0.1:9" in d.log, 60, "the gate camera's clock asked")
        assert d.proc is not None
        files = mapped(d.proc.pid)
        assert [f for f in files if PYAV in f or AIOHTTP in f] == []
        assert any(PYAV in f for f in mapped(d.worker_of("demo")))
    finally:
        assert d.stop() == 0, d.log
