"""The cameras' state and the open alarms at the desk (design/0073, R2, R3.3): read-only, the
answers of the `cameras` and `alarms` operations (`edgectl cameras`, `edgectl alarms`), each
narrowed to the cameras of the account's scope (R4.2); an alarm about the box as a whole (its
disk, its clock) is shown to everyone who reads the page."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from edged.alarm_titles import title
from edged.documents.notice import inventory_html, notice_html
from edged.i18n import N_, _, has_foreign, render, us
from edged.viewer.desk.app import Desk
from edged.viewer.desk.page import DONE, DUE, OPEN, REFUSED, WAIT, Ctx, badge, esc, table
from edged.viewer.desk.paper import print_links
from storage.alarm_kinds import CRITICAL, INFO, WARNING
from storage.states.cameras import CONNECTING, DEGRADED, DISABLED, OFFLINE, RECORDING, STOPPED

# the words edgectl shows for a camera's state (edged/cli/edgectl.py), with the desk's colour
STATES = {RECORDING: (DONE, N_("recording")), CONNECTING: (WAIT, N_("connecting")),
          DEGRADED: (DUE, N_("DEGRADED")), OFFLINE: (REFUSED, N_("OFFLINE")), STOPPED: (OPEN, N_("stopped")),
          DISABLED: (OPEN, N_("disabled"))}
SEVERITY = {CRITICAL: (REFUSED, N_("critical")), WARNING: (DUE, N_("warning")), INFO: (OPEN, N_("notice"))}
CONTINUOUS = "continuous"
LATIN = re.compile(r"[A-Za-z]{3,}")   # English left in an alarm's words: said as what to do instead
MODES = {"live": N_("live view only, not recorded"), "motion": N_("recorded on motion"),
         CONTINUOUS: N_("recorded all the time")}


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/cameras", desk.page("cameras", pages.listing))
    r.add_get("/desk/cameras/notice", desk.page("cameras", pages.notice))       # the poster (R3.5; issue 56)
    r.add_get("/desk/cameras/inventory", desk.page("cameras", pages.inventory))


def in_scope(camera: str | None, ctx: Ctx) -> bool:
    scope = ctx.caller.cameras
    return scope is None or camera is None or camera in scope


def state_of(cam: dict[str, Any]) -> str:
    colour, label = STATES.get(cam["state"], (OPEN, cam["state"]))
    return badge(colour, _(label))


def said(text: str | None) -> str:
    """What the daemon or the camera wrote (English, as on MQTT and in the catalog: design/0067):
    a technician's detail, folded under the person's words (issue 42, design/0103)."""
    if not text:
        return esc("")
    summary = esc(_("technical detail"))
    return (f'<details class="tech"><summary>{summary}</summary>'
            f'<span translate="no">{esc(text)}</span></details>')


def problem_of(cam: dict[str, Any]) -> str:
    """What is wrong: each health condition by its kind's title in the person's language, then
    the daemon's words (English, as on MQTT and in the catalog: design/0067); a camera's own
    error as it wrote it."""
    if cam["state"] in (OFFLINE, CONNECTING):
        return esc(_("Not connected: check the camera, its power and its network cable.")) + said(
            cam.get("last_error") or "; ".join(cam.get("compliance_reasons") or []))
    found = ((cam.get("health") or {}).get("conditions") or {})
    stored = ((cam.get("health") or {}).get("said") or {})
    if found:
        return "<br>".join(condition(kind, text, stored.get(kind)) for kind, text in found.items())
    reasons = cam.get("compliance_reasons") or []
    return (esc(_("Below {us}'s quality floor.").format(us=us())) + said("; ".join(reasons))) if reasons else esc("")


def condition(kind: str, text: str | None, stored: dict[str, Any] | None = None) -> str:
    """One health condition: its title, then its detail in the person's words from the template
    the rule stored (design/0240; issue 56: never a title and a colon followed by nothing), else
    the title alone with the daemon's English folded beside it (a camera's own words, an older row)."""
    words = render("", stored) if stored and not has_foreign(stored) else ""
    if words:
        return esc(_("{title} ({detail})").format(title=title(kind), detail=words))
    return esc(title(kind)) + said(text)


def alarm_words(alarm: dict[str, Any], lang: str, names: dict[str, str]) -> str:
    """What an alarm says, in the person's language (issue 56): its stored template with the camera
    by its name and a health detail in the register's words; where a part has no words (a camera's
    own English error), what to do, with the technician's English folded under it."""
    text = alarm.get("text") or alarm.get("message") or ""
    if lang == "en":
        return esc(text)
    try:
        stored = (json.loads(alarm.get("detail") or "null") or {}).get("text")
    except (ValueError, AttributeError):
        stored = None
    if isinstance(stored, dict) and isinstance(stored.get("template"), str) and not has_foreign(stored):
        params = {k: names.get(str(v), str(v)) if k == "camera" else v for k, v in (stored.get("params") or {}).items()}
        said_ = render("", {**stored, "params": params})
        if said_ and not LATIN.search(said_):
            return esc(said_)
    return esc(_("See the alarm's name; if it does not clear by itself, call the technician.")) + said(text)


