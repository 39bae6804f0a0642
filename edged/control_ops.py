"""What the control socket can be asked to do. Nothing here deletes or formats footage."""

from __future__ import annotations

from typing import Any

from edged.control import Handler, RequestError
from edged.maintenance import DEFAULT_VERIFY_US
from storage import audit
from storage.catalog import CatalogWriter
from storage.retention_store import HoldError, add_hold, now_us, release_hold


def _actor(args: dict[str, Any], user: str) -> str:
    """The OS account is proven by the socket; a person's name is what they typed."""
    person = str(args.get("person") or "").strip()
    return user if not person or person == user else f"{person} (as {user})"


def control_handlers(sup: Any, writer: CatalogWriter, runner: Any, maintenance: Any = None) -> dict[str, Handler]:
    async def ping(_args: dict[str, Any], user: str) -> dict[str, Any]:
        return {"pong": True, "user": user}

    async def hold_add(args: dict[str, Any], user: str) -> dict[str, Any]:
        now = now_us()
        kind = args.get("kind", "evidence")
        expires = args.get("expires_us")
        if kind == "evidence" and expires is None:
            expires = now + runner.cfg.retention.evidence_hold_us
        try:
            def place(c):
                row = add_hold(c.db, kind=kind, cameras=args.get("cameras"), from_us=int(args["from_us"]),
                               to_us=int(args["to_us"]), reason=str(args.get("reason", "")),
                               case_ref=str(args.get("case_ref", "")), placed_by=_actor(args, user),
                               expires_us=expires, now=now)
                audit.append(c.db, row["placed_by"], "hold.add", {k: row[k] for k in (
                    "id", "kind", "cameras", "from_us", "to_us", "reason", "case_ref", "expires_us")})
                return row

            row = await writer.run(place)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not placed: {exc}") from None
        return row

    async def hold_release(args: dict[str, Any], user: str) -> dict[str, Any]:
        try:
            def release(c):
                row = release_hold(c.db, int(args["id"]), actor=_actor(args, user),
                                   reason=str(args.get("reason", "")), approver=args.get("approver"), now=now_us())
                audit.append(c.db, row["ended_by"], "hold.release", {
                    "id": row["id"], "kind": row["kind"], "reason": row["end_reason"], "approver": row["approved_by"]})
                return row

            row = await writer.run(release)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not released: {exc}") from None
        runner.check_space()
        return row

    async def maintenance_begin(args: dict[str, Any], user: str) -> dict[str, Any]:
        verify_us = int(args.get("verify_us") or DEFAULT_VERIFY_US)
        return await maintenance.begin(str(args.get("reason", "")), _actor(args, user), verify_us)

    async def maintenance_end(args: dict[str, Any], user: str) -> dict[str, Any]:
        return await maintenance.end(str(args.get("note", "")), _actor(args, user))

    return {"ping": ping, "hold.add": hold_add, "hold.release": hold_release,
            "maintenance.begin": maintenance_begin, "maintenance.end": maintenance_end}
