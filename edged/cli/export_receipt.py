"""`edgectl export-receipt EXPORT DIR` (design/0318): the office's receipt for an export, which
comes after the export was copied out (the office verifies its record), taken from the box's staged
copy into the copy handed over."""

from __future__ import annotations

import base64
from argparse import Namespace
from pathlib import Path
from typing import Any

from edged.cli.ctx import Ctx
from edged.cli.display import JSON, UsageError, Verbs
from edged.cli.export import write_receipt
from edged.control.client import call
from edged.i18n import _
from edged_evidence_check import check as core
from storage.export import evidence as export


def cmd_export_receipt(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl export-receipt EXPORT DIR`: the office's receipt for an export (design/0318), taken
    from the box's staged copy into the copy handed over, whose manifest must be that export's."""
    out = Path(args.dir)
    if (out / export.RECEIPT).exists():
        raise UsageError(_("{path} already holds {file}").format(path=out, file=export.RECEIPT))
    piece = call(ctx.socket, "export.read", {"export": args.export, "file": export.RECEIPT, "offset": 0})
    data = base64.b64decode(piece["data"])
    if len(data) != piece["size"]:
        raise UsageError(_("the office's receipt for export {export} is not for the export in {path}; nothing "
                           "written").format(export=args.export, path=out))
    doc = write_receipt(out, data)
    when = core.utc(doc["heard_us"]) if isinstance(doc.get("heard_us"), int) else "-"
    return {"export": args.export, "dir": str(out), "file": export.RECEIPT, "heard_utc": when}, _(
        "{file} written to {path}: the office heard of export {export} at {when}").format(
            file=export.RECEIPT, path=out, export=args.export, when=when)


def register(sub: Verbs) -> None:
    p = sub.add_parser("export-receipt", parents=[JSON], help=_("add the office's receipt for an export (its "
                                                                "signing time on the office's clock) to the copy "
                                                                "handed over"))
    p.add_argument("export", type=int, help=_("the export number (from `edgectl export`)"))
    p.add_argument("dir", metavar="DIR", help=_("the folder the export was written to"))
    p.set_defaults(handler=cmd_export_receipt)
