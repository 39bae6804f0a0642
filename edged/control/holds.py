"""Holds (R6): placing, approving, extending and releasing them, listing them, and the `hold`
MQTT command. Nothing here deletes or formats footage.

The server has checked the caller's role for the operation (edged/rules/roles.py); these check
what depends on the details: the site's [policy.holds] (who places which kind, whether it waits
for an approver, how long it lasts: edged/rules/holds.py), the cameras in the caller's scope, and
which kind of hold is being released (R6: a legal hold only by an approver). The MQTT command
path calls `hold.add` with a plain string actor (a signed command, not a session): the same
rules but the role rule.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from edged.alarms import Alarms
from edged.control.operation import CatalogReader, Operations, check_scope, integer, op, sees
from edged.control.protocol import RequestError
from edged.control.needs import RetentionPart
from edged.control.server import Caller
from edged.i18n import _, hint_of, hinted
from edged.rules import holds as rules
from edged.rules.persons import Names, names_of
from edged.rules.roles import Actor
from mqtt.commands import CommandRefused
from storage import audit
from storage.alarm_kinds import HOLD_REVIEW_DUE
from storage.catalog import Catalog, CatalogWriter
from storage.people import accounts
from storage.retention import holds
from storage.retention.holds import HoldError, add_hold, hold_row, release_hold, update_hold


def visible_hold(db: sqlite_utils.Database, hold_id: int, caller: Actor, what: str) -> dict[str, Any]:
    """The hold, if the caller's scope covers its cameras: one outside it answers as if there were
    none, before anything else is checked or said (issue 56), as requests and grants do."""
    try:
        row = hold_row(db, hold_id)
    except HoldError:
        row = None
    if row is None or not sees(caller, row["cameras"]):
        raise RequestError(_("{refused}: {why}").format(refused=what, why=_("no hold {id}").format(id=hold_id)))
    return row


class HoldOps(Operations):
    def __init__(self, writer: CatalogWriter, runner: RetentionPart, reader: CatalogReader,
                 alarms: Alarms | None = None):
        self.alarms = alarms  # edged.alarms.Alarms: a legal hold reviewed or released clears its review alarm
        self.writer = writer
        self.runner = runner  # its config in force (SIGHUP), its clock, and a space check after a release
        self.reader = reader

    @op("hold.add")
    async def hold_add(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """Place a hold by the site's [policy.holds] (design/0041): who may, for how long, and
        whether it waits for an approver (then it is `pending` and keeps its footage meanwhile)."""
        runner = self.runner
        now = runner.clock.now_us()
        kind = args.get("kind", "evidence")
        cameras = args.get("cameras")
        check_scope(caller, cameras, _("hold not placed"))
        try:
            placed = rules.placing(runner.cfg.policy.holds, kind=kind, expires_us=args.get("expires_us"),
                                   roles=caller.roles if isinstance(caller, Caller) else None, now_us=now,
                                   default_us=runner.cfg.retention.evidence_hold_us, review_us=args.get("review_us"))

            def place(c: Catalog) -> dict[str, Any]:
                row = add_hold(c.db, kind=kind, cameras=cameras, from_us=int(args["from_us"]),
                               to_us=int(args["to_us"]), reason=str(args.get("reason", "")),
                               case_ref=str(args.get("case_ref", "")), placed_by=str(caller), now=now, **placed)
                audit.append(c.db, row["placed_by"], "hold.add", {k: row[k] for k in (
                    "id", "kind", "cameras", "from_us", "to_us", "reason", "case_ref", "expires_us", "state",
                    "wanted_expires_us", "review_us")})
                return row

            row = await self.writer.run(place)
        except (HoldError, rules.HoldRuleError, KeyError, ValueError, TypeError) as exc:
            raise hinted(RequestError(_("hold not placed: {why}").format(why=exc)), hint_of(exc)) from None
        return row

    async def _names(self) -> Names:
        """The site's people by their names, for a refusal that names them (design/0112)."""
        policy = self.runner.cfg.policy
        return await self.writer.run(lambda c: names_of(accounts.accounts(c.db), policy.titles, policy.units))

    @op("hold.approve")
    async def hold_approve(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        return await self._decide(args, caller, approve=True)

    @op("hold.reject")
    async def hold_reject(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        return await self._decide(args, caller, approve=False)

    async def _decide(self, args: dict[str, Any], caller: Actor, *, approve: bool) -> dict[str, Any]:
        what = _("hold not approved") if approve else _("hold not rejected")
        hold_id = integer(args.get("id"), "id")
        try:
            current = await self.writer.run(lambda c: visible_hold(c.db, int(hold_id or 0), caller, what))
            now = self.runner.clock.now_us()
            changes = rules.deciding(current, approver=str(caller), approve=approve,
                                     reason=str(args.get("reason", "")), now_us=now, policy=self.runner.cfg.policy.holds,
                                     names=await self._names())

            def decide(c: Catalog) -> dict[str, Any]:
                row = update_hold(c.db, current["id"], changes)
                audit.append(c.db, str(caller), "hold.approve" if approve else "hold.reject", {
                    "id": row["id"], "kind": row["kind"], "placed_by": row["placed_by"],
                    "expires_us": row["expires_us"], "reason": row["decision_reason"]})
                return row

            row = await self.writer.run(decide)
        except (HoldError, rules.HoldRuleError, ValueError) as exc:
            raise hinted(RequestError(_("{refused}: {why}").format(refused=what, why=exc)), hint_of(exc)) from None
        if not approve:
            self.runner.check_space()
        return row

    @op("hold.extend")
    async def hold_extend(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """Extend an evidence hold (by an approver, by default), at most [policy.holds.evidence] max from
        now; on a legal hold, review it: a new review date (`review_us`, or `expires_us` as the date)."""
        hold_id = integer(args.get("id"), "id")
        try:
            current = await self.writer.run(lambda c: visible_hold(c.db, int(hold_id or 0), caller,
                                                                   _("hold not extended")))
            now = self.runner.clock.now_us()
            roles = getattr(caller, "roles", ())
            if current["kind"] == "legal":
                changes = rules.reviewing(self.runner.cfg.policy.holds, current, by=str(caller), now_us=now,
                                          roles=roles, review_us=int(args.get("review_us") or args["expires_us"]),
                                          names=await self._names())
                action, before, after = "hold.review", "from_review_us", "review_us"
            else:
                changes = rules.extending(self.runner.cfg.policy.holds, current, by=str(caller), now_us=now,
                                          roles=roles, expires_us=int(args["expires_us"]), names=await self._names())
                action, before, after = "hold.extend", "from_expires_us", "expires_us"

            def extend(c: Catalog) -> dict[str, Any]:
                row = update_hold(c.db, current["id"], changes)
                audit.append(c.db, str(caller), action, {
                    "id": row["id"], before: current[after], after: row[after], "reason": str(args.get("reason", ""))})
                return row

            row = await self.writer.run(extend)
            if current["kind"] == "legal" and self.alarms is not None:
                await self.alarms.clear(HOLD_REVIEW_DUE.key(str(row["id"])))
            return row
        except (HoldError, rules.HoldRuleError, KeyError, ValueError, TypeError) as exc:
            raise hinted(RequestError(_("hold not extended: {why}").format(why=exc)), hint_of(exc)) from None

    @op("hold.release")
    async def hold_release(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        try:
            hold_id = int(args["id"])
        except (KeyError, ValueError, TypeError) as exc:
            raise RequestError(_("hold not released: {why}").format(why=exc)) from None
        current = await self.writer.run(lambda c: visible_hold(c.db, hold_id, caller, _("hold not released")))
        if isinstance(caller, Caller) and not caller.may(f"hold.release.{current['kind']}"):
            who = _("an approver") if current["kind"] == "legal" else _("a custodian")
            raise RequestError(_("hold not released: hold {id} is a {kind} hold; only {who} releases it (log in as "
                                 "one); {account} has {roles}").format(
                id=hold_id, kind=current["kind"], who=who, account=caller.account, roles=", ".join(caller.roles)))
        approver = getattr(caller, "account", None) if current["kind"] == "legal" else None
        try:
            def release(c: Catalog) -> dict[str, Any]:
                row = release_hold(c.db, hold_id, actor=str(caller), reason=str(args.get("reason", "")),
                                   approver=approver, now=self.runner.clock.now_us())
                audit.append(c.db, row["ended_by"], "hold.release", {
                    "id": row["id"], "kind": row["kind"], "reason": row["end_reason"], "approver": row["approved_by"]})
                return row

            row = await self.writer.run(release)
        except (HoldError, KeyError, ValueError) as exc:
            raise RequestError(_("hold not released: {why}").format(why=exc)) from None
        if self.alarms is not None and row.get("review_us") is not None:
            await self.alarms.clear(HOLD_REVIEW_DUE.key(str(row["id"])))
        self.runner.check_space()
        return row

    @op("hold.list")
    async def hold_list(self, args: dict[str, Any], caller: Actor) -> list[dict[str, Any]]:
        """The holds on the caller's cameras only (R4.2; issue 27)."""
        rows = await self.reader.query(lambda db: holds.holds(db, bool(args.get("all"))))
        return [r for r in rows if sees(caller, r["cameras"])]

    @op("hold.show")
    async def hold_show(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        hold_id = integer(args.get("id"), "id")

        return await self.reader.query(lambda db: visible_hold(db, int(hold_id or 0), caller, _("hold not shown")))

    async def mqtt_command(self, args: dict[str, Any], actor: str) -> dict[str, Any]:
        """The `hold` MQTT command (design/0020): an evidence hold only, expiring within
        retention.evidence_hold. A legal hold keeps footage forever and only an approver at the box
        can end it, so a key or a broker account is never enough to place one."""
        runner = self.runner
        kind = args.get("kind", "evidence")
        if kind != "evidence":
            # i18n: an MQTT command's refusal: MQTT stays English
            raise CommandRefused(f"MQTT places only evidence holds, not {str(kind)[:20]!r} holds; a legal hold is "
                                 "placed at the box by an approver (edgectl hold add --kind legal)")
        bound = rules.mqtt_bound(runner.cfg.policy.holds, runner.clock.now_us(), runner.cfg.retention.evidence_hold_us)
        expires = args.get("expires_us", bound)
        if not isinstance(expires, int) or isinstance(expires, bool) or expires > bound:
            # i18n: an MQTT command's refusal: MQTT stays English
            raise CommandRefused("an evidence hold over MQTT expires at the latest after retention.evidence_hold "
                                 "or [policy.holds.evidence] max, whichever is shorter "
                                 f"({(bound - runner.clock.now_us()) / 86_400e6:g} days)")
        try:
            return await self.hold_add({**args, "kind": "evidence", "expires_us": expires}, actor)
        except RequestError as exc:
            raise CommandRefused(str(exc)) from None
