"""The README's "first ten minutes" run as written (design/0016): every command in its sh blocks
is run here, in a copy of the checkout's layout, against the daemon that `scripts/run` starts.
If the README and the code drift apart, this fails."""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.container import copy_checkout
from tests.support.daemon import ROOT, wait_for

SECTION = "## The first ten minutes"
# CI's reader of the README's set-up commands (.ci is not a package): one parser for both.
FIRST_COMMAND = runpy.run_path(str(ROOT / ".ci" / "first_command.py"))


def walkthrough() -> list[str]:
    """The section's commands in order; a heredoc stays with the command that opens it."""
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines = block.splitlines()
        while lines:
            line = lines.pop(0)
            heredoc = re.search(r"<<'?(\w+)'?", line)
            if heredoc:
                body = []
                while lines and lines[0] != heredoc.group(1):
                    body.append(lines.pop(0))
                line = "\n".join([line, *body, lines.pop(0)])
            commands.append(line)
    return commands


class Checkout:
    """A copy of the checkout in a temporary folder (its own data/), sharing the real .venv.

    The real checkout's bootstrap runs first, so the copy's finds .venv current and installs
    nothing (an editable install from the copy would point the shared .venv at it)."""

    def __init__(self, where: Path):
        self.dir = where
        boot = subprocess.run(["scripts/bootstrap"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert boot.returncode == 0, boot.stderr
        copy_checkout(where)
        (where / ".venv").symlink_to(ROOT / ".venv")
        self.daemon: subprocess.Popen | None = None

    def sh(self, command: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGECTL")}
        return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=self.dir, capture_output=True,
                              text=True, timeout=300, env=env)

    def edgectl_json(self, *args: str):
        r = self.sh(".venv/bin/edgectl --socket data/control.sock " + " ".join(args) + " --json")
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def start(self, command: str) -> None:
        self.stop()  # the README's "stop it with Ctrl-C, then start ..."
        self.log = open(self.dir / f"daemon-{len(list(self.dir.glob('daemon-*')))}.log", "wb")
        self.daemon = subprocess.Popen(["bash", "-c", command], cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: self.daemon.poll() is None and (s := self.edgectl_json("status")) and s.get("running")
                 and s["pid"] != getattr(self, "last_pid", None) and s, 300,
                 f"`{command}` to start the daemon", interval=0.5)
        self.last_pid = self.edgectl_json("status")["pid"]

    def stop(self) -> None:
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGINT)  # Ctrl-C
            assert self.daemon.wait(timeout=60) in (0, 130), (self.dir / "daemon-0.log").read_text()[-2000:]
        self.daemon = None


@pytest.fixture
def checkout(tmp_path):
    c = Checkout(tmp_path)
    yield c
    if c.daemon and c.daemon.poll() is None:
        os.killpg(c.daemon.pid, signal.SIGKILL)


def test_the_walkthrough_has_the_commands_a_newcomer_needs():
    cmds = walkthrough()
    for needed in ("control.sock status", "control.sock cameras", "ls data/video/demo", "control.sock segments", "ffprobe",
                   "check-config my-site.toml", "scripts/run --config my-site.toml"):
        assert any(needed in c for c in cmds), needed


def test_every_walkthrough_command_runs_as_written(checkout):
    first = FIRST_COMMAND["setup_commands"]((ROOT / "README.md").read_text())[0]  # as CI reads it
    assert first == "scripts/run"
    checkout.start(first)
    wait_for(lambda: (s := checkout.edgectl_json("status")) and s["cameras"].get("recording") == 1, 120,
             "the demo camera to record")
    # ffprobe needs a fragment or two in the first file.
    wait_for(lambda: any(p.stat().st_size > 100_000 for p in (checkout.dir / "data/video/demo").glob("*/*.mp4")),
             60, "the first fragments of the demo footage")
    outputs = {}
    for command in walkthrough():
        if command.startswith("scripts/run"):
            checkout.start(command)
            continue
        r = checkout.sh(command)
        assert r.returncode == 0, f"README command failed ({r.returncode}): {command}\n{r.stdout}\n{r.stderr}"
        outputs[command.split("#")[0].strip().split("\n")[0]] = r.stdout + r.stderr
    # What each command shows is what the README says it shows.
    out = "\n".join(f"$ {k}\n{v}" for k, v in outputs.items())
    assert re.search(r"cameras:\s+1/1 recording", out), out
    assert re.search(r"^demo\s+Demo test pattern\s+recording", out, re.M), out
    assert re.search(r"^\d{4}-\d\d-\d\d$", outputs["ls data/video/demo/"], re.M), out
    assert re.search(r"^demo\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", out, re.M), out
    assert "Video: h264" in out and "1280x800" in out, out
    assert "my-site.toml: OK (site my-site, 1 cameras" in out, out
    # The daemon now runs the new config: the demo camera is gone, the new one is listed, no password shown.
    cams = checkout.edgectl_json("cameras")
    assert [c["id"] for c in cams] == ["entrance"], cams
    listing = checkout.sh(".venv/bin/edgectl --socket data/control.sock cameras").stdout
    assert "entrance" in listing and "PASSWORD" not in listing
    checkout.stop()
    assert "PASSWORD" not in "".join(p.read_text(errors="replace") for p in checkout.dir.glob("daemon-*.log"))
