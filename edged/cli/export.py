"""`edgectl export` (through the daemon, under a copy grant): the export read out into a folder of
the person's, a file at a time (`copy_out`, `open_out`, `new_file`: the redacted copy's and the
receipt's verbs write the same way); `edgectl verify` is edged/cli/verify.py."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from collections.abc import Callable
from typing import Any

from edged.control.client import call
from edged.cli import files
from edged.cli.display import Verbs, JSON, Progress, UsageError, fmt_bytes, fmt_time
from edged.i18n import _
from edged_evidence_check import bounds, check as core, receipt as office

from storage.keys import nodecert
from storage.export import evidence as export, origin
from storage.export import checking
from argparse import Namespace
from edged.cli.ctx import Ctx

EXPORT_TIMEOUT_S = 120  # between two lines from the daemon; progress arrives several times a second
RECEIPT_WAIT_S = 60.0  # how long edgectl export waits for the office's receipt by default (design/0375)


def _check_out(out: Path) -> None:
    """Refuse before the grant is spent: the person's folder must be new or empty, and writable."""
    if out.is_symlink():
        raise UsageError(_("{path} is a symbolic link; name a new or empty folder").format(path=out))
    if out.exists():
        if not out.is_dir():
            raise UsageError(_("{path} exists and is not a folder; name a new or empty folder").format(path=out))
        if any(out.iterdir()):
            raise UsageError(_("{path} is not empty; exports never overwrite: name a new or empty folder").format(
                path=out))
        parent = out
    else:
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(_("{path} does not exist; create it first").format(path=parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(_("no permission to write in {path}").format(path=parent))


def open_out(out: Path) -> int:
    """The person's folder, made 0700 (or an empty one they named, tightened), as a directory fd
    that never follows a symbolic link: a link planted there later cannot redirect the copy."""
    try:
        os.mkdir(out, 0o700)
    except FileExistsError:
        pass
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    os.fchmod(fd, 0o700)
    return fd


def new_file(dir_fd: int, name: str) -> int:
    """Create `name` in the folder: never an existing file, never through a link, 0600."""
    if name != Path(name).name or name in (".", ".."):
        raise UsageError(_("the daemon named an odd file {name!r}; nothing written").format(name=name))
    try:
        return files.create(name, dir_fd=dir_fd)
    except FileExistsError:
        raise UsageError(_("{name} appeared in the folder while the export was copied (a file or a link someone "
                           "put there); nothing was written over it").format(name=name)) from None


def write_file(dir_fd: int, name: str, fill: Callable[[int], object]) -> None:
    """`name` made new in the folder (`new_file`), filled by `fill(fd)`, fsynced and closed."""
    fd = new_file(dir_fd, name)
    try:
        fill(fd)
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_out(sock: Path, result: dict[str, Any], out: Path, op: str = "export.read",
             ask: dict[str, Any] | None = None, timeout: float = EXPORT_TIMEOUT_S) -> None:
    """Fetch the finished export's files (or, `op` and `ask`, a redacted copy's) from the daemon
    and write them to the person's folder, durably, 0600 in a 0700 folder (the copy is evidence
    and personal data)."""
    dir_fd = open_out(out)
    try:
        for f in result["files"]:
            def fill(fd: int, name: str = f["name"]) -> None:
                offset = 0
                while True:
                    piece = call(sock, op, {"export": result["export"], **(ask or {}), "file": name,
                                            "offset": offset}, timeout=timeout)
                    data = base64.b64decode(piece["data"])
                    if not data:
                        break
                    os.write(fd, data)  # a regular file: a full write
                    offset += len(data)
                    if offset >= piece["size"]:
                        break
            write_file(dir_fd, f["name"], fill)
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def cmd_export(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.redacted:
        return _staged_for_redaction(ctx, args)
    if not args.out:
        raise UsageError(_("edgectl export needs --out DIR, a new or empty folder to write the export to"))
    out = Path(args.out).absolute()
    _check_out(out)
    bar = Progress("export", lambda bar, pct, info: _("exporting [{bar}] {pct:3d}%  {done} of {total}  {camera}").format(
        bar=bar, pct=pct, done=fmt_bytes(info.get("done_bytes")), total=fmt_bytes(info.get("total_bytes")),
        camera=info.get("camera") or ""))
    req = {"grant": args.grant}
    if args.recipient:
        req["recipient"] = args.recipient
    if args.receipt:
        req["receipt"] = args.receipt
    try:
        result = call(ctx.socket, "export.run", req, on_progress=bar, timeout=EXPORT_TIMEOUT_S)
    finally:
        bar.done()
    try:
        copy_out(ctx.socket, result, out)
    except OSError as exc:
        raise UsageError(_("export {export} was made, but writing it to {path} failed ({error}); the daemon keeps "
                           "it for a day: ask root to copy it from its staging folder").format(
                               export=result["export"], path=out, error=exc)) from None
    problems = checking.verify_export(out, result["public_key"])
    if problems:
        raise UsageError(_("the copy in {path} does not check out: {problems}. The daemon keeps its copy for a "
                           "day (root can reach it: {dir})").format(path=out, problems="; ".join(problems),
                                                                    dir=result["dir"]))
    result = {**result, "out": str(out)}
    lines = [_("export {export} of grant {grant} written to {path} and verified").format(
                 export=result["export"], grant=result["grant"], path=out),
             "  " + _("{size} in {n} clip(s); manifest SHA-256 {sha}").format(
                 size=fmt_bytes(result["bytes"]), n=len(result["clips"]), sha=result["manifest_sha256"])]
    lines += [f"  {c['file']}: {c['duration_s']:.1f} s, {fmt_bytes(c['bytes'])}" for c in result["clips"]]
    for g in result["gaps"]:
        lines.append("  " + _("gap in {camera}: {start} to {end} ({seconds:.1f} s): {reason}").format(
            camera=g["camera"], start=fmt_time(g["from_us"]), end=fmt_time(g["to_us"]), seconds=g["seconds"],
            reason=g["reason"]))
    lines.append("  " + _("signed by the node key {fingerprint} (public key {key})").format(
        fingerprint=result["key_fingerprint"], key=result["public_key"]))
    c2pa = result.get("c2pa") or {}
    if c2pa.get("made"):
        lines.append("  " + _("each clip carries a C2PA manifest signed by {signer}: anyone checks it with the C2PA "
                              "SDK against the office's CA").format(signer=c2pa.get("signer")))
    else:
        lines.append("  " + _("no C2PA manifest in the clips: {why}").format(why=c2pa.get("why")))
    lines.append("  " + _origin_line(out, result.get("ca")))
    heard, line = office_receipt(ctx.socket, result, out, args.receipt_wait)
    result["receipt"] = heard
    lines.append("  " + line)
    return result, "\n".join(lines)


def write_receipt(out: Path, data: bytes) -> dict[str, Any]:
    """The office's receipt `data` written into the copy in `out` (new, durable, 0600), if it is for
    the copy's own manifest (design/0318); its document. UsageError (nothing written) else."""
    try:
        body = bounds.read_small(out, export.MANIFEST)
    except OSError as exc:
        raise UsageError(_("{path} holds no export's manifest.json ({why})").format(path=out, why=exc)) from None
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("manifest_sha256") != hashlib.sha256(body).hexdigest():
        raise UsageError(_("the office's receipt is not for the export in {path}; nothing written").format(path=out))
    dir_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        write_file(dir_fd, export.RECEIPT, lambda fd: os.write(fd, data))  # a regular file: a full write
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return doc


def office_receipt(sock: Path, result: dict[str, Any], out: Path, wait_s: float) -> tuple[str | None, str]:
    """The office's receipt for the export just written (design/0375): waited for up to `wait_s` while
    the box hears the office, written into the copy and checked against the CA the box pinned, with
    the copy's files again. (its time, or None; a line for people)."""
    answer = call(sock, "export.receipt", {"export": result["export"], "wait_s": wait_s}, timeout=wait_s + 30)
    if answer.get("receipt") is None:
        why = (_("the box does not hear the office now") if not answer.get("online") else
               _("it did not come within {s:g} s").format(s=wait_s))
        return None, _("no receipt from the office yet ({why}): add it when it comes with edgectl export-receipt "
                       "{export} {path}; until then a verifier judges the export as signed as late as its footage's "
                       "end plus 31 days").format(why=why, export=result["export"], path=out)
    doc = write_receipt(out, answer["receipt"].encode())
    if result.get("ca"):
        ca = nodecert.load_pem_chain(str(result["ca"]).encode())[0]
        try:
            office.check(doc, ca.public_key())  # type: ignore[arg-type]
        except office.BadReceipt as exc:
            raise UsageError(_("the office's receipt written to {path} does not check: {why}").format(
                path=out, why=exc)) from None
    problems = checking.verify_export(out, result["public_key"])
    if problems:
        raise UsageError(_("the copy in {path} does not check out with the office's receipt: {problems}").format(
            path=out, problems="; ".join(problems)))
    when = core.utc(doc["heard_us"]) if isinstance(doc.get("heard_us"), int) else "-"
    return when, _("the office's receipt ({file}): the office heard of this export at {when}; its signing time is "
                   "corroborated").format(file=export.RECEIPT, when=when)


def _origin_line(out: Path, ca_pem: str | None) -> str:
    """What the copy's certificate says against the CA the box pinned (design/0097)."""
    if not ca_pem:
        return _("this box is not enrolled with the office's CA: the export carries no certificate (edgectl enrol)")
    try:
        got = origin.by_certificate(json.loads((out / export.MANIFEST).read_bytes()),
                                    nodecert.load_pem_chain(ca_pem.encode())[0], None)
    except (OSError, ValueError, nodecert.CertError) as exc:
        return _("the export's certificate could not be read: {why}").format(why=exc)
    return got.why


def _staged_for_redaction(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """`edgectl export --grant N --redacted`: a citizen's grant that shows only a redacted copy,
    used as the desk uses it (issue 75): its footage staged on the box for the redacted copy, never
    written out whole; then `edgectl redact --export M`."""
    req: dict[str, Any] = {"grant": args.grant, "redacted": True}
    if args.recipient:
        req["recipient"] = args.recipient
    if args.receipt:
        req["receipt"] = args.receipt
    bar = Progress("export", lambda bar, pct, info: _("staging [{bar}] {pct:3d}%  {camera}").format(
        bar=bar, pct=pct, camera=info.get("camera") or ""))
    try:
        result = call(ctx.socket, "export.run", req, on_progress=bar, timeout=EXPORT_TIMEOUT_S)
    finally:
        bar.done()
    clips = ", ".join(c["file"] for c in result["clips"])
    return result, _("grant {grant} used for its redacted copy: export {export} ({clips}) is staged on the box for a "
                     "day and is not written out; make the copy with edgectl redact --export {export} --mark "
                     "CLIP:FRAME:X,Y,W,H --out DIR").format(grant=result["grant"], export=result["export"], clips=clips)


def register(sub: Verbs) -> None:
    p = sub.add_parser("export", parents=[JSON], help=_("copy footage under an approved copy grant: one MP4 per "
                                                        "camera, a manifest and the node's signature"))
    p.add_argument("--grant", type=int, required=True, help=_("the grant number (from the approved request)"))
    p.add_argument("--out", metavar="DIR", help=_("a new or empty folder to write the export to"))
    p.add_argument("--redacted", action="store_true",
                   help=_("a citizen's grant that shows only a redacted copy: stage its footage on the box for the "
                          "copy (edgectl redact --export), nothing written out"))
    p.add_argument("--recipient", help=_("who receives the copy (default: the requester)"))
    p.add_argument("--receipt", metavar="NAME", help=_("who signed the receipt for the copy (needed where the site's "
                                                       "[policy] asks for a signed receipt)"))
    p.add_argument("--receipt-wait", type=float, default=RECEIPT_WAIT_S, metavar="SECONDS",
                   help=_("how long to wait for the office's receipt for the export while the box hears the office "
                          "(default {s:g}; 0: do not wait)").format(s=RECEIPT_WAIT_S))
    p.set_defaults(handler=cmd_export)
