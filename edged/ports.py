"""Hand-offs between parts that need each other (design/0031, "Constructor injection").

Alarms are published over MQTT, and MQTT reporting raises an alarm when its outbox is full;
an inspection is published over MQTT, and an MQTT command runs an inspection; the maintenance
window downgrades alarms, and raises them. One side of each pair has to exist first. That side
takes a port in its constructor, so what it depends on is declared there and typed; the
composition root (edged/app.py) connects the port once the other side exists, before
anything runs. Until then a port does nothing: an `Outlet` drops what it is given (MQTT is off,
or not started yet), a `Check` answers False.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PortError(RuntimeError):
    """A port connected twice: the composition root is wrong."""


class Outlet(Generic[T]):
    """Records handed on to one consumer (the MQTT reporter)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._to: Callable[[T], Awaitable[object]] | None = None

    def connect(self, to: Callable[[T], Awaitable[object]]) -> None:
        if self._to is not None:
            raise PortError(f"{self.name} is connected already")
        self._to = to

    @property
    def connected(self) -> bool:
        return self._to is not None

    async def __call__(self, item: T) -> None:
        if self._to is not None:
            await self._to(item)


class Trigger:
    """A call handed on to one other part (a maintenance window's end -> a retention pass now)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._to: Callable[[], None] | None = None

    def connect(self, to: Callable[[], None]) -> None:
        if self._to is not None:
            raise PortError(f"{self.name} is connected already")
        self._to = to

    def __call__(self) -> None:
        if self._to is not None:
            self._to()


class Check:
    """A yes/no question answered by another part (is this alarm kind excused now?)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._by: Callable[[str], bool] | None = None

    def connect(self, by: Callable[[str], bool]) -> None:
        if self._by is not None:
            raise PortError(f"{self.name} is connected already")
        self._by = by

    def __call__(self, key: str) -> bool:
        return self._by is not None and self._by(key)


# Refusals: what a part raises to say no to a person. The control socket answers with the
# message as is (edged/control/); they sit here, below both, so neither imports the other.
class MaintenanceError(Exception):
    """A window that cannot begin or end; the message says why (edgectl shows it as is)."""


class ReferenceRefused(Exception):
    """Why a reference picture could not be set (shown to the person as is)."""


class InspectionError(Exception):
    """A refused signing (shown to the person as is)."""
