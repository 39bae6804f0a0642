"""`edged-central nodes`: the office's CA at the command line (design/0097).

    edged-central nodes list [--json]                       every certificate issued, revoked or not
    edged-central nodes accept --file REQ --by NAME --fingerprint SHA256:... [--replace SERIAL] --out BUNDLE
    edged-central nodes revoke SITE/NODE|SERIAL --by NAME --reason TEXT [--publish]
    edged-central nodes ca [--name NAME] [--out FILE] [--office-key PEM]   the CA certificate (made at first use)
    edged-central nodes ca --split --by NAME               an office whose CA was its own key: apart (once)
    edged-central nodes crl [--out FILE] [--publish]        the signed revocation list (--publish: retained on
                                                            the broker; the only verb here that needs it)

A box's request comes as a file the technician carries (`edgectl enrol --out`), with the key
fingerprint the box printed on its screen (or its label); the bundle goes back the same way
(`edgectl enrol --install`). Every verb but `list` loads the CA's key: run as the CA's user
(`sudo -u edged-ca edged-central nodes ...`, docs/guide/office-ca.md; design/0132).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from central.keys import broker_logins, ca, crl_publish
from central.keys.ca import CAError
from central.keys.register import RegisterError
from storage.keys import nodecert, nodekey
from central.keys import ca_split

__all__ = ["CAError", "RegisterError", "register", "run"]


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


def _logins(data_dir: Path, broker: Any, done_so_far: str) -> str:
    """The revoked nodes' broker logins cut with the list just published (design/0344); a broker
    that cannot do it is an error that keeps what was done in its words."""
    try:
        return broker_logins.said(broker_logins.cut(data_dir, broker))
    except CAError as exc:
        raise CAError(f"{done_so_far}\nbut the broker login is NOT cut: {exc}") from None


def run(data_dir: Path, args: argparse.Namespace, now_us: int, broker: Any = None) -> tuple[Any, str]:
    if args.action == "list":
        entries = ca.enrolments(ca.read_register(data_dir))
        lines = [f"{'NODE':<28} {'SERIAL':<18} {'KEY':<40} {'ACCEPTED':<50} REVOKED"]
        lines += [f"{e['node']:<28} {e['serial'][:16]:<18} {e['fingerprint']:<40} "
                  f"{_utc(e['accepted_us']) + ' by ' + str(e['accepted_by']) + ' (' + str(e['accepted_os_user']) + ')':<50} "
                  + (f"{_utc(e['revoked_us'])} by {e['revoked_by']}: {e['reason']}" if e["revoked_us"] else "-")
                  for e in entries]
        return [_public(e) for e in entries], "\n".join(lines) if entries else "no node is enrolled yet"
    if args.action == "accept":
        entry, bundle = ca.accept(data_dir, _read(args.file), args.by, now_us, args.fingerprint, args.replace)
        _write(args.out, bundle)
        note = (f"\nserial {entry['replaces']} is revoked in the same step; publish the new revocation list "
                "(edged-central nodes crl --publish)") if entry.get("replaces") else ""
        return _public(entry), (f"accepted {entry['node']} (key {entry['fingerprint']}), certificate serial "
                                f"{entry['serial']}, by {entry['accepted_by']} ({entry['accepted_os_user']}); give "
                                f"{args.out} to the box: edgectl enrol --install {args.out}" + note)
    if args.action == "revoke":
        done = ca.revoke(data_dir, args.what, args.by, args.reason, now_us)
        text = "\n".join(f"revoked {e['node']} serial {e['serial']} ({e['fingerprint']})" for e in done)
        if args.publish:
            crl_publish.publish_crl(broker, ca.published_crl(data_dir) or b"")
            text += f"\nthe new revocation list is retained on the broker ({crl_publish.CRL_TOPIC}) and at /crl.pem"
            text += "\n" + _logins(data_dir, broker, text)
        else:
            text += "\npublish the new revocation list: edged-central nodes crl --publish (the dashboard's /crl.pem has it)"
        return [_public(e) for e in done], text
    if args.action == "ca" and args.split:
        split = ca_split.split(data_dir, args.by or "", now_us)
        return split, (f"the CA ({split['ca_fingerprint']}) is apart in {ca.ca_folder(data_dir)}, {split['adopted']} "
                       f"register lines carried into its signed chain; the office's new key is "
                       f"{split['office_fingerprint']}: set it as every box's [mqtt] command_key, then chown the CA's "
                       "folder to its own user (docs/guide/office-ca.md)")
    if args.action == "ca":
        key, cert = ca.ca_cert(data_dir, now_us, args.name)
        if args.office_key or ca.endorsement(data_dir) is None:
            ca.endorse_office(data_dir, key, now_us, _read(args.office_key) if args.office_key else None)
        if ca.published_crl(data_dir) is None:
            ca.write_crl(data_dir, now_us)  # the first (empty) list, served at /crl.pem from now on
        pem = nodecert.pem([cert])
        if args.out:
            _write(args.out, pem)
        fp = nodekey.fingerprint(key.public_raw)
        return ({"subject": cert.subject.rfc4514_string(), "fingerprint": fp, "out": args.out},
                f"the office's CA {cert.subject.rfc4514_string()}, key {fp}"
                + (f", written to {args.out}" if args.out else "\n" + pem.decode().rstrip()))
    if args.action == "crl":
        pem = ca.write_crl(data_dir, now_us).read_bytes()  # the file the dashboard serves (/crl.pem)
        ca.renew_endorsement(data_dir, now_us)  # the CA's word for the office's key, renewed when due (design/0376)
        if args.out:
            _write(args.out, pem)
        if args.publish:
            crl_publish.publish_crl(broker, pem)
        said = [f"revocation list written to {args.out}"] if args.out else ([] if args.publish else [pem.decode().rstrip()])
        if args.publish:
            said.append(f"revocation list retained on the broker ({crl_publish.CRL_TOPIC})")
            said.append(_logins(data_dir, broker, "\n".join(said)))
        return {"out": args.out, "published": crl_publish.CRL_TOPIC if args.publish else None}, "\n".join(said)
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
    ac.add_argument("--fingerprint", required=True, metavar="SHA256:...",
                    help="the key fingerprint read on the box's screen (edgectl enrol) or label: must match")
    ac.add_argument("--replace", metavar="SERIAL", help="the node's certificate in force this one replaces "
                    "(revoked in the same step); a second certificate is issued only so")
    ac.add_argument("--out", required=True, metavar="BUNDLE", help="where to write the certificate for the box")
    rv = acts.add_parser("revoke", help="revoke a node's certificates (all of SITE/NODE's, or one serial)")
    rv.add_argument("what", metavar="SITE/NODE|SERIAL")
    rv.add_argument("--by", required=True, metavar="NAME")
    rv.add_argument("--reason", required=True)
    rv.add_argument("--publish", action="store_true", help=f"retain the new revocation list on the broker ({crl_publish.CRL_TOPIC})")
    c = acts.add_parser("ca", help="the office's CA certificate (made at first use), for boxes and verifiers")
    c.add_argument("--name", help="the office's name in a new CA certificate")
    c.add_argument("--out", metavar="FILE")
    c.add_argument("--office-key", metavar="PEM", help="the office's public key (a copy of "
                   "central-key/node-ed25519.pub.pem) for the CA to vouch for, when its user cannot read central-key/")
    c.add_argument("--split", action="store_true", help="an office whose CA was made over its own key: give the CA "
                   "its key apart, the office a new one (once; docs/guide/office-ca.md)")
    c.add_argument("--by", metavar="NAME", help="who splits it (with --split; on the record)")
    cr = acts.add_parser("crl", help="the office's signed revocation list, for `edgectl verify --crl`")
    cr.add_argument("--out", metavar="FILE")
    cr.add_argument("--publish", action="store_true", help=f"retain it on the broker ({crl_publish.CRL_TOPIC})")
    for x in (ls, ac, rv, c, cr):
        x.add_argument("--json", action="store_true")
    return [ls, ac, rv, c, cr]
