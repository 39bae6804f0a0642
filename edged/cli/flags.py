"""edgectl verbs for segments flagged for a host clock that was behind (design/0059): list them,
and resolve a flag with a written reason (on the audit log). Nothing here touches footage."""

from __future__ import annotations

from typing import Any

from edged.control.client import call
from edged.cli.display import Verbs, JSON, UsageError, fmt_time, parse_when, table
from edged.i18n import _
from storage.time.clock import SYSTEM
from argparse import Namespace
from edged.cli.ctx import Ctx


def resolution(r: dict[str, Any]) -> str:
    """A flagged segment's state as a person reads it."""
    if r.get("resolved_us") is None:
        return _("flagged: stamped by a clock that was behind, time unknown")
    if r.get("resolved_shift_us") is not None:
        return _("flagged, resolved by {who} at {at}: {why}; it began at {start}").format(
            who=r["resolved_by"], at=fmt_time(r["resolved_us"]), why=r["resolved_reason"],
            start=fmt_time(r["start_us"] + r["resolved_shift_us"]))
    return _("flagged, resolved by {who} at {at}: {why}").format(
        who=r["resolved_by"], at=fmt_time(r["resolved_us"]), why=r["resolved_reason"])


def cmd_flags(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.f_cmd == "resolve":
        if not args.ids and not args.all:
            raise UsageError(_("name the segment ids (edgectl flags list shows them), or --all"))
        if args.ids and args.all:
            raise UsageError(_("segment ids or --all, not both"))
        if args.true_start and len(set(args.ids or [])) != 1:
            raise UsageError(_("--true-start names when one segment began: give exactly one segment id"))
        true_start = parse_when(args.true_start, SYSTEM.now_us()) if args.true_start else None
        reply = call(ctx.socket, "flags.resolve", {"ids": args.ids or None, "all": args.all, "camera": args.camera,
                                                   "reason": args.reason, "true_start_us": true_start})
        done = reply["resolved"]
        text = _("{n} flagged segments resolved (on the audit log); {left} still unresolved").format(
            n=len(done), left=reply["unresolved"]) if done else _("no flagged segment was left to resolve")
        return reply, text
    rows = call(ctx.socket, "flags.list", {"all": args.all, "camera": args.camera, "limit": args.limit})["flags"]
    text = table([_("ID"), _("CAMERA"), _("START (AS STAMPED)"), _("LENGTH"), _("FLAGGED"), _("STATE"), _("PATH")], [
        [r["id"], r["camera"], fmt_time(r["start_us"]),
         f"{((r['end_us'] or r['start_us']) - r['start_us']) / 1e6:.1f}s", fmt_time(r["flagged_us"]), resolution(r),
         r["path"]] for r in rows])
    return rows, text if rows else (_("no flagged segments") if args.all else _("no unresolved flagged segments"))


def register(sub: Verbs) -> None:
    p = sub.add_parser("flags", help=_("segments stamped by a host clock that was behind: list them, resolve a flag"))
    fs = p.add_subparsers(dest="f_cmd", required=True)
    ls = fs.add_parser("list", parents=[JSON], help=_("flagged segments no person has resolved yet"))
    ls.add_argument("--all", action="store_true", help=_("resolved ones too, with who resolved them and why"))
    ls.add_argument("--camera", help=_("only this camera"))
    ls.add_argument("--limit", type=int, default=1000)
    r = fs.add_parser("resolve", parents=[JSON], help=_("record what a person found (the footage is not touched; "
                                                         "retention judges its age by the time given, else by its "
                                                         "camera's next segment)"))
    r.add_argument("ids", nargs="*", type=int, metavar="ID", help=_("segment ids"))
    r.add_argument("--all", action="store_true", help=_("every unresolved flagged segment (of --camera)"))
    r.add_argument("--camera", help=_("only this camera"))
    r.add_argument("--reason", required=True, help=_("what was checked and found (on the audit log)"))
    r.add_argument("--true-start", metavar="T", help=_("when the one segment named truly began (ISO 8601 local "
                                                        "time, from its picture's time display): on the record"))
    p.set_defaults(handler=cmd_flags)
