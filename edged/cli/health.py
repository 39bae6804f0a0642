"""edgectl verbs for camera health and inspections (docs/requirements.md R2, R3):
`camera set-reference`, `inspect` (run, sign, countersign, list, show) and the monthly
register `inspect report` (CSV plus a printable HTML page for the supervisor)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from edged.control.client import call
from edged.cli import discover, files, probe
from storage.time import rocdate
from edged.cli.display import Verbs, JSON, UsageError, field, fmt_time, label_of, table
from edged.cli.documents import site_doc
from edged.documents.register import RUN_LABELS, register_html
from edged.i18n import N_, _, speaking
from edged.rules.inspections import ITEMS
from storage.time.clock import SYSTEM
from argparse import Namespace
from edged.cli.ctx import Ctx

MARK = {True: "ok", False: "FAIL", None: "n/a"}  # the CSV's values (for scripts: never translated)
SHOWN = {True: N_("ok"), False: N_("FAIL"), None: N_("n/a")}
COLUMNS = {"host": N_("HOST"), "picture": N_("PICTURE"), "audio": N_("AUDIO"), "recording": N_("RECORDING"), "login": N_("LOGIN"), "camera_login": N_("CAMERA LOGIN"),
           "clock": N_("CLOCK"), "quality": N_("QUALITY")}


def shown(ok: bool | None) -> str:
    return _(SHOWN[ok])


# camera -----------------------------------------------------------------------------------
def cmd_set_reference(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    r = call(ctx.socket, "camera.set_reference", {"camera": args.camera})
    return r, _("reference picture of camera {camera} set from the sample of {time}; a camera turned away from "
               "this view now raises camera_moved").format(camera=r["camera"], time=fmt_time(r["sample_us"]))


# inspections ------------------------------------------------------------------------------
def show_run(run: dict[str, Any]) -> str:
    head = (_("inspection {id} ({kind}), run {ran}, due {due} by {by}") if run["due_us"] else
            _("inspection {id} ({kind}), run {ran} by {by}")).format(
        id=run["id"], kind=label_of(RUN_LABELS, run["kind"]), ran=fmt_time(run["ran_us"]), due=fmt_time(run["due_us"]),
        by=run["ran_by"])
    rows = [[r["camera"], *(shown(r["items"].get(i, {}).get("ok")) for i in ITEMS), r["anomalies"] or "-", r["handling"] or ""]
            for r in run["records"]]
    items = [_(COLUMNS[i]) if i in COLUMNS else i.upper() for i in ITEMS]
    lines = [head, table([_("CAMERA"), *items, _("ANOMALIES"), _("HANDLING")], rows)]
    lines.append(field(_("signed"), _("{name} at {time}").format(name=run["inspector"], time=fmt_time(
        run["signed_us"])) if run["signed_us"] else _("not yet (`edgectl inspect sign {id} --name ...`)").format(
        id=run["id"]), 15))
    lines.append(field(_("countersigned"), _("{name} at {time}").format(name=run["supervisor"], time=fmt_time(
        run["countersigned_us"])) if run["countersigned_us"] else _("not yet"), 15))
    units: dict[str, list[dict[str, Any]]] = {}
    for r in run["records"]:
        if r.get("unit"):
            units.setdefault(r["unit"], []).append(r)
    for unit, recs in units.items():  # countersigned per managing unit (design/0082)
        done = recs[0] if all(r.get("countersigned_us") for r in recs) else None
        lines.append(field(unit, _("{name} at {time}").format(name=done["supervisor"], time=fmt_time(
            done["countersigned_us"])) if done else _("not yet"), 15))
    repairs = [r["camera"] for r in run["records"] if r.get("repair")]
    if repairs:
        lines.append(field(_("repair requested"), ", ".join(repairs), 15))
    return "\n".join(lines)


def _notes(pairs: list[str] | None) -> dict[str, str]:
    notes = {}
    for pair in pairs or []:
        cam, sep, text = pair.partition("=")
        if not sep or not cam.strip() or not text.strip():
            raise UsageError(_("--note {pair!r}: write it as CAMERA=what was done").format(pair=pair))
        notes[cam.strip()] = text.strip()
    return notes


def cmd_inspect(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """Run an inspection now, show the checklist, take handling notes and the signature."""
    notes = _notes(args.note)
    run = call(ctx.socket, "inspect.run", {}, timeout=120)
    name = args.sign
    if name is None and not args.json and sys.stdin.isatty():
        print(show_run(run))
        for r in run["records"]:
            if r["anomalies"] and r["camera"] not in notes:
                text = input(_("handling for {camera} ({anomalies}), empty to leave: ").format(
                    camera=r["camera"], anomalies=r["anomalies"])).strip()
                if text:
                    notes[r["camera"]] = text
        name = input(_("sign with your name (empty: sign later): ")).strip() or None
    if name:
        run = call(ctx.socket, "inspect.sign", {"run": run["id"], "name": name, "notes": notes})
    elif notes:
        raise UsageError(_("handling notes need a signature: edgectl inspect sign {id} --name ... --note ...").format(
            id=run["id"]))
    return run, show_run(run)


def cmd_sign(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    run = call(ctx.socket, "inspect.sign", {"run": args.run, "name": args.name, "notes": _notes(args.note),
                                            **({"repairs": args.repair} if args.repair else {})})
    return run, show_run(run)


def cmd_countersign(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    run = call(ctx.socket, "inspect.countersign", {"run": args.run, "name": args.name,
                                                   **({"unit": args.unit} if args.unit else {})})
    return run, show_run(run)


def _month(text: str | None) -> str:
    """The month asked for (2026-11 or 115/11, as the desk takes it; "": this month); the daemon bounds it in the
    site's zone, as the desk does."""
    if text and rocdate.parse_month(text) is None:
        raise UsageError(_("--month {text!r}: write it as YYYY-MM, e.g. 2026-11").format(text=text))
    return text or ""


