"""What the control socket can be asked to do. Nothing here deletes or formats footage."""

from __future__ import annotations

from typing import Any

from edged.control import Handler, RequestError
from storage.catalog import CatalogWriter
from storage.retention_store import HoldError, add_hold, now_us, release_hold


def _actor(args: dict[str, Any], user: str) -> str:
    """The OS account is proven by the socket; a person's name is what they typed."""
    person = str(args.get("person") or "").strip()
    return user if not person or person == user else f"{person} (as {user})"


def control_handlers(sup: Any, writer: CatalogWriter, runner: Any) -> dict[str, Handler]:
    async def ping(_args: dict[str, Any], user: str) -> dict[str, Any]:
        return {"pong": True, "user": user}

    async def hold_add(args: dict[str, Any], user: str) -> dict[str, Any]:
        now = now_us()
        kind = args.get("kind", "evidence")
        expires = args.get("expires_us")
        if kind == "evidence" and expires is None:
            expires = now + runner.cfg.retention.evidence_hold_us
        try:
            row = await writer.run(lambda c: add_hold(
                c.db, kind=kind, cameras=args.get("cameras"), from_us=int(args["from_us"]),
                to_us=int(args["to_us"]), reason=str(args.get("reason", "")), case_ref=str(args.get("case_ref", "")),
                placed_by=_actor(args, user), expires_us=expires, now=now))
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not placed: {exc}") from None
        return row

    async def hold_release(args: dict[str, Any], user: str) -> dict[str, Any]:
        try:
            row = await writer.run(lambda c: release_hold(
                c.db, int(args["id"]), actor=_actor(args, user), reason=str(args.get("reason", "")),
                approver=args.get("approver"), now=now_us()))
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not released: {exc}") from None
        runner.check_space()
        return row

    return {"ping": ping, "hold.add": hold_add, "hold.release": hold_release}
