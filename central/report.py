"""`edged-central report --site S --month YYYY-MM --out DIR`: one site's month of compliance,
as report.json, CSV tables and a printable report.html. Gathering reads the store (blocking);
judging is central/compliance.py; rendering is plain string work."""

from __future__ import annotations

import csv
import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central import compliance
from central.store import Store
from central.verifier import judge_in_store
from central.verify import ACCESS_ACTIONS, account


def _birth(store: Store, node: str) -> dict[str, Any]:
    row = next(store.db.query("SELECT payload FROM births WHERE node = ? ORDER BY ts_us DESC LIMIT 1", [node]), None)
    return json.loads(row["payload"]) if row else {}


def build(store: Store, site: str, month: str, tz: ZoneInfo, now_us: int) -> dict[str, Any]:
    days = compliance.month_days(month, tz)
    start, end = days[0].start_us, days[-1].end_us
    nodes = store.nodes(site)
    if not nodes:
        raise LookupError(f"no node of site {site!r} has reported to this central office")
    db = store.db
    out_nodes, rows, accesses, alarms_out, insp_out = [], [], [], [], []
    for n in nodes:
        node = n["node"]
        birth = _birth(store, node)
        ins = birth.get("inspection") or {}
        period, within = ins.get("period_us") or compliance.DAY_US, ins.get("sign_within_us") or compliance.DAY_US
        cams = [c["id"] for c in birth.get("cameras") or [] if isinstance(c, dict) and c.get("enabled", True)]
        acc = []
        ph = ",".join("?" * len(ACCESS_ACTIONS))
        for r in db.query(f"SELECT * FROM audit WHERE node = ? AND action IN ({ph}) AND at_us >= ? AND at_us < ?"
                          " ORDER BY seq_local", [node, *ACCESS_ACTIONS, start, end]):
            detail = json.loads(r["detail"])
            rec = {**r, "seq": r["seq_local"], "detail": detail}
            ok, why = judge_in_store(store, node, rec)
            cameras = detail.get("cameras") or ([detail["camera"]] if detail.get("camera") else [])
            acc.append({"node": node, "seq_local": r["seq_local"], "at_us": r["at_us"], "action": r["action"],
                        "who": account(r["actor"]), "grant": detail.get("grant"), "request": detail.get("request"),
                        "cameras": cameras, "ok": ok, "why": why})
        alarms = list(db.query("SELECT * FROM alarms WHERE node = ? AND raised_us < ? AND"
                               " (cleared_us IS NULL OR cleared_us >= ?) ORDER BY raised_us", [node, end, start]))
        runs = [{**r, "cameras": list(json.loads(r["cameras"] or "{}"))} for r in db.query(
            "SELECT * FROM inspections WHERE node = ? AND ran_us >= ? AND ran_us < ? ORDER BY ran_us",
            [node, start - period, end])]
        gone: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for d in db.query("SELECT * FROM destruction_days WHERE node = ? AND day >= ? AND day <= ?",
                          [node, days[0].name, days[-1].name]):
            gone.setdefault((d["camera"], d["day"]), []).append(d)
            if d["camera"] not in cams:
                cams.append(d["camera"])
        by_day: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for a in acc:
            day_name = datetime.fromtimestamp(a["at_us"] / 1e6, tz).strftime("%Y-%m-%d")
            for cam in a["cameras"]:
                by_day.setdefault((cam, day_name), []).append(a)
        alarms_of = {cam: [a for a in alarms if a["camera"] == cam] for cam in cams}
        for day in days:
            for cam in cams:
                verdict = compliance.inspection_verdict(runs, cam, day, period_us=period, sign_within_us=within,
                                                        now_us=now_us)
                if day.end_us <= n["first_us"]:
                    verdict = "no data"
                rows.append(compliance.camera_day(node=node, camera=cam, day=day, known_from_us=n["first_us"],
                                                  now_us=now_us, destructions=gone.get((cam, day.name), []),
                                                  accesses=by_day.get((cam, day.name), []),
                                                  alarms=alarms_of.get(cam, []), inspection=verdict))
        accesses += acc
        for a in alarms:
            alarms_out.append({"node": node, "id": a["id"], "kind": a["kind"], "severity": a["severity"],
                               "camera": a["camera"], "raised_us": a["raised_us"], "cleared_us": a["cleared_us"],
                               "open_s": round(((a["cleared_us"] or now_us) - a["raised_us"]) / 1e6, 1)})
        for r in runs:
            if r["ran_us"] >= start:
                late = r["signed_us"] is None or r["signed_us"] - r["ran_us"] > within
                insp_out.append({"node": node, "run": r["run"], "kind": r["kind"], "ran_us": r["ran_us"],
                                 "signed_us": r["signed_us"], "inspector": r["inspector"],
                                 "supervisor": r["supervisor"], "cameras": r["cameras"],
                                 "on_time": not late})
        out_nodes.append({"node": node, "name": n["name"], "status": n["status"], "first_us": n["first_us"],
                          "last_us": n["last_us"], "version": birth.get("version"), "cameras": cams,
                          "policy": birth.get("retention"), "inspection": ins,
                          "head": None if n["head_seq"] is None else {"seq": n["head_seq"], "hash": n["head_hash"],
                                                                      "at_us": n["head_at_us"]}})
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
    }


