"""The report of a major or abnormal request to the ethics office (政風室; issue 31 item 8,
design/0083): what the managing unit hands over at once when a request is flagged. Filled from
the request as the daemon keeps it (`request.show`): the request, why it is flagged, its
sign-offs and grant so far, and boxes for who reports it and the ethics office's receipt."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc, esc, page, tag
from edged.documents.retrieval import STATE_LABELS, _approvals, cameras_text, category_label, \
    kind_label, label, mode_label
from edged.i18n import N_, _

FLAG_LABELS = {"major": N_("major"), "abnormal": N_("abnormal")}


def _row(head: str, value: str) -> str:
    return f"<tr><th>{esc(head)}</th><td>{esc(value)}</td></tr>"


def ethics_html(doc: Doc, r: dict[str, Any], camera_names: dict[str, str], printed_us: int) -> str:
    """One flagged request, as the ethics office reads it; a request not flagged is refused by
    the caller (edgectl), not here: the page says "no flag" then."""
    title = _("Report to the ethics office: a major or abnormal request")
    requester = " ".join(x for x in (r.get("requester_name"), r.get("requester_org")) if x) or doc.who(r["filed_by"])
    g = r.get("grant")
    use = _("no grant") if not g else (
        _("grant {id} used on {at} by {by}, watched or received by {watcher}").format(
            id=g["id"], at=doc.datetime(g["used_us"]), by=doc.who(g.get("used_by")), watcher=g.get("watcher") or "-")
        if g.get("used_us") else _("grant {id}, not used yet (valid until {at})").format(
            id=g["id"], at=doc.datetime(g["expires_us"])))
    rows = [
        _row(_("Application number"), str(r["id"])),
        _row(_("Flag"), label(FLAG_LABELS, r.get("flag")) if r.get("flag") else _("no flag")),
        _row(_("Why it is flagged"), r.get("flag_note") or "-"),
        _row(_("Application date"), doc.datetime(r["filed_us"])),
        _row(_("Kind of requester"), kind_label(doc, r["kind"])),   # the site's words (issue 42): never an id
        _row(_("Reason"), category_label(doc, r["category"]) + ("：" if doc.lang == "zh-TW" else ": ") + (r.get("reason") or "")),
        _row(_("Requester"), requester),
        _row(_("Official letter"), r.get("letter_ref") or "-"),
        _row(_("Cameras"), cameras_text(doc, r["cameras"], camera_names)),
        _row(_("Time range"), f"{doc.datetime(r['from_us'])} ～ {doc.datetime(r['to_us'])}"),
        _row(_("Footage wanted"), mode_label(doc, r["mode"])),
        _row(_("Filed by"), doc.who(r["filed_by"])),
        _row(_("State"), label(STATE_LABELS, r["state"])),
        _row(_("Grant and its use"), use),
    ]
    by, got, day = esc(_("Reported by (managing unit)")), esc(_("Received by (ethics office)")), esc(_("Date"))
    sign = (f'<table class="sign"><tr><th>{by}</th><td></td><th>{day}</th><td></td></tr>'
            f'<tr><th>{got}</th><td></td><th>{day}</th><td></td></tr></table>')
    lead = _("A request to view or copy footage was flagged as a major or abnormal case: the managing unit "
             "reports it to the ethics office at once. The central office received the same notice.")
    body = (f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(doc.site_name)}</p>"
            + tag("p", lead, attrs='class="meta"')
            + tag("h2", _("The request")) + f"<table>{''.join(rows)}</table>"
            + _approvals(doc, r) + tag("h2", _("Report and receipt")) + sign)
    return page(doc, f"{title} {r['id']}", body, _("the report of a major or abnormal request to the ethics office"),
                printed_us)
