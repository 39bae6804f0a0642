"""The paper that had no page (issue 31 item 9, design/0088): the account application with its
sign-offs, the evidence-preservation request and its approval, and the maintenance record.
Each is filled from what the daemon keeps (`account.show`, `hold.show`, `maintenance.list`),
on the site's own paper where it writes one ([forms.account], [forms.hold],
[forms.maintenance]: title, clause, fields in order, signature boxes), else on edged's; what
the daemon does not keep is a blank written by hand. The page frame, style and footer are the
other documents' (edged/documents/__init__.py); the boxes and fields are drawn as the
application form draws them (table.annex, table.boxes)."""

from __future__ import annotations

import json
from typing import Any, Callable

from edged.config.forms import FormField, Forms, PageForm, SignBox
from edged.documents import Doc, checkbox, esc, page, table, tag
from edged.documents.audit import ROLE_LABELS, _size as size
from edged.documents.retrieval import cameras_text, label
from edged.i18n import N_, _, speaking
from edged.rules.audit_words import stored
from edged.rules.words import event_words
from storage.people.signatures import SIGNED, application_signatures

ACTIONS = {"opened": N_("open the account"), "password": N_("change the password"),
           "revoked": N_("revoke the account")}  # 001 annex 2's 申請種類: 開通 變更密碼 註銷
HOLD_KINDS = {"evidence": N_("evidence hold"), "legal": N_("legal hold")}
HOLD_STATES = {"pending": N_("waiting for an approver"), "active": N_("in force"), "released": N_("released"),
               "expired": N_("expired"), "rejected": N_("rejected"), "lapsed": N_("lapsed unapproved")}


def _f(label_: str, value: str | None = None) -> FormField:
    return FormField(label=label_, value=value)


def _b(label_: str, value: str | None = None, lines: tuple[str, ...] = ()) -> SignBox:
    return SignBox(label=label_, value=value, lines=lines)


def _field_html(f: FormField, values: dict[str, str]) -> str:
    """A field: a value the daemon keeps (already HTML), boxes to tick, printed text, or blank."""
    if f.text:
        return esc(f.text)
    if f.choices:
        return "".join(checkbox(False, c) for c in f.choices)
    return values.get(f.value or "", "")


def _box_html(box: SignBox, values: dict[str, str], signed: dict[str, str]) -> str:
    parts = [f'<span class="line">{esc(line)}</span>' for line in box.lines]
    parts += [checkbox(c in box.ticked, c) for c in box.choices]
    if box.value and values.get(box.value):
        parts.append(f'<span class="line">{values[box.value]}</span>')
    elif not box.value and signed.get(box.label):  # signed electronically (design/0088)
        parts.append(f'<span class="line signed">{signed[box.label]}</span>')
    return "".join(parts)


def _sheet(doc: Doc, form: PageForm, default: Callable[[], PageForm], values: dict[str, str], number: str,
           record: str, replaces: str, cite: str, printed_us: int, title: str,
           signed: dict[str, str] | None = None) -> str:
    """The page: the site's paper ([forms.<page>]) or edged's, then the electronic record."""
    mine = default()
    fields, boxes = form.fields or mine.fields, form.boxes or mine.boxes
    title = form.title or title
    rows = "".join(f"<tr><th>{esc(f.label)}</th><td>{_field_html(f, values)}</td></tr>" for f in fields)
    signs = ""
    if boxes:
        signs = ('<table class="boxes"><tr>' + "".join(f"<th>{esc(b.label)}</th>" for b in boxes)
                 + "</tr><tr>" + "".join(f"<td>{_box_html(b, values, signed or {})}</td>" for b in boxes) + "</tr></table>")
    notes = "".join(f'<p class="notes">{esc(n)}</p>' for n in form.notes)
    body = (f'<h1>{esc(title)}</h1><p class="meta">{esc(doc.site_name)}　{esc(number)}</p>'
            f'<table class="annex">{rows}</table>{signs}{notes}<div class="record">{record}</div>')
    return page(doc, f"{title} {number}", body, replaces, printed_us, cite=cite, clause=form.cite)


def _signed(doc: Doc, who: str | None, at_us: int | None) -> str:
    return esc(f"{doc.who(who)} {doc.datetime(at_us)}") if who else ""


# the account application (001 annex 2) ------------------------------------------------------
def _account_default() -> PageForm:
    return PageForm(fields=(
        _f(_("Application date")), _f(_("Kind of application"), "action"), _f(_("Applying unit")),
        _f(_("User's name"), "full_name"), _f(_("Account"), "name"), _f(_("Reason"), "reason"),
        _f(_("Date carried out"), "at"), _f(_("Roles granted"), "roles"), _f(_("Cameras"), "cameras")),
        boxes=(_b(_("Applying unit"), lines=(_("Applicant:"), _("Chief:"))),
               _b(_("Approved by")), _b(_("Carried out on the system by"), "by")))


