"""Runs docs/guide/failover.md's "Step by step" commands as they stand, in order, as a person at
each place would (tests/test_failover_guide.py starts it in network and PID namespaces of its own,
so the guide's fixed ports and its `pgrep` reach nothing else on the machine).

    python -m tests.support.guide_run GUIDE WORKDIR

Each ```sh block's first line names the place (`# site`, `# node1`, `# spare`, `# office`); each
place keeps its own environment (`export` lines). A line ending in `&` starts in the background;
every other line runs on a terminal of its own (a pseudo-terminal: `edgectl init-admin` and
`edgectl login` ask for the password there, and get it typed). Where a person would wait (the
daemon's socket up before `edgectl`, the box recording before it is killed, ...), this waits
for that, never for a fixed time. The office's lines are run with this run's office (its
config for `/etc/edged/central.toml`, without `sudo -u edged-ca`) and the fingerprint each box
printed for `SHA256:...`: what a person there types. The office's CA is made first, as
docs/guide/office-ca.md does once. Prints one JSON line of what it saw; exits non-zero on a
failed command or condition.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shlex
import socket
import sqlite3
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any, Callable

from tests.support.catalog import node_value, rows
from tests.support.daemon import wait_for

PASSWORD = "Guide-pw-7t3-Secret-9"
HEADING = "## Step by step"
SOCKETS = {"node1": "examples/failover/primary-data", "spare": "examples/failover/standby-data"}


def blocks(guide: str) -> list[tuple[str, list[str]]]:
    """(place, command lines) of each ```sh block of the step-by-step section, in order."""
    section = guide[guide.index(HEADING):]
    found = []
    for body in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines = [x.strip() for x in body.splitlines() if x.strip()]
        assert lines and lines[0].startswith("# "), f"a block without its place: {body!r}"
        found.append((lines[0][2:].strip(), lines[1:]))
    return found


def on_terminal(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run it on a pseudo-terminal of its own; a password prompt is answered as typed."""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=take_terminal)
    os.close(slave)
    out, answered, deadline = b"", 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other side closed: it ended
                break
            if not chunk:
                break
            out += chunk
            prompt = out[answered:].rsplit(b"\n", 1)[-1].lower()  # getpass's prompt ends no line
            if prompt.rstrip().endswith(b":") and (b"password" in prompt or b"again" in prompt):
                os.write(master, PASSWORD.encode() + b"\n")
                answered = len(out)
        elif proc.poll() is not None:
            break
    os.close(master)
    try:
        code = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = -9
    return code, out.decode(errors="replace").replace("\r\n", "\n")


class Run:
    def __init__(self, workdir: Path):
        self.dir = workdir
        base = {**os.environ, "EDGED_PEER_POLL_S": "1", "EDGED_ENROL_POLL_S": "1", "EDGED_BACKFILL_POLL_S": "1"}
        self.env: dict[str, dict[str, str]] = {}
        self.base = base
        self.fingerprints: dict[str, str] = {}  # request file -> the fingerprint the box printed
        self.background: list[subprocess.Popen[bytes]] = []
        self.seen: dict[str, Any] = {"commands": 0}
        self.office = workdir / "office.toml"

    def db(self, place: str) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.dir / SOCKETS[place] / 'catalog.db'}?mode=ro", uri=True, timeout=10)
        return conn

    def look(self, place: str, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            conn = self.db(place)
        except sqlite3.Error:
            return None
        try:
            return fn(conn)
        except sqlite3.Error:
            return None
        finally:
            conn.close()

    # the commands ------------------------------------------------------------------------------
    def line(self, place: str, text: str) -> None:
        env = self.env.setdefault(place, dict(self.base))
        if text.startswith("export "):
            name, _, value = text[len("export "):].partition("=")
            env[name] = value
            return
        if place == "office":
            text = self.office_line(text)
        self.before(place, text)
        self.seen["commands"] += 1
        if text.endswith("&"):
            log = open(self.dir / f"bg-{len(self.background)}.log", "ab")
            self.background.append(subprocess.Popen(shlex.split(text[:-1]), cwd=self.dir, env=env, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True))
            self.after(place, text, "")
            return
        if "$(" in text:  # a shell's line: from a file, as an interactive shell has it (not on bash's command line)
            (self.dir / "line.sh").write_text(text + "\n")
            argv = ["bash", "line.sh"]
        else:
            argv = shlex.split(text)
        code, out = on_terminal(argv, self.dir, env)
        print(f"$ [{place}] {text}\n{out}", flush=True)
        assert code == 0, f"[{place}] {text}: exit {code}\n{out}"
        self.after(place, text, out)

    def office_line(self, text: str) -> str:
        text = text.replace("sudo -u edged-ca ", "", 1).replace("/etc/edged/central.toml", str(self.office))
        req = shlex.split(text)[shlex.split(text).index("--file") + 1]
        return text.replace("SHA256:...", self.fingerprints[req])

    def answers(self, place: str) -> bool:
        code, out = on_terminal(["edgectl", "whoami"], self.dir, self.env[place], 20)
        return "not logged in" in out or code == 0

    def before(self, place: str, text: str) -> None:
        """Where a person waits before typing it."""
        if text.startswith("edgectl"):
            wait_for(lambda: self.answers(place), 60, f"{place}'s daemon answering edgectl")
        if text.startswith("kill -9"):  # node1 recording, and the standby ready to serve it
            wait_for(lambda: self.look("node1", lambda c: rows(c, "segments", lambda r: r["state"] == "complete")),
                     90, "node1 recording")
            wait_for(lambda: self.serving() is True, 30, "the standby serving")

    def after(self, place: str, text: str, out: str) -> None:
        """What a person sees next (and this run checks)."""
        if text.startswith("mosquitto"):
            wait_for(lambda: _listens(1883), 20, "the broker")
        if "enrol --out" in text:
            self.fingerprints[shlex.split(text)[-1]] = re.search(r"SHA256:\S+", out).group(0)  # type: ignore[union-attr]
            if place == "spare":  # not enrolled yet: it says it does not serve, in status and an alarm
                wait_for(lambda: self.serving() is False, 30, "the standby saying it does not serve")
                self.seen["before_enrolment"] = self.status("spare")
                self.seen["alarm_open"] = bool(self.alarm_open())
        if text.startswith("edgectl enrol --install") and place == "spare":
            wait_for(lambda: self.serving() is True, 30, "the standby serving once enrolled, without a restart")
            wait_for(lambda: not self.alarm_open(), 10, "its alarm cleared")
        if text == "edgectl status" and place == "spare":
            self.seen["after_enrolment"] = self.status("spare")
        if text.startswith("kill -9"):  # "the standby records its cameras within seconds", and a person sees it
            wait_for(self.standby_recording, 60, "the standby standing in and recording node1's cameras")
        if text.startswith("edged run --config"):  # node1 back: its gap filled from the standby
            self.seen["from_standby"] = wait_for(self.filled, 180, "node1's gap filled from the standby")

    def standby_recording(self) -> bool:
        """A spell of standing in, and a segment of the standby's own open for each of its cameras:
        its footage begins before node1 can be back, so node1's gap overlaps it (restarted before,
        node1 left a gap that ended as the standby's first frames came, and had nothing to fetch)."""
        spells = self.look("spare", lambda c: rows(c, "standins")) or []
        cameras = {camera for spell in spells for camera in json.loads(spell["cameras"])}
        recorded = {r["camera"] for r in self.look("spare", lambda c: rows(c, "segments")) or []}
        return bool(cameras) and cameras <= recorded

    def serving(self) -> bool | None:
        value = self.look("spare", lambda c: node_value(c, "standby_serving"))
        return None if not value else bool(json.loads(value)["serving"])

    def alarm_open(self) -> list[dict[str, Any]]:
        return self.look("spare", lambda c: rows(c, "alarms", lambda r: r["kind"] == "standby_not_serving"
                                                 and r["cleared_us"] is None)) or []

    def status(self, place: str) -> str:
        _code, out = on_terminal(["edgectl", "status"], self.dir, self.env[place], 30)
        return out

    def filled(self) -> list[dict[str, Any]]:
        got = self.look("node1", lambda c: rows(c, "segments", lambda r: r["source"] == "standby"
                                                and r["state"] == "complete"))
        done = self.look("node1", lambda c: rows(c, "gaps", lambda r: r["standby"] == "done"))
        return got if got and done else []


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def main(argv: list[str]) -> int:
    guide, workdir = Path(argv[0]).read_text(), Path(argv[1])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    run = Run(workdir)
    run.office.write_text('[storage]\ndata_dir = "office"\n')
    made = subprocess.run(["edged-central", "--config", str(run.office), "nodes", "ca", "--name", "Guide office"],
                          cwd=workdir, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    try:
        for place, lines in blocks(guide):
            for text in lines:
                run.line(place, text)
    finally:
        for proc in run.background:
            if proc.poll() is None:
                proc.terminate()
        for proc in run.background:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("RESULT " + json.dumps(run.seen, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
