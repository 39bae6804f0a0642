"""The auditor's pages at the desk (design/0073, R7): the audit log with filters (`audit.list`,
as `edgectl audit list`), the check of the chain (`audit.verify`) and the periodic report
printed (`audit.report`, the page `edgectl audit report --out` writes), and the periodic audit
recorded as done (`audit.report` with `done`, as `edgectl audit report --done`). Reading the log is the
auditor's alone; checking the chain is anyone's, as on the control socket. The usage register
(`usage.register`, design/0089) is the custodian's as well as the approver's and the auditor's."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from edged.documents.audit import audit_report_html
from edged.documents.pages import ACTIONS as APPLICATION_ACTIONS
from edged.documents.usage import usage_html
from edged.documents.register import RUN_LABELS
from edged.documents.retrieval import CATEGORY_LABELS, label
from edged.i18n import _
from edged.rules import audit_words as said
from edged.rules.words import HOLD_WORDS, KIND_WORDS, MODE_WORDS, REDACT_WORDS, ROLE_WORDS, listed, mode_word, word
from edged.viewer.desk.app import Desk, Refused
from edged.viewer.desk.page import (DONE, REFUSED, Ctx, date_input, badge, button, esc, facts, field_, form, link,
                                    message, select, table, text_input, textarea)

QUARTER_US = 92 * 86_400_000_000  # the report's period by default: the last three months
MONTH_US = 31 * 86_400_000_000    # the usage register's: the last month

LIMITS = ("50", "200", "1000")


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/audit", desk.page("audit.list", pages.listing))
    r.add_post("/desk/audit/verify", desk.page("audit.verify", pages.verify))
    r.add_get("/desk/audit/report", desk.page("audit.report", pages.report))
    r.add_post("/desk/audit/done", desk.page("audit.report", pages.done))
    r.add_get("/desk/usage", desk.page("usage.register", pages.usage_form))
    r.add_get("/desk/usage/register", desk.page("usage.register", pages.usage))


def done_form(ctx: Ctx) -> str:
    """The periodic audit recorded as done: its period, who audited (this person by default), a note."""
    return ('<section class="card" id="done"><h2>' + esc(_("Record the audit as done")) + "</h2>"
            + form(ctx, "/desk/audit/done",
                   field_(_("From"), date_input(ctx, "from", ctx.input_time(ctx.now_us - QUARTER_US), required=True))
                   + field_(_("To"), date_input(ctx, "to", ctx.input_time(ctx.now_us), required=True))
                   + field_(_("Audited by"), text_input("name", ctx.own_name(), required=True))
                   + field_(_("Note"), textarea("note"), wide=True)
                   + button(_("Record the audit as done")), cls="filters") + "</section>")


def code(value: object, cls: str = "") -> str:
    """A record's own words (actor, action, detail): shown as written, never translated."""
    return f'<code translate="no" class="{cls}">{esc(value)}</code>'


def raw_record(r: dict[str, Any]) -> str:
    """The record as the chain keeps it (actor, action key, JSON detail), one click away; a long
    one (design/0091) as its start and its length, not whole."""
    cut = r.get("detail_cut")
    if cut:
        detail = code(cut["start"] + "…", "detail") + " " + esc(
            _("({n} characters; the export has the record whole)").format(n=cut["chars"]))
    else:
        detail = code(json.dumps(r["detail"], ensure_ascii=False, sort_keys=True), "detail")
    summary = _("The record as written")
    return (f'<details class="tech"><summary>{esc(summary)}</summary>'
            f'{code(r["actor"])} {code(r["action"])} {detail}</details>')


PEOPLE = ("account", "actor", "approver", "custodian", "by", "placed_by", "set_by", "recorded_by", "attended_by",
          "signed_by")


