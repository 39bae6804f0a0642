"""The cameras' state and the open alarms at the desk (design/0073, R2, R3.3): read-only, the
answers of the `cameras` and `alarms` operations (`edgectl cameras`, `edgectl alarms`), each
narrowed to the cameras of the account's scope (R4.2); an alarm about the box as a whole (its
disk, its clock) is shown to everyone who reads the page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edged.alarm_titles import title
from edged.i18n import N_, _
from edged.viewer.desk.app import Desk
from edged.viewer.desk.page import DONE, DUE, OPEN, REFUSED, WAIT, Ctx, badge, esc, table
from storage.alarm_kinds import CRITICAL, INFO, WARNING
from storage.states.cameras import CONNECTING, DEGRADED, DISABLED, OFFLINE, RECORDING, STOPPED

# the words edgectl shows for a camera's state (edged/cli/edgectl.py), with the desk's colour
STATES = {RECORDING: (DONE, N_("recording")), CONNECTING: (WAIT, N_("connecting")),
          DEGRADED: (DUE, N_("DEGRADED")), OFFLINE: (REFUSED, N_("OFFLINE")), STOPPED: (OPEN, N_("stopped")),
          DISABLED: (OPEN, N_("disabled"))}
SEVERITY = {CRITICAL: (REFUSED, N_("critical")), WARNING: (DUE, N_("warning")), INFO: (OPEN, N_("notice"))}
CONTINUOUS = "continuous"
MODES = {"live": N_("live view only, not recorded"), "motion": N_("recorded on motion"),
         CONTINUOUS: N_("recorded all the time")}


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    r.add_get("/desk/cameras", desk.page("cameras", Pages(desk).listing))


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
    if found:
        return "<br>".join(f"{esc(title(kind))}: {said(text)}" for kind, text in found.items())
    reasons = cam.get("compliance_reasons") or []
    return (esc(_("Below the site's quality floor.")) + said("; ".join(reasons))) if reasons else esc("")


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

    async def listing(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        reply = await self.desk.run(ctx, "cameras", {})
        cams = [c for c in reply["cameras"] if in_scope(c["id"], ctx)]
        alarms = [a for a in await self.desk.run(ctx, "alarms", {}) if in_scope(a.get("camera"), ctx)]
        rows = []
        for c in cams:
            live = c["state"] in (RECORDING, DEGRADED)
            figures = (f"{c['width']}×{c['height']}" if c.get("width") else "-") + (
                ", " + _("{fps} frames a second").format(fps=f"{c['fps']:.1f}") if live and c.get("fps") is not None
                else "")
            rows.append([esc(f"{c['name']} ({c['id']})"), state_of(c), esc(ctx.when(c.get("state_since_us"))),
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
                            esc(title(a["kind"])), esc(a.get("camera")), esc(ctx.when(a["raised_us"])),
                            said(a.get("text") or a.get("message"))] for a in reversed(alarms)])
        else:
            body += '<p class="empty">' + badge(DONE, _("No open alarm.")) + "</p>"
        return self.desk.render(ctx, _("Cameras and alarms"), body)
