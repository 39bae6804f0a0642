"""edgectl talks only to a socket it was told of, run by root, edged's user or the caller
(issue 27): a socket another user planted gets nothing, the typed password least of all."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edged.cli import edgectl
from edged.control import client
from edged.control.protocol import RequestError

NOBODY = 65534

LISTENER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
c.settimeout(10)
got = b""
try:
    while not got.endswith(b"\\n") and (chunk := c.recv(65536)):   # the request is one line
        got += chunk
except OSError:
    pass
c.close()
print(repr(got), flush=True)
"""


def test_no_socket_is_found_in_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "control.sock").touch()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(edgectl.SOCKET_ENV, raising=False)
    assert edgectl.find_socket(None) == Path("/run/edged/control.sock")
    assert edgectl.find_socket(Path("data/control.sock")) == tmp_path / "data" / "control.sock"  # told: yes
    monkeypatch.setenv(edgectl.SOCKET_ENV, "data/control.sock")
    assert edgectl.find_socket(None) == tmp_path / "data" / "control.sock"


def listen_as(uid: int, sock: Path) -> tuple[int, int]:
    """A child that became `uid` listens on `sock` and reports what it received (the
    interpreter itself is root's alone here, so the child is a fork, not a new process)."""
    ready, report = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(sock))
            s.listen(1)
            os.write(report, b"listening\n")
            c, _ = s.accept()
            c.settimeout(10)
            got = b""
            try:
                while chunk := c.recv(65536):
                    got += chunk
            except OSError:
                pass
            os.write(report, repr(got).encode() + b"\n")
        finally:
            os._exit(0)
    os.close(report)
    return pid, ready


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a listener as another user")
def test_a_socket_another_user_runs_gets_nothing():
    top = Path(tempfile.mkdtemp(prefix="edgectl-trust-"))
    os.chmod(top, 0o1777)  # a shared folder like /tmp
    sock = top / "control.sock"
    pid, ready = listen_as(NOBODY, sock)
    try:
        with os.fdopen(ready) as said:
            assert said.readline().strip() == "listening"
            assert os.stat(sock).st_uid == NOBODY and NOBODY not in client.trusted_uids()
            with pytest.raises(RequestError, match=f"is run by uid {NOBODY}, not by root or the user edged.*nothing was sent"):
                client.call(sock, "login", {"name": "admin", "password": "Typed-Secret-1"}, token="")
            assert said.readline().strip() == "b''"  # the connection closed with nothing sent
    finally:
        os.kill(pid, signal.SIGKILL)  # if it still waits for a connection
        os.waitpid(pid, 0)
        shutil.rmtree(top)


def test_the_callers_own_daemon_is_trusted(tmp_path):
    """A daemon run by the caller (the demo, `scripts/run`) is theirs: same uid, allowed."""
    sock = tmp_path / "control.sock"
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, str(sock)], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "listening"
        with pytest.raises(RequestError, match="closed the connection without answering"):
            client.call(sock, "status", {}, timeout=30)
        out, _ = listener.communicate(timeout=30)
        assert '"op": "status"' in out
    finally:
        if listener.poll() is None:
            listener.kill()


def test_the_session_file_is_never_written_through_a_link(tmp_path, monkeypatch):
    folder = tmp_path / "edgectl"
    folder.mkdir(mode=0o700)
    target = tmp_path / "theirs"
    target.write_text("theirs\n")
    (folder / "session.json.tmp").symlink_to(target)  # planted (or a crash's leftover)
    monkeypatch.setenv(client.SESSION_ENV, str(folder / "session.json"))
    client.save_session(Path("/run/edged/control.sock"), {"token": "t0k"})
    assert target.read_text() == "theirs\n"
    saved = folder / "session.json"
    assert not saved.is_symlink() and oct(saved.stat().st_mode & 0o777) == "0o600"
    assert client.saved_session(Path("/run/edged/control.sock")) == {"token": "t0k"}
