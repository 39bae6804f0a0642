"""The cards a citizen's request's page shows for its redacted copy (design/0232, 0277, 0279): the
form that prepares the copy where the grant may be used now, or the way back to a copy already begun,
or what became of it (released, shown at the accompanied viewing, or its staged footage swept), and
to a second person, where the site asks one, the copy another prepared, to release (design/0347).
edged/viewer/desk/redaction.py serves the copy's own pages."""

from __future__ import annotations

from typing import Any

from edged.i18n import _
from edged.rules import retrieval as rq
from edged.rules.redaction import grant_redacted, redacted_kinds
from edged.viewer.desk.app import Desk
from edged.viewer.desk.page import Ctx, button, esc, field_, form, link, table, text_input


def redacted(req: dict[str, Any], desk: Desk) -> bool:
    """Whether this request's grant shows only a redacted copy (the site's [policy.citizen]), no
    approver having allowed it the whole picture (design/0276)."""
    return grant_redacted(req.get("grant"), req.get("kind"), redacted_kinds(desk.cfg.policy.kinds))


def may_redact(req: dict[str, Any], ctx: Ctx, desk: Desk) -> bool:
    """The rules export.run applies to a redacted copy's grant, run without writing."""
    g = req.get("grant")
    if not g or not redacted(req, desk) or not ctx.may("redact.run") or not ctx.may("export.run"):
        return False
    signers = [s["by"] for s in rq.steps_signed(req)]
    return (rq.refuse_use(g, mode=g["mode"], now_us=ctx.now_us) is None
            and rq.approver_refusal({"approvers": signers, "request_id": req["id"]}, ctx.account) is None)


def redaction_card(req: dict[str, Any], ctx: Ctx, desk: Desk) -> str:
    """On a citizen's request's page: the redacted copy the viewing or the copy waits for."""
    if not may_redact(req, ctx, desk):
        return again_card(req, ctx) + review_card(req, ctx, desk)
    copy = req["grant"]["mode"] == "copy"
    fields = (f'<input type="hidden" name="grant" value="{int(req["grant"]["id"])}">'
              f'<input type="hidden" name="request" value="{int(req["id"])}">'
              + (field_(_("Recipient"), text_input("recipient", req.get("requester_name") or ""),
                        _("who receives the copy")) if copy else "")
              + (field_(_("Receipt signed by"), text_input("receipt", required=True),
                        _("this copy needs the recipient's signed receipt")) if copy and req.get("receipt") else "")
              + button(_("Prepare the redacted copy")))
    heading = _("Redacted copy")
    hint = (_("A citizen sees only themselves: the copy hides everyone else. The grant is used now; the footage is "
              "staged on this recorder, you mark the applicant, check the copy, then hand it over.") if copy else
            _("A citizen sees only themselves: the viewing shows a copy that hides everyone else. The grant is used "
              "now; you mark the applicant, check the copy, then start the accompanied viewing. No copy leaves the box."))
    return (f'<section class="card" id="redact"><h2>{esc(heading)}</h2><p class="hint">{esc(hint)}</p>'
            + form(ctx, "/desk/redact/new", fields) + "</section>")


def again_card(req: dict[str, Any], ctx: Ctx) -> str:
    """On a citizen's request whose grant was used for a redacted copy by this custodian: the way
    back to the copy (design/0277), whose page a restart of the recorder lost; it goes on from what
    was saved, as it was asked."""
    mine = [e for e in req.get("redacted_exports") or [] if e.get("custodian") == ctx.account]
    if not mine or not ctx.may("redact.run"):
        return ""
    export = mine[0]
    heading = _("Redacted copy")
    if export.get("released") or not export.get("staged", True):   # nothing to go on with (design/0279)
        done = (_("The grant was used for a redacted copy (export {id}, {time}), released to be shown at "
                  "the accompanied viewing; nothing was handed over, and it is not made again.") if export.get("released_for") == "view" else
                _("The grant was used for a redacted copy (export {id}, {time}), which was released; it is not made "
                  "or handed over again.") if export.get("released") else
                _("The grant was used for a redacted copy (export {id}, {time}); its staged footage was removed after "
                  "a day, so it cannot be gone on with."))
        copy_page, opened = f"/desk/redact/{int(export['id'])}", _("Open the copy shown at the viewing")
        back = (f'<p>{link(copy_page, opened)}</p>'
                if export.get("released_for") == "view" and export.get("staged", True) else "")   # issue 77
        return (f'<section class="card" id="redact-again"><h2>{esc(heading)}</h2><p class="hint">'
                f'{esc(done.format(id=export["id"], time=ctx.when(export["created_us"])))}</p>{back}</section>')
    hint = _("The grant was used for a redacted copy (export {id}, {time}). If its page was lost when the recorder "
             "restarted, go on with it here: the copy goes on from what was saved.").format(
        id=export["id"], time=ctx.when(export["created_us"]))
    fields = f'<input type="hidden" name="request" value="{int(req["id"])}">' + button(_("Go on with the redacted copy"))
    return (f'<section class="card" id="redact-again"><h2>{esc(heading)}</h2><p class="hint">{esc(hint)}</p>'
            + form(ctx, f"/desk/redact/{int(export['id'])}/again", fields) + "</section>")


