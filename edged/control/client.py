"""The client side of the control socket, for edgectl: one request, one reply (`call`), and
the person's session tokens kept in a private file (`edgectl login` saves one per daemon)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Callable

from edged.control.protocol import DaemonDown, RequestError
from edged.i18n import _, language
from edged.rules import roles

SESSION_ENV = "EDGECTL_SESSION"


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
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def call(path: Path, op: str, args: dict[str, Any], token: str | None = None,
         on_progress: Callable[[dict[str, Any]], None] | None = None, timeout: float = 30) -> Any:
    """Client side, for edgectl: one request, one reply; raises RequestError on refusal.

    Without a token, the one `edgectl login` saved for this socket is sent.
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
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise DaemonDown(_("edged is not running (nothing answers on {path}); check `systemctl status edged`, "
                               "or name the socket with --socket or EDGECTL_SOCKET").format(path=path)) from None
        except PermissionError:
            raise RequestError(_("no permission to use {path}: run as root or as a member of the socket's group "
                                 "(edgectl)").format(path=path)) from None
        s.sendall((json.dumps(message) + "\n").encode())
        with s.makefile("rb") as stream:
            while True:
                line = stream.readline()
                if not line.endswith(b"\n"):
                    raise RequestError(_("edged closed the connection without answering"))
                reply = json.loads(line)
                if "progress" in reply:
                    if on_progress is not None:
                        on_progress(reply["progress"])
                    continue
                break
    if not reply.get("ok"):
        raise RequestError(reply.get("error") or _("refused"))
    return reply["result"]
