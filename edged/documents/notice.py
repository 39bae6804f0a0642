"""The public notice of camera locations (R3.5, docs/requirements.md), a poster to post at the
site, and the camera inventory it is drawn from (with the recording period, machine room and
asset number of each camera). Rows are the daemon's `cameras` answer: the configured, enabled
cameras with their effective retention (`min_days`, `max_days`)."""

from __future__ import annotations

from typing import Any, Callable

from edged.documents import Doc, esc, page, table, tag, wrap
from edged.i18n import N_, _, ngettext, us

KIND_LABELS = {"network": N_("network camera"), "analogue": N_("analogue camera")}


def kind_label(kind: str) -> str:
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def retention_text(r: dict[str, Any], doc: Doc | None = None) -> str:
    """How long a camera's footage is kept: in the rule's own words ([forms] retention, its unit
    as the rule writes it: 「1年內」, not 372 days) for a camera that keeps the site's retention
    (`site_retention`), else in days."""
    if r.get("mode") == "live":  # watched, not recorded by policy (design/0038)
        return _("watched live, not recorded")
    if doc is not None and doc.forms.retention and r.get("site_retention"):
        return doc.forms.retention
    return _("at least {min} days, destroyed within {max} days").format(min=r["min_days"], max=r["max_days"])


def notice_html(doc: Doc, rows: list[dict[str, Any]], list_changed_us: int | None, printed_us: int) -> str:
    """The poster: who records here, where, why, how long it is kept, whom to ask. No address
    of a camera, no technical detail."""
    lead = ngettext("{n} camera records at {us}.", "{n} cameras record at {us}.",
                    len(rows)).format(n=len(rows), us=us())
    keep = _("Footage is kept as stated for each camera, then destroyed, unless it is held as evidence.")
    cells = [[r["location"] or "-", r["name"], r["purpose"] or "-", r["coverage"] or "-",
              r.get("recording_period") or "-", retention_text(r, doc),
              " ".join(x for x in (r["manager"], r["contact"]) if x) or "-"] for r in rows]
    changed = doc.date(list_changed_us, long=True) if list_changed_us else _("not recorded")
    last = _("Camera list last changed on {date}.").format(date=changed)
    body = (tag("h1", _("CCTV in operation")) + f"<p class=\"lead\">{esc(doc.site_name)}<br>{esc(lead)}</p>"
            f"<p>{esc(keep)}</p>"
            + table([_("Location"), _("Camera"), _("Purpose"), _("Coverage"), _("Recording period"),
                     _("Retention"), _("Responsible")], cells)
            + tag("p", last, attrs='class="meta"'))
    # what the public reads: the site's rule that has the notice posted, and when; nothing of edged's
    rule = doc.forms.citation("notice")
    lines = [_("Posted under {rule}.").format(rule=rule)] if rule else []
    lines.append(_("Posted on {date}.").format(date=doc.date(printed_us, long=True)))
    footer = "<footer>" + "<br>".join(esc(line) for line in lines) + "</footer>"
    return wrap(doc, _("CCTV in operation"), body + footer, "poster")


def notice_text(doc: Doc, rows: list[dict[str, Any]], list_changed_us: int | None,
                table_fn: Callable[..., str]) -> str:
    """The notice as terminal text (edgectl cameras --notice)."""
    lead = ngettext("{n} camera records at {us}.", "{n} cameras record at {us}.",
                    len(rows)).format(n=len(rows), us=us())
    changed = doc.date(list_changed_us, long=True) if list_changed_us else _("not recorded")
    title, last = _("CCTV in operation"), _("Camera list last changed on {date}.").format(date=changed)
    lines = [_("{label}: {value}").format(label=title, value=doc.site_name), lead,
             _("Footage is kept as stated for each camera, then destroyed, unless it is held as evidence."), "",
             table_fn([_("LOCATION"), _("CAMERA"), _("PURPOSE"), _("COVERAGE"), _("PERIOD"), _("RETENTION"),
                       _("RESPONSIBLE"), _("CONTACT")],
                      [[r["location"] or "-", r["name"], r["purpose"] or "-", r["coverage"] or "-",
                        r.get("recording_period") or "-",
                        _("not recorded") if r.get("mode") == "live"
                        else doc.forms.retention if doc.forms.retention and r.get("site_retention")
                        else _("{min}-{max} d").format(min=r["min_days"], max=r["max_days"]),
                        r["manager"] or "-", r["contact"] or "-"] for r in rows]),
             "", last]
    return "\n".join(lines)


def inventory_rows(rows: list[dict[str, Any]], doc: Doc | None = None) -> list[list[Any]]:
    words = doc.forms.retention if doc is not None else ""   # the rule's own words, as on the notice
    return [[r["id"], r["name"], kind_label(r["kind"]), r["location"] or "-", r.get("machine_room") or "-",
             r["purpose"] or "-", r.get("recording_period") or "-", r["coverage"] or "-",
             words if words and r.get("site_retention") else _("{lo}-{hi} days").format(lo=r["min_days"], hi=r["max_days"]),
             r["manager"] or "-", r["contact"] or "-",
             r.get("asset_number") or "-"] for r in rows]


def inventory_headers() -> list[str]:
    return [_("Id"), _("Camera"), _("Kind"), _("Location"), _("Machine room"), _("Purpose"), _("Recording period"),
            _("Coverage"), _("Retention"), _("Responsible"), _("Contact"), _("Asset number")]


def inventory_html(doc: Doc, rows: list[dict[str, Any]], list_changed_us: int | None, printed_us: int) -> str:
    """The inventory the site keeps (004 annex 3 §5(1)): every camera with its kind, location,
    machine room, purpose, period, coverage, responsible manager and asset number."""
    changed = doc.date(list_changed_us, long=True) if list_changed_us else _("not recorded")
    count = ngettext("{n} camera.", "{n} cameras.", len(rows)).format(n=len(rows))
    meta = " ".join((doc.site_name, count, _("Camera list last changed on {date}.").format(date=changed)))
    body = (tag("h1", _("Camera inventory")) + tag("p", meta, attrs='class="meta"')
            # on paper a running number, not the config's id (the technician's, in edgectl's table; issue 56)
            + table([_("No."), *inventory_headers()[1:]],
                    [[i, *row[1:]] for i, row in enumerate(inventory_rows(rows, doc), 1)]))
    return page(doc, _("Camera inventory"), body, _("the camera inventory"), printed_us,
                cite="inventory")
