"""Run the real daemon as a subprocess against a config the test writes, and read its catalog."""

from __future__ import annotations

import codecs
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from storage.footage.segment_rows import FOOTAGE_STATES
from tests.support import ctlfork, logs
from tests.support.catalog import one, rows
from tests.support.load import slack

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s, a deadline
    stretched by slack() when it passes on a loaded box (the condition is what is waited for, and a
    fast box never waits longer). Between checks it rests `interval`, or as long as the check took, up to
    a second: a check that runs edgectl (0.2-0.5 s of CPU a process) polled back to back kept a core busy
    for as long as a test waited, beside every other worker's test (design/0390)."""
    began = time.monotonic()
    deadline = began + timeout
    stretched = False
    while True:
        asked = time.monotonic()
        result = check()
        if result:
            return result
        now = time.monotonic()
        if now > deadline and not stretched:
            stretched, deadline = True, began + timeout * slack()
        if now > deadline:
            raise AssertionError(f"timed out after {now - began:.0f} s (nominal {timeout:.0f} s) waiting for {what}")
        time.sleep(max(interval, min(now - asked, 1.0)))


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):   # an array, e.g. [policy.citizen] modes
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, (int, float)):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


READER_ENV = "EDGED_TEST_READER"  # edged | ffmpeg: every camera's `reader` unless the test sets one


SYNTHETIC = "synthetic:?width=320&height=240"  # the test pattern write_config gives a camera at "synthetic:"


