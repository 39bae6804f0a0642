"""The next daemon of a handover outlives the daemon that started it (storage/process/successor.py,
design/0467), under every Python the machine has: from Python 3.12 asyncio's subprocess transport, once
its loop has ended and it is collected, SIGKILLs a child still running, which killed the next daemon six
seconds after it took over on Debian 13 (python3.13) while Debian 12 (python3.11) kept it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import ROOT

SCRIPT = """\
import asyncio, gc, sys
from storage.process.successor import Successor

async def main():
    s = Successor(["sleep", "60"], (), {"PATH": "/usr/bin:/bin"})
    quick = Successor(["sh", "-c", "exit 3"], (), {"PATH": "/usr/bin:/bin"})
    ended = await asyncio.wait_for(quick.wait(), 30)
    return s.pid, ended, quick.returncode

pid, ended, code = asyncio.run(main())
gc.collect()   # what a daemon's end does to its loop's transports
print(pid, ended, code)
"""


def interpreters() -> list[str]:
    """This one, and every other python3.X of 3.12 or later that runs here (on PATH, or pyenv's)."""
    found = [sys.executable]
    names = [shutil.which(f"python3.{m}") for m in range(12, 16)]
    names += [str(p) for p in sorted((Path.home() / ".pyenv/versions").glob("3.1[2-9]*/bin/python3"))]
    for name in filter(None, names):
        if subprocess.run([name, "-c", "import sys; assert sys.version_info >= (3, 12)"],
                          capture_output=True).returncode == 0:
            found.append(name)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_the_next_daemon_outlives_the_loop_and_the_process_that_started_it(tmp_path):
    ran = []
    for python in interpreters():
        out = tmp_path / "out"
        with open(out, "w") as f:   # a file, not a pipe: the successor shares it and outlives the script
            r = subprocess.run([python, "-c", SCRIPT], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=60,
                               env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)})
        assert r.returncode == 0, (python, out.read_text())
        pid, ended, code = map(int, out.read_text().split())
        try:
            assert alive(pid), f"{python}: the successor {pid} was killed when its starter ended"
            assert (ended, code) == (3, 3), (python, out.read_text())
        finally:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        ran.append(python)
    if len(ran) == 1:
        pytest.skip(f"only {ran[0]} here: no Python 3.12 or later to run it under (the package tier on Debian 13 does)")