def value(key: str, v: object, ctx: Ctx, cams: dict[str, str], cats: dict[str, str]) -> str:
    """A detail's value in words: people by name, cameras by name, times in the site's zone,
    ids of kinds, modes and roles in the office's words; anything else as written."""
    if isinstance(v, bool):
        return _(said.YES) if v else _(said.NO)
    if key == "duration_us" and isinstance(v, int):
        return _("{s} s").format(s=round(v / 1e6))
    if key.endswith("_us") and isinstance(v, int):
        return ctx.when(v)
    if key in PEOPLE and isinstance(v, str):
        return ctx.who(v)
    if (key == "approvers" or key in PEOPLE) and isinstance(v, list):   # set_by: who set a password, a list
        return ctx.whom(str(x) for x in v)
    if key == "anomalies" and isinstance(v, dict):   # camera -> the health texts (English, design/0067)
        return "、".join(cams.get(str(c), str(c)) for c in v)
    if key == "cameras" and isinstance(v, int):   # an inspection's: how many it looked at (issue 56)
        return _("{n} cameras").format(n=v)
    if key in ("cameras", "camera"):
        return "、".join(cams.get(str(c), str(c)) for c in (v if isinstance(v, list) else [v]))
    if key == "roles" and isinstance(v, list):
        return listed(ROLE_WORDS, [str(x) for x in v])
    if key == "kind" and isinstance(v, str):
        return cats.get(v) or word({**KIND_WORDS, **HOLD_WORDS, **RUN_LABELS}, v)
    if key == "mode" and isinstance(v, str):
        return mode_word(v) if v in MODE_WORDS else word(REDACT_WORDS, v)
    if key == "action" and isinstance(v, str) and v in APPLICATION_ACTIONS:   # account.sign: the application's kind
        return _(APPLICATION_ACTIONS[v])
    if key == "category" and isinstance(v, str):
        return cats.get(v) or label(CATEGORY_LABELS, v)
    if key == "via" and isinstance(v, str):   # "edgectl (os: root)": the OS user is in the record
        return word(said.VIA_WORDS, v.split(" (", 1)[0])
    if key in ("reason", "why") and isinstance(v, str):
        return said.stored(v)
    if key == "watcher" and isinstance(v, str) and v.startswith("request "):   # the chain points to the request
        return _("the person named in request {id}").format(id=v.removeprefix("request "))
    if isinstance(v, list):
        return "、".join(str(x) for x in v)
    return json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v)


def typed(key: str, html: str) -> str:
    """What a person typed (a reason, a note) is data, as they wrote it: never marked for translation."""
    return f'<span translate="no">{html}</span>' if key in ("reason", "why", "note") else html


