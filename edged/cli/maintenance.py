"""edgectl verbs for maintenance windows (R1.7). The audit verbs are in edged/cli/audit.py."""

from __future__ import annotations

import json
import sys
from typing import Any

from storage.declare import ConfigError, parse_duration
from edged.control.client import call
from edged.cli.display import Verbs, JSON, Progress, UsageError, fmt_bytes, fmt_time, table
from edged.cli.documents import maintenance_record
from edged.i18n import _
from argparse import Namespace
from edged.cli.ctx import Ctx


def cmd_maintenance(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.m_cmd == "begin":
        return _begin(ctx, args)
    if args.m_cmd == "record":
        return maintenance_record(ctx, args)
    if args.m_cmd == "password-changed":
        r = call(ctx.socket, "maintenance.password_changed", {"note": args.note})
        return r, _("superuser password change recorded after window(s) {ids} ({vendors}), on the audit "
                    "record").format(ids=", ".join(str(i) for i in r["windows"]), vendors=", ".join(r["vendors"]))
    if args.m_cmd == "end":
        w = call(ctx.socket, "maintenance.end", {"note": args.note or ""})
        return w, _("maintenance window {id} closed at {at} by {who}").format(
            id=w["id"], at=fmt_time(w["ended_us"]), who=w["ended_by"])
    rows = call(ctx.socket, "maintenance.list", {"limit": args.limit})
    text = table([_("ID"), _("BEGAN"), _("BY"), _("ATTENDED BY"), _("REASON"), _("ENDED"), _("BY"), _("PROTECTED"),
                  _("DESTROYED IN WINDOW"), _("CHECKED"), _("MISMATCHES"), _("VENDOR")], [
        [r["id"], fmt_time(r["began_us"]), r["began_by"], r["attended_by"] or "-", r["reason"], fmt_time(r["ended_us"]),
         r["ended_by"] or "-", f"{r['protected_segments'] or 0} ({fmt_bytes(r['protected_bytes'])})",
         r["yielded_segments"] or "-", r["verified"], len(json.loads(r["mismatches"] or "[]")), _vendor(r)]
        for r in rows])
    return rows, text if rows else _("no maintenance on record")


def _vendor(r: dict[str, Any]) -> str:
    """The vendor who attended, and whether the superuser password was changed after (002 §6(3))."""
    if not r.get("vendor"):
        return "-"
    if r.get("password_changed_us"):
        return _("{vendor} (password changed {at})").format(vendor=r["vendor"], at=fmt_time(r["password_changed_us"]))
    return _("{vendor} (PASSWORD NOT CHANGED)").format(vendor=r["vendor"])


def _begin(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`maintenance begin`: the footage copied first when the work touches storage, the catalog
    copied, recent hashes checked, the window open."""
    try:
        verify_us = parse_duration(args.verify, "--verify")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.touches_storage:
        print(_("copying the footage to [maintenance] backup_dir first (each copy's hash checked) ..."),
              file=sys.stderr, flush=True)
    print(_("taking a copy of the catalog and checking the hashes of the last {span} of footage ...").format(
        span=args.verify), file=sys.stderr, flush=True)
    bar = Progress("copy", lambda bar, pct, info: _(
        "copying footage [{bar}] {pct:3d}%  {done} of {total}  {files}/{of} files").format(
        bar=bar, pct=pct, done=fmt_bytes(info.get("done_bytes")), total=fmt_bytes(info.get("total_bytes")),
        files=info.get("files"), of=info.get("of")))
    try:
        w = call(ctx.socket, "maintenance.begin", {"reason": args.reason, "verify_us": verify_us,
                                                   "attended_by": args.attended_by or "",
                                                   "vendor": args.vendor or "",
                                                   "touches_storage": args.touches_storage},
                 on_progress=bar, timeout=3600)
    finally:
        bar.done()
    bad = w["mismatches"]
    lines = [
        (_("maintenance window {id} open since {at} ({reason}), attended by {who}") if w["attended_by"] else
         _("maintenance window {id} open since {at} ({reason}), attended by no manager")).format(
            id=w["id"], at=fmt_time(w["began_us"]), reason=w["reason"], who=w["attended_by"]),
        _("protected: {n} segments of footage ({size}); nothing is destroyed until the window ends").format(
            n=w["protected_segments"], size=fmt_bytes(w["protected_bytes"])),
        _("catalog copy: {path} ({n} segments), sha256 {sha}").format(
            path=w["backup"], n=w["backup_segments"], sha=w["backup_sha256"])]
    if w.get("footage_copy"):
        c = json.loads(w["footage_copy"])
        lines.append(_("footage copied to {dir}: {copied} files ({size}) copied and checked, {already} already "
                       "there; {missing} gone before they could be copied").format(
            dir=c["dir"], copied=c["copied"], size=fmt_bytes(c["bytes"]), already=c["already"],
            missing=c["missing"]))
    if w.get("vendor"):
        lines.append(_("a vendor attends ({vendor}): once the window closes, change the superuser password and "
                       "record it with: edgectl maintenance password-changed --note ...").format(vendor=w["vendor"]))
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


def register(sub: Verbs) -> None:
    p = sub.add_parser("maintenance", help=_("maintenance windows: protect the footage first, keep it on the record"))
    ms = p.add_subparsers(dest="m_cmd", required=True)
    b = ms.add_parser("begin", parents=[JSON], help=_("copy the catalog, check recent footage hashes, open the window"))
    b.add_argument("--reason", required=True)
    b.add_argument("--attended-by", metavar="NAME", help=_("the manager who attends (on the record; required unless "
                                                           "[maintenance] require_attendance = false)"))
    b.add_argument("--verify", default="10m", metavar="DURATION", help=_("how much recent footage to check (10m)"))
    b.add_argument("--vendor", metavar="NAME", help=_("the vendor who works on the system: once the window closes, "
                                                      "an alarm until the superuser password is changed"))
    b.add_argument("--touches-storage", action="store_true",
                   help=_("the work touches storage (disks, the recorder's storage settings): first copy the footage "
                          "to [maintenance] backup_dir, or refuse"))
    pc = ms.add_parser("password-changed", parents=[JSON], help=_("record that the superuser password was changed "
                                                                  "after a vendor's maintenance"))
    pc.add_argument("--note", required=True, help=_("which password, and who holds it now"))
    e = ms.add_parser("end", parents=[JSON], help=_("close the open window"))
    e.add_argument("--note", help=_("what was done"))
    r = ms.add_parser("record", parents=[JSON], help=_("one window as the maintenance record, printable"))
    r.add_argument("id", type=int)
    r.add_argument("--out", metavar="FILE", help=_("where to write the page (default maintenance-ID.html)"))
    s = ms.add_parser("list", parents=[JSON], help=_("maintenance windows on record"))
    s.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_maintenance)
