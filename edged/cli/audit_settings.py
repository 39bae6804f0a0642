"""The parts of the periodic audit report (R7.2) that say what was in force and what is due:
the settings (retention per camera, the request policy, health thresholds, schedules, the hashes
of the settings and the config file) and the deadlines (the register, the next audit). Tables
as (title, headers, rows), shared by the text and HTML forms (edged/cli/audit.py)."""

from __future__ import annotations

import json
from typing import Any

from edged.cli.display import fmt_time
from edged.config import format_duration

Section = tuple[str, list[str], list[list[Any]]]


def _dur(us: int | None) -> str:
    return "-" if us is None else format_duration(us)


def _reserve(r: dict[str, Any]) -> str:
    return f"{r['reserve_percent']:g}%" if r.get("reserve_percent") is not None else f"{r.get('reserve_bytes')} bytes"


def settings_lines(r: dict[str, Any]) -> list[str]:
    s = r.get("settings")
    if not s:
        return []
    lines = [f"settings in force: sha256 {s['sha256']}",
             f"config file {s['config_file']}: sha256 {s['config_file_sha256'] or 'unreadable'}"]
    got = r.get("recorded")
    if got:
        lines.append(f"audit recorded as done by {got['name']} (account {got['account']}) at {fmt_time(got['at_us'])}")
    return lines


def settings_sections(r: dict[str, Any]) -> list[Section]:
    s = (r.get("settings") or {}).get("in_force")
    out: list[Section] = []
    if s:
        ret = s["retention"]
        out.append(("Settings in force: retention", ["SETTING", "VALUE"], [
            ["min retention (site)", _dur(ret["min_retention_us"])],
            ["max retention (site)", _dur(ret["max_retention_us"])],
            ["disk reserve", _reserve(ret)], ["when the disk is full", ret["on_full"]],
            ["evidence hold", _dur(ret["evidence_hold_us"])], ["grace", _dur(ret["grace_us"])]]))
        out.append(("Settings in force: cameras", ["CAMERA", "ENABLED", "MODE", "KIND", "MIN RETENTION",
                                                   "MAX RETENTION", "OWN HEALTH THRESHOLDS"], [
            [c["id"], "yes" if c["enabled"] else "no", c["mode"], c["kind"], _dur(c["min_retention_us"]),
             _dur(c["max_retention_us"]), json.dumps(c["health"], sort_keys=True) if c["health"] else "site's"]
            for c in s["cameras"]]))
        policy = s["policy"]
        out.append(("Settings in force: request policy (categories: " + ", ".join(policy["categories"]) + ")",
                    ["KIND", "MODES", "COPY TO", "RECEIPT", "DUE", "APPROVAL CHAIN"], [
            [kind, ", ".join(k["modes"]), k["copy_to"], "yes" if k["receipt"] else "no", _dur(k["due_us"]),
             " > ".join(st["name"] + (f" ({', '.join(st['approvers'])})" if st["approvers"] else "")
                        + (f" [cameras {', '.join(st['cameras'])}]" if st["cameras"] else "") for st in k["chain"])]
            for kind, k in sorted(policy["kinds"].items())]))
        h = s["health"]
        out.append(("Settings in force: health thresholds (site) and schedules", ["SETTING", "VALUE"], [
            [k.removesuffix("_us"), _dur(v) if k.endswith("_us") else v] for k, v in h.items()] + [
            ["inspection schedule", s["inspection"]["schedule"]],
            ["inspection register due by day", s["inspection"]["register_due_day"] or "not tracked"],
            ["audit every (months)", s["audit"]["every_months"] or "not tracked"],
            ["maintenance backup folder", s["maintenance"]["backup_dir"] or "on the data disk"]]))
    d = r.get("deadlines")
    if d:
        last = d.get("last_audit")
        rows = [["last audit", f"{fmt_time(last['at_us'])} by {last['by']} ({last['account']})" if last else "none"],
                ["next audit due by", fmt_time(d["audit_due_us"]) if d["audit_due_us"] else "not tracked"],
                ["this month's register due by", fmt_time(d["register_due_us"]) if d["register_due_us"] else
                 "not tracked"]]
        rows += [[f"register {x['month']} LATE", f"due {fmt_time(x['due_us'])}; runs {x['runs']} not countersigned"]
                 for x in d["registers_late"]]
        out.append(("Deadlines", ["WHAT", "WHEN"], rows))
    return out
