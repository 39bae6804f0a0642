"""`edged-central report --site S --month YYYY-MM --out DIR`: one site's month of compliance,
as report.json, CSV tables and a printable report.html. Gathering reads the store (blocking);
judging is central/report/compliance.py; rendering, plain string work, is central/report/report_html.py."""

from __future__ import annotations

import bisect
import json
from datetime import datetime
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from central.archive import archiving
from central import finding_words
from central.report import compliance
from storage import alarm_kinds
from central.store import nodes as stored_nodes
from central.store.store import Store
from central.checks.verify import ACCESS_ACTIONS, account, judge_access
from storage.msg import Msg


def _birth(store: Store, node: str) -> dict[str, Any]:
    payload = stored_nodes.newest_birth(store.db, node)
    return json.loads(payload) if payload else {}


def _judge_of(store: Store, node: str, recs: Iterable[dict[str, Any]]) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    return _judge_and_chain(store, node, recs)[0]


JUDGED_A_BATCH = 200  # accesses judged with one batch of lookups (three statements)


def _judge_and_chain(store: Store, node: str, recs: Iterable[dict[str, Any]]) -> Judge:
    """(judge, chain) of the accesses ``recs`` (audit records of the node, "detail" parsed):
    judge_in_store (central/verifier/verifier.py)'s answers, from the approvals of the grants they name,
    the filings of those approvals' requests and those grants' uses, read in three statements by
    the grant and request indexes (design/0287: never the node's whole history). Same answers:
    the first approval of the grant, the first filing of its request, the uses of the grant
    before the record."""
    grants = {_key(g): g for g in ((r.get("detail") or {}).get("grant") for r in recs) if _key(g) is not None}
    approvals = {k: {**r, "detail": d} for k, r, d in _naming(store, node, "request.approve", "grant", grants, first=True)}
    requests = {_key(a["detail"].get("request")): a["detail"].get("request") for a in approvals.values()}
    filings = {k: {**r, "detail": d} for k, r, d in _naming(store, node, "request.file", "request", requests, first=True)}
    uses: dict[Any, list[int]] = {}
    for k, r, _d in _naming(store, node, "grant.use", "grant", grants):
        uses.setdefault(k, []).append(r["seq_local"])

    def judge(rec: dict[str, Any]) -> tuple[bool, str]:
        grant = (rec.get("detail") or {}).get("grant")
        if grant is None:
            return judge_access(rec, approve=None, filed=None, earlier_uses=0)
        approve = approvals.get(_key(grant))
        filed = None if approve is None else filings.get(_key(approve["detail"].get("request")))
        return judge_access(rec, approve=approve, filed=filed,
                            earlier_uses=bisect.bisect_left(uses.get(_key(grant), []), rec["seq"]))

    def chain(rec: dict[str, Any]) -> tuple[Any, str | None, str | None]:
        """(the request, who filed it, who approved it) of an access's grant, by the names the node's
        audit records give them (issue 43 item 6); None where the node has no such record."""
        approve = approvals.get(_key((rec.get("detail") or {}).get("grant")))
        if approve is None:
            return None, None, None
        filed = filings.get(_key(approve["detail"].get("request")))
        return approve["detail"].get("request"), (None if filed is None else account(filed["actor"])), \
            account(approve["actor"])
    return judge, chain


def _naming(store: Store, node: str, action: str, field: str, wanted: dict[Any, Any], *,
            first: bool = False) -> Iterator[tuple[Any, dict[str, Any], dict[str, Any]]]:
    """(key, record, its detail) of the node's ``action`` records whose ``field`` is one of
    ``wanted`` (by _key), in the node's order (``first``: only the first of each key)."""
    seen: set[Any] = set()
    for r in store.audit_naming(node, action, field, [v for k, v in wanted.items() if k is not None]):
        try:
            detail = json.loads(r["detail"])
        except ValueError:
            continue
        k = _key(detail.get(field)) if isinstance(detail, dict) else None
        if k is None or k not in wanted or (first and k in seen):  # the store's comparison may find more
            continue
        seen.add(k)
        yield k, r, detail


