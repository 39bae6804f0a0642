"""Who made an export, as far as a root the verifier trusts can say (design/0097).

An export's origin is "checked" only through the office's CA: the node certificate the manifest
carries must be issued by the CA the verifier trusts (pinned at enrolment, or given with
`--ca`), valid when the export was made and not on the revocation list; or, for an export made
before its node was enrolled, the node's key must be on a key list signed by that same root.
Anything the folder brings along (its own key, its own CA, its own key list) proves nothing of
origin: "unchecked" (exit 3), never "checked". Pure but for parsing: no files here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from storage.keys import fleetkeys, nodecert, nodekey

CHECKED, UNCHECKED, REFUSED = "checked", "unchecked", "refused"


@dataclass(frozen=True)
class Origin:
    status: str                       # checked, unchecked or refused
    why: str                          # for people: what was checked, or why not
    key: str | None = None            # base64 of the key the manifest's signature must match
    who: dict[str, Any] = field(default_factory=dict)


def root_fingerprint(ca: x509.Certificate) -> str:
    return nodekey.fingerprint(nodekey.public_raw(ca.public_key()))  # type: ignore[arg-type]


def _claims(manifest: dict[str, Any]) -> tuple[str, str] | None:
    try:
        return str(manifest["site"]["id"]), str(manifest["node"])
    except (KeyError, TypeError):
        return None


def by_certificate(manifest: dict[str, Any], ca: x509.Certificate,
                   crl: x509.CertificateRevocationList | None) -> Origin:
    """The export's node certificate against the trusted CA."""
    pems = manifest.get("node_certificates")
    if not isinstance(pems, list) or not all(isinstance(p, str) for p in pems):
        return Origin(UNCHECKED, "the export carries no node certificate (made before its node was enrolled)")
    try:
        chain = nodecert.load_pem_chain("".join(pems).encode())
        created = manifest.get("created_us")
        ident = nodecert.check_chain(chain, ca, crl, created if isinstance(created, int) else None)
    except nodecert.CertError as exc:
        return Origin(REFUSED, str(exc))
    claims = _claims(manifest)
    if claims != (ident.site, ident.node):
        return Origin(REFUSED, f"the manifest claims {'/'.join(claims or ('?', '?'))}, but its certificate names "
                               f"{ident.name}")
    return Origin(CHECKED, f"signed by {ident.name} (certificate serial {ident.serial:x}) under the CA "
                           f"{root_fingerprint(ca)}", base64.b64encode(ident.public_raw).decode(),
                  {"site": ident.site, "node": ident.node, "serial": f"{ident.serial:x}",
                   "fingerprint": ident.fingerprint, "ca_fingerprint": root_fingerprint(ca)})


def by_key_list(manifest: dict[str, Any], text: bytes, root: str,
                crl: x509.CertificateRevocationList | None) -> Origin:
    """The export's key on a key list that `root` (the CA's key fingerprint, or the office's key
    given out of band) signed; a revoked key is refused."""
    try:
        doc = fleetkeys.check(text, root)
    except fleetkeys.KeyListError as exc:
        return Origin(REFUSED, f"the key list cannot be trusted: {exc}")
    claims = _claims(manifest)
    if claims is None:
        return Origin(REFUSED, "the manifest does not name its site and node")
    keys = fleetkeys.keys_of(doc, *claims)
    shipped = manifest.get("node_public_key")
    match = next((k for k in keys if k["public_key"] == shipped), None)
    if match is None:
        return Origin(REFUSED, f"the export claims {claims[0]}/{claims[1]}, but its key "
                               f"{manifest.get('node_key_fingerprint')} is not that node's in the office's key list "
                               f"({len(keys)} key(s) listed for it)")
    serial = match.get("serial")
    revoked = match.get("revoked_us") is not None or (
        crl is not None and isinstance(serial, str) and _serial_revoked(crl, serial))
    if revoked:
        return Origin(REFUSED, f"the key of {claims[0]}/{claims[1]} ({match['fingerprint']}) was revoked by the office")
    return Origin(CHECKED, f"the key is {claims[0]}/{claims[1]}'s in the office's key list signed by "
                           f"{doc['central_fingerprint']}", match["public_key"],
                  {"site": claims[0], "node": claims[1], "fingerprint": match["fingerprint"],
                   "first_us": match.get("first_us"), "last_us": match.get("last_us"),
                   "central_fingerprint": doc["central_fingerprint"]})


def _serial_revoked(crl: x509.CertificateRevocationList, serial: str) -> bool:
    try:
        return crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    except ValueError:
        return False
