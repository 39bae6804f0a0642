"""edged-evidence-check DIR --ca OFFICE-CA.pem --crl CRL.pem [--json]

A court's check of an edged export without edged (design/0128, 0129, 0316): only `cryptography` and
the C2PA SDK (c2pa-python), the office's CA certificate and its revocation list as files. It is
also edged's verifier core: `edgectl verify` runs this very `check` (design/0316), so the two
give one folder one answer. In the order a reader of the result needs it:

1. the revocation list is signed by the CA;
2. manifest.json is a regular file within its cap, JSON no deeper than bounds.MAX_DEPTH, and names
   its site and node by the one rule for names (names.py: a look-alike is refused, and every name
   read is printed escaped);
3. the node certificate in manifest.json was issued by the CA, was valid when the export says it
   was signed, is an end entity's, is not on the list, and names (subjectAltName edged:SITE/NODE,
   subject CN SITE/NODE) the very site and node the manifest claims;
4. manifest.sig is that certificate's key's signature over manifest.json;
5. the signing time is not before the footage it lists ends (a manifest "signed" before its
   footage existed is refused); it is the box's own clock ("signing time not corroborated":
   design/0317) unless the folder holds the office's receipt for this very manifest and node
   (receipt.py, design/0318), signed by a key the CA vouches for, whose time is after the footage
   ended and within the certificate's validity (else refused): then "signing time corroborated by
   the office at T", and the list's freshness is judged from T;
6. each clip is the file the manifest lists (its SHA-256), and the C2PA SDK's reader, with the CA
   as its only trust anchor, is asked of EVERY clip whether it carries a C2PA manifest (never the
   manifest's word): one it carries must be Trusted with no failure, name the same certificate
   (serial, common name) as its signer, and its `edged.box` assertion must claim that same node;
   a clip a redacted copy (its C2PA `parentOf`, design/0173) must name an original signed by the
   same node whose manifest the reader verifies now (`derivative`); the imported originals a
   clip's C2PA manifest names as ingredients (design/0356) are said as notes;
7. every file in the folder is accounted for: one the export does not list makes it NOT CHECKED,
   named;
8. the revocation list was issued at least GRACE_US after the latest time the export can be proven
   to have been signed (else NOT CHECKED: a list that old may not know of a revocation for a box
   lost before the signing): the office's receipt's time where it holds one, else its footage's end
   plus EXPORT_WAIT_US, never the signing time the box wrote (`latest_signing`, design/0374): a box
   that backdates its export never gets a better verdict than the same export dated honestly.

9. a released redacted copy (its manifest's `derivative_of`, edged's design/0434) binds its original: its
   clips' C2PA manifests name the originals its manifest names, signed by its own node; alone it is
   CHECKED AS A COPY (every check above passed, what it is a copy of said, and that the original was
   not supplied); with the original's folder (`--original DIR`) that folder is checked in full and
   the copy's binding to it (the original's manifest SHA-256, each clip's original, its signer).

Exit 0 CHECKED, 1 REFUSED (what failed is said), 3 NOT CHECKED (what is missing is said), 4 CHECKED
AS A COPY (a released redacted copy checked whole; its original not supplied, so not checked).
Kept apart from edged on purpose (a court installs this alone): it imports nothing of edged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from edged_evidence_check import bounds, copies, names as rule, receipt as office
from edged_evidence_check.bounds import MANIFEST, PUBLIC_KEY, README, RECEIPT, SIGNATURE

GRACE_US = 24 * 3600 * 1_000_000  # storage/export/origin.py GRACE_US
# The longest after its footage ends an export is taken to have been signed when no office receipt
# bounds it (design/0374): a month and a day, the site's minimum retention (30 days by default) being
# when exports are asked for. storage/export/origin.py EXPORT_WAIT_US.
EXPORT_WAIT_US = 31 * 24 * 3600 * 1_000_000
URI_SCHEME = "edged:"             # storage/keys/nodecert.py URI_SCHEME
CHECKED, REFUSED, NOT_CHECKED = "CHECKED", "REFUSED", "NOT CHECKED"
COPY = "CHECKED AS A COPY"   # a released redacted copy checked whole, its original not supplied (design/0434)
EXIT = {CHECKED: 0, REFUSED: 1, NOT_CHECKED: 3, COPY: 4}
NOT_CORROBORATED = ("signing time not corroborated: {when} is the box's own clock, and nothing the office heard or "
                    "signed bounds it; a box out of the office's hands could have dated it (design/0317), so the "
                    "revocation list is judged from its footage's end plus {days} days, the longest an export may "
                    "wait (design/0374)")
CORROBORATED = ("signing time corroborated by the office at {when}: the office heard this export's manifest "
                "(its SHA-256) then, on its own clock, and signed the receipt {file} with a key its CA vouches for; "
                "the export was signed at or before that time (design/0318)")


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


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def footage_end(manifest: dict[str, Any], entries: list[dict[str, Any]]) -> int:
    """The end of the export's footage on the box's clock: a box camera's clips' latest end, and for a
    portable device's footage (every source imported) its latest intake, never its clips' times, which
    are the device's claim (a clock set to 2031 ends nothing in 2031; edged's design/0400)."""
    ends: list[Any] = []
    for cam in manifest.get("cameras") or []:
        if not isinstance(cam, dict):
            continue
        srcs = [s for s in (cam.get("sources") or []) if isinstance(s, dict)]
        claims = bool(srcs) and all(isinstance(s.get("imported"), dict) for s in srcs)
        ends += [s["imported"].get("intake_us") for s in srcs if isinstance(s.get("imported"), dict)] if claims \
            else [c.get("to_us") for c in (cam.get("clips") or []) if isinstance(c, dict)]
    return int(max([e for e in ends if _int(e)], default=max(c["to_us"] for c in entries)))


def latest_signing(end_us: int, heard_us: int | None) -> tuple[int, str]:
    """The latest time the export can be proven to have been signed, and by what (design/0374): the
    office's receipt ("receipt": it existed when the office heard of it), else its footage's end
    (`footage_end`) plus EXPORT_WAIT_US ("footage"). Never the box's own `created_us`: a backdated
    claim must buy nothing."""
    if heard_us is not None:
        return heard_us, "receipt"
    return end_us + EXPORT_WAIT_US, "footage"


def list_dates(crl: x509.CertificateRevocationList, signed_us: int, latest: tuple[int, str]) -> dict[str, Any]:
    """The list's dates against the latest the export can be proven signed (`latest_signing`), and
    whether it is fresh enough to say; the box's own signing time is shown, never judged from."""
    issued, needed = _us(crl.last_update_utc), latest[0] + GRACE_US
    return {"crl_issued_utc": utc(issued), "export_signed_utc": utc(signed_us), "latest_signed_utc": utc(latest[0]),
            "latest_signed_us": latest[0], "latest_by": latest[1], "crl_needed_from_utc": utc(needed), "fresh": issued >= needed}