def tile_state(state: str | None) -> dict[str, str]:
    """A camera's state for a tile of the live grid (design/0108): its key, the word, the colour."""
    if state is None:
        return {"state": "", "state_word": "", "state_colour": OPEN}
    colour, label = STATES.get(state, (OPEN, state))
    return {"state": state, "state_word": _(label), "state_colour": colour}


def mode_of(cam: dict[str, Any]) -> str:
    mode = cam.get("mode") or CONTINUOUS
    return _(MODES[mode]) if mode in MODES else mode


def severity_of(alarm: dict[str, Any]) -> str:
    colour, label = SEVERITY.get(alarm["severity"], (OPEN, alarm["severity"]))
    return badge(colour, _(label))


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    async def printed_rows(self, ctx: Ctx, inventory: bool) -> tuple[list[dict[str, Any]], int | None]:
        """The rows `edgectl cameras --notice|--inventory` prints: configured cameras (the notice
        only the enabled ones), each marked whether it keeps the site's retention (the rule's words)."""
        reply = await self.desk.run(ctx, "cameras", {})
        site = (reply.get("min_days"), reply.get("max_days"))
        rows = [{**c, "site_retention": (c.get("min_days"), c.get("max_days")) == site} for c in reply["cameras"]
                if c["configured"] and (c["enabled"] or inventory)]
        return rows, reply.get("list_changed_us")

    async def notice(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        rows, changed = await self.printed_rows(ctx, False)
        return self.desk.printed(ctx, lambda doc: notice_html(doc, rows, changed, ctx.now_us))

    async def inventory(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        rows, changed = await self.printed_rows(ctx, True)
        return self.desk.printed(ctx, lambda doc: inventory_html(doc, rows, changed, ctx.now_us))

    async def listing(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        reply = await self.desk.run(ctx, "cameras", {})
        cams = [c for c in reply["cameras"] if in_scope(c["id"], ctx)]
        alarms = [a for a in await self.desk.run(ctx, "alarms", {}) if in_scope(a.get("camera"), ctx)]
        names = {c["id"]: c["name"] or c["id"] for c in reply["cameras"]}   # cameras by name, never id (issue 56)
        rows = []
        for c in cams:
            live = c["state"] in (RECORDING, DEGRADED)
            figures = (f"{c['width']}×{c['height']}" if c.get("width") else "-") + (
                ", " + _("{fps} frames a second").format(fps=f"{c['fps']:.1f}") if live and c.get("fps") is not None
                else "")
            rows.append([esc(c["name"] or c["id"]), state_of(c), esc(ctx.when(c.get("state_since_us"))),
                         esc(mode_of(c)),
                         f'<span translate="no">{esc(figures)}</span>', esc(ctx.when(c.get("last_packet_us"))),
                         problem_of(c)])
        body = "<h2>" + esc(_("Cameras")) + "</h2>" + (table(
            [_("Camera"), _("State"), _("Since"), _("Recording"), _("Picture"), _("Last frame"), _("Problem")], rows)
            if rows else '<p class="empty">' + esc(_("No camera in your scope.")) + "</p>")
        body += "<h2>" + esc(_("Open alarms")) + "</h2>"
        if alarms:
            body += table([_("Severity"), _("Alarm"), _("Camera"), _("Raised"), _("What happened")],
                          [[severity_of(a),
                            esc(title(a["kind"])), esc(names.get(a["camera"], a["camera"]) if a.get("camera")
                                                       else _("the whole box")),
                            esc(ctx.when(a["raised_us"])), alarm_words(a, ctx.lang, names)] for a in reversed(alarms)])
        else:
            body += '<p class="empty">' + badge(DONE, _("No open alarm.")) + "</p>"
        links = print_links([("/desk/cameras/notice", _("Print the public notice")),
                             ("/desk/cameras/inventory", _("Print the camera inventory"))])
        return self.desk.render(ctx, _("Cameras and alarms"), links + body)
