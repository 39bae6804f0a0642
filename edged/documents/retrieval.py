"""The retrieval application form and its approval record (R5, docs/requirements.md), filled
from a request as the daemon keeps it (`request.show`): the kind, the reason, the cameras, the
time range, the requester, each approval step with its name and time, the grant and its use.
A site that writes its forms ([forms.application], design/0081) gets its own paper: the title,
fields in the annex's order, signature boxes and categories in its words; the electronic record
follows it. Other requests get edged's generic form, limited to the kinds the site takes."""

from __future__ import annotations

import math
import re
from typing import Any

from edged.config.forms import ApplicationForm, FormField, SignBox
from edged.documents import Doc, checkbox, esc, page, table, tag
from edged.i18n import N_, _
from edged.rules.words import KIND_WORDS, MODE_WORDS, mode_word

KIND_LABELS = KIND_WORDS  # edged/rules/words.py: the same words in refusals
CATEGORY_LABELS = {"lost-property": N_("lost property"), "counter-dispute": N_("counter dispute"),
                   "personal-safety": N_("personal safety"), "major-incident": N_("other major incident"),
                   "other": N_("other")}
STATE_LABELS = {"filed": N_("filed, awaiting approval"), "approved": N_("approved"), "rejected": N_("rejected"),
                "used": N_("approved and used"), "lapsed": N_("lapsed unused")}
MODE_LABELS = MODE_WORDS


def label(labels: dict[str, str], value: str | None) -> str:
    return _(labels[value]) if value in labels else (value or "-")


def kind_label(doc: Doc, kind: str | None) -> str:
    """A request kind in the site's words ([forms.kinds]), else edged's, never a bare id if known."""
    return doc.forms.kinds.get(kind or "") or label(KIND_LABELS, kind)


def mode_label(doc: Doc, mode: str | None) -> str:
    """A request's mode in the site's words ([forms.modes]: 003's 保存, design/0447), else edged's."""
    return doc.forms.modes.get(mode or "") or mode_word(mode)


def _modes(doc: Doc, r: dict[str, Any]) -> str:
    return "".join(checkbox(r["mode"] == m, mode_label(doc, m)) for m in ("view", "copy"))


def category_label(doc: Doc, category: str | None) -> str:
    return doc.forms.categories.get(category or "") or label(CATEGORY_LABELS, category)


def _row(head: str, value: str, raw: bool = False) -> str:
    return f"<tr><th>{esc(head)}</th><td>{value if raw else esc(value)}</td></tr>"


def cameras_text(doc: Doc, cameras: list[str], names: dict[str, str]) -> str:
    """櫃檯1、大門: each camera by its name, as the office knows it (issue 42 item 2); the id only
    for a camera that has no name (any more)."""
    return ("、" if doc.lang == "zh-TW" else ", ").join(names.get(c) or c for c in cameras)


def _application(doc: Doc, r: dict[str, Any], names: dict[str, str]) -> str:
    cams = cameras_text(doc, r["cameras"], names)
    offered = doc.forms.site_kinds or tuple(KIND_LABELS)   # only the kinds the site takes
    kinds = "".join(checkbox(r["kind"] == k, kind_label(doc, k)) for k in offered)
    if r["kind"] not in offered:
        kinds += checkbox(True, kind_label(doc, r["kind"]))
    cats = _categories(doc, r)
    requester = " ".join(x for x in (r.get("requester_name"), r.get("requester_org")) if x) or _requester(doc, r)
    rows = [
        _row(_("Application date"), doc.date(r["filed_us"], long=True)),
        _row(_("Application number"), str(r["id"])),
        _row(_("Requester"), requester),
        _row(_("Contact"), r.get("requester_contact") or "-"),
        *_identity(r),
        _row(_("Kind of requester"), kinds, raw=True),
        _row(_("Reason"), cats + "<br>" + esc(r.get("reason") or ""), raw=True),
        *([_row(_("Use of the footage"), r["purpose"])] if r.get("purpose") else []),   # 用途 (002 §8, design/0113)
        _row(_("Cameras"), cams),
        _row(_("Time range"), f"{doc.datetime(r['from_us'])} ～ {doc.datetime(r['to_us'])}"),
        _row(_("Footage wanted"), _modes(doc, r), raw=True),
        _row(_("Answer due by"), doc.date(r["due_us"] - 1, long=True) if r.get("due_us") else "-"),
        _row(_("Filed by"), doc.who(r["filed_by"])),
    ]
    return tag("h2", _("Application")) + f"<table>{''.join(rows)}</table>"


def _identity(r: dict[str, Any]) -> list[str]:
    """A citizen's ID number and whether it was checked, an official letter's number: each where the
    request is one that carries it, not 「已查驗身分：否」 on an agency's paper (issue 91)."""
    citizen = r["kind"] == "citizen" or r.get("citizen_id_masked")
    rows = [_row(_("ID number (masked)"), r.get("citizen_id_masked") or "-"),
            _row(_("Identity checked"), _("yes") if r.get("identity_checked") else _("no"))] if citizen else []
    if r["kind"] in ("agency", "police-urgent") or r.get("letter_ref"):
        rows.append(_row(_("Official letter"), r.get("letter_ref") or "-"))
    return rows


