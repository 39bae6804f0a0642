"""Live view given per person at the desk (design/0108; 001 §15, 002 §7): on an account's page
the admin gives or takes it, with the head's authorisation as the reason (`edgectl account set
--live`); the account page and the opening form show it. One control operation: account.live."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edged.i18n import _
from edged.rules.roles import allowed
from edged.viewer.desk.app import Desk, Refused, form_of
from edged.viewer.desk.page import DONE, OPEN, Ctx, badge, button, checks, esc, field_, form, textarea

LIVE_FIELD = "live"
# the account's history rows this page writes (storage/people/accounts.py set_live)


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    r.add_post(r"/desk/accounts/{name}/live", desk.page("account.live", LivePages(desk).change))


def live_fact(a: dict[str, Any]) -> str:
    """The account page's line: may this person watch live?"""
    return badge(DONE, _("given")) if a.get("live") else badge(OPEN, _("not given"))


def live_check(f: dict[str, Any]) -> str:
    """The opening form's box: live view, given with the application's reason."""
    return checks(LIVE_FIELD, [("1", _("may watch the cameras live (the head authorised it)"))],
                  ["1"] if f.get(LIVE_FIELD) else [], _("Live view"))


def live_form(ctx: Ctx, a: dict[str, Any]) -> str:
    """The admin's form to give or take live view, for an open account whose roles may watch."""
    if a.get("revoked_us") or not ctx.may("account.live") or not allowed(a["roles"], "live.view"):
        return ""
    give = not a.get("live")
    title = _("Give live view") if give else _("Take live view")
    note = (_("Live view is given per person on the head's authorisation (not with the right to file requests). "
              "Name the authorisation.") if give else _("The person's open live views end at the next check."))
    body = (f'<input type="hidden" name="{LIVE_FIELD}" value="{"1" if give else "0"}">'
            + field_(_("Reason"), textarea("reason", required=True), wide=True) + button(title))
    return (f'<section class="card" id="live-view"><h2>{esc(title)}</h2><p class="hint">{esc(note)}</p>'
            + form(ctx, f"/desk/accounts/{a['name']}/live", body) + "</section>")


class LivePages:
    def __init__(self, desk: Desk):
        self.desk = desk

    async def change(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        name, f = request.match_info["name"], form_of(request)
        try:
            await self.desk.run(ctx, "account.live", {"name": name, "live": str(f.get(LIVE_FIELD)) == "1",
                                                      "reason": str(f.get("reason") or "")})
        except Refused as exc:
            raise web.HTTPSeeOther(f"/desk/accounts/{name}?live_error={_quote(str(exc))}") from None
        raise web.HTTPSeeOther(f"/desk/accounts/{name}?done=live")


def _quote(text: str) -> str:
    from urllib.parse import quote
    return quote(text[:300])
