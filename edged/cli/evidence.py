"""`edgectl evidence import FILE --device NAME --by PERSON [--request N]` (issue 76, design/0349): a
portable camera's recording into the box's custody. edgectl reads the file as the person (who may
read it) and sends it over the control socket when the daemon asks (the daemon owns the data
folder); the daemon hashes it as it arrives, keeps it byte for byte and remuxes it into footage."""

from __future__ import annotations

import os
import socket
from argparse import Namespace
from pathlib import Path
from typing import Any

from edged.cli.ctx import Ctx
from edged.cli.display import JSON, Progress, UsageError, Verbs, fmt_bytes, fmt_time, table
from edged.control.client import call
from edged.i18n import _
from storage.free_text import printed

IMPORT_TIMEOUT_S = 3600   # the daemon's answer after the last byte: a long file remuxed at the idle classes
CHUNK = 1 << 20


def _sender(f: Any, bar: Progress) -> Any:
    """Send the file when the daemon asks, `size` bytes, showing how far it is."""
    def send(s: socket.socket, size: int) -> None:
        sent = 0
        while sent < size:
            chunk = f.read(min(CHUNK, size - sent))
            if not chunk:
                raise UsageError(_("the file got shorter while it was being sent"))
            s.sendall(chunk)
            sent += len(chunk)
            bar({"fraction": sent / size, "done_bytes": sent, "total_bytes": size})
    return send


def cmd_import(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    path = Path(args.file)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(_("cannot read {path}: {error}").format(path=path, error=exc.strerror or exc)) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        bar = Progress("import", lambda bar, pct, info: _("sending [{bar}] {pct:3d}%  {done} of {total}").format(
            bar=bar, pct=pct, done=fmt_bytes(info.get("done_bytes")), total=fmt_bytes(info.get("total_bytes"))))
        req = {"device": args.device, "by": args.by, "bytes": size, "name": path.name,
               **({"request": args.request} if args.request is not None else {})}
        try:
            result = call(ctx.socket, "evidence.import", req, timeout=IMPORT_TIMEOUT_S, send=_sender(f, bar))
        finally:
            bar.done()
    return result, "\n".join(lines_of(result))


def lines_of(r: dict[str, Any]) -> list[str]:
    lines = [_("intake {id}: {size} from {device}, recorded by {by}, taken in on {at} (SHA-256 {sha})").format(
        id=r["id"], size=fmt_bytes(r["bytes"]), device=printed(r["device"]), by=printed(r["recorded_by"]), at=r["at"],
        sha=r["sha256"])]
    if r.get("file_name"):
        lines.append(_("the device's file: {name}").format(name=printed(r["file_name"])))
    if r["segments"]:
        start = r["claimed_start"] or _("it claims no time; placed at the intake")
        lines.append(_("{n} segments of camera {camera}; their times are the device's claim: {start}").format(
            n=r["segments"], camera=r["camera"], start=start))
    lines.extend(r.get("said") or [])
    lines.append(_("the original, byte for byte: {path}").format(path=r["original"]))
    return lines


def cmd_list(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl evidence list`: the intakes, newest first; an original destroyed by retention shows when."""
    rows = call(ctx.socket, "evidence.list", {"limit": args.limit})
    text = table([_("INTAKE"), _("TAKEN IN"), _("BY"), _("DEVICE"), _("FILE"), _("FILMED BY"), _("REQUEST"), _("SIZE"),
                  _("SEGMENTS"), _("ORIGINAL"), _("SHA256")],
                 [(r["id"], fmt_time(r["intake_us"]), r["taken_by"], r["device"], r.get("file_name") or "-",
                   r["recorded_by"], r["request"] or "-",
                   fmt_bytes(r["bytes"]), r["segments"],
                   _("destroyed {time}").format(time=fmt_time(r["destroyed_us"])) if r["destroyed_us"] else _("kept"),
                   r["sha256"]) for r in rows])
    return rows, text if rows else _("no intakes")


def register(sub: Verbs) -> None:
    p = sub.add_parser("evidence", help=_("a portable camera's recording taken into the box's custody"))
    es = p.add_subparsers(dest="e_cmd", required=True)
    i = es.add_parser("import", parents=[JSON], help=_("take in a portable camera's file: hashed, kept byte for byte, "
                                                      "remuxed into footage under the site's rules"))
    i.add_argument("file", metavar="FILE", help=_("the device's file (MP4, MOV, ...)"))
    i.add_argument("--device", required=True, metavar="NAME",
                   help=_("the device's name: letters, digits, '.', '_' or '-' (e.g. bwc-07)"))
    i.add_argument("--by", required=True, metavar="PERSON", help=_("who recorded it"))
    i.add_argument("--request", type=int, metavar="N", help=_("the request it belongs to"))
    i.set_defaults(handler=cmd_import)
    ls = es.add_parser("list", parents=[JSON], help=_("the intakes, newest first: who took each file in, its SHA-256, "
                                                     "and when retention destroyed its original"))
    ls.add_argument("--limit", type=int, default=100, metavar="N", help=_("at most N intakes (default 100)"))
    ls.set_defaults(handler=cmd_list)