def detail_cell(r: dict[str, Any], ctx: Ctx, cams: dict[str, str], cats: dict[str, str]) -> str:
    """The record's details as labelled fields in words, then the raw record behind a click."""
    shown, more = said.fields(r.get("detail"))
    pairs = [(k, typed(key, esc(value(key, r["detail"][key], ctx, cams, cats)))) for k, key in shown]
    hint = _("{n} more in the record").format(n=more)
    note = f'<p class="hint">{esc(hint)}</p>' if more else ""
    return (facts(pairs) if pairs else "") + note + raw_record(r)


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    async def listing(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        q = request.query
        action, actor = q.get("action", "").strip(), q.get("actor", "").strip()
        since = ctx.parse_time(q.get("from", "")) if q.get("from") else None
        limit = q.get("limit", "") if q.get("limit") in LIMITS else LIMITS[1]
        before = int(q["before"]) if q.get("before", "").isdigit() else None  # a page further back
        rows = await self.desk.run(ctx, "audit.list", {"action": action or None, "from_us": since,
                                                       "limit": int(limit), "before_seq": before})
        older = rows[0]["seq"] if len(rows) == int(limit) else None  # before the actor is narrowed here
        if actor:  # the operation filters by action and time; the actor is narrowed here, on the page
            rows = [r for r in rows if r["actor"] == actor or str(r["actor"]).startswith(actor + " (")]
        filters = ('<form method="get" action="/desk/audit" class="filters">'
                   + field_(_("Action"), text_input("action", action), _("an action and its sub-actions, as the record writes it"))
                   + field_(_("Actor"), text_input("actor", actor))
                   + field_(_("From"), date_input(ctx, "from", q.get("from", "")))
                   + field_(_("Records"), select("limit", [(n, n) for n in LIMITS], limit))
                   + button(_("Show"), cls="quiet") + "</form>")
        forms = self.desk.cfg.forms   # the site's own words for its kinds and reason categories
        cams, cats = self.desk.camera_names(), {**forms.kinds, **forms.categories}
        body = filters + table(   # the ethics officer's reading: words first, the record one click away
            [_("No."), _("Time"), _("Who"), _("What"), _("Details")],
            [[esc(r["seq"]), esc(ctx.when(r["at_us"])), esc(ctx.who(r["actor"])), esc(said.action_words(r["action"])),
              detail_cell(r, ctx, cams, cats)]
             for r in reversed(rows)], caption=_("{n} records, the newest first").format(n=len(rows)))
        if older is not None:
            keep = {k: v for k, v in q.items() if k != "before" and v}
            body += '<p class="actions">' + link("/desk/audit?" + urlencode({**keep, "before": older}),
                                                 _("Older records")) + "</p>"
        body += form(ctx, "/desk/audit/verify", button(_("Check the chain"), cls="quiet"), cls="actions")
        if ctx.may("audit.report"):
            body += ('<section class="card" id="report"><h2>' + esc(_("Print the audit report")) + "</h2>"
                     '<form method="get" action="/desk/audit/report" class="filters">'
                     + field_(_("From"), date_input(ctx, "from", ctx.input_time(ctx.now_us - QUARTER_US), required=True))
                     + field_(_("To"), date_input(ctx, "to", ctx.input_time(ctx.now_us),
                                                  required=True))
                     + button(_("Print the report")) + "</form></section>")
            body += done_form(ctx)
        return self.desk.render(ctx, _("Audit log"), body)

    async def done(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The periodic audit (R7.2) recorded as done by the auditor who did it, with the period it
        covered: an `audit.done` record on the chain, and the next one's due date moves."""
        f = await request.post()
        start, end = ctx.parse_time(str(f.get("from", ""))), ctx.parse_time(str(f.get("to", "")))
        name, note = str(f.get("name", "")).strip(), str(f.get("note", "")).strip()
        title = _("Record the audit as done")
        if start is None or end is None or not name:
            return self.desk.render(ctx, title, message("error", _(
                "give the period the audit covered, as a date and a time, and the name of who audited")) + done_form(ctx),
                status=422)
        try:
            await self.desk.run(ctx, "audit.report", {"from_us": start, "to_us": end,
                                                      "done": {"name": name, "note": note}})
            due = (await self.desk.run(ctx, "audit.due", {})).get("due_us")
        except Refused as exc:
            return self.desk.render(ctx, title, message("error", str(exc)) + done_form(ctx), status=422)
        period = _("{start} to {end}").format(start=ctx.when(start), end=ctx.when(end))
        body = (message("ok", _("The audit is recorded as done.")) + facts([
            (_("Period"), esc(period)), (_("Audited by"), esc(name)), (_("Note"), esc(note or "-")),
            (_("Next audit due by"), esc(ctx.date(due - 1) if due else "-"))])
            + '<p class="actions">' + link("/desk/audit/report?" + urlencode({"from": ctx.input_time(start),
                                                                             "to": ctx.input_time(end)}),
                                           _("Print the audit report"), "button") + "</p>")
        return self.desk.render(ctx, title, body)

    async def report(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The periodic report (R7.2) as `edgectl audit report --out` writes it; the browser prints it."""
        q = request.query
        start = ctx.parse_time(q.get("from", "")) if q.get("from") else ctx.now_us - QUARTER_US
        end = ctx.parse_time(q.get("to", "")) if q.get("to") else ctx.now_us
        if start is None or end is None:
            return self.desk.render(ctx, _("Print the audit report"), message(
                "error", _("give the time range as a date and a time")), status=422)
        try:
            r = await self.desk.run(ctx, "audit.report", {"from_us": start, "to_us": end})
        except Refused as exc:
            return self.desk.render(ctx, _("Print the audit report"), message("error", str(exc)), status=422)
        cams = self.desk.camera_names()
        return self.desk.printed(ctx, lambda doc: audit_report_html(doc, r, ctx.now_us, cams))

    async def usage_form(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The usage register's period (001 附件5, design/0089): the custodian who keeps it prints it."""
        body = ('<section class="card" id="usage"><form method="get" action="/desk/usage/register" class="filters">'
                + field_(_("From"), date_input(ctx, "from", ctx.input_time(ctx.now_us - MONTH_US),
                                               required=True))
                + field_(_("To"), date_input(ctx, "to", ctx.input_time(ctx.now_us), required=True))
                + button(_("Print the usage register")) + "</form></section>")
        return self.desk.render(ctx, _("Usage register"), body)

    async def usage(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The usage register as `edgectl request usage --out` writes it; the browser prints it."""
        q = request.query
        start = ctx.parse_time(q.get("from", "")) if q.get("from") else ctx.now_us - MONTH_US
        end = ctx.parse_time(q.get("to", "")) if q.get("to") else ctx.now_us
        if end is not None and q.get("to"):
            end += 60_000_000   # a time given to the minute includes that minute (a use a moment ago)
        if start is None or end is None:
            return self.desk.render(ctx, _("Usage register"), message(
                "error", _("give the time range as a date and a time")), status=422)
        try:
            answer = await self.desk.run(ctx, "usage.register", {"from_us": start, "to_us": end})
        except Refused as exc:
            return self.desk.render(ctx, _("Usage register"), message("error", str(exc)), status=422)
        return self.desk.printed(ctx, lambda doc: usage_html(doc, answer, self.desk.camera_names(), ctx.now_us))

    async def verify(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        result = await self.desk.run(ctx, "audit.verify", {})
        state = (badge(DONE, _("intact")) if result["ok"] else
                 badge(REFUSED, _("broken: {problem}").format(problem=result["problem"])))
        head = result.get("head") or {}
        body = facts([(_("Chain"), state), (_("Records"), esc(result["records"])),
                      (_("Last record"), esc(head.get("seq"))), (_("Its hash"), code(head.get("hash")))])
        return self.desk.render(ctx, _("Check the chain"), body)
