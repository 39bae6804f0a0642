"""Maintenance windows (R1.7) over the control socket: begin, end, list. The work itself (the
catalog copy, the hash check, the window on the record) is edged/daemon/maintenance.py's."""

from __future__ import annotations

from typing import Any

from edged.control.operation import CatalogReader, Operations, limit_of, op
from edged.control.protocol import RequestError
from edged.control.needs import MaintenancePart
from edged.ports import MaintenanceError
from edged.rules.roles import Actor
from storage import maintenance as maintenance_table


class MaintenanceOps(Operations):
    def __init__(self, maintenance: MaintenancePart, reader: CatalogReader):
        self.maintenance = maintenance
        self.reader = reader

    @op("maintenance.begin")
    async def begin(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        verify = {"verify_us": int(args["verify_us"])} if args.get("verify_us") else {}  # else the window's default
        try:
            return await self.maintenance.begin(str(args.get("reason", "")), str(caller), **verify,
                                                attended_by=str(args.get("attended_by") or ""),
                                                vendor=str(args.get("vendor") or ""),
                                                touches_storage=bool(args.get("touches_storage")),
                                                progress=getattr(caller, "progress", None))
        except MaintenanceError as exc:
            raise RequestError(str(exc)) from None

    @op("maintenance.end")
    async def end(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        try:
            return await self.maintenance.end(str(args.get("note", "")), str(caller))
        except MaintenanceError as exc:
            raise RequestError(str(exc)) from None

    @op("maintenance.password_changed")
    async def password_changed(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """After a vendor's maintenance (002 §6(3)): the superuser password was changed (design/0083)."""
        try:
            return await self.maintenance.password_changed(str(args.get("note", "")), str(caller))
        except MaintenanceError as exc:
            raise RequestError(str(exc)) from None

    @op("maintenance.list")
    async def listing(self, args: dict[str, Any], _caller: Actor) -> list[dict[str, Any]]:
        limit = limit_of(args, 50)
        return await self.reader.query(lambda db: maintenance_table.recent(db, limit))
