"""`edged-central report`'s files: report.json, a CSV a table and report.html, written as the
store is read (design/0281): each section's rows go to the JSON document, its CSV and a spool of
its HTML table as they come, a row at a time, and the page is put together when the figures at
its top are known. The files are the same bytes as `write` makes from a report built whole
(central/report/report.py `build`, which the dashboard's month still reads), tested side by side."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from central.archive import archiving
from central.report import compliance, report, report_html
from central.i18n import Speaker
from central.store.store import Store

# the report's sections, by the name report.json gives them (its keys are sorted: these come first)
SECTIONS = ("accesses", "alarms", "camera_days", "findings", "inspections")


def write(r: dict[str, Any], out: Path, tz: ZoneInfo, language: str = "en") -> list[Path]:
    """The files of a report built whole (report.build)."""
    head = {k: v for k, v in r.items() if k not in SECTIONS and k != "summary"}
    return _emit(out, tz, language, head, {name: iter(r[name]) for name in SECTIONS})[0]


def write_streamed(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int, out: Path,
                   language: str = "en") -> tuple[list[Path], dict[str, int]]:
    """The files of the site-month's report read as they are written: a section's cursor a node at
    a time (report.each_access, each_alarm, each_camera_day, Store.findings_between), never the
    month in a list; only the nodes' lines are held (one a node). LookupError: no such site;
    ValueError: not a month (both before any file is made)."""
    days, _nodes = report.site_month(store, site, month, tz)
    start, end = days[0].start_us, days[-1].end_us
    lines: list[dict[str, Any]] = []

    def inspections() -> Iterator[dict[str, Any]]:
        for line, runs in report.each_node(store, site, month, tz):
            lines.append(line)
            yield from runs

    sections: dict[str, Iterator[dict[str, Any]]] = {
        "accesses": report.each_access(store, site, month, tz),
        "alarms": report.each_alarm(store, site, month, tz, now_us),
        "camera_days": report.each_camera_day(store, site, month, tz, now_us),
        "findings": store.findings_between(site, start, end),
        "inspections": inspections(),
    }
    # one read transaction on PostgreSQL (nothing on SQLite): every section and the figures at the
    # top from one snapshot, and no cursor opening a transaction of its own a node
    with store.reading():
        head = {"site": site, "month": month, "timezone": str(tz), "made_us": now_us, "nodes": lines,
                "archived": archiving.archived(store, start, end)}
        return _emit(out, tz, language, head, sections)


class _Summary:
    """The figures at the report's top, counted as the rows go by."""

    def __init__(self) -> None:
        self.n = {k: 0 for k in ("camera_days", "camera_days_not_compliant", "accesses", "accesses_not_compliant",
                                 "alarms", "alarms_open", "findings", "findings_critical")}

    def count(self, name: str, x: dict[str, Any]) -> None:
        n = self.n
        if name == "camera_days":
            n["camera_days"] += 1
            n["camera_days_not_compliant"] += not compliance.day_ok(x)
        elif name == "accesses":
            n["accesses"] += 1
            n["accesses_not_compliant"] += not x["ok"]
        elif name == "alarms":
            n["alarms"] += 1
            n["alarms_open"] += x["cleared_us"] is None
        elif name == "findings":
            n["findings"] += 1
            n["findings_critical"] += x["severity"] == "critical"


def _emit(out: Path, tz: ZoneInfo, language: str, head: dict[str, Any],
          sections: dict[str, Iterator[dict[str, Any]]]) -> tuple[list[Path], dict[str, int]]:
    """report.json as json.dumps(r, ensure_ascii=False, sort_keys=True) writes it (one line, so a
    section is "[" its rows joined by ", " "]"), each section's CSV and the HTML, the sections read
    once each, in the JSON's key order."""
    out.mkdir(parents=True, exist_ok=True)
    made = [out / "report.json", out / "report.html"]
    sp = report_html.speaker(tz, language)
    summary = _Summary()
    spool = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        tables: dict[str, int] = {}
        with made[0].open("w", encoding="utf-8") as doc:
            doc.write("{")
            keys = sorted([*SECTIONS, *head, "summary"])
            for i, key in enumerate(keys):
                doc.write(("" if i == 0 else ", ") + json.dumps(key) + ": ")
                if key in SECTIONS:
                    tables[key] = _section(sp, key, sections[key], doc, out / f"{key}.csv", spool / key, summary)
                else:
                    doc.write(_dumps(summary.n if key == "summary" else head[key]))
            doc.write("}\n")
        _page(sp, {**head, "summary": summary.n}, tables, spool, made[1])
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return made + [out / f"{name}.csv" for name in report_html.TABLES], summary.n


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _section(sp: Speaker, name: str, rows: Iterable[dict[str, Any]], doc: IO[str], csv_path: Path, spool: Path,
             summary: _Summary) -> int:
    """One section's rows to report.json, its CSV and its HTML table's spool; how many."""
    cols = report_html.TABLES[name]
    n = 0
    doc.write("[")
    with csv_path.open("w", newline="", encoding="utf-8") as f, spool.open("w", encoding="utf-8") as page:
        w = csv.writer(f)
        # a finding's message, an access's why in the report's language too, after the English scripts
        # read (design/0280, design/0287)
        said = name in report_html.SAID
        w.writerow(cols + ["said"] if said else cols)
        for x in rows:
            doc.write(("" if n == 0 else ", ") + _dumps(x))
            w.writerow([report_html._cell(x.get(c)) for c in cols]
                       + ([report_html._cell(report_html.said(sp, name, x))] if said else []))
            page.write(report_html.html_row(sp, name, x))
            summary.count(name, x)
            n += 1
    doc.write("]")
    return n


def _page(sp: Speaker, r: dict[str, Any], tables: dict[str, int], spool: Path, path: Path) -> None:
    """report.html: its top (the figures now known), then each section's table from its spool."""
    top, body = report_html.html_top(sp, r)
    with path.open("w", encoding="utf-8") as f:
        f.write(top + "\n".join(body))
        for name in report_html.TABLES:
            f.write("\n" + report_html.heading(sp, name) + "\n")
            if not tables[name]:
                f.write(report_html.none(sp))
                continue
            f.write(report_html.table_head(sp, name))
            with (spool / name).open(encoding="utf-8") as rows:
                shutil.copyfileobj(rows, f)
            f.write(report_html.TABLE_END)
        f.write(report_html.HTML_END)
