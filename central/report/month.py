"""The auditor's month of one site (issue 43 item 6, design/0117): what the dashboard's month page
and its CSV show, each figure declared once here. The month is `edged-central report`'s
(central/report.build: camera-days, accesses, alarms, findings) plus every destruction one by one,
paged, from the node's `retention` messages (reason, the segment's SHA-256). `sections()` turns
them into rows; `cells()` writes a row's values in the sites' language (ROC dates in zh-TW), for
the page and the CSV alike. Gathering reads the store (blocking: the dashboard calls it in a thread)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from central.archive import archiving
from central.report import compliance, report, report_html
from central.checks import coverage
from central.store import coverage as stored_coverage, destructions as stored_destructions
from central import finding_words
from central.i18n import N_, Speaker
from central.store import intakes
from central.store.store import Store
from central.store.store_schema import UNJUDGED

PAGE = 200   # destructions a page
CHUNK_ROWS = 2000  # rows a piece of a CSV (a page: a quarter of it) written while the cursor reads on
NODE_SLACK_US = 86_400_000_000  # a retention message may be stamped this long after the destruction

# section -> its columns, in order; the page's tables and the CSV files are these
SECTIONS: dict[str, list[str]] = {
    "retention": ["day", "node", "camera", "retention", "destroyed", "destroyed_early", "destroyed_below_min"],
    # beside the achieved retention: each retention verdict against it, with its clock and evidence (design/0122)
    "retention_findings": ["about_us", "node", "camera", "title", "basis", "message"],
    "destructions": ["destroyed_us", "node", "camera", "reason", "verdict", "segment_id", "sha256", "bytes",
                     "start_us", "end_us"],
    # beside the destructions: what came in (a portable device's recording taken into custody, design/0349)
    "intakes": list(intakes.COLUMNS),
    "accesses": ["at_us", "node", "action", "who", "cameras", "request", "filed_by", "grant", "approved_by", "ok",
                 "why"],
    "alarms": ["raised_us", "cleared_us", "node", "id", "kind", "alarm", "severity", "camera", "message", "suspect"],
    "findings": ["about_us", "node", "severity", "title", "explanation", "kind", "message"],
    "coverage": ["day", "camera", "covered", *coverage.KINDS, "not_covered"],
}
HEADINGS = {"retention": N_("Retention achieved per camera-day"),
            "retention_findings": N_("Retention findings, with the clock and evidence each was judged on"), "destructions": N_("Destructions"),
            "intakes": N_("Portable devices' recordings taken in"),
            "accesses": N_("Accesses and their approvals"), "alarms": N_("Alarms"), "findings": N_("Findings"),
            "coverage": N_("Time covered per camera-day, by kind (seconds)")}
LABELS = {"destroyed_us": N_("destroyed at"), "reason": N_("reason"), "verdict": N_("verdict"), "segment_id": N_("segment"),
          "sha256": N_("segment SHA-256"), "bytes": N_("bytes"), "start_us": N_("footage from"),
          "end_us": N_("footage to"), "suspect": N_("suspect"), "title": N_("finding"),
          "explanation": N_("what it means"), "covered": N_("covered once"), "live": N_("recorded live"),
          "backfilled": N_("backfilled from the camera's recording"), "standby": N_("fetched back from the standby"),
          "stood_in": N_("recorded by the standby"), "not_covered": N_("held by no box"),
          "basis": N_("judged on"), "alarm": N_("alarm title"), "received_us": N_("heard by the office"),
          "device": N_("device"), "file_name": N_("device's file name"), "taken_by": N_("taken in by"), "filmed_by": N_("recorded by"),
          "claimed_start_us": N_("start its device claims"), "original_sha256": N_("original file's SHA-256"),
          "segments": N_("segments"), "original_destroyed_us": N_("original file destroyed")}
KIND_OF = {"findings": N_("finding id"), "alarms": N_("alarm kind")}  # the "kind" column, by section
# values that arrive as data, shown in the sites' language
REASONS = {"max_retention": N_("past its maximum retention"), "capacity": N_("for disk space")}
ACTIONS = finding_words.ACTIONS
SUSPECT_WHY = (N_("unknown severity"), N_("start in the future"))
TIMES = {"destroyed_us", "start_us", "end_us", "at_us", "raised_us", "cleared_us", "about_us", "received_us",
         "claimed_start_us"}
WORDS = {"retention", "severity", "title", "explanation", "basis", "alarm"}


class Filters(NamedTuple):
    """What the auditor narrowed the destructions to (None: all): a camera, a local day, a verdict."""
    camera: str | None = None
    day: str | None = None
    verdict: str | None = None


VERDICTS = {"ok": N_("within the rules"), "early": N_("destroyed early"),
            "min_breached": N_("minimum retention not kept"), UNJUDGED: N_("judged per camera-day only"),
            "kept_past_maximum": N_("kept past its maximum"),  # issue 73, design/0310: on intervals
            "unverified": N_("cannot be verified (a bound is missing)")}


def _span(site: str, month: str, tz: ZoneInfo, f: Filters) -> tuple[int, int]:
    """The start and end of the site-month's days narrowed by ``f`` (its destructions are read by the
    (site, destroyed_us) index, never by scanning the messages: design/0141). ValueError: a day not of
    the month."""
    days = compliance.month_days(month, tz)
    if f.day is not None:
        days = [d for d in days if d.name == f.day]
        if not days:
            raise ValueError(f"{f.day!r} is not a day of {month}")  # i18n: the page says it in its words
    return days[0].start_us, days[-1].end_us


def total(store: Store, site: str, month: str, f: Filters, nodes: list[str]) -> int:
    """The site-month's destructions under ``f``, from the camera-day summary (a few hundred rows a
    node, kept when the month is archived): never a count of millions of rows."""
    if not nodes:
        return 0
    return stored_destructions.month_total(store.db, nodes, f.day or f"{month}-01", f"{f.day}~" if f.day else f"{month}-99",
                                    f.camera, f.verdict)


def destructions_head(store: Store, site: str, month: str, tz: ZoneInfo, f: Filters) -> tuple[int, list[dict[str, Any]]]:
    """What the page says above its destructions: how many under ``f`` (total) and the months
    archived out of the store (design/0120)."""
    days, nodes = report.site_month(store, site, month, tz)
    return total(store, site, month, f, [n["node"] for n in nodes]), archiving.archived(store, days[0].start_us,
                                                                                          days[-1].end_us)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {c: r.get(c) for c in SECTIONS["destructions"]} | {"verdict": r.get("verdict")}


def destructions(store: Store, site: str, month: str, tz: ZoneInfo, f: Filters = Filters(), *,
                 page: int = 1, per_page: int = PAGE) -> list[dict[str, Any]]:
    """One page of the site-month's destructions, oldest first."""
    start, end = _span(site, month, tz, f)
    return [_row(r) for r in stored_destructions.month_page(store.db, site, start, end, f.camera, f.verdict, int(per_page),
                                                     max(0, page - 1) * int(per_page))]


