"""Each person's day on the desk's home page (issue 42 item 5, design/0108): the auditor's
periodic audit due (R7.2; 002 §17 half-yearly) with the reports one click away, the custodian's
grants waiting for a viewing or an export, each with the button that starts it; and on a
request's page the accompanied viewing in one click (the playback page opens on its grant).
Each part runs the control operations edgectl runs (audit.due, request.list)."""

from __future__ import annotations

from typing import Any

from edged.i18n import _, us
from edged.rules import retrieval as rq
from edged.rules.redaction import allower_refusal, grant_redacted, redacted_kinds
from edged.viewer.desk.app import Desk
from edged.viewer.desk.page import DONE, DUE, OPEN, WAIT, Ctx, badge, esc, link, table

SOON_US = 30 * 86_400_000_000  # an audit due within a month is shown as due


def may_view(req: dict[str, Any], ctx: Ctx) -> bool:
    """The rule playback applies to a view grant (unused, in time; not by one who signed the
    request), run without writing."""
    g = req.get("grant")
    if not g or g.get("mode") != "view" or not ctx.may("playback.start"):
        return False
    signers = [s["by"] for s in rq.steps_signed(req)]
    return (rq.refuse_use(g, mode="view", now_us=ctx.now_us) is None
            and rq.approver_refusal({"approvers": signers, "request_id": req["id"]}, ctx.account) is None
            and allower_refusal(g, ctx.account or "") is None)


def viewing_link(req: dict[str, Any]) -> str:
    return link(f"/playback?grant={int(req['grant']['id'])}", _("Start the accompanied viewing"), "button")


def viewing_card(req: dict[str, Any], ctx: Ctx) -> str:
    """On a request's page: the accompanied viewing of its grant, one click away."""
    if not may_view(req, ctx):
        return ""
    hint = _("Opens the viewing of grant {id} with the requester's name; the grant is used when you start it.").format(
        id=req["grant"]["id"])
    title = _("Accompanied viewing")
    return (f'<section class="card" id="viewing"><h2>{esc(title)}</h2>'
            f'<p>{viewing_link(req)} <span class="hint">{esc(hint)}</span></p></section>')


async def custodian_day(desk: Desk, ctx: Ctx) -> str:
    """The grants this custodian may use now: a viewing to accompany or an export to make."""
    rows = [r for r in await desk.run(ctx, "request.list", {"state": "approved"})
            if r.get("grant") and not r["grant"].get("used_us") and r["grant"]["expires_us"] > ctx.now_us]
    lines = []
    for r in rows:
        g = r["grant"]
        action = (link(f"/desk/requests/{r['id']}#redact", _("Prepare the redacted copy"), "button")
                  if grant_redacted(g, r.get("kind"), redacted_kinds(desk.cfg.policy.kinds)) else
                  viewing_link(r) if may_view(r, ctx) else
                  link(f"/desk/requests/{r['id']}#export", _("Make the export"), "button") if g["mode"] == "copy"
                  else esc(_("another custodian (you signed it)")))
        lines.append([link(f"/desk/requests/{r['id']}", _("Request {id}").format(id=r["id"])),
                      esc(r.get("requester_name") or "-"), esc("、".join(desk.camera_names().get(c) or c for c in r["cameras"])),
                      badge(WAIT, _("viewing") if g["mode"] == "view" else _("export")),
                      esc(ctx.when(g["expires_us"])), action])
    title = _("Grants waiting for you")
    if not lines:
        none = badge(DONE, _("No grant waits for a viewing or an export."))
        return f'<section class="card"><h2>{esc(title)}</h2><p>{none}</p></section>'
    return (f'<section class="card" id="grants-waiting"><h2>{esc(title)}</h2>'
            + table([_("Request"), _("Requester"), _("Cameras"), _("For"), _("Valid until"), _("Action")], lines)
            + "</section>")


async def auditor_day(desk: Desk, ctx: Ctx) -> str:
    """The periodic audit: when it is due, when the last was done; the reports one click away."""
    d = await desk.run(ctx, "audit.due", {})
    if d.get("due_us") is None:
        due = badge(OPEN, _("no periodic audit is set at {us}").format(us=us()))
    elif d["due_us"] <= ctx.now_us:
        due = badge(DUE, _("overdue since {date}").format(date=ctx.date(d["due_us"] - 1)))
    elif d["due_us"] - ctx.now_us <= SOON_US:
        due = badge(DUE, _("due by {date}").format(date=ctx.date(d["due_us"] - 1)))
    else:
        due = badge(WAIT, _("next due by {date}").format(date=ctx.date(d["due_us"] - 1)))
    last = d.get("last")
    done = (_("last done {date} by {name}").format(date=ctx.date(last["at_us"]), name=last.get("by") or ctx.who(last["account"]))
            if last else _("no periodic audit recorded yet"))
    links = " ".join([link("/desk/audit/report", _("Make the audit report"), "button"),
                      link("/desk/audit#done", _("Record the audit as done")),
                      link("/desk/audit", _("Audit log")), link("/desk/usage", _("Usage register"))])
    title = _("Your audits")
    return (f'<section class="card" id="audit-due"><h2>{esc(title)}</h2>'
            f'<p>{due} {esc(done)}</p><p>{links}</p></section>')