def _key(v: Any) -> Any:
    """A JSON value as the store's json_extract comparison matches it (a number is not its text;
    null, a list or an object match nothing: None, never stored as a key)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    return ("s", v) if isinstance(v, str) else ("n", v)


def site_month(store: Store, site: str, month: str, tz: ZoneInfo) -> tuple[list[compliance.Day], list[dict[str, Any]]]:
    """The month's local days and the site's nodes. LookupError: no node of the site; ValueError: not a month."""
    days = compliance.month_days(month, tz)
    nodes = store.nodes(site)
    if not nodes:
        # i18n: the CLI's usage error (English, as edged-central's other messages)
        raise LookupError(f"no node of site {site!r} has reported to this central office")
    return days, nodes


Judge = tuple[Callable[[dict[str, Any]], tuple[bool, str]], Callable[[dict[str, Any]], tuple[Any, str | None, str | None]]]


def accesses_of(store: Store, node: str, start: int, end: int, *, by_time: bool = False) -> Iterator[dict[str, Any]]:
    """The node's accesses of [start, end), each judged with its approval chain, as the store's
    cursor reads them: JUDGED_A_BATCH at a time, judged by the lookups of the grants they name
    (design/0287). ``why`` is the judge's Msg (its English in report.json), ``said`` its template
    and values (said in the site's language: finding_words.access_why)."""
    batch: list[dict[str, Any]] = []
    for r in store.audit_accesses(node, ACCESS_ACTIONS, start, end, by_time=by_time):
        batch.append({**r, "seq": r["seq_local"], "detail": json.loads(r["detail"])})
        if len(batch) == JUDGED_A_BATCH:
            yield from _judged(store, node, batch)
            batch = []
    yield from _judged(store, node, batch)


def _judged(store: Store, node: str, recs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if not recs:
        return
    judged, chain = _judge_and_chain(store, node, recs)
    for rec in recs:
        detail = rec["detail"]
        ok, why = judged(rec)
        request, filed_by, approved_by = chain(rec)
        cameras = detail.get("cameras") or ([detail["camera"]] if detail.get("camera") else [])
        yield {"node": node, "seq_local": rec["seq_local"], "at_us": rec["at_us"], "action": rec["action"],
               "who": account(rec["actor"]), "grant": detail.get("grant"), "request": detail.get("request", request),
               "cameras": cameras, "filed_by": filed_by, "approved_by": approved_by, "ok": ok, "why": why,
               "said": why.stored() if isinstance(why, Msg) else None}


def alarm_row(node: str, a: dict[str, Any], now_us: int) -> dict[str, Any]:
    """An alarm as the report and the month show it (design/0117: a suspect one says why)."""
    declared = alarm_kinds.KINDS.get(a["kind"]) if isinstance(a["kind"], str) else None
    return {"node": node, "id": a["id"], "kind": a["kind"], "severity": a["severity"],
            "camera": a["camera"], "raised_us": a["raised_us"], "cleared_us": a["cleared_us"],
            "open_s": round(((a["cleared_us"] or now_us) - a["raised_us"]) / 1e6, 1),
            "suspect": compliance.suspect(a, now_us),
            # its title and message, said in the sites' language (issue 80): the kind's declared title, the words
            "alarm": a["id"] if declared is None else declared.title, "message": a.get("message"),
            "said": finding_words.alarm_words(a)}


def each_access(store: Store, site: str, month: str, tz: ZoneInfo) -> Iterator[dict[str, Any]]:
    """The site-month's accesses, node by node, as they are read (the month's CSV, design/0273)."""
    days, nodes = site_month(store, site, month, tz)
    for n in nodes:
        yield from accesses_of(store, n["node"], days[0].start_us, days[-1].end_us)


def each_alarm(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int) -> Iterator[dict[str, Any]]:
    """The site-month's alarms, node by node, as they are read."""
    days, nodes = site_month(store, site, month, tz)
    for n in nodes:
        for a in store.alarms_between(n["node"], days[0].start_us, days[-1].end_us):
            yield alarm_row(n["node"], a, now_us)


class _Node(NamedTuple):
    """What a node's month is judged by, read once: its birth's cameras and inspection rules,
    its inspection runs."""
    n: dict[str, Any]
    birth: dict[str, Any]
    cams: list[str]
    period: int
    within: int
    runs: list[dict[str, Any]]


Rows = list[dict[str, Any]]
Span = tuple[Any, Any, int, Any]  # an alarm as a camera-day counts it: camera, kind, raised_us, cleared_us
# a local day's destruction_days rows by camera, its accesses as they are read, the alarms that may touch it
DayOf = Callable[[compliance.Day], tuple[dict[str, Rows], Iterable[dict[str, Any]], Iterable[Span]]]


def _by(rows: Iterable[dict[str, Any]], col: str) -> dict[Any, Rows]:
    out: dict[Any, Rows] = {}
    for r in rows:
        out.setdefault(r[col], []).append(r)
    return out


def _node(store: Store, n: dict[str, Any], days: list[compliance.Day]) -> _Node:
    """What the node's month is judged by (its accesses are judged a batch at a time: accesses_of)."""
    node = n["node"]
    birth = _birth(store, node)
    ins = birth.get("inspection") or {}
    period, within = ins.get("period_us") or compliance.DAY_US, ins.get("sign_within_us") or compliance.DAY_US
    cams = [c["id"] for c in birth.get("cameras") or [] if isinstance(c, dict) and c.get("enabled", True)]
    cams += [c for c in store.destroyed_cameras(node, days[0].name, days[-1].name) if c not in cams]
    runs = [{**r, "cameras": list(json.loads(r["cameras"] or "{}"))}
            for r in store.inspection_runs(node, days[0].start_us - period, days[-1].end_us)]
    return _Node(n, birth, cams, period, within, runs)


def _camera_days(nd: _Node, days: list[compliance.Day], now_us: int, day_of: DayOf) -> Iterator[dict[str, Any]]:
    """A node's camera-days, a day at a time: ``day_of`` gives what each day needs (the page: from
    the node's month read whole; the CSV: read a day at a time, design/0273)."""
    node = nd.n["node"]
    for day in days:
        gone, accesses, alarms = day_of(day)
        tally = {cam: compliance.Tally(cam, day, now_us) for cam in nd.cams}
        for a in accesses:  # counted as they come: a day of a node's accesses is never a list
            for cam in set(a["cameras"]):
                if cam in tally:
                    tally[cam].access(a)
        for camera, kind, raised_us, cleared_us in alarms:
            if camera in tally:
                tally[camera].span(kind, raised_us, cleared_us)
        for cam in nd.cams:
            verdict = compliance.inspection_verdict(nd.runs, cam, day, period_us=nd.period, sign_within_us=nd.within,
                                                    now_us=now_us)
            if day.end_us <= nd.n["first_us"]:
                verdict = "no data"  # i18n: a verdict key (report.json); shown via LABELS
            yield compliance.camera_day(node=node, camera=cam, day=day, known_from_us=nd.n["first_us"], now_us=now_us,
                                        destructions=gone.get(cam, []), inspection=verdict, tally=tally[cam])


class _Sweep:
    """A cursor's rows in the order of ``key``, taken a day at a time (never more than one held)."""

    def __init__(self, rows: Iterator[dict[str, Any]], key: str):
        self.rows, self.key = rows, key
        self.held: dict[str, Any] | None = None

    def before(self, bound: Any) -> Iterator[dict[str, Any]]:
        """The next rows whose key is below ``bound`` (consume them before asking again)."""
        while True:
            if self.held is None:
                self.held = next(self.rows, None)
                if self.held is None:
                    return
            if self.held[self.key] >= bound:
                return
            row, self.held = self.held, None
            yield row


def each_camera_day(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int) -> Iterator[dict[str, Any]]:
    """The site-month's camera-days, node by node and day by day: a node's summaries, accesses and
    alarms each one cursor over its month in time order, swept a day at a time (the month's CSV
    in constant memory, design/0273); only the alarms still open are kept from one day to the next."""
    days, nodes = site_month(store, site, month, tz)
    start, end = days[0].start_us, days[-1].end_us
    for n in nodes:
        node = n["node"]
        with store.reading():  # PostgreSQL: the node's cursors open side by side in one transaction
            nd = _node(store, n, days)
            gone = _Sweep(store.destruction_days(node, days[0].name, days[-1].name, stream=True), "day")
            accesses = _Sweep(accesses_of(store, node, start, end, by_time=True), "at_us")
            alarms = _Sweep(store.alarms_between(node, start, end), "raised_us")
            still_open: list[Span] = []

            def day_of(day: compliance.Day, gone: _Sweep = gone, accesses: _Sweep = accesses, alarms: _Sweep = alarms,
                       still_open: list[Span] = still_open) -> tuple[dict[str, Rows], Iterator[dict[str, Any]],
                                                                     Iterator[Span]]:
                return (_by(gone.before(f"{day.name}~"), "camera"), accesses.before(day.end_us),
                        _spans(day, alarms, still_open, now_us))
            yield from _camera_days(nd, days, now_us, day_of)


def _spans(day: compliance.Day, alarms: _Sweep, still_open: list[Span], now_us: int) -> Iterator[Span]:
    """The alarms a camera-day counts, as the cursor gives them: those still open from the days
    before, then the day's own; only those open past the day's end are kept for the next (a day's
    thousands of alarms, raised and cleared, are never a list: design/0287)."""
    carried = [a for a in still_open if (a[3] or now_us) > day.start_us]
    still_open[:] = [a for a in carried if (a[3] or now_us) > day.end_us]
    yield from carried
    for a in alarms.before(day.end_us):
        span = (a["camera"], a["kind"], a["raised_us"], a["cleared_us"])
        if (span[3] or now_us) > day.end_us:
            still_open.append(span)
        yield span


def each_node(store: Store, site: str, month: str, tz: ZoneInfo) -> Iterator[tuple[dict[str, Any], Rows]]:
    """Each node's line and its inspections of the month, a node at a time (`report`, streamed)."""
    days, nodes = site_month(store, site, month, tz)
    for n in nodes:
        nd = _node(store, n, days)
        yield node_line(nd), inspections_of(nd, days[0].start_us)


def _node_month(store: Store, n: dict[str, Any], days: list[compliance.Day], tz: ZoneInfo,
                now_us: int) -> dict[str, Any]:
    """One node's month whole (the page and `edged-central report`): its camera-days, accesses,
    alarms, inspections and its line of the report."""
    start, end = days[0].start_us, days[-1].end_us
    nd = _node(store, n, days)
    node = n["node"]
    acc = list(accesses_of(store, node, start, end))
    alarms = list(store.alarms_between(node, start, end))
    gone = {day: _by(rows, "camera") for day, rows in _by(store.destruction_days(node, days[0].name, days[-1].name),
                                                            "day").items()}
    by_day: dict[str, Rows] = {}
    for a in acc:
        by_day.setdefault(datetime.fromtimestamp(a["at_us"] / 1e6, tz).strftime("%Y-%m-%d"), []).append(a)

    spans = [(a["camera"], a["kind"], a["raised_us"], a["cleared_us"]) for a in alarms]

    def day_of(day: compliance.Day) -> tuple[dict[str, Rows], Rows, list[Span]]:
        return gone.get(day.name, {}), by_day.get(day.name, []), spans
    rows = list(_camera_days(nd, days, now_us, day_of))
    return {"node": node_line(nd), "camera_days": rows, "accesses": acc,
            "alarms": [alarm_row(node, a, now_us) for a in alarms], "inspections": inspections_of(nd, start)}


def inspections_of(nd: _Node, start: int) -> list[dict[str, Any]]:
    """The node's inspection runs of the month (from ``start``), each on time or not."""
    insp = []
    for r in nd.runs:
        if r["ran_us"] >= start:
            late = r["signed_us"] is None or r["signed_us"] - r["ran_us"] > nd.within
            insp.append({"node": nd.n["node"], "run": r["run"], "kind": r["kind"], "ran_us": r["ran_us"],
                         "signed_us": r["signed_us"], "inspector": r["inspector"],
                         "supervisor": r["supervisor"], "cameras": r["cameras"], "on_time": not late})
    return insp


def node_line(nd: _Node) -> dict[str, Any]:
    """A node's line of the report: its status, version, cameras, rules and signed head."""
    n, birth = nd.n, nd.birth
    return {"node": n["node"], "name": n["name"], "status": n["status"], "first_us": n["first_us"],
            "last_us": n["last_us"], "version": birth.get("version"), "cameras": nd.cams,
            "policy": birth.get("retention"), "inspection": birth.get("inspection") or {},
            "head": None if n["head_seq"] is None else {"seq": n["head_seq"], "hash": n["head_hash"],
                                                        "at_us": n["head_at_us"]}}


def build(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int) -> dict[str, Any]:
    days, nodes = site_month(store, site, month, tz)
    start, end = days[0].start_us, days[-1].end_us
    out_nodes, rows, accesses, alarms_out, insp_out = [], [], [], [], []
    for n in nodes:
        one = _node_month(store, n, days, tz, now_us)
        out_nodes.append(one["node"])
        rows += one["camera_days"]
        accesses += one["accesses"]
        alarms_out += one["alarms"]
        insp_out += one["inspections"]
    findings = store.findings(site=site, since_us=start, until_us=end, limit=100_000)
    bad_days = [r for r in rows if not compliance.day_ok(r)]
    return {
        "site": site, "month": month, "timezone": str(tz), "made_us": now_us, "nodes": out_nodes,
        "summary": {"camera_days": len(rows), "camera_days_not_compliant": len(bad_days),
                    "accesses": len(accesses), "accesses_not_compliant": sum(not a["ok"] for a in accesses),
                    "alarms": len(alarms_out), "alarms_open": sum(a["cleared_us"] is None for a in alarms_out),
                    "findings": len(findings),
                    "findings_critical": sum(f["severity"] == "critical" for f in findings)},
        "camera_days": rows, "accesses": accesses, "alarms": alarms_out, "inspections": insp_out,
        "findings": findings,
        # the months (UTC, by the office's receipt) archived out of the store: their messages, each destruction one by one
        # among them, are in the archive; what is above comes from what was kept (design/0120)
        "archived": archiving.archived(store, start, end),
    }