def account_boxes(forms: Forms, language: str) -> list[str]:
    """The boxes an approver signs at the desk or with `edgectl account sign` (design/0088): the
    site's [forms.account], else edged's in the site's language, that name no value the daemon fills."""
    with speaking(language):
        return [b.label for b in (forms.page("account").boxes or _account_default().boxes) if not b.value]


def account_event(a: dict[str, Any], action: str) -> dict[str, Any] | None:
    """The account's last event of `action` (opened, password, revoked), or None."""
    found = [e for e in a.get("events") or [] if e["action"] == action]
    return found[-1] if found else None


def account_html(doc: Doc, a: dict[str, Any], action: str, camera_names: dict[str, str], printed_us: int) -> str:
    """One account's application (to open it, change its password or revoke it), as the
    daemon recorded it being carried out: the action ticked, the name, the roles and cameras
    granted, the reason given, who carried it out and when; the sign-offs on paper."""
    e = account_event(a, action) or {"action": action, "at_us": None, "by": None, "reason": None}
    cams = a.get("cameras")
    values = {
        "action": "".join(checkbox(k == action, _(v)) for k, v in ACTIONS.items()),
        "at": esc(doc.date(e["at_us"], long=True)) if e["at_us"] else "",
        "name": esc(a["name"]), "full_name": esc(a.get("full_name")),
        "roles": esc("、".join(label(ROLE_LABELS, r) for r in a["roles"])),
        "cameras": checkbox(cams is None, _("every camera's picture")) + checkbox(
            cams is not None, _("some cameras ({cameras})").format(
                cameras=cameras_text(doc, cams, camera_names) if cams else "　　")),
        "reason": esc(stored(e.get("reason") or "")), "by": _signed(doc, e.get("by"), e["at_us"]),
        "opened": _signed(doc, a.get("opened_by"), a.get("opened_us")),
    }
    signed = {box: _signed(doc, s["by"], s["at_us"])
              for box, s in application_signatures(a.get("events") or [], action).items()}
    history = [[doc.datetime(x["at_us"]), _event_what(x), doc.who(x["by"]), _event_reason(x)] for x in a.get("events") or []]
    record = (tag("h2", _("The account's record")) + table([_("Time"), _("What"), _("By"), _("Reason")], history))
    return _sheet(doc, doc.forms.page("account"), _account_default, values,
                  _("Account: {name}").format(name=a["name"]), record,
                  _("the account application"), "account", printed_us, _("Application for a user account"),
                  signed)


def _event_what(e: dict[str, Any]) -> str:
    """An event of the account's record: an action, or a sign-off of one's application."""
    if e["action"] in ACTIONS:   # the application's own kind, as its ticked box says it
        return label(ACTIONS, e["action"])
    return event_words(e["action"])   # a sign-off, a vouching, live view (issue 91 W17)


def _event_reason(e: dict[str, Any]) -> str:
    if e["action"].startswith(SIGNED):  # a sign-off's reason is its box
        return _("box: {box}").format(box=e["reason"])
    return stored(e.get("reason") or "")   # edged's own reasons in the reader's words (issue 77 W1)


# the evidence-preservation request and its approval (000 §4(1)2, 004 annex 2 影像保存) ----------
def _hold_default() -> PageForm:
    return PageForm(fields=(
        _f(_("Date placed"), "placed"), _f(_("Kind"), "kind"), _f(_("Cameras"), "cameras"),
        _f(_("Time range"), "time_range"), _f(_("Why the footage must be kept"), "reason"),
        _f(_("Case reference"), "case"), _f(_("Kept until"), "expires"), _f(_("Footage kept"), "footage")),
        boxes=(_b(_("Placed by"), "placed_by"), _b(_("Approved by"), "approver")))


def hold_state(h: dict[str, Any]) -> str:
    return h.get("ended_how") or h.get("state") or "active"


