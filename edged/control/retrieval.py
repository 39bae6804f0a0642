"""Retrieval requests (調閱申請, R5) over the control socket: filed by staff, decided by an
approver who did not file them; a viewer sees only their own. The rules are
edged/rules/retrieval.py's; a flagged request alerts the ethics office at once (R5.8).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import sqlite_utils

from edged import people
from edged.alarms import ETHICS, Alarms
from edged.config import Config
from edged.config.policy import KindRules
from edged.control.operation import Operations, op, read_catalog, sees, text, write_refusing
from edged.control.protocol import RequestError
from edged.control.server import Caller
from edged.rules import deadlines, retrieval as rq
from edged.i18n import Msg, _, hint_of, hinted, us
from edged.coalesce import Coalescer
from edged.rules.throttle import Limits, LoginThrottle
from edged.rules.redaction import NONE, RedactionRuleError, shown, whole_picture
from edged.rules import audit_words
from edged.rules.persons import names_of
from edged.rules.words import span
from storage import alarm_kinds
from storage import audit
from storage.people import accounts, retrieval_store
from storage.catalog import CatalogWriter
from storage.redact import job as redact_jobs
from storage.redact import copies as redact_copies
from storage.time.clock import SYSTEM, Clock
from storage.states.requests import FILED


# requests one account may file: 10 at once, then one a minute
FILING_LIMITS = Limits(burst=10, refill_s=60.0)


class RequestOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms | None = None, clock: Clock = SYSTEM):
        self.accounts = cfg.accounts  # grants' lifetime
        self.policy = cfg.policy      # the site's rules for requests (design/0036)
        self.zone = cfg.site.timezone  # its calendar, on which a due time in days is counted (design/0089)
        self.data_dir: Path = cfg.storage.data_dir
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.filing = LoginThrottle(FILING_LIMITS)   # the viewer's bucket, per account
        self.flagged: Coalescer[str] = Coalescer()

    @op("request.file")
    async def file(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """Filing is limited per account (design/0062): each request is a row and a record kept for
        years, and a flagged one alerts the ethics office, so nobody may file them by the thousand."""
        fields = dict(args)
        filer = caller.account or str(caller)
        wait = self.filing.try_login(filer, time.monotonic())
        if wait is not None:
            raise RequestError(_("{account} filed too many requests in a short time; try again in {s} s").format(
                account=filer, s=int(wait) + 1))
        now = self.clock.now_us()
        row = await write_refusing(self.writer, lambda db: people.file_request(
            db, fields, filed_by=filer, now_us=now, key=retrieval_store.id_key(self.data_dir), policy=self.policy,
            tz=deadlines.local_tz(now, self.zone)), _("request not filed"))
        # one ethics alarm per filer a minute: the others flagged meanwhile are on the record and in
        # `request list`, and the office already has the alarm to look there
        if row.get("flag") and self.flagged.note(filer, time.monotonic()):
            await self._ethics(row)
        return row

    async def _ethics(self, row: dict[str, Any]) -> None:
        """R5.8: a major or abnormal request goes to the ethics office at once (an alarm on MQTT)."""
        if self.alarms is not None and row.get("flag"):
            await self.alarms.raise_(alarm_kinds.ETHICS,
                                     Msg(ETHICS, id=row["id"], kind=row["kind"], category=row["category"],
                                         flag=row["flag"]), rq.stub(row), about=f"request:{row['id']}")

    @op("request.show")
    async def show(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        request_id = int(args.get("id") or 0)
        row = await read_catalog(self.data_dir, lambda db: retrieval_store.request_row(db, request_id))
        if row is None or not sees(caller, row.get("cameras")):   # out of scope: as if there were none (issue 45)
            raise RequestError(_("no request {id}").format(id=request_id))
        if not caller.may("request.all") and row["filed_by"] != caller.account:
            raise RequestError(_("no request {id} that you filed").format(id=request_id))
        rules = self.policy.kinds.get(row["kind"])   # what a citizen's grant shows (design/0232): the forms say it
        redact = shown(row["kind"], rules).redact if rules is not None else NONE
        if (row.get("grant") or {}).get("unredacted_by"):   # an approver allowed the whole picture (design/0276)
            redact = NONE
        g = row.get("grant") or {}
        staged = [] if redact == NONE or not g.get("id") else await read_catalog(   # design/0277: a copy to go on with
            self.data_dir, lambda db: retrieval_store.redacted_exports(db, g["id"]))
        staged = await asyncio.to_thread(_copy_states, staged)
        return {**row, "redacted": None if redact == NONE else redact, "redacted_exports": staged}

    @op("request.unredact")
    async def unredact(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """An approver allows a citizen's request the whole picture, with a reason (design/0276):
        edged/rules/redaction.py `whole_picture` is the rule, the desk's and edgectl's alike."""
        request_id = int(args.get("id") or 0)
        row = await read_catalog(self.data_dir, lambda db: retrieval_store.request_row(db, request_id))
        if row is None or not sees(caller, row.get("cameras")):   # out of scope: as if there were none (issue 45)
            raise RequestError(_("no request {id}").format(id=request_id))
        by = caller.account or str(caller)
        try:
            return await self.writer.run(lambda c: allow_whole_picture(
                c.db, request_id, by=by, roles=caller.roles, reason=text(args, "reason"), now_us=self.clock.now_us(),
                kinds=self.policy.kinds, titles=self.policy.titles, units=self.policy.units))
        except RedactionRuleError as exc:
            raise RequestError(_("the whole picture not allowed: {why}").format(why=exc)) from None

    @op("request.list")
    async def listing(self, args: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        filed_by = None if caller.may("request.all") else caller.account
        id_hmac = None
        if args.get("citizen_id"):
            try:
                key = await asyncio.to_thread(retrieval_store.id_key, self.data_dir)
                id_hmac = rq.id_hmac(str(args["citizen_id"]), key)
            except rq.RequestRuleError as exc:
                raise RequestError(str(exc)) from None
        rows = await read_catalog(self.data_dir, lambda db: retrieval_store.list_requests(
            db, state=args.get("state"), kind=args.get("kind"), filed_by=filed_by, id_hmac=id_hmac,
            limit=int(args.get("limit") or 500)))
        return [r for r in rows if sees(caller, r.get("cameras"))]   # the caller's cameras only (issue 45)

    @op("request.approve")
    async def approve(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await self._decide(args, caller, True)

    @op("request.reject")
    async def reject(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await self._decide(args, caller, False)

    async def _decide(self, args: dict[str, Any], caller: Caller, approve: bool) -> dict[str, Any]:
        request_id = int(args.get("id") or 0)
        asked = args.get("expires_us")
        try:  # an approver's --expires: never past the site's grant_ttl, never zero or negative
            ttl, clamped = rq.grant_lifetime(None if asked is None else int(asked), self.accounts.grant_ttl_us,
                                             self.accounts.grant_ttl_us)
        except rq.RequestRuleError as exc:
            raise hinted(RequestError((_("request not approved: "
                                         "{why}") if approve else _("request not rejected: {why}")).format(
                why=exc)), hint_of(exc)) from None
        row = await write_refusing(self.writer, lambda db: people.decide_request(
            db, request_id, approver=caller.account or str(caller), approve=approve, reason=text(args, "reason"),
            now_us=self.clock.now_us(), grant_ttl_us=ttl, flag=args.get("flag") or None,
            flag_note=text(args, "flag_note") or None, titles=self.policy.titles, units=self.policy.units), _("request not "
                                                          "approved") if approve else _("request not rejected"))
        if self.alarms is not None and row["state"] != FILED:  # decided: no longer overdue
            await self.alarms.clear(alarm_kinds.REQUEST_OVERDUE.key(str(request_id)))
        await self._ethics(row)
        if clamped:
            row = {**row, "note": _("the grant's lifetime asked for is longer than {us} allows: it expires after "
                                    "{span}").format(us=us(), span=span(ttl))}
        return row


def allow_whole_picture(db: sqlite_utils.Database, request_id: int, *, by: str, roles: Sequence[str], reason: str,
                        now_us: int, kinds: Mapping[str, KindRules], titles: Mapping[str, Iterable[str]] | None = None,
                        units: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    """An approver allows a citizen's request the whole picture, with a reason (design/0276): the
    rule is edged/rules/redaction.py `whole_picture`; the allowance is kept with the grant and is
    the audit record `request.unredacted` (who: the actor; which request and grant; the reason).
    Raises RedactionRuleError; a refusal is not written (as a refused sign-off is not)."""
    with db.atomic():
        req = retrieval_store.request_row(db, request_id)
        if req is None:
            raise RedactionRuleError(_("no request {id}").format(id=request_id))
        names = names_of(accounts.accounts(db), titles or {}, units or {})
        allowed = whole_picture(req, kinds.get(req["kind"]), by=by, roles=roles, reason=reason, now_us=now_us,
                                names=names)
        grant = req["grant"]
        if not retrieval_store.allow_whole_picture(db, grant["id"], by=by, reason=str(allowed.reason), at_us=now_us):
            raise RedactionRuleError(_("grant {id} was used or allowed meanwhile").format(id=grant["id"]))
        audit.append(db, by, audit_words.REQUEST_UNREDACTED, {
            "request": req["id"], "grant": grant["id"], "kind": req["kind"], "reason": allowed.reason}, at_us=now_us)
    return retrieval_store.request_row(db, request_id)  # type: ignore[return-value]


def _copy_states(staged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each staging export of a redacted copy with whether it is still staged (swept after a day)
    and whether its copy was released (design/0277, 0279) or made (design/0347); its folder is not said."""
    out = []
    for e in staged:
        folder = Path(e.pop("out_dir"))
        use = redact_jobs.released_for(folder)
        made = redact_copies.newest_made(folder) is not None   # a copy to play and release (design/0347)
        out.append({**e, "staged": folder.is_dir(), "released": use is not None, "released_for": use, "made": made,
                    "released_by": redact_jobs.released_by(folder) if use is not None else None})   # issue 91 D4
    return out
