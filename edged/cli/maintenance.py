"""edgectl verbs for maintenance windows (R1.7). The audit verbs are in edged/cli/audit.py."""

from __future__ import annotations

import json
import sys
from typing import Any

from edged.config import ConfigError, parse_duration
from edged.control.client import call
from edged.cli.display import JSON, UsageError, fmt_bytes, fmt_time, table
from edged.i18n import _


def cmd_maintenance(ctx, args) -> tuple[Any, str]:
    if args.m_cmd == "begin":
        try:
            verify_us = parse_duration(args.verify, "--verify")
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        print(_("taking a copy of the catalog and checking the hashes of the last {span} of footage ...").format(
            span=args.verify), file=sys.stderr, flush=True)
        w = call(ctx.socket, "maintenance.begin", {"reason": args.reason, "verify_us": verify_us,
                                                   "attended_by": args.attended_by or ""}, timeout=3600)
        bad = w["mismatches"]
        lines = [
            (_("maintenance window {id} open since {at} ({reason}), attended by {who}") if w["attended_by"] else
             _("maintenance window {id} open since {at} ({reason}), attended by no manager")).format(
                id=w["id"], at=fmt_time(w["began_us"]), reason=w["reason"], who=w["attended_by"]),
            _("protected: {n} segments of footage ({size}); nothing is destroyed until the window ends").format(
                n=w["protected_segments"], size=fmt_bytes(w["protected_bytes"])),
            _("catalog copy: {path} ({n} segments), sha256 {sha}").format(
                path=w["backup"], n=w["backup_segments"], sha=w["backup_sha256"])]
        if w["backup_same_disk"]:
            lines.append(_("WARNING: the catalog copy is on the same disk as the footage; set [maintenance] backup_dir "
                           "to a folder on another disk"))
        lines.append(_("footage checked: {n} segments, {bad} DO NOT MATCH their recorded hash: {paths}").format(
            n=w["verified"], bad=len(bad), paths=", ".join(b["path"] for b in bad)) if bad else
            _("footage checked: {n} segments, all match their recorded hash").format(n=w["verified"]))
        lines += [_("recording goes on; expected faults (a camera unplugged) raise maintenance-level alarms."),
                  _("Close the window with: edgectl maintenance end --note ...")]
        text = "\n".join(lines)
        return w, text
    if args.m_cmd == "end":
        w = call(ctx.socket, "maintenance.end", {"note": args.note or ""})
        return w, _("maintenance window {id} closed at {at} by {who}").format(
            id=w["id"], at=fmt_time(w["ended_us"]), who=w["ended_by"])
    rows = call(ctx.socket, "maintenance.list", {"limit": args.limit})
    text = table([_("ID"), _("BEGAN"), _("BY"), _("ATTENDED BY"), _("REASON"), _("ENDED"), _("BY"), _("PROTECTED"),
                  _("DESTROYED IN WINDOW"), _("CHECKED"), _("MISMATCHES")], [
        [r["id"], fmt_time(r["began_us"]), r["began_by"], r["attended_by"] or "-", r["reason"], fmt_time(r["ended_us"]),
         r["ended_by"] or "-", f"{r['protected_segments'] or 0} ({fmt_bytes(r['protected_bytes'])})",
         r["yielded_segments"] or "-", r["verified"], len(json.loads(r["mismatches"] or "[]"))] for r in rows])
    return rows, text if rows else _("no maintenance on record")


def register(sub) -> None:
    p = sub.add_parser("maintenance", help=_("maintenance windows: protect the footage first, keep it on the record"))
    ms = p.add_subparsers(dest="m_cmd", required=True)
    b = ms.add_parser("begin", parents=[JSON], help=_("copy the catalog, check recent footage hashes, open the window"))
    b.add_argument("--reason", required=True)
    b.add_argument("--attended-by", metavar="NAME", help=_("the manager who attends (on the record; required unless "
                                                           "[maintenance] require_attendance = false)"))
    b.add_argument("--verify", default="10m", metavar="DURATION", help=_("how much recent footage to check (10m)"))
    e = ms.add_parser("end", parents=[JSON], help=_("close the open window"))
    e.add_argument("--note", help=_("what was done"))
    s = ms.add_parser("list", parents=[JSON], help=_("maintenance windows on record"))
    s.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_maintenance)
