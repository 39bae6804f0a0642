"""`edgectl enrol`: the box's enrolment with the central office's CA (design/0097).

    edgectl enrol --out req.pem        the request (a CSR signed by the node key), to carry to the office
    edgectl enrol --install cert.pem   the certificate the office issued (edged-central nodes accept)

Both through the daemon (it holds the key), as an admin, on the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edged.control.client import call
from edged.cli import files
from argparse import Namespace

from edged.cli.ctx import Ctx
from edged.cli.display import JSON, UsageError, Verbs
from edged.i18n import _


def cmd_enrol(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.install:
        try:
            bundle = Path(args.install).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(_("cannot read {path}: {why}").format(path=args.install, why=exc)) from None
        got = call(ctx.socket, "node.install_cert", {"bundle": bundle})
        return got, _("enrolled: this box is {site}/{node} (certificate serial {serial}, key {fingerprint}); it "
                      "pinned the office's CA {ca}. Exports from now on carry its certificate").format(
                          site=got["site"], node=got["node"], serial=got["serial"], fingerprint=got["fingerprint"],
                          ca=got["ca_fingerprint"])
    got = call(ctx.socket, "node.enrol", {})
    if args.out:
        files.write_new(args.out, got["request"])  # never over an existing file or through a link
    lines = [_("enrolment request for {site}/{node}, node key {fingerprint}").format(
        site=got["site"], node=got["node"], fingerprint=got["fingerprint"])]
    if got.get("enrolled"):
        lines.append(_("note: this box is already enrolled (certificate serial {serial}); a new request is for the "
                       "same key").format(serial=got["enrolled"]["serial"]))
    if args.out:
        lines.append(_("written to {path}: carry it to the office, which checks the key fingerprint above and runs "
                       "edged-central nodes accept").format(path=args.out))
    else:
        lines.append(got["request"].rstrip())
    return got, "\n".join(lines)


def register(sub: Verbs) -> None:
    p = sub.add_parser("enrol", parents=[JSON], help=_("enrol this box with the central office's CA: write its "
                                                       "request, or install the certificate the office issued"))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--out", metavar="FILE", help=_("write the enrolment request here (to carry to the office)"))
    g.add_argument("--install", metavar="FILE", help=_("install the certificate the office issued (and pin its CA)"))
    p.set_defaults(handler=cmd_enrol)
