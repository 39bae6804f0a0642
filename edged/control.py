"""The daemon's control socket: a Unix socket speaking one JSON object per line.

edgectl reads the catalog directly; anything that changes state (a hold, a release) goes
through here, so the daemon stays the catalog's only writer. The caller is identified by
the socket's peer credentials, not by what it claims. There is no operation that deletes
or formats footage (REQUIREMENTS R1.6), and none will be added.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pwd
import socket
import struct
from pathlib import Path
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], str], Awaitable[Any]]
MAX_REQUEST = 1 << 16


class RequestError(Exception):
    """A refused request; the message goes back to the caller as is."""


def peer_user(sock: socket.socket) -> str:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]):
        self.path = path
        self.handlers = handlers
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()  # a stale socket from a crash; the daemon holds a single-instance lock
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=MAX_REQUEST)
        os.chmod(self.path, 0o660)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        user = peer_user(writer.get_extra_info("socket"))
        try:
            while line := await reader.readline():
                reply = await self._answer(line, user)
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes, user: str) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op = request["op"]
            handler = self.handlers[op]
        except (json.JSONDecodeError, KeyError, TypeError):
            return {"ok": False, "error": "bad request: send {\"op\": ..., \"args\": {...}}; ops: "
                    + ", ".join(sorted(self.handlers))}
        try:
            result = await handler(request.get("args") or {}, user)
        except RequestError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception:  # noqa: BLE001 - one bad request must not take the daemon down
            log.exception("control request %s failed", op)
            return {"ok": False, "error": "internal error; see the daemon's log"}
        return {"ok": True, "result": result}


def call(path: Path, op: str, args: dict[str, Any], timeout: float = 30) -> Any:
    """Client side, for edgectl: one request, one reply; raises RequestError on refusal."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise RequestError(f"edged is not running (no control socket at {path})") from None
        except PermissionError:
            raise RequestError(f"no permission to use {path}: run as root or a member of group edged") from None
        s.sendall((json.dumps({"op": op, "args": args}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise RequestError("edged closed the connection without answering")
            data += chunk
    reply = json.loads(data)
    if not reply.get("ok"):
        raise RequestError(reply.get("error", "refused"))
    return reply["result"]