def _latest_words(d: dict[str, Any]) -> str:
    if d["latest_by"] == "receipt":
        return f"the office heard of it {d['latest_signed_utc']} (its receipt)"
    return (f"nothing the office signed bounds its signing, so it is judged as signed as late as "
            f"{d['latest_signed_utc']}, its footage's end plus {EXPORT_WAIT_US // 86_400_000_000} days, the longest an "
            f"export may wait (the box says it signed it {d['export_signed_utc']})")


def names(cert: x509.Certificate) -> str:
    """SITE/NODE the certificate names: its one edged: URI, each part a name by the one rule
    (names.py), which its subject CN and OU must agree with."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise Refused("the node certificate names no node (no subjectAltName)") from None
    uris = [u[len(URI_SCHEME):] for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith(URI_SCHEME)]
    if len(uris) != 1:
        raise Refused("the node certificate must name exactly one node (subjectAltName URI edged:SITE/NODE)")
    try:
        site, node = rule.node_name(uris[0], "the node certificate's name")
    except rule.BadName as exc:
        raise Refused(str(exc)) from None
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    ous = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    if cns != [uris[0]] or ous != [site]:
        raise Refused(f"the node certificate's subject ({rule.shown(cert.subject.rfc4514_string())}) does not name "
                      f"the node its subjectAltName names ({site}/{node})")
    return uris[0]


def node_certificate(manifest: dict[str, Any], ca: x509.Certificate, crl: x509.CertificateRevocationList,
                     signed_us: int) -> x509.Certificate:
    pems = manifest.get("node_certificates")
    if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
        raise NotChecked("the export carries no node certificate (made before its node was enrolled): check it "
                         "with edgectl verify --keys and the office's key list")
    cert = x509.load_pem_x509_certificate(pems[0].encode())
    if cert.issuer != ca.subject or not _signed_by(cert.tbs_certificate_bytes, cert.signature, ca.public_key()):
        raise Refused(f"the node certificate ({rule.shown(cert.subject.rfc4514_string())}) is not issued by the "
                      "office's CA given")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise Refused("the signer's certificate is a CA's, not a node's")
    except x509.ExtensionNotFound:
        raise Refused("the node certificate lacks its basicConstraints") from None
    if not _us(cert.not_valid_before_utc) <= signed_us <= _us(cert.not_valid_after_utc):
        raise Refused(f"the node certificate was not valid when the export says it was signed ({utc(signed_us)}; "
                      f"valid {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} "
                      "UTC)")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        raise Refused(f"the node certificate (serial {cert.serial_number:x}) was revoked by the office on "
                      f"{entry.revocation_date_utc:%Y-%m-%d %H:%M:%S} UTC")
    claimed, signer = claim(manifest), names(cert)
    if signer != claimed:
        raise Refused(f"the export claims {claimed}, but the certificate that signed it names {signer}")
    return cert


def claim(manifest: dict[str, Any]) -> str:
    """SITE/NODE the manifest claims, each part a name by the one rule, else Refused (escaped)."""
    try:
        site, node = manifest["site"]["id"], manifest["node"]
    except (KeyError, TypeError):
        raise Refused("manifest.json does not name its site and node") from None
    for what, value in (("site", site), ("node", node)):
        if not rule.is_name(value):
            raise Refused(f"manifest.json names its {what} {rule.shown(value)}, not a plain name ({rule.RULE}): "
                          "a look-alike of a node's name is never one")
    return f"{site}/{node}"


def clip_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's clip entries, each with a plain file name, its SHA-256 and its times; Refused else."""
    cams = manifest.get("cameras")
    found = [c for cam in cams if isinstance(cam, dict) for c in (cam.get("clips") or [])] if isinstance(cams, list) else []
    if not found:
        raise Refused("manifest.json lists no clip")
    for c in found:
        if not (isinstance(c, dict) and rule.is_name(c.get("file")) and isinstance(c.get("sha256"), str)):
            raise Refused(f"manifest.json lists a clip without a plain file name and its SHA-256 "
                          f"({rule.shown(c.get('file') if isinstance(c, dict) else c)})")
    return found


