"""Inspections at the desk (design/0073, R3): the custodian runs one and signs it with the
handling of each anomaly, an approver countersigns it (the supervisor's sign-off, R3.2), and
anyone who reads the registers prints the month's register, the renderer `edgectl inspect
report` writes. Each page runs one control operation (inspect.list, inspect.show, inspect.run,
inspect.sign, inspect.countersign); whether a form is offered is edged/rules/inspections.py's
rule, asked without writing."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from edged.documents.register import RUN_LABELS, found, item_label, register_html, repair_answer, result
from edged.i18n import N_, _, fmt_month
from edged.rules import deadlines, inspections as rules
from edged.viewer.desk.cameras import said
from edged.viewer.desk.app import Desk, Refused, form_of
from edged.viewer.desk.page import (DONE, OPEN, REFUSED, WAIT, Ctx, badge, button, esc, facts, field_, form,
                                    link, message, table, text_input, textarea)

DONE_NOTES = {"ran": N_("The inspection ran. Read it, write what was done about each anomaly, and sign it."),
              "signed": N_("Your signature is recorded. An approver countersigns it."),
              "countersigned": N_("Your countersignature is recorded.")}


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/inspections", desk.page("inspect.list", pages.listing))
    r.add_post("/desk/inspections/run", desk.page("inspect.run", pages.run))
    r.add_get("/desk/inspections/register", desk.page("inspect.list", pages.register))
    r.add_get(r"/desk/inspections/{id:\d+}", desk.page("inspect.show", pages.show))
    r.add_post(r"/desk/inspections/{id:\d+}/sign", desk.page("inspect.sign", pages.sign))
    r.add_post(r"/desk/inspections/{id:\d+}/countersign", desk.page("inspect.countersign", pages.countersign))


def may_sign(run: dict[str, Any], ctx: Ctx) -> bool:
    return ctx.may("inspect.sign") and rules.sign_refusal(run) is None


Units = dict[str, frozenset[str]] | None  # [policy.units] where each unit's chief countersigns its cameras


def countersigners(desk: Desk) -> Units:
    """Who countersigns at this site: each unit's chief ([inspection] countersign = "unit"), or None: any approver."""
    return dict(desk.cfg.policy.units) if desk.cfg.inspection.countersign == "unit" else None


def may_countersign(run: dict[str, Any], ctx: Ctx, units: Units = None) -> bool:
    """The rule inspect.countersign applies, for the signature the form gives (the account's name)."""
    return ctx.may("inspect.countersign") and rules.countersign_refusal(run, ctx.account, ctx.account, units) is None


def run_state(run: dict[str, Any], ctx: Ctx, units: Units = None) -> str:
    if run["countersigned_us"]:
        return badge(DONE, _("countersigned"))
    if run["signed_us"]:
        return (badge(WAIT, _("waiting for you")) if may_countersign(run, ctx, units)
                else badge(OPEN, _("waiting for the countersignature")))
    return badge(WAIT, _("waiting for your signature")) if may_sign(run, ctx) else badge(REFUSED, _("unsigned"))


def month_of(text: str, ctx: Ctx) -> tuple[str, int, int]:
    """A month typed 115/11 or 2026-11 (default, and for anything else: this month, in the site's zone) as
    YYYY-MM, and its bounds in µs, as edgectl's register bounds it (edged/rules/deadlines.py)."""
    tz = ctx.tz or deadlines.local_tz(ctx.now_us)
    typed = deadlines.typed_month(text, ctx.now_us, tz) or deadlines.typed_month("", ctx.now_us, tz)
    assert typed is not None  # this month always is one
    (year, month), start, end = typed
    return f"{year:04d}-{month:02d}", start, end


def signature(name: str | None, at_us: int | None, ctx: Ctx) -> str:
    return esc(_("{name} at {time}").format(name=ctx.who(name), time=ctx.when(at_us)) if at_us else "-")


