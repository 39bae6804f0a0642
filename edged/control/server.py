"""The daemon's control socket: a Unix socket speaking one JSON object per line.

Every edgectl verb comes through here, reads too (design/0017): the data folder is the daemon's
alone, and the socket's group (`[control] group`, e.g. edgectl) grants nothing on disk.

A request is {"op", "args", "token"}. The OS account is proven by the socket's peer
credentials; the person is proven by their session token (`edgectl login`), which the
server resolves to an account and checks against edged/rules/roles.py before any handler runs.
Only `ping`, `login` and `init-admin` (root only) need no session. A handler may send
{"progress": {...}} lines before the final {"ok", "result"|"error"} line.

There is no operation that deletes or formats footage (docs/requirements.md R1.6), and none will be added.
"""

from __future__ import annotations

import asyncio
import grp
import json
import logging
import os
import pwd
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from edged import pools
from edged.config.values import ConfigError
from edged.control import protocol
from edged.control.protocol import RequestError
from edged.i18n import N_, _, hint_of, set_language
from edged.rules import roles
from edged.guard import ConnectionGuard

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], roles.Actor], Awaitable[Any]]
# token -> the session ({account, roles, cameras, expires_us, ...}) or None
SessionLookup = Callable[[str], Awaitable[dict[str, Any] | None]]
MAX_REQUEST = 1 << 16
BACKLOG = 1024   # connections the kernel queues before edged accepts (and the guard refuses) them
CONNECTIONS, CONNECTIONS_PER_UID, IDLE_S = 128, 16, 10.0
UPLOAD_CHUNK = 1 << 20   # a file sent after a request (evidence.import) is read this much at a time
NOT_LOGGED_IN = N_("not logged in, or the session expired: run `edgectl login`")


def peer_creds(sock: socket.socket) -> tuple[int, str]:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    try:
        return uid, pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid, f"uid {uid}"