def review_card(req: dict[str, Any], ctx: Ctx, desk: Desk) -> str:
    """Where the site asks a second person to release a citizen's redacted copy ([policy.citizen]
    release_by_another, design/0347): to a custodian or approver who did not prepare it, the copy
    made and waiting, to play and release on its own page."""
    rules = desk.cfg.policy.kinds.get("citizen")
    if not (rules and rules.release_by_another) or not ctx.may("redact.show") or not ctx.may("redact.release"):
        return ""
    waiting = [e for e in req.get("redacted_exports") or [] if e.get("custodian") != ctx.account
               and e.get("made") and not e.get("released") and e.get("staged", True)]
    if not waiting:
        return released_card(req, ctx)
    export = waiting[0]
    page, opened = f"/desk/redact/{int(export['id'])}/review", _("Open the copy to release")
    heading = _("Redacted copy to release")
    hint = _("{who} prepared the redacted copy (export {id}, {time}). This site asks a second person to release it: "
             "play it, check each moment to check, and release it.").format(
        who=ctx.who(str(export.get("custodian") or "")), id=export["id"], time=ctx.when(export["created_us"]))
    return (f'<section class="card" id="redact-review"><h2>{esc(heading)}</h2><p class="hint">{esc(hint)}</p>'
            f'<p>{link(page, opened)}</p></section>')


def released_card(req: dict[str, Any], ctx: Ctx) -> str:
    """The way back to a copy this second person released (issue 91 D4, design/0395): its review
    page, while its staged footage is kept (a day); the one who prepared it has again_card."""
    mine = [e for e in req.get("redacted_exports") or [] if e.get("released") and e.get("released_by") == ctx.account
            and e.get("custodian") != ctx.account and e.get("staged", True)]
    if not mine:
        return ""
    export = mine[0]
    hint = _("You released the redacted copy {who} prepared (export {id}, {time}).").format(
        who=ctx.who(str(export.get("custodian") or "")), id=export["id"], time=ctx.when(export["created_us"]))
    page = f"/desk/redact/{int(export['id'])}/review"
    heading, opened = _("Redacted copy you released"), _("Open the copy you released")
    return (f'<section class="card" id="redact-released"><h2>{esc(heading)}</h2>'
            f'<p class="hint">{esc(hint)}</p><p>{link(page, opened)}</p></section>')


WAITS_US = 2 * 86_400_000_000   # a copy's staged footage is swept after a day: grants used longer ago hold none


async def copies_to_release(desk: Desk, ctx: Ctx) -> str:
    """On the desk's home, where the site asks a second person to release a citizen's redacted
    copy (release_by_another, design/0347, 0358): to each custodian or approver who may release
    one, the copies others prepared that are made and wait, each with the way to its review page.
    Nothing where none waits or the site asks no second person."""
    rules = desk.cfg.policy.kinds.get("citizen")
    if not (rules and rules.release_by_another) or not all(
            ctx.may(op) for op in ("redact.show", "redact.release", "request.all")):
        return ""
    used = [r for r in await desk.run(ctx, "request.list", {"kind": "citizen"})
            if (r.get("grant") or {}).get("used_us") and r["grant"]["used_us"] > ctx.now_us - WAITS_US]
    lines = []
    for r in used:
        req = await desk.run(ctx, "request.show", {"id": r["id"]})
        for e in req.get("redacted_exports") or []:
            if e.get("custodian") != ctx.account and e.get("made") and not e.get("released") and e.get("staged", True):
                lines.append([link(f"/desk/requests/{r['id']}", _("Request {id}").format(id=r["id"])),
                              esc(r.get("requester_name") or "-"), esc(ctx.who(str(e.get("custodian") or ""))),
                              esc(ctx.when(e["created_us"])),
                              link(f"/desk/redact/{int(e['id'])}/review", _("Open the copy to release"), "button")])
    if not lines:
        return ""
    title = _("Redacted copies waiting for a second person")
    hint = _("Under {us}'s rules, someone other than the one who prepared a citizen's redacted copy releases "
             "it.").format(us=desk.us(ctx))
    return (f'<section class="card" id="copies-to-release"><h2>{esc(title)}</h2><p class="hint">{esc(hint)}</p>'
            + table([_("Request"), _("Requester"), _("Prepared by"), _("Made at"), _("Action")], lines) + "</section>")
