"""`edgectl verify DIR` (no daemon: the export folder's clips, manifest and signature checked, and
its origin against the office's CA, the box's pinned one by default, and its revocation list),
through the court's own checker (edged_evidence_check), so both say the same."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from edged import DEFAULT_CONFIG_PATH
from edged.cli.ctx import Ctx
from edged.cli.display import JSON, UsageError, Verbs
from edged.cli.redacted_copy import COPY_EXIT, by_key, copy_of, copy_text
from edged.config import load_config
from edged.i18n import _
from edged_evidence_check import bounds, check as core
from storage.export import evidence as export, origin
from storage.export import checking
from storage.keys import nodecert, nodekey, office_crl


def cmd_verify(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """Exit 0: intact and from the node, through the root this verifier trusts (the office's CA:
    --ca, else the one pinned at enrolment; or --key), with a revocation list fresh enough
    (design/0129); 1: not intact, or its origin refused; 3: intact, origin not checked (no root,
    nothing the root vouches for, no fresh list, or files the export does not list); 4: a released
    redacted copy checked whole, its original not supplied (--original DIR checks both: design/0434).
    design/0097.
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
        problems = checking.verify_export(folder, key, extras=False)
        unlisted = core.unlisted(folder, checking.listed(folder, manifest)) if folder.is_dir() else []
    except nodekey.NodeKeyError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        problems, unlisted = [str(exc)], []
    if unlisted and got.status == origin.CHECKED:
        got = origin.Origin(origin.UNCHECKED, _("the folder holds {files}, which the export does not list (added after "
                                                "it was made)").format(files=", ".join(unlisted)), got.key, got.who,
                            got.revocation)
    copy_alone = False
    if not problems and got.status == origin.CHECKED:   # a released copy: its binding, and its own verdict (design/0434)
        bound, copy_alone = by_key(manifest, args.original, key)
        problems += bound
    signer = _signer(folder)
    data = {"ok": not problems and got.status != origin.REFUSED, "dir": str(args.dir), "problems": problems,
            "unlisted": unlisted, "key_checked": got.status == origin.CHECKED, "origin": got.status,
            "origin_why": got.why, "root": root_from, "signed_by": signer, "revocation": got.revocation,
            "revocation_from": crl_from if got.revocation and got.revocation["what"] == "revocation list" else
            (args.keys if got.revocation else None), **({"node": got.who} if got.who else {})}
    text = _verify_text(args.dir, problems, got, signer) + _dates_text(got.revocation, str(data["revocation_from"] or "-"))
    if copy_alone := copy_alone and not problems:   # the verdict's line the copy's, the rest as said
        data["verdict"], text = "CHECKED AS A COPY", "\n".join([copy_text(args.dir, signer, manifest),
                                                                 *text.split("\n")[1:]])
    data, text = copy_of(manifest, data, text)
    if copy_alone:
        print(json.dumps(data, indent=2) if args.json else text)
        raise SystemExit(COPY_EXIT)
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


ORIGIN_OF = {core.CHECKED: origin.CHECKED, core.REFUSED: origin.REFUSED, core.NOT_CHECKED: origin.UNCHECKED,
             core.COPY: origin.CHECKED}   # a copy's signer is checked; its original is said not supplied


def _who(signer: dict[str, Any]) -> dict[str, Any]:
    site, node = str(signer["node"]).split("/")
    return {"site": site, "node": node, "serial": signer["serial"]}


def _verify_by_core(args: Namespace, folder: Path, manifest: dict[str, Any], root: tuple[Any, str | None],
                    crl: tuple[Any, str | None]) -> tuple[Any, str]:
    """The checker's verdict on the folder (edged_evidence_check.check), as edgectl prints it:
    the same words, the same exit (0, 1, 3), and edgectl's JSON fields beside the checker's."""
    got = core.check(folder, nodecert.pem([root[0]]), crl[0].public_bytes(serialization.Encoding.PEM),
                     Path(args.original) if args.original else None)
    dates = origin.crl_dates(crl[0], manifest, got["dates"]["latest_signed_us"]).as_dict() if got["dates"] else None
    data = {**got, "ok": got["verdict"] in (core.CHECKED, core.COPY), "dir": str(args.dir), "origin": ORIGIN_OF[got["verdict"]],
            "origin_why": got["why"], "root": root[1], "revocation": dates, "revocation_from": crl[1],
            "signed_by": (got["signer"] or {}).get("node"), "key_checked": got["verdict"] in (core.CHECKED, core.COPY),
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
        line += "; " + _("the export was signed {signed} by the box's clock, at the latest {latest} by what can be "
                         "proven (its footage's end plus the longest an export may wait): a list issued from {needed} "
                         "on is needed ({verdict})").format(
            signed=dates["signed_utc"], latest=dates["latest_signed_utc"], needed=dates["needed_from_utc"],
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
            checking.read_export_file(folder, export.PUBLIC_KEY))))
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


def register(sub: Verbs) -> None:
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
    p.add_argument("--original", metavar="DIR", help=_("a released redacted copy's original export's folder: "
                                                       "checked too, and the copy's binding to it (without it a "
                                                       "copy's verdict is CHECKED AS A COPY, exit 4)"))
    p.set_defaults(handler=cmd_verify, standalone=True)  # reads no catalog: ctx may be None
