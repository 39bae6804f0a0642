"""What the control socket's operations need from the daemon's parts (design/0068).

The operations are handed the daemon's parts (the retention runner, the health monitor, the
inspection runner, the maintenance window) by the composition root, edged/app.py. They name
them by these protocols, not by the daemon's classes, so edged/control/ imports nothing of
edged/daemon/ and the two stand side by side under the root; the classes match by shape
(structural typing, checked by mypy where the root hands them over). The refusals the parts
raise are edged/ports.py's, below both.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Callable, Protocol

from edged.config import Config
from storage.time.clock import Clock


class RetentionPart(Protocol):
    """The retention runner, for holds: its config in force (SIGHUP), its clock, and a space
    check after a hold is released (edged/daemon/retention_runner.py)."""

    @property
    def cfg(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    def check_space(self) -> None: ...


class ReferencePart(Protocol):
    """The health monitor: a camera's reference picture (edged/daemon/health_monitor.py)."""

    async def set_reference(self, cam: str, actor: str) -> dict[str, Any]: ...


class DeadlinesPart(Protocol):
    """The deadline watch (edged/daemon/deadlines.py): its time zone (None: the host's), and a
    check, at once when an audit is recorded."""

    @property
    def tz(self) -> tzinfo | None: ...
    async def check(self, now: int | None = None) -> dict[str, Any]: ...


class InspectionPart(Protocol):
    """The inspection runner (edged/daemon/inspection_runner.py)."""

    @property
    def cfg(self) -> Config: ...
    @property
    def deadlines(self) -> DeadlinesPart: ...
    async def run_now(self, kind: str, due_us: int | None, actor: str) -> dict[str, Any]: ...
    async def sign(self, run_id: int, name: str, actor: str, notes: dict[str, str],
                   repairs: list[str] | None = None) -> dict[str, Any]: ...
    async def countersign(self, run_id: int, name: str, actor: str, unit: str | None = None, *,
                          account: str | None = None) -> dict[str, Any]: ...


class MaintenancePart(Protocol):
    """Maintenance windows (edged/daemon/maintenance.py); `verify_us` left out: its default."""

    async def begin(self, reason: str, actor: str, verify_us: int = ..., attended_by: str = "", vendor: str = "",
                    touches_storage: bool = False,
                    progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]: ...
    async def end(self, note: str, actor: str, bound_us: int | None = None) -> dict[str, Any]: ...
    async def password_changed(self, note: str, actor: str) -> dict[str, Any]: ...


class TimePart(Protocol):
    """The time gate, for `time.status` and `time.confirm` (edged/daemon/time_gate.py, design/0095)."""

    def status(self) -> dict[str, Any]: ...
    async def confirm(self, actor: str, reason: str) -> dict[str, Any]: ...
    async def due_if_confirmed(self) -> dict[str, dict[str, int]]: ...
