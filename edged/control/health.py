"""Control-socket operations for camera health and inspections (issue 5)."""

from __future__ import annotations

from typing import Any

from edged.control.server import Handler, RequestError
from edged.daemon.health_monitor import HealthMonitor, ReferenceRefused
from edged.daemon.inspection_runner import InspectionError, InspectionRunner


def health_handlers(monitor: HealthMonitor, runner: InspectionRunner) -> dict[str, Handler]:
    async def set_reference(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        try:
            return await monitor.set_reference(str(args.get("camera", "")), str(caller))
        except ReferenceRefused as exc:
            raise RequestError(str(exc)) from None

    async def inspect_run(_args: dict[str, Any], caller: Any) -> dict[str, Any]:
        return await runner.run_now("manual", None, str(caller))

    async def inspect_sign(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        notes = args.get("notes") or {}
        if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
            raise RequestError("notes must map camera ids to text")
        try:
            return await runner.sign(int(args["run"]), str(args.get("name", "")), str(caller), notes)
        except (InspectionError, KeyError, ValueError) as exc:
            raise RequestError(f"not signed: {exc}") from None

    async def inspect_countersign(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        try:
            return await runner.countersign(int(args["run"]), str(args.get("name", "")), str(caller))
        except (InspectionError, KeyError, ValueError) as exc:
            raise RequestError(f"not countersigned: {exc}") from None

    return {"camera.set_reference": set_reference, "inspect.run": inspect_run, "inspect.sign": inspect_sign,
            "inspect.countersign": inspect_countersign}