def each_destruction(store: Store, site: str, month: str, tz: ZoneInfo, f: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """Every destruction of the site-month, oldest first, read in batches (constant memory)."""
    start, end = _span(site, month, tz, f)
    for r in stored_destructions.month_each(store, site, start, end, f.camera, f.verdict):
        yield _row(r)


def gather(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int, *, page: int = 1,
           per_page: int | None = PAGE, filters: Filters = Filters()) -> dict[str, Any]:
    """The site-month of the report whole, with one page of its destructions (`per_page` None:
    all of them): what the tests and a script compare (the page and the CSVs are written as the
    store is read: section_rows, design/0287). LookupError: no such site; ValueError: not a
    month, or a day not of it."""
    r = report.build(store, site, month, tz, now_us)
    days = compliance.month_days(month, tz)
    nodes = [n["node"] for n in r["nodes"]]
    gone = (list(each_destruction(store, site, month, tz, filters)) if per_page is None
            else destructions(store, site, month, tz, filters, page=page, per_page=per_page))
    return {**r, "destructions": gone, "destructions_total": total(store, site, month, filters, nodes),
            "page": page, "per_page": per_page, "filters": filters._asdict(),
            "coverage": stored_coverage.month_rows(store.db, site, days, now_us)}


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    """A finding with its title and explanation (catalog keys: said in the sites' language by cells())."""
    title, explanation = finding_words.words(f["kind"])
    return {**f, "title": title, "explanation": explanation}


def _kept(f: dict[str, Any]) -> dict[str, Any]:
    """A retention finding with the camera and the clock and evidence it was judged on (design/0122)."""
    return {**f, "camera": (f.get("detail") or {}).get("camera"), "basis": finding_words.basis(f.get("detail"))}


def sections(m: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each section's rows, the figures the page and the CSV both show."""
    findings = [_finding(f) for f in m["findings"]]
    kept = [_kept(f) for f in findings if f["kind"] in finding_words.RETENTION]
    return {"retention": m["camera_days"], "retention_findings": kept, "destructions": m["destructions"],
            "accesses": m["accesses"],
            "alarms": m["alarms"], "findings": findings, "coverage": m["coverage"]}


def disputed_now(store: Store, site: str) -> list[str]:
    """The site's nodes whose newest `state` says their clock is in dispute now (design/0416)."""
    return [n["node"] for n in store.nodes(site)
            if compliance.clock_disputed(_obj(_obj(store.retained_of(n["node"])["state"]).get("retention")))]


def dispute_note(sp: Speaker, nodes: list[str]) -> str | None:
    """Pure: what the month page says above its retention while nodes say their clock is in dispute:
    their own retention achieved cannot be judged; the camera-days are the office's own verdicts."""
    if not nodes:
        return None
    return sp._("{nodes}: retention achieved cannot be judged on the node's own clock while it is in dispute, as "
                "the node says now; the camera-days below are judged on the office's own time requests and the "
                "destructions reported").format(nodes=", ".join(n.split("/", 1)[-1] for n in nodes))


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def check(store: Store, site: str, month: str, tz: ZoneInfo, f: Filters = Filters()) -> None:
    """What section_rows would raise before its first row: LookupError (no such site), ValueError
    (not a month, or a day not of it). The CSV says so before it starts streaming."""
    report.site_month(store, site, month, tz)
    _span(site, month, tz, f)


def section_rows(store: Store, name: str, site: str, month: str, tz: ZoneInfo, now_us: int,
                 f: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """One section's rows as sections() gives them, read from the store as they are written
    (design/0273): a cursor a section (findings, accesses, alarms, destructions), a node at a
    time (camera-days), a camera-day at a time (coverage); never the section in a list."""
    if name == "destructions":
        return each_destruction(store, site, month, tz, f)
    if name == "retention":
        return report.each_camera_day(store, site, month, tz, now_us)
    if name == "accesses":
        return report.each_access(store, site, month, tz)
    if name == "intakes":
        days = compliance.month_days(month, tz)
        return intakes.each_between(store.db, site, days[0].start_us, days[-1].end_us)
    if name == "alarms":
        return report.each_alarm(store, site, month, tz, now_us)
    days = compliance.month_days(month, tz)
    if name == "coverage":
        report.site_month(store, site, month, tz)
        return stored_coverage.each_month_row(store.db, site, days, now_us)
    if name in ("findings", "retention_findings"):
        report.site_month(store, site, month, tz)
        kinds = finding_words.RETENTION if name == "retention_findings" else None
        found = (_finding(x) for x in store.findings_between(site, days[0].start_us, days[-1].end_us, kinds))
        return found if kinds is None else (_kept(x) for x in found)
    raise KeyError(name)


def cells(sp: Speaker, name: str, row: dict[str, Any]) -> list[str | int | float]:
    """A row's values as shown (the page escapes them; the CSV keeps numbers as numbers)."""
    return [_cell(sp, col, row.get(col), row.get("said")) for col in SECTIONS[name]]


def _cell(sp: Speaker, col: str, v: Any, said: object = None) -> str | int | float:
    if col == "original_destroyed_us":  # an intake's original: when the box destroyed it, else kept (design/0355)
        return sp.local(v) if isinstance(v, int) else sp._("kept")
    if col in TIMES:
        return sp.local(v) if isinstance(v, int) else "-"
    if col == "day":
        return sp.day(v)
    if col == "verdict":
        return sp.word(VERDICTS.get(v, v)) if isinstance(v, str) else "-"
    if col == "reason":
        return sp.word(REASONS.get(v, v)) if isinstance(v, str) else "-"
    if col == "action":
        return sp.word(ACTIONS.get(v, v))
    if col == "why" and isinstance(v, str):
        return why(sp, v, said)
    if col == "message" and isinstance(v, str):
        return sp.said(v, said)
    if col == "ok":
        return sp._("yes") if v else sp._("no")
    if col == "suspect":
        return "" if v is None else sp._("suspect: {why}").format(why=sp.word(v))
    if col in ("severity", "basis", "alarm") and not v:
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


def why(sp: Speaker, reason: str, said: object = None) -> str:
    """An access's reason in the sites' language (finding_words.access_why, design/0287)."""
    return finding_words.access_why(sp, reason, said)


def headers(sp: Speaker, name: str) -> list[str]:
    return [sp.word((KIND_OF.get(name) if c == "kind" else None) or LABELS.get(c) or report_html.LABELS.get(c) or c)
            for c in SECTIONS[name]]


def bad(name: str, row: dict[str, Any]) -> bool:
    """A row the page marks (the report's own judgement, design/0028)."""
    if name == "retention":
        return row["retention"] not in ("achieved", "no data")
    if name == "alarms":
        return row.get("suspect") is not None
    if name == "coverage":
        return bool(row["not_covered"])  # a stretch of the day no box holds
    if name == "retention_findings":
        return bool(row["severity"] != "info")
    if name == "destructions":
        return row.get("verdict") not in ("ok", UNJUDGED)
    return not report_html._row_ok(name, row)


def to_csv(sp: Speaker, name: str, rows: Iterable[dict[str, Any]]) -> bytes:
    """One section as CSV in the sites' language, UTF-8 with a byte-order mark (Excel then reads
    the Chinese); no cell a spreadsheet runs as a formula."""
    return b"".join(csv_chunks(sp, name, rows))


def csv_chunks(sp: Speaker, name: str, rows: Iterable[dict[str, Any]], every: int | None = None) -> Iterator[bytes]:
    """to_csv in pieces of ``every`` rows (CHUNK_ROWS), as ``rows`` come (constant memory)."""
    every = every or CHUNK_ROWS
    out = io.StringIO()
    w = csv.writer(out)
    out.write("\ufeff")
    w.writerow(headers(sp, name))
    row_cells = _destruction_cells(sp) if name == "destructions" else (lambda row: [
        report_html.csv_safe(v) if isinstance(v, str) and v != "-" else v for v in cells(sp, name, row)])
    for i, row in enumerate(rows, 1):
        w.writerow(row_cells(row))
        if i % every == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def _destruction_cells(sp: Speaker) -> Callable[[dict[str, Any]], list[Any]]:
    """cells() of a destruction, as the CSV writes it, fast (millions a site-month): a minute's
    local text made once, the words of a reason or verdict looked up once."""
    minutes: dict[int, str] = {}
    words: dict[tuple[str, Any], str] = {}

    def when(us: Any) -> str:
        if not isinstance(us, int):
            return "-"
        m = us // 60_000_000
        text = minutes.get(m)
        if text is None:
            if len(minutes) > 100_000:
                minutes.clear()
            text = minutes[m] = sp.local(m * 60_000_000)[:-3]  # without its seconds (a zone moves by minutes)
        return f"{text}:{us // 1_000_000 % 60:02d}"

    def word(col: str, v: Any) -> Any:
        key = (col, v)
        text = words.get(key)
        if text is None:
            text = words[key] = report_html.csv_safe(str(_cell(sp, col, v)))
        return text

    def safe(v: Any) -> Any:
        return report_html.csv_safe(v) if isinstance(v, str) else ("" if v is None else v)

    def row_cells(r: dict[str, Any]) -> list[Any]:
        return [when(r["destroyed_us"]), word("node", r["node"]), safe(r["camera"]), word("reason", r["reason"]),
                word("verdict", r["verdict"]), safe(r["segment_id"]), safe(r["sha256"]), safe(r["bytes"]),
                when(r["start_us"]), when(r["end_us"])]
    return row_cells
