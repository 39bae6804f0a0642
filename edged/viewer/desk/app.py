"""The desk's door (design/0073): every page goes through `Desk.page`, which resolves the web
session, refuses a role the page's operation does not allow (403, the matrix's words), checks
the CSRF token of a form, sets the language, and hands the page a Ctx. Operations run through
`Viewer.operate`, which the daemon builds with edged.control.server.for_sessions: the control
socket's own `perform` and handlers (the viewer imports nothing of edged/control, design/0031).

Also here: the login form (the viewer's throttle and password checks), logout and the language
switch. The pages come in by a table (routes.py's PAGES, which the viewer's server hands to
`add_routes`): each page module imports this door, and the door imports no page and nothing of
the server (design/0068).
"""

from __future__ import annotations

import hashlib
import re
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from edged import pools
from edged.documents import Doc
from edged.i18n import _, normalise, set_language, speaking, zone
from edged.rules import audit_words as aw
from edged.rules import roles
from edged.rules.persons import names_of
from edged.viewer.desk import kept
from edged.viewer.desk.page import PRINT_CSP, Ctx, Person, button, esc, field_, frame, link, message, text_input
from edged.viewer.http import COOKIE, LOGIN_BODY_MAX, STATIC, LoginRefused, door_of

DESK = "/desk/"
LANG_COOKIE = "edged_lang"
LOGIN_CSRF = "edged_login_csrf"
# Where the language switch may send a browser back to: a page of the desk, in plain characters
SAFE_BACK = re.compile(r"/desk(/[A-Za-z0-9_\-./]*)?(\?[A-Za-z0-9_\-.=&%]*)?")
PageFn = Callable[[web.Request, Ctx], Awaitable[web.StreamResponse]]
AddRoutes = Callable[["Desk", web.UrlDispatcher], None]  # a page module's add_routes


class Refused(Exception):
    """An operation answered with a refusal: its words, shown on the page."""


