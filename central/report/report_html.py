"""The compliance report's rendering (split from central/report/report.py, issue 57): a site-month's
report (central/report/report.build) as the page shows it, in the reader's language (report.html, the
month page's notes of archived months), and its cells as CSV. Plain string work: no store."""

from __future__ import annotations

import functools
import html
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from central.report import compliance
from central import finding_words
from central.i18n import N_, Speaker


def archived_notes(sp: Speaker, archived: list[dict[str, Any]]) -> list[str]:
    """What a page says of each archived month it touches, in the readers' language: the month
    is the one the office received the messages in (design/0140), and what went with them."""
    out = []
    for a in archived:
        if a.get("elsewhere"):   # a later month's archive holding destructions of these days (issue 73 item 7)
            out.append(sp._("{n} destructions made on these days reached the office in {month} and were archived with "
                            "that month's messages on {when} (file {file}, SHA-256 {sha256}); they are not listed one "
                            "by one here; `edged-central restore` brings them back.").format(
                n=a.get("destroyed_here", 0), month=a["month"], when=sp.local(a["archived_us"]),
                file=a["file"].rsplit("/", 1)[-1], sha256=a["sha256"]))
            continue
        d = a.get("derived") or {}
        text = sp._("The messages the office received in {month} were archived out of the store on {when} ({rows} "
                    "messages, file {file}, SHA-256 {sha256}): the figures here come from what was kept (camera-day "
                    "summaries, accesses and their approvals, alarms, findings); `edged-central restore` brings the "
                    "month back.").format(month=a["month"], when=sp.local(a["archived_us"]), rows=a["rows"],
                                          file=a["file"].rsplit("/", 1)[-1], sha256=a["sha256"])
        if d:
            text += " " + sp._("Archived with them: {destructions} destructions one by one, {audit} audit records, "
                               "{heads} chain heads, {rejected} messages turned away.").format(
                destructions=d.get("destructions", 0), audit=d.get("audit", 0), heads=d.get("heads", 0),
                rejected=d.get("rejected", 0))
        out.append(text)
    return out


# rendering --------------------------------------------------------------------------------------
def fmt(us: int | None, tz: ZoneInfo) -> str:
    return "-" if us is None else datetime.fromtimestamp(us / 1e6, tz).strftime("%Y-%m-%d %H:%M:%S")


TABLES = {
    "camera_days": ["day", "node", "camera", "retention", "destroyed", "destroyed_early", "destroyed_below_min",
                    "accesses", "accesses_not_compliant", "inspection", "alarms", "alarm_open_s"],
    "accesses": ["node", "seq_local", "at_us", "action", "who", "grant", "request", "cameras", "filed_by",
                 "approved_by", "ok", "why"],
    "alarms": ["node", "id", "kind", "severity", "camera", "raised_us", "cleared_us", "open_s", "suspect"],
    "inspections": ["node", "run", "kind", "ran_us", "signed_us", "inspector", "supervisor", "on_time"],
    "findings": ["node", "kind", "severity", "about_us", "found_us", "message"],
}


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return csv_safe(" ".join(map(str, v)) if isinstance(v, list) else json.dumps(v, ensure_ascii=False))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)  # a number stays a number (a negative one included)
    return csv_safe(str(v))


