"""Holds (R6): placing and releasing them, listing them, and the `hold` MQTT command. Nothing
here deletes or formats footage.

The server has checked the caller's role for the operation (edged/rules/roles.py); these check
what depends on the details: the cameras in the caller's scope, and which kind of hold is being
released (R6: a legal hold only by an approver). The MQTT command path calls `hold.add` with a
plain string actor (a signed command, not a session).
"""

from __future__ import annotations

from typing import Any

from edged.control.operation import CatalogReader, Operations, check_scope, integer, op
from edged.control.protocol import RequestError
from edged.control.server import Caller
from edged.daemon.retention_runner import RetentionRunner
from mqtt.commands import CommandRefused
from storage import audit, retention_store
from storage.catalog import CatalogWriter
from storage.retention_store import HoldError, add_hold, hold_row, release_hold


class HoldOps(Operations):
    def __init__(self, writer: CatalogWriter, runner: RetentionRunner, reader: CatalogReader):
        self.writer = writer
        self.runner = runner  # its config in force (SIGHUP), its clock, and a space check after a release
        self.reader = reader

    @op("hold.add")
    async def hold_add(self, args: dict[str, Any], caller: Any) -> dict[str, Any]:
        runner = self.runner
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

            row = await self.writer.run(place)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not placed: {exc}") from None
        return row

    @op("hold.release")
    async def hold_release(self, args: dict[str, Any], caller: Any) -> dict[str, Any]:
        try:
            hold_id = int(args["id"])
            current = await self.writer.run(lambda c: hold_row(c.db, hold_id))
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
                                   approver=approver, now=self.runner.clock.now_us())
                audit.append(c.db, row["ended_by"], "hold.release", {
                    "id": row["id"], "kind": row["kind"], "reason": row["end_reason"], "approver": row["approved_by"]})
                return row

            row = await self.writer.run(release)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(f"hold not released: {exc}") from None
        self.runner.check_space()
        return row

    @op("hold.list")
    async def hold_list(self, args: dict[str, Any], _caller: Any) -> list[dict[str, Any]]:
        return await self.reader.query(lambda db: retention_store.holds(db, bool(args.get("all"))))

    @op("hold.show")
    async def hold_show(self, args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        hold_id = integer(args.get("id"), "id")

        def q(db) -> dict[str, Any]:
            try:
                return hold_row(db, int(hold_id or 0))
            except HoldError as exc:
                raise RequestError(str(exc)) from None
        return await self.reader.query(q)

    async def mqtt_command(self, args: dict[str, Any], actor: Any) -> dict[str, Any]:
        """The `hold` MQTT command (design/0020): an evidence hold only, expiring within
        retention.evidence_hold. A legal hold keeps footage forever and only an approver at the box
        can end it, so a key or a broker account is never enough to place one."""
        runner = self.runner
        kind = args.get("kind", "evidence")
        if kind != "evidence":
            raise CommandRefused(f"MQTT places only evidence holds, not {str(kind)[:20]!r} holds; a legal hold is "
                                 "placed at the box by an approver (edgectl hold add --kind legal)")
        bound = runner.clock.now_us() + runner.cfg.retention.evidence_hold_us
        expires = args.get("expires_us", bound)
        if not isinstance(expires, int) or isinstance(expires, bool) or expires > bound:
            raise CommandRefused("an evidence hold over MQTT expires at the latest after retention.evidence_hold "
                                 f"({runner.cfg.retention.evidence_hold_us / 86_400e6:g} days)")
        return await self.hold_add({**args, "kind": "evidence", "expires_us": expires}, actor)
