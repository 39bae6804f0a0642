"""Ports for the servers a test starts on 127.0.0.1."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

_RNG = random.SystemRandom()   # not the module's generator, which a test may seed
_GIVEN: dict[int, float] = {}  # port -> when this process handed it out
_HELD_S = 300.0                # a port handed out is not handed out again by this process for this long


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _share() -> tuple[int, int]:
    """This test process's ports: the 12,000 below the ephemeral range, split between pytest-xdist's
    processes, so that two processes never hand out the same port."""
    low, _ = _ephemeral()
    base = max(1024, low - 12000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), 1)
    i = int(worker[2:]) % count if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (low - base) // count
    return base + i * size, base + (i + 1) * size


def free_port() -> int:
    """A TCP port free on 127.0.0.1 a moment ago, for a server the test is about to start.

    Chosen at random below the OS's ephemeral range: a port the OS hands out (bind to port 0) is
    one any outgoing connection may take as its local port before the server binds it, which
    failed loaded runs with EADDRINUSE. Below the range only another free_port() can collide, and
    a server can take seconds to bind on a loaded box: each test process draws from its own share
    of the range (`_share`) and never hands out a port twice within `_HELD_S` (a loaded CI run saw
    a daemon's viewer port taken by another test's server before the daemon bound it)."""
    lo, hi = _share()
    now = time.monotonic()
    for port, at in list(_GIVEN.items()):
        if now - at > _HELD_S:
            del _GIVEN[port]
    for _ in range(200):
        port = _RNG.randrange(lo, hi)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _GIVEN[port] = now
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