def footage_times(manifest: dict[str, Any], entries: list[dict[str, Any]], signed_us: int) -> None:
    """Refused when the export says it was signed before the footage it lists ended on the box's clock
    (design/0317; a portable device's footage ends at its intake, `footage_end`)."""
    ends = [c["to_us"] for c in entries if _int(c.get("to_us"))]
    if len(ends) != len(entries):
        raise Refused("manifest.json lists a clip without its end time (to_us)")
    if (end := footage_end(manifest, entries)) > signed_us:
        raise Refused(f"the export says it was signed {utc(signed_us)}, before its own footage ended "
                      f"({utc(end)}): a manifest is signed after its clips are made, never before")


def office_receipt(folder: Path, body: bytes, cert: x509.Certificate, ca: x509.Certificate,
                   end: int) -> int | None:
    """The office's time in the folder's receipt (RECEIPT, design/0318), if it holds one; None if not.
    Refused when the receipt is not the office's, is for another manifest or node, or its time is
    before the footage ended or outside the node certificate's validity."""
    try:
        text = bounds.read_small(folder, RECEIPT)
    except FileNotFoundError:
        return None
    try:
        key = ca.public_key()
        if not isinstance(key, Ed25519PublicKey):
            raise office.BadReceipt("the office's CA has no Ed25519 key to check the receipt's endorsement with")
        doc = office.check(bounds.load_json(text, RECEIPT), key)
    except (ValueError, TypeError) as exc:
        raise Refused(f"{RECEIPT}: {exc}") from None
    digest, node, heard = hashlib.sha256(body).hexdigest(), names(cert), doc["heard_us"]
    if doc["manifest_sha256"] != digest:
        raise Refused(f"{RECEIPT} is the office's receipt for another export (manifest SHA-256 "
                      f"{doc['manifest_sha256']}), not for this manifest.json ({digest})")
    if doc["to"] != node:
        raise Refused(f"{RECEIPT} was issued to {rule.shown(doc['to'])}, not to the node that signed the export ({node})")
    if heard < end:   # the footage's end on the box's clock (`footage_end`)
        raise Refused(f"{RECEIPT} says the office heard of this export {utc(heard)}, before its own footage ended "
                      f"({utc(end)})")
    if not _us(cert.not_valid_before_utc) <= heard <= _us(cert.not_valid_after_utc):
        raise Refused(f"{RECEIPT} says the office heard of this export {utc(heard)}, when the node certificate was "
                      f"not valid (valid {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                      f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)")
    try:
        office.in_period(doc)  # the CA's word for the office's key in force when the office heard (design/0376)
    except office.BadReceipt as exc:
        raise Refused(f"{RECEIPT}: {exc}") from None
    return int(heard)