def anomalies_cell(record: dict[str, Any]) -> str:
    """The anomalies in the reader's words; the stored English folded under them where a finding
    carries someone else's words (a camera's own error: the technician's detail)."""
    words, foreign = found(record)
    return esc(words) + (said(record["anomalies"]) if foreign else "")


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def rows(self, runs: list[dict[str, Any]], ctx: Ctx) -> str:
        units = countersigners(self.desk)
        return table([_("No."), _("Kind"), _("Ran"), _("Cameras"), _("Anomalies"), _("Inspector"), _("Supervisor"),
                      _("State")],
                     [[link(f"/desk/inspections/{r['id']}", str(r["id"])),
                       esc(_(RUN_LABELS[r["kind"]]) if r["kind"] in RUN_LABELS else r["kind"]), esc(ctx.when(r["ran_us"])),
                       esc(r["cameras"]), esc(r["anomalies"]), signature(r["inspector"], r["signed_us"], ctx),
                       signature(r["supervisor"], r["countersigned_us"], ctx), run_state(r, ctx, units)] for r in runs])

    async def listing(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        month, start, end = month_of(request.query.get("month", ""), ctx)
        answer = await self.desk.run(ctx, "inspect.list", {"from_us": start, "to_us": end})
        runs = list(reversed(answer["runs"]))
        due = answer.get("register_due_us")
        body = '<div class="actions">'
        if ctx.may("inspect.run"):
            body += form(ctx, "/desk/inspections/run", button(_("Run an inspection now")), cls="inline") + " "
        body += link(f"/desk/inspections/register?month={month}", _("Print the register"), "button")
        for unit in sorted(set((answer.get("register") or {}).get("units", {}).values())):  # design/0089
            body += " " + link(f"/desk/inspections/register?month={month}&unit={quote(unit)}",
                               _("Print the pages of {unit}").format(unit=unit), "quiet")
        body += ("</div>"
                 + '<form method="get" action="/desk/inspections" class="filters">'
                 + field_(_("Month"), text_input("month", ctx.input_month(int(month[:4]), int(month[5:])), extra=(
                     f'data-calendar="{ctx.calendar}" data-month="1" autocomplete="off" '
                     f'placeholder="{ctx.input_month(2026, 11)}"'))) + button(_("Show"), cls="quiet")
                 + "</form>")
        if due:
            body += '<p class="hint">' + esc(_("The register of {month} is due to the supervisor by {date}.").format(
                month=fmt_month(int(month[:4]), int(month[5:]), ctx.lang), date=ctx.date(due - 1))) + "</p>"
        body += self.rows(runs, ctx) if runs else '<p class="empty">' + esc(_("No inspections this month.")) + "</p>"
        return self.desk.render(ctx, _("Inspections"), body)

    async def run(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        try:
            run = await self.desk.run(ctx, "inspect.run", {})
        except Refused as exc:
            return self.desk.render(ctx, _("Inspections"), message("error", str(exc)), status=422)
        raise web.HTTPSeeOther(f"/desk/inspections/{run['id']}?done=ran")

    async def show(self, request: web.Request, ctx: Ctx, error: str = "") -> web.StreamResponse:
        run_id = int(request.match_info["id"])
        title = _("Inspection {id}").format(id=run_id)
        try:
            run = await self.desk.run(ctx, "inspect.show", {"run": run_id})
        except Refused as exc:
            return self.desk.render(ctx, title, message("error", str(exc)), status=404)
        done = request.query.get("done", "")
        body = message("ok", _(DONE_NOTES[done])) if done in DONE_NOTES else ""
        body += message("error", error) if error else ""
        units = countersigners(self.desk)
        body += facts([(_("State"), run_state(run, ctx, units)),
                       (_("Kind"), esc(_(RUN_LABELS[run["kind"]]) if run["kind"] in RUN_LABELS else run["kind"])),
                       (_("Ran"), esc(ctx.when(run["ran_us"]))), (_("Inspector"), signature(
                           run["inspector"], run["signed_us"], ctx)),
                       (_("Supervisor"), signature(run["supervisor"], run["countersigned_us"], ctx))])
        signing = may_sign(run, ctx)
        names = {c.id: c.name for c in self.desk.cfg.cameras}
        items, ask_repair = self.desk.cfg.inspection.columns, self.desk.cfg.inspection.ask_repair
        headers = [_("Camera"), *(item_label(i) for i in items), _("What was found"), _("Handling"),
                   *([_("Repair requested?")] if ask_repair else []), *([_("Unit chief")] if units is not None else [])]
        rows = []
        for r in run["records"]:
            cells = [badge(REFUSED if ok is False else DONE if ok else OPEN, result(ok))
                     for ok in (r["items"].get(i, {}).get("ok") for i in items)]
            handling = (textarea(f"note-{r['camera']}", r["handling"] or "") if signing and not r["ok"]
                        else esc(r["handling"]))
            extra = []
            if ask_repair:  # the inspector's 是否報修, a box ticked when signing
                extra.append(f'<input type="checkbox" name="repair-{esc(r["camera"])}" value="1">' if signing
                             else esc(repair_answer(r.get("repair"))))
            if units is not None:
                extra.append(_("{label}: {value}").format(   # the unit's chief: 「圖書館：…」 in Chinese (issue 56)
                    label=esc(r.get("unit") or "-"), value=signature(r.get("supervisor"), r.get("countersigned_us"), ctx)))
            rows.append([esc(names.get(r["camera"]) or r["camera"]), *cells,
                         anomalies_cell(r), handling, *extra])
        records = table(headers, rows)
        if signing:
            heading = _("Sign the inspection")
            body += (f'<section class="card" id="sign"><h2>{esc(heading)}</h2>'
                     + form(ctx, f"/desk/inspections/{run_id}/sign", records + field_(
                         _("Your name"), text_input("name", ctx.own_name(), required=True),
                         _("write what was done about each anomaly above")) + button(_("Sign"))) + "</section>")
        else:
            body += records
        if may_countersign(run, ctx, units):
            heading = (_("Countersign for your unit's cameras: {units}").format(units=", ".join(
                rules.units_to_countersign(run, ctx.account, units))) if units is not None
                else _("Countersign as the supervisor"))
            body += (f'<section class="card" id="countersign"><h2>{esc(heading)}</h2>'
                     + form(ctx, f"/desk/inspections/{run_id}/countersign", field_(
                         _("Your name"), text_input("name", ctx.own_name(), required=True)) + button(_("Countersign")))
                     + "</section>")
        return self.desk.render(ctx, title, body)

    async def _sign(self, request: web.Request, ctx: Ctx, op: str, args: dict[str, Any], done: str
                    ) -> web.StreamResponse:
        run_id = int(request.match_info["id"])
        try:
            await self.desk.run(ctx, op, {"run": run_id, **args})
        except Refused as exc:
            return await self.show(request, ctx, str(exc))
        raise web.HTTPSeeOther(f"/desk/inspections/{run_id}?done={done}")

    async def sign(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        notes = {k[5:]: str(v).strip() for k, v in f.items() if k.startswith("note-") and str(v).strip()}
        repairs = sorted(k[7:] for k, v in f.items() if k.startswith("repair-") and str(v) == "1")
        return await self._sign(request, ctx, "inspect.sign", {"name": str(f.get("name") or ""), "notes": notes,
                                                               **({"repairs": repairs} if repairs else {})}, "signed")

    async def countersign(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        return await self._sign(request, ctx, "inspect.countersign", {"name": str(f.get("name") or "")},
                                "countersigned")

    async def register(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The month's register: the renderer `edgectl inspect report` writes, printed by the browser."""
        month, start, end = month_of(request.query.get("month", ""), ctx)
        answer = await self.desk.run(ctx, "inspect.list", {"from_us": start, "to_us": end})
        reg = answer.get("register") or {}
        unit = request.query.get("unit") or None   # one managing unit's pages alone (design/0089)
        if unit is not None and unit not in set((reg.get("units") or {}).values()):
            return self.desk.render(ctx, _("Inspections"), message("error", _(
                "no managing unit {unit!r} on this site's register").format(unit=unit)), status=404)
        return self.desk.printed(ctx, lambda doc: register_html(
            doc, int(month[:4]), int(month[5:]), answer["runs"],
            tuple(reg.get("items") or self.desk.cfg.inspection.columns), self.desk.camera_names(), ctx.now_us,
            answer.get("register_due_us"), reg, unit))


async def waiting_runs(desk: Desk, ctx: Ctx) -> list[dict[str, Any]]:
    """The inspections that wait for this approver's countersignature (the last 3 months)."""
    if not ctx.may("inspect.countersign"):
        return []
    answer = await desk.run(ctx, "inspect.list", {"from_us": ctx.now_us - 92 * 86_400_000_000, "to_us": ctx.now_us + 1})
    return [r for r in answer["runs"] if may_countersign(r, ctx, countersigners(desk))]
