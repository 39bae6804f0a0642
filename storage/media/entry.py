"""Starting a media worker as the media user (design/0323; storage/media/user.py says why).

`start` gives the worker, for its run, only what `Access` names, then starts it one of three ways:
as a child that changes user (a daemon that may), through edged-media.socket (the packaged daemon:
systemd starts `python -m storage.media.entry` as edged-media, the connection its stdin and stdout),
or as today (neither is there; said once in the log). Either way the daemon talks to it over the
same lines (storage/export/worker.py `converse`); the key never leaves the daemon.

`python -m storage.media.entry` (the socket's service) reads one line naming the worker
({"worker": "export" | "redact" | "remux", "from": the daemon's installed package}) and runs that worker's
module, nothing else; a daemon of another installed version (an upgrade, before its restart) is
refused: a new worker never serves an old daemon.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn, Protocol

from storage.media import user as media_user

log = logging.getLogger(__name__)
WORKERS = {"storage.export.worker": "export", "storage.redact.idle": "redact", "storage.intake.remux": "remux"}
HERE = Path(__file__).resolve().parent   # the installed version's storage package: the daemon's and the worker's
_said: list[str] = []


class Proc(Protocol):
    """What `converse` and its callers use of a worker: subprocess.Popen, or a socket's worker."""
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def kill(self) -> None: ...
    def poll(self) -> int | None: ...
    def wait(self) -> int: ...


@dataclass(frozen=True)
class Access:
    """What one worker's run may reach under the data folder `root` (media_user.grant)."""
    root: Path
    reads: tuple[Path, ...] = ()
    writes: tuple[Path, ...] = field(default_factory=tuple)


class SocketWorker:
    """A worker systemd started for one connection to edged-media.socket."""

    def __init__(self, path: Path):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(path))
        self.stdin: IO[bytes] | None = self._sock.makefile("wb")
        self.stdout: IO[bytes] | None = self._sock.makefile("rb")
        self._status: int | None = None

    def kill(self) -> None:   # the worker's next line fails (EPIPE) and it ends
        self._status = -9 if self._status is None else self._status
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def poll(self) -> int | None:
        return self._status

    def wait(self) -> int:   # called once its lines have ended: the connection is closed
        if self._status is None:
            self._status = 0
        for f in (self.stdin, self.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._sock.close()
        return self._status


def start(command: tuple[str, ...], access: Access | None, cwd: Path) -> Proc:
    """The worker `command` (sys.executable -m MODULE), as the media user where there is one."""
    user = media_user.media_user()
    way = media_user.how(user) if access is not None else "same"
    if user is not None and way != "same" and access is not None:
        media_user.grant(access.root, user.uid, access.reads, access.writes)
    if way == "socket" and command[1:2] == ("-m",) and command[2] in WORKERS:
        worker = SocketWorker(media_user.SOCKET)
        assert worker.stdin is not None
        worker.stdin.write(json.dumps({"worker": WORKERS[command[2]], "from": str(HERE)}).encode() + b"\n")
        return worker
    extra = media_user.spawn_args(user) if way == "switch" and user is not None else {}
    if access is not None and way == "same":
        _say_once(media_user.note(user) or "the worker cannot be started as the media user")
    return subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd, **extra)


def _say_once(why: str) -> None:
    if why not in _said:
        _said.append(why)
        log.warning("media workers run as this process's own user (uid %d), which can read the node key: %s "
                     "(the packaged daemon runs them as %s, design/0323)", os.geteuid(), why, media_user.MEDIA_USER)


def hand_back_if_other(folder: Path) -> None:
    """In a worker: what it made in `folder` handed back to the daemon (media_user.hand_back),
    when this worker runs as another user than the folder's (the daemon's) owner."""
    try:
        if folder.stat().st_uid != os.geteuid():
            media_user.hand_back(folder)
    except OSError:
        pass


def main() -> None:
    asked = json.loads(sys.stdin.buffer.readline() or b"{}")
    chosen = asked.get("worker")
    module = {name: mod for mod, name in WORKERS.items()}.get(chosen)
    if module is None:
        _refuse(f"no such media worker: {chosen!r}")
    if asked.get("from") != str(HERE):   # never a new worker for an old daemon (an upgrade's window)
        _refuse(f"the daemon runs another installed version ({asked.get('from')}) than this worker ({HERE}); "
                "ask again once the daemon has restarted")
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _refuse(why: str) -> NoReturn:
    sys.stdout.write(json.dumps({"error": why}) + "\n")
    sys.exit(2)


if __name__ == "__main__":
    main()
