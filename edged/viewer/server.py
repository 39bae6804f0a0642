"""The viewer's web server (aiohttp): three plain pages, a small JSON API for them, and the
housekeeping that ends views on time. Run by the daemon's supervisor as the task "viewer".

Nothing here serves footage as a file: the only way a picture leaves the box is a WebRTC
stream to a logged-in page (R5.4 "watch without a copy").

Over 400 lines on purpose: the routes and the caps each view is held to (design/0062) are read
together; the pages, media and login live in their own modules already.
"""

from __future__ import annotations

import asyncio
import json
import hashlib
import logging
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from edged import pools
from edged.coalesce import Coalescer
from edged.config import Config
from edged.people import unsigned_gate
from edged.rules.applications import not_signed_words
from edged.alarms import Alarms
from edged.i18n import A_, N_, Msg, _, normalise, set_language, set_site_word
from edged.rules import audit_words as aw
from edged.rules import retrieval
from edged.rules.persons import names_of, not_vouched_words, person
from edged.rules.roles import in_scope
from edged.viewer import rules
from edged.viewer.access import Access, AuthError, GrantError, NotSigned, NotVouched
from edged.guard import ConnectionGuard
from edged.viewer.http import COOKIE, DEVICE_COOKIE, HEADERS, LOGIN_BODY_MAX, STATIC, LoginRefused, allowed_hosts, door_of
from edged.viewer.texts import page_html
from edged.rules.throttle import ACCOUNT_LIMITS, ALARM_AFTER, FAILURES_AN_HOUR, PER_HOUR, LoginThrottle
from storage.people.doors import AccountDoor
from storage.alarm_kinds import PASSWORD_GUESSED
from storage.people.sessions import IDLE
from edged.viewer.live import CameraUnavailable, LiveFeeds, settings_for
from edged.viewer.playback import RecordedTrack, RemoteRangeReader, pieces_of
from edged.viewer.range_read import NoFootage
from edged.viewer.views import OfferError, View, Views
from edged.viewer.thumbs import Thumbs
from edged.viewer.desk.app import DESK, LANG_COOKIE, Desk
from edged.viewer.desk.routes import PAGES as DESK_PAGES
from edged.viewer.desk.cameras import tile_state
from edged.viewer.desk.page import role_names
from storage import audit
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock

log = logging.getLogger(__name__)
logging.getLogger("aioice").setLevel(logging.WARNING)  # every ICE check at INFO would flood the journal

SWEEP_S = 0.5            # how often open views are checked against their deadlines
SESSION_CHECK_S = 2.0    # how often their sessions are re-read (logout, revocation, expiry)
BODY_MAX = 64 * 1024     # an SDP offer is a few KB; nothing the pages send is larger
BODY_READ_S = 10.0        # a request body must arrive within this
SCRYPT_AT_ONCE = 2        # password checks running together (one per core); the rest wait their turn
GENERIC_LOGIN_ERROR = N_("wrong account name or password")  # unknown, wrong, locked and revoked alike
PAGES = {"/login": "login.html", "/live": "live.html", "/grid": "grid.html", "/playback": "playback.html"}
ASSETS = ("viewer.js", "viewer.css", "grid.js", "desk.js", "scrub.js")


