"""The whole picture on a citizen's request at the desk (issue 54 item 4, design/0276): what the
citizen sees, shown on the request's page, and the card where an approver the site names allows
the whole picture with a reason (`request.unredact`, the rule edged/rules/redaction.py
`whole_picture`, which the desk runs without writing to decide whether to offer the form)."""

from __future__ import annotations

from typing import Any

from edged.i18n import _
from edged.rules.redaction import MIN_REASON, RedactionRuleError, shown, whole_picture
from edged.rules.words import REDACT_WORDS, word
from edged.viewer.desk.app import Desk
from edged.viewer.desk.page import Ctx, button, esc, field_, form, message, textarea
from edged.viewer.desk.redaction_cards import redacted


def may_unredact(req: dict[str, Any], ctx: Ctx, desk: Desk) -> bool:
    """The rule `request.unredact` applies (edged/rules/redaction.py `whole_picture`), run without
    writing and with a stand-in reason: whether this approver is offered the form."""
    if not ctx.may("request.unredact"):
        return False
    try:
        whole_picture(req, desk.cfg.policy.kinds.get(str(req.get("kind"))), by=ctx.account or "",
                      roles=ctx.caller.roles, reason="-" * MIN_REASON, now_us=ctx.now_us)
    except RedactionRuleError:
        return False
    return True


def seen_facts(req: dict[str, Any], ctx: Ctx, desk: Desk) -> list[tuple[str, str]]:
    """On a citizen's request's page where the site redacts: what the citizen sees, and an
    approver's allowance of the whole picture (who, when, why) once given."""
    g = req.get("grant") or {}
    if g.get("unredacted_by"):
        return [(_("What the citizen sees"), esc(_("the whole picture, allowed by {who} {time}: {reason}").format(
            who=ctx.who(g["unredacted_by"]), time=ctx.when(g["unredacted_us"]), reason=g["unredacted_reason"])))]
    if not redacted(req, desk):
        return []
    rules = desk.cfg.policy.kinds.get(str(req.get("kind")))
    mode = shown(str(req.get("kind")), rules).redact if rules is not None else "everything"
    return [(_("What the citizen sees"), esc(word(REDACT_WORDS, mode)))]


def whole_picture_card(req: dict[str, Any], ctx: Ctx, desk: Desk, error: str = "", reason: str = "") -> str:
    """For an approver the site names in [policy.citizen] unredacted_by: the whole picture allowed
    on this request, with a reason on the record (design/0276)."""
    if not error and not may_unredact(req, ctx, desk):
        return ""
    heading = _("The whole picture")
    hint = _("The citizen sees a copy that hides everyone else. Only where their interest outweighs the others' "
             "may you allow the whole picture: say why; your name, the time and the reason are on the record, and "
             "another custodian then shows or copies the footage unhidden.")
    body = (field_(_("Reason"), textarea("reason", reason, required=True),
                   _("why the citizen sees the others too (at least {n} characters)").format(n=MIN_REASON), wide=True)
            + button(_("Allow the whole picture"), cls="danger"))
    return (f'<section class="card" id="unredact"><h2>{esc(heading)}</h2><p class="hint">{esc(hint)}</p>'
            + (message("error", error) if error else "")
            + form(ctx, f"/desk/requests/{int(req['id'])}/unredact", body) + "</section>")