def csv_safe(text: str) -> str:
    """A node's string as a CSV cell no spreadsheet runs as a formula (OWASP's advice: a leading
    quote before = + - @ tab CR)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# column titles and the values of the judged columns, in the report's language (design/0028); the
# CSV and JSON keep these English keys for scripts
LABELS = {
    "day": N_("day"), "node": N_("node"), "camera": N_("camera"), "retention": N_("retention"),
    "destroyed": N_("destroyed"), "destroyed_early": N_("destroyed early"),
    "destroyed_below_min": N_("destroyed below minimum"), "accesses": N_("accesses"),
    "accesses_not_compliant": N_("accesses not compliant"), "inspection": N_("inspection"), "alarms": N_("alarms"),
    "alarm_open_s": N_("alarm open (s)"), "seq_local": N_("record"), "at_us": N_("at"), "action": N_("action"),
    "who": N_("who"), "grant": N_("grant"), "request": N_("request"), "cameras": N_("cameras"), "ok": N_("compliant"),
    "why": N_("why"), "id": N_("alarm"), "kind": N_("kind"), "severity": N_("severity"), "raised_us": N_("raised"),
    "cleared_us": N_("cleared"), "open_s": N_("open (s)"), "run": N_("run"), "ran_us": N_("ran"),
    "signed_us": N_("signed"), "inspector": N_("inspector"), "supervisor": N_("supervisor"),
    "on_time": N_("on time"), "filed_by": N_("filed by"), "approved_by": N_("approved by"),
    "suspect": N_("suspect"), "about_us": N_("about"), "found_us": N_("found"), "message": N_("message"),
}
HEADINGS = {"camera_days": N_("Camera days"), "accesses": N_("Accesses"), "alarms": N_("Alarms"),
            "inspections": N_("Inspections"), "findings": N_("Findings")}
VALUES = (N_("achieved"), N_("breached"), N_("early destruction"), N_("no data"), N_("signed late"),
          N_("unsigned"), N_("missing"), N_("pending"), N_("critical"), N_("warning"), N_("info"), N_("yes"), N_("no"))
JUDGED = {"retention", "inspection", "severity", "ok", "on_time", "suspect"}


def _shown(sp: Speaker, col: str, v: Any, times: set[str]) -> str:
    if col in times:
        return sp.local(v)
    if col == "day":
        return sp.day(v)
    if col in JUDGED:
        if v is None:  # a forged alarm's missing severity is blank, and its suspect column says why
            return ""
        return sp.word(("yes" if v else "no") if isinstance(v, bool) else v)
    return _cell(v)


STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
         "td,th{border:1px solid #999;padding:2px 6px;font-size:85%;text-align:left}th{background:#eee}"
         "tr.bad td{background:#fdd}")
TIMES = {"at_us", "raised_us", "cleared_us", "ran_us", "signed_us", "about_us", "found_us"}


def speaker(tz: ZoneInfo, language: str) -> Speaker:
    sp = Speaker(language, tz)
    # a site-month repeats its days, verdicts and names thousands of times: each rendered once
    sp.day, sp.word = functools.lru_cache(maxsize=4096)(sp.day), functools.lru_cache(maxsize=4096)(sp.word)  # type: ignore[method-assign]
    return sp


def html_top(sp: Speaker, r: dict[str, Any]) -> tuple[str, list[str]]:
    """(the page's head up to <body>, the body's parts before the tables): its title, the summary,
    the archived months' notes and the nodes. ``r``: a report's site, month, timezone, made_us,
    summary, archived and nodes (central/report/report_files.py writes the tables after them)."""
    e = html.escape
    _ = sp._
    s = r["summary"]
    title = _("Compliance report: site {site}, {month}").format(site=r["site"], month=sp.month(r["month"]))
    body = [f"<h1>{e(title)}</h1>",
            "<p>" + _("Made {when} ({zone}) by edged-central from what the nodes published over MQTT. "
                      "Camera-days not compliant: <b>{bad_days}</b> of {days}; accesses not compliant: "
                      "<b>{bad_accesses}</b> of {accesses}; findings: {findings} ({critical} critical); alarms: "
                      "{alarms} ({open} still open).").format(
                when=e(sp.local(r["made_us"])), zone=e(r["timezone"]), bad_days=s["camera_days_not_compliant"],
                days=s["camera_days"], bad_accesses=s["accesses_not_compliant"], accesses=s["accesses"],
                findings=s["findings"], critical=s["findings_critical"], alarms=s["alarms"],
                open=s["alarms_open"]) + "</p>",
            *(f"<p class=\"archived\">{e(t)}</p>" for t in archived_notes(sp, r.get("archived", []))),
            "<h2>" + e(_("Nodes")) + "</h2>",
            _table([_("node"), _("status"), _("version"), _("cameras"), _("min/max days"), _("signed head")],
                   [[n["node"], sp.word(n["status"]) if n["status"] else "-", n["version"] or "-",
                     " ".join(n["cameras"]),
                     f"{(n['policy'] or {}).get('min_days', '-')}/{(n['policy'] or {}).get('max_days', '-')}",
                     "-" if not n["head"] else f"{n['head']['seq']} {n['head']['hash'][:16]}"]
                    for n in r["nodes"]])]
    head = (f"<!DOCTYPE html>\n<html lang=\"{sp.html_lang}\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n")
    return head, body


HTML_END = "\n</body></html>\n"


def heading(sp: Speaker, name: str) -> str:
    return "<h2>" + html.escape(sp.word(HEADINGS[name])) + "</h2>"


def table_head(sp: Speaker, name: str) -> str:
    return "<table><thead><tr>" + "".join(f"<th>{_escaped(sp.word(LABELS[c]))}</th>" for c in TABLES[name]) + \
        "</tr></thead><tbody>"


TABLE_END = "</tbody></table>"


def none(sp: Speaker) -> str:
    return "<p>" + html.escape(sp._("None.")) + "</p>"


SAID = {"findings": "message", "accesses": "why"}  # the column of a section's sentence made as a Msg


def said(sp: Speaker, name: str, x: dict[str, Any]) -> str:
    """A row's sentence (a finding's message, an access's why) in the report's language, from the
    template and values the row keeps as "said" (design/0280, design/0287); its English as it came
    when it has none (a report.json written before)."""
    text = x.get(SAID[name])
    return finding_words.access_why(sp, text, x.get("said")) if name == "accesses" else sp.said(str(text), x.get("said"))


def html_row(sp: Speaker, name: str, x: dict[str, Any]) -> str:
    """One row of a section's table, as the page shows it (a finding's message, an access's why in its language)."""
    cells = [_shown(sp, c, x.get(c), TIMES) if c != SAID.get(name) else _cell(said(sp, name, x))
             for c in TABLES[name]]
    cls = ' class="bad"' if not _row_ok(name, x) else ""
    return f"<tr{cls}>" + "".join(f"<td>{_escaped(str(v))}</td>" for v in cells) + "</tr>"


def to_html(r: dict[str, Any], tz: ZoneInfo, language: str = "en") -> str:
    sp = speaker(tz, language)
    head, body = html_top(sp, r)
    for name in TABLES:
        body.append(heading(sp, name))
        body.append(table_head(sp, name) + "".join(html_row(sp, name, x) for x in r[name]) + TABLE_END
                    if r[name] else none(sp))
    return head + "\n".join(body) + HTML_END


def _row_ok(name: str, x: dict[str, Any]) -> bool:
    if name == "camera_days":
        return compliance.day_ok(x)
    if name == "accesses":
        return bool(x["ok"])
    if name == "inspections":
        return bool(x["on_time"])
    if name == "findings":
        return bool(x["severity"] == "info")
    return x.get("cleared_us") is not None and x.get("suspect") is None


@functools.lru_cache(maxsize=65536)
def _escaped(v: str) -> str:
    return html.escape(v)


def _table(cols: list[str], rows: list[list[Any]], bad: list[bool] | None = None) -> str:
    e = _escaped
    head = "<tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
    lines = []
    for i, row in enumerate(rows):
        cls = ' class="bad"' if bad and bad[i] else ""
        lines.append(f"<tr{cls}>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>")
    return f"<table><thead>{head}</thead><tbody>" + "".join(lines) + "</tbody></table>"