def endorsement_note(folder: Path) -> str | None:
    """What the receipt's endorsement says of its period (design/0376), when it has none: a note."""
    try:
        doc = bounds.load_json(bounds.read_small(folder, RECEIPT), RECEIPT)
        e = doc.get("endorsement") if isinstance(doc, dict) else None
        if isinstance(e, dict) and office.period(e) == (None, None):
            return (f"{RECEIPT}: the CA's word for the office's key carries no validity period (made before "
                    "design/0376): the receipt is judged without one")
    except (OSError, ValueError):
        return None
    return None


def _hash(path: Path, entry: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Refused(f"{path.name}: not a regular file")
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != entry.get("sha256"):
        raise Refused(f"{path.name}: its SHA-256 does not match manifest.json: the clip was changed")


def original_of(report: dict[str, Any]) -> dict[str, Any] | None:
    """The original a redacted copy names (its C2PA `parentOf` ingredient and edged.redaction
    assertion; storage/redact/derivative.py parent_of, which edged's tests hold equal), or None.
    `validated` is what the copy recorded when it was made: a claim, not a check (`derivative`)."""
    manifests = report.get("manifests") or {}
    active = manifests.get(report.get("active_manifest") or "", {})
    parent = next((i for i in active.get("ingredients", []) if i.get("relationship") == "parentOf"), None)
    if parent is None:
        return None
    label = parent.get("active_manifest")
    theirs = manifests.get(label or "", {})
    ours: dict[str, Any] = next((a["data"] for a in active.get("assertions", []) if a.get("label") == "edged.redaction"),
                                {})
    failures = (parent.get("validation_results") or {}).get("activeManifest", {}).get("failure", [])
    return {"title": parent.get("title"), "manifest": label,
            "signer": (theirs.get("signature_info") or {}).get("common_name"),
            "sha256": ours.get("original_sha256"), "validated": bool(label) and not failures}


def _hex64(value: Any) -> str:
    text = str(value)
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else rule.shown(text)


def intake_ingredients(report: dict[str, Any]) -> list[str]:
    """What a clip's C2PA manifest says of the imported originals it was made from (edged's
    design/0356: a `componentOf` ingredient per original, its facts under `edged.intake` in the
    ingredient's metadata), each as a sentence; names escaped. A claim of the signed manifest."""
    active = (report.get("manifests") or {}).get(report.get("active_manifest") or "", {})
    said = []
    for ing in active.get("ingredients") or []:
        got = ((ing.get("metadata") or {}) if isinstance(ing, dict) else {}).get("edged.intake")
        if ing.get("relationship") != "componentOf" or not isinstance(got, dict):
            continue
        when = utc(got["intake_us"]) if isinstance(got.get("intake_us"), int) else "an unknown date"
        said.append(f"intake {rule.shown(str(got.get('intake')))}'s original file, imported on {when} by "
                    f"{rule.shown(str(got.get('taken_by')))} from the device {rule.shown(str(got.get('device')))}, "
                    f"SHA-256 {_hex64(got.get('original_sha256'))}")
    return said


def derivative(report: dict[str, Any], signer: str, what: str) -> dict[str, Any] | None:
    """A redacted copy's original as the copy names it, held to what the copy alone can prove
    (design/0316): its `parentOf` manifest must be signed by the copy's own node (`signer`,
    SITE/NODE), and neither the copy's record of it (the ingredient's validation when the copy was
    made) nor the reader now (the ingredient deltas) may say it failed; Refused else. None when
    `report` names no parent. `checked` stays False: the C2PA reader does not judge an
    ingredient's signer against the CA (measured: an original signed under another CA reads
    "ingredient.manifest.validated"), so the original itself must be checked (`originals_checked`)."""
    got = original_of(report)
    if got is None:
        return None
    if not got["manifest"]:
        raise Refused(f"{what}: a redacted copy whose original carries no C2PA manifest: nothing says whose it was")
    if got["signer"] != signer:
        raise Refused(f"{what}: a redacted copy signed by {rule.quoted_node(signer)} of an original signed by "
                      f"{rule.quoted_node(got['signer'])}: a box redacts only its own footage")
    deltas = (report.get("validation_results") or {}).get("ingredientDeltas") or []
    failed = [f.get("code") for d in deltas for f in ((d.get("validationDeltas") or {}).get("failure") or [])]
    if failed or not got["validated"]:
        said = ", ".join(map(str, failed)) or "so the copy itself recorded when it was made"
        raise Refused(f"{what}: its original's C2PA manifest does not verify ({said})")
    return {**got, "checked": False}


def originals_checked(originals: dict[str, dict[str, Any]], checked: dict[str, str]) -> None:
    """Each copy's original checked here, not trusted: a clip of this very folder, checked in full
    against the CA (its C2PA signed by the same certificate), whose SHA-256 is the one the copy
    recorded (`checked`: file -> SHA-256 of the clips checked so); NotChecked else, naming it."""
    missing = []
    for copy, original in originals.items():
        original["checked"] = any(sha == original.get("sha256") and name != copy for name, sha in checked.items())
        if not original["checked"]:
            missing.append(f"{copy} (a redacted copy of {rule.shown(original['title'])}, SHA-256 "
                           f"{rule.shown(original['sha256'])})")
    if missing:
        raise NotChecked(f"the original of {', '.join(missing)} is not in the folder to check: the C2PA reader does "
                         "not check a copy's original against the office's CA, so the original itself is needed "
                         "(the export it came from)")


def original_file(path: Path, original: dict[str, Any]) -> None:
    """Refused unless the file at `path` is the original a copy names (its SHA-256 as the copy recorded)."""
    _hash(path, {"sha256": original.get("sha256")})


def read_c2pa(path: Path, ca_pem: str) -> dict[str, Any] | str:
    """The C2PA SDK reader's report of the clip, with the CA as its only trust anchor; else what the
    reader says of why it has none to report (no manifest, or no asset it can parse): the reader's
    word, never the manifest's."""
    import c2pa

    ctx = c2pa.Context.from_dict({"trust": {"trust_anchors": ca_pem}, "verify": {"remote_manifest_fetch": False}})
    try:
        with open(path, "rb") as f, c2pa.Reader("video/mp4", f, context=ctx) as reader:
            got: dict[str, Any] = json.loads(reader.json())
            return got
    except c2pa.C2paError as exc:
        return "the C2PA reader finds none" if "ManifestNotFound" in f"{type(exc).__name__} {exc}" else (
            f"the C2PA reader cannot read it: {rule.shown(str(exc)[:200])}")


def clip(path: Path, entry: dict[str, Any], cert: x509.Certificate, ca_pem: str) -> dict[str, Any]:
    """One clip: its SHA-256 as listed, and its C2PA manifest as the SDK's reader sees it (asked of
    every clip). {c2pa: whether it carries one, original: the checked original of a redacted copy}."""
    _hash(path, entry)
    report = read_c2pa(path, ca_pem)
    made: dict[str, Any] = entry["c2pa"] if isinstance(entry.get("c2pa"), dict) else {}
    if isinstance(report, str):
        if made.get("made") is not False:
            raise Refused(f"{path.name}: manifest.json says it carries a C2PA manifest, and it carries none "
                          f"({report})")
        return {"c2pa": False, "reader": report, "original": None}
    failures = [x["code"] for x in (report.get("validation_results") or {}).get("activeManifest", {}).get("failure", [])]
    if report.get("validation_state") != "Trusted" or failures:
        raise Refused(f"{path.name}: the C2PA reader says {report.get('validation_state')} "
                      f"({', '.join(failures) or 'no failure code'}), not Trusted against the office's CA")
    active = report["manifests"][report["active_manifest"]]
    info = active.get("signature_info") or {}
    if info.get("cert_serial_number") != str(cert.serial_number) or info.get("common_name") != names(cert):
        raise Refused(f"{path.name}: its C2PA manifest is signed by {rule.quoted_node(info.get('common_name'))} (serial "
                      f"{rule.shown(info.get('cert_serial_number'))}), not by the certificate of manifest.json")
    box = next((a.get("data") or {} for a in active.get("assertions", []) if a.get("label") == "edged.box"), {})
    where: dict[str, Any] = box["site"] if isinstance(box.get("site"), dict) else {}
    site, node = where.get("id"), box.get("node")
    if not (rule.is_name(site) and rule.is_name(node)) or f"{site}/{node}" != names(cert):
        raise Refused(f"{path.name}: its edged.box assertion claims {rule.shown(site)}/{rule.shown(node)}, but its "
                      f"signer is {names(cert)}")
    return {"c2pa": True, "original": derivative(report, names(cert), path.name), "intakes": intake_ingredients(report)}


def _small(folder: Path, name: str) -> bytes:
    try:
        return bounds.read_small(folder, name)
    except FileNotFoundError:
        raise Refused(f"{name}: missing from the export's folder") from None
    except bounds.TooBig as exc:
        raise Refused(str(exc)) from None


def _manifest(folder: Path) -> tuple[bytes, dict[str, Any], int]:
    body = _small(folder, MANIFEST)
    try:
        manifest = bounds.load_json(body, MANIFEST)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    signed_us = manifest.get("created_us") if isinstance(manifest, dict) else None
    if not isinstance(signed_us, int) or isinstance(signed_us, bool):
        raise Refused("manifest.json is not an edged manifest (no created_us)")
    return body, manifest, signed_us


def _companions(folder: Path, manifest: dict[str, Any], cert: x509.Certificate) -> set[str]:
    """The export's other own files, each as it must be: the node's public key (the certificate's),
    the README (the manifest's text); their names."""
    found = {MANIFEST, SIGNATURE}
    try:
        shipped = serialization.load_pem_public_key(bounds.read_small(folder, PUBLIC_KEY))
        found.add(PUBLIC_KEY)
    except FileNotFoundError:
        shipped = None
    except (bounds.TooBig, ValueError) as exc:
        raise Refused(f"{PUBLIC_KEY}: unreadable ({exc})") from None
    if shipped is not None and shipped != cert.public_key():
        raise Refused(f"{PUBLIC_KEY}: not the key of the certificate that signed manifest.json")
    readme: dict[str, Any] = manifest["readme"] if isinstance(manifest.get("readme"), dict) else {}
    if readme.get("text"):
        found.add(README)
        if _small(folder, README).decode("utf-8", "replace") != readme["text"]:
            raise Refused(f"{README}: differs from the text in manifest.json: it was changed")
    return found


def unlisted(folder: Path, listed: set[str]) -> list[str]:
    """The folder's files the export does not list, each name escaped (bounds.entries: capped)."""
    return [rule.shown(n) for n in bounds.entries(folder) if n not in listed]


def _clips(folder: Path, entries: list[dict[str, Any]], cert: x509.Certificate, ca_pem: str,
           out: dict[str, Any]) -> dict[str, str]:
    """Each clip checked (`clip`), its notes and originals in `out`; the clips with C2PA that are no
    copy, file -> SHA-256 (what a copy's original may be)."""
    signed: dict[str, str] = {}
    for entry in entries:
        got = clip(folder / entry["file"], entry, cert, ca_pem)
        if not got["c2pa"]:
            why = rule.shown(str((entry.get("c2pa") or {}).get("why"))) if isinstance(entry.get("c2pa"), dict) else "-"
            out["notes"].append(f"{entry['file']}: no C2PA manifest ({got['reader']}; the box said: {why}); "
                                "checked by its SHA-256 in the signed manifest.json only")
        elif (original := got["original"]) is not None:
            out.setdefault("originals", {})[entry["file"]] = original
            out["notes"].append(f"{entry['file']}: a redacted copy of {rule.shown(original['title'])} (SHA-256 "
                                f"{rule.shown(original['sha256'])}), signed by the same node, {rule.quoted_node(original['signer'])}")
        else:
            signed[entry["file"]] = entry["sha256"]
        for said in got.get("intakes") or []:
            out["notes"].append(f"{entry['file']}: its C2PA manifest names as an ingredient {said}: not recorded by "
                                "the box")
        out["clips"].append(entry["file"])
    return signed


def copy_of(manifest: dict[str, Any], out: dict[str, Any]) -> None:
    """A released redacted copy's manifest (edged's storage/redact/release.py) names its original
    export and who prepared and who released it: said as notes, what the signed manifest claims."""
    of, how = manifest.get("derivative_of"), manifest.get("redaction")
    if isinstance(of, dict) and isinstance(how, dict):
        out["copy"] = {"original_export": of.get("export"), "original_manifest_sha256": of.get("manifest_sha256"),
                       "prepared_by": how.get("prepared_by"), "released_by": how.get("released_by")}
        sha = str(of.get("manifest_sha256"))
        sha = sha if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha) else rule.shown(sha)
        out["notes"].append(f"a redacted copy of export {rule.shown(str(of.get('export')))} (its manifest's SHA-256 "
                            f"{sha}), prepared by {rule.shown(str(how.get('prepared_by')))}, released by "
                            f"{rule.shown(str(how.get('released_by')))}, as its signed manifest.json says")