def _categories(doc: Doc, r: dict[str, Any]) -> str:
    """The site's reason categories as boxes, the request's ticked (in the site's words)."""
    offered = doc.forms.site_categories or tuple(CATEGORY_LABELS)
    cats = "".join(checkbox(r["category"] == c, category_label(doc, c)) for c in offered)
    if r["category"] and r["category"] not in offered:
        cats += checkbox(True, category_label(doc, r["category"]))
    return cats


def _requester(doc: Doc, r: dict[str, Any]) -> str:
    return str(r.get("requester_name") or doc.who(r.get("requester_account") or r["filed_by"]))


def _value(doc: Doc, r: dict[str, Any], f: FormField, form: ApplicationForm, names: dict[str, str]) -> str:
    """A field of the site's form as HTML: from the request, boxes to tick, printed text, or blank."""
    if f.text:
        return esc(f.text)
    if f.choices:
        return "".join(checkbox(False, c) for c in f.choices)
    g = r.get("grant") or {}
    v = f.value
    if v is None:
        return ""
    if v == "kind":
        return "".join(checkbox(r["kind"] == k, kind_label(doc, k)) for k in form.kinds)
    if v == "category":
        return _categories(doc, r) + "<br>" + esc(r.get("reason") or "")
    if v == "mode":
        return _modes(doc, r)
    if v == "time_range":
        return esc(f"{doc.datetime(r['from_us'])} ～ {doc.datetime(r['to_us'])}")
    if v == "record":
        used = g.get("used_us")
        return esc(_("{time}, custodian {who}").format(time=doc.datetime(used), who=doc.who(g.get("used_by")))
                   if used else "")
    text = {"filed": doc.date(r["filed_us"], long=True), "number": str(r["id"]), "requester": _requester(doc, r),
            "org": r.get("requester_org"), "contact": r.get("requester_contact"),
            "id_number": r.get("citizen_id_masked"), "letter": r.get("letter_ref"), "reason": r.get("reason"),
            "purpose": r.get("purpose"),
            "cameras": cameras_text(doc, r["cameras"], names),
            "due": doc.date(r["due_us"] - 1, long=True) if r.get("due_us") else "",
            "filed_by": doc.who(r["filed_by"]), "viewer": g.get("watcher")}.get(v)
    return esc(text) if text else ""


def _line(doc: Doc, r: dict[str, Any], line: str, form: ApplicationForm, names: dict[str, str]) -> str:
    """A box's printed line, its {value} filled from the request as a field is (000 附件2's
    申請人：{requester}, design/0448)."""
    parts = re.split(r"\{([^{}]*)\}", line)   # text, value, text, ...
    return "".join(_value(doc, r, FormField("", value=p), form, names) if i % 2 else esc(p)
                   for i, p in enumerate(parts) if p)


def _box(doc: Doc, r: dict[str, Any], box: SignBox, form: ApplicationForm, names: dict[str, str]) -> str:
    """A signature box: its printed lines, its boxes to tick, and the sign-offs of its steps, on the
    box's last line where it has lines (課長：行政課課長 李建國 …, as signed on that line; design/0448)."""
    chain = [s["name"] for s in r.get("chain") or []]
    signed = []
    for s in r.get("steps") or []:
        if 0 <= s["step"] < len(chain) and chain[s["step"]] in box.steps:
            word = _("approved") if s["approve"] else _("rejected")
            signed.append(f"{esc(doc.who(s['by']))}<br>{esc(doc.datetime(s['at_us']))} {esc(word)}")   # a name unbroken
    lines = [_line(doc, r, line, form, names) for line in box.lines]
    if lines and signed:
        lines[-1] += signed.pop(0)
    parts = [f'<span class="line">{line}</span>' for line in [*lines, *signed]]
    return "".join(parts) + "".join(checkbox(c in box.ticked, c) for c in box.choices)


def _width(text: str) -> float:
    """How many ems a line of text takes: a Chinese character one, a Latin letter or digit about half."""
    return sum(1.0 if ord(c) >= 0x2E80 else 0.55 for c in text)


def _title(text: str) -> str:
    """The form's title on one line, as the annex prints it: smaller where 18 pt would wrap on A4
    (000 附件2's 32 characters, design/0448): 180 mm of the 186 the page leaves, 1 pt = 0.3528 mm,
    by a class of the print CSS (edged/documents/__init__.py: t12-t17; the desk's CSP allows no
    style attribute)."""
    size = int(180 / 0.3528 / max(_width(text), 1.0))
    return f'<h1 class="t{max(size, 12)}">{esc(text)}</h1>' if size < 18 else f"<h1>{esc(text)}</h1>"


