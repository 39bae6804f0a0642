"""What every edgectl verb gets (the daemon's control socket) and where that socket is found.

Its own module so that the verbs' modules (edged/cli/probe.py asks the daemon who is logged in)
and edgectl's dispatcher can both use it without importing each other (issue 41: the cycle
edgectl -> health -> probe -> edgectl).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOCKET_ENV = "EDGECTL_SOCKET"
DEFAULT_SOCKET = Path("/run/edged/control.sock")


def find_socket(given: Path | None) -> Path:
    """Absolute, since a saved session is keyed by the socket's path."""
    if given is None and os.environ.get(SOCKET_ENV):
        given = Path(os.environ[SOCKET_ENV])
    if given is None:
        given = DEFAULT_SOCKET
    return Path(os.path.abspath(given))


@dataclass
class Ctx:
    """What every command gets: the daemon's control socket."""

    socket: Path
