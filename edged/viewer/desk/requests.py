"""Retrieval requests at the desk (design/0073, R5): the clerk files one and follows it, an
approver signs the step it waits for, anyone who may read it prints its application form.
Each page runs one control operation (request.file, request.list, request.show,
request.approve or request.reject); the rules are edged/rules/retrieval.py's, never here."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edged.documents.ethics import ethics_html
from edged.documents.reply import NotPrintable, receipt_html, reply_html
from edged.documents.retrieval import CATEGORY_LABELS, KIND_LABELS, STATE_LABELS, application_html, label
from edged.i18n import N_, _, us
from edged.rules import chains, retrieval as rq
from edged.rules.words import mode_word
from edged.viewer.desk.app import Desk, Refused, form_of, many
from edged.viewer.desk.day import viewing_card
from edged.viewer.desk.exports import export_card
from edged.viewer.desk.holds import Pages as Holds, hold_waits_for
from edged.viewer.desk.redaction_cards import redacted, redaction_card
from edged.viewer.desk.whole_picture import seen_facts, whole_picture_card
from edged.viewer.desk.inspections import Pages as Inspections, waiting_runs
from edged.viewer.desk.paper import application_rows, waiting_applications
from edged.viewer.desk.page import (DONE, DUE, OPEN, REFUSED, WAIT, Ctx, date_input, badge, button, checks, esc, facts,
                                    field_, form, link, message, prefill, radios, select, table, text_input, textarea)

DONE_NOTES = {"filed": N_("The request is filed. The approvers see it in their inbox."),
              "step": N_("Your sign-off is recorded."), "decided": N_("The request is decided."),
              "unredacted": N_("The whole picture is allowed, with your reason on the record.")}
FLAG_LABELS = {"": N_("no flag"), "major": N_("major"), "abnormal": N_("abnormal")}


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/requests", desk.page("request.list", pages.listing))
    r.add_get("/desk/requests/new", desk.page("request.file", pages.new))
    r.add_post("/desk/requests/new", desk.page("request.file", pages.file))
    r.add_get("/desk/inbox", desk.page("request.approve", pages.inbox))
    r.add_get(r"/desk/requests/{id:\d+}", desk.page("request.show", pages.show))
    r.add_post(r"/desk/requests/{id:\d+}/decide", desk.page("request.approve", pages.decide))
    r.add_post(r"/desk/requests/{id:\d+}/unredact", desk.page("request.unredact", pages.unredact))
    r.add_get(r"/desk/requests/{id:\d+}/form", desk.page("request.show", pages.printable))
    r.add_get(r"/desk/requests/{id:\d+}/ethics-report", desk.page("request.show", pages.ethics_report))
    r.add_get(r"/desk/requests/{id:\d+}/reply", desk.page("request.show", pages.reply))
    r.add_get(r"/desk/requests/{id:\d+}/receipt", desk.page("request.show", pages.receipt))


def waiting_for(req: dict[str, Any], ctx: Ctx) -> bool:
    """Whether the request waits for this person's sign-off: the rule `request.approve` applies
    (edged.rules.retrieval.decide), run without writing anything."""
    if req.get("state") != rq.FILED or not ctx.may("request.approve"):
        return False
    try:
        rq.decide(req, approver=ctx.account, approve=True, reason="-", now_us=ctx.now_us, grant_ttl_us=1,
                  approver_scope=ctx.caller.cameras)
    except rq.RequestRuleError:
        return False
    return True


def state_badge(req: dict[str, Any], ctx: Ctx) -> str:
    """The request's state as a word and a colour: waiting for you, due, refused, done."""
    state = req["state"]
    if state == rq.FILED:
        late = bool(req.get("due_us")) and ctx.now_us > req["due_us"]
        if waiting_for(req, ctx):
            return (badge(DUE, _("waiting for you, overdue since {time}").format(time=ctx.when(req["due_us"])))
                    if late else badge(WAIT, _("waiting for you")))
        if late:
            return badge(DUE, _("overdue since {time}").format(time=ctx.when(req["due_us"])))
        nxt = rq.next_step(req)
        return badge(OPEN, _("waiting for {step}").format(step=nxt[1]["name"]) if nxt else _(STATE_LABELS[state]))
    kind = REFUSED if state == rq.REJECTED else DONE if state in (rq.APPROVED, rq.USED) else OPEN
    return badge(kind, label(STATE_LABELS, state))


def due_text(req: dict[str, Any], ctx: Ctx) -> str:
    if not req.get("due_us"):
        return esc("-")
    if req["state"] == rq.FILED:
        return badge(DUE, _("due {time}").format(time=ctx.when(req["due_us"] - 1)))
    return esc(ctx.when(req["due_us"] - 1))


def empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def kind(self, kind: str) -> str:
        """A kind or a category in the site's words ([forms.kinds], [forms.categories]), else edged's."""
        return self.desk.cfg.forms.kinds.get(kind) or label(KIND_LABELS, kind)

    def category(self, category: str) -> str:
        return self.desk.cfg.forms.categories.get(category) or label(CATEGORY_LABELS, category)

    def camera_list(self, ids: list[str]) -> str:
        """Cameras by their names (issue 42 item 2), as the printed forms name them."""
        names = self.desk.camera_names()
        return "、".join(names.get(c) or c for c in ids)

    def cameras(self, ctx: Ctx) -> list[tuple[str, str]]:
        scope = ctx.caller.cameras
        return [(c.id, c.name or c.id) for c in self.desk.cfg.cameras if scope is None or c.id in scope]

    def rows(self, reqs: list[dict[str, Any]], ctx: Ctx) -> str:
        return table([_("No."), _("Filed"), _("Kind"), _("Reason"), _("Cameras"), _("Time range"), _("Requester"),
                      _("Due"), _("State")],
                     [[link(f"/desk/requests/{r['id']}", str(r["id"])), esc(ctx.date(r["filed_us"])),
                       esc(self.kind(r["kind"])), esc(self.category(r["category"])),
                       esc(self.camera_list(r["cameras"])), esc(ctx.span(r['from_us'], r['to_us'])),
                       esc(r.get("requester_name")), due_text(r, ctx), state_badge(r, ctx)] for r in reqs])

    # following ---------------------------------------------------------------------------
    async def listing(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        state = request.query.get("state") or None
        states = [("", _("every state"))] + [(s, _(t)) for s, t in STATE_LABELS.items()]
        filt = ('<form method="get" action="/desk/requests" class="filters">'
                + field_(_("State"), select("state", states, state or "")) + button(_("Show"), cls="quiet") + "</form>")
        reqs = await self.desk.run(ctx, "request.list", {"state": state if state in STATE_LABELS else None})
        title = _("All requests") if ctx.may("request.all") else _("Your requests")
        body = filt + (self.rows(reqs, ctx) if reqs else empty(_("No requests.")))
        return self.desk.render(ctx, title, body)

    async def inbox(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        reqs = await self.desk.run(ctx, "request.list", {"state": rq.FILED})
        mine = [r for r in reqs if waiting_for(r, ctx)]
        mine.sort(key=lambda r: (r.get("due_us") or 1 << 62, r["id"]))  # the soonest due first
        others = [r for r in reqs if r not in mine]
        body = ('<p class="lead">' + esc(_("Requests whose next sign-off is yours, the soonest due first.")) + "</p>"
                + (self.rows(mine, ctx) if mine else empty(_("Nothing waits for your sign-off."))))
        if others:
            body += "<h2>" + esc(_("Waiting for others")) + "</h2>" + self.rows(others, ctx)
        if ctx.may("hold.approve"):
            holds = [h for h in await self.desk.run(ctx, "hold.list", {}) if hold_waits_for(h, ctx)]
            body += "<h2>" + esc(_("Holds waiting for your approval")) + "</h2>" + (
                Holds(self.desk).rows(holds, ctx) if holds else empty(_("No hold waits for your approval.")))
        if ctx.may("inspect.countersign"):
            runs = await waiting_runs(self.desk, ctx)
            body += "<h2>" + esc(_("Inspections waiting for your countersignature")) + "</h2>" + (
                Inspections(self.desk).rows(runs, ctx) if runs else empty(_("No inspection waits for your countersignature.")))
        if ctx.may("account.waiting"):
            apps = await waiting_applications(self.desk, ctx)
            body += "<h2>" + esc(_("Account applications waiting for your signature")) + "</h2>" + (
                application_rows(apps, ctx) if apps else empty(_("No account application waits for your signature.")))
        return self.desk.render(ctx, _("Waiting for you"), body)

    async def show(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        try:
            req = await self.desk.run(ctx, "request.show", {"id": int(request.match_info["id"])})
        except Refused as exc:
            return self.desk.render(ctx, _("Request"), message("error", str(exc)), status=404)
        done = request.query.get("done", "")
        body = message("ok", _(DONE_NOTES[done])) if done in DONE_NOTES else ""
        why = chains.stuck(req)   # design/0102: why nobody can finish it, and who can close it
        body += (message("error", chains.stuck_text(why, ctx.who)) if why else "") + self.details(req, ctx) + self.chain(req, ctx)
        if waiting_for(req, ctx):
            body += self.decision_form(req, ctx)
        body += whole_picture_card(req, ctx, self.desk)   # design/0276
        body += (redaction_card(req, ctx, self.desk) if redacted(req, self.desk)   # design/0232
                 else viewing_card(req, ctx) + export_card(req, ctx))
        printed = link(f"/desk/requests/{req['id']}/form", _("Print the application form"), "button")
        how = _("Opens the printed form; print it on A4 with the browser (Ctrl+P).")
        if req.get("flag"):  # design/0083: the report the managing unit hands to the ethics office
            printed += " " + link(f"/desk/requests/{req['id']}/ethics-report", _("Print the report to the ethics "
                                                                                  "office"), "button")
        if req["state"] != rq.FILED and (req["state"] == rq.REJECTED or req.get("grant")):  # design/0089
            printed += " " + link(f"/desk/requests/{req['id']}/reply", _("Print the answer to the applicant"),
                                  "button")
        if req["mode"] == "copy" and req.get("grant"):
            printed += " " + link(f"/desk/requests/{req['id']}/receipt", _("Print the receipt"), "button")
        body += f'<p class="actions">{printed} <span class="hint">{esc(how)}</span></p>'
        return self.desk.render(ctx, _("Request {id}").format(id=req["id"]), body)

    def details(self, r: dict[str, Any], ctx: Ctx) -> str:
        g = r.get("grant")
        grant = "-"
        if g:
            grant = _("grant {id} ({mode}), valid once until {time}").format(
                id=g["id"], mode=mode_word(g["mode"]), time=ctx.when(g["expires_us"]))
            grant += _("; ") + (_("used {time} by {by}").format(time=ctx.when(g["used_us"]), by=ctx.who(g["used_by"]))
                             if g.get("used_us") else _("not used yet"))
        requester = " / ".join(x for x in (r.get("requester_name"), r.get("requester_org"), r.get("requester_contact"))
                               if x)
        return facts([(_("State"), state_badge(r, ctx)), (_("Kind"), esc(self.kind(r["kind"]))),
                      (_("Reason"), esc(_("{category}: {reason}").format(category=self.category(r['category']), reason=r.get('reason') or ''))),
                      *([(_("Use of the footage"), esc(r["purpose"]))] if r.get("purpose") else []),
                      (_("Cameras"), esc(self.camera_list(r["cameras"]))),
                      (_("Time range"), esc(ctx.span(r['from_us'], r['to_us']))),
                      (_("Footage wanted"), esc(mode_word(r["mode"]))), *seen_facts(r, ctx, self.desk),
                      (_("Requester"), esc(requester)), (_("Official letter"), esc(r.get("letter_ref"))),
                      (_("ID number (masked)"), esc(r.get("citizen_id_masked"))),
                      (_("Filed"), esc(_("{time} by {by}").format(time=ctx.when(r["filed_us"]), by=ctx.who(r["filed_by"])))),
                      (_("Answer due by"), due_text(r, ctx)), (_("Grant"), esc(grant))])

    def chain(self, r: dict[str, Any], ctx: Ctx) -> str:
        """Every sign-off of the chain: who signed and when, or who may still."""
        chain = r.get("chain") or rq.ONE_STEP
        steps = rq.steps_signed(r)
        rows = []
        for i, step in enumerate(chain):
            done = next((s for s in steps if s["step"] == i), None)
            if done is not None:
                state = badge(DONE, _("approved")) if done["approve"] else badge(REFUSED, _("rejected"))
                rows.append([esc(i + 1), esc(step["name"]), esc(ctx.who(done["by"])), esc(ctx.when(done["at_us"])), state,
                             esc(done.get("reason"))])
            else:
                who = ctx.whom(step["approvers"]) if step.get("approvers") else _("any approver")
                waits = r["state"] == rq.FILED and i == len(steps)
                state = (badge(WAIT, _("waiting for you")) if waits and waiting_for(r, ctx) else
                         badge(OPEN, _("waiting for {who}").format(who=who)) if waits else esc("-"))
                rows.append([esc(i + 1), esc(step["name"]), esc("-"), esc("-"), state, esc("")])
        return ("<h2>" + esc(_("Sign-offs")) + "</h2>"
                + table([_("Step"), _("Sign-off"), _("Name"), _("Time"), _("Decision"), _("Remarks")], rows))

    def decision_form(self, r: dict[str, Any], ctx: Ctx, error: str = "", reason: str = "") -> str:
        nxt = rq.next_step(r)
        step = nxt[1]["name"] if nxt else ""
        body = (field_(_("Reason"), textarea("reason", reason, required=True),
                       _("Necessity and relevance checked: what you write is on the record."), wide=True)
                + '<div class="buttons">' + button(_("Approve"), "decision", "approve")
                + button(_("Reject"), "decision", "reject", "danger") + "</div>")
        heading = _("Your sign-off: {step}").format(step=step)
        return (f'<section class="card decide" id="decide"><h2>{esc(heading)}</h2>'
                + (message("error", error) if error else "")
                + form(ctx, f"/desk/requests/{r['id']}/decide", body) + "</section>")

    async def decide(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        fields = form_of(request)
        request_id = int(request.match_info["id"])
        op = "request.reject" if fields.get("decision") == "reject" else "request.approve"
        try:
            req = await self.desk.run(ctx, op, {"id": request_id, "reason": str(fields.get("reason") or "")})
        except Refused as exc:
            req = await self.desk.run(ctx, "request.show", {"id": request_id})
            body = self.details(req, ctx) + self.chain(req, ctx) + self.decision_form(
                req, ctx, str(exc), str(fields.get("reason") or ""))
            return self.desk.render(ctx, _("Request {id}").format(id=request_id), body, status=422)
        raise web.HTTPSeeOther(f"/desk/requests/{req['id']}?done={'step' if req['state'] == rq.FILED else 'decided'}")

    async def unredact(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """An approver allows a citizen the whole picture with a reason (`request.unredact`, design/0276)."""
        request_id, reason = int(request.match_info["id"]), str(form_of(request).get("reason") or "")
        try:
            await self.desk.run(ctx, "request.unredact", {"id": request_id, "reason": reason})
        except Refused as exc:
            try:
                req = await self.desk.run(ctx, "request.show", {"id": request_id})
            except Refused:
                return self.desk.render(ctx, _("Request"), message("error", str(exc)), status=404)
            body = self.details(req, ctx) + whole_picture_card(req, ctx, self.desk, str(exc), reason)
            return self.desk.render(ctx, _("Request {id}").format(id=request_id), body, status=422)
        raise web.HTTPSeeOther(f"/desk/requests/{request_id}?done=unredacted")

    async def ethics_report(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """A flagged request's report to the ethics office: `edgectl request ethics-report`'s page."""
        return await self.printable(request, ctx, ethics_html)

    async def reply(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The answer to the applicant (design/0089): `edgectl request reply`'s page."""
        return await self.printable(request, ctx, reply_html)

    async def receipt(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The receipt for a copy, with the fee where the site charges one: `edgectl request receipt`'s page."""
        return await self.printable(request, ctx, receipt_html)

    async def printable(self, request: web.Request, ctx: Ctx, render: Any = application_html) -> web.StreamResponse:
        """The application form and its approval record: the renderer edgectl's `request form` uses."""
        try:
            req = await self.desk.run(ctx, "request.show", {"id": int(request.match_info["id"])})
        except Refused as exc:
            return self.desk.render(ctx, _("Request"), message("error", str(exc)), status=404)
        try:
            return self.desk.printed(ctx, lambda doc: render(doc, req, self.desk.camera_names(), ctx.now_us))
        except NotPrintable as exc:
            return self.desk.render(ctx, _("Request {id}").format(id=req["id"]), message("error", str(exc)),
                                    status=422)

    # filing ------------------------------------------------------------------------------
    def filing_form(self, ctx: Ctx, f: dict[str, Any], error: str = "") -> str:
        policy = self.desk.cfg.policy
        kinds = [(k, self.kind(k)) for k in policy.kinds]
        cats = [(c, self.category(c)) for c in policy.categories]
        hour = 3_600_000_000
        start = ctx.input_time(ctx.now_us - 2 * hour) if "from" not in f else str(f["from"])
        end = ctx.input_time(ctx.now_us - hour) if "to" not in f else str(f["to"])
        body = (
            '<fieldset class="group"><legend>' + esc(_("What is asked")) + "</legend>"
            + field_(_("Kind of requester"), select("kind", kinds, str(f.get("kind") or ""), required=True))
            + field_(_("Reason category"), select("category", cats, str(f.get("category") or ""), required=True))
            + field_(_("Reason"), textarea("reason", str(f.get("reason") or ""), required=True),
                     _("Why the footage is needed"), wide=True)
            + (field_(_("Use of the footage"), textarea("purpose", str(f.get("purpose") or ""), required=True),
                      _("What the footage is for, as {us}'s rule asks").format(us=us()), wide=True)
               if self.desk.cfg.policy.asks_purpose else "")
            + checks("cameras", self.cameras(ctx), many(f, "cameras"), _("Cameras"))
            + field_(_("From"), date_input(ctx, "from", start, required=True))
            + field_(_("To"), date_input(ctx, "to", end, required=True))
            + self.modes(f) + "</fieldset>"
            + '<fieldset class="group"><legend>' + esc(_("Who asks")) + "</legend>"
            + field_(_("Requester"), text_input("requester", str(f.get("requester") or ""), required=True))
            + self.unit(f)
            + field_(_("Contact"), text_input("contact", str(f.get("contact") or "")))
            + field_(_("Official letter"), text_input("letter", str(f.get("letter") or "")),
                     _("official letter or case reference (agency, police)"))
            + field_(_("ID number"), text_input("id_number", "", extra='autocomplete="off" data-nokeep'),
                     _("a citizen's ID number: kept masked and hashed"))
            + '<label class="check wide"><input type="checkbox" name="identity_checked" value="1"'
            + (" checked" if f.get("identity_checked") else "") + "> " + esc(_("the ID document was checked")) + "</label>"
            + field_(_("Flag"), select("flag", [(k, _(v)) for k, v in FLAG_LABELS.items()], str(f.get("flag") or "")),
                     _("a major or abnormal request: the ethics office is alerted"))
            + field_(_("Flag note"), text_input("flag_note", str(f.get("flag_note") or ""))) + "</fieldset>"
            + '<div class="buttons">' + button(_("File the request")) + "</div>")
        return (message("error", error) if error else "") + form(ctx, "/desk/requests/new", body, cls="wide-form")

    def modes(self, f: dict[str, Any]) -> str:
        """Copy is offered only where a kind of this site may copy, and the kinds that may only view
        are named beside it (issue 42 item 4): nobody sends a request the rules refuse."""
        kinds = self.desk.cfg.policy.kinds
        copying = [k for k, rules in kinds.items() if rq.COPY in rules.modes]
        if not copying:
            return radios("mode", [("view", mode_word("view"))], "view", _("Footage wanted"))
        viewing = [self.kind(k) for k in kinds if k not in copying]
        note = _("Only viewing for: {kinds}").format(kinds=_(", ").join(viewing)) if viewing else ""
        return radios("mode", [("view", mode_word("view")), ("copy", mode_word("copy"))], str(f.get("mode") or "view"),
                      _("Footage wanted"), note)

    def unit(self, f: dict[str, Any]) -> str:
        """The requester's unit as one of the site's units (a list to choose from; an agency's name
        is typed), so it matches the rules' spelling (issue 42 item 4)."""
        units = list(self.desk.cfg.policy.units)
        if not units:
            return field_(_("Unit or agency"), text_input("org", str(f.get("org") or "")))
        options = "".join(f'<option value="{esc(u)}"></option>' for u in units)
        return field_(_("Unit or agency"), text_input("org", str(f.get("org") or ""), extra='list="f-units"')
                      + f'<datalist id="f-units">{options}</datalist>',
                      _("staff: choose their unit from the list ({units}); an agency: its name").format(
                          units=_(", ").join(units)))

    async def new(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return self.desk.render(ctx, _("File a request"), self.filing_form(ctx, prefill(request.query)))

    async def file(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        from_us, to_us = ctx.parse_time(str(f.get("from") or "")), ctx.parse_time(str(f.get("to") or ""))
        if from_us is None or to_us is None:
            return self.desk.render(ctx, _("File a request"), self.filing_form(
                ctx, f, _("give the time range as a date and a time")), status=422)
        args = {"kind": f.get("kind"), "category": f.get("category"), "reason": f.get("reason"),
                "cameras": many(f, "cameras"), "from_us": from_us, "to_us": to_us,
                "mode": "copy" if f.get("mode") == "copy" else "view", "requester_name": f.get("requester"),
                "requester_org": f.get("org") or None, "requester_contact": f.get("contact") or None,
                "letter_ref": f.get("letter") or None, "id_number": f.get("id_number") or None,
                "identity_checked": bool(f.get("identity_checked")), "flag": f.get("flag") or None,
                "flag_note": f.get("flag_note") or None, "purpose": f.get("purpose") or None}
        try:
            row = await self.desk.run(ctx, "request.file", args)
        except Refused as exc:
            return self.desk.render(ctx, _("File a request"), self.filing_form(ctx, f, str(exc)), status=422)
        raise web.HTTPSeeOther(f"/desk/requests/{row['id']}?done=filed")
