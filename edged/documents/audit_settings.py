"""The parts of the periodic audit report (R7.2) that say what was in force and what is due:
the settings (retention per camera, the request policy, health thresholds, schedules, the hashes
of the settings and the config file) and the deadlines (the register, the next audit). Tables
as (title, headers, rows), shared by the text and HTML forms (edged/cli/audit.py) and the desk's
printed report (edged/viewer/desk/audit.py); `fmt` writes a moment as the caller's form does."""

from __future__ import annotations

import json
from typing import Any, Callable

from storage.declare import format_duration
from edged.i18n import _

Section = tuple[str, list[str], list[list[Any]]]
Fmt = Callable[[int | None], str]


def _dur(us: int | None) -> str:
    return "-" if us is None else format_duration(us)


def _reserve(r: dict[str, Any]) -> str:
    if r.get("reserve_percent") is not None:
        return f"{r['reserve_percent']:g}%"
    return _("{n} bytes").format(n=r.get("reserve_bytes"))


def settings_lines(r: dict[str, Any], fmt_time: Fmt) -> list[str]:
    s = r.get("settings")
    if not s:
        return []
    lines = [_("settings in force: sha256 {sha}").format(sha=s["sha256"]),
             _("config file {path}: sha256 {sha}").format(path=s["config_file"],
                                                           sha=s["config_file_sha256"] or _("unreadable"))]
    got = r.get("recorded")
    if got:
        lines.append(_("audit recorded as done by {name} (account {account}) at {time}").format(
            name=got["name"], account=got["account"], time=fmt_time(got["at_us"])))
    return lines


def settings_sections(r: dict[str, Any], fmt_time: Fmt) -> list[Section]:
    s = (r.get("settings") or {}).get("in_force")
    out: list[Section] = []
    if s:
        ret = s["retention"]
        out.append((_("Settings in force: retention"), [_("SETTING"), _("VALUE")], [
            [_("min retention (site)"), _dur(ret["min_retention_us"])],
            [_("max retention (site)"), _dur(ret["max_retention_us"])],
            [_("disk reserve"), _reserve(ret)], [_("when the disk is full"), ret["on_full"]],
            [_("evidence hold"), _dur(ret["evidence_hold_us"])], [_("grace"), _dur(ret["grace_us"])]]))
        out.append((_("Settings in force: cameras"), [_("CAMERA"), _("ENABLED"), _("MODE"), _("KIND"),
                                                      _("MIN RETENTION"), _("MAX RETENTION"),
                                                      _("OWN HEALTH THRESHOLDS")], [
            [c["id"], _("yes") if c["enabled"] else _("no"), c["mode"], c["kind"], _dur(c["min_retention_us"]),
             _dur(c["max_retention_us"]), json.dumps(c["health"], sort_keys=True) if c["health"] else _("site's")]
            for c in s["cameras"]]))
        policy = s["policy"]
        out.append((_("Settings in force: request policy (categories: {categories})").format(
            categories=", ".join(policy["categories"])),
                    [_("KIND"), _("MODES"), _("COPY TO"), _("RECEIPT"), _("DUE"), _("APPROVAL CHAIN")], [
            [kind, ", ".join(k["modes"]), k["copy_to"], _("yes") if k["receipt"] else _("no"), _dur(k["due_us"]),
             " > ".join(st["name"] + (f" ({', '.join(st['approvers'])})" if st["approvers"] else "")
                        + (" (" + _("the requester's unit chief") + ")" if st.get("unit") else "")
                        + (" [" + _("cameras {ids}").format(ids=", ".join(st["cameras"])) + "]"
                           if st["cameras"] else "")
                        for st in k["chain"])]
            for kind, k in sorted(policy["kinds"].items())]))
        h = s["health"]
        out.append((_("Settings in force: health thresholds (site) and schedules"), [_("SETTING"), _("VALUE")], [
            [k.removesuffix("_us"), _dur(v) if k.endswith("_us") else v] for k, v in h.items()] + [
            [_("inspection schedule"), s["inspection"]["schedule"]],
            [_("inspection register due by day"), s["inspection"]["register_due_day"] or _("not tracked")],
            [_("audit every (months)"), s["audit"]["every_months"] or _("not tracked")],
            [_("maintenance backup folder"), s["maintenance"]["backup_dir"] or _("on the data disk")]]))
    d = r.get("deadlines")
    if d:
        last = d.get("last_audit")
        rows = [[_("last audit"), _("{time} by {by} ({account})").format(
                    time=fmt_time(last["at_us"]), by=last["by"], account=last["account"]) if last else _("none")],
                [_("next audit due by"), fmt_time(d["audit_due_us"]) if d["audit_due_us"] else _("not tracked")],
                [_("this month's register due by"), fmt_time(d["register_due_us"]) if d["register_due_us"] else
                 _("not tracked")]]
        rows += [[_("register {month} LATE").format(month=x["month"]),
                  _("due {time}; runs {runs} not countersigned").format(time=fmt_time(x["due_us"]), runs=x["runs"])]
                 for x in d["registers_late"]]
        out.append((_("Deadlines"), [_("WHAT"), _("WHEN")], rows))
    return out
