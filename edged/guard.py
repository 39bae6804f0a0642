"""The viewer's door to the LAN: a cap on connections and on the time a connection may hold
one without sending a request (design/0021).

aiohttp keeps every accepted connection until the client sends a whole request, however slowly,
so idle and half-sent-header connections pile up until edged runs out of descriptors (issue 14
reproduced 50 of 50 still open after 100 s). Each accepted connection is wrapped here:
- at most `per_address` at once from one client address and `total` in all; more are reset
  at accept, so one machine flooding the port cannot keep another out;
- a connection that is not inside a request is closed `idle_s` after it opened or after its
  last response, whether it sent nothing or half a header;
- none lives longer than `lifetime_s`.

With TLS the guard sits below the handshake: it counts the raw TCP connection at accept and
does the handshake itself (`loop.start_tls`, deadline `idle_s`), so connections that never send
a ClientHello are capped like any other (issue 27: 1,000 of them took 1,000 descriptors when
asyncio's own TLS server counted a connection only once its handshake was done).

The guard also owns the listening socket (`listen`): the excess is reset by the accept itself,
so it never becomes a transport. Behind asyncio's `create_server` a refused connection held its
descriptor for three turns of the loop (accept, make the transport, `connection_made`, close)
while each turn accepted another backlog's worth: a flood of 1,000 held 256 at once.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class ConnectionGuard:
    def __init__(self, *, total: int = 256, per_address: int = 16, idle_s: float = 10.0, lifetime_s: float = 600.0,
                 name: str = "viewer"):
        self.name = name
        self.total, self.per_address = total, per_address
        self.idle_s, self.lifetime_s = idle_s, lifetime_s
        self.by_address: Counter[str] = Counter()
        self.open: dict[Any, _Guarded] = {}     # transport -> its wrapper
        self.refused = 0                        # connections reset at accept (for the log and tests)
        self._warned: set[str] = set()
        self.handshakes: set[asyncio.Task[None]] = set()

    async def listen(self, inner: Callable[[], asyncio.Protocol], host: str, port: int, *,
                     tls: ssl.SSLContext | None = None, backlog: int = 128) -> Listener:
        """Serve `inner` protocols on host:port (OSError if it cannot listen). Each connection is
        admitted or reset at accept; with `tls` the guard does the handshake."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        socks: list[socket.socket] = []
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                socks.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog)
                sock.setblocking(False)
        except OSError:
            for sock in socks:
                sock.close()
            raise
        listener = Listener(self, socks, inner, tls, backlog)
        for sock in socks:
            listener.resume(sock)
        return listener

    def cancel_handshakes(self) -> None:
        """Stopping: handshakes still under way end now."""
        for task in list(self.handshakes):
            task.cancel()

    def admit(self, address: str) -> bool:
        if len(self.open) >= self.total or self.by_address[address] >= self.per_address:
            self.refused += 1
            if address not in self._warned:
                self._warned.add(address)
                log.warning("%s: too many connections (%d from %s, %d in all); resetting the excess",
                            self.name, self.by_address[address], address, len(self.open))
            return False
        self._warned.discard(address)
        return True

    def opened(self, key: Any, address: str, wrapper: Any = None) -> None:
        """An admitted connection is counted until `closed` (the control socket uses this too)."""
        self.open[key] = wrapper
        self.by_address[address] += 1

    def rekey(self, old: Any, new: Any) -> None:
        """After the handshake aiohttp sees the TLS transport, not the TCP one."""
        if old in self.open:
            self.open[new] = self.open.pop(old)

    def closed(self, key: Any, address: str) -> None:
        self.open.pop(key, None)
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]

    def request_started(self, transport: Any) -> None:
        g = self.open.get(transport)
        if g is not None:
            g.busy += 1

    def request_ended(self, transport: Any) -> None:
        g = self.open.get(transport)
        if g is not None:
            g.busy -= 1
            g.deadline = time.monotonic() + self.idle_s


_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset and frees the descriptor at once