def site_form(doc: Doc, r: dict[str, Any], form: ApplicationForm, names: dict[str, str]) -> str:
    """The site's own paper form, field by field in the annex's order, with its signature boxes."""
    # the labels' column as wide as its longest label (w8-w10 ems), not 須保存影像檔案事 / 由 (design/0448)
    wide = f"annex w{min(max([8, *(math.ceil(_width(f.label)) for f in form.fields)]), 10)}"

    def rows(below: bool) -> str:
        out = "".join(f"<tr><th>{esc(f.label)}</th><td>{_value(doc, r, f, form, names)}</td></tr>"
                      for f in form.fields if f.below == below)
        return f'<table class="{wide}">{out}</table>' if out else ""

    boxes = ""
    if form.boxes:
        boxes = ('<table class="boxes"><tr>' + "".join(f"<th>{esc(b.label)}</th>" for b in form.boxes)
                 + "</tr><tr>" + "".join(f"<td>{_box(doc, r, b, form, names)}</td>" for b in form.boxes) + "</tr></table>")
    notes = "".join(f'<p class="notes">{esc(n)}</p>' for n in form.notes)
    number = _("Application number: {id}").format(id=r["id"])
    return (f"{_title(form.title)}<p class=\"meta\">{esc(number)}</p>"
            f"{rows(False)}{boxes}{rows(True)}{notes}")


def _approvals(doc: Doc, r: dict[str, Any]) -> str:
    steps = r.get("steps") or []
    if not steps and r.get("decided_us"):  # a request decided by one approver before chains existed
        steps = [{"step": 0, "name": _("approver"), "by": r["decided_by"], "at_us": r["decided_us"],
                  "approve": r["state"] != "rejected", "reason": r.get("decision_reason")}]
    chain = r.get("chain") or [{"name": _("approver")}]
    lines = []
    for i, step in enumerate(chain):
        done = next((s for s in steps if s["step"] == i), None)
        if done is None:
            lines.append([i + 1, step["name"], "", "", _("awaiting"), ""])
        else:
            lines.append([i + 1, step["name"], doc.who(done["by"]), doc.datetime(done["at_us"]),
                          _("approved") if done["approve"] else _("rejected"), done.get("reason") or ""])
    state = _("State: {state}").format(state=label(STATE_LABELS, r["state"]))
    return (tag("h2", _("Approval record"))
            + table([_("Step"), _("Sign-off"), _("Name"), _("Time"), _("Decision"), _("Remarks")], lines)
            + tag("p", state, attrs='class="meta"'))


def _grant(doc: Doc, g: dict[str, Any] | None, names: dict[str, str]) -> str:
    if g is None:
        return tag("h2", _("Grant and its use")) + tag("p", _("No grant: the request is not approved."))
    rows = [
        _row(_("Grant number"), str(g["id"])),
        _row(_("Allowed"), mode_label(doc, g["mode"])),
        _row(_("Cameras"), cameras_text(doc, g["cameras"], names)),
        _row(_("Time range"), f"{doc.datetime(g['from_us'])} ～ {doc.datetime(g['to_us'])}"),
        _row(_("Approved by"), doc.whom(g.get("approvers") or [g["approver"]])),
        _row(_("Valid once, until"), doc.datetime(g["expires_us"])),
        _row(_("Used on"), doc.datetime(g["used_us"]) if g.get("used_us") else _("not used")),
        _row(_("Custodian"), doc.who(g.get("used_by"))),
        _row(_("Watched or received by"), g.get("watcher") or "-"),
    ]
    return tag("h2", _("Grant and its use")) + f"<table>{''.join(rows)}</table>"


def application_html(doc: Doc, request: dict[str, Any], camera_names: dict[str, str], printed_us: int) -> str:
    """One request: the application as filed (on the site's own form where it has one), each
    sign-off, the grant and how it was used."""
    form = doc.forms.form_for(request["kind"])
    record = _approvals(doc, request) + _grant(doc, request.get("grant"), camera_names)
    if form is not None:   # the footer names the site's own form, not edged's generic one (issue 91: 001's 附件4)
        body = site_form(doc, request, form, camera_names) + '<div class="record">' + record + "</div>"
        return page(doc, f"{form.title} {request['id']}", body, form.title, printed_us, cite="application",
                    clause=form.cite)
    title = _("Application to view or copy CCTV footage")
    note = (_("The viewer may not copy or photograph the footage. One application allows one viewing.")
            if request.get("mode") != "copy" else   # not under a ticked "copy" (issue 77)
            _("The copy is handed to the applicant alone. One application allows one copy."))
    body = (f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(doc.site_name)}</p>"
            + _application(doc, request, camera_names) + record + f"<p class=\"meta\">{esc(note)}</p>")
    return page(doc, f"{title} {request['id']}", body, _("the application form and its approval record"), printed_us,
                cite="application")
