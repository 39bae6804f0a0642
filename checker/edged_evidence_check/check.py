"""edged-evidence-check DIR --ca OFFICE-CA.pem --crl CRL.pem [--json]

A court's check of an edged export without edged (design/0128, 0129): only `cryptography` and
the C2PA SDK (c2pa-python), the office's CA certificate and its revocation list as files. In
the order a reader of the result needs it:

1. the revocation list is signed by the CA;
2. the node certificate in manifest.json was issued by the CA, was valid when the export was
   signed, is an end entity's, is not on the list, and names (subjectAltName edged:SITE/NODE,
   subject CN SITE/NODE) the very site and node the manifest claims;
3. manifest.sig is that certificate's key's signature over manifest.json;
4. each clip is the file the manifest lists (its SHA-256), and the C2PA SDK's reader, with the CA
   as its only trust anchor, says Trusted with no failure, names the same certificate (serial,
   common name) as its signer, and the clip's `edged.box` assertion claims that same node;
   A clip that is a citizen's redacted copy (design/0173) is named with the original it was made
   from (its C2PA `parentOf` ingredient: name, SHA-256, signer, whether it verified then);
5. the revocation list was issued at least GRACE_US after the export was signed (else NOT
   CHECKED: a list that old may not know of a revocation for a box lost before the signing).

Exit 0 CHECKED, 1 REFUSED (what failed is said), 3 NOT CHECKED (what is missing is said).
Kept apart from edged on purpose (a court installs this alone); its rules are edged's
(storage/keys/nodecert.py, storage/export/origin.py), and edged's tests hold them equal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

GRACE_US = 24 * 3600 * 1_000_000  # storage/export/origin.py GRACE_US
URI_SCHEME = "edged:"             # storage/keys/nodecert.py URI_SCHEME
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
CHECKED, REFUSED, NOT_CHECKED = "CHECKED", "REFUSED", "NOT CHECKED"
EXIT = {CHECKED: 0, REFUSED: 1, NOT_CHECKED: 3}


class Refused(Exception):
    """The export is not what it claims; the text says why."""


class NotChecked(Exception):
    """Nothing is wrong with what was checked, but the origin cannot be vouched for; the text says why."""


def utc(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _us(when: dt.datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def _signed_by(body: bytes, signature: bytes, key: Any) -> bool:
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return False
    return True


def load_crl(data: bytes, ca: x509.Certificate) -> x509.CertificateRevocationList:
    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise Refused(f"the revocation list is unreadable: {exc}") from None
    if crl.issuer != ca.subject or not _signed_by(crl.tbs_certlist_bytes, crl.signature, ca.public_key()):
        raise Refused("the revocation list is not signed by the office's CA given")
    return crl


def list_dates(crl: x509.CertificateRevocationList, signed_us: int) -> dict[str, Any]:
    """The list's dates against the export's signing, and whether it is fresh enough to say."""
    issued, needed = _us(crl.last_update_utc), signed_us + GRACE_US
    return {"crl_issued_utc": utc(issued), "export_signed_utc": utc(signed_us), "crl_needed_from_utc": utc(needed),
            "fresh": issued >= needed}


def names(cert: x509.Certificate) -> str:
    """SITE/NODE the certificate names: its one edged: URI, which its subject CN and OU must agree with."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise Refused("the node certificate names no node (no subjectAltName)") from None
    uris = [u[len(URI_SCHEME):] for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith(URI_SCHEME)]
    if len(uris) != 1 or uris[0].count("/") != 1:
        raise Refused("the node certificate must name exactly one node (subjectAltName URI edged:SITE/NODE)")
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    ous = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    if cns != [uris[0]] or ous != [uris[0].split("/")[0]]:
        raise Refused(f"the node certificate's subject ({cert.subject.rfc4514_string()}) does not name the node its "
                      f"subjectAltName names ({uris[0]})")
    return uris[0]