class Desk:
    def __init__(self, viewer: Any):
        self.viewer = viewer
        self.key = secrets.token_bytes(32)   # the CSRF tokens' key: new at every start

    # routes ------------------------------------------------------------------------------
    def add_routes(self, app: web.Application, pages: Iterable[AddRoutes]) -> None:
        """The door's own routes, then each page's (edged/viewer/desk/routes.py)."""
        r = app.router
        r.add_get("/desk", self.to_home)
        r.add_get("/desk/login", self.login_page)
        r.add_post("/desk/login", self.login)
        r.add_post("/desk/logout", self.logout)
        r.add_get("/desk/lang", self.language)
        r.add_get("/static/desk.css", self.stylesheet)
        for add in pages:
            add(self, r)

    async def to_home(self, _request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(DESK)

    # what every page shares --------------------------------------------------------------
    @property
    def cfg(self) -> Any:
        return self.viewer.cfg

    def lang_of(self, request: web.Request) -> str:
        return normalise(request.cookies.get(LANG_COOKIE)) or normalise(self.cfg.site.language) or "en"

    def csrf_of(self, token: str) -> str:
        return hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()[:40]

    def render(self, ctx: Ctx | None, title: str, body: str, *, status: int = 200, lang: str | None = None,
               path: str = DESK) -> web.Response:
        text = frame(ctx, title, body, site=self.cfg.site.name, lang=ctx.lang if ctx else (lang or "en"),
                     path=ctx.path if ctx else path)
        return web.Response(text=text, status=status, content_type="text/html")

    def printed(self, ctx: Ctx, render: Callable[[Doc], str]) -> web.Response:
        """A printed document (edged/documents/) in the person's language, on the site's paper:
        the renderer edgectl writes, under the print pages' CSP."""
        doc = Doc(lang=ctx.lang, tz=ctx.tz, site_name=self.cfg.site.name, forms=self.cfg.forms, names=ctx.names)
        with speaking(doc.lang):
            text = render(doc)
        response = web.Response(text=text, content_type="text/html")
        response.headers["Content-Security-Policy"] = PRINT_CSP
        return response

    def us(self, ctx: Ctx) -> str:
        """The site's word for itself (`[site] us`: 本所, 本校, 本局, 本公所) where the page is in the
        site's language, else "this site" in the reader's words (issue 91, design/0394)."""
        site = self.cfg.site
        return site.us if site.us and normalise(ctx.lang) == normalise(site.language) else _("this site")

    def camera_names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.cfg.cameras}

    def page(self, op: str, fn: PageFn, *, streamed: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A page that serves the operation `op`: shown only to the roles that may run it. A
        `streamed` form (a file, design/0356) reads its own body and checks it with `check_sent`."""
        async def handler(request: web.Request) -> web.StreamResponse:
            lang = self.lang_of(request)
            set_language(lang)
            token = request.cookies.get(self.viewer_cookie(), "")
            session = await self.viewer.access.session(token)
            if session is None:   # to the login, then back here: a half-typed form is kept (design/0113)
                back = kept.back_of(request.method, request.path_qs, request.headers.get("Referer"))
                back = None if back == DESK else back
                why = await self.viewer.access.session_end(token) if token else kept.NO_SESSION if back else None
                raise web.HTTPFound(kept.login_url(back, why))
            self.viewer.last_seen[token] = self.viewer.clock.now_us()
            pools.CALLER.set(f"desk {session['account']}")  # the slow pools' cap is per person
            caller = Person(account=session["account"], roles=tuple(session["roles"]),
                            cameras=None if session["cameras"] is None else tuple(session["cameras"]),
                            must_change=bool(session.get("must_change")), session={**session, "token": token})
            ctx = Ctx(caller=caller, lang=lang, site=self.cfg.site.name, tz=zone(self.cfg.site.timezone),
                      now_us=self.viewer.clock.now_us(), path=request.path, csrf=self.csrf_of(token),
                      kept=kept.kept_note(request.query.get("ended")))
            ctx.names = names_of(await self.viewer.access.full_names(), self.cfg.policy.titles,
                                 self.cfg.policy.units)   # people by their names (design/0112)
            if caller.must_change and op not in roles.ONE_TIME_OPS:
                raise web.HTTPFound("/desk/password")
            if not roles.allowed(caller.roles, op):
                return self.render(ctx, _("Not for your role"), message(
                    "error", roles.refused_words(caller.roles, op)) + f'<p>{link(DESK, _("Home"), "button")}</p>',
                    status=403)
            if request.method == "POST" and not streamed:
                await self.check_post(request, ctx)
            return await fn(request, ctx)
        return handler

    def viewer_cookie(self) -> str:
        return COOKIE

    async def check_post(self, request: web.Request, ctx: Ctx | None) -> dict[str, Any]:
        """A form's fields, once its CSRF token and Origin are right (else 403)."""
        self.check_origin(request)
        data = await request.post()
        self.check_sent(request, ctx, str(data.get("csrf", "")))
        request["form"] = data
        return dict(data)

    def check_origin(self, request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin and (origin == "null" or urlsplit(origin).netloc.lower() not in self.viewer.hosts):
            raise web.HTTPForbidden(text=_("this form was sent from another site"))   # null: a sandboxed page

    def check_sent(self, request: web.Request, ctx: Ctx | None, csrf: str) -> None:
        """A form's CSRF token is this session's (else 403)."""
        want = ctx.csrf if ctx is not None else request.cookies.get(LOGIN_CSRF, "")   # the login form's own
        if not want or not hmac.compare_digest(csrf, want):
            raise web.HTTPForbidden(text=_("this form is out of date: reload the page and send it again"))

    async def run(self, ctx: Ctx, op: str, args: dict[str, Any], upload: Any = None) -> Any:
        """The control operation, as edgectl runs it, for this page's person; Refused on a refusal.
        `upload(size)`: the file the operation asks for (evidence.import, design/0356)."""
        if self.viewer.operate is None:
            raise Refused(_("internal error; see the daemon's log"))
        answer = await self.viewer.operate(op, args, {**ctx.caller.session, "must_change": ctx.caller.must_change,
                                                      **({"upload": upload} if upload is not None else {})})
        if not answer.get("ok"):
            raise Refused(answer.get("error") or _("refused"))
        return answer.get("result")

    # login, logout, language ---------------------------------------------------------------
    async def login_page(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        lang = self.lang_of(request)
        set_language(lang)
        ended = request.query.get("ended")
        why = kept.login_note(ended)
        note = message("error", error) if error else message("error", why) if why else ""
        lead = _("Log in with your personal account. What you do here is recorded in the audit log.")
        action = kept.login_url(kept.after_login(request.query.get("back"), None), ended)
        token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(24)
        body = (f'<div class="login"><p class="lead">{esc(lead)}</p>'
                f'{note}<form method="post" action="{esc(action)}" class="card">'
                + field_(_("Account"), text_input("name", required=True, extra='autocomplete="username" autofocus'))
                + field_(_("Password"), text_input("password", kind="password", required=True,
                                                   extra='autocomplete="current-password"'))
                + f'<input type="hidden" name="csrf" value="{esc(token)}">'
                + button(_("Log in")) + "</form></div>")
        response = self.render(None, _("Log in"), body, status=status, lang=lang, path="/desk/login")
        # the login form's CSRF token (issue 45): a page elsewhere cannot log this browser in as someone else
        response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="Strict", path="/desk")
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        set_language(self.lang_of(request))
        if request.content_length is None or request.content_length > LOGIN_BODY_MAX:
            return await self.login_page(request, _("type your account name and password"), status=413)

        async def read() -> dict[str, Any]:
            return await self.check_post(request, None)
        try:
            s = await self.viewer.authenticate(request, read, allow_one_time=True)
        except LoginRefused as exc:
            return await self.login_page(request, exc.message, status=exc.status)
        if s.get("must_change"):   # a one-time password: never first used from the door that set it (issue 45)
            setters = await self.viewer.access.one_time_setters(s["account"])
            door = door_of(request.remote, request.cookies.get(self.viewer_cookie()))
            where = roles.one_time_door(setters, address=door["address"], session=door.get("session"))
            if where:
                await self.viewer.access.logout(s["token"])
                return await self.login_page(request, _(
                    "login refused: this one-time password was set from {where}; its holder logs in from their "
                    "own computer and changes it").format(where=where), status=403)
        back = kept.after_login(request.query.get("back"), request.query.get("ended"))
        response = web.HTTPFound("/desk/password" if s.get("must_change") else back or DESK)
        self.viewer.set_session_cookie(response, s)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(self.viewer_cookie(), "")
        session = await self.viewer.access.session(token)
        if session is not None:
            await self.check_post(request, Ctx(caller=Person(account="", roles=()), lang="en", site="", tz=None, now_us=0,
                                               path="", csrf=self.csrf_of(token)))
            for view in self.viewer.views.of_token(token):
                await self.viewer.views.close(view, aw.VIEW_LOGGED_OUT)
            self.viewer.last_seen.pop(token, None)
            await self.viewer.access.logout(token)
        response = web.HTTPFound("/desk/login")
        response.del_cookie(self.viewer_cookie(), path="/")
        return response

    async def language(self, request: web.Request) -> web.StreamResponse:
        """The other language for this browser (a cookie), then back to the page it was on."""
        lang = normalise(request.query.get("to")) or "en"
        back = request.query.get("back", DESK)
        if not SAFE_BACK.fullmatch(back):   # only a page of the desk (a tab or a newline could make //elsewhere)
            back = DESK
        response = web.HTTPFound(back)
        response.set_cookie(LANG_COOKIE, lang, samesite="Strict", path="/", max_age=365 * 86400)
        return response

    async def stylesheet(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "desk.css")


def form_of(request: web.Request) -> dict[str, Any]:
    """The fields of the form `Desk.page` checked (lists for repeated names)."""
    data = request.get("form")
    if data is None:
        return {}
    out: dict[str, Any] = {}
    for key in set(data.keys()):
        values = data.getall(key)
        out[key] = values if len(values) > 1 else values[0]
    return out


def many(fields: dict[str, Any], key: str) -> list[str]:
    value = fields.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]