def write_config(path: Path, data_dir: Path, cameras: list[dict[str, Any]], storage: dict[str, Any] | None = None,
                 recorder: dict[str, Any] | None = None, tables: dict[str, dict[str, Any]] | None = None) -> Path:
    """A config for the daemon; `tables` adds more, e.g. {"health": {"raise_after": "2s"}}. A camera
    URL with a password goes where a site keeps it (issue 45: edged refuses it in the config): a
    secrets file beside the config, `<name>.secrets.toml`, unless `tables` names one itself."""
    from edged.config.values import redact_url

    tables = dict(tables or {})
    hidden = {c["id"]: c["url"] for c in cameras if isinstance(c.get("url"), str) and redact_url(c["url"]) != c["url"]}
    if hidden and "secrets" not in tables:
        secrets = path.with_name(path.stem + ".secrets.toml")
        secrets.write_text("[cameras]\n" + "".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in hidden.items()))
        os.chmod(secrets, 0o600)
        tables["secrets"] = {"file": secrets.name}
    else:
        hidden = {}
    lines = ["[site]", 'id = "test"', "", "[storage]", f"data_dir = {toml_value(str(data_dir))}"]
    lines += [f"{k} = {toml_value(v)}" for k, v in {"segment_length": "3s", **(storage or {})}.items()]
    for name, table in {"recorder": recorder, **tables}.items():
        if table:
            lines += ["", f"[{name}]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    forced = os.environ.get(READER_ENV)  # the whole suite with one RTSP reader (design/0079)
    for cam in cameras:
        if cam.get("url") == "synthetic:":
            # the demo pattern at a tenth of its pixels: its libx264 encoder at 1280x720 took 0.3 of a core for as long
            # as the daemon ran, beside every other test (design/0390); a test of the picture's size names its own
            cam = {**cam, "url": SYNTHETIC}
        cam = {"reader": forced, **cam} if forced and "url" in cam else cam
        lines += ["", "[[cameras]]"] + [f"{k} = {toml_value(v)}" for k, v in cam.items()
                                        if not (k == "url" and cam["id"] in hidden)]
    path.write_text("\n".join(lines) + "\n")
    return path


def ctl_argv(socket: Path) -> list[str]:
    """edgectl as the tests run it: it reads no config, it is told the daemon's socket."""
    return [sys.executable, "-m", "edged.cli.edgectl", "--socket", str(socket)]


def ctl(d: "Daemon", *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """edgectl against the daemon (the caller's environment: its session, its language). An
    answer of "internal error; see the daemon's log" carries the daemon's log's last traceback in
    its stderr, so a failing test says what went wrong in the daemon, not only that it did."""
    r = ctlfork.run([*d.ctl, *args], cwd=ROOT, timeout=timeout)
    if "internal error" in r.stderr:
        log = d.log
        r.stderr += "\n--- the daemon's log, from its last traceback:\n" + log[max(0, log.rfind("Traceback") - 2000):][-8000:]
    return r


class Daemon:
    """`edged run --config PATH` in its own process group, so a test can kill all of it."""

    def __init__(self, config: Path, data_dir: Path, log: Path, init_data: bool = True, warm: bool = True):
        self.config, self.data_dir, self.log_path = config, data_dir, log
        self.init_data = init_data  # --init-data: a fresh test folder is a new installation
        self.warm = warm  # forked from the tests' warm copy; False: started as a process of its own (what it loads)
        self.proc: subprocess.Popen | ctlfork.Forked | None = None
        self._socket: tuple[tuple[int, int, int], Path] | None = None  # (the config's stat, its socket)
        self._read: tuple[tuple[int, int], int, Any, str] | None = None  # the log read so far (design/0516)
        self._kept: tuple[tuple[int, int, int], sqlite3.Connection] | None = None  # (file, thread), the catalog

    def start(self) -> "Daemon":
        self._log = open(self.log_path, "ab")
        logs.started(self.log_path, "edged")
        # forked from the tests' warm copy of edged (tests/support/ctlfork.py), in a process group of its own
        self.proc = ctlfork.spawn([sys.executable, "-m", "edged.cli", "run", "--config", str(self.config)]
                                  + ["--init-data"] * self.init_data, cwd=ROOT, stdout=self._log, new_session=True,
                                  warm=self.warm)
        return self

    @property
    def socket(self) -> Path:
        """The control socket the config names, loaded again only when the config file changed (every edgectl
        call asks: 3 ms of the test's CPU a load, design/0516)."""
        from edged.config import load_config

        st = os.stat(self.config)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._socket is None or self._socket[0] != key:
            self._socket = (key, load_config(self.config).control.socket)
        return self._socket[1]

    @property
    def ctl(self) -> list[str]:
        return ctl_argv(self.socket)

    @property
    def log(self) -> str:
        """The daemon's log so far. Only what was written since the last call is read and decoded: a wait that
        polls for a line read and decoded the whole file each poll (design/0516). A log replaced or cut shorter is
        read again from its start."""
        try:
            st = os.stat(self.log_path)
        except FileNotFoundError:
            self._read = None
            return ""
        read = self._read
        if read is None or read[0] != (st.st_dev, st.st_ino) or st.st_size < read[1]:
            read = ((st.st_dev, st.st_ino), 0, codecs.getincrementaldecoder("utf-8")(errors="replace"), "")
        if st.st_size > read[1]:
            with open(self.log_path, "rb") as f:
                f.seek(read[1])
                new = f.read()
            read = (read[0], read[1] + len(new), read[2], read[3] + read[2].decode(new))
        self._read = read
        return read[3]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self._let_go()
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM and wait: every open segment must be closed."""
        assert self.proc is not None
        self._let_go()  # the daemon's last close folds its WAL into the catalog, as with no test reading it
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:  # the daemon dumps its threads' stacks into the log
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self._log.close()
            raise AssertionError(f"edged had not stopped {timeout:.0f} s after SIGTERM; its log ends:\n"
                                 + self.log[-12000:]) from None
        self._log.close()
        return rc

    def kill_all(self) -> None:
        """SIGKILL to the daemon and its recorder workers at once, as a crash or power cut."""
        assert self.proc is not None
        self._let_go()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def workers(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(p) for p in children]

    def worker_of(self, camera: str) -> int:
        """The worker pid that has this camera's current segment open."""
        def find():
            for pid in self.workers():
                try:
                    fds = os.listdir(f"/proc/{pid}/fd")
                except FileNotFoundError:
                    continue
                for fd in fds:
                    try:
                        if f"/video/{camera}/" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                            return pid
                    except OSError:
                        pass
            return None
        return wait_for(find, 15, f"the worker recording {camera}")

    # catalog ------------------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        conn = self._catalog()
        if conn is None:
            return []  # not created yet
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        except sqlite3.OperationalError:
            self._let_go()  # opened again at the next call, as before
            return []  # tables not created yet
        finally:
            if self._kept is None or conn is not self._kept[1]:
                conn.close()

    def _catalog(self) -> sqlite3.Connection | None:
        """A read-only connection to the catalog. While the daemon runs, the same one is kept for the next call
        of the same thread (and the same file: a catalog replaced is opened again): a wait polling the catalog
        opened a connection each poll, and SQLite read the catalog's whole schema on each (1-2 ms of the test's
        CPU a poll, the most of a daemon test's own: design/0516). It is let go before the daemon is signalled
        or stopped, so the daemon's last close still folds its WAL into the file."""
        path = self.data_dir / "catalog.db"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._let_go()
            return None
        key = (st.st_dev, st.st_ino, threading.get_ident())
        running = self.proc is not None and self.proc.poll() is None
        if self._kept is not None and running and self._kept[0] == key:
            return self._kept[1]
        if self._kept is not None and (not running or self._kept[0][:2] != key[:2]):
            self._let_go()
        try:
            # (another thread may let it go: a stop from the test's thread while a helper's thread polled)
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.OperationalError:
            return None
        conn.row_factory = sqlite3.Row
        if running and self._kept is None:
            self._kept = (key, conn)
        return conn

    def _let_go(self) -> None:
        if self._kept is not None:
            self._kept[1].close()
            self._kept = None

    def segments(self, camera: str, states: tuple[str, ...] = FOOTAGE_STATES) -> list[dict[str, Any]]:
        return rows(self, "segments", lambda r: r["camera"] == camera and r["state"] in states, order="start_us")

    def gaps(self, camera: str) -> list[dict[str, Any]]:
        return rows(self, "gaps", lambda r: r["camera"] == camera, order="from_us")

    def camera(self, camera: str) -> dict[str, Any] | None:
        return one(self, "cameras", lambda r: r["id"] == camera)
