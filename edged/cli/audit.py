"""edgectl verbs for the audit log (R7): list, verify, export, and the periodic audit report.

Reading the log needs an auditor's session (the ethics office). Any account may have the
daemon check that the chain is intact (the answer shows no record's content). An export is JSON
lines carrying both hashes, so a third party re-checks it without edged (`audit verify --file`,
or `python3 -m storage.audit FILE`); `audit verify --catalog` checks a catalog file (a backup).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from storage.declare import ConfigError, parse_duration
from edged.control.client import call
from edged.cli import files
from edged.cli.display import Verbs, JSON, UsageError, fmt_bytes, fmt_time, label_of, parse_when, table
from edged.cli.documents import site_doc
from edged.documents.audit import audit_report_html
from edged.documents.audit_settings import settings_lines, settings_sections
from edged.documents.register import RUN_LABELS
from edged.documents.retrieval import CATEGORY_LABELS, KIND_LABELS, STATE_LABELS
from edged.i18n import N_, _, speaking
from edged.rules.words import mode_word
from storage import audit
from storage.readonly import open_readonly
from storage.time.clock import SYSTEM
from argparse import Namespace
from edged.cli.ctx import Ctx


def cmd_audit(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.a_cmd == "verify":
        return _verify(ctx, args)
    if args.a_cmd == "export":
        return _export(ctx, args)
    if args.a_cmd == "report":
        return _report(ctx, args)
    req: dict[str, Any] = {"limit": args.limit, "action": args.action}
    if args.since:
        try:
            req["from_us"] = SYSTEM.now_us() - parse_duration(args.since, "--since")
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    if args.before is not None:
        req["before_seq"] = args.before
    rows = call(ctx.socket, "audit.list", req)
    text = table([_("SEQ"), _("WHEN"), _("WHO"), _("WHAT"), _("DETAIL")], [
        [r["seq"], fmt_time(r["at_us"]), r["actor"], r["action"], shown_detail(r)] for r in rows])
    if rows and len(rows) == args.limit:
        text += "\n" + _("(the newest {n} shown; older ones: --before {seq})").format(n=len(rows), seq=rows[0]["seq"])
    return rows, text if rows else _("no audit records")


def shown_detail(r: dict[str, Any]) -> str:
    """A record's detail as listed: a long one (design/0091) as its start and its length."""
    cut = r.get("detail_cut")
    if cut:
        return str(cut["start"]) + "… " + _("({n} characters; `edgectl audit export` has the record whole)").format(
            n=cut["chars"])
    return json.dumps(r["detail"], ensure_ascii=False, sort_keys=True)