def node_certificate(manifest: dict[str, Any], ca: x509.Certificate, crl: x509.CertificateRevocationList,
                     signed_us: int) -> x509.Certificate:
    pems = manifest.get("node_certificates")
    if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
        raise NotChecked("the export carries no node certificate (made before its node was enrolled): check it "
                         "with edgectl verify --keys and the office's key list")
    cert = x509.load_pem_x509_certificate(pems[0].encode())
    if cert.issuer != ca.subject or not _signed_by(cert.tbs_certificate_bytes, cert.signature, ca.public_key()):
        raise Refused(f"the node certificate ({cert.subject.rfc4514_string()}) is not issued by the office's CA given")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise Refused("the signer's certificate is a CA's, not a node's")
    except x509.ExtensionNotFound:
        raise Refused("the node certificate lacks its basicConstraints") from None
    if not _us(cert.not_valid_before_utc) <= signed_us <= _us(cert.not_valid_after_utc):
        raise Refused(f"the node certificate was not valid when the export says it was signed ({utc(signed_us)})")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        raise Refused(f"the node certificate (serial {cert.serial_number:x}) was revoked by the office on "
                      f"{entry.revocation_date_utc:%Y-%m-%d %H:%M:%S} UTC")
    claimed = _claim(manifest)
    if names(cert) != claimed:
        raise Refused(f"the export claims {claimed}, but the certificate that signed it names {names(cert)}")
    return cert


def _claim(manifest: dict[str, Any]) -> str:
    try:
        return f"{manifest['site']['id']}/{manifest['node']}"
    except (KeyError, TypeError):
        raise Refused("manifest.json does not name its site and node") from None


