"""edgectl verbs for maintenance windows (R1.7). The audit verbs are in edged/cli/audit.py."""

from __future__ import annotations

import json
import sys
from typing import Any

from edged.config import ConfigError, parse_duration
from edged.control.client import call
from edged.cli.display import JSON, UsageError, fmt_bytes, fmt_time, table


def cmd_maintenance(ctx, args) -> tuple[Any, str]:
    if args.m_cmd == "begin":
        try:
            verify_us = parse_duration(args.verify, "--verify")
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        print(f"taking a copy of the catalog and checking the hashes of the last {args.verify} of footage ...",
              file=sys.stderr, flush=True)
        w = call(ctx.socket, "maintenance.begin", {"reason": args.reason, "verify_us": verify_us,
                                                   "attended_by": args.attended_by or ""}, timeout=3600)
        bad = w["mismatches"]
        text = (f"maintenance window {w['id']} open since {fmt_time(w['began_us'])} ({w['reason']})"
                + (f", attended by {w['attended_by']}" if w["attended_by"] else ", attended by no manager") + "\n"
                f"protected: {w['protected_segments']} segments of footage ({fmt_bytes(w['protected_bytes'])}); "
                "nothing is destroyed until the window ends\n"
                f"catalog copy: {w['backup']} ({w['backup_segments']} segments), sha256 {w['backup_sha256']}\n"
                + ("WARNING: the catalog copy is on the same disk as the footage; set [maintenance] backup_dir to a "
                   "folder on another disk\n" if w["backup_same_disk"] else "") +
                f"footage checked: {w['verified']} segments, "
                + (f"{len(bad)} DO NOT MATCH their recorded hash: " + ", ".join(b["path"] for b in bad)
                   if bad else "all match their recorded hash")
                + "\nrecording goes on; expected faults (a camera unplugged) raise maintenance-level alarms."
                "\nClose the window with: edgectl maintenance end --note ...")
        return w, text
    if args.m_cmd == "end":
        w = call(ctx.socket, "maintenance.end", {"note": args.note or ""})
        return w, f"maintenance window {w['id']} closed at {fmt_time(w['ended_us'])} by {w['ended_by']}"
    rows = call(ctx.socket, "maintenance.list", {"limit": args.limit})
    text = table(["ID", "BEGAN", "BY", "ATTENDED BY", "REASON", "ENDED", "BY", "PROTECTED", "DESTROYED IN WINDOW",
                  "CHECKED", "MISMATCHES"], [
        [r["id"], fmt_time(r["began_us"]), r["began_by"], r["attended_by"] or "-", r["reason"], fmt_time(r["ended_us"]),
         r["ended_by"] or "-", f"{r['protected_segments'] or 0} ({fmt_bytes(r['protected_bytes'])})",
         r["yielded_segments"] or "-", r["verified"], len(json.loads(r["mismatches"] or "[]"))] for r in rows])
    return rows, text if rows else "no maintenance on record"


def register(sub) -> None:
    p = sub.add_parser("maintenance", help="maintenance windows: protect the footage first, keep it on the record")
    ms = p.add_subparsers(dest="m_cmd", required=True)
    b = ms.add_parser("begin", parents=[JSON], help="copy the catalog, check recent footage hashes, open the window")
    b.add_argument("--reason", required=True)
    b.add_argument("--attended-by", metavar="NAME", help="the manager who attends (on the record; required unless "
                   "[maintenance] require_attendance = false)")
    b.add_argument("--verify", default="10m", metavar="DURATION", help="how much recent footage to check (10m)")
    e = ms.add_parser("end", parents=[JSON], help="close the open window")
    e.add_argument("--note", help="what was done")
    s = ms.add_parser("list", parents=[JSON], help="maintenance windows on record")
    s.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_maintenance)
