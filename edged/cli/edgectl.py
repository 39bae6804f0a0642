"""`edgectl`: the maintenance CLI. It reads nothing on disk (design/0017): every verb is a request
on the daemon's control socket, checked against the caller's role, except the standalone checks
(`verify`, `audit verify --file|--catalog`) that need no daemon. Tables for people, `--json` for scripts.

The socket is `--socket`, else $EDGECTL_SOCKET, else /run/edged/control.sock (the unit's); a
relative one (`--socket data/control.sock`, the demo's) only when named, never found in the
current folder on its own (issue 27: a socket someone planted there would get the password).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from edged.cli import argparse_texts
from edged.cli.ctx import DEFAULT_SOCKET, SOCKET_ENV, Ctx, find_socket  # noqa: F401 - edgectl's names
from edged.cli import flags as ctl_flags
from edged.control.client import call
from edged.control.protocol import DaemonDown, RequestError
from edged.version import with_package
from edged.i18n import N_, _, hint_of, person_language, render, set_language
from edged.cli.display import JSON, UsageError, fmt_age, fmt_bytes, fmt_time, parse_when, table, field
from storage.states.cameras import CONNECTING, DEGRADED, DISABLED, OFFLINE, RECORDING, STOPPED
from storage.time import duration
from storage.time.clock import SYSTEM
from storage.export.plan import corrected_stamps
from storage.footage.segment_rows import SEGMENT_STATES
from argparse import Namespace
from storage.process.threadname import name_os_thread

EX_UNAVAILABLE = 69  # sysexits.h: the daemon is not running (a script tells it from a refusal, 2)


# commands ---------------------------------------------------------------------------
STATE_LABELS = {RECORDING: N_("recording"), CONNECTING: N_("connecting"), DEGRADED: N_("DEGRADED"),
                OFFLINE: N_("OFFLINE"), STOPPED: N_("stopped"), DISABLED: N_("disabled")}


def state_label(state: str) -> str:
    return _(STATE_LABELS[state]) if state in STATE_LABELS else state


def _shown_version(data: dict[str, Any]) -> str:
    """The code's version and the package's (a daemon answers with both), as a person reads them."""
    package = data.get("package")
    return with_package(str(data.get("version") or "?"), package if isinstance(package, str) else None)


def cmd_status(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    data = call(ctx.socket, "status", {})
    now = SYSTEM.now_us()
    if data.get("state") == "waiting":  # up, but no catalog yet (edged/control/waiting.py)
        return data, "\n".join([
            f"edged {_shown_version(data)}",
            f"daemon:    running (pid {data['pid']}) since {fmt_time(data['started_us'])}, NOT RECORDING: "
            "waiting for its data disk",
            f"why:       {data['reason']}",
            *(f"{'to do:' if i == 0 else 'or:':<11}{a}" for i, a in enumerate(data["actions"]))])
    states = data["cameras"]
    storage = data.get("storage") or {"state": "ok", "reason": None}
    full = data.get("disk_full")
    total = sum(states.values())
    recording = states.get(RECORDING, 0)
    lines = [
        _("edged {version}  site {site} ({site_name}), node {node}").format(
            version=_shown_version(data), site=data["site"] or "?", site_name=data["site_name"] or "-",
            node=data["node"] or "-"),
        field(_("daemon"), _("running (pid {pid}), up since {since}, last heartbeat {beat}").format(
            pid=data["pid"], since=fmt_time(data["started_us"]), beat=fmt_age(data["heartbeat_us"], now))),
        *([field(_("storage"), _("RECORDING STOPPED: the data disk is gone since {since}: {reason}").format(
            since=fmt_time(storage.get("since_us")), reason=storage["reason"]))] if storage["state"] == "lost" else []),
        *([field(_("storage"), _("RECORDING PAUSED: the data disk is full since {since}: {reason}").format(
            since=fmt_time(full.get("since_us")), reason=full["reason"]))] if full else []),
        field(_("cameras"), _("{n}/{total} recording").format(n=recording, total=total) + "".join(
            f", {n} {state_label(s).lower()}" for s, n in sorted(states.items()) if s != RECORDING)),
        field(_("footage"), _("{n} segments, {size}, {oldest} to {newest}; {open} being written").format(
            n=data["segments"], size=fmt_bytes(data["footage_bytes"]), oldest=fmt_time(data["oldest_us"]),
            newest=fmt_time(data["newest_us"]), open=data["open_segments"])),
        field(_("gaps"), _("{n} in the last 24 h").format(n=data["gaps_24h"])),
        *[field(_("backfill"), backfill_text(g)) for g in data.get("backfill") or []],
        *[field(_("backfill"), text) for text in from_standby_text(data)],
        field(_("broker"), data["broker"] or _("not configured")),
        *([field(_("clock"), host_clock_text(data["host_clock"]))] if data.get("host_clock") else []),
        *([field(_("standby"), standby_text(data["standby"]))] if data.get("standby") else []),
        *([field(_("standby"), _("NOT SERVING its boxes their gaps since {since}: {why}").format(
            since=fmt_time(serving.get("since_us")), why=serving.get("why") or "-"))]
          if (serving := data.get("standby_serving")) and not serving.get("serving") else []),
        field(_("disk"), _("{free} free of {total} ({dir})").format(
            free=fmt_bytes(data["disk_free"]), total=fmt_bytes(data["disk_total"]), dir=data["data_dir"])
            if data["disk_total"] is not None else
            _("unknown: the data disk is gone ({dir})").format(dir=data["data_dir"])),
    ]
    return data, "\n".join(lines)


def backfill_text(g: dict[str, Any]) -> str:
    """A gap being fetched from the camera's own recording, or given up and why (design/0106)."""
    span = f"{fmt_time(g['from_us'])} - {fmt_time(g['to_us'])}"
    if g["backfill"] == "pending":
        return _("camera {camera}: {span} being fetched from the camera's own recording (up to {to})").format(
            camera=g["camera"], span=span, to=fmt_time(g["backfill_to_us"]) if g["backfill_to_us"] else "-")
    try:
        note = json.loads(g["backfill_note"] or "{}")
    except ValueError:
        note = {"text": g["backfill_note"]}
    why = render(note.get("text") or "", note)
    if g.get("filled_us"):  # given up part way: what was filled, and why the rest was not
        return _("camera {camera}: {span} backfilled {filled} of {total}; the rest not: {why}").format(
            camera=g["camera"], span=span, filled=duration.format(round(g["filled_us"], -5)),
            total=duration.format(round(g["to_us"] - g["from_us"], -5)), why=why)
    return _("camera {camera}: {span} not backfilled: {why}").format(camera=g["camera"], span=span, why=why)


