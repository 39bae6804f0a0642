"""The printed audit report's last parts (R7.2: "the system's settings and use"), in the office's
words (issue 42 item 3): the settings in force as an ethics officer reads them (each setting by
its label, cameras and people by name, kinds, modes and choices in words, spans in days) and
the deadlines. The config keys and ids stay in `edgectl audit report`'s text
(edged/documents/audit_settings.py), for the technician; the hashes and the config file's path
are data to compare, printed as such (`code`)."""

from __future__ import annotations

from typing import Any

from edged.documents import Doc, code, table, tag
from edged.documents import settings_words as sw
from edged.documents.retrieval import CATEGORY_LABELS, KIND_LABELS, label, mode_label
from edged.i18n import _, fmt_month
from edged.rules.words import ROLE_WORDS, word
from edged.documents.notice import KIND_LABELS as CAMERA_KIND_LABELS


def _part(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    return tag("h2", title) + (table(headers, rows) if rows else tag("p", _("None.")))


def _yes(v: Any) -> str:
    return _("yes") if v else _("no")


def _reserve(r: dict[str, Any]) -> str:
    if r.get("reserve_percent") is not None:
        return f"{r['reserve_percent']:g}%"
    n = r.get("reserve_bytes") or 0
    return _("{n} MB").format(n=f"{n / 1_000_000:g}")


def _fingerprints(doc: Doc, r: dict[str, Any]) -> list[list[Any]]:
    s = r["settings"]
    rows: list[list[Any]] = [
        [_("The settings' fingerprint (SHA-256)"), code(s["sha256"])],
        # the file by its fingerprint only: its path is the technician's, not the auditor's (issue 56)
        [_("The configuration file's fingerprint (SHA-256)"), code(s["config_file_sha256"]) if s["config_file_sha256"] else _("unreadable")]]
    got = r.get("recorded")
    if got:
        rows.append([_("Audit recorded as done"), _("{time}, by {who}").format(
            who=_by(doc, got["name"], got["account"]), time=doc.datetime(got["at_us"]))])
    return rows


def _step(doc: Doc, st: dict[str, Any], cams: dict[str, str]) -> str:
    """One box of a chain: its name as the site writes it, who signs it, which cameras it is for."""
    name = word(ROLE_WORDS, st["name"])
    said = [doc.whom(st["approvers"])] if st.get("approvers") else []
    if said and all(doc.who(a).startswith(name) for a in st["approvers"]):
        name, said = said[0], []   # 「主任 劉俊宏」, not 「主任（主任 劉俊宏）」: the title names the box
    said += [_("the requester's unit chief")] if st.get("unit") else []
    said += [_(", ").join(cams.get(c, c) for c in st["cameras"])] if st.get("cameras") else []
    return name + "".join(_(" ({what})").format(what=x) for x in said)


def _settings(doc: Doc, s: dict[str, Any], cams: dict[str, str]) -> list[str]:
    ret, policy, insp = s["retention"], s["policy"], s["inspection"]

    def kind_word(kind: str) -> str:
        return doc.forms.kinds.get(kind) or label(KIND_LABELS, kind)
    cats = _(", ").join(doc.forms.categories.get(c) or label(CATEGORY_LABELS, c) for c in policy["categories"])
    return [
        _part(_("Settings in force: retention"), [_("Setting"), _("Value")], [
            [_("Shortest retention (every camera unless its own)"), sw.span(ret["min_retention_us"])],
            [_("Longest retention (every camera unless its own)"), sw.span(ret["max_retention_us"])],
            [_("Disk space kept free"), _reserve(ret)],
            [_("When the disk is full"), sw.said(sw.ON_FULL_WORDS, ret["on_full"])],
            [_("An evidence hold keeps footage for"), sw.span(ret["evidence_hold_us"])],
            [_("Footage released from a hold is kept a further"), sw.span(ret["grace_us"])]]),
        _part(_("Settings in force: cameras"), [_("Camera"), _("Enabled"), _("Recording"), _("Kind"),
                                                _("Shortest retention"), _("Longest retention"),
                                                _("Its own health thresholds")], [
            [c.get("name") or cams.get(c["id"], c["id"]), _yes(c["enabled"]), sw.said(sw.CAMERA_MODE_WORDS, c["mode"]),
             sw.said(CAMERA_KIND_LABELS, c["kind"]), sw.span(c["min_retention_us"]), sw.span(c["max_retention_us"]),
             sw.own_health(c["health"]) if c["health"] else _("the site's")]
            for c in s["cameras"]]),
        _part(_("Settings in force: retrieval requests (reasons: {categories})").format(categories=cats),
              [_("Kind"), _("Modes"), _("A copy goes to"), _("Signed receipt"), _("Answer due in"),
               _("Approval chain")], [
            [kind_word(kind), _(", ").join(mode_label(doc, m) for m in k["modes"]),
             sw.said(sw.COPY_TO_WORDS, k["copy_to"]), _yes(k["receipt"]), sw.span(k["due_us"]) if k["due_us"] else "-",
             " → ".join(_step(doc, st, cams) for st in k["chain"])]
            for kind, k in sorted(policy["kinds"].items())]),
        _part(_("Settings in force: health thresholds (site) and schedules"), [_("Setting"), _("Value")],
              sw.health_rows(s["health"]) + [
                  [_("inspection schedule"), sw.said(sw.SCHEDULE_WORDS, insp["schedule"])],
                  [_("The inspection register is due by day"), insp["register_due_day"] or _("not tracked")],
                  [_("An audit every (months)"), s["audit"]["every_months"] or _("not tracked")],
                  [_("Copies before maintenance go to"),
                   code(s["maintenance"]["backup_dir"]) if s["maintenance"]["backup_dir"] else _("the data disk")]]),
    ]


def _month(doc: Doc, label_: str) -> str:
    """A register's month ("2026-10", edged/rules/deadlines.py) on the site's calendar."""
    year, _sep, month = label_.partition("-")
    return fmt_month(int(year), int(month), doc.lang) if year.isdigit() and month.isdigit() else label_


def _by(doc: Doc, name: str, account: str) -> str:
    """Who recorded an audit: the name typed, and the account's person where that says more."""
    person = doc.who(account)
    if not name or person.endswith(name):   # the same person, perhaps with the site's title
        return person
    return name if person == "-" else _("{name} ({person})").format(name=name, person=person)


def _deadlines(doc: Doc, d: dict[str, Any]) -> str:
    last = d.get("last_audit")
    rows: list[list[Any]] = [
        [_("The last audit"), _("{time}, by {who}").format(
            time=doc.datetime(last["at_us"]), who=_by(doc, last["by"], last["account"])) if last else _("none")],
        [_("The next audit is due by"), doc.datetime(d["audit_due_us"]) if d["audit_due_us"] else _("not tracked")],
        [_("This month's inspection register is due by"),
         doc.datetime(d["register_due_us"]) if d["register_due_us"] else _("not tracked")]]
    rows += [[_("Inspection register of {month}: LATE").format(month=_month(doc, x["month"])),
              _("due {time}; inspections No. {runs} not countersigned").format(
                  time=doc.datetime(x["due_us"]), runs=_(", ").join(str(n) for n in x["runs"]))]
             for x in d["registers_late"]]
    return _part(_("Deadlines"), [_("Deadline"), _("Date")], rows)


def in_force_parts(doc: Doc, r: dict[str, Any], cams: dict[str, str]) -> list[str]:
    """The settings in force and the deadlines, as the report's closing parts (HTML)."""
    out: list[str] = []
    if r.get("settings"):
        out.append(_part(_("Settings in force"), [_("Setting"), _("Value")], _fingerprints(doc, r)))
        if r["settings"].get("in_force"):
            out += _settings(doc, r["settings"]["in_force"], cams)
    if r.get("deadlines"):
        out.append(_deadlines(doc, r["deadlines"]))
    return out