def _verify(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            n, problem, head = audit.verify_lines(f)
        if problem:
            raise UsageError(_("audit export {file} BROKEN at record {n}: {problem}").format(
                file=args.file, n=n, problem=problem))
        if args.head and head and f"{head['seq']}:{head['hash']}" != args.head.strip():
            raise UsageError(_("audit export {file} ends at {seq}:{hash}, not at the expected head {head}").format(
                file=args.file, seq=head["seq"], hash=head["hash"], head=args.head))
        return {"records": n, "ok": True, "head": head}, _intact(_("audit export intact: {n} records"), n, head)
    expect = None
    if args.head:
        try:
            seq, digest = args.head.split(":", 1)
            expect = [int(seq), digest.strip()]
        except ValueError:
            raise UsageError(_("--head is SEQ:HASH, as published on MQTT")) from None
    if args.catalog:  # a catalog file (a backup; the live one as root): no daemon, read-only
        try:
            db = open_readonly(Path(args.catalog))
        except FileNotFoundError:
            raise UsageError(_("no catalog file {path}").format(path=args.catalog)) from None
        try:
            n, problem = audit.verify(db, None if expect is None else (expect[0], expect[1]))
            head = audit.head(db)
        except sqlite3.DatabaseError as exc:
            raise UsageError(_("{path} cannot be read as a catalog: {why}").format(
                path=args.catalog, why=exc)) from None
        finally:
            db.conn.close()
    else:
        r = call(ctx.socket, "audit.verify", {"head": expect}, timeout=600)
        n, problem, head = r["records"], r["problem"], r["head"]
    if problem:
        raise UsageError(_("audit chain BROKEN at record {n}: {problem}").format(n=n, problem=problem))
    return {"records": n, "ok": True, "problem": None, "head": head}, _intact(_("audit chain intact: {n} records"),
                                                                           n, head)


def _intact(line: str, n: int, head: dict[str, Any] | None) -> str:
    return line.format(n=n) + (_(", head {seq} {hash}").format(seq=head["seq"], hash=head["hash"]) if head else "")


def _export(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.out == "-":
        out = sys.stdout
    else:  # the log names people: the file is the auditor's alone, and never written through a link
        out = files.open_text(args.out)
    n, after, last = 0, 0, None
    try:
        while True:
            page = call(ctx.socket, "audit.export", {"after_seq": after}, timeout=120)
            for r in page["records"]:
                out.write(audit.export_line(r) + "\n")
                n, after, last = n + 1, r["seq"], r
            if not page["more"]:
                break
    finally:
        if out is not sys.stdout:
            out.close()
    head = None if last is None else {"seq": last["seq"], "hash": last["hash"]}
    data = {"records": n, "file": args.out, "head": head}
    if args.out == "-":
        return data, ""
    return data, _("{n} audit records written to {path}").format(n=n, path=args.out) + (
        _("; head {seq} {hash} (check it against the head the central office holds)").format(
            seq=head["seq"], hash=head["hash"]) if head else "")


def _report(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    start, end = parse_when(args.from_, now), parse_when(args.to, now) if args.to else now
    req: dict[str, Any] = {"from_us": start, "to_us": end}
    if args.done:
        if not (args.name or "").strip():
            raise UsageError(_("--done records who audited: give --name"))
        req["done"] = {"name": args.name, "note": args.note or ""}
    r = call(ctx.socket, "audit.report", req, timeout=300)
    if args.out:  # the printable report, in the site's language (edged/documents/audit.py)
        doc, cams = site_doc(ctx, args.lang)
        with speaking(doc.lang):   # in the office's words, as the desk prints it (issue 42)
            page = audit_report_html(doc, r, SYSTEM.now_us(), cams)
        files.write_new(args.out, page)
    text = report_text(r)
    if args.out:
        text += "\n\n" + _("HTML report written to {path}").format(path=args.out)
    return r, text


# rendering --------------------------------------------------------------------------
def _sections(r: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, headers, rows) for each part of the report, shared by the text and HTML forms."""
    acc = [[a["name"], a["full_name"] or "-", ", ".join(a["roles"]),
            _("all") if a["cameras"] is None else ", ".join(a["cameras"]), fmt_time(a["opened_us"]),
            _("revoked {time}").format(time=fmt_time(a["revoked_us"])) if a["revoked_us"] else _("active"),
            "; ".join(_("{action} {time} by {by}: {reason}").format(
                action=e["action"], time=fmt_time(e["at_us"]), by=e["by"], reason=e["reason"]) for e in a["events"])]
           for a in r["accounts"]]
    req = [[q["id"], label_of(KIND_LABELS, q["kind"]), label_of(CATEGORY_LABELS, q["category"]),
            ", ".join(q["cameras"]), mode_word(q["mode"]), q["requester_name"], q["filed_by"],
            fmt_time(q["filed_us"]),
            q["decided_by"] or "-", label_of(STATE_LABELS, q["state"]) + (" " + _("LATE") if q["late"] else ""),
            q["flag"] or "-"] for q in r["requests"]]
    views = [[v["grant_id"], v["request_id"], ", ".join(v["cameras"]), f"{fmt_time(v['from_us'])} - "
              f"{fmt_time(v['to_us'])}", fmt_time(v["used_us"]), v["custodian"], v["approver"], v["watcher"] or "-"]
             for v in r["viewings"]]
    views += [["-", "-", json.dumps(x["detail"].get("cameras", x["detail"].get("camera", "")), ensure_ascii=False)
               if isinstance(x["detail"], dict) else "-", x["action"], fmt_time(x["at_us"]), x["actor"], "-", "-"]
              for x in r["live_and_playback"]]
    exp = [[e["id"], e["grant_id"], e["request_id"], ", ".join(e["cameras"]), fmt_time(e["created_us"]),
            e["custodian"], e["approver"], fmt_bytes(e["bytes"]), (e["manifest_sha256"] or "")[:16]]
           for e in r["exports"]]
    holds = [[h["id"], h["kind"], _("all") if h["cameras"] is None else ", ".join(h["cameras"]), h["case_ref"],
              _("{time} by {by}").format(time=fmt_time(h["placed_us"]), by=h["placed_by"]),
              _("{action} {time} by {by}").format(action=h["ended_how"], time=fmt_time(h["ended_us"]), by=h["ended_by"])
              if h["ended_us"] else _("in force")]
             for h in r["holds"]]
    d = r["destructions"]
    gone = [[x["camera"], x["reason"], x["segments"], fmt_bytes(x["bytes"]), fmt_time(x["oldest_us"]),
             fmt_time(x["newest_us"])] for x in d["by_camera"]]
    insp = [[i["id"], label_of(RUN_LABELS, i["kind"]), fmt_time(i["ran_us"]), i["cameras"], i["anomalies"],
             i["inspector"] or _("UNSIGNED"), i["supervisor"] or _("NOT COUNTERSIGNED")] for i in r["inspections"]]
    fails = [[f["name"], fmt_time(f["at_us"]), f["via"], f["why"]] for f in r["failed_logins"]["list"]]
    return [
        (_("Accounts and their rights"), _h("ACCOUNT", "NAME", "ROLES", "CAMERAS", "OPENED", "STATE",
                                             "CHANGES IN PERIOD"), acc),
        (_("Retrieval requests"), _h("ID", "KIND", "REASON", "CAMERAS", "MODE", "REQUESTER", "FILED BY", "FILED",
                                     "DECIDED BY", "STATE", "FLAG"), req),
        (_("Viewings (grants used, live view and playback)"), _h("GRANT", "REQUEST", "CAMERAS", "FOOTAGE / ACTION",
                                                                  "WHEN", "CUSTODIAN / WHO", "APPROVER", "WATCHED BY"),
         views),
        (_("Exports"), _h("EXPORT", "GRANT", "REQUEST", "CAMERAS", "MADE", "CUSTODIAN", "APPROVER", "SIZE", "MANIFEST"),
         exp),
        (_("Holds"), _h("ID", "KIND", "CAMERAS", "CASE", "PLACED", "ENDED"), holds),
        (_("Destructions ({n} segments, {size}, {passes} passes)").format(
            n=d["segments"], size=fmt_bytes(d["bytes"]), passes=d["passes"]),
         _h("CAMERA", "REASON", "SEGMENTS", "SIZE", "OLDEST", "NEWEST"), gone),
        (_("Inspections"), _h("RUN", "KIND", "RAN", "CAMERAS", "ANOMALIES", "INSPECTOR", "SUPERVISOR"), insp),
        (_("Failed logins ({n})").format(n=r["failed_logins"]["total"]), _h("ACCOUNT", "WHEN", "VIA", "WHY"), fails),
        *settings_sections(r, fmt_time),
    ]


HEADERS = [N_("ACCOUNT"), N_("NAME"), N_("ROLES"), N_("CAMERAS"), N_("OPENED"), N_("STATE"), N_("CHANGES IN PERIOD"),
           N_("ID"), N_("KIND"), N_("REASON"), N_("MODE"), N_("REQUESTER"), N_("FILED BY"), N_("FILED"),
           N_("DECIDED BY"), N_("FLAG"), N_("GRANT"), N_("REQUEST"), N_("FOOTAGE / ACTION"), N_("WHEN"),
           N_("CUSTODIAN / WHO"), N_("APPROVER"), N_("WATCHED BY"), N_("EXPORT"), N_("MADE"), N_("CUSTODIAN"),
           N_("SIZE"), N_("MANIFEST"), N_("CASE"), N_("PLACED"), N_("ENDED"), N_("CAMERA"), N_("SEGMENTS"),
           N_("OLDEST"), N_("NEWEST"), N_("RUN"), N_("RAN"), N_("ANOMALIES"), N_("INSPECTOR"), N_("SUPERVISOR"),
           N_("VIA"), N_("WHY")]  # the column titles below, marked for the catalog


def _h(*names: str) -> list[str]:
    return [_(n) for n in names]


def _chain_line(r: dict[str, Any]) -> str:
    c = r["audit_chain"]
    head = c["head"]
    state = _("intact") if c["intact"] else _("BROKEN: {problem}").format(problem=c["problem"])
    line = _("audit chain: {n} records, {state}").format(n=c["records"], state=state) + (
        _("; head {seq} {hash}").format(seq=head["seq"], hash=head["hash"]) if head else "")
    signed = c.get("signed_head")
    if signed:  # for a site without a broker: the central office records this line from the paper copy
        line += "\n" + _("signed chain head (node key {key}; the central office checks it with edged-central "
                         "anchor):").format(key=signed["key_fingerprint"]) + f"\n{signed['line']}"
    return line


def report_text(r: dict[str, Any]) -> str:
    parts = [_("Audit report, {start} to {end} (made {made})").format(
        start=fmt_time(r["from_us"]), end=fmt_time(r["to_us"]), made=fmt_time(r["made_us"])),
             _chain_line(r), *settings_lines(r, fmt_time)]
    for title, headers, rows in _sections(r):
        parts.append(f"\n{title}\n" + (table(headers, rows) if rows else "  " + _("none")))
    return "\n".join(parts)


class _OfflineFile(argparse.Action):
    """`audit verify --file F` and `--catalog F` need no daemon: edgectl runs them standalone (ctx is None)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.standalone = True


def register(sub: Verbs) -> None:
    p = sub.add_parser("audit", help=_("the audit log (an append-only hash chain): list, verify, export, report"))
    a = p.add_subparsers(dest="a_cmd", required=True)
    ls = a.add_parser("list", parents=[JSON], help=_("recent audit records (auditor)"))
    ls.add_argument("--since", metavar="DURATION", help=_("only this far back, e.g. 7d"))
    ls.add_argument("--action", help=_("only this action or family, e.g. login or request"))
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--before", type=int, metavar="SEQ", help=_("the records before this one (the next page back)"))
    v = a.add_parser("verify", parents=[JSON], help=_("check that no record was altered, removed, inserted or "
                                                      "reordered"))
    v.add_argument("--head", metavar="SEQ:HASH", help=_("a chain head published on MQTT: the log must still hold it"))
    v.add_argument("--file", action=_OfflineFile, help=_("check an export file instead (on any machine: no edged, "
                                                         "catalog or login needed)"))
    v.add_argument("--catalog", action=_OfflineFile, metavar="FILE",
                   help=_("check a catalog file instead (a backup, or the live one as root): no daemon needed"))
    x = a.add_parser("export", parents=[JSON], help=_("the whole log as JSON lines with the hashes, for a third party "
                                                      "(auditor)"))
    x.add_argument("--out", required=True, metavar="FILE", help=_("file to write ('-': standard output)"))
    r = a.add_parser("report", parents=[JSON], help=_("the periodic audit report (R7.2) for a period (auditor)"))
    r.add_argument("--from", dest="from_", required=True, metavar="T")
    r.add_argument("--to", metavar="T", help=_("default: now"))
    r.add_argument("--out", metavar="FILE.html", help=_("also write the report as an HTML file"))
    r.add_argument("--done", action="store_true", help=_("record that the periodic audit was done (on the audit "
                                                         "chain): the audit_overdue alarm clears and the next audit "
                                                         "falls due from now"))
    r.add_argument("--name", help=_("with --done: who audited (as signed on the audit form)"))
    r.add_argument("--note", help=_("with --done: findings or remarks, kept on the record"))
    p.set_defaults(handler=cmd_audit)
