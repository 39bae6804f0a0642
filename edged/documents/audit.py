"""The periodic audit report as a printable page (docs/requirements.md R7.1-R7.2): the
report the daemon builds (storage/audit_report.py: `audit.report`), in the site's language
with its dates. What the ethics office or the police audit (002 §17) files."""

from __future__ import annotations

from typing import Any, Sequence

from edged.documents import Doc, page, table, tag
from edged.documents.retrieval import CATEGORY_LABELS, KIND_LABELS, STATE_LABELS, label
from edged.i18n import _
from edged.rules.words import ROLE_WORDS

ROLE_LABELS = ROLE_WORDS  # edged/rules/words.py: one set of role words on every page and form


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def _cams(cameras: list[str] | None) -> str:
    return _("all cameras") if cameras is None else ", ".join(cameras)


def _section(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    return tag("h2", title) + (table(headers, rows) if rows else tag("p", _("None.")))


def _chain(doc: Doc, c: dict[str, Any]) -> str:
    head = c.get("head")
    text = (_("Audit chain: {n} records, intact.") if c["intact"] else
            _("Audit chain: {n} records, BROKEN: {problem}")).format(n=c["records"], problem=c.get("problem"))
    if head:
        text += " " + _("Head {seq} {hash}.").format(seq=head["seq"], hash=head["hash"])
    return tag("p", text, attrs='class="meta"')


def _people_parts(doc: Doc, r: dict[str, Any]) -> list[str]:
    accounts = [[a["name"], a["full_name"] or "-", ", ".join(label(ROLE_LABELS, x) for x in a["roles"]),
                 _cams(a["cameras"]), doc.date(a["opened_us"]),
                 _("revoked {date}").format(date=doc.date(a["revoked_us"])) if a["revoked_us"] else _("active"),
                 "; ".join(f"{e['action']} {doc.datetime(e['at_us'])} {doc.who(e['by'])}: {e['reason']}" for e in a["events"])]
                for a in r["accounts"]]
    requests = [[q["id"], label(KIND_LABELS, q["kind"]), label(CATEGORY_LABELS, q["category"]), _cams(q["cameras"]),
                 _("view") if q["mode"] == "view" else _("copy"), q["requester_name"] or "-", doc.who(q["filed_by"]),
                 doc.datetime(q["filed_us"]), doc.who(q["decided_by"]),
                 label(STATE_LABELS, q["state"]) + (" " + _("LATE") if q["late"] else ""), q["flag"] or "-"]
                for q in r["requests"]]
    return [
        _section(_("Accounts and their rights"), [_("Account"), _("Name"), _("Roles"), _("Camera scope"),
                                                  _("Opened"), _("Account state"), _("Changes in the period")],
                 accounts),
        _section(_("Retrieval requests"), [_("No."), _("Kind"), _("Reason"), _("Cameras"), _("Mode"), _("Requester"),
                                           _("Filed by"), _("Filed"), _("Decided by"), _("State"), _("Flag")],
                 requests),
    ]


def _use_parts(doc: Doc, r: dict[str, Any]) -> list[str]:
    views = [[v["grant_id"], v["request_id"], _cams(v["cameras"]),
              f"{doc.datetime(v['from_us'])} ～ {doc.datetime(v['to_us'])}", doc.datetime(v["used_us"]),
              doc.who(v["custodian"]), doc.who(v["approver"]), v["watcher"] or "-"] for v in r["viewings"]]
    views += [["-", "-", "-", x["action"], doc.datetime(x["at_us"]), doc.who(x["actor"]), "-", "-"]
              for x in r["live_and_playback"]]
    exports = [[e["id"], e["grant_id"], e["request_id"], _cams(e["cameras"]), doc.datetime(e["created_us"]),
                doc.who(e["custodian"]), doc.who(e["approver"]), _size(e["bytes"]), (e["manifest_sha256"] or "")[:16]]
               for e in r["exports"]]
    holds = [[h["id"], h["kind"], _cams(h["cameras"]), h["case_ref"],
              f"{doc.datetime(h['placed_us'])} {doc.who(h['placed_by'])}",
              f"{h['ended_how']} {doc.datetime(h['ended_us'])} {doc.who(h['ended_by'])}" if h["ended_us"] else _("in force")]
             for h in r["holds"]]
    return [
        _section(_("Viewings (grants used, live view and playback)"),
                 [_("Grant"), _("Request"), _("Cameras"), _("Footage or action"), _("When"), _("Custodian or who"),
                  _("Approver"), _("Watched by")], views),
        _section(_("Exports"), [_("Export"), _("Grant"), _("Request"), _("Cameras"), _("Made"), _("Custodian"),
                                _("Approver"), _("Size"), _("Manifest")], exports),
        _section(_("Holds"), [_("No."), _("Kind"), _("Cameras"), _("Case"), _("Placed"), _("Ended")], holds),
    ]


def _care_parts(doc: Doc, r: dict[str, Any]) -> list[str]:
    d = r["destructions"]
    gone = [[x["camera"], x["reason"], x["segments"], _size(x["bytes"]), doc.datetime(x["oldest_us"]),
             doc.datetime(x["newest_us"])] for x in d["by_camera"]]
    runs = [[i["id"], i["kind"], doc.datetime(i["ran_us"]), i["cameras"], i["anomalies"],
             doc.who(i["inspector"]) if i["inspector"] else _("UNSIGNED"),
             doc.who(i["supervisor"]) if i["supervisor"] else _("not countersigned")] for i in r["inspections"]]
    fails = [[f["name"], doc.datetime(f["at_us"]), f["via"], f["why"]] for f in r["failed_logins"]["list"]]
    summary = _("{segments} segments, {size}, in {passes} retention passes.").format(
        segments=d["segments"], size=_size(d["bytes"]), passes=d["passes"])
    return [
        _section(_("Destructions"), [_("Camera"), _("Why destroyed"), _("Segments"), _("Size"), _("Oldest"),
                                     _("Newest")], gone) + tag("p", summary, attrs='class="meta"'),
        _section(_("Inspections"), [_("No."), _("Kind"), _("Ran"), _("Cameras checked"), _("Anomalies"), _("Inspector"),
                                    _("Supervisor")], runs),
        _section(_("Failed logins"), [_("Account"), _("When"), _("Via"), _("Why")], fails),
    ]


def audit_report_html(doc: Doc, r: dict[str, Any], printed_us: int,
                      extra: Sequence[tuple[str, list[str], list[list[Any]]]] = ()) -> str:
    """The report; `extra`: more (title, headers, rows) parts, already in the document's language."""
    title = _("CCTV audit report")
    period = _("Period: {start} to {end}.").format(start=doc.date(r["from_us"], long=True),
                                                   end=doc.date(r["to_us"], long=True))
    sign = tag("table", "", tag("tr", "", tag("th", _("Audited by")) + "<td></td>" + tag("th", _("Date"))
                                + "<td></td>"), attrs='class="sign"')
    body = (tag("h1", title) + tag("p", f"{doc.site_name}　{period}", attrs='class="meta"')
            + _chain(doc, r["audit_chain"])
            + "".join(_people_parts(doc, r) + _use_parts(doc, r) + _care_parts(doc, r))
            + "".join(_section(*part) for part in extra) + sign)
    return page(doc, title, body, _("the audit form and usage register"),
                printed_us, "register", cite="audit")

