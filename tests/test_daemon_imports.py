"""A recording daemon has not loaded PyAV or aiohttp (design/0286): its start-up and its
recording (recovery, the segments' rows, the health checks of the workers' pictures) need
neither; its recorder workers have PyAV. Read off the processes' memory maps, so an import
at run time counts as much as one at the top of a module (tests/test_start_imports.py)."""

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
    config = write_config(tmp_path / "edged.toml", data, [{"id": "demo", "url": "synthetic:?fps=5"}])
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: d.segments("demo"), 60, "a segment of the camera")
        assert d.proc is not None
        files = mapped(d.proc.pid)
        assert [f for f in files if PYAV in f or AIOHTTP in f] == []
        workers = d.workers()
        assert workers and all(any(PYAV in f for f in mapped(pid)) for pid in workers)
    finally:
        assert d.stop() == 0, d.log
