"""A TCP relay that makes a browser on this machine arrive from another loopback address: it
listens on `address:port` and connects to the target from `address` (the whole of 127/8 is this
machine's). The desk refuses a one-time password from the address that set it (issue 45), so
the test's account holders come in through 127.0.0.3, as from another computer on the LAN."""

from __future__ import annotations

import socket
import threading

from tests.support.ports import free_port


class Relay:
    def __init__(self, address: str, target_host: str = "127.0.0.1"):
        """Listen on `address` at a port free on `target_host` too, for the server about to
        listen there (free_port: below the ephemeral range, where upstream connections from
        `address` take their ports; one of those once failed a CI run with EADDRINUSE)."""
        self.address, self.closed = address, False
        for _ in range(50):
            port = free_port()
            try:
                self.server = socket.create_server((address, port))
                break
            except OSError:
                continue
        else:
            raise OSError(f"no port free on both {address} and {target_host}")
        self.port, self.target = port, (target_host, port)

    def start(self) -> "Relay":
        threading.Thread(target=self._accept, daemon=True, name="relay").start()
        return self

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10, source_address=(self.address, 0))
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True, name="relay-pipe").start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.server.close()
