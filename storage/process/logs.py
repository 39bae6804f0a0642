"""Logging: to the journal with structured fields under systemd, readable stderr otherwise.

Fields: CAMERA=, SEGMENT=, ALARM= and a MESSAGE_ID per kind of alarm, so
`journalctl -u edged CAMERA=counter-1` or `journalctl MESSAGE_ID=...` finds them.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any
from storage.process.threadname import name_os_thread

# A fixed namespace: MESSAGE_IDs stay the same across versions and machines.
_NAMESPACE = uuid.UUID("5b7c2d1e-6f0a-4c1b-9d3e-2a8f4e6b0c91")


def message_id(kind: str) -> str:
    """The journal MESSAGE_ID of one kind of alarm (a stable 128-bit id)."""
    return uuid.uuid5(_NAMESPACE, "edged.alarm." + kind).hex


def fields(camera: str | None = None, segment: str | None = None, alarm: str | None = None,
           kind: str | None = None) -> dict[str, Any]:
    """`extra=` for a log call; ignored on stderr, indexed in the journal."""
    out: dict[str, Any] = {}
    if camera:
        out["CAMERA"] = camera
    if segment:
        out["SEGMENT"] = segment
    if alarm:
        out["ALARM"] = alarm
    if kind:
        out["MESSAGE_ID"] = message_id(kind)
    return {"extra": out}


def _stderr_is_journal() -> bool:
    stream = os.environ.get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def setup(verbose: bool = False, identifier: str = "edged", fmt: str | None = None) -> None:
    name_os_thread(identifier)  # `top`, `ps -o comm` and the run's CPU by program tell edged from its recorders
    level = logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler | None = None
    if _stderr_is_journal():
        try:
            from systemd.journal import JournalHandler
        except ImportError:
            pass
        else:
            handler = JournalHandler(SYSLOG_IDENTIFIER=identifier)
            handler.setFormatter(logging.Formatter("%(message)s"))
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt or "%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
