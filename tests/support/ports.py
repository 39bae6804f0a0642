"""Ports for the servers a test starts on 127.0.0.1."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RNG = random.SystemRandom()   # not the module's generator, which a test may seed


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port free on 127.0.0.1 a moment ago, for a server the test is about to start.

    Chosen at random below the OS's ephemeral range: a port the OS hands out (bind to port 0) is
    one any outgoing connection may take as its local port before the server binds it, which
    failed loaded runs with EADDRINUSE; below the range only another free_port() can collide."""
    low, _ = _ephemeral()
    for _ in range(200):
        port = _RNG.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