@dataclass
class Caller:
    """Who is asking: the OS account (from the socket) and the person's account (from the token).

    str(caller) is the actor written on the audit record: "alice", or "alice (os: root)"
    when the OS account is not alice's own.
    """

    os_user: str
    uid: int = -1
    account: str | None = None
    roles: tuple[str, ...] = ()
    cameras: tuple[str, ...] | None = None   # None: every camera
    token: str | None = None
    expires_us: int | None = None
    must_change: bool = False   # logged in with a one-time password: only `account passwd` (design/0042)
    _send: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    # the desk's upload (design/0356): a form's file part, streamed as the browser sends it
    _source: Callable[[int], AsyncIterator[bytes]] | None = field(default=None, repr=False)
    uploaded: bool = field(default=False, repr=False)

    def progress(self, info: dict[str, Any]) -> None:
        """Tell the client how far a long operation is (before the final reply)."""
        if self._send is not None:
            self._send({"progress": info})

    async def upload(self, size: int, chunk: int = UPLOAD_CHUNK) -> AsyncIterator[bytes]:
        """The file the client sends after its request (issue 76, design/0349): the daemon asks for
        it (`{"progress": {"send": size}}`) once it has checked what it can, then reads exactly
        `size` bytes, each read within the idle time. The connection closes after the reply.
        From the desk (design/0356) `size` is the request's length, an upper bound: the form's file
        part is read to its end, which the multipart reader finds."""
        if self._source is not None:
            self.uploaded = True
            got = 0
            try:
                async for data in self._source(size):
                    got += len(data)
                    yield data
            except ConnectionError:   # the browser went away mid-file: a refusal like any other, nothing kept
                raise RequestError(_("the browser stopped sending the file after {n} bytes").format(n=got)) from None
            return
        if self._reader is None:
            raise RequestError(_("a file can only be sent over the control socket"))
        self.uploaded = True
        self.progress({"send": size})
        left = size
        while left > 0:
            data = await asyncio.wait_for(self._reader.read(min(chunk, left)), IDLE_S)
            if not data:
                raise RequestError(_("the file stopped arriving after {n} of {size} bytes").format(
                    n=size - left, size=size))
            left -= len(data)
            yield data

    def may(self, op: str) -> bool:
        return roles.allowed(self.roles, op)

    def __str__(self) -> str:
        if self.account is None:
            return self.os_user
        return self.account if self.account == self.os_user else f"{self.account} (os: {self.os_user})"


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler], sessions: SessionLookup | None = None,
                 group: str | None = None):
        self.path = path
        self.group = group  # the socket's group: who may talk to the daemon (None: the daemon's own)
        self.handlers = handlers
        self.sessions = sessions  # None: only the public operations can run
        self._servers: list[tuple[asyncio.AbstractServer, tuple[int, int] | None]] = []  # each with its socket file
        # connections per uid and in all (root is never refused), and how long one may wait
        # between requests (edgectl sends its one request at once): design/0062.
        # i18n: the journal's (two lines)
        self.guard = ConnectionGuard(total=CONNECTIONS, per_address=CONNECTIONS_PER_UID, idle_s=IDLE_S,
                                     name="control socket")

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._listen()

    async def _listen(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()  # a stale socket from a crash; the daemon holds a single-instance lock
        # a deep backlog: a flood of connections (refused one by one by the guard) must not leave
        # a legitimate client's connect to find the queue full (EAGAIN) (design/0062)
        server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=MAX_REQUEST,
                                                 backlog=BACKLOG)
        st = os.stat(self.path)
        self._servers.append((server, (st.st_dev, st.st_ino)))
        if self.group is not None:
            try:
                gid = grp.getgrnam(self.group).gr_gid
            except KeyError:
                # i18n: a start-up error: the journal's
                raise ConfigError("control.group", f"there is no group {self.group!r} on this system "
                                  "(scripts/install makes edgectl)") from None
            os.chown(self.path, -1, gid)
        os.chmod(self.path, 0o600 if self.group is None else 0o660)  # no group named: the daemon's user and root

    def _at_path(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    async def keep_reachable(self) -> None:
        """Listen at the socket's path again if it no longer leads here: a socket inside the
        data folder goes with a data disk that is unmounted (design/0023), and `edgectl
        status` must still say so. Listening goes on where the path led before, since it
        leads there again once the disk is back; a listener whose file is hidden is closed."""
        here = await asyncio.to_thread(self._at_path)
        if any(sock == here for _s, sock in self._servers):
            for server, sock in [x for x in self._servers[1:] if x[1] != here]:
                server.close()
                self._servers.remove((server, sock))
            return
        if not self.path.parent.is_dir():
            log.warning("the control socket's folder %s is gone: edgectl cannot reach edged until it is back",
                        self.path.parent)
            return
        try:
            await self._listen()
        except OSError as exc:
            log.warning("cannot listen at %s again: %s", self.path, exc)
            return
        log.warning("the control socket %s went with the data disk: listening there again", self.path)

    async def close(self) -> None:
        here = self._at_path()
        for server, _sock in self._servers:
            server.close()
            await server.wait_closed()
        if any(sock == here for _s, sock in self._servers):
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        uid, user = peer_creds(writer.get_extra_info("socket"))
        who = f"uid {uid}"
        if uid != 0 and not self.guard.admit(who):  # the viewer's cap, per uid instead of per address
            writer.transport.abort()
            return
        self.guard.opened(writer, who)
        pools.CALLER.set(f"uid {uid}")  # this connection's task: the slow pools' cap is per uid

        def send(msg: dict[str, Any]) -> None:
            if not writer.is_closing():
                writer.write((json.dumps(msg) + "\n").encode())

        try:
            # a connection that sends no request for `idle_s` is closed (a request itself may run long)
            while line := await asyncio.wait_for(reader.readline(), self.guard.idle_s):
                caller = Caller(os_user=user, uid=uid, _send=send, _reader=reader)
                reply = await self._answer(line, caller)
                send(reply)
                await writer.drain()
                if caller.uploaded:
                    break  # what is left of a file refused part-way is no request: the connection ends
        except (ConnectionError, asyncio.LimitOverrunError, ValueError, TimeoutError):
            pass
        finally:
            self.guard.closed(writer, who)
            writer.close()

    async def _answer(self, line: bytes, caller: Caller) -> dict[str, Any]:
        try:
            request = protocol.decode(line)
            if not isinstance(request, dict):
                raise TypeError
            op = request["op"]
            if op not in self.handlers:
                raise KeyError(op)
            args = request.get("args") or {}
            token = request.get("token")
            if not isinstance(args, dict) or not (token is None or isinstance(token, str)):
                raise TypeError
        except protocol.BadRequest as exc:
            return {"ok": False, "error": _("bad request: {why}").format(why=exc), "code": "bad_request"}
        except (KeyError, TypeError):
            return {"ok": False, "error": _("bad request: send {{\"op\": ..., \"args\": {{...}}, \"token\": ...}}; "
                                            "ops: {ops}").format(
                ops=", ".join(sorted(self.handlers)))}
        lang = request.get("lang")
        set_language(lang if isinstance(lang, str) else None)  # this connection's task: answer in the asker's
        if op not in roles.PUBLIC:
            session = await self.sessions(token) if token and self.sessions is not None else None
            if session is not None:
                caller.account, caller.roles, caller.token = session["account"], tuple(session["roles"]), token
                caller.cameras = None if session["cameras"] is None else tuple(session["cameras"])
                caller.expires_us = session.get("expires_us")
                caller.must_change = bool(session.get("must_change"))
            elif not (caller.uid == 0 and op in roles.ROOT_READS | roles.ROOT_ACTS):  # root may ask how the box is doing
                return {"ok": False, "error": _(NOT_LOGGED_IN), "code": "auth"}
        return await perform(self.handlers, op, args, caller)


def for_sessions(handlers: dict[str, Handler]) -> Callable[[str, dict[str, Any], dict[str, Any]],
                                                          Awaitable[dict[str, Any]]]:
    """`run(op, args, session)`: an operation for a session the caller has resolved (the web
    desk's, design/0073), through `perform`; the actor is the session's account."""
    async def run(op: str, args: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        caller = Caller(os_user=session["account"], account=session["account"], roles=tuple(session["roles"]),
                        cameras=None if session.get("cameras") is None else tuple(session["cameras"]),
                        token=session.get("token"), expires_us=session.get("expires_us"),
                        must_change=bool(session.get("must_change")), _send=session.get("send"),
                        _source=session.get("upload"))
        return await perform(handlers, op, args, caller)
    return run


async def perform(handlers: dict[str, Handler], op: str, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Run one operation for a caller whose session is resolved: the one-time-password and role
    checks, then the handler; the answer as the socket sends it ({ok, result} or {ok, error,
    code}). The control socket and the web desk (design/0073) both come through here."""
    handler = handlers.get(op)
    if handler is None:
        return {"ok": False, "error": _("{op} is not an operation any role may run").format(op=op), "code": "role"}
    if op not in roles.PUBLIC and caller.account is not None:
        if caller.must_change and op not in roles.ONE_TIME_OPS:
            return {"ok": False, "code": "passwd", "error": _(
                "{account} logged in with a one-time password (an admin set it): change it first "
                "with `edgectl account passwd`; nothing else runs until then").format(account=caller.account)}
        if not roles.allowed(caller.roles, op):  # design/0103: the person's words, the technician's hint
            return {"ok": False, "error": roles.refused_words(caller.roles, op), "code": "role",
                    "hint": roles.refusal(caller.account, caller.roles, op)}
    try:
        result = await handler(args, caller)
    except RequestError as exc:
        hint = hint_of(exc)
        return {"ok": False, "error": str(exc), **({"hint": hint} if hint else {})}
    except pools.Busy as exc:
        return {"ok": False, "error": str(exc), "code": "busy"}
    except Exception:  # noqa: BLE001 - one bad request must not take the daemon down
        log.exception("control request %s failed", op)
        return {"ok": False, "error": _("internal error; see the daemon's log")}
    return {"ok": True, "result": result}
