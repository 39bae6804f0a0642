"""The written answer to an applicant once the request is decided (001 第十七點(一)(二): 函復申請人,
至遲不得逾6日; docs/requirements.md R5.6) and the receipt a recipient signs for a copy, with the
fee where the site charges one (002 第八點(二)(三): 通知申請人簽收; 所需之費用，由申請人負擔).
Both are filled from `request.show`, in the site's language, and cite the site's own rule
([forms] cite.reply, cite.receipt; design/0089). Pure functions: data in, HTML out."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc, checkbox, esc, page, tag, wrap
from edged.documents.retrieval import cameras_text, category_label, kind_label, mode_label
from edged.i18n import _

GRANTED, REFUSED = "granted", "refused"


class NotPrintable(ValueError):
    """The request has no such page (yet): the message says why."""


def decision_of(r: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Granted or refused, and the sign-off that decided it (None: a request decided before chains)."""
    steps = r.get("steps") or []
    refusal = next((s for s in steps if not s["approve"]), None)
    if r["state"] == "rejected":
        return REFUSED, refusal
    return GRANTED, steps[-1] if steps else None


def _row(head: str, value: str, raw: bool = False) -> str:
    return f"<tr><th>{esc(head)}</th><td>{value if raw else esc(value)}</td></tr>"


def due_date(doc: Doc, r: dict[str, Any]) -> str:
    """The last day the answer is on time, on the site's calendar (design/0089)."""
    return doc.date(r["due_us"] - 1, long=True) if r.get("due_us") else "-"


def _what_next(r: dict[str, Any], decision: str, fee: int | None) -> list[str]:
    if decision == REFUSED:
        return [_("If you object to this decision, you may lodge an administrative appeal under the Administrative "
                  "Appeal Act within 30 days from the day after this reply reaches you, through this office.")]
    out = [_("Please contact us to agree on a time. The footage is viewed at our office in the presence of our "
             "staff; you may not copy or photograph it while viewing.") if r["mode"] == "view" else
           _("Please contact us to agree on a time to collect the copy, which you sign for on receipt.")]
    if fee is not None:
        out.append(_("The costs are borne by the applicant."))
    return out


def reply_html(doc: Doc, r: dict[str, Any], names: dict[str, str], printed_us: int) -> str:
    """The answer to the applicant: granted or refused, with the reason and what they may do."""
    if r["state"] == "filed" or (r["state"] == "lapsed" and r.get("grant") is None):
        raise NotPrintable(_("request {id} is not decided: there is no answer to print yet (due by {date})").format(
            id=r["id"], date=due_date(doc, r)))
    decision, step = decision_of(r)
    reason = (step or {}).get("reason") or r.get("decision_reason") or ""
    decided = (step or {}).get("at_us") or r.get("decided_us")
    title = _("Reply to an application for CCTV footage")
    to = r.get("requester_name") or r.get("requester_org") or "-"
    result = (checkbox(decision == GRANTED, _("granted")) + checkbox(decision == REFUSED, _("not granted")))
    fee = doc.forms.fees.get(r["kind"]) if r["mode"] == "copy" else None
    rows = [
        _row(_("Addressed to"), to),
        _row(_("Application number"), str(r["id"])),
        _row(_("Kind of requester"), kind_label(doc, r["kind"])),
        _row(_("Application date"), doc.date(r["filed_us"], long=True)),
        _row(_("Answer due by"), due_date(doc, r)),
        _row(_("Answered on"), doc.date(decided, long=True) if decided else "-"),
        _row(_("Reason"), category_label(doc, r["category"]) + ("：" if doc.lang == "zh-TW" else ": ")
             + (r.get("reason") or "")),
        _row(_("Cameras"), cameras_text(doc, r["cameras"], names)),
        _row(_("Time range"), f"{doc.datetime(r['from_us'])} ～ {doc.datetime(r['to_us'])}"),
        _row(_("Footage wanted"), mode_label(doc, r["mode"])),
        *([_row(_("Third parties"), redacted_text(r))] if r.get("redacted") else []),
        _row(_("Decision"), result, raw=True),
        _row(_("Reason for the decision"), reason),
        _row(_("What you may do"), "\n".join(_what_next(r, decision, fee))),
    ]
    sign = tag("table", "", tag("tr", "", tag("th", _("Official in charge")) + "<td></td>"
                                + tag("th", _("Seal of the office")) + "<td></td>"), attrs='class="sign"')
    body = (f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(doc.site_name)}</p>"
            f'<table class="annex">{"".join(rows)}</table>{sign}')
    # what the applicant reads: the site's rule it answers under and the date; nothing of edged's
    rule = doc.forms.citation("reply")
    lines = ([_("Answered under {rule}.").format(rule=rule)] if rule else []) + [
        _("Date: {date}").format(date=doc.date(printed_us, long=True))]
    footer = "<footer>" + "<br>".join(esc(line) for line in lines) + "</footer>"
    return wrap(doc, f"{title} {r['id']}", body + footer)


def redacted_text(r: dict[str, Any]) -> str:
    """What a citizen's redacted copy hides, on the printed forms (design/0232; request.show's `redacted`)."""
    if r.get("redacted") == "faces":
        return _("What is shown or copied is redacted: every face but the applicant's is hidden; the original "
                 "footage is kept whole.")
    return _("What is shown or copied is redacted: everything but the applicant is hidden; the original footage "
             "is kept whole.")


def receipt_html(doc: Doc, r: dict[str, Any], names: dict[str, str], printed_us: int) -> str:
    """The receipt the recipient signs for a copy; an amount where the site charges the kind a
    fee ([forms.fees]: the fee, or 0 for a blank to fill in), no amount line where it does not."""
    g = r.get("grant")
    if r["mode"] != "copy" or g is None:
        raise NotPrintable(_("request {id} has no copy to sign for: a receipt is for an approved copy").format(
            id=r["id"]))
    title = _("Receipt for a copy of CCTV footage")
    rows = [
        _row(_("Application number"), str(r["id"])),
        _row(_("Grant number"), str(g["id"])),
        _row(_("Requester"), r.get("requester_name") or r.get("requester_org") or "-"),
        _row(_("Kind of requester"), kind_label(doc, r["kind"])),
        _row(_("Cameras"), cameras_text(doc, g["cameras"], names)),
        _row(_("Time range"), f"{doc.datetime(g['from_us'])} ～ {doc.datetime(g['to_us'])}"),
        _row(_("Copied on"), doc.datetime(g["used_us"]) if g.get("used_us") else ""),
        _row(_("Custodian"), doc.who(g["used_by"]) if g.get("used_by") else ""),
        *([_row(_("Third parties"), redacted_text(r))] if r.get("redacted") else []),
    ]
    fee = doc.forms.fees.get(r["kind"])
    if fee is not None:  # 002 第八點(三): the applicant bears the costs
        amount = _("NT$ {amount}").format(amount=f"{fee:,}") if fee else _("NT$ ____________")
        rows.append(_row(_("Fee"), amount))
    # left blank for the recipient's hand (esc would print "-" in the box to be signed)
    rows += [_row(_("Received by (signature)"), "", raw=True), _row(_("Date received"), "", raw=True)]
    note = _("The recipient keeps the copy confidential and uses it only for the purpose it was approved for.")
    body = (f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(doc.site_name)}</p>"
            f'<table class="annex">{"".join(rows)}</table><p class="notes">{esc(note)}</p>')
    return page(doc, f"{title} {r['id']}", body, _("the receipt for a copy"), printed_us, cite="receipt")
