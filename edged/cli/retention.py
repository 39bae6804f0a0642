"""edgectl verbs for the ring buffer: holds, the retention report, destructions and alarms.

Everything goes through the daemon's control socket (design/0017). There is deliberately no
verb that deletes footage (docs/requirements.md R1.6).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from edged.alarm_titles import title as alarm_title
from storage.declare import ConfigError, parse_duration
from edged.config.values import parse_size
from edged.rules import estimate as estimates
from edged.control.client import call
from edged.cli.display import Verbs, JSON, UsageError, fmt_bytes, fmt_time, parse_when, table, width
from edged.cli.documents import hold_form
from edged.i18n import N_, _
from storage.time.clock import SYSTEM
from storage.retention.plan import DAY_US
from argparse import Namespace
from edged.cli.ctx import Ctx


def _days(us: int | None) -> str:
    return "-" if us is None else f"{us / DAY_US:.1f}d"


HOLD_HEADERS = (N_("ID"), N_("KIND"), N_("CAMERAS"), N_("FROM"), N_("TO"), N_("CASE"), N_("STATE"), N_("SEGMENTS"),
                N_("SIZE"))


def _hold_headers() -> list[str]:
    return [_(h) for h in HOLD_HEADERS]


def _hold_line(h: dict[str, Any], now: int) -> list[Any]:
    if h["ended_us"]:
        state = f"{h['ended_how']} {fmt_time(h['ended_us'])}"
    elif h.get("state") == "pending":
        state = _("pending approval until {time}").format(time=fmt_time(h["expires_us"]))
    elif h["kind"] == "legal":
        state = _("active (legal, no expiry)")
    else:
        state = _("active until {time}").format(time=fmt_time(h["expires_us"]))
    cams = _("all") if h["cameras"] is None else ",".join(h["cameras"])
    return [h["id"], h["kind"], cams, fmt_time(h["from_us"]), fmt_time(h["to_us"]), h["case_ref"], state,
            h["segments"], fmt_bytes(h["bytes"])]


def _hold_decision(ctx: Ctx, args: Namespace, now: int) -> tuple[Any, str]:
    """hold approve / reject / extend ([policy.holds], design/0041)."""
    if args.hold_cmd in ("approve", "reject"):
        h = call(ctx.socket, f"hold.{args.hold_cmd}", {"id": args.id, "reason": args.reason or ""})
        if args.hold_cmd == "reject":
            return h, _("hold {id} rejected by {by}: {reason}").format(id=h["id"], by=h["decided_by"],
                                                                       reason=h["end_reason"])
        until = _("no expiry (legal hold)") if h["expires_us"] is None else fmt_time(h["expires_us"])
        return h, _("hold {id} approved by {by}: in force until {until}").format(id=h["id"], by=h["decided_by"],
                                                                                 until=until)
    try:  # extend
        until_us = now + parse_duration(args.by, "--by")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    h = call(ctx.socket, "hold.extend", {"id": args.id, "expires_us": until_us, "reason": args.reason})
    if h["kind"] == "legal":
        return h, _("hold {id} reviewed by {by}: next review by {time}").format(id=h["id"], by=h["extended_by"],
                                                                            time=fmt_time(h["review_us"]))
    return h, _("hold {id} extended by {by}: now until {time}").format(id=h["id"], by=h["extended_by"],
                                                                       time=fmt_time(h["expires_us"]))


def cmd_hold(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.hold_cmd == "form":  # the printable page (design/0088)
        return hold_form(ctx, args)
    return _hold_verb(ctx, args)


def _hold_verb(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    if args.hold_cmd == "add":
        if not args.camera and not args.all_cameras:
            raise UsageError(_("name the cameras (--camera C, repeatable) or --all-cameras"))
        if not args.reason.strip() or not args.case.strip():
            raise UsageError(_("a hold needs --reason and --case"))
        start, end = parse_when(args.from_, now), parse_when(args.to, now)
        req: dict[str, Any] = {"kind": "legal" if args.legal else "evidence",
                               "cameras": None if args.all_cameras else args.camera, "from_us": start, "to_us": end,
                               "reason": args.reason, "case_ref": args.case}
        if args.review:
            if not args.legal:
                raise UsageError(_("--review is a legal hold's review date; an evidence hold has --expires"))
            try:
                req["review_us"] = now + parse_duration(args.review, "--review")
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
        if args.expires:
            if args.legal:
                raise UsageError(_("a legal hold has no expiry"))
            try:
                req["expires_us"] = now + parse_duration(args.expires, "--expires")
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
        h = call(ctx.socket, "hold.add", req)
        wait = (" " + _("until an approver decides (edgectl hold approve)")) if h.get("state") == "pending" else ""
        return h, _("hold {id} placed: {n} segments ({size}) are now kept").format(
            id=h["id"], n=h["segments"], size=fmt_bytes(h["bytes"])) + wait + "\n" + table(_hold_headers(),
                                                                                         [_hold_line(h, now)])
    if args.hold_cmd == "release":
        h = call(ctx.socket, "hold.release", {"id": args.id, "reason": args.reason})
        return h, _("hold {id} released by {by}: {reason}").format(id=h["id"], by=h["ended_by"], reason=h["end_reason"])
    if args.hold_cmd in ("approve", "reject", "extend"):
        return _hold_decision(ctx, args, now)
    if args.hold_cmd == "show":
        h = call(ctx.socket, "hold.show", {"id": args.id})
        ended = "-" if not h["ended_us"] else _("{how} {time} by {by}: {reason}").format(
            how=h["ended_how"], time=fmt_time(h["ended_us"]), by=h["ended_by"], reason=h["end_reason"] or "")
        if h["ended_us"] and h["approved_by"]:
            ended += " " + _("(approved by {approver})").format(approver=h["approved_by"])
        lines = [k + " " * max(1, 13 - width(k)) + str(v) for k, v in (  # aligned by display width
            (_("hold"), h["id"]), (_("kind"), h["kind"]),
            (_("cameras"), _("all") if h["cameras"] is None else ", ".join(h["cameras"])),
            (_("from"), fmt_time(h["from_us"])), (_("to"), fmt_time(h["to_us"])), (_("case"), h["case_ref"]),
            (_("reason"), h["reason"]),
            (_("placed by"), _("{name} at {time}").format(name=h["placed_by"], time=fmt_time(h["placed_us"]))),
            (_("state"), h.get("state") or "active"),
            (_("expires"), _("never (legal hold)") if h["expires_us"] is None else fmt_time(h["expires_us"])),
            (_("review by"), fmt_time(h["review_us"]) if h.get("review_us") else "-"),
            (_("decided"), _("{name} at {time}").format(name=h["decided_by"], time=fmt_time(h["decided_us"]))
             if h.get("decided_by") else "-"),
            (_("extended"), _("{name} at {time}").format(name=h["extended_by"], time=fmt_time(h["extended_us"]))
             if h.get("extended_by") else "-"),
            (_("ended"), ended),
            (_("keeps"), _("{n} segments, {size}").format(n=h["segments"], size=fmt_bytes(h["bytes"]))))]
        return h, "\n".join(lines)
    rows = call(ctx.socket, "hold.list", {"all": args.all})
    text = table(_hold_headers(), [_hold_line(h, now) for h in rows])
    return rows, text if rows else _("no holds") if args.all else _("no holds in force (--all shows ended ones)")


def cmd_estimate(rep: dict[str, Any], args: Namespace) -> tuple[Any, str]:
    """`retention --estimate` (design/0077): days kept per camera at the last day's bitrates (or
    --bitrate), which minimum would be breached, and the disk that would keep them all."""
    bitrates = {}
    for pair in args.bitrate or []:
        cam, sep, rate = pair.partition("=")
        try:
            if not sep or not cam.strip():
                raise ValueError(pair)
            bitrates[cam.strip()] = estimates.parse_bitrate(rate)
        except ValueError:
            raise UsageError(_("--bitrate {pair!r}: write it as CAMERA=4M (bits per second)").format(pair=pair)) \
                from None
    try:
        disk = parse_size(args.disk, "--disk") if args.disk else None
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    est = estimates.estimate(rep, bitrates, disk)
    words = {"measured": _("last day"), "given": _("--bitrate"), "none": _("no figure")}
    rows = [[c["camera"], f"{c['rate_bps'] / 1e6:.2f} Mbit/s" if c["rate_bps"] else "-", words[c["rate_from"]],
             "-" if c["days"] is None else f"{c['days']:.1f}d", f"{c['min_days']:g}d", f"{c['max_days']:g}d",
             _("BREACHED") if c["breached"] else _("AT RISK") if c["at_risk"] else "OK" if c["days"] else "-"]
            for c in est["cameras"]]
    lines = [_("disk {total}, reserve {reserve}, portable cameras' intakes {share}, held {held}").format(
        total=fmt_bytes(est["disk_total"]), reserve=fmt_bytes(est["reserve"]), share=fmt_bytes(est["intake_share"]),
        held=fmt_bytes(est["held_bytes"])),
        table([_("CAMERA"), _("BITRATE"), _("FROM"), _("DAYS KEPT"), _("MIN"), _("MAX"), _("MINIMUM")], rows)]
    breached = [c["camera"] for c in est["cameras"] if c["breached"]]
    if breached:
        lines.append(_("the minimum retention would be BREACHED for: {cams}").format(cams=", ".join(breached)))
    lines.append((_("this disk keeps every minimum: {need} would be enough (with a 10 % margin)") if est["enough"] else
                  _("NOT ENOUGH DISK: every minimum (with a 10 % margin) needs {need}")).format(
        need=fmt_bytes(est["disk_needed"])))
    if est["no_rate"]:
        lines.append(_("no bitrate for {cams}: give it with --bitrate CAMERA=4M").format(cams=", ".join(est["no_rate"])))
    return est, "\n".join(lines)


def cmd_confirm_time(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`retention confirm-time` (design/0095): an approver says the host clock is right."""
    if not args.reason:
        raise UsageError(_("confirm-time needs --reason (how the host clock was checked, against what)"))
    if not args.yes:  # design/0373: the approver sees what the confirmation makes due before giving it
        reply = call(ctx.socket, "time.confirm", {"preview": True})
        return reply, _due_text(reply["due"]) + "\n" + _("nothing confirmed yet: if that is right, run it again "
                                                         "with --yes")
    reply = call(ctx.socket, "time.confirm", {"reason": args.reason})
    if reply["confirmed"].get("waiting_for_second"):
        return reply, _("your confirmation is on the audit log; this site's rules ask for a second approver: another "
                        "approver runs `edgectl retention confirm-time --reason R --yes` within an hour, and only "
                        "then does the next retention pass judge footage's age at the host's time") + "\n" + \
            _due_text(reply["confirmed"].get("due") or {})
    return reply, _("host clock confirmed at {time} (on the audit log): the next retention pass judges footage's age "
                    "at the host's time").format(time=fmt_time(reply["confirmed"]["host_us"])) + "\n" + \
        _due_text(reply["confirmed"].get("due") or {})


