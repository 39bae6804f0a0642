"""What the control socket can be asked to do about holds and maintenance. Nothing here deletes
or formats footage.

The server has already checked the caller's role for the operation (edged/rules/roles.py); the
handlers check what depends on the details: the cameras in the caller's scope, and which
kind of hold is being released (R6: a legal hold only by an approver). The MQTT command
path calls `hold.add` with a plain string actor (a signed command, not a session).
"""

from __future__ import annotations

from typing import Any

from edged.rules import roles
from edged.control.server import Caller, Handler, RequestError
from edged.daemon.maintenance import DEFAULT_VERIFY_US
from mqtt.commands import CommandRefused
from storage import audit
from storage.catalog import CatalogWriter
from storage.retention_store import HoldError, add_hold, hold_row, release_hold


def check_scope(caller: Any, cameras: list[str] | None, what: str) -> None:
    """A person acts only on the cameras of their account (R4.2); signed commands are not scoped."""
    if isinstance(caller, Caller) and caller.account is not None:
        outside = roles.out_of_scope(caller.cameras, cameras)
        if outside:
            raise RequestError(f"{what}: {caller.account} has no rights on {', '.join(outside)}")


def mqtt_hold(hold_add: Handler, runner: Any) -> Handler:
    """The `hold` MQTT command (design/0020): an evidence hold only, expiring within
    retention.evidence_hold. A legal hold keeps footage forever and only an approver at the box
    can end it, so a key or a broker account is never enough to place one."""
    async def hold(args: dict[str, Any], actor: Any) -> dict[str, Any]:
        kind = args.get("kind", "evidence")
        if kind != "evidence":
            raise CommandRefused(f"MQTT places only evidence holds, not {str(kind)[:20]!r} holds; a legal hold is "
                                 "placed at the box by an approver (edgectl hold add --kind legal)")
        bound = runner.clock.now_us() + runner.cfg.retention.evidence_hold_us
        expires = args.get("expires_us", bound)
        if not isinstance(expires, int) or isinstance(expires, bool) or expires > bound:
            raise CommandRefused("an evidence hold over MQTT expires at the latest after retention.evidence_hold "
                                 f"({runner.cfg.retention.evidence_hold_us / 86_400e6:g} days)")
        return await hold_add({**args, "kind": "evidence", "expires_us": expires}, actor)
    return hold


def control_handlers(sup: Any, writer: CatalogWriter, runner: Any, maintenance: Any = None) -> dict[str, Handler]:
    async def ping(_args: dict[str, Any], caller: Any) -> dict[str, Any]:
        return {"pong": True, "user": getattr(caller, "os_user", str(caller))}

    async def hold_add(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        now = runner.clock.now_us()
        kind = args.get("kind", "evidence")
        expires = args.get("expires_us")
        if kind == "evidence" and expires is None:
            expires = now + runner.cfg.retention.evidence_hold_us
        cameras = args.get("cameras")
        check_scope(caller, cameras, "hold not placed")
        try:
            def place(c):
                row = add_hold(c.db, kind=kind, cameras=cameras, from_us=int(args["from_us"]),
                               to_us=int(args["to_us"]), reason=str(args.get("reason", "")),
                               case_ref=str(args.get("case_ref", "")), placed_by=str(caller),
                               expires_us=expires, now=now)
                audit.append(c.db, row["placed_by"], "hold.add", {k: row[k] for k in (
                    "id", "kind", "cameras", "from_us", "to_us", "reason", "case_ref", "expires_us")})
                return row

            row = await writer.run(place)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not placed: {exc}") from None
        return row

    async def hold_release(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        try:
            hold_id = int(args["id"])
            current = await writer.run(lambda c: hold_row(c.db, hold_id))
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not released: {exc}") from None
        if isinstance(caller, Caller) and not caller.may(f"hold.release.{current['kind']}"):
            who = "an approver" if current["kind"] == "legal" else "a custodian"
            raise RequestError(f"hold not released: hold {hold_id} is a {current['kind']} hold; only {who} "
                               f"releases it (log in as one); {caller.account} has {', '.join(caller.roles)}")
        check_scope(caller, current["cameras"], "hold not released")
        approver = getattr(caller, "account", None) if current["kind"] == "legal" else None
        try:
            def release(c):
                row = release_hold(c.db, hold_id, actor=str(caller), reason=str(args.get("reason", "")),
                                   approver=approver, now=runner.clock.now_us())
                audit.append(c.db, row["ended_by"], "hold.release", {
                    "id": row["id"], "kind": row["kind"], "reason": row["end_reason"], "approver": row["approved_by"]})
                return row

            row = await writer.run(release)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not released: {exc}") from None
        runner.check_space()
        return row

    async def maintenance_begin(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        verify_us = int(args.get("verify_us") or DEFAULT_VERIFY_US)
        return await maintenance.begin(str(args.get("reason", "")), str(caller), verify_us)

    async def maintenance_end(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        return await maintenance.end(str(args.get("note", "")), str(caller))

    return {"ping": ping, "hold.add": hold_add, "hold.release": hold_release,
            "maintenance.begin": maintenance_begin, "maintenance.end": maintenance_end}
