"""The pages of design/0088 printed from the desk: an account's application (from the account's
page), a hold as the request to preserve footage and its approval (from the hold's page), and
a maintenance window's record (from the maintenance windows' list). Each is the renderer
edgectl writes (edged/documents/pages.py), in the reader's language with the site's [forms],
printed by the browser; each runs the control operation that shows its data, for the roles
that may run it."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from edged.documents.pages import ACTIONS, account_boxes, account_event, account_html, hold_html, maintenance_html
from edged.i18n import _
from edged.rules.applications import not_signed_words, sign_refusal, unsigned_boxes
from edged.viewer.desk.app import Desk, Refused, form_of
from edged.viewer.desk.page import Ctx, attr, button, esc, form, link, message, table


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Paper(desk)
    r.add_get(r"/desk/accounts/{name}/form", desk.page("account.show", pages.account))
    r.add_post(r"/desk/accounts/{name}/sign", desk.page("account.sign", pages.sign))
    r.add_post(r"/desk/accounts/{name}/paper", desk.page("account.sign_paper", pages.paper))
    r.add_get(r"/desk/holds/{id:\d+}/form", desk.page("hold.show", pages.hold))
    r.add_get("/desk/maintenance", desk.page("maintenance.list", pages.windows))
    r.add_get(r"/desk/maintenance/{id:\d+}/record", desk.page("maintenance.list", pages.maintenance))


def data(text: str | None) -> str:
    """What a person wrote or the record keeps (a name, a reason): shown as written, never translated."""
    return f'<span translate="no">{esc(text)}</span>' if text else esc(text)


def print_links(links: list[tuple[str, str]]) -> str:
    """The print buttons on a desk page, with the hint the application form's has."""
    how = _("Opens the printable form; print it on A4 with the browser (Ctrl+P).")
    return ('<p class="actions">' + " ".join(link(href, text, "button") for href, text in links)
            + f' <span class="hint">{esc(how)}</span></p>')


def sign_forms(desk: Desk, ctx: Ctx, a: dict[str, Any]) -> str:
    """A button per box this person may sign on each application on record (design/0088): for
    an approver who is neither the account's holder nor the admin who carried the change out."""
    if not ctx.may("account.sign") or not ctx.account:
        return ""
    boxes, out = account_boxes(desk.cfg.forms, desk.cfg.site.language), ""
    for action in ACTIONS:
        if account_event(a, action) is None:
            continue
        mine = [b for b in boxes if sign_refusal(a, action, b, ctx.account, boxes, desk.cfg.policy.titles) is None]
        if mine:
            hidden = f'<input type="hidden" name="action" value="{attr(action)}">'
            title = _("Sign the application to {action}").format(action=_(ACTIONS[action]))
            out += (f'<section class="card" id="sign-{attr(action)}"><h2>{esc(title)}</h2>' + form(ctx, f"/desk/accounts/{a['name']}/sign", hidden + " ".join(
                        button(_("Sign: {box}").format(box=b), name="box", value=b) for b in mine)) + "</section>")
    return out


async def waiting_applications(desk: Desk, ctx: Ctx) -> list[dict[str, Any]]:
    """The account applications this person may sign now (issue 77 D1): [] for who signs none."""
    return await desk.run(ctx, "account.waiting", {}) if ctx.may("account.waiting") else []


def application_rows(apps: list[dict[str, Any]], ctx: Ctx) -> str:
    """The waiting applications as a table, each a link to the account's page where it is signed."""
    return table([_("Name"), _("Application"), _("Boxes for you to sign")],   # full names (issue 91)
                 [[link(f"/desk/accounts/{a['name']}#sign-{a['action']}", a.get("full_name") or ctx.who(a["name"])),
                   esc(_(ACTIONS[a["action"]])), esc(_(", ").join(a["boxes"]))] for a in apps])


