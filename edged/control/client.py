"""The client side of the control socket, for edgectl: one request, one reply (`call`), and
the person's session tokens kept in a private file (`edgectl login` saves one per daemon)."""

from __future__ import annotations

import json
import os
import pwd
import socket
import struct
import time
from pathlib import Path
from typing import Any, Callable, cast

from edged.control.protocol import DaemonDown, RequestError
from edged.i18n import _, hinted, language
from edged.rules import roles

SESSION_ENV = "EDGECTL_SESSION"
DAEMON_USER = "edged"  # the unit's User= (systemd/edged.service)


def trusted_uids() -> set[int]:
    """Who may be listening on the socket edgectl talks to: root, the daemon's user, or the caller
    (a daemon they run themselves). Anyone else's socket would get the typed password (issue 27)."""
    uids = {0, os.getuid()}
    try:
        uids.add(pwd.getpwnam(DAEMON_USER).pw_uid)
    except KeyError:
        pass
    return uids


def _connect(s: socket.socket, path: Path, timeout: float) -> None:
    """Connect, waiting while the daemon's accept queue is full (a flood it is refusing answers
    EAGAIN at once on a Unix socket) rather than failing the first try."""
    deadline, pause = time.monotonic() + timeout, 0.01
    while True:
        try:
            s.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() + pause > deadline:
                raise RequestError(_("edged is too busy to take a connection on {path}; try again in a "
                                     "minute").format(path=path)) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def listener_uid(s: socket.socket) -> int:
    """The user running the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    _pid, uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return int(uid)


def session_file() -> Path:
    """Where edgectl keeps the person's session tokens: private to them (0600)."""
    if os.environ.get(SESSION_ENV):
        return Path(os.environ[SESSION_ENV])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "edgectl" if runtime else Path.home() / ".config" / "edgectl"
    return base / "session.json"


def _read_sessions(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def saved_session(socket_path: Path) -> dict[str, Any] | None:
    """The session saved for this daemon (keyed by its socket), if any."""
    entry = _read_sessions(session_file()).get(str(socket_path))
    return entry if isinstance(entry, dict) and entry.get("token") else None


def save_session(socket_path: Path, session: dict[str, Any] | None) -> Path:
    """Keep (or with None, forget) the token for this daemon; the file is written 0600."""
    path = session_file()
    data = _read_sessions(path)
    if session is None:
        data.pop(str(socket_path), None)
    else:
        data[str(socket_path)] = session
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a crash's leftover (or a link): the new one is made afresh, never followed
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def call(path: Path, op: str, args: dict[str, Any], token: str | None = None,
         on_progress: Callable[[dict[str, Any]], None] | None = None, timeout: float = 30,
         send: Callable[[socket.socket, int], None] | None = None) -> Any:
    """Client side, for edgectl: one request, one reply; raises RequestError on refusal.

    Without a token, the one `edgectl login` saved for this socket is sent. `send(sock, size)`
    sends a file when the daemon asks for it (`{"progress": {"send": size}}`, evidence.import).
    """
    if token is None and op not in roles.PUBLIC:
        saved = saved_session(path)
        token = saved["token"] if saved else None
    message: dict[str, Any] = {"op": op, "args": args, "lang": language()}  # the daemon answers in it
    if token:
        message["token"] = token
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            _connect(s, path, timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise DaemonDown(_("edged is not running (nothing answers on {path}); check `systemctl status edged`, "
                               "or name the socket with --socket or EDGECTL_SOCKET").format(path=path)) from None
        except PermissionError:
            raise RequestError(_("no permission to use {path}: run as root or as a member of the socket's group "
                                 "(edgectl)").format(path=path)) from None
        if (uid := listener_uid(s)) not in trusted_uids():
            raise RequestError(_("{path} is run by uid {uid}, not by root or the user {user}: not edged's socket, "
                                 "nothing was sent; check --socket or EDGECTL_SOCKET").format(
                path=path, uid=uid, user=DAEMON_USER))
        s.sendall((json.dumps(message) + "\n").encode())
        reply = _replies(s, on_progress, send)
    if not reply.get("ok"):
        raise hinted(RequestError(reply.get("error") or _("refused")), reply.get("hint"))
    return reply["result"]


def _replies(s: socket.socket, on_progress: Callable[[dict[str, Any]], None] | None,
             send: Callable[[socket.socket, int], None] | None) -> dict[str, Any]:
    """The progress lines and the final reply; a file sent when the daemon asks for it. A daemon
    that refuses the file part-way closes the connection: its reply is still read."""
    with s.makefile("rb") as stream:
        while True:
            line = stream.readline()
            if not line.endswith(b"\n"):
                raise RequestError(_("edged closed the connection without answering"))
            reply = json.loads(line)
            if "progress" not in reply:
                return cast("dict[str, Any]", reply)
            asked = reply["progress"].get("send") if isinstance(reply["progress"], dict) else None
            if send is not None and isinstance(asked, int):
                try:
                    send(s, asked)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # refused part-way: its reply follows
            elif on_progress is not None:
                on_progress(reply["progress"])
