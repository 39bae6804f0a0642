"""The usage register (001 第十八點、附件5 影音應用記錄簿; docs/requirements.md R5.5, R7.1): every
use of a grant in a period, one row each, in the annex's columns: the date, the time, the
requester, the case (案由), how the footage was used (應用情形) and the signatures (簽章) of the
staff who handled it (管理人員) and their supervisor (主管). Kept by the custodian who handles the footage (design/0089), so printable by them and
not only in the auditor's report. The rows are the daemon's `usage.register` answer."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc, esc, page, tag
from edged.documents.retrieval import cameras_text, category_label
from edged.i18n import _
from edged.rules.words import phrases


def _use(doc: Doc, u: dict[str, Any], names: dict[str, str]) -> str:
    cams = cameras_text(doc, u["cameras"], names)
    span = f"{doc.datetime(u['from_us'])} ～ {doc.datetime(u['to_us'])}"
    if u["mode"] == "copy":
        text = _("Copied {cameras}, {span}, for {who} (export {export})").format(
            cameras=cams, span=span, who=u.get("watcher") or "-", export=u.get("export_id") or "-")
    else:
        text = _("Viewed {cameras}, {span}, by {who}").format(cameras=cams, span=span, who=u.get("watcher") or "-")
    return phrases((text, _("custodian {who}; request {request}, grant {grant}").format(
        who=doc.who(u["custodian"]), request=u["request_id"], grant=u["grant_id"])))


def usage_html(doc: Doc, answer: dict[str, Any], names: dict[str, str], printed_us: int) -> str:
    """`answer`: {from_us, to_us, uses}; `names`: camera id -> name."""
    title = _("{site} CCTV footage usage register").format(site=doc.site_name).strip()
    period = _("Period: {start} to {end}.").format(start=doc.date(answer["from_us"], long=True),
                                                   end=doc.date(answer["to_us"] - 1, long=True))
    # 附件5: 簽章 in two columns, the staff who handled it (管理人員) and their supervisor (主管)
    header = ("".join(f'<th rowspan="2">{esc(h)}</th>' for h in (_("Date"), _("Time"), _("Requester"),
                                                                 _("Case (reason)"), _("Use")))
              + '<th colspan="2">' + esc(_("Signature")) + "</th></tr><tr>"
              + "".join(f"<th>{esc(h)}</th>" for h in (_("Handling staff"), _("Supervising officer"))))
    rows = []
    for u in answer["uses"]:
        who = " ".join(x for x in (u.get("requester_name"), u.get("requester_org")) if x) or doc.who(u.get("filed_by"))
        case = category_label(doc, u.get("category")) + ("：" if doc.lang == "zh-TW" else ": ") + (u.get("reason") or "")
        rows.append(f"<tr><td>{esc(doc.date(u['used_us']))}</td><td>{esc(doc.time(u['used_us']))}</td>"
                    f"<td>{esc(who)}</td><td>{esc(case)}</td><td>{esc(_use(doc, u, names))}</td><td></td><td></td></tr>")
    if not rows:
        rows.append(tag("tr", "", tag("td", _("No footage was used in this period."), attrs='colspan="7"')))
    body = (f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(period)}</p>"
            f"<table><tr>{header}</tr>{''.join(rows)}</table>")
    return page(doc, title, body, _("the usage register"), printed_us, "register", cite="usage")