class Listener:
    """The guard's listening sockets: accepts, refuses the excess there and then, hands the rest
    to asyncio as a transport (`loop.connect_accepted_socket`)."""

    def __init__(self, guard: ConnectionGuard, socks: list[socket.socket], inner: Callable[[], asyncio.Protocol],
                 tls: ssl.SSLContext | None, backlog: int):
        self.guard, self.sockets, self.inner, self.tls, self.backlog = guard, socks, inner, tls, backlog
        self.loop = asyncio.get_running_loop()
        self.starting: set[asyncio.Task[Any]] = set()

    def resume(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self.backlog):
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, or the connection died in the queue
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("%s: cannot accept (%s); trying again in 1 s", self.guard.name, exc.strerror)
                    self.loop.remove_reader(sock.fileno())
                    self.loop.call_later(1.0, self.resume, sock)
                    return
                continue
            address = str(peer[0]) if peer else "?"
            if not self.guard.admit(address):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                conn.close()
                continue
            conn.setblocking(False)
            protocol = _Guarded(self.guard, self.inner(), self.tls, address)
            protocol.key = conn
            self.guard.opened(conn, address, protocol)  # counted from now: the rest of this batch sees it
            task = self.loop.create_task(self._start(conn, protocol))
            self.starting.add(task)
            task.add_done_callback(self.starting.discard)

    async def _start(self, conn: socket.socket, protocol: _Guarded) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: protocol, conn)
        except BaseException:
            if protocol.transport is None:  # never made: its place is free again
                self.guard.closed(conn, protocol.address)
                conn.close()
            raise

    def close(self) -> None:
        """Stop accepting (connections already made go on, as with asyncio's Server.close)."""
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())
                sock.close()
        for task in list(self.starting):
            task.cancel()


class _Guarded(asyncio.Protocol):
    """Passes everything to aiohttp's protocol, and closes the connection when its time is up."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol, tls: ssl.SSLContext | None, address: str):
        self.guard, self.inner, self.tls = guard, inner, tls
        self.transport: Any = None   # the transport aiohttp sees (the TLS one once the handshake is done)
        self.handed = tls is None    # aiohttp has the connection
        self.early: list[bytes | None] = []  # data (None: EOF) that came after the handshake, before the hand-over
        self.address = address  # admitted and counted at accept,
        self.key: Any = None    # under its socket until the transport is made
        self.busy = 0
        self.opened = self.deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.guard.rekey(self.key, transport)
        self.transport = transport
        self.opened = time.monotonic()
        self.deadline = self.opened + self.guard.idle_s
        self._arm(self.guard.idle_s)
        if self.tls is None:
            self.inner.connection_made(transport)
            return
        transport.pause_reading()  # not one byte of the ClientHello before start_tls owns the socket
        task = asyncio.get_running_loop().create_task(self._handshake(transport, self.tls))
        self.guard.handshakes.add(task)
        task.add_done_callback(self.guard.handshakes.discard)

    async def _handshake(self, raw: Any, tls: ssl.SSLContext) -> None:
        try:
            wrapped = await asyncio.get_running_loop().start_tls(
                raw, self, tls, server_side=True, ssl_handshake_timeout=self.guard.idle_s)
        except asyncio.CancelledError:
            raw.abort()
            self._gone()
            raise
        except Exception as exc:  # a failed or late handshake (any kind): the connection is gone, its count too
            log.debug("%s: TLS handshake with %s failed: %r", self.guard.name, self.address, exc)
            raw.abort()
            self._gone()
            return
        if wrapped is None or self.transport is None or wrapped.is_closing():
            # closed during the handshake (the guard's own deadline: start_tls then returns no
            # transport) or between the handshake and now
            if wrapped is not None:
                wrapped.abort()
            raw.abort()
            self._gone()
            return
        self.guard.rekey(raw, wrapped)
        self.transport, self.handed = wrapped, True
        self.inner.connection_made(wrapped)
        for data in self.early:
            if data is None:
                self.inner.eof_received()
            else:
                self.inner.data_received(data)
        self.early.clear()

    def _gone(self) -> None:
        if self.transport is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self.guard.closed(self.transport, self.address)
        self.transport = None

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(0.05, delay), self._check)

    def _check(self) -> None:
        self._timer = None
        if self.transport is None:
            return
        now = time.monotonic()
        if now - self.opened >= self.guard.lifetime_s or (self.busy <= 0 and now >= self.deadline):
            self.transport.abort()
            return
        self._arm(min(self.opened + self.guard.lifetime_s, self.deadline if self.busy <= 0 else now + 1) - now)

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        if not self.handed:
            self.early.append(data)
            return
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.transport is None:
            return None
        if not self.handed:
            self.early.append(None)
            return True
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        if self.handed:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.handed:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return  # refused at accept or the handshake failed: aiohttp never saw it
        handed = self.handed
        self._gone()
        if handed:
            self.inner.connection_lost(exc)
