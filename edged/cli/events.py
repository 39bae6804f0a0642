"""`edgectl events`: the motion events of cameras in motion mode (design/0038), oldest first.

Footage metadata: custodians, approvers and auditors (and root on the box), within the
account's cameras; each listing is on the audit chain, as listing segments is."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from edged.cli import files
from edged.cli.display import Verbs, JSON, UsageError, fmt_time, parse_when, table
from edged.control.client import call
from edged.i18n import _
from storage.time.clock import SYSTEM
from argparse import Namespace
from edged.cli.ctx import Ctx


def cmd_events(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    since = parse_when(args.since, now) if args.since else now - 86_400_000_000
    until = parse_when(args.until, now) if args.until else None
    if until is not None and until <= since:
        raise UsageError(_("--until must be after --since"))
    want_thumbs = bool(args.thumbs_to) or bool(getattr(args, "json", False) and args.thumbs)
    rows = call(ctx.socket, "events", {"camera": args.camera, "since_us": since, "until_us": until,
                                       "limit": args.limit, "thumbs": want_thumbs})["events"]
    saved = 0
    if args.thumbs_to:
        folder = Path(args.thumbs_to)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for r in rows:
            if r.get("thumb"):
                files.write_new(folder / f"event-{r['id']}-{r['camera']}.jpg", base64.b64decode(r["thumb"]))
                saved += 1
            if not args.thumbs:
                r.pop("thumb", None)
    out = [[r["id"], r["camera"], fmt_time(r["start_us"]), fmt_time(r["end_us"]) if r["end_us"] else _("(going on)"),
            f"{(r['end_us'] - r['start_us']) / 1e6:.1f}s" if r["end_us"] else "-",
            f"{100 * r['peak']:.2f} %" if r["peak"] is not None else "-"] for r in rows]
    text = table([_("ID"), _("CAMERA"), _("START"), _("END"), _("LENGTH"), _("PEAK")], out) if rows else _(
        "no motion events in that range")
    if len(rows) == args.limit:
        text += "\n" + _("(first {n} shown; use --limit)").format(n=args.limit)
    if args.thumbs_to:
        text += "\n" + _("{n} thumbnails written to {path}").format(n=saved, path=args.thumbs_to)
    return rows, text


def register(sub: Verbs) -> None:
    p = sub.add_parser("events", parents=[JSON], help=_("motion events of cameras in motion mode"))
    p.add_argument("--camera", help=_("only this camera"))
    p.add_argument("--since", metavar="T", help=_("from (ISO 8601 local time, or -2h); default -24h"))
    p.add_argument("--until", metavar="T", help=_("to (ISO 8601 or -10m); default now"))
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--thumbs", action="store_true", help=_("with --json: include each thumbnail (base64 JPEG)"))
    p.add_argument("--thumbs-to", metavar="DIR", help=_("write each event's thumbnail to DIR as a JPEG"))
    p.set_defaults(handler=cmd_events)
