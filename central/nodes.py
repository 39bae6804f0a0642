"""`edged-central nodes`: the office's CA at the command line (design/0097).

    edged-central nodes list [--json]                       every certificate issued, revoked or not
    edged-central nodes accept --file REQ --by NAME [--fingerprint SHA256:...] --out BUNDLE
    edged-central nodes revoke SITE/NODE|SERIAL --by NAME --reason TEXT [--publish]
    edged-central nodes ca [--name NAME] [--out FILE]       the CA certificate (made at first use)
    edged-central nodes crl [--out FILE] [--publish]        the signed revocation list (--publish: retained on
                                                            the broker; the only verb here that needs it)

A box's request comes as a file the technician carries (`edgectl enrol --out`); the bundle
goes back the same way (`edgectl enrol --install`).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from central import ca
from central.ca import CAError
from storage.keys import nodecert, nodekey

__all__ = ["CAError", "register", "run"]


def _utc(us: int | None) -> str:
    return "-" if us is None else datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CAError(f"cannot read {path}: {exc.strerror}") from None


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise CAError(f"cannot write {path}: {exc.strerror}") from None


def _public(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if k != "cert"}


def run(data_dir: Path, args: argparse.Namespace, now_us: int, broker: Any = None) -> tuple[Any, str]:
    if args.action == "list":
        entries = ca.enrolments(ca.read_register(data_dir))
        lines = [f"{'NODE':<28} {'SERIAL':<18} {'KEY':<40} {'ACCEPTED':<34} REVOKED"]
        lines += [f"{e['node']:<28} {e['serial'][:16]:<18} {e['fingerprint']:<40} "
                  f"{_utc(e['accepted_us']) + ' by ' + str(e['accepted_by']):<34} "
                  + (f"{_utc(e['revoked_us'])} by {e['revoked_by']}: {e['reason']}" if e["revoked_us"] else "-")
                  for e in entries]
        return [_public(e) for e in entries], "\n".join(lines) if entries else "no node is enrolled yet"
    if args.action == "accept":
        entry, bundle = ca.accept(data_dir, _read(args.file), args.by, now_us, args.fingerprint)
        _write(args.out, bundle)
        others = [e["serial"] for e in ca.enrolments(ca.read_register(data_dir))
                  if e["node"] == entry["node"] and e["revoked_us"] is None and e["serial"] != entry["serial"]]
        note = (f"\nnote: {entry['node']} still has {len(others)} other certificate(s) in force ({', '.join(others)}): "
                "revoke them if the old box or key is gone (edged-central nodes revoke SERIAL)") if others else ""
        return _public(entry), (f"accepted {entry['node']} (key {entry['fingerprint']}), certificate serial "
                                f"{entry['serial']}; give {args.out} to the box: edgectl enrol --install {args.out}"
                                + note)
    if args.action == "revoke":
        done = ca.revoke(data_dir, args.what, args.by, args.reason, now_us)
        text = "\n".join(f"revoked {e['node']} serial {e['serial']} ({e['fingerprint']})" for e in done)
        if args.publish:
            ca.publish_crl(broker, ca.served_crl(data_dir) or b"")  # the list revoke just wrote
            text += f"\nthe new revocation list is retained on the broker ({ca.CRL_TOPIC}) and at /crl.pem"
        else:
            text += "\npublish the new revocation list: edged-central nodes crl --publish (the dashboard's /crl.pem has it)"
        return [_public(e) for e in done], text
    if args.action == "ca":
        key, cert = ca.ca_cert(data_dir, now_us, args.name)
        pem = nodecert.pem([cert])
        if args.out:
            _write(args.out, pem)
        fp = nodekey.fingerprint(key.public_raw)
        return ({"subject": cert.subject.rfc4514_string(), "fingerprint": fp, "out": args.out},
                f"the office's CA {cert.subject.rfc4514_string()}, key {fp}"
                + (f", written to {args.out}" if args.out else "\n" + pem.decode().rstrip()))
    if args.action == "crl":
        pem = ca.write_crl(data_dir, now_us).read_bytes()  # signed once: the list served is the one handed out
        if args.out:
            _write(args.out, pem)
        if args.publish:
            ca.publish_crl(broker, pem)
        said = [f"revocation list written to {args.out}"] if args.out else ([] if args.publish else [pem.decode().rstrip()])
        if args.publish:
            said.append(f"revocation list retained on the broker ({ca.CRL_TOPIC})")
        return {"out": args.out, "published": ca.CRL_TOPIC if args.publish else None}, "\n".join(said)
    raise CAError(f"unknown action {args.action}")


def register(sub: Any) -> list[argparse.ArgumentParser]:
    """The `nodes` verb and its actions; returns the parsers that take --config."""
    n = sub.add_parser("nodes", help="the office's CA: enrolled nodes, accept a box's request, revoke, the CA "
                       "certificate and the revocation list")
    acts = n.add_subparsers(dest="action", required=True)
    ls = acts.add_parser("list", help="every certificate issued, and which are revoked")
    ac = acts.add_parser("accept", help="issue a box its certificate for its enrolment request (edgectl enrol --out)")
    ac.add_argument("--file", required=True, metavar="REQ", help="the box's request (PEM)")
    ac.add_argument("--by", required=True, metavar="NAME", help="who at the office accepts it (on the record)")
    ac.add_argument("--fingerprint", metavar="SHA256:...", help="the key fingerprint the box printed: must match")
    ac.add_argument("--out", required=True, metavar="BUNDLE", help="where to write the certificate for the box")
    rv = acts.add_parser("revoke", help="revoke a node's certificates (all of SITE/NODE's, or one serial)")
    rv.add_argument("what", metavar="SITE/NODE|SERIAL")
    rv.add_argument("--by", required=True, metavar="NAME")
    rv.add_argument("--reason", required=True)
    rv.add_argument("--publish", action="store_true", help=f"retain the new revocation list on the broker ({ca.CRL_TOPIC})")
    c = acts.add_parser("ca", help="the office's CA certificate (made at first use), for boxes and verifiers")
    c.add_argument("--name", help="the office's name in a new CA certificate")
    c.add_argument("--out", metavar="FILE")
    cr = acts.add_parser("crl", help="the office's signed revocation list, for `edgectl verify --crl`")
    cr.add_argument("--out", metavar="FILE")
    cr.add_argument("--publish", action="store_true", help=f"retain it on the broker ({ca.CRL_TOPIC})")
    for x in (ls, ac, rv, c, cr):
        x.add_argument("--json", action="store_true")
    return [ls, ac, rv, c, cr]
