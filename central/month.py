"""The auditor's month of one site (issue 43 item 6, design/0117): what the dashboard's month page
and its CSV show, each figure declared once here. The month is `edged-central report`'s
(central/report.build: camera-days, accesses, alarms, findings) plus every destruction one by one,
paged, from the node's `retention` messages (reason, the segment's SHA-256). `sections()` turns
them into rows; `cells()` writes a row's values in the sites' language (ROC dates in zh-TW), for
the page and the CSV alike. Gathering reads the store (blocking: the dashboard calls it in a thread)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from central import compliance, coverage, finding_words, report, verify
from central.i18n import N_, Speaker
from central.store import Store

PAGE = 200   # destructions a page
NODE_SLACK_US = 86_400_000_000  # a retention message may be stamped this long after the destruction

# section -> its columns, in order; the page's tables and the CSV files are these
SECTIONS: dict[str, list[str]] = {
    "retention": ["day", "node", "camera", "retention", "destroyed", "destroyed_early", "destroyed_below_min"],
    "destructions": ["destroyed_us", "node", "camera", "reason", "segment_id", "sha256", "bytes", "start_us",
                     "end_us"],
    "accesses": ["at_us", "node", "action", "who", "cameras", "request", "filed_by", "grant", "approved_by", "ok",
                 "why"],
    "alarms": ["raised_us", "cleared_us", "node", "id", "kind", "severity", "camera", "suspect"],
    "findings": ["about_us", "node", "severity", "title", "explanation", "kind", "message"],
    "coverage": ["day", "camera", "covered", *coverage.KINDS, "not_covered"],
}
HEADINGS = {"retention": N_("Retention achieved per camera-day"), "destructions": N_("Destructions"),
            "accesses": N_("Accesses and their approvals"), "alarms": N_("Alarms"), "findings": N_("Findings"),
            "coverage": N_("Time covered per camera-day, by kind (seconds)")}
LABELS = {"destroyed_us": N_("destroyed at"), "reason": N_("reason"), "segment_id": N_("segment"),
          "sha256": N_("segment SHA-256"), "bytes": N_("bytes"), "start_us": N_("footage from"),
          "end_us": N_("footage to"), "suspect": N_("suspect"), "title": N_("finding"),
          "explanation": N_("what it means"), "covered": N_("covered once"), "live": N_("recorded live"),
          "backfilled": N_("backfilled from the camera's recording"), "standby": N_("fetched back from the standby"),
          "stood_in": N_("recorded by the standby"), "not_covered": N_("held by no box")}
KIND_OF = {"findings": N_("finding id"), "alarms": N_("alarm kind")}  # the "kind" column, by section
# values that arrive as data, shown in the sites' language
REASONS = {"max_retention": N_("past its maximum retention"), "capacity": N_("for disk space")}
ACTIONS = {"grant.use": N_("viewing"), "export.done": N_("export"), "playback.start": N_("playback")}
SUSPECT_WHY = (N_("unknown severity"), N_("start in the future"))
# central/verify.judge_access's reasons, matched and said again in the sites' language (a reason
# of another shape stays as made; tests/test_central_month.py runs every branch through these)
WHY = [(re.compile(p), t) for p, t in (
    (r"^(?P<action>\S+) names no grant: ",  # i18n: a pattern
     N_("{action} names no grant: footage was reached without an approved request")),
    (r"^no approval on record for grant (?P<grant>.+)$", N_("no approval on record for grant {grant}")),  # i18n: a pattern
    (r"^grant (?P<grant>.+) was approved by (?P<who>.+), who filed the request$",  # i18n: a pattern
     N_("grant {grant} was approved by {who}, who filed the request")),
    (r"^grant (?P<grant>.+) used again ",  # i18n: a pattern
     N_("grant {grant} used again (a second viewing or copy needs a new request)")),
    (r"^grant (?P<grant>.+) used after it expired$", N_("grant {grant} used after it expired")),  # i18n: a pattern
    (r"^grant (?P<grant>.+) was approved for (?P<mode>.+), not for a copy$",  # i18n: a pattern
     N_("grant {grant} was approved for {mode}, not for a copy")),
    (r"^grant (?P<grant>.+), approved by (?P<who>.+)$", N_("grant {grant}, approved by {who}")),  # i18n: a pattern
)]
TIMES = {"destroyed_us", "start_us", "end_us", "at_us", "raised_us", "cleared_us", "about_us"}
WORDS = {"retention", "severity", "title", "explanation"}


def gather(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int, *, page: int = 1,
           per_page: int | None = PAGE) -> dict[str, Any]:
    """The site-month of the report, with one page of its destructions (`per_page` None: all of
    them, for the CSV). LookupError: no such site; ValueError: not a month."""
    r = report.build(store, site, month, tz, now_us)
    days = compliance.month_days(month, tz)
    nodes = [n["node"] for n in r["nodes"]]
    ph = ",".join("?" * len(nodes))
    where = f"FROM messages WHERE node IN ({ph}) AND kind = 'retention' AND ts_us >= ? AND ts_us < ?"  # i18n: SQL
    args = [*nodes, days[0].start_us, days[-1].end_us]
    total = next(store.db.query(f"SELECT count(*) AS n {where}", args))["n"]
    limit = "" if per_page is None else f" LIMIT {int(per_page)} OFFSET {max(0, page - 1) * int(per_page)}"
    gone = []
    for m in store.db.query(f"SELECT node, seq, payload {where} ORDER BY ts_us, node, seq{limit}", args):
        try:
            d = json.loads(m["payload"])
        except ValueError:
            continue
        for one in verify.destructions(d) if isinstance(d, dict) else []:  # a pass's, or one (issue 53)
            if isinstance(one, dict):
                gone.append({"node": m["node"], **{c: one.get(c) for c in SECTIONS["destructions"] if c != "node"}})
    return {**r, "destructions": gone, "destructions_total": total, "page": page, "per_page": per_page,
            "coverage": coverage.month_rows(store.db, site, days, now_us)}


def sections(m: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each section's rows, the figures the page and the CSV both show."""
    findings = []
    for f in m["findings"]:
        title, explanation = finding_words.words(f["kind"])
        findings.append({**f, "title": title, "explanation": explanation})
    return {"retention": m["camera_days"], "destructions": m["destructions"], "accesses": m["accesses"],
            "alarms": m["alarms"], "findings": findings, "coverage": m["coverage"]}


