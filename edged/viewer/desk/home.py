"""The desk's home page (design/0073): what waits for this person's sign-off (requests, holds,
inspections), and a way into each page their roles open. It gathers from the page modules;
none of them imports it."""

from __future__ import annotations

from aiohttp import web

from edged.i18n import _, ngettext
from edged.viewer.desk.app import DESK, Desk
from edged.viewer.desk.day import auditor_day, custodian_day
from edged.viewer.desk.holds import hold_waits_for
from edged.viewer.desk.inspections import waiting_runs
from edged.viewer.desk.paper import waiting_applications
from edged.viewer.desk.redaction_cards import copies_to_release
from edged.viewer.desk.page import WAIT, Ctx, badge, button, esc, form, link
from edged.viewer.desk.requests import waiting_for


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    r.add_get(DESK, desk.page("whoami", Pages(desk).home))


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    async def home(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        welcome = _("Welcome, {account}. Here is what the desk offers you.").format(account=ctx.who(ctx.account))
        parts = [f'<p class="lead">{esc(welcome)}</p>']
        if ctx.may("audit.due"):  # each person's day first (design/0108)
            parts.append(await auditor_day(self.desk, ctx))
        if ctx.may("playback.start") or ctx.may("export.run"):
            parts.append(await custodian_day(self.desk, ctx))
        parts.append(await copies_to_release(self.desk, ctx))   # for a second person, where the site asks one
        if ctx.may("request.approve"):
            parts.append(await self.waiting(ctx))
        if ctx.may("request.file"):
            follow = _("Follow your requests") if not ctx.may("request.all") else _("All requests")
            parts.append(section(_("Requests"), link("/desk/requests/new", _("File a request"), "button") + " "
                                 + link("/desk/requests", follow)))
        if ctx.may("hold.add"):
            parts.append(section(_("Holds"), link("/desk/holds/new", _("Place a hold"), "button") + " "
                                 + link("/desk/holds", _("Holds"))))
        if ctx.may("evidence.list"):   # a portable camera's file (design/0356) and the intakes' register
            take = (link("/desk/intake", _("Take in a portable camera's file"), "button") + " "
                    if ctx.may("evidence.import") else "")
            parts.append(section(_("Portable cameras"), take + link("/desk/intakes", _("Intakes"))))
        if ctx.may("inspect.run"):
            parts.append(section(_("Inspections"), form(ctx, "/desk/inspections/run", button(
                _("Run an inspection now")), cls="inline") + " " + link("/desk/inspections", _("Inspections"))))
        if ctx.may("maintenance.list"):
            parts.append(section(_("Maintenance"), link("/desk/maintenance", _("Maintenance windows"))))
        if ctx.may("account.add"):
            parts.append(section(_("Accounts"), link("/desk/accounts/new", _("Open an account"), "button") + " "
                                 + link("/desk/accounts", _("Accounts"))))
        return self.desk.render(ctx, _("Home"), "".join(parts))

    async def waiting(self, ctx: Ctx) -> str:
        """What waits for this approver's sign-off, each kind counted apart and named (issue 91
        D6, design/0391): requests, holds, inspections, and the account applications their site's
        rule asks them to sign (edged/rules/applications.py `waiting_signatures`)."""
        rows = await self.desk.run(ctx, "request.list", {"state": "filed"})
        holds = ([h for h in await self.desk.run(ctx, "hold.list", {}) if hold_waits_for(h, ctx)]
                 if ctx.may("hold.approve") else [])
        counts = [("requests", len([r for r in rows if waiting_for(r, ctx)])), ("holds", len(holds)),
                  ("inspections", len(await waiting_runs(self.desk, ctx))),
                  ("applications", len(await waiting_applications(self.desk, ctx)))]
        said = [badge(WAIT, counted(kind, n)) for kind, n in counts if n]
        return section(_("Waiting for you"), (" ".join(said) if said else esc(_("Nothing waits for your sign-off.")))
                       + " " + link("/desk/inbox", _("Open the inbox")))


def counted(kind: str, n: int) -> str:
    """One kind of what waits, counted and named (design/0391): never a bare number."""
    if kind == "requests":
        return ngettext("{n} request waits for your sign-off", "{n} requests wait for your sign-off", n).format(n=n)
    if kind == "holds":
        return ngettext("{n} hold waits for your approval", "{n} holds wait for your approval", n).format(n=n)
    if kind == "inspections":
        return ngettext("{n} inspection waits for your countersignature",
                        "{n} inspections wait for your countersignature", n).format(n=n)
    return ngettext("{n} account application waits for your signature",
                    "{n} account applications wait for your signature", n).format(n=n)


def section(title: str, body: str) -> str:
    return f'<section class="card"><h2>{esc(title)}</h2><div class="actions">{body}</div></section>'
