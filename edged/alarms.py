"""Raising and clearing alarms: kept in the catalog (stable key, one active row per key) and
logged when they change. A change is also handed at once to `publish` when MQTT reporting is on
(edged/daemon/reporting.py queues it in the durable outbox); during a maintenance window
`downgrade` marks the expected faults as "maintenance" instead of their own severity."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from storage import logs
from storage.catalog import Catalog, CatalogWriter
from storage.clock import SYSTEM, Clock

log = logging.getLogger("edged.alarm")


class Alarms:
    def __init__(self, writer: CatalogWriter, clock: Clock = SYSTEM):
        self.clock = clock
        self.writer = writer
        self.downgrade: Callable[[str], bool] = lambda _kind: False  # set by the maintenance window
        self.publish: Callable[[dict[str, Any]], Awaitable[None]] | None = None  # the MQTT reporter

    async def raise_(self, key: str, kind: str, severity: str, camera: str | None, message: str,
                     detail: dict[str, Any] | None = None) -> None:
        if self.downgrade(kind):
            severity = "maintenance"  # an expected fault during a maintenance window
        new = await self.writer.run(Catalog.raise_alarm, key, kind, severity, camera, message, detail,
                                    self.clock.now_us())
        if new:
            (log.error if severity == "critical" else log.warning)(
                "ALARM %s (%s): %s", key, severity, message, **logs.fields(camera=camera, alarm=key, kind=kind))
            if self.publish is not None:
                await self.publish({"id": key, "action": "raise", "kind": kind, "severity": severity,
                                    "camera": camera, "message": message, "detail": detail,
                                    "at_us": self.clock.now_us()})

    async def clear(self, key: str) -> None:
        if await self.writer.run(Catalog.clear_alarm, key, self.clock.now_us()):
            log.info("alarm cleared: %s", key, **logs.fields(alarm=key))
            if self.publish is not None:
                await self.publish({"id": key, "action": "clear", "at_us": self.clock.now_us()})

    async def set(self, active: bool, key: str, kind: str, severity: str, camera: str | None, message: str,
                  detail: dict[str, Any] | None = None) -> None:
        if active:
            await self.raise_(key, kind, severity, camera, message, detail)
        else:
            await self.clear(key)
