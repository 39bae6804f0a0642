"""edgectl verbs for evidence export: `export` (through the daemon, under a copy grant) and
`verify` (no daemon: checks a folder against its manifest and signature)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from edged.control.client import call
from edged import DEFAULT_CONFIG_PATH
from edged.config import load_config
from edged.cli import files
from edged.cli.display import Verbs, JSON, Progress, UsageError, fmt_bytes, fmt_time
from edged.i18n import _
from cryptography.hazmat.primitives import serialization

from edged_evidence_check import bounds, check as core
from storage.keys import nodecert, nodekey, office_crl
from storage.export import evidence as export, origin
from argparse import Namespace
from edged.cli.ctx import Ctx
from edged.cli.redacted_copy import copy_of

EXPORT_TIMEOUT_S = 120  # between two lines from the daemon; progress arrives several times a second


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


def copy_out(sock: Path, result: dict[str, Any], out: Path, op: str = "export.read",
             ask: dict[str, Any] | None = None, timeout: float = EXPORT_TIMEOUT_S) -> None:
    """Fetch the finished export's files (or, `op` and `ask`, a redacted copy's) from the daemon
    and write them to the person's folder, durably, 0600 in a 0700 folder (the copy is evidence
    and personal data)."""
    dir_fd = open_out(out)
    try:
        for f in result["files"]:
            fd = new_file(dir_fd, f["name"])
            try:
                offset = 0
                while True:
                    piece = call(sock, op, {"export": result["export"], **(ask or {}), "file": f["name"],
                                            "offset": offset}, timeout=timeout)
                    data = base64.b64decode(piece["data"])
                    if not data:
                        break
                    os.write(fd, data)  # a regular file: a full write
                    offset += len(data)
                    if offset >= piece["size"]:
                        break
                os.fsync(fd)
            finally:
                os.close(fd)
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
    problems = export.verify_export(out, result["public_key"])
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
    return result, "\n".join(lines)


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


def cmd_verify(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """Exit 0: intact and from the node, through the root this verifier trusts (the office's CA:
    --ca, else the one pinned at enrolment; or --key), with a revocation list fresh enough
    (design/0129); 1: not intact, or its origin refused; 3: intact, origin not checked (no root,
    nothing the root vouches for, no fresh list, or files the export does not list). design/0097.
    With a CA and a revocation list the verdict is the stand-alone checker's own (design/0316:
    edged_evidence_check.check, one core), so the two give a folder one answer."""
    folder = Path(args.dir)
    root, root_from = _root(args.ca)
    crl, crl_from = _crl(args.crl, root)
    try:
        manifest = bounds.load_json(bounds.read_small(folder, export.MANIFEST), export.MANIFEST)
        if not isinstance(manifest, dict):
            manifest = {}
    except (OSError, ValueError):
        manifest = {}
    if root is not None and crl is not None and not (args.key or args.keys):  # the court's route: the checker's core
        return _verify_by_core(args, folder, manifest, (root, root_from), (crl, crl_from))
    got = _origin(args, manifest, root, crl)
    key = (Path(args.key).read_text() if Path(args.key).is_file() else args.key) if args.key else got.key
    try:
        problems = export.verify_export(folder, key, extras=False)
        unlisted = core.unlisted(folder, export.listed(folder, manifest)) if folder.is_dir() else []
    except nodekey.NodeKeyError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        problems, unlisted = [str(exc)], []
    if unlisted and got.status == origin.CHECKED:
        got = origin.Origin(origin.UNCHECKED, _("the folder holds {files}, which the export does not list (added after "
                                                "it was made)").format(files=", ".join(unlisted)), got.key, got.who,
                            got.revocation)
    signer = _signer(folder)
    data = {"ok": not problems and got.status != origin.REFUSED, "dir": str(args.dir), "problems": problems,
            "unlisted": unlisted, "key_checked": got.status == origin.CHECKED, "origin": got.status,
            "origin_why": got.why, "root": root_from, "signed_by": signer, "revocation": got.revocation,
            "revocation_from": crl_from if got.revocation and got.revocation["what"] == "revocation list" else
            (args.keys if got.revocation else None), **({"node": got.who} if got.who else {})}
    text = _verify_text(args.dir, problems, got, signer) + _dates_text(got.revocation, str(data["revocation_from"] or "-"))
    data, text = copy_of(manifest, data, text)
    if problems or got.status != origin.CHECKED:  # a script must not take a failed or half check for a pass
        print(json.dumps(data, indent=2) if args.json else text)
        raise SystemExit(1 if problems or got.status == origin.REFUSED else 3)
    return data, text


def _verify_text(folder: str, problems: list[str], got: origin.Origin, signer: str | None) -> str:
    if problems:
        return "\n".join(f"FAILED: {p}" for p in problems)
    if got.status == origin.REFUSED:
        return "FAILED: " + _("{dir} is intact, but its origin is refused: {why}").format(dir=folder, why=got.why)
    if got.status == origin.UNCHECKED:
        return _("INTACT, ORIGIN NOT CHECKED: {dir} is intact and signed by {signer}; {why}").format(
            dir=folder, signer=signer, why=got.why)
    return "OK: " + _("{dir} is intact and its manifest is signed by {signer}").format(dir=folder, signer=signer) + \
        "\n" + got.why


ORIGIN_OF = {core.CHECKED: origin.CHECKED, core.REFUSED: origin.REFUSED, core.NOT_CHECKED: origin.UNCHECKED}


def _who(signer: dict[str, Any]) -> dict[str, Any]:
    site, node = str(signer["node"]).split("/")
    return {"site": site, "node": node, "serial": signer["serial"]}


def _verify_by_core(args: Namespace, folder: Path, manifest: dict[str, Any], root: tuple[Any, str | None],
                    crl: tuple[Any, str | None]) -> tuple[Any, str]:
    """The checker's verdict on the folder (edged_evidence_check.check), as edgectl prints it:
    the same words, the same exit (0, 1, 3), and edgectl's JSON fields beside the checker's."""
    got = core.check(folder, nodecert.pem([root[0]]), crl[0].public_bytes(serialization.Encoding.PEM))
    dates = origin.crl_dates(crl[0], manifest).as_dict() if got["dates"] else None
    data = {**got, "ok": got["verdict"] == core.CHECKED, "dir": str(args.dir), "origin": ORIGIN_OF[got["verdict"]],
            "origin_why": got["why"], "root": root[1], "revocation": dates, "revocation_from": crl[1],
            "signed_by": (got["signer"] or {}).get("node"), "key_checked": got["verdict"] == core.CHECKED,
            **({"node": _who(got["signer"])} if got["signer"] else {})}
    data, text = copy_of(manifest, data, "\n".join(core.lines(got)))
    if got["verdict"] != core.CHECKED:
        print(json.dumps(data, indent=2) if args.json else text)
        raise SystemExit(core.EXIT[got["verdict"]])
    return data, text


def _origin(args: Namespace, manifest: dict[str, Any], root: Any, crl: Any) -> origin.Origin:
    """Who made the export, as far as the root and the lists given say (storage/export/origin.py)."""
    if args.key:
        return origin.Origin(origin.CHECKED, _("against the key you gave"), None)
    if root is not None and manifest.get("node_certificates"):
        got = origin.by_certificate(manifest, root, crl)
        return origin.with_revocation(got, None if crl is None else origin.crl_dates(crl, manifest))
    if args.keys and (root is not None or args.central_key):
        pin = origin.root_fingerprint(root) if root is not None else args.central_key
        return origin.by_key_list(manifest, _read(args.keys), pin, crl)
    if args.keys:
        return origin.Origin(origin.UNCHECKED, _("a key list proves nothing without the office's CA (--ca) to check "
                                                 "its signature"))
    if root is not None:
        return origin.Origin(origin.UNCHECKED, _("the export carries no node certificate (made before its node was "
                                                 "enrolled): pass --keys, the office's signed key list"))
    return origin.Origin(origin.UNCHECKED, _("no root to check it against: pass --ca, the office's CA certificate"))


def _dates_text(dates: dict[str, Any] | None, source: str | None) -> str:
    """The list's dates, for people: when it was issued, and from when one is needed."""
    if not dates:
        return ""
    what = _("revocation list") if dates["what"] == "revocation list" else _("key list")
    line = _("{what} ({source}): issued {issued}, next update {next}").format(
        what=what, source=source or "-", issued=dates["issued_utc"], next=dates["next_update_utc"] or "-")
    if dates["needed_from_utc"]:
        line += "; " + _("the export was signed {signed}: a list issued from {needed} on is needed ({verdict})").format(
            signed=dates["signed_utc"], needed=dates["needed_from_utc"],
            verdict=_("fresh enough") if dates["fresh"] else _("too old"))
    return "\n" + line


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(_("cannot read {path}: {why}").format(path=path, why=exc.strerror)) from None


