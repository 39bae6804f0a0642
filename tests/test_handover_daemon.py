"""An upgrade's handover between two daemons (design/0353), on real RTSP cameras: SIGUSR2 to the
running daemon starts the next one, which holds every camera from a keyframe; each camera is given
over at its next keyframe; the running daemon lets its catalog and lock go and ends, and the next
one records on. Measured from the catalog's segments across the handover itself, as
tests/test_package.py's gaps_across does: the longest gap a camera <= 1 s (a kill -9's bound; a
plain restart costs each camera the stop, the start and a keyframe), no segment twice, every
segment decoding with ffmpeg -xerror."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from pathlib import Path

import pytest

from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.handover import alive, decodes, gaps_across, node_pid
from tests.test_systemd import NotifySocket

CAMERAS = ["cam0", "cam1", "cam2"]
S = 1_000_000


@pytest.fixture
def server(tmp_path):
    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10)
    with RtspServer({cam: clip.spec() for cam in CAMERAS}) as srv:
        yield srv


def test_a_handover_loses_no_more_than_a_kill_does(tmp_path, server, monkeypatch):
    """Also what systemd is told (NOTIFY_SOCKET, as tests/test_systemd.py reads it): the next daemon's READY
    counts the cameras it records (issue 89: its status read 0/4 for seconds while all four recorded)."""
    data = tmp_path / "data"
    cfg = write_config(tmp_path / "edged.toml", data, [{"id": c, "url": server.url(c)} for c in CAMERAS],
                       tables={"control": {"socket": str(tmp_path / "control.sock")}})
    notify = NotifySocket(Path(tempfile.mkdtemp(prefix="edged-notify-")) / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    # read as systemd reads it, all along: a datagram queue left full blocks a daemon's notify in its event loop
    reading = threading.Event()
    reader = threading.Thread(target=lambda: [notify.drain() for _ in iter(lambda: reading.wait(0.05), True)],
                              daemon=True)
    reader.start()
    d = Daemon(cfg, data, tmp_path / "edged.log").start()
    next_pid = None
    try:
        wait_for(lambda: all(len([s for s in d.segments(c) if s["end_us"]]) >= 2 for c in CAMERAS), 120,
                 "two closed segments of every camera")
        old_pid = d.proc.pid
        assert node_pid(d) == old_pid
        began_us = SYSTEM.now_us()
        d.signal(signal.SIGUSR2)
        next_pid = wait_for(lambda: (p := node_pid(d)) != old_pid and p, 180, "the next daemon's node row", 0.2)
        assert d.proc.wait(60) == 0, "the running daemon ends once it has handed over"
        ended_us = SYSTEM.now_us()
        wait_for(lambda: all(any(s["start_us"] > ended_us and s["end_us"] for s in d.segments(c)) for c in CAMERAS),
                 60, "a closed segment of each camera after the handover")
        # the next daemon's READY=1 and its STATUS come in one datagram, the first READY's the running one's
        wait_for(lambda: [m for _t, m in notify.messages].count("READY=1") >= 2, 60, "the next daemon's READY=1")
    finally:
        if next_pid is not None and alive(next_pid):
            os.kill(next_pid, signal.SIGTERM)
            wait_for(lambda: not alive(next_pid), 60, "the next daemon's stop")
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        reading.set()
        reader.join(10)
        said = notify.drain()
        notify.close()
    ready = [i for i, m in enumerate(said) if m == "READY=1"][1]
    print("the next daemon's READY:", said[ready + 1])
    assert said[ready + 1].startswith("STATUS=") and f"{len(CAMERAS)}/{len(CAMERAS)} cameras recording" in \
        said[ready + 1], said[ready - 2:ready + 3]
    log = d.log
    assert "handover: the next daemon" in log and "records every camera" in log, log[-4000:]
    assert "stamped earlier than footage" not in log, "a camera's first segment after the handover was flagged"
    gaps = gaps_across(d, CAMERAS, began_us, ended_us)
    print("handover: longest gap per camera (s):", {c: round(g, 3) for c, g in gaps.items()})
    assert max(gaps.values()) <= 1.0, gaps
    for cam in CAMERAS:
        segs = d.segments(cam)
        for a, b in zip(segs, segs[1:]):  # no picture twice: the next starts where the last ended, to the anchors
            assert b["start_us"] >= a["end_us"] - S // 2, (cam, a, b)
        for s in segs:
            assert s["sha256"], s
            assert decodes(data / s["path"]) == "", s["path"]


def test_a_next_daemon_that_does_not_come_up_leaves_the_running_one_recording(tmp_path, server, monkeypatch):
    """The next version cannot start (its start script fails, as a broken install would): the running
    daemon says why and records on, every camera without a gap; nothing was given."""
    start = tmp_path / "start"
    start.write_text("#!/bin/sh\necho 'the new version is broken' >&2\nexit 3\n")
    start.chmod(0o755)
    monkeypatch.setenv("EDGED_START", str(start))
    data = tmp_path / "data"
    cfg = write_config(tmp_path / "edged.toml", data, [{"id": c, "url": server.url(c)} for c in CAMERAS],
                       tables={"control": {"socket": str(tmp_path / "control.sock")}})
    d = Daemon(cfg, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: all(len([s for s in d.segments(c) if s["end_us"]]) >= 1 for c in CAMERAS), 120,
                 "a closed segment of every camera")
        began_us = SYSTEM.now_us()
        d.signal(signal.SIGUSR2)
        wait_for(lambda: "did not take over" in d.log, 60, "the running daemon saying the handover failed")
        ended_us = SYSTEM.now_us()
        wait_for(lambda: all(any(s["start_us"] > ended_us and s["end_us"] for s in d.segments(c)) for c in CAMERAS),
                 60, "a closed segment of each camera after")
        assert d.proc.poll() is None and node_pid(d) == d.proc.pid
    finally:
        assert d.stop() == 0
    assert "it ended before holding its cameras" in d.log and "recording goes on here" in d.log
    for cam in CAMERAS:  # no camera stopped: its segments abut throughout, and no gap is on record
        segs = [s for s in d.segments(cam) if s["end_us"]]
        assert segs[0]["start_us"] < began_us and segs[-1]["start_us"] > ended_us, segs
        assert all(b["start_us"] == a["end_us"] for a, b in zip(segs, segs[1:])), segs
        assert not d.gaps(cam), d.gaps(cam)
