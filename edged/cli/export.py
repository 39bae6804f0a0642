"""edgectl verbs for evidence export: `export` (through the daemon, under a copy grant) and
`verify` (no daemon: checks a folder against its manifest and signature)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from edged.control.client import call
from edged.cli import files
from edged.cli.display import Verbs, JSON, Progress, UsageError, fmt_bytes, fmt_time
from edged.i18n import _
from storage import nodekey
from storage.export import evidence as export
from argparse import Namespace
from edged.cli.ctx import Ctx

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


def copy_out(sock: Path, result: dict[str, Any], out: Path) -> None:
    """Fetch the finished export's files from the daemon and write them to the person's folder,
    durably, 0600 in a 0700 folder (the copy is evidence and personal data)."""
    dir_fd = open_out(out)
    try:
        for f in result["files"]:
            fd = new_file(dir_fd, f["name"])
            try:
                offset = 0
                while True:
                    piece = call(sock, "export.read", {"export": result["export"], "file": f["name"],
                                                       "offset": offset}, timeout=EXPORT_TIMEOUT_S)
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
    return result, "\n".join(lines)


def cmd_verify(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    """Exit 0: intact and from the node (checked against --key or the central office's --keys);
    1: not intact or not from that node; 3: intact, origin not checked (only the shipped key)."""
    key = args.key
    if key and Path(key).is_file():
        key = Path(key).read_text()
    folder = Path(args.dir)
    listed = None
    if args.keys:
        key, listed = _key_from_list(folder, args.keys, args.central_key, args.json)
    try:
        problems = export.verify_export(folder, key)
    except nodekey.NodeKeyError as exc:
        raise UsageError(str(exc)) from None
    signer = None
    try:
        signer = nodekey.fingerprint(nodekey.public_raw(nodekey.load_public((folder / export.PUBLIC_KEY).read_bytes())))
    except (OSError, nodekey.NodeKeyError):
        pass
    origin = "unchecked" if not key else "checked"
    data = {"ok": not problems, "dir": str(args.dir), "problems": problems, "key_checked": bool(key),
            "origin": origin, "signed_by": signer, **({"key_list": listed} if listed else {})}
    if problems:
        text = "\n".join(f"FAILED: {p}" for p in problems)
    elif not key:
        text = _("INTACT, ORIGIN NOT CHECKED: {dir} is intact and signed by {signer}, the key shipped in the folder; "
                 "pass --keys (the central office's signed key list) or --key to prove which node made it").format(
                     dir=args.dir, signer=signer)
    else:
        text = "OK: " + _("{dir} is intact and its manifest is signed by {signer}").format(dir=args.dir, signer=signer)
        if listed:
            text += "\n" + _("the key is {site}/{node}'s in the central office's key list signed by {central}").format(
                site=listed["site"], node=listed["node"], central=listed["central_fingerprint"])
    if problems or not key:  # a script must not take a failed or half check for a pass
        print(json.dumps(data, indent=2) if args.json else text)
        raise SystemExit(1 if problems else 3)
    return data, text


def _key_from_list(folder: Path, path: str, central_key: str | None, as_json: bool) -> tuple[str, dict[str, Any]]:
    """The node's key as the central office's signed list names it, for the node the manifest claims."""
    from storage import fleetkeys

    try:
        doc = fleetkeys.check(Path(path).read_bytes(), central_key)
    except OSError as exc:
        raise UsageError(_("cannot read the key list {path}: {why}").format(path=path, why=exc.strerror)) from None
    except fleetkeys.KeyListError as exc:
        raise UsageError(_("the key list {path} cannot be trusted: {why}").format(path=path, why=exc)) from None
    try:
        manifest = json.loads((folder / export.MANIFEST).read_bytes())
        site, node = str(manifest["site"]["id"]), str(manifest["node"])
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(_("{dir}: no readable manifest naming its site and node").format(dir=folder)) from None
    keys = fleetkeys.keys_of(doc, site, node)
    shipped = manifest.get("node_public_key")
    match = next((k for k in keys if k["public_key"] == shipped), None)
    if match is None:
        why = _("the export claims {site}/{node}, but its key {fp} is not that node's in the central office's key "
                "list ({n} key(s) listed for it)").format(site=site, node=node,
                                                          fp=manifest.get("node_key_fingerprint"), n=len(keys))
        print(json.dumps({"ok": False, "dir": str(folder), "origin": "refused", "problems": [why]}, indent=2)
              if as_json else "FAILED: " + why)
        raise SystemExit(1)
    return match["public_key"], {"site": site, "node": node, "fingerprint": match["fingerprint"],
                                 "first_us": match["first_us"], "last_us": match["last_us"],
                                 "central_fingerprint": doc["central_fingerprint"]}


def register(sub: Verbs) -> None:
    p = sub.add_parser("export", parents=[JSON], help=_("copy footage under an approved copy grant: one MP4 per "
                                                        "camera, a manifest and the node's signature"))
    p.add_argument("--grant", type=int, required=True, help=_("the grant number (from the approved request)"))
    p.add_argument("--out", required=True, metavar="DIR", help=_("a new or empty folder to write the export to"))
    p.add_argument("--recipient", help=_("who receives the copy (default: the requester)"))
    p.add_argument("--receipt", metavar="NAME", help=_("who signed the receipt for the copy (needed where the site's "
                                                       "[policy] asks for a signed receipt)"))
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("verify", parents=[JSON], help=_("check an export folder: clips, manifest and signature (no "
                                                        "daemon needed)"))
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--key", help=_("the node's public key (base64, as in the MQTT birth, or a PEM file)"))
    p.add_argument("--keys", metavar="FILE", help=_("the central office's signed key list (`edged-central keys`): "
                                                    "the export's key must be its node's"))
    p.add_argument("--central-key", metavar="KEY", help=_("the central office's key or its fingerprint (SHA256:...), "
                                                          "to pin the signer of --keys"))
    p.set_defaults(handler=cmd_verify, standalone=True)  # reads no catalog: ctx may be None