def from_standby_text(data: dict[str, Any]) -> list[str]:
    """The gap being fetched back from the standby, and those fetched in the last day (design/0115)."""
    out = []
    now = data.get("from_standby_now")
    if now:
        out.append(_("camera {camera}: {span} being fetched from the standby {standby} ({n} of {total} segments)").format(
            camera=now["camera"], span=f"{fmt_time(now['from_us'])} - {fmt_time(now['to_us'])}",
            standby=now["standby"], n=now["fetched"], total=now["segments"]))
    for g in data.get("from_standby") or []:
        span = f"{fmt_time(g['from_us'])} - {fmt_time(g['to_us'])}"
        out.append(_("camera {camera}: {span} filled from the standby ({n} segments)").format(
            camera=g["camera"], span=span, n=g["segments"]) if g["segments"] else
            _("camera {camera}: {span} the standby had nothing of it").format(camera=g["camera"], span=span))
    return out


STANDBY_WHY = {"offline": N_("it is offline"), "silent": N_("nothing heard from it"),
               "never heard": N_("never heard from it"), "waiting": N_("it is back: waiting for it to record")}


def standby_text(s: dict[str, Any]) -> str:
    """A standby's boxes and those it records for now (design/0107)."""
    standing = s.get("standing") or {}
    if not standing:
        return _("watching {boxes}: all there, standing in for none").format(boxes=", ".join(s.get("for") or []))
    def why(key: Any) -> str:
        return _(STANDBY_WHY[key]) if key in STANDBY_WHY else str(key)

    return "; ".join(_("STANDING IN for {box} since {since} ({why})").format(
        box=box, since=fmt_time(v.get("since_us")), why=why(v.get("why"))) for box, v in sorted(standing.items()))


