"""Accounts at the desk (design/0073, R4.1, design/0042): the admin opens, resets and revokes
accounts, each with a reason, and reads their history; everyone changes their own password,
and a one-time password's holder does so at the first login before anything else. The
one-time password an admin hands over is drawn here, shown once on the answer page and never
again (the catalog keeps only its hash). Each page runs one control operation."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from edged.i18n import N_, _
from edged.rules import roles
from edged.rules.audit_words import stored
from edged.rules.words import event_words
from edged.viewer.desk.app import Desk, Refused, form_of, many
from edged.viewer.desk.paper import held_back, print_links, sign_forms
from edged.viewer.desk.live_grant import live_check, live_fact, live_form
from edged.viewer.desk.page import (DONE, OPEN, REFUSED, WAIT, Ctx, badge, button, checks, esc, facts, field_, form,
                                    link, message, role_names, table, text_input, textarea)

ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing read two ways (l/1, O/0)
# the account application (design/0088) for each event on record: 001 annex 2's 開通 變更密碼 註銷
PRINT_LABELS = {"opened": N_("Print the application to open it"), "password": N_("Print the password change "
                                                                                 "application"),
                "revoked": N_("Print the application to revoke it")}
DONE_NOTES = {"revoked": N_("The account is revoked; its sessions ended."),
              "signed": N_("Signed; the printed application shows your name in the box."),
              "live": N_("Live view changed.")}


def one_time_password() -> str:
    """Four groups of five, about 115 bits: read out or written down once, changed at first login."""
    return "-".join("".join(secrets.choice(ALPHABET) for _i in range(5)) for _g in range(4))


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/accounts", desk.page("account.list", pages.listing))
    r.add_get("/desk/accounts/new", desk.page("account.add", pages.new))
    r.add_post("/desk/accounts/new", desk.page("account.add", pages.open))
    r.add_get(r"/desk/accounts/{name}", desk.page("account.show", pages.show))
    r.add_post(r"/desk/accounts/{name}/reset", desk.page("account.passwd.other", pages.reset))
    r.add_post(r"/desk/accounts/{name}/revoke", desk.page("account.revoke", pages.revoke))
    r.add_get("/desk/password", desk.page("account.passwd", pages.password))
    r.add_post("/desk/password", desk.page("account.passwd", pages.change))


def account_state(a: dict[str, Any], ctx: Ctx) -> str:
    if a.get("revoked_us"):
        return badge(REFUSED, _("revoked {date}").format(date=ctx.date(a["revoked_us"])))
    if a.get("locked_until_us") and a["locked_until_us"] > ctx.now_us:
        return badge(REFUSED, _("locked until {time}").format(time=ctx.when(a["locked_until_us"])))
    if a.get("must_change"):
        return badge(WAIT, _("one-time password not yet changed"))
    return badge(DONE, _("in use"))


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def shown_once(self, ctx: Ctx, name: str, password: str, what: str) -> web.Response:
        note = _("Give it to {name} in person. It is shown only now: edged keeps only its hash. {name} must change "
                 "it at the first login, before anything else.").format(name=name)
        back = link(f"/desk/accounts/{name}", _("Back to the account"))
        body = (message("ok", what)
                + '<section class="card once"><h2>' + esc(_("One-time password for {name}").format(name=name)) + "</h2>"
                  f'<p class="secret" id="one-time" translate="no">{esc(password)}</p><p>{esc(note)}</p></section><p>{back}</p>')
        return self.desk.render(ctx, _("Account {name}").format(name=name), body)

    # the list and one account ---------------------------------------------------------------
    async def listing(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        rows = await self.desk.run(ctx, "account.list", {"all": True})
        names = self.desk.camera_names()   # cameras by name, never by id (issue 56)
        body = ""
        if ctx.may("account.add"):
            body += '<p class="actions">' + link("/desk/accounts/new", _("Open an account"), "button") + "</p>"
        body += table([_("Account"), _("Name"), _("Roles"), _("Cameras"), _("Opened"), _("State")],
                      [[link(f"/desk/accounts/{a['name']}", a["name"]), esc(a.get("full_name")),
                        esc(role_names(a["roles"])),
                        esc(_(", ").join(names.get(c, c) for c in a["cameras"]) if a["cameras"] else _("all")),
                        esc(ctx.date(a["opened_us"])), account_state(a, ctx)] for a in rows])
        return self.desk.render(ctx, _("Accounts"), body)

    async def show(self, request: web.Request, ctx: Ctx, error: str = "") -> web.StreamResponse:
        name = request.match_info["name"]
        try:
            a = await self.desk.run(ctx, "account.show", {"name": name})
        except Refused as exc:
            return self.desk.render(ctx, _("Account {name}").format(name=name), message("error", str(exc)), status=404)
        done, names = request.query.get("done", ""), self.desk.camera_names()
        body = message("ok", _(DONE_NOTES[done])) if done in DONE_NOTES else ""
        error = error or request.query.get("live_error", "")
        body += message("error", error) if error else ""
        body += facts([(_("State"), account_state(a, ctx)), (_("Name"), esc(a.get("full_name"))),
                       (_("Live view"), live_fact(a)),
                       (_("Roles"), esc(role_names(a["roles"]))),
                       (_("Cameras"),
                        esc(_(", ").join(names.get(c, c) for c in a["cameras"]) if a["cameras"] else _("all"))),
                       (_("Opened"), esc(_("{time} by {by}").format(time=ctx.when(a["opened_us"]), by=ctx.who(a["opened_by"])))),
                       (_("Password changed"), esc(ctx.when(a.get("pw_changed_us"))))])
        body += "<h2>" + esc(_("History")) + "</h2>" + table(
            [_("Time"), _("What"), _("By"), _("Reason")],
            [[esc(ctx.when(e["at_us"])), esc(event_words(e["action"])),
              esc(ctx.who(e["by"])), esc(stored(e.get("reason") or ""))]
             for e in a.get("events") or []])
        body += print_links([(f"/desk/accounts/{name}/form?action={action}", _(PRINT_LABELS[action]))
                             for action in PRINT_LABELS if any(e["action"] == action for e in a.get("events") or [])])
        body += held_back(self.desk, ctx, a) + sign_forms(self.desk, ctx, a) + live_form(ctx, a)
        if not a.get("revoked_us"):
            if ctx.may("account.passwd.other") and roles.ADMIN not in a["roles"] and name != ctx.account:
                body += self.reason_form(ctx, f"/desk/accounts/{name}/reset", _("Reset the password"),
                                         _("A new one-time password is shown once; {name} changes it at the next "
                                           "login.").format(name=name), _("Reset the password"), "primary")
            if ctx.may("account.revoke") and name != ctx.account:
                body += self.reason_form(ctx, f"/desk/accounts/{name}/revoke", _("Revoke the account"),
                                         _("On transfer or departure. The account is kept with its history, never "
                                           "deleted."), _("Revoke"), "danger")
        return self.desk.render(ctx, _("Account {name}").format(name=name), body)

    def reason_form(self, ctx: Ctx, action: str, title: str, note: str, verb: str, cls: str) -> str:
        body = field_(_("Reason"), textarea("reason", required=True), wide=True) + button(verb, cls=cls)
        return (f'<section class="card"><h2>{esc(title)}</h2><p class="hint">{esc(note)}</p>'
                + form(ctx, action, body) + "</section>")

    async def reset(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        name, f = request.match_info["name"], form_of(request)
        password = one_time_password()
        try:
            await self.desk.run(ctx, "account.passwd", {"name": name, "password": password,
                                                        "reason": str(f.get("reason") or "")})
        except Refused as exc:
            return await self.show(request, ctx, str(exc))
        return self.shown_once(ctx, name, password, _("The password of {name} is reset.").format(name=name))

    async def revoke(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        name, f = request.match_info["name"], form_of(request)
        try:
            await self.desk.run(ctx, "account.revoke", {"name": name, "reason": str(f.get("reason") or "")})
        except Refused as exc:
            return await self.show(request, ctx, str(exc))
        raise web.HTTPSeeOther(f"/desk/accounts/{name}?done=revoked")

    # opening one ------------------------------------------------------------------------------
    def opening_form(self, ctx: Ctx, f: dict[str, Any], error: str = "") -> str:
        role_opts = [(r, _(label)) for r, label in (
            (roles.VIEWER, N_("clerk (viewer)")), (roles.CUSTODIAN, N_("custodian")), (roles.APPROVER, N_("approver")),
            (roles.AUDITOR, N_("auditor")), (roles.ADMIN, N_("admin")))]
        cams = [(c.id, c.name or c.id) for c in self.desk.cfg.cameras]
        body = (field_(_("Account"), text_input("name", str(f.get("name") or ""), required=True,
                                                extra='autocomplete="off"'), _("letters, digits, . _ -"))
                + field_(_("Full name"), text_input("full_name", str(f.get("full_name") or "")))
                + checks("roles", role_opts, many(f, "roles"), _("Roles"))
                + checks("cameras", cams, many(f, "cameras"), _("Cameras (none ticked: every camera)"))
                + live_check(f)
                + field_(_("Reason"), textarea("reason", str(f.get("reason") or ""), required=True),
                         _("the approved application"), wide=True)
                + '<div class="buttons">' + button(_("Open the account")) + "</div>")
        return (message("error", error) if error else "") + form(ctx, "/desk/accounts/new", body, cls="wide-form")

    async def new(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return self.desk.render(ctx, _("Open an account"), self.opening_form(ctx, {}))

    async def open(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        password = one_time_password()
        args: dict[str, Any] = {"name": str(f.get("name") or "").strip(), "full_name": f.get("full_name") or "",
                "roles": many(f, "roles"), "cameras": many(f, "cameras") or None, "reason": f.get("reason") or "",
                "password": password, "live": bool(f.get("live"))}
        try:
            await self.desk.run(ctx, "account.add", args)
        except Refused as exc:
            return self.desk.render(ctx, _("Open an account"), self.opening_form(ctx, f, str(exc)), status=422)
        return self.shown_once(ctx, args["name"], password, _("The account {name} is open.").format(name=args["name"]))

    # one's own password ---------------------------------------------------------------------
    def password_form(self, ctx: Ctx, error: str = "") -> str:
        lead = (_("You logged in with a one-time password that an admin set. Choose your own now; nothing else "
                  "opens until then.") if ctx.caller.must_change else _("Change the password of your account."))
        body = (field_(_("Current password"), text_input("old", kind="password", required=True,
                                                         extra='autocomplete="current-password"'))
                + field_(_("New password"), text_input("new", kind="password", required=True,
                                                       extra='autocomplete="new-password"'), _("at least 10 characters"))
                + field_(_("New password again"), text_input("again", kind="password", required=True,
                                                             extra='autocomplete="new-password"'))
                + button(_("Change the password")))
        note = badge(WAIT if ctx.caller.must_change else OPEN, _("first login") if ctx.caller.must_change else
                     _("your account"))
        return (f'<p class="lead">{note} {esc(lead)}</p>' + (message("error", error) if error else "")
                + form(ctx, "/desk/password", body, cls="card narrow"))

    async def password(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return self.desk.render(ctx, _("Change password"), self.password_form(ctx))

    async def change(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        if str(f.get("new") or "") != str(f.get("again") or ""):
            return self.desk.render(ctx, _("Change password"), self.password_form(
                ctx, _("the two new passwords differ")), status=422)
        try:
            await self.desk.run(ctx, "account.passwd", {"password": str(f.get("new") or ""),
                                                        "old_password": str(f.get("old") or "")})
        except Refused as exc:
            return self.desk.render(ctx, _("Change password"), self.password_form(ctx, str(exc)), status=422)
        ctx.caller.must_change = False  # a new password ends the account's sessions, this one too
        response = self.desk.render(None, _("Change password"), message("ok", _(
            "Your password is changed. Log in again with it.")) + "<p>" + link("/desk/login", _("Log in"), "button")
                                    + "</p>", lang=ctx.lang)
        response.del_cookie(self.desk.viewer_cookie(), path="/")
        return response