def cells(sp: Speaker, name: str, row: dict[str, Any]) -> list[str | int | float]:
    """A row's values as shown (the page escapes them; the CSV keeps numbers as numbers)."""
    return [_cell(sp, col, row.get(col)) for col in SECTIONS[name]]


def _cell(sp: Speaker, col: str, v: Any) -> str | int | float:
    if col in TIMES:
        return sp.local(v) if isinstance(v, int) else "-"
    if col == "day":
        return sp.day(v)
    if col == "reason":
        return sp.word(REASONS.get(v, v)) if isinstance(v, str) else "-"
    if col == "action":
        return sp.word(ACTIONS.get(v, v))
    if col == "why" and isinstance(v, str):
        return why(sp, v)
    if col == "ok":
        return sp._("yes") if v else sp._("no")
    if col == "suspect":
        return "" if v is None else sp._("suspect: {why}").format(why=sp.word(v))
    if col in ("severity",) and v is None:
        return ""
    if col in WORDS:
        return sp.word(v)
    if col == "node" and isinstance(v, str):
        return v.split("/", 1)[-1]
    if isinstance(v, list):
        return " ".join(map(str, v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    return "" if v is None else str(v)


def why(sp: Speaker, reason: str) -> str:
    """An access's reason (central/verify.judge_access) in the sites' language."""
    for pattern, template in WHY:
        m = pattern.match(reason)
        if m:
            words = m.groupdict()
            if "action" in words:
                words["action"] = sp.word(ACTIONS.get(words["action"], words["action"]))
            return sp._(template).format(**words)
    return reason


def headers(sp: Speaker, name: str) -> list[str]:
    return [sp.word((KIND_OF.get(name) if c == "kind" else None) or LABELS.get(c) or report.LABELS.get(c) or c)
            for c in SECTIONS[name]]


def bad(name: str, row: dict[str, Any]) -> bool:
    """A row the page marks (the report's own judgement, design/0028)."""
    if name == "retention":
        return row["retention"] not in ("achieved", "no data")
    if name == "alarms":
        return row.get("suspect") is not None
    if name == "coverage":
        return bool(row["not_covered"])  # a stretch of the day no box holds
    return name != "destructions" and not report._row_ok(name, row)


def to_csv(sp: Speaker, name: str, rows: list[dict[str, Any]]) -> bytes:
    """One section as CSV in the sites' language, UTF-8 with a byte-order mark (Excel then reads
    the Chinese); no cell a spreadsheet runs as a formula."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(headers(sp, name))
    for row in rows:
        w.writerow([report.csv_safe(v) if isinstance(v, str) and v != "-" else v for v in cells(sp, name, row)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