def host_clock_text(h: dict[str, Any]) -> str:
    """The host clock's sync state as the watch last read it (design/0059)."""
    if h.get("synced") is None:
        return _("cannot tell whether the host clock is synchronised")
    if h["synced"]:
        return _("synchronised ({source}) since {since}").format(source=h["source"], since=fmt_time(h["since_us"]))
    if h.get("ntp_expected") is False:  # [time] ntp = false: a site without a time source on purpose
        return _("not synchronised (maximum error {maxerror:.1f} s): this site runs without a time source "
                 "([time] ntp = false), so no alarm is raised for it").format(maxerror=(h["maxerror_us"] or 0) / 1e6)
    return _("NOT synchronised since {since} (maximum error {maxerror:.1f} s): turn on its time source "
             "(timedatectl set-ntp true)").format(since=fmt_time(h["since_us"]), maxerror=(h["maxerror_us"] or 0) / 1e6)


def clock_text(clock: dict[str, Any] | None) -> str:
    """The camera's clock against the host's and where that was read: "+40.0s (onvif)"."""
    if not clock or clock.get("offset_us") is None:
        return "-"
    return f"{clock['offset_us'] / 1e6:+.1f}s ({clock['source']})"


def reader_text(reader: str | None) -> str:
    """The READER column: `edged`, `ffmpeg`, or `ffmpeg (fallback: why)` with why in the reader's
    language (one of recorder/reader_choice.py's REASONS, design/0092)."""
    if not reader:
        return "-"
    name, sep, why = reader.partition(" (fallback: ")
    if not sep:
        return reader
    why = why.removesuffix(")")
    return _("{reader} (fallback: {why})").format(reader=name, why=_(why))