# rendering --------------------------------------------------------------------------------------
def fmt(us: int | None, tz: ZoneInfo) -> str:
    return "-" if us is None else datetime.fromtimestamp(us / 1e6, tz).strftime("%Y-%m-%d %H:%M:%S")


TABLES = {
    "camera_days": ["day", "node", "camera", "retention", "destroyed", "destroyed_early", "destroyed_below_min",
                    "accesses", "accesses_not_compliant", "inspection", "alarms", "alarm_open_s"],
    "accesses": ["node", "seq_local", "at_us", "action", "who", "grant", "request", "cameras", "ok", "why"],
    "alarms": ["node", "id", "kind", "severity", "camera", "raised_us", "cleared_us", "open_s"],
    "inspections": ["node", "run", "kind", "ran_us", "signed_us", "inspector", "supervisor", "on_time"],
    "findings": ["node", "kind", "severity", "about_us", "found_us", "message"],
}


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return " ".join(map(str, v)) if isinstance(v, list) else json.dumps(v, ensure_ascii=False)
    return str(v)


def write(r: dict[str, Any], out: Path, tz: ZoneInfo) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = [out / "report.json", out / "report.html"]
    made[0].write_text(json.dumps(r, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for name, cols in TABLES.items():
        path = out / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for row in r[name]:
                w.writerow([_cell(row.get(c)) for c in cols])
        made.append(path)
    made[1].write_text(to_html(r, tz), encoding="utf-8")
    return made


def to_html(r: dict[str, Any], tz: ZoneInfo) -> str:
    e = html.escape
    s = r["summary"]
    title = f"Compliance report: site {r['site']}, {r['month']}"
    body = [f"<h1>{e(title)}</h1>",
            f"<p>Made {e(fmt(r['made_us'], tz))} ({e(r['timezone'])}) by edged-central from what the nodes "
            "published over MQTT. Camera-days not compliant: "
            f"<b>{s['camera_days_not_compliant']}</b> of {s['camera_days']}; accesses not compliant: "
            f"<b>{s['accesses_not_compliant']}</b> of {s['accesses']}; findings: {s['findings']} "
            f"({s['findings_critical']} critical); alarms: {s['alarms']} ({s['alarms_open']} still open).</p>",
            "<h2>Nodes</h2>", _table(["node", "status", "version", "cameras", "min/max days", "signed head"],
                                     [[n["node"], n["status"] or "-", n["version"] or "-", " ".join(n["cameras"]),
                                       f"{(n['policy'] or {}).get('min_days', '-')}/{(n['policy'] or {}).get('max_days', '-')}",
                                       "-" if not n["head"] else f"{n['head']['seq']} {n['head']['hash'][:16]}"]
                                      for n in r["nodes"]])]
    times = {"at_us", "raised_us", "cleared_us", "ran_us", "signed_us", "about_us", "found_us"}
    for name, cols in TABLES.items():
        body.append(f"<h2>{e(name.replace('_', ' ').capitalize())}</h2>")
        rows = [[fmt(x.get(c), tz) if c in times else _cell(x.get(c)) for c in cols] for x in r[name]]
        body.append(_table(cols, rows, bad=[not _row_ok(name, x) for x in r[name]]) if rows else "<p>None.</p>")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
             "td,th{border:1px solid #999;padding:2px 6px;font-size:85%;text-align:left}th{background:#eee}"
             "tr.bad td{background:#fdd}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{e(title)}</title><style>{style}</style>"
            "</head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _row_ok(name: str, x: dict[str, Any]) -> bool:
    if name == "camera_days":
        return compliance.day_ok(x)
    if name == "accesses":
        return x["ok"]
    if name == "inspections":
        return x["on_time"]
    if name == "findings":
        return x["severity"] == "info"
    return x.get("cleared_us") is not None


def _table(cols: list[str], rows: list[list[Any]], bad: list[bool] | None = None) -> str:
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
    lines = []
    for i, row in enumerate(rows):
        cls = ' class="bad"' if bad and bad[i] else ""
        lines.append(f"<tr{cls}>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>")
    return f"<table><thead>{head}</thead><tbody>" + "".join(lines) + "</tbody></table>"
