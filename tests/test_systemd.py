"""The appliance side: systemd's notify protocol against a real datagram socket, the unit
file checked by systemd-analyze, and a bad config that must not restart-loop."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edged.daemon.notify import Notifier, while_extending
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import ROOT, Daemon, wait_for, write_config

UNIT = ROOT / "systemd" / "edged.service"


class NotifySocket:
    """What systemd would receive on NOTIFY_SOCKET."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def drain(self) -> list[str]:
        while True:
            try:
                data = self.sock.recv(65536).decode()
            except (socket.timeout, BlockingIOError):
                break
            for field in data.split("\n"):
                if field:
                    self.messages.append((time.monotonic(), field))
        return [m for _t, m in self.messages]

    def has(self, prefix: str):
        return lambda: [m for m in self.drain() if m.startswith(prefix)]

    def close(self):
        self.sock.close()


@pytest.fixture
def camera(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as srv:
        yield srv


def test_notify_ready_status_watchdog_stopping_and_pings_stop_on_a_hang(tmp_path, camera):
    notify = NotifySocket(tmp_path / "notify.sock")
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}])
    d = Daemon(config, data, tmp_path / "edged.log")
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000", "EDGED_TEST_HOOKS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        d.start()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    try:
        wait_for(notify.has("READY=1"), 30, "READY=1")
        wait_for(lambda: len(notify.has("WATCHDOG=1")()) >= 3, 20, "three watchdog pings")
        wait_for(lambda: any("1/1 cameras recording" in m for m in notify.has("STATUS=")()), 20,
                 "a STATUS with the camera recording")
        msgs = notify.drain()
        assert msgs.index("READY=1") < msgs.index("WATCHDOG=1")
        assert any(m.startswith("EXTEND_TIMEOUT_USEC=") for m in msgs[:msgs.index("READY=1")])
        status = next(m for m in msgs if m.startswith("STATUS="))
        assert "GB free" in status and "retention" in status and "broker" in status

        d.signal(signal.SIGUSR2)  # test hook: the catalog writer hangs
        hung = time.monotonic()

        def quiet_for(seconds: float):
            def check():
                notify.drain()
                pings = [t for t, m in notify.messages if m == "WATCHDOG=1"]
                return time.monotonic() - pings[-1] > seconds
            return check

        wait_for(quiet_for(6), 40, "the watchdog pings to stop")
        last_ping = max(t for t, m in notify.messages if m == "WATCHDOG=1")
        assert last_ping - hung < 20, "pings stop once the writer has made no progress for the stall limit"
        assert any("STALLED" in m and "catalog writer" in m for m in notify.drain())
        d.signal(signal.SIGTERM)
        wait_for(notify.has("STOPPING=1"), 10, "STOPPING=1")
    finally:
        if d.proc.poll() is None:
            d.kill_all()
        notify.close()


def test_no_notify_socket_is_quietly_skipped(tmp_path):
    from edged.daemon.notify import Notifier
    os.environ.pop("NOTIFY_SOCKET", None)
    n = Notifier()
    assert not n.enabled and n.watchdog_us == 0
    n.ready("x")
    n.watchdog()  # nothing to send to, nothing raised


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed here")
def test_unit_is_valid_and_hardened():
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(UNIT)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    problems = [l for l in r.stderr.splitlines() if "edged.service" in l and "/opt/edged" not in l]
    assert r.returncode == 0 or not problems, r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for edged\.service: ([0-9.]+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed here")
def test_the_media_workers_units_are_valid_and_hardened():
    """design/0323: one worker a connection, as edged-media, with no network."""
    units = [ROOT / "systemd" / "edged-media.socket", ROOT / "systemd" / "edged-media@.service"]
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    problems = [l for l in r.stderr.splitlines() if "edged-media" in l and "/opt/edged" not in l]
    assert not problems, r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(units[1])],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for edged-media@\S*\.service: ([0-9.]+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 1.0, r.stdout
    text = units[1].read_text()
    assert "\nUser=edged-media\n" in text and "\nPrivateNetwork=yes\n" in text


def test_the_service_memory_is_bounded():
    """design/0063: a camera whose stream makes a worker allocate without end cannot take the box."""
    unit = UNIT.read_text()
    assert re.search(r"^MemoryMax=\d+%$", unit, re.M) and re.search(r"^MemoryHigh=\d+%$", unit, re.M)
    # a worker the kernel's OOM killer ends is restarted by the daemon; the service goes on
    assert re.search(r"^OOMPolicy=continue$", unit, re.M)


def test_unit_does_not_restart_a_bad_config():
    unit = UNIT.read_text()
    assert re.search(r"^RestartPreventExitStatus=.*\b78\b", unit, re.M)
    assert re.search(r"^Restart=on-failure$", unit, re.M)
    assert re.search(r"^Type=notify$", unit, re.M) and re.search(r"^WatchdogSec=", unit, re.M)


def test_logs_go_to_the_journal_with_fields_only_when_stderr_is_the_journal(tmp_path):
    from storage.process import logs
    assert logs.message_id("tamper") == logs.message_id("tamper") != logs.message_id("min_retention_breach")
    assert len(logs.message_id("tamper")) == 32
    assert logs.fields(camera="c1", segment="video/c1/x.mp4", alarm="tamper:x", kind="tamper")["extra"] == {
        "CAMERA": "c1", "SEGMENT": "video/c1/x.mp4", "ALARM": "tamper:x", "MESSAGE_ID": logs.message_id("tamper")}
    probe = ("import logging, os, sys\nfrom storage.process import logs\nlogs.setup()\n"
             "print(type(logging.getLogger().handlers[0]).__name__)")
    err = tmp_path / "stderr"
    with open(err, "wb") as f:
        st = os.fstat(f.fileno())
        under = subprocess.run([sys.executable, "-c", probe], stderr=f, capture_output=False, stdout=subprocess.PIPE,
                               text=True, cwd=ROOT, env={**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                           env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"})
    assert under.stdout.strip() == "JournalHandler"
    assert plain.stdout.strip() == "StreamHandler"


async def test_a_long_start_up_step_keeps_pushing_the_start_timeout_out(tmp_path, monkeypatch):
    """A schema upgrade of a year's catalog takes minutes: systemd must hear EXTEND_TIMEOUT_USEC
    again and again while it runs, or TimeoutStartSec kills it (and it rolls back) at every start."""
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    notifier = Notifier()
    assert notifier.enabled

    async def long_step() -> str:  # done only once systemd has been told three times
        deadline = time.monotonic() + 20
        while len(await asyncio.to_thread(notify.has("EXTEND_TIMEOUT_USEC="))) < 3:
            assert time.monotonic() < deadline, notify.drain()
            await asyncio.sleep(0)
        return "migrated"

    try:
        # every 0.3 s: longer than the drain's 0.2 s wait for a next message
        assert await while_extending(notifier, long_step(), 90, every_s=0.3) == "migrated"
        assert set(notify.has("EXTEND_TIMEOUT_USEC=")()) == {"EXTEND_TIMEOUT_USEC=90000000"}
    finally:
        notify.close()