def cmd_cameras(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    reply = call(ctx.socket, "cameras", {"all": args.all})
    rows = reply["cameras"]
    if args.notice or args.inventory:
        shown = [r for r in rows if r["configured"] and (r["enabled"] or args.inventory)]
        return shown, importlib.import_module("edged.cli.documents").cameras_document(reply, shown, args)
    out = []
    for r in rows:
        res = f"{r['width']}x{r['height']}" if r["width"] else "-"
        live = r["state"] in (RECORDING, DEGRADED)
        r["figures_stale"] = not live  # fps, bitrate: the last figures before it stopped recording
        problem = r["last_error"] if r["state"] in (OFFLINE, CONNECTING) else \
            "; ".join((r["health"] or {}).get("conditions", {}).values())
        fps = f"{r['fps']:.1f}" if r["fps"] is not None else "-"
        rate = f"{r['bitrate'] / 1e6:.2f}M" if r["bitrate"] else "-"
        state = state_label(r["state"])
        mode = r.get("mode") or "continuous"  # live: watched, not recorded by policy; motion: only when it moves
        if mode == "live":
            state = _("{state} (live, not recorded)").format(state=state)
        elif mode == "motion":
            state = _("{state} (motion)").format(state=state)
        every = (r["health"] or {}).get("sample_interval_s")  # the image checks' interval in force (design/0078)
        r["clock"] = (r["health"] or {}).get("clock")  # its clock's offset, from RTCP or ONVIF (design/0085)
        out.append([r["id"], r["name"], state,
                    fmt_age(r["state_since_us"], now), fps if live or fps == "-" else f"({fps})",
                    rate if live or rate == "-" else f"({rate})", res, fmt_age(r["last_packet_us"], now),
                    r["reconnects"], f"{every:g}s" if every else "-", clock_text(r["clock"]),
                    reader_text((r["health"] or {}).get("reader")), r["compliance"] or "-",
                    r["url"],
                    problem or "; ".join(r["compliance_reasons"] or [])])
    text = table([_("ID"), _("NAME"), _("STATE"), _("SINCE"), _("FPS"), _("BITRATE"), _("RES"), _("LAST FRAME"),
                  _("RECONNECTS"), _("CHECK EVERY"), _("CLOCK"), _("READER"), _("FLOOR"), _("URL"), _("PROBLEM")], out)
    if any(r["figures_stale"] and r["fps"] is not None for r in rows):
        text += "\n" + _("(figures in brackets are stale: the last ones before the camera stopped recording)")
    return rows, text if rows else _("no cameras configured")


def cmd_segments(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    start = parse_when(args.from_, now) if args.from_ else now - 3_600_000_000
    end = parse_when(args.to, now) if args.to else now
    if end <= start:
        raise UsageError(_("--to must be after --from"))
    reply = call(ctx.socket, "segments", {"camera": args.camera, "from_us": start, "to_us": end,
                                          "limit": args.limit, "state": args.state})
    rows, gaps, policy = reply["segments"], reply["gaps"], reply.get("not_recorded", [])
    out = [[r["camera"], fmt_time(r["start_us"]), f"{((r['end_us'] or r['start_us']) - r['start_us']) / 1e6:.1f}s",
            fmt_bytes(r["bytes"]), r["frames"], r["state"], (r["sha256"] or "")[:12], r["path"]] for r in rows]
    text = table([_("CAMERA"), _("START"), _("LENGTH"), _("SIZE"), _("FRAMES"), _("STATE"), _("SHA256"), _("PATH")],
                 out)
    fixed = [r for r in rows if r.get("restamped")]
    if fixed:  # design/0059: the host clock was found wrong; the catalog keeps both stamps
        text += "\n\n" + _("corrected for a host clock step (START above is as recorded):") + "\n" + table(
            [_("CAMERA"), _("START"), _("CORRECTED START"), _("SHIFT"), _("PATH")], [
                [r["camera"], fmt_time(r["start_us"]),
                 ctl_flags.resolution(r) if r["shift_us"] is None else fmt_time(r["start_us"] + r["shift_us"]),
                 "" if r["shift_us"] is None else f"{r['shift_us'] / 1e6:+.1f}s", r["path"]] for r in fixed])
        for r in fixed:
            r.update(corrected_stamps(r))
    if gaps:
        text += "\n\n" + _("gaps:") + "\n" + table([_("CAMERA"), _("FROM"), _("TO"), _("LENGTH"), _("REASON")], [
            [g["camera"], fmt_time(g["from_us"]), fmt_time(g["to_us"]), f"{(g['to_us'] - g['from_us']) / 1e6:.1f}s",
             g["reason"]] for g in gaps])
    if policy:
        text += "\n\n" + _("not recorded by policy (not gaps):") + "\n" + table(
            [_("CAMERA"), _("FROM"), _("TO"), _("LENGTH"), _("REASON")], [
            [g["camera"], fmt_time(g["from_us"]), fmt_time(g["to_us"]), f"{(g['to_us'] - g['from_us']) / 1e6:.1f}s",
             g["reason"]] for g in policy])
    if len(rows) == args.limit:
        text += "\n" + _("(first {n} shown; use --limit)").format(n=args.limit)
    return {"segments": rows, "gaps": gaps, "not_recorded": policy}, \
        text if rows or gaps or policy else _("no footage in that range")


def _join_negative_times(argv: list[str]) -> list[str]:
    """Let `--from -2h` through: argparse would take "-2h" for an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in ("--from", "--to", "--since", "--until") and arg[:1] == "-" and arg[1:2].isdigit():
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def safe_output() -> None:
    """A terminal or pipe whose encoding cannot show a camera's Chinese name gets '?' for it,
    not a UnicodeEncodeError traceback (LANG=C, PYTHONIOENCODING=ascii, a Big5 console)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and (stream.encoding or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    safe_output()
    argv = _join_negative_times(sys.argv[1:] if argv is None else argv)
    # The person's language (--lang, else LANG/LC_ALL) before any text is made; documents
    # are in the site's language unless --lang names one (edged/cli/documents.py).
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang")
    chosen, argv = early.parse_known_args(argv)
    set_language(person_language(chosen.lang))
    argparse_texts.speak()
    parser = build_parser(verb_of(argv))
    args = parser.parse_args(argv)
    args.lang = chosen.lang
    if (args.command == "cameras" and args.html and not (args.notice or args.inventory)):
        parser.error(_("--html goes with --notice or --inventory"))

    try:
        ctx = None if getattr(args, "standalone", False) else Ctx(find_socket(args.socket))
        data, text = args.handler(ctx, args)
    except DaemonDown as exc:
        print(f"edgectl: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except (UsageError, RequestError) as exc:
        hint = f"\nedgectl: ({hint_of(exc)})" if hint_of(exc) else ""  # i18n: design/0103, a technician's hint
        print(f"edgectl: {exc}{hint}", file=sys.stderr)
        return 2
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)
    return getattr(args, "exit_status", 0)  # doctor: 1 warnings, 2 failures


# The verbs each module of edged/cli/ registers (`register(sub)`), in the order the full parser adds them:
# a run loads only the module of its verb, not all thirteen (0.5 s of CPU an edgectl call was imports, 0.1 s of
# it what a verb needs: design/0390). tests/test_cli_surface.py holds this table to what the modules register.
VERB_MODULES = {
    "events": "events", "hold": "retention", "retention": "retention", "destructions": "retention",
    "alarms": "retention", "maintenance": "maintenance", "flags": "flags", "camera": "health", "inspect": "health",
    "init-admin": "people", "login": "people", "logout": "people", "whoami": "people", "account": "people",
    "request": "people", "audit": "people", "export": "export", "verify": "verify", "evidence": "evidence",
    "export-receipt": "export_receipt", "redact": "redact", "redact-release": "redact", "enrol": "enrol",
    "doctor": "doctor",
}
MODULES = tuple(dict.fromkeys(VERB_MODULES.values()))
OWN_VERBS = ("status", "cameras", "segments")


def verb_of(argv: list[str]) -> str | None:
    """The verb a command line names (its first word that is not an option or --socket's value), or None
    (no verb, or help asked before it): then every verb's module is loaded, for the whole list."""
    words = iter(argv)
    for word in words:
        if word == "--socket":
            next(words, None)
        elif word in ("-h", "--help"):
            return None
        elif not word.startswith("-"):
            return word
    return None


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Every verb: a module of edged/cli/ adds its own (`register(sub)`); docs/ref/edgectl.md's
    list of verbs is made from this parser (`python -m refdocs`). With `verb` one of VERB_MODULES
    or edgectl's own, only that verb's module is loaded and registered: its sub-parser is the same."""
    parser = argparse.ArgumentParser(prog="edgectl", description=_("Maintenance CLI for the edged recorder."))
    parser.add_argument("--lang", metavar="LANG", help=_("the language of messages and documents: en or zh-TW "
                                                         "(default: messages in LANG/LC_ALL, documents in the "
                                                         "site's [site] language)"))
    parser.add_argument("--socket", type=Path, help=_("the daemon's control socket (default ${socket_env}, else "
                                                      "{value}; the demo's is data/control.sock)").format(
        socket_env=SOCKET_ENV, value=DEFAULT_SOCKET))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", parents=[JSON], help=_("is the daemon recording, and how much footage is there"))
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser("cameras", parents=[JSON], help=_("every camera with its state, rate and last problem"))
    p.add_argument("--all", action="store_true", help=_("include cameras removed from the config"))
    p.add_argument("--notice", action="store_true", help=_("print the public notice of camera locations (R3.5)"))
    p.add_argument("--inventory", action="store_true", help=_("print the camera inventory (R3.5)"))
    p.add_argument("--html", metavar="FILE", help=_("with --notice or --inventory: write a printable page"))
    p.set_defaults(handler=cmd_cameras)
    p = sub.add_parser("segments", parents=[JSON], help=_("recorded segments and gaps in a time range"))
    p.add_argument("--camera", help=_("only this camera"))
    p.add_argument("--from", dest="from_", metavar="T", help=_("start (ISO 8601 local time, or -2h); default -1h"))
    p.add_argument("--to", metavar="T", help=_("end (ISO 8601 or -10m); default now"))
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--state", choices=SEGMENT_STATES,
                   help=_("only segments in this state, e.g. missing (files gone: the list a footage.missing audit "
                          "record counts)"))
    p.set_defaults(handler=cmd_segments)
    known = verb in VERB_MODULES or verb in OWN_VERBS
    for name in ((VERB_MODULES[verb],) if verb in VERB_MODULES else ()) if known else MODULES:
        importlib.import_module(f"edged.cli.{name}").register(sub)
    return parser


if __name__ == "__main__":
    name_os_thread("edgectl")  # a console script's process has its name already
    sys.exit(main())