def runs_in(ctx: Ctx, month: str) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """The month's runs (YYYY-MM, as the daemon bounded it) and the site's register details."""
    reply = call(ctx.socket, "inspect.list", {"month": month})
    return reply["month"], reply["runs"], {**reply["site"], "register_due_us": reply.get("register_due_us"),
                                  "register": reply.get("register") or {}}


def cmd_list(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    month, runs, site = runs_in(ctx, _month(args.month))
    rows = [[r["id"], label_of(RUN_LABELS, r["kind"]), fmt_time(r["ran_us"]), r["cameras"], r["anomalies"],
             r["inspector"] or _("UNSIGNED"),
             r["supervisor"] or "-"] for r in runs]
    text = table([_("RUN"), _("KIND"), _("RAN"), _("CAMERAS"), _("ANOMALIES"), _("INSPECTOR"), _("SUPERVISOR")], rows)
    text = text if runs else _("no inspections in {month}").format(month=month)
    return runs, text + ("\n" + _due(site) if _due(site) else "")


def cmd_show(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    run = call(ctx.socket, "inspect.show", {"run": args.run})
    return run, show_run(run)


def cmd_report(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    month, runs, site = runs_in(ctx, _month(args.month))
    unit = args.unit
    if unit is not None:  # one managing unit's pages alone (004 附件四; design/0089)
        known = sorted(set((site["register"].get("units") or {}).values()))
        if unit not in known:
            raise UsageError(_("no managing unit {unit!r} on this site's register; its units: {units}").format(
                unit=unit, units=", ".join(known) or _("none (one supervisor countersigns)")))
        runs = [{**run, "records": [r for r in run["records"] if r.get("unit") == unit]} for run in runs]
        runs = [run for run in runs if run["records"]]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"inspections-{month}" + (f"-{unit.replace('/', '_')}" if unit else "")
    csv_path, html_path = out / f"{stem}.csv", out / f"{stem}.html"
    with files.open_text(csv_path, newline="") as f, speaking("en"):  # for scripts: ISO dates
        w = csv.writer(f)
        w.writerow(["run", "kind", "due", "ran", "camera", *ITEMS, "anomalies", "handling", "inspector", "signed",
                    "supervisor", "countersigned", "unit", "unit_countersigned_by", "repair"])
        for run in runs:
            for r in run["records"]:
                w.writerow([run["id"], run["kind"], fmt_time(run["due_us"]) if run["due_us"] else "",
                            fmt_time(run["ran_us"]), r["camera"], *(MARK[r["items"].get(i, {}).get("ok")] for i in ITEMS),
                            r["anomalies"], r["handling"] or "", run["inspector"] or "",
                            fmt_time(run["signed_us"]) if run["signed_us"] else "", run["supervisor"] or "",
                            fmt_time(run["countersigned_us"]) if run["countersigned_us"] else "",
                            r.get("unit") or "", r.get("supervisor") or "",
                            {1: "yes", 0: "no"}.get(r.get("repair"), "")])
    doc, names = site_doc(ctx, args.lang)
    with speaking(doc.lang):
        reg = site["register"]
        files.write_new(html_path, register_html(doc, int(month[:4]), int(month[5:]), runs,
                                                 tuple(reg.get("items") or ITEMS[1:]), names, SYSTEM.now_us(),
                                                 site.get("register_due_us"), reg, unit))
    summary = {"month": month, "runs": len(runs), "anomalies": sum(r["anomalies"] for r in runs),
               "unsigned": sum(r["signed_us"] is None for r in runs),
               "not_countersigned": sum(r["countersigned_us"] is None for r in runs),
               "csv": str(csv_path), "html": str(html_path)}
    return summary, _("{n} inspections in {month} ({anomalies} with anomalies, {unsigned} unsigned): wrote {csv} "
                      "and {html}").format(n=len(runs), month=month, anomalies=summary["anomalies"],
                                           unsigned=summary["unsigned"], csv=csv_path, html=html_path)


def _due(site: dict[str, Any]) -> str:
    """When the register is due to the supervisor (R3.2, [inspection] register_due_day)."""
    due = site.get("register_due_us")
    return "" if due is None else _("Due to the supervisor by {date} (R3.2).").format(date=fmt_time(due - 1)[:10])


def register(sub: Verbs) -> None:
    p = sub.add_parser("camera", help=_("camera settings kept by edged (the reference picture); probe a new camera"))
    cs = p.add_subparsers(dest="camera_command", required=True)
    r = cs.add_parser("set-reference", parents=[JSON], help=_("take the camera's current picture as its reference (for "
                                                              "`moved`)"))
    r.add_argument("camera")
    r.set_defaults(handler=cmd_set_reference)
    probe.register(cs)
    discover.register(cs)

    p = sub.add_parser("inspect", parents=[JSON], help=_("inspections: run one now and sign it, or see the register"))
    p.add_argument("--sign", metavar="NAME", help=_("sign the inspection with your name (else asked on a terminal)"))
    p.add_argument("--note", action="append", metavar="CAMERA=TEXT", help=_("handling note for a camera's anomaly"))
    p.set_defaults(handler=cmd_inspect)
    ins = p.add_subparsers(dest="inspect_command")
    s = ins.add_parser("sign", parents=[JSON], help=_("sign an inspection (the technician), with handling notes"))
    s.add_argument("run", type=int)
    s.add_argument("--name", required=True)
    s.add_argument("--note", action="append", metavar="CAMERA=TEXT")
    s.add_argument("--repair", action="append", metavar="CAMERA",
                   help=_("a repair was requested for this camera (where the register asks)"))
    s.set_defaults(handler=cmd_sign)
    c = ins.add_parser("countersign", parents=[JSON], help=_("countersign an inspection (the supervisor)"))
    c.add_argument("run", type=int)
    c.add_argument("--name", required=True)
    c.add_argument("--unit", help=_("countersign only this managing unit's cameras (default: all of yours)"))
    c.set_defaults(handler=cmd_countersign)
    ls = ins.add_parser("list", parents=[JSON], help=_("inspections of a month"))
    ls.add_argument("--month", metavar="YYYY-MM", help=_("default: this month"))
    ls.set_defaults(handler=cmd_list)
    sh = ins.add_parser("show", parents=[JSON], help=_("one inspection with its checklist"))
    sh.add_argument("run", type=int)
    sh.set_defaults(handler=cmd_show)
    rp = ins.add_parser("report", parents=[JSON], help=_("the month's register as CSV and printable HTML (for the "
                                                         "supervisor)"))
    rp.add_argument("--month", metavar="YYYY-MM", help=_("default: this month"))
    rp.add_argument("--out", default=".", metavar="DIR", help=_("where to write the two files (default: here)"))
    rp.add_argument("--unit", help=_("one managing unit's pages alone (where each unit's chief countersigns)"))
    rp.set_defaults(handler=cmd_report)