def _signer(folder: Path) -> str | None:
    try:
        return nodekey.fingerprint(nodekey.public_raw(nodekey.load_public(
            export.read_export_file(folder, export.PUBLIC_KEY))))
    except (OSError, nodekey.NodeKeyError):
        return None


def _box_data_dir() -> Path | None:
    """The data folder of the default config, where this person may read it (root, or the daemon's user)."""
    try:
        return Path(load_config(DEFAULT_CONFIG_PATH, allow_config_secrets=True).storage.data_dir)
    except Exception:  # noqa: BLE001 - no config, no permission: no box here, said so (exit 3)
        return None


def pinned_ca() -> Any:
    """The office's CA this box pinned at its enrolment; None where there is none to read."""
    data_dir = _box_data_dir()
    try:
        return None if data_dir is None else nodecert.pinned_ca(data_dir)
    except (OSError, nodecert.CertError):
        return None


def _root(path: str | None) -> tuple[Any, str | None]:
    if path:
        try:
            certs = nodecert.load_pem_chain(_read(path))
        except nodecert.CertError as exc:
            raise UsageError(_("--ca {path}: {why}").format(path=path, why=exc)) from None
        if len(certs) != 1:
            raise UsageError(_("--ca {path}: give the office's CA certificate alone").format(path=path))
        return certs[0], path
    ca = pinned_ca()
    return (ca, "pinned") if ca is not None else (None, None)


