"""edgectl verbs for the ring buffer: holds, the retention report, destructions and alarms.

Everything goes through the daemon's control socket (design/0017). There is deliberately no
verb that deletes footage (docs/requirements.md R1.6).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from edged.config import ConfigError, parse_duration
from edged.control.client import call
from edged.cli.display import JSON, UsageError, fmt_bytes, fmt_time, parse_when, table
from storage.clock import SYSTEM
from storage.retention import DAY_US


def _days(us: int | None) -> str:
    return "-" if us is None else f"{us / DAY_US:.1f}d"


def _hold_line(h: dict[str, Any], now: int) -> list[Any]:
    if h["ended_us"]:
        state = f"{h['ended_how']} {fmt_time(h['ended_us'])}"
    elif h["kind"] == "legal":
        state = "active (legal, no expiry)"
    else:
        state = f"active until {fmt_time(h['expires_us'])}"
    cams = "all" if h["cameras"] is None else ",".join(h["cameras"])
    return [h["id"], h["kind"], cams, fmt_time(h["from_us"]), fmt_time(h["to_us"]), h["case_ref"], state,
            h["segments"], fmt_bytes(h["bytes"])]


def cmd_hold(ctx, args) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    if args.hold_cmd == "add":
        if not args.camera and not args.all_cameras:
            raise UsageError("name the cameras (--camera C, repeatable) or --all-cameras")
        if not args.reason.strip() or not args.case.strip():
            raise UsageError("a hold needs --reason and --case")
        start, end = parse_when(args.from_, now), parse_when(args.to, now)
        req: dict[str, Any] = {"kind": "legal" if args.legal else "evidence",
                               "cameras": None if args.all_cameras else args.camera, "from_us": start, "to_us": end,
                               "reason": args.reason, "case_ref": args.case}
        if args.expires:
            if args.legal:
                raise UsageError("a legal hold has no expiry")
            try:
                req["expires_us"] = now + parse_duration(args.expires, "--expires")
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
        h = call(ctx.socket, "hold.add", req)
        return h, f"hold {h['id']} placed: {h['segments']} segments ({fmt_bytes(h['bytes'])}) are now kept\n" + \
            table(["ID", "KIND", "CAMERAS", "FROM", "TO", "CASE", "STATE", "SEGMENTS", "SIZE"], [_hold_line(h, now)])
    if args.hold_cmd == "release":
        h = call(ctx.socket, "hold.release", {"id": args.id, "reason": args.reason})
        return h, f"hold {h['id']} released by {h['ended_by']}: {h['end_reason']}"
    if args.hold_cmd == "show":
        h = call(ctx.socket, "hold.show", {"id": args.id})
        lines = [f"{k:12} {v}" for k, v in (
            ("hold", h["id"]), ("kind", h["kind"]), ("cameras", "all" if h["cameras"] is None else ", ".join(h["cameras"])),
            ("from", fmt_time(h["from_us"])), ("to", fmt_time(h["to_us"])), ("case", h["case_ref"]),
            ("reason", h["reason"]), ("placed by", f"{h['placed_by']} at {fmt_time(h['placed_us'])}"),
            ("expires", "never (legal hold)" if h["expires_us"] is None else fmt_time(h["expires_us"])),
            ("ended", "-" if not h["ended_us"] else
             f"{h['ended_how']} {fmt_time(h['ended_us'])} by {h['ended_by']}: {h['end_reason'] or ''}"
             + (f" (approved by {h['approved_by']})" if h["approved_by"] else "")),
            ("keeps", f"{h['segments']} segments, {fmt_bytes(h['bytes'])}"))]
        return h, "\n".join(lines)
    rows = call(ctx.socket, "hold.list", {"all": args.all})
    text = table(["ID", "KIND", "CAMERAS", "FROM", "TO", "CASE", "STATE", "SEGMENTS", "SIZE"],
                 [_hold_line(h, now) for h in rows])
    return rows, text if rows else "no holds" + ("" if args.all else " in force (--all shows ended ones)")


def cmd_retention(ctx, args) -> tuple[Any, str]:
    rep = call(ctx.socket, "retention", {})
    rows = [[c["camera"], fmt_time(c["oldest_us"]), _days(c["achieved_us"]), _days(c["forecast_us"]),
             _days(c["min_us"]), _days(c["max_us"]), fmt_bytes(c["held_bytes"]),
             "not recorded (live mode, by policy)" if c.get("mode") == "live" else c["verdict"]] for c in rep["cameras"]]
    head = (f"disk {fmt_bytes(rep['disk_free'])} free of {fmt_bytes(rep['disk_total'])}, reserve "
            f"{fmt_bytes(rep['reserve'])}, on_full = {rep['on_full']}; at the recent write rate the disk holds "
            f"{_days(rep['forecast_us'])}; grace period {rep['grace_us'] / 3_600e6:g} h")
    graces = [f"{c['camera']}: max retention lowered from {_days(c['grace_max_us'])} to {_days(c['max_us'])}; "
              f"footage that makes due is destroyed from {fmt_time(c['grace_until_us'])}, not before"
              for c in rep["cameras"] if c.get("grace_until_us")]
    return rep, head + "\n" + table(["CAMERA", "OLDEST", "ACHIEVED", "FORECAST", "MIN", "MAX", "HELD", "VERDICT"], rows) \
        + "".join("\n" + g for g in graces)


def cmd_destructions(ctx, args) -> tuple[Any, str]:
    """The record of destroyed footage, by camera and day (for auditors)."""
    try:
        day = datetime.fromisoformat(args.day).astimezone() if args.day else None
    except ValueError:
        raise UsageError(f"bad --day {args.day!r}: use YYYY-MM-DD") from None
    req: dict[str, Any] = {"camera": args.camera, "limit": args.limit}
    if day is not None:  # footage recorded that (local) day
        req.update(from_us=int(day.timestamp() * 1e6), to_us=int((day + timedelta(days=1)).timestamp() * 1e6))
    rows = call(ctx.socket, "destructions", req)
    text = table(["CAMERA", "FOOTAGE FROM", "TO", "SIZE", "REASON", "DESTROYED", "SHA256"], [
        [r["camera"], fmt_time(r["start_us"]), fmt_time(r["end_us"]), fmt_bytes(r["bytes"]), r["reason"],
         fmt_time(r["destroyed_us"]), (r["sha256"] or "")[:16]] for r in rows])
    return rows, text if rows else "no destructions recorded for that selection"


def cmd_alarms(ctx, args) -> tuple[Any, str]:
    rows = call(ctx.socket, "alarms", {"all": args.all})
    text = table(["SEVERITY", "KIND", "CAMERA", "RAISED", "CLEARED", "MESSAGE"], [
        [r["severity"].upper(), r["kind"], r["camera"] or "-", fmt_time(r["raised_us"]),
         fmt_time(r["cleared_us"]), r["message"]] for r in rows])
    return rows, text if rows else "no active alarms" + ("" if args.all else " (--all shows cleared ones)")


def register(sub) -> None:
    p = sub.add_parser("hold", help="evidence and legal holds: footage they cover is never destroyed")
    hs = p.add_subparsers(dest="hold_cmd", required=True)
    a = hs.add_parser("add", parents=[JSON], help="place a hold (evidence: expires, default 30 days; --legal: no expiry)")
    a.add_argument("--camera", action="append", help="a camera id (repeat for several)")
    a.add_argument("--all-cameras", action="store_true")
    a.add_argument("--from", dest="from_", required=True, metavar="T", help="ISO 8601 local time, or -2h")
    a.add_argument("--to", required=True, metavar="T")
    a.add_argument("--reason", required=True)
    a.add_argument("--case", required=True, help="the case or file reference")
    a.add_argument("--legal", action="store_true", help="a legal hold: no expiry; release needs an approver")
    a.add_argument("--expires", metavar="DURATION", help="evidence hold lifetime, e.g. 30d (default from config)")
    r = hs.add_parser("release", parents=[JSON], help="end a hold early (a reason is required)")
    r.add_argument("id", type=int)
    r.add_argument("--reason", required=True)
    s = hs.add_parser("show", parents=[JSON], help="one hold in full")
    s.add_argument("id", type=int)
    ls = hs.add_parser("list", parents=[JSON], help="holds in force (--all: ended ones too)")
    ls.add_argument("--all", action="store_true")
    p.set_defaults(handler=cmd_hold)

    p = sub.add_parser("retention", parents=[JSON], help="oldest footage, achieved and forecast retention, verdict per camera")
    p.set_defaults(handler=cmd_retention)

    p = sub.add_parser("destructions", parents=[JSON], help="the record of destroyed footage (per camera and day)")
    p.add_argument("--camera")
    p.add_argument("--day", help="footage recorded on this local day, YYYY-MM-DD")
    p.add_argument("--limit", type=int, default=10_000)
    p.set_defaults(handler=cmd_destructions)

    p = sub.add_parser("alarms", parents=[JSON], help="active alarms (--all: cleared ones too)")
    p.add_argument("--all", action="store_true")
    p.set_defaults(handler=cmd_alarms)