def imported(manifest: dict[str, Any], out: dict[str, Any]) -> None:
    """A portable device's footage (edged's design/0349): each intake an export's sources name, said
    as a note: taken in on a date by a person, from a device, with its original file's SHA-256; not
    recorded by the box, its times the device's claim, as the signed manifest says."""
    seen: dict[Any, dict[str, Any]] = {}
    for cam in manifest.get("cameras") or []:
        for src in (cam.get("sources") or []) if isinstance(cam, dict) else []:
            got = src.get("imported") if isinstance(src, dict) else None
            if isinstance(got, dict) and isinstance(got.get("intake"), int):
                seen.setdefault(got["intake"], got)
    for n, got in sorted(seen.items()):
        sha = _hex64(got.get("original_sha256"))
        when = utc(got["intake_us"]) if isinstance(got.get("intake_us"), int) else "an unknown date"
        out["notes"].append(f"intake {n}: imported on {when} by {rule.shown(str(got.get('taken_by')))} from the "
                            f"device {rule.shown(str(got.get('device')))} (recorded by "
                            f"{rule.shown(str(got.get('filmed_by')))}), the original file's SHA-256 {sha}: not "
                            f"recorded by the box; its times are the device's claim{_sound_apart(got)}, as its "
                            "signed manifest.json says")


