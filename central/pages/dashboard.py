"""The read-only dashboard (aiohttp): the fleet overview and a page per site, server-rendered
plain HTML with no script at all, under the viewer's strict CSP (edged/viewer/server.py). GET
only; it reads the store through a read-only connection in a thread, never on the loop."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import ssl
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from central import finding_words
from central.pages import fleet
from central import login
from central.pages.pages import HEADERS, REFRESH_S, ROLE, USER, _page, _table, e, el
from central.config import CentralConfig
from central.i18n import N_, Speaker
from central.keys.keystanding import REVOKED, Register
from central.store.store import Store, now_us
from central.keys import keylist
from central.keys.register import RegisterError
from central.keys import ca
from storage.keys import nodecert
from central.pages.month_page import shift, this_month
from central.pages import month_page

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATIC = Path(__file__).with_name("static")
COOKIE = "edged_central_session"
LOGIN_CSRF = "edged_central_login_csrf"
# what a verifier needs is public: the office's CA certificate and its revocation list (design/0097);
# the key list names every site and node, so it needs an account
OPEN_PATHS = ("/login", "/logout", "/central.css", "/favicon.ico", "/ca.pem", "/crl.pem")
log = logging.getLogger("edged.central")
# words that arrive as data and are shown translated: listed here for the catalog (scripts/i18n)
WORDS = (N_("critical"), N_("warning"), N_("info"), N_("auditor"), N_("technician"), N_("online"), N_("offline"),
         N_("unknown"))


def _findings_cell(sp: Speaker, counts: dict[str, int]) -> str:
    return " ".join(el("span", f"{counts[sev]} " + sp.word(sev), f" class=\"{e(sev)}\"")
                    for sev in ("critical", "warning", "info") if counts.get(sev)) or e(sp._("none"))


def revoked(nodes: list[dict[str, Any]], keys: dict[str, str | None], standing: Register) -> None:
    """Each node of the overview gets `revoked_us`: when the office revoked the key it speaks with
    (central/keys/keystanding.py, design/0125), else None."""
    for n in nodes:
        key = keys.get(n["node"])
        st = standing(n["node"], key) if key else None
        n["revoked_us"] = st.revoked_us if st is not None and st.state == REVOKED else None


def _state_cell(sp: Speaker, n: dict[str, Any]) -> str:
    _ = sp._
    said = _("up") if n["up"] else sp.word(n["status"]) + (_(" (silent)") if n["silent"] else "")
    if n.get("revoked_us"):
        return e(said) + " " + el("span", _("key revoked {when}").format(when=sp.when(n["revoked_us"])),
                                  ' class="critical revoked"')
    return e(said)


def host_allowed(host: str, listen: str, allowed: tuple[str, ...]) -> bool:
    """Whether a request's Host header names this dashboard: an IP address, localhost, its listen
    host, or a name in [dashboard] allowed_hosts (any port). A DNS-rebinding page comes with its
    own DNS name and is refused."""
    host = host.strip().lower()
    if not host:
        return False
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0] if host.count(":") == 1 \
        else host
    lhost = listen.rsplit(":", 1)[0].strip("[]").lower()
    if name in allowed or name == lhost or name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)  # an address typed by hand: rebinding needs a DNS name
        return True
    except ValueError:
        return False


class _Busy(Exception):
    """No place for one more password check from this address just now."""


class Dashboard:
    def __init__(self, cfg: CentralConfig):
        self.cfg = cfg
        self.sp = Speaker(cfg.report.language, cfg.tz)  # the sites' language and zone (design/0028)
        self.app = web.Application(middlewares=[self._host_check, self._login_check], client_max_size=64 * 1024)
        self.accounts = {name: (role, h) for name, role, h in cfg.dashboard.accounts}
        self.sessions = login.Sessions()
        self.app.router.add_get("/login", self.login_page)
        self.app.router.add_post("/login", self.login)
        self.app.router.add_post("/logout", self.logout)
        self.app.router.add_get("/", self.index)
        self.app.router.add_get("/site/{site}", self.site)
        self.app.router.add_get("/site/{site}/month/{month}", self.month)
        self.app.router.add_get("/site/{site}/month/{month}/{section}.csv", self.month_csv)
        self.app.router.add_get("/central.css", self.css)
        self.app.router.add_get("/api/status", self.api_status)
        self.app.router.add_get("/favicon.ico", self.no_icon)
        self.app.router.add_get("/keys.json", self.keys)
        self.app.router.add_get("/ca.pem", self.ca_pem)
        self.app.router.add_get("/crl.pem", self.crl_pem)
        self._runner: web.AppRunner | None = None

    @web.middleware
    async def _host_check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer only to our own names: a page of another site's DNS name pointing here (DNS
        rebinding) must not read the fleet."""
        if not host_allowed(request.headers.get("Host", ""), self.cfg.dashboard.listen or "", self.cfg.dashboard.allowed_hosts):
            return web.Response(status=421, text="this dashboard does not answer to that host name; add it to "
                                "[dashboard] allowed_hosts\n", headers=HEADERS)
        return await handler(request)

    @web.middleware
    async def _login_check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """With accounts configured, every page but the login, the style sheet, the CA certificate
        and the revocation list needs a session; the findings need the auditor role (central/login.py)."""
        request[ROLE] = "auditor"
        if not self.accounts or request.path in OPEN_PATHS:
            return await handler(request)
        s = self.sessions.get(request.cookies.get(COOKIE), now_us())
        if s is None:
            if request.path.startswith("/api/"):
                return web.json_response({"error": "log in first"}, status=401, headers=HEADERS)  # i18n: the API's, for scripts
            raise web.HTTPSeeOther("/login", headers=HEADERS)
        request[ROLE], request[USER] = s.role, s.user
        return await handler(request)

    async def login_page(self, request: web.Request, problem: str = "") -> web.Response:
        _ = self.sp._
        token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(24)
        body = [el("h1", _("edged fleet: log in")), el("p", problem, ' class="critical"') if problem else "",
                "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"" + e(token)
                + "\"><p><label>" + e(_("account")) + " <input name=\"user\" "
                "autocomplete=\"username\" required></label></p><p><label>" + e(_("password")) + " <input "
                "name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p><p>"
                + el("button", _("log in"), ' type="submit"') + "</p></form>"]
        page = _page(self.sp, _("log in"), body, status=401 if problem else 200, refresh=False)
        # the login form's CSRF token (issue 45): a page elsewhere cannot log this browser in
        page.set_cookie(LOGIN_CSRF, token, httponly=True, secure=self.cfg.dashboard.tls_cert_file is not None,
                        samesite="Strict", path="/")
        return page

    async def login(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or "?"
        origin = request.headers.get("Origin")
        if origin and (origin == "null" or not host_allowed(urlsplit(origin).netloc, self.cfg.dashboard.listen or "",
                                                            self.cfg.dashboard.allowed_hosts)):
            return web.Response(status=403, text=self.sp._("This form was sent from another site.") + "\n", headers=HEADERS)
        began = now_us()
        if not self.sessions.begin(address, began):   # the place is taken before the check (issue 45)
            return await self.login_page(request, self.sp._("Too many failed logins from this address: wait five minutes."))
        form = await request.post()
        want = request.cookies.get(LOGIN_CSRF, "")
        if not want or not hmac.compare_digest(str(form.get("csrf", "")), want):
            return await self.login_page(request, self.sp._("This form is out of date: log in again."))
        user, password = str(form.get("user", ""))[:64], str(form.get("password", ""))[:1024]
        mark = str(request.cookies.get(login.MARK_COOKIE, ""))[:64] or secrets.token_urlsafe(24)
        device = login.device_of(mark)   # this browser's known path past the account's ceiling (issue 74)
        if self.sessions.door.begin(user, address, began / 1e6, device) is not None:   # failures only (issue 56)
            return await self.login_page(request, self.sp._("Too many failed logins for this account from this "
                                                            "address: wait five minutes."))
        role, stored = self.accounts.get(user, ("", login.dummy_hash()))  # the same work if unknown
        ok: bool | None = None
        try:
            async with self._check_slot(address):
                ok = await asyncio.to_thread(login.check_password, password, stored) and bool(role)
        except _Busy:
            return await self.login_page(request, self.sp._("Many logins are being checked just now: try again "
                                                            "in a minute."))
        finally:
            failures = self.sessions.door.end(user, address, ok, now_us() / 1e6, device)
        if ok is False and failures == login.FAILURES_AN_HOUR:   # failures, not refusals (issue 74)
            log.error("dashboard: %d wrong passwords for %r within an hour: someone may be guessing its password",
                      failures, user)
        if not ok:
            log.warning("dashboard: failed login for %r from %s", user, address)
            return await self.login_page(request, self.sp._("Wrong account or password."))
        self.sessions.succeeded(address, began)
        log.info("dashboard: %s (%s) logged in from %s", user, role, address)
        token = self.sessions.open(user, role, now_us())
        resp = web.Response(status=303, headers={**HEADERS, "Location": "/"})
        resp.set_cookie(login.MARK_COOKIE, mark, httponly=True, secure=self.cfg.dashboard.tls_cert_file is not None,
                        samesite="Strict", path="/", max_age=int(self.sessions.door.known_s))
        resp.set_cookie(COOKIE, token, httponly=True, secure=self.cfg.dashboard.tls_cert_file is not None, samesite="Strict",
                        path="/")
        return resp

    @contextlib.asynccontextmanager
    async def _check_slot(self, address: str) -> AsyncIterator[None]:
        """A place among the checks under way (login.Sessions.slots): at once, after the addresses
        that waited longer (an address that logged in right lately goes first), or _Busy when
        this address has its share running and waiting."""
        ticket = (address, asyncio.get_running_loop().create_future())
        got = self.sessions.slots.ask(address, ticket, ahead=self.sessions.is_known(address, now_us()))
        if got is False:
            raise _Busy
        if got is None:
            try:
                await ticket[1]
            except asyncio.CancelledError:   # the client went away while it waited
                if ticket[1].done() and not ticket[1].cancelled():
                    self._slot_done(address)
                else:
                    self.sessions.slots.forget(address, ticket)
                raise
        try:
            yield
        finally:
            self._slot_done(address)

    def _slot_done(self, address: str) -> None:
        turns = self.sessions.slots.done(address)
        while turns:
            who, future = turns.pop()
            if future.cancelled():   # its turn came after it gave up: the place goes on
                turns.extend(self.sessions.slots.done(who))
            else:
                future.set_result(None)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.close(request.cookies.get(COOKIE))
        resp = web.Response(status=303, headers={**HEADERS, "Location": "/login"})
        resp.del_cookie(COOKIE, path="/")
        return resp

    async def _read(self, fn: Callable[[Store], T]) -> T:
        def work() -> T:
            store = self.cfg.open_store(readonly=True)
            try:
                return fn(store)
            finally:
                store.close()
        return await asyncio.to_thread(work)

    async def _overview(self, site: str | None = None) -> dict[str, Any]:
        return await self._read(lambda s: fleet.overview(s, now_us(), self.cfg.verify.silent_after_us, site))

    async def css(self, _r: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "central.css").read_bytes(), content_type="text/css", headers=HEADERS)

    async def keys(self, _r: web.Request) -> web.Response:
        """The fleet's node keys, signed by the central key (design/0065; `edged-central keys`)."""
        def make() -> dict[str, Any]:
            return keylist.signed(self.cfg.storage.data_dir, keylist.central_key(self.cfg.storage.data_dir), now_us())
        try:
            doc = await asyncio.to_thread(make)
        except RegisterError as exc:  # altered by hand: no list from it (design/0131)
            return web.Response(status=503, text=f"the register of enrolments is refused: {exc}\n",  # i18n: for tools
                                headers=HEADERS)
        return web.json_response(doc, headers=HEADERS, dumps=lambda d: json.dumps(d, ensure_ascii=False, indent=1,
                                                                                sort_keys=True))

    async def ca_pem(self, _r: web.Request) -> web.Response:
        """The office's CA certificate, the root a verifier trusts (design/0097); 404 until made."""
        cert = await asyncio.to_thread(ca.existing_ca, self.cfg.storage.data_dir)
        if cert is None:
            return web.Response(status=404, text="no CA yet: edged-central nodes ca\n", headers=HEADERS)  # i18n: for tools

        return web.Response(body=nodecert.pem([cert]), content_type="application/x-pem-file", headers=HEADERS)

    async def crl_pem(self, _r: web.Request) -> web.Response:
        """The office's signed revocation list as the CA's user last wrote it (design/0132: the
        dashboard holds no CA key and signs nothing)."""
        body = await asyncio.to_thread(ca.published_crl, self.cfg.storage.data_dir)
        if body is None:
            return web.Response(status=404, text="no revocation list yet: edged-central nodes crl\n",  # i18n: for tools
                                headers=HEADERS)
        return web.Response(body=body, content_type="application/x-pem-file", headers=HEADERS)

    async def no_icon(self, _r: web.Request) -> web.Response:
        return web.Response(status=204, headers=HEADERS)

    async def api_status(self, _r: web.Request) -> web.Response:
        return web.json_response(await self._overview(), headers=HEADERS)

    async def index(self, _r: web.Request) -> web.Response:
        o = await self._overview()
        t = o["total"]
        sp, _ = self.sp, self.sp._
        tiles = [el("span", _("nodes up: {up} / {total}").format(up=t["up"], total=t["nodes"]), ' id="nodes-up"'),
                 el("span", _("cameras recording: {on} / {total}").format(on=t["recording"], total=t["cameras"]),
                    ' id="cameras-recording"'),
                 el("span", _("open alarms: {n}").format(n=t["open_alarms"]), ' id="open-alarms"'),
                 el("span", _("critical findings: {n}").format(n=t["critical"]),
                    f" id=\"critical-findings\" class=\"{'critical' if t['critical'] else ''}\"")]
        body = [el("h1", _("edged fleet")), "<p class=\"tiles\">" + "".join(tiles) + "</p>", el("h2", _("Sites"))]
        rows = [("down" if s["up"] < s["nodes"] or s["critical"] else "",
                 [f"<a href=\"/site/{e(name)}\">{e(name)}</a>", f"{s['up']} / {s['nodes']}",
                  f"{s['recording']} / {s['cameras']}", str(s["open_alarms"]), str(s["critical"])])
                for name, s in sorted(o["sites"].items())]
        body.append(_table([_("site"), _("nodes up"), _("cameras recording"), _("open alarms"), _("critical findings")],
                           rows) if rows else el("p", _("No node has reported yet.")))
        body.append(el("p", _("Read-only. Made {when}; refreshes every {n} s.").format(when=sp.when(o["made_us"]),
                                                                                       n=REFRESH_S), ' class="muted"'))
        return _page(sp, _("edged fleet"), body, request=_r)

    async def site(self, request: web.Request) -> web.Response:
        site = request.match_info["site"]
        sp, _ = self.sp, self.sp._

        def gather(s: Store) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, Any]]]:
            o = fleet.overview(s, now_us(), self.cfg.verify.silent_after_us, site)
            cams = {n["node"]: s.retained_of(n["node"])["cameras"] for n in o["nodes"]}
            revoked(o["nodes"], {r["node"]: r["public_key"] for r in s.nodes(site)}, Register(self.cfg.storage.data_dir))
            return o, s.findings(site=site, limit=50), cams

        o, findings, cams = await self._read(gather)
        if not o["nodes"]:
            raise web.HTTPNotFound(text=_("no node of site {site} has reported").format(site=site), headers=HEADERS)
        body = [el("h1", _("Site {site}").format(site=site)), "<p>" + el("a", _("fleet"), ' href="/"') + "</p>",
                el("h2", _("Nodes"))]
        body.append(_table([_("node"), _("state"), _("version"), _("cameras recording"), _("retention achieved"),
                            _("open alarms"), _("findings"), _("signed head"), _("last heard")],
                           [("" if n["up"] and not n["revoked_us"] else "down",
                             [e(n["name"]), _state_cell(sp, n),
                              e(str(n["version"] or "-")), f"{n['recording']} / {n['cameras']}",
                              e(fleet.retention_cell(sp, n)),
                              str(n["open_alarms"]), _findings_cell(sp, n["findings"]),
                              "-" if not n["head"] else f"{n['head']['seq']} {e(n['head']['hash'][:16])}",
                              sp.when(n["last_us"])]) for n in o["nodes"]]))
        body.append(el("h2", _("Cameras")))
        rows = []
        for node, by_cam in sorted(cams.items()):
            for cam, st in sorted(by_cam.items()):
                st = st if isinstance(st, dict) else {}
                rows.append(("" if st.get("recording") else "down",
                             [e(node.split("/", 1)[1]), e(cam), e(_("yes") if st.get("recording") else _("no")),
                              e(str(st.get("health") or "-")), e(str(st.get("fps") or "-")),
                              e(str(st.get("resolution") or "-"))]))
        body.append(_table([_("node"), _("camera"), _("recording"), _("health"), _("fps"), _("resolution")], rows)
                    if rows else el("p", _("No camera state yet.")))
        alarms = [a | {"node": n["name"]} for n in o["nodes"] for a in n["alarms"]]
        body.append(el("h2", _("Open alarms")))
        body.append(_table([_("node"), _("alarm"), _("severity"), _("camera"), _("message"), _("since")],
                           [("", [e(a["node"]), e(finding_words.alarm_title(sp, a["kind"], str(a["id"]))),
                                  e(sp.word(a["severity"])), e(str(a["camera"] or "-")),
                                  e(finding_words.alarm_message(sp, a)), sp.when(a["raised_us"])]) for a in alarms])
                    if alarms else el("p", _("None.")))
        title = _("site {site}").format(site=site)
        if request[ROLE] != "auditor":  # the findings name people (accesses): the auditor's
            return _page(sp, title, body, request=request)

        now = this_month(self.cfg.tz)
        body.insert(2, "<p>" + e(_("The auditor's month:")) + " " + " ".join(
            el("a", sp.month(m), f" href=\"/site/{e(site)}/month/{m}\"") for m in (now, shift(now, -1))) + "</p>")
        body.append(el("h2", _("Findings (newest 50)")))
        body.append(_table([_("node"), _("severity"), _("kind"), _("about"), _("message")],
                           [("bad" if f["severity"] == "critical" else "",
                             [e(f["node"].split("/", 1)[1]),
                              el("span", sp.word(f["severity"]), f" class=\"{e(f['severity'])}\""),
                              e(f["kind"]), sp.when(f["about_us"]),
                              e(sp.said(f["message"], f.get("said")))]) for f in findings])
                    if findings else el("p", _("None.")))
        return _page(sp, title, body, request=request)

    async def month(self, request: web.Request) -> web.StreamResponse:
        """The auditor's month of a site (central/pages/month_page.py, design/0117)."""
        return await month_page.page(self, request)

    async def month_csv(self, request: web.Request) -> web.StreamResponse:
        return await month_page.csv_file(self, request)

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        ssl_ctx = None
        if self.cfg.dashboard.tls_cert_file is not None:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ssl_ctx.load_cert_chain(str(self.cfg.dashboard.tls_cert_file), str(self.cfg.dashboard.tls_key_file))
        await web.TCPSite(self._runner, host, port, ssl_context=ssl_ctx).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
