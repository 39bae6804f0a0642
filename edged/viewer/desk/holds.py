"""Holds at the desk (design/0073, R6): the custodian places, extends and releases them, an
approver approves or rejects one that waits (the site's [policy.holds]). Each page runs one
control operation (hold.list, hold.show, hold.add, hold.approve, hold.reject, hold.extend,
hold.release); the rules are edged/rules/holds.py's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edged.i18n import N_, _, us
from edged.rules import holds as rules
from edged.viewer.desk.app import Desk, Refused, form_of, many
from edged.viewer.desk.paper import print_links
from edged.viewer.desk.page import (DONE, OPEN, REFUSED, WAIT, Ctx, date_input, badge, button, checks, esc, facts, field_, form,
                                    link, message, prefill, select, table, text_input, textarea)

KIND_LABELS = {"evidence": N_("evidence hold"), "legal": N_("legal hold")}
ENDED_LABELS = {"released": N_("released"), "expired": N_("expired"), "rejected": N_("rejected"),
                "lapsed": N_("lapsed unapproved")}
DONE_NOTES = {"placed": N_("The hold is placed."), "decided": N_("Your decision is recorded."),
              "extended": N_("The hold is extended."), "released": N_("The hold is released.")}


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/holds", desk.page("hold.list", pages.listing))
    r.add_get("/desk/holds/new", desk.page("hold.add", pages.new))
    r.add_post("/desk/holds/new", desk.page("hold.add", pages.place))
    r.add_get(r"/desk/holds/{id:\d+}", desk.page("hold.show", pages.show))
    r.add_post(r"/desk/holds/{id:\d+}/decide", desk.page("hold.approve", pages.decide))
    r.add_post(r"/desk/holds/{id:\d+}/extend", desk.page("hold.extend", pages.extend))
    r.add_post(r"/desk/holds/{id:\d+}/release", desk.page("hold.release", pages.release))


def hold_waits_for(h: dict[str, Any], ctx: Ctx) -> bool:
    """Whether this approver may decide the hold now: the rule hold.approve applies, run without writing."""
    if not ctx.may("hold.approve"):
        return False
    try:
        rules.deciding(h, approver=ctx.account, approve=True, reason="-", now_us=ctx.now_us)
    except rules.HoldRuleError:
        return False
    return True


def hold_state(h: dict[str, Any], ctx: Ctx) -> str:
    if h.get("ended_us"):
        how = h.get("ended_how") or ""
        return badge(REFUSED if how == "rejected" else OPEN, _(ENDED_LABELS[how]) if how in ENDED_LABELS else how)
    if h.get("state") == "pending":
        return badge(WAIT, _("waiting for you")) if hold_waits_for(h, ctx) else badge(OPEN, _("waiting for an approver"))
    return badge(DONE, _("in force until {time}").format(time=ctx.when(h["expires_us"])) if h.get("expires_us")
                 else _("in force, no end"))


def kind_label(kind: str) -> str:
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def cameras_of(h: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """The hold's cameras by their names (issue 42 item 2)."""
    return "、".join((names or {}).get(c) or c for c in h["cameras"]) if h.get("cameras") else _("every camera")


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def rows(self, holds: list[dict[str, Any]], ctx: Ctx) -> str:
        return table([_("No."), _("Kind"), _("Cameras"), _("Time range"), _("Reason"), _("Placed"), _("State")],
                     [[link(f"/desk/holds/{h['id']}", str(h["id"])), esc(kind_label(h["kind"])), esc(cameras_of(h, self.desk.camera_names())),
                       esc(ctx.span(h['from_us'], h['to_us'])), esc(h.get("reason")),
                       esc(_("{time} by {by}").format(time=ctx.date(h["placed_us"]), by=ctx.who(h["placed_by"]))),
                       hold_state(h, ctx)] for h in holds])

    async def listing(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        everything = request.query.get("all") == "1"
        holds = await self.desk.run(ctx, "hold.list", {"all": everything})
        body = '<p class="actions">'
        if ctx.may("hold.add"):
            body += link("/desk/holds/new", _("Place a hold"), "button") + " "
        body += link("/desk/holds" if everything else "/desk/holds?all=1",
                     _("Only those in force") if everything else _("With ended holds")) + "</p>"
        body += self.rows(list(reversed(holds)), ctx) if holds else '<p class="empty">' + esc(_("No holds.")) + "</p>"
        return self.desk.render(ctx, _("Holds"), body)

    async def show(self, request: web.Request, ctx: Ctx, error: str = "") -> web.StreamResponse:
        hold_id = int(request.match_info["id"])
        try:
            h = await self.desk.run(ctx, "hold.show", {"id": hold_id})
        except Refused as exc:
            return self.desk.render(ctx, _("Hold {id}").format(id=hold_id), message("error", str(exc)), status=404)
        done = request.query.get("done", "")
        body = message("ok", _(DONE_NOTES[done])) if done in DONE_NOTES else ""
        body += message("error", error) if error else ""
        ended = h.get("ended_us")
        body += facts([(_("State"), hold_state(h, ctx)), (_("Kind"), esc(kind_label(h["kind"]))),
                       (_("Cameras"), esc(cameras_of(h, self.desk.camera_names()))),
                       (_("Time range"), esc(ctx.span(h['from_us'], h['to_us']))),
                       (_("Reason"), esc(h.get("reason"))), (_("Case reference"), esc(h.get("case_ref"))),
                       (_("Placed"), esc(_("{time} by {by}").format(time=ctx.when(h["placed_us"]), by=ctx.who(h["placed_by"])))),
                       (_("Approved by"), esc(ctx.who(h.get("decided_by") or h.get("approved_by")))),
                       (_("Footage kept"), esc(_("{n} segments").format(n=h.get("segments", 0)))),
                       (_("Ended"), esc(_("{time} by {by}: {reason}").format(
                           time=ctx.when(ended), by=ctx.who(h.get("ended_by") or "edged"), reason=h.get("end_reason") or "")
                           if ended else "-"))])
        body += print_links([(f"/desk/holds/{hold_id}/form", _("Print the preservation request and its approval"))])
        if not ended:
            if hold_waits_for(h, ctx):
                body += self.card(ctx, hold_id, "decide", _("Your decision"), field_(
                    _("Reason"), textarea("reason"), _("needed to reject"), wide=True)
                    + '<div class="buttons">' + button(_("Approve"), "decision", "approve")
                    + button(_("Reject"), "decision", "reject", "danger") + "</div>")
            if self.may_extend(h, ctx):
                body += self.card(ctx, hold_id, "extend", _("Extend the hold"), field_(
                    _("Until"), date_input(ctx, "until", ctx.input_time(h.get("expires_us")),
                                           required=True))
                    + field_(_("Reason"), textarea("reason", required=True), wide=True) + button(_("Extend")))
            if ctx.may(f"hold.release.{h['kind']}"):
                body += self.card(ctx, hold_id, "release", _("Release the hold"), field_(
                    _("Reason"), textarea("reason", required=True), _("the footage then ages out as usual"), wide=True)
                    + button(_("Release"), cls="danger"))
        return self.desk.render(ctx, _("Hold {id}").format(id=hold_id), body)

    def may_extend(self, h: dict[str, Any], ctx: Ctx) -> bool:
        """The rule hold.extend applies ([policy.holds.evidence] extend_by, not the placer), run
        without writing, for an extension a moment past the hold's end."""
        if not ctx.may("hold.extend"):
            return False
        try:
            rules.extending(self.desk.cfg.policy.holds, h, by=ctx.account, roles=ctx.caller.roles,
                            expires_us=max(ctx.now_us, h.get("expires_us") or 0) + 1, now_us=ctx.now_us)
        except rules.HoldRuleError:
            return False
        return True

    def card(self, ctx: Ctx, hold_id: int, verb: str, title: str, body: str) -> str:
        return (f'<section class="card" id="{verb}"><h2>{esc(title)}</h2>'
                + form(ctx, f"/desk/holds/{hold_id}/{verb}", body) + "</section>")

    async def _act(self, request: web.Request, ctx: Ctx, op: str, args: dict[str, Any], done: str
                   ) -> web.StreamResponse:
        hold_id = int(request.match_info["id"])
        try:
            await self.desk.run(ctx, op, {"id": hold_id, **args})
        except Refused as exc:
            return await self.show(request, ctx, str(exc))
        raise web.HTTPSeeOther(f"/desk/holds/{hold_id}?done={done}")

    async def decide(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        op = "hold.reject" if f.get("decision") == "reject" else "hold.approve"
        return await self._act(request, ctx, op, {"reason": str(f.get("reason") or "")}, "decided")

    async def extend(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        until = ctx.parse_time(str(f.get("until") or ""))
        if until is None:
            return await self.show(request, ctx, _("give the time range as a date and a time"))
        return await self._act(request, ctx, "hold.extend", {"expires_us": until, "reason": str(f.get("reason") or "")},
                               "extended")

    async def release(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        return await self._act(request, ctx, "hold.release", {"reason": str(f.get("reason") or "")}, "released")

    # placing one -----------------------------------------------------------------------------
    def placing_form(self, ctx: Ctx, f: dict[str, Any], error: str = "") -> str:
        scope = ctx.caller.cameras
        cams = [(c.id, c.name or c.id) for c in self.desk.cfg.cameras if scope is None or c.id in scope]
        hour = 3_600_000_000
        policy = self.desk.cfg.policy.holds   # issue 42 item 4: only the kinds this person may place
        kinds = [(k, _(v)) for k, v in KIND_LABELS.items() if not policy.of(k).placed_by.isdisjoint(ctx.caller.roles)]
        body = ('<fieldset class="group"><legend>' + esc(_("What to keep")) + "</legend>"
                + field_(_("Kind"), select("kind", kinds, str(f.get("kind") or "evidence")))
                + checks("cameras", cams, many(f, "cameras"), _("Cameras"))
                + field_(_("From"), date_input(ctx, "from", str(f.get("from") or ctx.input_time(ctx.now_us - 2 * hour)),
                                               required=True))
                + field_(_("To"), date_input(ctx, "to", str(f.get("to") or ctx.input_time(ctx.now_us - hour)),
                                             required=True))
                + field_(_("Reason"), textarea("reason", str(f.get("reason") or ""), required=True), wide=True)
                + field_(_("Case reference"), text_input("case_ref", str(f.get("case_ref") or "")))
                + self.expiry(ctx, f) + "</fieldset>" + '<div class="buttons">' + button(_("Place the hold")) + "</div>")
        return (message("error", error) if error else "") + form(ctx, "/desk/holds/new", body, cls="wide-form")

    def expiry(self, ctx: Ctx, f: dict[str, Any]) -> str:
        """An evidence hold's end, within the site's bounds ([policy.holds.evidence] max; 004: at
        most 30 days), offered as the default the site sets; a legal hold has none."""
        cfg = self.desk.cfg
        if not cfg.policy.holds.evidence.term:   # the site's rule sets no term: none is asked (issue 56)
            return field_(_("Keep until"), '<p class="hint">' + esc(_("until released: {us}'s rule sets no term").format(us=us()))
                          + "</p>")
        longest = cfg.policy.holds.evidence.max_us
        default = cfg.retention.evidence_hold_us if longest is None else min(longest, cfg.retention.evidence_hold_us)
        bounds = f'data-max="{ctx.input_time(ctx.now_us + longest)}"' if longest else ""
        hint = (_("an evidence hold: at most {longest} from now; a legal hold keeps footage until released").format(
            longest=rules.longest(cfg.policy.holds.evidence)) if longest else _("an evidence hold only; a legal hold keeps footage "
                                                                   "until released"))
        return field_(_("Keep until"), date_input(ctx, "until", str(f.get("until") or ctx.input_time(ctx.now_us + default)),
                                                  extra=bounds), hint)

    async def new(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return self.desk.render(ctx, _("Place a hold"), self.placing_form(ctx, prefill(request.query)))

    async def place(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        from_us, to_us = ctx.parse_time(str(f.get("from") or "")), ctx.parse_time(str(f.get("to") or ""))
        if from_us is None or to_us is None:
            return self.desk.render(ctx, _("Place a hold"), self.placing_form(
                ctx, f, _("give the time range as a date and a time")), status=422)
        args = {"kind": f.get("kind") or "evidence", "cameras": many(f, "cameras") or None, "from_us": from_us,
                "to_us": to_us, "reason": str(f.get("reason") or ""), "case_ref": str(f.get("case_ref") or "")}
        until = ctx.parse_time(str(f.get("until") or ""))
        if until is not None and args["kind"] == "evidence":
            args["expires_us"] = until
        try:
            row = await self.desk.run(ctx, "hold.add", args)
        except Refused as exc:
            return self.desk.render(ctx, _("Place a hold"), self.placing_form(ctx, f, str(exc)), status=422)
        raise web.HTTPSeeOther(f"/desk/holds/{row['id']}?done=placed")