def _sound_apart(got: dict[str, Any]) -> str:
    """A sound edged could not keep in the clips (an AVCHD's AC-3), named: the clips are silent, the
    original is not (edged's design/0402)."""
    codec = got.get("sound_left")
    return f"; its sound ({rule.shown(codec)}) is in the original file alone, not in the clips" if isinstance(
        codec, str) and codec else ""


def with_original(out: dict[str, Any], original: Path, copy: dict[str, Any] | None, ca_pem: bytes,
                  crl_data: bytes) -> None:
    """The original export supplied beside a released copy (design/0434), checked in full by this
    very check, and the copy's binding to it (copies.against): out["original"] says so, and each
    clip's original is marked checked. Refused when the folder is no copy's, the original is refused
    or is itself a copy, or it is not the one the copy binds; NotChecked when the original's check
    is (its own words)."""
    if copy is None:
        raise Refused(f"{rule.shown(Path(original).name)} was supplied as an original, but the folder checked is "
                      "not a released redacted copy (its manifest.json binds no original)")
    got = check(original, ca_pem, crl_data)
    what = f"the original supplied ({rule.shown(Path(original).name)})"
    if got["verdict"] == NOT_CHECKED:
        raise NotChecked(f"{what} is not checked: {got['why']}")
    if got["verdict"] != CHECKED:
        raise Refused(f"{what} is refused: {got['why']}" if got["verdict"] == REFUSED else
                      f"{what} is itself a redacted copy, not an export of the footage")
    body = _small(Path(original), MANIFEST)
    clips = {e["file"]: e["sha256"] for e in clip_entries(bounds.load_json(body, MANIFEST))}
    if problems := copies.against(copy, body, clips, got["signer"]):
        raise Refused("; ".join(problems))
    for each in (out.get("originals") or {}).values():
        each["checked"] = each.get("sha256") in clips.values()
    out["original"] = {"dir": rule.shown(Path(original).name), "verdict": got["verdict"], "why": got["why"],
                       "signer": got["signer"]}
    out["notes"].append(f"its original supplied ({rule.shown(Path(original).name)}) is CHECKED: {got['why']}; the "
                        "copy's manifest binds it (its manifest's SHA-256, each clip's original by SHA-256, its signer)")