def _due_text(due: dict[str, Any]) -> str:
    """What confirming the host clock makes due by age, per camera (design/0373)."""
    if not due:
        return _("confirming the host clock makes nothing due by age now")
    rows = [[cam, str(d["segments"]), fmt_bytes(d["bytes"]), fmt_time(d["oldest_us"]), fmt_time(d["newest_us"])]
            for cam, d in sorted(due.items())]
    return _("confirming the host clock makes this footage due by age (destroyed at the next retention pass):") + \
        "\n" + table([_("CAMERA"), _("SEGMENTS"), _("SIZE"), _("OLDEST"), _("NEWEST")], rows)


def _clock_line(t: dict[str, Any]) -> str:
    if t["state"] == "corroborated":
        return _("host clock: corroborated by {source}").format(source=t["source"])
    if not t["sources"]:
        return _("host clock: NOT corroborated, and this site has no source to corroborate it with (no signed time "
                 "from the central office and no NTS; cameras never vouch): {why}").format(why=t["why"])
    return _("host clock: NOT corroborated: {why}").format(why=t["why"])


def cmd_retention(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.action == "confirm-time":
        return cmd_confirm_time(ctx, args)
    if args.reason:
        raise UsageError(_("--reason goes with confirm-time"))
    if args.yes:
        raise UsageError(_("--yes goes with confirm-time"))
    rep = call(ctx.socket, "retention", {})
    if args.estimate:
        return cmd_estimate(rep, args)
    if args.bitrate or args.disk:
        raise UsageError(_("--bitrate and --disk go with --estimate"))
    rows = [[c["camera"], fmt_time(c["oldest_us"]), _days(c["achieved_us"]), _days(c["forecast_us"]),
             _days(c["min_us"]), _days(c["max_us"]), fmt_bytes(c["held_bytes"]), c["verdict"]] for c in rep["cameras"]]
    head = _("disk {free} free of {total}, reserve {reserve}, on_full = {on_full}; at the recent write rate the "
             "disk holds {forecast}; grace period {grace:g} h").format(
        free=fmt_bytes(rep["disk_free"]), total=fmt_bytes(rep["disk_total"]), reserve=fmt_bytes(rep["reserve"]),
        on_full=rep["on_full"], forecast=_days(rep["forecast_us"]), grace=rep["grace_us"] / 3_600e6)
    graces = [_("{camera}: max retention lowered from {old} to {new}; footage that makes due is destroyed from "
                "{time}, not before").format(camera=c["camera"], old=_days(c["grace_max_us"]), new=_days(c["max_us"]),
                                             time=fmt_time(c["grace_until_us"]))
              for c in rep["cameras"] if c.get("grace_until_us")]
    headers = [_("CAMERA"), _("OLDEST"), _("ACHIEVED"), _("FORECAST"), _("MIN"), _("MAX"), _("HELD"), _("VERDICT")]
    clock = call(ctx.socket, "time.status", {})
    rep = {**rep, "time": clock}
    if rep.get("clock_dispute"):  # design/0372: achieved on a clock nothing vouches for is no figure
        graces.append(_("retention achieved cannot be judged while the host clock is in dispute ({why}); settle the "
                        "clock as the host_clock_uncorroborated alarm says, and the figures return").format(
            why=rep["clock_dispute"]))
    return rep, head + "\n" + _clock_line(clock) + "\n" + table(headers, rows) + "".join("\n" + g for g in graces)


def cmd_destructions(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """The record of destroyed footage, by camera and day (for auditors)."""
    try:
        day = datetime.fromisoformat(args.day).astimezone() if args.day else None
    except ValueError:
        raise UsageError(_("bad --day {day!r}: use YYYY-MM-DD").format(day=args.day)) from None
    req: dict[str, Any] = {"camera": args.camera, "limit": args.limit}
    if day is not None:  # footage recorded that (local) day
        req.update(from_us=int(day.timestamp() * 1e6), to_us=int((day + timedelta(days=1)).timestamp() * 1e6))
    rows = call(ctx.socket, "destructions", req)
    text = table([_("CAMERA"), _("FOOTAGE FROM"), _("TO"), _("SIZE"), _("REASON"), _("DESTROYED"), _("SHA256")], [
        [r["camera"], fmt_time(r["start_us"]), fmt_time(r["end_us"]), fmt_bytes(r["bytes"]), r["reason"],
         fmt_time(r["destroyed_us"]), (r["sha256"] or "")[:16]] for r in rows])
    return rows, text if rows else _("no destructions recorded for that selection")


def cmd_alarms(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    rows = call(ctx.socket, "alarms", {"all": args.all})
    text = table([_("SEVERITY"), _("KIND"), _("WHAT"), _("CAMERA"), _("RAISED"), _("CLEARED"), _("MESSAGE")], [
        [r["severity"].upper(), r["kind"], alarm_title(r["kind"]), r["camera"] or "-", fmt_time(r["raised_us"]),
         fmt_time(r["cleared_us"]), r.get("text") or r["message"]] for r in rows])
    return rows, text if rows else _("no alarms") if args.all else _("no active alarms (--all shows cleared ones)")


def register(sub: Verbs) -> None:
    p = sub.add_parser("hold", help=_("evidence and legal holds: footage they cover is never destroyed"))
    hs = p.add_subparsers(dest="hold_cmd", required=True)
    a = hs.add_parser("add", parents=[JSON], help=_("place a hold (evidence: expires, default 30 days; --legal: no "
                                                    "expiry)"))
    a.add_argument("--camera", action="append", help=_("a camera id (repeat for several)"))
    a.add_argument("--all-cameras", action="store_true")
    a.add_argument("--from", dest="from_", required=True, metavar="T", help=_("ISO 8601 local time, or -2h"))
    a.add_argument("--to", required=True, metavar="T")
    a.add_argument("--reason", required=True)
    a.add_argument("--case", required=True, help=_("the case or file reference"))
    a.add_argument("--legal", action="store_true", help=_("a legal hold: no expiry; release needs an approver"))
    a.add_argument("--expires", metavar="DURATION", help=_("evidence hold lifetime, e.g. 30d (default from config)"))
    a.add_argument("--review", metavar="DURATION", help=_("a legal hold's review date, this long from now, e.g. 180d "
                                                          "(an alarm when it passes)"))
    r = hs.add_parser("release", parents=[JSON], help=_("end a hold early (a reason is required)"))
    r.add_argument("id", type=int)
    r.add_argument("--reason", required=True)
    d = hs.add_parser("approve", parents=[JSON], help=_("approve a hold that waits for an approver ([policy.holds])"))
    d.add_argument("id", type=int)
    d.add_argument("--reason", default="")
    d = hs.add_parser("reject", parents=[JSON], help=_("reject a hold that waits for an approver (a reason is "
                                                       "required)"))
    d.add_argument("id", type=int)
    d.add_argument("--reason", required=True)
    e = hs.add_parser("extend", parents=[JSON],
                      help=_("keep an evidence hold longer (at most [policy.holds] max from now); on a legal "
                             "hold: review it, a new review date"))
    e.add_argument("id", type=int)
    e.add_argument("--by", required=True, metavar="DURATION", help=_("the new expiry (legal: review date), this long "
                                                                     "from now, e.g. 30d"))
    e.add_argument("--reason", required=True)
    s = hs.add_parser("show", parents=[JSON], help=_("one hold in full"))
    s.add_argument("id", type=int)
    s = hs.add_parser("form", parents=[JSON], help=_("the request to preserve footage and its approval, printable"))
    s.add_argument("id", type=int)
    s.add_argument("--out", metavar="FILE", help=_("where to write the page (default hold-ID.html)"))
    ls = hs.add_parser("list", parents=[JSON], help=_("holds in force (--all: ended ones too)"))
    ls.add_argument("--all", action="store_true")
    p.set_defaults(handler=cmd_hold)

    _retention_parser(sub)

    p = sub.add_parser("destructions", parents=[JSON], help=_("the record of destroyed footage (per camera and day)"))
    p.add_argument("--camera")
    p.add_argument("--day", help=_("footage recorded on this local day, YYYY-MM-DD"))
    p.add_argument("--limit", type=int, default=10_000)
    p.set_defaults(handler=cmd_destructions)

    p = sub.add_parser("alarms", parents=[JSON], help=_("active alarms (--all: cleared ones too)"))
    p.add_argument("--all", action="store_true")
    p.set_defaults(handler=cmd_alarms)


def _retention_parser(sub: Verbs) -> None:
    p = sub.add_parser("retention", parents=[JSON], help=_("oldest footage, achieved and forecast retention, verdict "
                                                           "per camera; confirm-time: an approver confirms the host "
                                                           "clock (on the audit log)"))
    p.add_argument("action", nargs="?", choices=["confirm-time"])
    p.add_argument("--reason", help=_("with confirm-time: how the host clock was checked"))
    p.add_argument("--yes", action="store_true",
                   help=_("with confirm-time: confirm; without it, only what the confirmation makes due is shown"))
    p.add_argument("--estimate", action="store_true", help=_("days each camera would keep at the last day's "
                                                             "bitrates, and the disk needed for the minimums"))
    p.add_argument("--bitrate", action="append", metavar="CAMERA=RATE",
                   help=_("with --estimate: a camera's bitrate, e.g. gate=4M (a camera not recording yet)"))
    p.add_argument("--disk", metavar="SIZE", help=_("with --estimate: another disk's size, e.g. 8TB"))
    p.set_defaults(handler=cmd_retention)