def _mark_of(request: web.Request) -> str:
    """The browser's mark (set at a login; the door keeps its digest, never the mark), "" without one."""
    cookies = getattr(request, "cookies", None) or {}
    return str(cookies.get(DEVICE_COOKIE, ""))[:64]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Viewer:
    def __init__(self, cfg: Config, writer: CatalogWriter, clock: Clock = SYSTEM,
                 operate: Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
                 alarms: Alarms | None = None):
        self.cfg = cfg
        self.operate = operate  # the control operations for a session (design/0073); None: the desk refuses
        self.vcfg = cfg.viewer
        self.access = Access(writer, clock, unsigned_gate(cfg))
        self.clock = clock
        self.feeds = LiveFeeds(settings_for(cfg), self.vcfg.open_timeout_us / 1e6, self.vcfg.transcode_max_height)
        self.limits = rules.ViewLimits(self.vcfg.max_view_us, self.vcfg.idle_timeout_us)
        self.views = Views(self.access, self.feeds, self.limits, self.vcfg.max_viewers)
        self.thumbs = Thumbs(self)   # the playback's scrub timeline (design/0114)
        self.views.closed_hooks.append(self.thumbs.closed)
        self.last_seen: dict[str, int] = {}   # token -> last request, for the idle logout
        self.url = ""
        self.guard = ConnectionGuard()
        self.throttle = LoginThrottle()
        self.account_door = AccountDoor(ACCOUNT_LIMITS.burst, ACCOUNT_LIMITS.refill_s,   # failures only (issues 45, 56)
                                        per_hour=PER_HOUR)                                # a ceiling an hour (issue 74)
        self.refused_in_a_row: dict[str, int] = {}              # account -> tries refused by its bucket
        self.alarms = alarms
        self.refusals: Coalescer[tuple[str, str, str]] = Coalescer()   # repeated refusals: one record per session per minute (design/0062)
        self.checks = asyncio.Semaphore(SCRYPT_AT_ONCE)
        self.hosts = allowed_hosts(self.vcfg.host, self.vcfg.port, self.vcfg.hostnames)

    # the supervisor's task -------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        if not self.vcfg.enabled:
            return
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                               keepalive_timeout=self.guard.idle_s)
        await runner.setup()
        ctx = self._tls()
        try:
            assert runner.server is not None
            server = await self.guard.listen(  # raw TCP: the guard counts it at accept, then does the handshake
                runner.server, self.vcfg.host, self.vcfg.port, tls=ctx)
        except OSError as exc:
            log.error("the web viewer cannot listen on %s:%d (%s); recording goes on without it. "
                      "Free the port or change viewer.listen, then restart edged",
                      self.vcfg.host, self.vcfg.port, exc.strerror or exc)
            await runner.cleanup()
            return
        host = f"[{self.vcfg.host}]" if ":" in self.vcfg.host else self.vcfg.host
        self.url = f"{'https' if ctx else 'http'}://{host}:{self.vcfg.port}/"
        log.info("web viewer listening on %s", self.url)
        try:
            await self._housekeep(stopping)
        finally:
            server.close()
            self.guard.cancel_handshakes()
            await self.views.close_all(aw.VIEW_STOPPING)
            await runner.cleanup()
            await self.feeds.close()

    async def reload(self, cfg: Config) -> None:
        """SIGHUP: the camera list is the new config's; a live view of a camera now disabled,
        removed or pointed elsewhere ends at once (a camera disabled for privacy stops showing)."""
        old, self.cfg = self.cfg, cfg
        self.feeds.settings = settings_for(cfg)
        for view in [v for v in self.views.open.values() if v.kind == "live"]:
            cam, before = cfg.camera(view.camera), old.camera(view.camera)
            if cam is None or not cam.enabled:
                await self.views.close(view, aw.VIEW_CAMERA_GONE)
            elif before is None or cam.url != before.url or cam.audio_in_viewer != before.audio_in_viewer:
                await self.views.close(view, aw.VIEW_CAMERA_CHANGED)

    def _tls(self) -> ssl.SSLContext | None:
        if self.vcfg.tls_cert is None or self.vcfg.tls_key is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.vcfg.tls_cert, self.vcfg.tls_key)
        return ctx

    async def _housekeep(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time()
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), SWEEP_S)
                return
            except TimeoutError:
                pass
            try:
                sessions = None
                if loop.time() >= next_check:
                    next_check = loop.time() + SESSION_CHECK_S
                    tokens = sorted(set(self.last_seen) | {v.token for v in self.views.open.values()})
                    sessions = await self.access.sessions(tokens) if tokens else {}
                await self.views.sweep(sessions)
                if sessions is not None:
                    await self._idle_logouts(sessions)
                for (account, _token, action), n in self.refusals.due(time.monotonic()):
                    await self.access.audit(account, f"{action}.summary", {
                        "refused": n, "via": "viewer",
                        # i18n: on the audit record
                        "why": "refusals beyond the first of a minute in one session, counted not listed"})
                left_out = self.throttle.summary_due(self.clock.monotonic())
                if left_out:
                    await self.access.audit("edged", "login.failed.summary", {
                        "via": "viewer", "failures": left_out,
                        # i18n: on the audit record
                        "why": "failed logins beyond the viewer's cap on records per minute, counted not listed"})
            except Exception:  # noqa: BLE001 - the viewer's trouble never stops recording
                log.exception("viewer housekeeping failed; trying again")

    async def _idle_logouts(self, sessions: dict[str, dict[str, Any] | None]) -> None:
        now = self.clock.now_us()
        for token, session in sessions.items():
            if session is None:
                self.last_seen.pop(token, None)
            elif token in self.last_seen and rules.idle(self.last_seen[token], len(self.views.of_token(token)),
                                                        now, self.limits):
                self.last_seen.pop(token, None)
                await self.access.logout(token, IDLE)
                log.info("viewer login of %s ended after %.0f min idle", session["account"],
                         self.limits.idle_timeout_us / 60e6)

    # the web app ------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._headers], client_max_size=BODY_MAX)
        app.router.add_get("/", self.index)
        for path in PAGES:
            app.router.add_get(path, self.page)
        app.router.add_get("/static/{name}", self.asset)
        app.router.add_get("/favicon.ico", _no_content)
        app.router.add_post("/api/login", self.login)
        app.router.add_post("/api/logout", self.logout)
        app.router.add_get("/api/me", self.me)
        app.router.add_get("/api/grant/{id}", self.grant)
        app.router.add_post("/api/live/{camera}", self.live)
        app.router.add_post("/api/playback", self.playback)
        app.router.add_post("/api/view/{id}/stop", self.stop_view)
        app.router.add_post("/api/view/{id}/camera", self.switch_camera)
        self.thumbs.add_routes(app)
        Desk(self).add_routes(app, DESK_PAGES)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
        self.guard.request_started(request.transport)
        set_language(self.cfg.site.language)  # what the pages say, in the site's language (this request's task)
        set_site_word(self.cfg.site.us, self.cfg.site.language, self.cfg.forms.modes, self.cfg.forms.kinds)  # its words (design/0412, 0447)
        audit.DOOR.set(door_of(request.remote, request.cookies.get(COOKIE)))  # this request's records say so
        try:
            if request.host.lower() not in self.hosts:  # DNS rebinding: a page of another site on our address
                response: web.StreamResponse = _error(421, _("this box answers only to its own address"))
            elif (request.method == "POST" and request.content_type != "application/json"
                  and not request.path.startswith(DESK)):  # the desk's forms carry a CSRF token (design/0073)
                response = _error(415, _("send JSON (Content-Type: application/json)"))  # a cross-site form cannot
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = exc
            for name, value in HEADERS.items():  # a printed form brings its own CSP (its style's hash)
                response.headers.setdefault(name, value)
            return response
        finally:
            self.guard.request_ended(request.transport)

    async def index(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(DESK)  # the desk's home, or its login page

    async def page(self, request: web.Request) -> web.StreamResponse:
        """A page in the site's language (edged/viewer/texts.py)."""
        source = await asyncio.to_thread((STATIC / PAGES[request.path]).read_text, encoding="utf-8")
        lang = normalise(request.cookies.get(LANG_COOKIE)) or self.cfg.site.language
        return web.Response(text=page_html(source, lang, self.cfg.site.name, request.path), content_type="text/html")

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            async with asyncio.timeout(BODY_READ_S):
                body = await request.json()
        except TimeoutError:
            raise web.HTTPRequestTimeout(text='{"error": "the request body did not arrive in time"}',
                                         content_type="application/json") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text='{"error": "the request is not valid JSON"}',
                                     content_type="application/json") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text='{"error": "expected a JSON object"}', content_type="application/json")
        return body

    async def _session(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        token = request.cookies.get(COOKIE, "")
        session = await self.access.session(token)
        if session is None:
            self.last_seen.pop(token, None)
            raise web.HTTPUnauthorized(text='{"error": "not logged in, or the session ended: log in again"}',
                                       content_type="application/json")
        if session.get("must_change"):  # a one-time password reaches only the desk's password page
            raise web.HTTPForbidden(text=json.dumps({"error": _("change your one-time password first")}),
                                    content_type="application/json")
        self.last_seen[token] = self.clock.now_us()
        return token, session

    # API --------------------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        """Throttled per client address before anything is read or checked (design/0021)."""
        if request.content_length is None or request.content_length > LOGIN_BODY_MAX:
            return _error(413, "a login is an account name and a password; this request is too large")
        try:
            s = await self.authenticate(request, lambda: self._body(request))
        except LoginRefused as exc:
            response = _error(exc.status, exc.message)
            if exc.retry_after:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        response = web.json_response({"account": s["account"], "roles": s["roles"], "expires_us": s["expires_us"]})
        self.set_session_cookie(response, s)
        return response

    async def authenticate(self, request: web.Request, read: Callable[[], Awaitable[dict[str, Any]]], *,
                           allow_one_time: bool = False) -> dict[str, Any]:
        """The viewer's and the desk's login: the per-address throttle before the body is read
        (`read()`), the cap on failure records, the password checks two at a time. The session,
        or LoginRefused with the status and the words to show."""
        client = request.remote or "?"
        wait = self.throttle.try_login(client, self.clock.monotonic())
        if wait is not None:
            raise LoginRefused(429, _("too many login attempts from this address; try again in {s} s").format(
                s=f"{wait:.0f}"), int(wait) + 1)
        body = await read()
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
            raise LoginRefused(400, _("type your account name and password"))
        account = name[:64].lower()
        mark = _mark_of(request) or secrets.token_urlsafe(24)
        device = hashlib.sha256(mark.encode()).hexdigest()
        await self._account_bucket(account, client, device)
        written, left_out = self.throttle.record_failure(self.clock.monotonic())
        right: bool | None = False
        own = False   # the holder's own password: a one-time one never makes its path known (design/0320)
        try:
            async with self.checks:
                s = await self.access.login(name, password, client=client, record=written,
                                            record_extra={"left_out_before": left_out} if left_out else None,
                                            allow_one_time=allow_one_time)
            right, own = True, not s.get("must_change")
        except NotSigned as exc:   # the password was right: say which boxes wait for whom (design/0113)
            right = True
            self.throttle.unused(written, left_out)
            raise LoginRefused(403, not_signed_words(exc.name, exc.pending, self.cfg.policy.titles)) from None
        except NotVouched as exc:   # the password was right: an approver's account nobody vouched for (issue 74)
            right = True
            self.throttle.unused(written, left_out)
            raise LoginRefused(403, not_vouched_words(exc.name)) from None
        except AuthError:
            log.warning("viewer: failed login from %s", client)
            raise LoginRefused(403, _(GENERIC_LOGIN_ERROR)) from None
        except pools.Busy as exc:
            right = None
            self.throttle.unused(written, left_out)
            raise LoginRefused(429, str(exc)) from None
        finally:
            failures = self.account_door.end(account, client, right, self.clock.monotonic(), device, know=own)
            if right is False:
                await self._failures_alarm(account, failures)
        self.throttle.unused(written, left_out)
        self.throttle.succeeded(client, self.clock.monotonic())
        self.refused_in_a_row.pop(account, None)
        self.last_seen[s["token"]] = self.clock.now_us()
        return {**s, "mark": mark}

    async def _failures_alarm(self, account: str, failures: int) -> None:
        """The account's `password_guessed` alarm once FAILURES_AN_HOUR wrong passwords were checked
        in an hour, whatever the addresses (issue 74: refusals alone never counted a spread guess)."""
        if failures == FAILURES_AN_HOUR and self.alarms is not None:
            await self.alarms.raise_(PASSWORD_GUESSED, Msg(A_(
                "{n} wrong passwords for {name} were checked from the web within an hour: someone may be guessing "
                "its password"), n=failures, name=account), {"account": account, "failures": failures},
                about=account)

    async def _account_bucket(self, account: str, client: str, device: str = "") -> None:
        """One account's tries, from every address together (issue 45): slowed past its bucket, an
        alarm once ALARM_AFTER tries were refused in a row; never a lock of the account, and only
        failures spend it (issue 56: edged/rules/throttle.AccountDoor); at most a ceiling an hour
        but from the owner's known paths (issue 74, design/0320)."""
        wait = self.account_door.begin(account, client, self.clock.monotonic(), device)
        if wait is None:
            return
        n = self.refused_in_a_row[account] = self.refused_in_a_row.get(account, 0) + 1
        if len(self.refused_in_a_row) > 10_000:   # remembered accounts are bounded like the buckets
            self.refused_in_a_row.pop(next(iter(self.refused_in_a_row)))
        if n == ALARM_AFTER and self.alarms is not None:
            await self.alarms.raise_(PASSWORD_GUESSED, Msg(A_(
                "{n} logins for {name} were refused from the web for coming too fast: someone may be guessing "
                "its password"), n=n, name=account), {"account": account}, about=account)
        raise LoginRefused(429, _("too many login attempts for this account; try again in {s} s").format(
            s=f"{wait:.0f}"), int(wait) + 1)

    def set_session_cookie(self, response: web.StreamResponse, s: dict[str, Any]) -> None:
        """The session's cookie, and the browser's mark (a random name this browser keeps, never the
        session): the owner's known path while her account is guessed at (design/0320)."""
        response.set_cookie(DEVICE_COOKIE, s.get("mark") or secrets.token_urlsafe(24), httponly=True, samesite="Strict", path="/",
                            secure=self.vcfg.tls_cert is not None, max_age=int(self.account_door.known_s))
        response.set_cookie(COOKIE, s["token"], httponly=True, samesite="Strict", path="/",
                            secure=self.vcfg.tls_cert is not None,
                            max_age=max(1, (s["expires_us"] - self.clock.now_us()) // 1_000_000))

    async def logout(self, request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE, "")
        for view in self.views.of_token(token):
            await self.views.close(view, aw.VIEW_LOGGED_OUT)
        if token:
            self.last_seen.pop(token, None)
            await self.access.logout(token)
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def me(self, request: web.Request) -> web.Response:
        _token, s = await self._session(request)
        cams = [c.id for c in self.cfg.cameras if c.enabled]
        names = {c.id: c.name for c in self.cfg.cameras}
        live = rules.live_cameras(s, cams)
        states = await self._camera_states(s) if live else {}
        return web.json_response({
            "account": s["account"], "person": person(await self._names(), s["account"]), "roles": s["roles"], "expires_us": s["expires_us"], "now_us": self.clock.now_us(),
            "role_words": role_names(s["roles"]), "timezone": self.cfg.site.timezone,   # as the desk says them
            "live": [{"id": c, "name": names[c], **tile_state(states.get(c))} for c in live],
            "live_refusal": None if live or not cams else rules.live_refusal_words(s, cams[0], cams),
            "playback": rules.playback_refusal(s) is None, "playback_refusal": rules.playback_refusal_words(s),
            "grants": await self._waiting(s, live) if request.query.get("grants") else {},
            "max_view_us": self.limits.max_view_us})

    async def _waiting(self, s: dict[str, Any], cameras: list[str]) -> dict[str, list[int]]:
        """The live grid's: per camera, the view grants this custodian may use now (design/0113)."""
        if self.operate is None or not cameras or rules.playback_refusal(s) is not None:
            return {}
        answer = await self.operate("request.list", {"state": "approved"}, s)
        rows = answer.get("result") if answer.get("ok") else None
        return rules.waiting_viewings(rows or [], s["account"], self.clock.now_us(), cameras)

    async def _camera_states(self, s: dict[str, Any]) -> dict[str, str]:
        """Each camera's state as `edgectl cameras` shows it, for the live grid's tiles (design/0108)."""
        if self.operate is None:
            return {}
        answer = await self.operate("cameras", {}, s)
        return {c["id"]: c["state"] for c in (answer.get("result") or {}).get("cameras", [])} if answer.get("ok") else {}

    async def grant(self, request: web.Request) -> web.Response:
        _token, s = await self._session(request)
        refused = rules.playback_refusal_words(s)
        if refused:
            return _error(403, refused)
        grant_id = _int(request.match_info["id"])
        grant = await self.access.peek_grant(grant_id) if grant_id is not None else None
        if grant is None or not in_scope(s.get("cameras"), grant.get("cameras")):   # as if none (issue 45)
            return _error(404, _("no grant {id}").format(id=request.match_info['id']))
        names = {c: (cam.name if (cam := self.cfg.camera(c)) is not None and cam.name else c) for c in grant["cameras"]}
        people = await self._names()   # people by their names (design/0112): who approved, who used it
        # a used, expired or copy grant offers nothing to start: the page says why instead (issue 56)
        unusable = retrieval.refuse_use(grant, mode="view", now_us=self.clock.now_us(), grant_id=grant["id"],
                                        names=people)
        return web.json_response({**{k: grant.get(k) for k in (
            "id", "request_id", "cameras", "from_us", "to_us", "mode", "approver", "requester", "expires_us",
            "used_us", "used_by")}, "names": names, "approver_person": person(people, grant.get("approver")),
            "used_by_person": person(people, grant.get("used_by")), "unusable": unusable})

    def _camera_name(self, camera: str) -> str:
        cam = self.cfg.camera(camera)
        return cam.name if cam is not None else camera

    async def _names(self) -> dict[str, Any]:
        return names_of(await self.access.full_names(), self.cfg.policy.titles, self.cfg.policy.units)

    async def live(self, request: web.Request) -> web.Response:
        token, s = await self._session(request)
        camera = request.match_info["camera"]
        cams = [c.id for c in self.cfg.cameras if c.enabled]
        refused = rules.live_refusal(s, camera, cams)
        if refused:
            if self.refusals.note((s["account"], token, "live.refused"), time.monotonic()):
                await self.access.audit(s["account"], "live.refused", {"camera": camera, "why": refused,
                                                                       "via": "viewer"})
            return _error(403 if camera in cams else 404, rules.live_refusal_words(s, camera, cams) or refused)
        body = await self._body(request)
        cam = self.cfg.camera(camera)
        assert cam is not None
        try:
            view, answer = await self.views.open_live(s, token, camera, cam.url, body, audio=cam.audio_in_viewer)
        except OfferError as exc:
            return _error(400, str(exc))
        except CameraUnavailable as exc:   # the person's words and a next step; the technician's folded (issue 56)
            return web.json_response({"error": rules.camera_down_words(cam.name or camera), "detail": str(exc)},
                                     status=503)
        return web.json_response({**answer, **await self._view_info(view, s)})

    async def playback(self, request: web.Request) -> web.Response:
        token, s = await self._session(request)
        refused = rules.playback_refusal_words(s)
        if refused:
            return _error(403, refused)
        body = await self._body(request)
        grant_id = _int(body.get("grant"))
        grant = await self.access.peek_grant(grant_id) if grant_id is not None else None
        if grant is None or not in_scope(s.get("cameras"), grant.get("cameras")):   # scope first (issue 56)
            return _error(404, _("no grant {grant}").format(grant=body.get('grant')))
        camera = body.get("camera") or grant["cameras"][0]
        refused = rules.grant_camera_refusal(grant, camera, self._camera_name)
        if refused:
            return _error(403, refused)
        watcher = rules.watcher_for(grant, body.get("watcher"))
        # the grant is checked before any media work (design/0062): a used or expired grant
        # costs a row read, never a seek on a thread
        refused = retrieval.refuse_use(grant, mode="view", now_us=self.clock.now_us(), grant_id=grant_id,
                                       names=await self._names() if grant.get("used_us") else {})
        if refused:
            if self.refusals.note((s["account"], token, "grant.refused"), time.monotonic()):
                await self.access.audit(s["account"], "grant.refused", {"grant": grant_id, "mode": "view",
                                                                        "why": refused})
            return _error(409, refused)
        rows = await self.access.footage(camera, grant["from_us"], grant["to_us"])
        pieces = pieces_of(self.cfg.storage.data_dir, rows, grant["from_us"], grant["to_us"])
        pools.CALLER.set(f"account {s['account']}")  # this request's task: the media pool's cap is per account
        try:
            reader = RemoteRangeReader(pieces, grant["from_us"], grant["to_us"], self.vcfg.transcode_max_height,
                                       audio=self._hearable(camera))
            start_us = await pools.MEDIA.run(reader.seek, grant["from_us"])
            if start_us is None:
                raise NoFootage(_("no key frame was recorded in this range"))
        except NoFootage as exc:
            return _error(409, _("{camera}: {why}; the grant was not used").format(camera=self._camera_name(camera),
                                                                                   why=exc))
        except pools.Busy as exc:
            return _error(429, str(exc))
        # a grant of several cameras: the sound track is there if any of them may be heard (design/0087)
        track = RecordedTrack(reader, sound=any(self._hearable(c) for c in grant["cameras"]))

        async def use() -> dict[str, Any]:
            return await self.access.use_grant(grant["id"], s["account"], watcher, self.cfg.policy)

        try:
            view, answer = await self.views.open_playback(s, token, grant, camera, track, body, watcher, use)
        except GrantError as exc:
            return _error(409, str(exc))
        except OfferError as exc:
            return _error(400, str(exc))
        return web.json_response({**answer, **await self._view_info(view, s), "from_us": grant["from_us"],
                                  "to_us": grant["to_us"], "start_us": start_us,
                                  "audio": answer["audio"] and self._hearable(camera)})

    async def stop_view(self, request: web.Request) -> web.Response:
        token, _s = await self._session(request)
        view = self.views.open.get(request.match_info["id"])
        if view is None or view.token != token:
            return _error(404, _("no such open view"))
        await self.views.close(view, aw.VIEW_CLOSED)
        return web.json_response({"ok": True})

    async def switch_camera(self, request: web.Request) -> web.Response:
        token, _s = await self._session(request)
        view = self.views.open.get(request.match_info["id"])
        if view is None or view.token != token or view.kind != "playback" or view.grant is None \
                or not isinstance(view.track, RecordedTrack):
            return _error(404, _("no such open playback"))
        if view.track.state == "ended":
            return _error(409, _("the viewing is over"))
        camera = (await self._body(request)).get("camera")
        camera = camera if isinstance(camera, str) else ""   # refused: no camera is in a grant by that name
        refused = rules.grant_camera_refusal(view.grant, camera, self._camera_name)
        if refused:
            return _error(403, refused)
        g = view.grant
        rows = await self.access.footage(camera, g["from_us"], g["to_us"])
        try:
            reader = RemoteRangeReader(pieces_of(self.cfg.storage.data_dir, rows, g["from_us"], g["to_us"]),
                                       g["from_us"], g["to_us"], self.vcfg.transcode_max_height,
                                       audio=self._hearable(camera))
        except NoFootage as exc:
            return _error(409, _("{camera}: {why}").format(camera=self._camera_name(camera), why=exc))
        await self.views.switch_camera(view, camera, reader)
        return web.json_response({"ok": True, "camera": camera,
                                  "audio": view.track.sound is not None and self._hearable(camera)})

    def _hearable(self, camera: str) -> bool:
        """The camera's [[cameras]] audio_in_viewer (design/0087)."""
        cam = self.cfg.camera(camera)
        return cam is not None and cam.audio_in_viewer

    async def _view_info(self, view: View, s: dict[str, Any]) -> dict[str, Any]:
        """The view's facts for the page; the overlay names the person by their name (design/0112)."""
        return {"view": view.id, "camera": view.camera, "deadline_us": view.deadline_us, "now_us": self.clock.now_us(),
                "overlay": rules.overlay_text(view.kind, person(await self._names(), s["account"]), view.watcher)}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _no_content(_request: web.Request) -> web.Response:
    """The favicon: none (a handler is a coroutine; aiohttp only wraps a plain function, with a warning)."""
    return web.Response(status=204)