def _crl(path: str | None, root: Any) -> tuple[Any, str | None]:
    """The revocation list given, else the one this box keeps (storage/keys/office_crl.py) when it
    is signed by the root in use; (None, None) when there is neither."""
    if not path:
        return (None, None) if root is None else _box_crl(root)
    if root is None:
        raise UsageError(_("--crl needs the CA that signed it: pass --ca"))
    try:
        return nodecert.load_crl(_read(path), root), path
    except nodecert.CertError as exc:
        raise UsageError(_("--crl {path}: {why}").format(path=path, why=exc)) from None


def _box_crl(root: Any) -> tuple[Any, str | None]:
    """The office's list this box keeps (storage/keys/office_crl.py), if the root in use signed it."""
    data_dir = _box_data_dir()
    if data_dir is None:
        return None, None
    path = data_dir / office_crl.CRL_FILE
    try:
        return nodecert.load_crl(path.read_bytes(), root), str(path)
    except (OSError, nodecert.CertError):
        return None, None


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
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("verify", parents=[JSON], help=_("check an export folder: clips, manifest and signature (no "
                                                        "daemon needed)"))
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--key", help=_("the node's public key (base64, as in the MQTT birth, or a PEM file)"))
    p.add_argument("--ca", metavar="FILE", help=_("the office's CA certificate (`edged-central nodes ca`): the root "
                                                  "the export's node certificate must come from (default: the CA "
                                                  "this box pinned at its enrolment)"))
    p.add_argument("--crl", metavar="FILE", help=_("the office's revocation list (`edged-central nodes crl`, or its "
                                                   "/crl.pem), issued a day or more after the export was signed: a "
                                                   "revoked node's export is refused (default: the list this box keeps)"))
    p.add_argument("--keys", metavar="FILE", help=_("the central office's signed key list (`edged-central keys`), for "
                                                    "an export made before its node was enrolled"))
    p.add_argument("--central-key", metavar="KEY", help=_("the central office's key or its fingerprint (SHA256:...), "
                                                          "to pin the signer of --keys where no --ca is at hand"))
    p.set_defaults(handler=cmd_verify, standalone=True)  # reads no catalog: ctx may be None