def held_back(desk: Desk, ctx: Ctx, a: dict[str, Any]) -> str:
    """Where the site holds an account back until its application is signed (`[accounts]
    signed_to_log_in`, design/0260): why it cannot log in yet, the boxes that wait and for whom;
    for the account administrator, a form to record a box signed on the paper form (the daemon
    refuses it while someone who may sign the box can log in)."""
    cfg = desk.cfg
    if not cfg.accounts.signed_to_log_in or a.get("revoked_us"):
        return ""
    boxes = account_boxes(cfg.forms, cfg.site.language)
    pending = unsigned_boxes(a, boxes)
    if not pending:
        return ""
    out = message("warn", not_signed_words(a["name"], pending, cfg.policy.titles))
    if ctx.may("account.sign_paper"):
        how = _("The first approvers' applications are signed on paper: record a box from the signed form. It is "
                "refused while someone who may sign the box can log in; they sign it here instead.")
        box, by, title = _("Box"), _("Signed on paper by (their name, as on the form)"), _("Signed on paper")
        fields = (f'<label>{esc(box)} <select name="box">'
                  + "".join(f'<option value="{attr(b)}">{esc(b)}</option>' for b in pending) + "</select></label> "
                  f'<label>{esc(by)} <input name="signed_by" required></label> '
                  + button(_("Record the signature on paper")))
        out += (f'<section class="card" id="paper"><h2>{esc(title)}</h2><p class="hint">{esc(how)}</p>'
                + form(ctx, f"/desk/accounts/{a['name']}/paper", fields) + "</section>")
    return out


class Paper:
    def __init__(self, desk: Desk):
        self.desk = desk

    async def account(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        action = request.query.get("action", "opened")
        try:
            a = await self.desk.run(ctx, "account.show", {"name": request.match_info["name"]})
        except Refused as exc:
            return self.desk.render(ctx, _("Account"), message("error", str(exc)), status=404)
        if action not in ACTIONS:
            return self.desk.render(ctx, _("Account"), message("error", _("no such application")), status=404)
        return self.desk.printed(ctx, lambda doc: account_html(doc, a, action, self.desk.camera_names(), ctx.now_us))

    async def sign(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """One sign-off of an account's application; back to the account's page."""
        name, f = request.match_info["name"], form_of(request)
        return await self._signed(ctx, name, "account.sign", {"action": str(f.get("action") or ""),
                                                              "box": str(f.get("box") or "")})

    async def paper(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The account administrator records a box signed on paper (design/0260); back to the account."""
        name, f = request.match_info["name"], form_of(request)
        return await self._signed(ctx, name, "account.sign_paper", {"box": str(f.get("box") or ""),
                                                                    "signed_by": str(f.get("signed_by") or "")})

    async def _signed(self, ctx: Ctx, name: str, op: str, args: dict[str, str]) -> web.StreamResponse:
        """A box of an account's application signed through `op`; back to the account, or why not."""
        try:
            await self.desk.run(ctx, op, {"name": name, **args})
        except Refused as exc:
            return self.desk.render(ctx, _("Account {name}").format(name=name), message("error", str(exc)),
                                    status=409)
        raise web.HTTPSeeOther(f"/desk/accounts/{name}?done=signed")

    async def hold(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        try:
            h = await self.desk.run(ctx, "hold.show", {"id": int(request.match_info["id"])})
        except Refused as exc:
            return self.desk.render(ctx, _("Hold"), message("error", str(exc)), status=404)
        return self.desk.printed(ctx, lambda doc: hold_html(doc, h, self.desk.camera_names(), ctx.now_us))

    async def window(self, ctx: Ctx, window_id: int) -> dict[str, Any] | None:
        rows = await self.desk.run(ctx, "maintenance.list", {"limit": 1_000_000})
        return next((w for w in rows if w["id"] == window_id), None)

    async def maintenance(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        w = await self.window(ctx, int(request.match_info["id"]))
        if w is None:
            return self.desk.render(ctx, _("Maintenance"), message("error", _("no such maintenance window")),
                                    status=404)
        return self.desk.printed(ctx, lambda doc: maintenance_html(doc, w, ctx.now_us))

    async def windows(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The maintenance windows on record, each with its printable record."""
        rows = await self.desk.run(ctx, "maintenance.list", {"limit": 200})
        body = table([_("No."), _("Began"), _("By"), _("Reason"), _("Ended"), _("Vendor"), _("Footage copied"), ""],
                     [[esc(w["id"]), esc(ctx.when(w["began_us"])), data(ctx.who(w["began_by"])), data(w["reason"]),
                       esc(ctx.when(w["ended_us"]) if w.get("ended_us") else _("still open")), data(w.get("vendor")),
                       esc(_("yes") if w.get("footage_copy") and json.loads(w["footage_copy"]) else _("no")),
                       link(f"/desk/maintenance/{w['id']}/record", _("Print the maintenance record"))]
                      for w in rows]) if rows else '<p class="empty">' + esc(_("No maintenance on record.")) + "</p>"
        return self.desk.render(ctx, _("Maintenance"), body)