def check(folder: Path, ca_pem: bytes, crl_data: bytes, original: Path | None = None) -> dict[str, Any]:
    """{verdict, why, signer, dates, clips, unlisted, signing_time}: the whole check, in the order
    of the module's text; `original`: a released copy's original export's folder (design/0434),
    checked too. Over 60 lines on purpose: one step after another, as the module's text lists them."""
    out: dict[str, Any] = {"verdict": CHECKED, "why": "", "signer": None, "dates": None, "clips": [], "notes": [],
                           "unlisted": [], "signing_time": None}
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        crl = load_crl(crl_data, ca)
        folder = Path(folder)
        if not folder.is_dir() or folder.is_symlink():
            raise Refused(f"{rule.shown(folder.name)}: not a folder")
        body, manifest, signed_us = _manifest(folder)
        cert = node_certificate(manifest, ca, crl, signed_us)
        out["signer"] = {"node": names(cert), "serial": f"{cert.serial_number:x}", "signed_utc": utc(signed_us)}
        if not _signed_by(body, _small(folder, SIGNATURE), cert.public_key()):
            raise Refused("manifest.sig is not the node certificate's signature over manifest.json: one of them "
                          "was changed, or another key signed it")
        entries = clip_entries(manifest)
        footage_times(manifest, entries, signed_us)
        copy_of(manifest, out)
        imported(manifest, out)
        heard = office_receipt(folder, body, cert, ca, footage_end(manifest, entries))
        if heard is not None and (said := endorsement_note(folder)):
            out["notes"].append(said)
        out["signing_time"] = {"signed_utc": utc(signed_us), "corroborated": False,
                               "why": NOT_CORROBORATED.format(when=utc(signed_us),
                                                              days=EXPORT_WAIT_US // 86_400_000_000)} if heard is None else {
            "signed_utc": utc(signed_us), "corroborated": True, "office_utc": utc(heard),
            "why": CORROBORATED.format(when=utc(heard), file=RECEIPT)}
        listed = _companions(folder, manifest, cert) | {e["file"] for e in entries} | ({RECEIPT} if heard else set())
        signed = _clips(folder, entries, cert, ca_pem.decode(), out)
        copy = copies.bound(manifest)   # a released copy binds its original (design/0434)
        if copy is not None and (problems := copies.inside(copy, out.get("originals") or {}, names(cert))):
            raise Refused("; ".join(problems))
        if original is not None:
            with_original(out, original, copy, ca_pem, crl_data)
        out["dates"] = d = list_dates(crl, signed_us, latest_signing(footage_end(manifest, entries), heard))  # last: any other failure is a
        # refusal, whatever the list's age
        if copy is None:   # a released copy: alone its own verdict (below), else bound to its original (above)
            originals_checked(out.get("originals") or {}, signed)
        out["unlisted"] = unlisted(folder, listed)
        if out["unlisted"]:
            raise NotChecked(f"the folder holds {', '.join(out['unlisted'])}, which the export does not list (added "
                             "after it was made): what was checked is only what it lists; take the files out, or "
                             "get the export as it was handed over")
        if not d["fresh"]:
            raise NotChecked(f"the revocation list was issued {d['crl_issued_utc']}, but {_latest_words(d)}: a list "
                             f"issued from {d['crl_needed_from_utc']} on is needed (the office's day to revoke a lost "
                             "box); get the office's current list" + ("" if heard else ", or the office's receipt for "
                                                                       "the export (edgectl export-receipt)"))
        if copy is not None and original is None:
            out.update(verdict=COPY, why=copies.words(copy, out["clips"], names(cert), f"{cert.serial_number:x}"))
            return out
        out["why"] = (f"every clip is as signed ({', '.join(out['clips'])}), by {rule.quoted_node(names(cert))} (certificate serial "
                      f"{cert.serial_number:x}) under the office's CA, not revoked as of the list given")
    except Refused as exc:
        out.update(verdict=REFUSED, why=str(exc))
    except NotChecked as exc:
        out.update(verdict=NOT_CHECKED, why=str(exc))
    except (ValueError, OSError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        out.update(verdict=REFUSED, why=f"the export or a file given is unreadable: {rule.shown(str(exc))}")
    return out


def lines(got: dict[str, Any]) -> list[str]:
    """The result for people, as the checker prints it (and `edgectl verify` too)."""
    out = [f"{got['verdict']}: {got['why']}", *(f"note: {n}" for n in got["notes"])]
    if got["signing_time"]:
        out.append(f"note: {got['signing_time']['why']}")
    if got["dates"]:
        d = got["dates"]
        out.append(f"revocation list issued {d['crl_issued_utc']}; export signed {d['export_signed_utc']} by the box's "
                   f"clock, at the latest {d['latest_signed_utc']} by "
                   f"{'the office' if d['latest_by'] == 'receipt' else 'its footage'}; a list "
                   f"from {d['crl_needed_from_utc']} on is needed: {'fresh enough' if d['fresh'] else 'too old'}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edged-evidence-check", description="Check an edged evidence export without edged.")
    p.add_argument("dir", type=Path, help="the export's folder (manifest.json, manifest.sig, the clips)")
    p.add_argument("--ca", type=Path, required=True, help="the office's CA certificate (PEM), from the office itself")
    p.add_argument("--crl", type=Path, required=True, help="the office's revocation list (PEM or DER), a current one")
    p.add_argument("--original", type=Path, metavar="DIR",
                   help="a redacted copy's original export's folder: checked too, and the copy's binding to it")
    p.add_argument("--json", action="store_true", help="the result as JSON")
    args = p.parse_args(argv)
    try:
        ca_pem, crl_data = args.ca.read_bytes(), args.crl.read_bytes()
    except OSError as exc:
        p.error(str(exc))
    got = check(args.dir, ca_pem, crl_data, args.original)
    print(json.dumps(got, indent=2) if args.json else "\n".join(lines(got)))
    return EXIT[got["verdict"]]


if __name__ == "__main__":
    sys.exit(main())
