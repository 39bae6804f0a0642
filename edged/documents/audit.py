"""The periodic audit report as a printable page (docs/requirements.md R7.1-R7.2): the
report the daemon builds (storage/audit_report.py: `audit.report`), in the site's language
with its dates. What the ethics office or the police audit (002 §17) files."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc, code, page, table, tag
from edged.documents.audit_in_force import in_force_parts
from edged.documents.register import RUN_LABELS
from edged.documents.retrieval import CATEGORY_LABELS, KIND_LABELS, STATE_LABELS, label, mode_label
from edged.i18n import N_, _
from edged.rules import audit_words as said
from edged.rules.words import (ACCOUNT_EVENT_WORDS, APPLICATION_WORDS, HOLD_END_WORDS, HOLD_WORDS,
                               ROLE_WORDS, event_words, phrases, word)
from storage.people.signatures import SIGNED

ROLE_LABELS = ROLE_WORDS  # edged/rules/words.py: one set of role words on every page and form
EVENT_WORDS = ACCOUNT_EVENT_WORDS   # an account's history as the desk's account page says it (design/0392)
APPLICATION_ACTIONS = APPLICATION_WORDS   # as edged/documents/pages.py's form says them
FLAG_WORDS = {"major": N_("major"), "abnormal": N_("abnormal")}
# why footage was destroyed (storage/retention/plan.py's reasons)
DESTROYED_WORDS = {"max_retention": N_("past its longest retention"),
                   "capacity": N_("the disk was full (past its shortest retention)")}


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def _cams(cameras: list[str] | None, cams: dict[str, str]) -> str:
    return _("all cameras") if cameras is None else _(", ").join(cams.get(c, c) for c in cameras)


def _section(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    return tag("h2", title) + (table(headers, rows) if rows else tag("p", _("None.")))


def _chain(doc: Doc, c: dict[str, Any]) -> str:
    head = c.get("head")
    text = (_("Audit chain: {n} records, intact.") if c["intact"] else
            _("Audit chain: {n} records, BROKEN: {problem}")).format(n=c["records"], problem=c.get("problem"))
    raw = ""
    if head:   # the head's hash: to compare with the one the central office holds, not to read
        raw = " " + tag("span", _("Its last record: No. {seq}, hash").format(seq=head["seq"])) + " " + code(head["hash"])
    return tag("p", text, raw, attrs='class="meta"')


def _event(doc: Doc, e: dict[str, Any]) -> str:
    """One change of an account in the period: what, when, by whom, why."""
    what = event_words(e["action"])
    if e["action"].startswith(SIGNED):   # a sign-off of the account's application: its box
        why = _("box: {box}").format(box=e["reason"])
    else:
        why = said.stored(e.get("reason") or "")
    return _("{what} {time}, by {by}: {why}").format(what=what, time=doc.datetime(e["at_us"]), by=doc.who(e["by"]),
                                                     why=why or "-")


def _named(doc: Doc, a: dict[str, Any]) -> str:
    """An account's person: by the site's map of names (title and name), else its own full name."""
    who = doc.who(a["name"])
    return a["full_name"] if who == a["name"] and a.get("full_name") else who


def _people_parts(doc: Doc, r: dict[str, Any], cams: dict[str, str]) -> list[str]:
    accounts = [[_named(doc, a), _(", ").join(label(ROLE_LABELS, x) for x in a["roles"]),
                 _cams(a["cameras"], cams), doc.date(a["opened_us"]),
                 _("revoked {date}").format(date=doc.date(a["revoked_us"])) if a["revoked_us"] else _("active"),
                 phrases(_event(doc, e) for e in a["events"])]
                for a in r["accounts"]]
    requests = [[q["id"], doc.forms.kinds.get(q["kind"]) or label(KIND_LABELS, q["kind"]),
                 doc.forms.categories.get(q["category"]) or label(CATEGORY_LABELS, q["category"]),
                 _cams(q["cameras"], cams), mode_label(doc, q["mode"]), q["requester_name"] or "-",
                 doc.who(q["filed_by"]), doc.datetime(q["filed_us"]), doc.who(q["decided_by"]),
                 label(STATE_LABELS, q["state"]) + (" " + _("LATE") if q["late"] else ""),
                 label(FLAG_WORDS, q["flag"])]
                for q in r["requests"]]
    return [
        _section(_("Accounts and their rights"), [_("Name"), _("Roles"), _("Camera scope"),
                                                  _("Opened"), _("Account state"), _("Changes in the period")],
                 accounts),
        _section(_("Retrieval requests"), [_("No."), _("Kind"), _("Reason"), _("Cameras"), _("Mode"), _("Requester"),
                                           _("Filed by"), _("Filed"), _("Decided by"), _("State"), _("Flag")],
                 requests),
    ]


def _watcher(v: dict[str, Any]) -> str:
    w = v.get("watcher")
    if isinstance(w, str) and w.startswith("request "):   # the chain points to the request's requester
        return v.get("requester") or _("the person named in request {id}").format(id=w.removeprefix("request "))
    return w or "-"


def _use_parts(doc: Doc, r: dict[str, Any], cams: dict[str, str]) -> list[str]:
    views = [[v["grant_id"], v["request_id"], _cams(v["cameras"], cams),
              f"{doc.datetime(v['from_us'])} ～ {doc.datetime(v['to_us'])}", doc.datetime(v["used_us"]),
              doc.who(v["custodian"]), doc.who(v["approver"]), _watcher(v)] for v in r["viewings"]]
    views += [["-", "-", "-", said.action_words(x["action"]), doc.datetime(x["at_us"]), doc.who(x["actor"]), "-", "-"]
              for x in r["live_and_playback"]]
    exports = [[e["id"], e["grant_id"], e["request_id"], _cams(e["cameras"], cams), doc.datetime(e["created_us"]),
                doc.who(e["custodian"]), doc.who(e["approver"]), _size(e["bytes"]),
                code((e["manifest_sha256"] or "")[:16]) if e["manifest_sha256"] else "-"]
               for e in r["exports"]]
    holds = [[h["id"], label(HOLD_WORDS, h["kind"]), _cams(h["cameras"], cams), h["case_ref"],
              f"{doc.datetime(h['placed_us'])} {doc.who(h['placed_by'])}",
              f"{label(HOLD_END_WORDS, h['ended_how'])} {doc.datetime(h['ended_us'])} {doc.who(h['ended_by'])}"
              if h["ended_us"] else _("in force")]
             for h in r["holds"]]
    return [
        _section(_("Viewings (grants used, live view and playback)"),
                 [_("Grant"), _("Request"), _("Cameras"), _("Footage or action"), _("When"), _("Custodian or who"),
                  _("Approver"), _("Watched by")], views),
        _section(_("Exports"), [_("Export"), _("Grant"), _("Request"), _("Cameras"), _("Made"), _("Custodian"),
                                _("Approver"), _("Size"), _("Manifest")], exports),
        _section(_("Holds"), [_("No."), _("Kind"), _("Cameras"), _("Case"), _("Placed"), _("Ended")], holds),
    ]


def _care_parts(doc: Doc, r: dict[str, Any], cams: dict[str, str]) -> list[str]:
    d = r["destructions"]
    gone = [[cams.get(x["camera"], x["camera"]), label(DESTROYED_WORDS, x["reason"]), x["segments"], _size(x["bytes"]),
             doc.datetime(x["oldest_us"]), doc.datetime(x["newest_us"])] for x in d["by_camera"]]
    runs = [[i["id"], label(RUN_LABELS, i["kind"]), doc.datetime(i["ran_us"]), i["cameras"], i["anomalies"],
             doc.who(i["inspector"]) if i["inspector"] else _("UNSIGNED"),
             doc.who(i["supervisor"]) if i["supervisor"] else _("not countersigned")] for i in r["inspections"]]
    fails = [[doc.who(f["name"]), doc.datetime(f["at_us"]), word(said.VIA_WORDS, str(f["via"] or "").split(" (", 1)[0]),
              said.stored(f["why"] or "")] for f in r["failed_logins"]["list"]]
    summary = _("{segments} segments, {size}, in {passes} retention passes.").format(
        segments=d["segments"], size=_size(d["bytes"]), passes=d["passes"])
    return [
        _section(_("Destructions"), [_("Camera"), _("Why destroyed"), _("Segments"), _("Size"), _("Oldest"),
                                     _("Newest")], gone) + tag("p", summary, attrs='class="meta"'),
        _section(_("Inspections"), [_("No."), _("Kind"), _("Ran"), _("Cameras checked"), _("Anomalies"), _("Inspector"),
                                    _("Supervisor")], runs),
        _section(_("Failed logins"), [_("Who tried"), _("When"), _("Via"), _("Why")], fails),
    ]


def audit_report_html(doc: Doc, r: dict[str, Any], printed_us: int, cams: dict[str, str] | None = None) -> str:
    """The report in the office's words (issue 42): people by name, cameras by name (`cams`: id
    -> name), kinds, states and actions in words, the settings in force by their labels."""
    cams = cams or {}
    title = _("CCTV audit report")
    period = _("Period: {start} to {end}.").format(start=doc.date(r["from_us"], long=True),
                                                   end=doc.date(r["to_us"], long=True))
    sign = tag("table", "", tag("tr", "", tag("th", _("Audited by")) + "<td></td>" + tag("th", _("Date"))
                                + "<td></td>"), attrs='class="sign"')
    body = (tag("h1", title) + tag("p", f"{doc.site_name}　{period}", attrs='class="meta"')
            + _chain(doc, r["audit_chain"])
            + "".join(_people_parts(doc, r, cams) + _use_parts(doc, r, cams) + _care_parts(doc, r, cams))
            + "".join(in_force_parts(doc, r, cams)) + sign)
    return page(doc, title, body, _("the audit form and usage register"),
                printed_us, "register", cite="audit")