def hold_html(doc: Doc, h: dict[str, Any], camera_names: dict[str, str], printed_us: int) -> str:
    """One hold as the request to preserve footage and its approval: who placed it, the
    approver and when, the cameras and time range, the reason, when it lapses."""
    pending = hold_state(h) == "pending"   # its expires_us is the lapse unapproved, not how long it keeps (issue 77)
    until = h.get("wanted_expires_us") if pending else h.get("expires_us") or h.get("wanted_expires_us")
    decided = h.get("decided_by")
    word = (_("rejected") if h.get("ended_how") == "rejected" else _("approved")) if decided else ""
    values = {
        "placed": esc(doc.date(h["placed_us"], long=True)), "placed_by": _signed(doc, h["placed_by"], h["placed_us"]),
        "kind": "".join(checkbox(h["kind"] == k, _(v)) for k, v in HOLD_KINDS.items()),
        "cameras": esc(cameras_text(doc, h["cameras"], camera_names) if h.get("cameras") else _("every camera")),
        "time_range": esc(f"{doc.datetime(h['from_us'])} ～ {doc.datetime(h['to_us'])}"),
        "reason": esc(h.get("reason")), "case": esc(h.get("case_ref")),
        "approver": (_signed(doc, decided, h.get("decided_us")) + " " + esc(word)) if decided else "",
        "expires": esc(_("{until} (asked: it lapses on {time} unless an approver approves it)").format(
            until=doc.datetime(until) if until else _("until released"), time=doc.datetime(h["expires_us"]))
            if pending and h.get("expires_us") else doc.datetime(until) if until else _("until released")),
        "review": esc(doc.date(h["review_us"], long=True)) if h.get("review_us") else "",
        "state": esc(label(HOLD_STATES, hold_state(h))),
        "footage": esc(_("{n} segments").format(n=h.get("segments", 0))),
        "extended": _signed(doc, h.get("extended_by"), h.get("extended_us")),
    }
    rows = [[_("Placed"), doc.who(h["placed_by"]), doc.datetime(h["placed_us"]), ""]]
    if decided:
        rows.append([word, doc.who(decided), doc.datetime(h.get("decided_us")), h.get("decision_reason") or ""])
    if h.get("extended_by"):
        rows.append([_("Extended"), doc.who(h["extended_by"]), doc.datetime(h.get("extended_us")), ""])
    if h.get("ended_us"):
        rows.append([label(HOLD_STATES, h.get("ended_how")), doc.who(h.get("ended_by") or "edged"), doc.datetime(h["ended_us"]),
                     h.get("end_reason") or ""])
    state = _("State: {state}").format(state=label(HOLD_STATES, hold_state(h)))
    record = (tag("h2", _("The hold's record")) + table([_("What"), _("By"), _("Time"), _("Remarks")], rows)
              + tag("p", state, attrs='class="meta"'))
    return _sheet(doc, doc.forms.page("hold"), _hold_default, values,
                  _("Hold number: {id}").format(id=h["id"]), record,
                  _("the request to preserve footage and its approval"), "hold", printed_us,
                  _("Request to preserve footage and its approval"))


# the maintenance record (002 §6(3), §15; design/0083) ---------------------------------------
def _maintenance_default() -> PageForm:
    return PageForm(fields=(
        _f(_("Began"), "began"), _f(_("Ended"), "ended"), _f(_("Work to be done"), "reason"),
        _f(_("What was done"), "note"), _f(_("Vendor"), "vendor"), _f(_("Storage touched, footage copied"), "storage"),
        _f(_("Catalog copy"), "catalog"), _f(_("Footage protected"), "protected"),
        _f(_("Destroyed during the window"), "destroyed"), _f(_("Superuser password changed"), "password")),
        boxes=(_b(_("Done by"), "began_by"), _b(_("Attended by"), "attended_by"), _b(_("Closed by"), "ended_by"),
               _b(_("Reviewed by"))))


def _size(n: int | None) -> str:
    return size(n)


def maintenance_html(doc: Doc, w: dict[str, Any], printed_us: int) -> str:
    """One maintenance window: who and when, what was to be done and what was done, the vendor,
    whether storage was touched and the footage copied first, and the password follow-up."""
    copy = json.loads(w["footage_copy"]) if w.get("footage_copy") else None
    storage = (_("yes: {copied} files ({size}) copied to {dir} and checked, {already} already there").format(
        copied=copy["copied"], size=_size(copy.get("bytes")), dir=copy["dir"], already=copy["already"])
        if copy else _("no: the footage was protected in place, not copied"))
    if not w.get("vendor"):
        password = _("not asked: no vendor attended")
    elif w.get("password_changed_us"):
        password = _("changed on {time} by {who}").format(time=doc.datetime(w["password_changed_us"]),
                                                          who=doc.who(w.get("password_changed_by")))
    else:
        password = _("NOT CHANGED yet: an alarm stands until it is")
    values = {
        "began": esc(doc.datetime(w["began_us"])),
        "ended": esc(doc.datetime(w["ended_us"]) if w.get("ended_us") else _("still open")),
        "began_by": _signed(doc, w["began_by"], w["began_us"]),
        "attended_by": esc(doc.who(w.get("attended_by"))) if w.get("attended_by") else "",
        "ended_by": _signed(doc, w.get("ended_by"), w.get("ended_us")),
        "vendor": esc(w.get("vendor") or _("none")), "reason": esc(w.get("reason")), "note": esc(w.get("end_note")),
        "storage": esc(storage), "password": esc(password),
        "catalog": esc(f"{w.get('backup')} (sha256 {(w.get('backup_sha256') or '')[:16]})"),
        "protected": esc(_("{n} segments ({size})").format(n=w.get("protected_segments") or 0,
                                                           size=_size(w.get("protected_bytes")))),
        "destroyed": esc(_("{n} segments").format(n=w.get("yielded_segments") or 0)),
    }
    return _sheet(doc, doc.forms.page("maintenance"), _maintenance_default, values,
                  _("Maintenance window number: {id}").format(id=w["id"]), "", _("the maintenance record"), "maintenance", printed_us,
                  _("Maintenance record"))