def _hash(path: Path, entry: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != entry.get("sha256"):
        raise Refused(f"{path.name}: its SHA-256 does not match manifest.json: the clip was changed")


def original_of(report: dict[str, Any]) -> dict[str, Any] | None:
    """The original a redacted copy names (its C2PA `parentOf` ingredient and edged.redaction
    assertion; storage/redact/derivative.py parent_of, which edged's tests hold equal), or None."""
    manifests = report.get("manifests") or {}
    active = manifests.get(report.get("active_manifest") or "", {})
    parent = next((i for i in active.get("ingredients", []) if i.get("relationship") == "parentOf"), None)
    if parent is None:
        return None
    label = parent.get("active_manifest")
    theirs = manifests.get(label or "", {})
    ours = next((a["data"] for a in active.get("assertions", []) if a.get("label") == "edged.redaction"), {})
    failures = (parent.get("validation_results") or {}).get("activeManifest", {}).get("failure", [])
    return {"title": parent.get("title"), "manifest": label,
            "signer": (theirs.get("signature_info") or {}).get("common_name"),
            "sha256": ours.get("original_sha256"), "validated": bool(label) and not failures}


def clip(path: Path, entry: dict[str, Any], cert: x509.Certificate, ca_pem: str) -> dict[str, Any] | None:
    """One clip: its SHA-256 as listed, and its C2PA manifest as the SDK's reader sees it; the
    original it was made from where it is a redacted copy (original_of), else None."""
    import c2pa

    _hash(path, entry)
    ctx = c2pa.Context.from_dict({"trust": {"trust_anchors": ca_pem}, "verify": {"remote_manifest_fetch": False}})
    try:
        with open(path, "rb") as f, c2pa.Reader("video/mp4", f, context=ctx) as reader:
            report = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise Refused(f"{path.name}: the C2PA reader cannot read its manifest ({exc})") from None
    failures = [x["code"] for x in (report.get("validation_results") or {}).get("activeManifest", {}).get("failure", [])]
    if report.get("validation_state") != "Trusted" or failures:
        raise Refused(f"{path.name}: the C2PA reader says {report.get('validation_state')} "
                      f"({', '.join(failures) or 'no failure code'}), not Trusted against the office's CA")
    active = report["manifests"][report["active_manifest"]]
    info = active.get("signature_info") or {}
    if info.get("cert_serial_number") != str(cert.serial_number) or info.get("common_name") != names(cert):
        raise Refused(f"{path.name}: its C2PA manifest is signed by {info.get('common_name')} (serial "
                      f"{info.get('cert_serial_number')}), not by the certificate of manifest.json")
    box = next((a.get("data") or {} for a in active.get("assertions", []) if a.get("label") == "edged.box"), {})
    said = f"{(box.get('site') or {}).get('id')}/{box.get('node')}"
    if said != names(cert):
        raise Refused(f"{path.name}: its edged.box assertion claims {said}, but its signer is {names(cert)}")
    return original_of(report)


def _file(folder: Path, name: str) -> bytes:
    path = folder / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.is_symlink():
        raise Refused(f"{name}: missing, or not a regular file in the export's folder")
    return path.read_bytes()


def check(folder: Path, ca_pem: bytes, crl_data: bytes) -> dict[str, Any]:
    """{verdict, why, signer, dates, clips}: the whole check, in the order of the module's text."""
    out: dict[str, Any] = {"verdict": CHECKED, "why": "", "signer": None, "dates": None, "clips": [], "notes": []}
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        crl = load_crl(crl_data, ca)
        body = _file(folder, MANIFEST)
        manifest = json.loads(body)
        signed_us = manifest.get("created_us") if isinstance(manifest, dict) else None
        if not isinstance(signed_us, int):
            raise Refused("manifest.json is not an edged manifest (no created_us)")
        cert = node_certificate(manifest, ca, crl, signed_us)
        out["signer"] = {"node": names(cert), "serial": f"{cert.serial_number:x}", "signed_utc": utc(signed_us)}
        if not _signed_by(body, _file(folder, SIGNATURE), cert.public_key()):
            raise Refused("manifest.sig is not the node certificate's signature over manifest.json: one of them "
                          "was changed, or another key signed it")
        entries = [c for cam in manifest.get("cameras") or [] for c in cam.get("clips") or []]
        if not entries:
            raise Refused("manifest.json lists no clip")
        for entry in entries:
            _file(folder, str(entry.get("file", "")))
            made = entry.get("c2pa") if isinstance(entry.get("c2pa"), dict) else {}
            if made.get("made") is False:  # the signed manifest.json says why the box made none: its hash holds it
                _hash(folder / str(entry["file"]), entry)
                out["notes"].append(f"{entry['file']}: no C2PA manifest ({made.get('why')}); checked by its SHA-256 "
                                    "in the signed manifest.json only")
            elif (original := clip(folder / str(entry["file"]), entry, cert, ca_pem.decode())) is not None:
                out.setdefault("originals", {})[entry["file"]] = original
                out["notes"].append(f"{entry['file']}: a redacted copy of {original['title']} (SHA-256 "
                                    f"{original['sha256']}, signed by {original['signer']}; its manifest "
                                    f"{'verified' if original['validated'] else 'did NOT verify'} when the copy "
                                    "was made)")
            out["clips"].append(entry["file"])
        out["dates"] = d = list_dates(crl, signed_us)  # last: any other failure is a refusal, whatever the list's age
        if not d["fresh"]:
            raise NotChecked(f"the revocation list was issued {d['crl_issued_utc']}, but the export was signed "
                             f"{d['export_signed_utc']}: a list issued from {d['crl_needed_from_utc']} on is needed "
                             "(the office's day to revoke a lost box); get the office's current list")
        out["why"] = (f"every clip is as signed, by {names(cert)} (certificate serial {cert.serial_number:x}) under "
                      "the office's CA, not revoked as of the list given")
    except Refused as exc:
        out.update(verdict=REFUSED, why=str(exc))
    except NotChecked as exc:
        out.update(verdict=NOT_CHECKED, why=str(exc))
    except (ValueError, OSError, KeyError, TypeError, AttributeError) as exc:
        out.update(verdict=REFUSED, why=f"the export or a file given is unreadable: {exc}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edged-evidence-check", description="Check an edged evidence export without edged.")
    p.add_argument("dir", type=Path, help="the export's folder (manifest.json, manifest.sig, the clips)")
    p.add_argument("--ca", type=Path, required=True, help="the office's CA certificate (PEM), from the office itself")
    p.add_argument("--crl", type=Path, required=True, help="the office's revocation list (PEM or DER), a current one")
    p.add_argument("--json", action="store_true", help="the result as JSON")
    args = p.parse_args(argv)
    try:
        ca_pem, crl_data = args.ca.read_bytes(), args.crl.read_bytes()
    except OSError as exc:
        p.error(str(exc))
    got = check(args.dir, ca_pem, crl_data)
    if args.json:
        print(json.dumps(got, indent=2))
    else:
        print(f"{got['verdict']}: {got['why']}")
        for note in got["notes"]:
            print(f"note: {note}")
        if got["dates"]:
            d = got["dates"]
            print(f"revocation list issued {d['crl_issued_utc']}; export signed {d['export_signed_utc']}; a list from "
                  f"{d['crl_needed_from_utc']} on is needed: {'fresh enough' if d['fresh'] else 'too old'}")
    return EXIT[got["verdict"]]


if __name__ == "__main__":
    sys.exit(main())
