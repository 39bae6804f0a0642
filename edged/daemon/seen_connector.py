"""aiohttp's connector keeping each TLS connection's peer certificate, for a box fetching from
its standby (edged/daemon/peers.py). A module of its own so that aiohttp is imported only by a
box that has a standby, not by every daemon at start (design/0286)."""

from __future__ import annotations

from typing import Any

from aiohttp import TCPConnector


class SeenConnector(TCPConnector):
    """aiohttp hands a response's connection back before its body is read, so the certificate
    cannot be asked afterwards: it is kept as each connection is made."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.certs: list[bytes] = []

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        proto = await super()._create_connection(req, traces, timeout)
        tls = proto.transport.get_extra_info("ssl_object") if proto.transport is not None else None
        if tls is not None:
            self.certs.append(tls.getpeercert(binary_form=True))
        return proto
