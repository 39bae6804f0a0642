"""The auditor's pages at the desk (design/0073, R7): the audit log with filters (`audit.list`,
as `edgectl audit list`) and the check of the chain (`audit.verify`). Reading the log is the
auditor's alone; checking the chain is anyone's, as on the control socket."""

from __future__ import annotations

import json

from aiohttp import web

from edged.i18n import _
from edged.viewer.desk.app import Desk
from edged.viewer.desk.page import DONE, REFUSED, Ctx, badge, button, esc, facts, field_, form, select, table, text_input

LIMITS = ("50", "200", "1000")


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/audit", desk.page("audit.list", pages.listing))
    r.add_post("/desk/audit/verify", desk.page("audit.verify", pages.verify))


def code(value: object, cls: str = "") -> str:
    """A record's own words (actor, action, detail): shown as written, never translated."""
    return f'<code translate="no" class="{cls}">{esc(value)}</code>'


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    async def listing(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        q = request.query
        action, actor = q.get("action", "").strip(), q.get("actor", "").strip()
        since = ctx.parse_time(q.get("from", "")) if q.get("from") else None
        limit = q.get("limit") if q.get("limit") in LIMITS else LIMITS[1]
        rows = await self.desk.run(ctx, "audit.list", {"action": action or None, "from_us": since,
                                                       "limit": int(limit)})
        if actor:  # the operation filters by action and time; the actor is narrowed here, on the page
            rows = [r for r in rows if r["actor"] == actor or str(r["actor"]).startswith(actor + " (")]
        filters = ('<form method="get" action="/desk/audit" class="filters">'
                   + field_(_("Action"), text_input("action", action), _("an action and its sub-actions, as the record writes it"))
                   + field_(_("Actor"), text_input("actor", actor))
                   + field_(_("From"), text_input("from", q.get("from", ""), kind="datetime-local"))
                   + field_(_("Records"), select("limit", [(n, n) for n in LIMITS], limit))
                   + button(_("Show"), cls="quiet") + "</form>")
        body = filters + table(
            [_("No."), _("Time"), _("Actor"), _("Action"), _("Details")],
            [[esc(r["seq"]), esc(ctx.when(r["at_us"])), code(r["actor"]), code(r["action"]),
              code(json.dumps(r["detail"], ensure_ascii=False, sort_keys=True), "detail")]
             for r in reversed(rows)], caption=_("{n} records, the newest first").format(n=len(rows)))
        body += form(ctx, "/desk/audit/verify", button(_("Check the chain"), cls="quiet"), cls="actions")
        return self.desk.render(ctx, _("Audit log"), body)

    async def verify(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        result = await self.desk.run(ctx, "audit.verify", {})
        state = (badge(DONE, _("intact")) if result["ok"] else
                 badge(REFUSED, _("broken: {problem}").format(problem=result["problem"])))
        head = result.get("head") or {}
        body = facts([(_("Chain"), state), (_("Records"), esc(result["records"])),
                      (_("Last record"), esc(head.get("seq"))), (_("Its hash"), code(head.get("hash")))])
        return self.desk.render(ctx, _("Check the chain"), body)
