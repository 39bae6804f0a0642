"""What `edgectl verify` says of a released redacted copy (design/0328, 0434): its signed manifest
(storage/redact/release.py) names its original export, that export's signer and who prepared and who
released it; checked alone it is a copy's verdict of its own ("CHECKED AS A COPY", exit 4), and with
its original's folder (`--original DIR`) both are checked and the copy's binding to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509

from edged.i18n import _
from edged_evidence_check import bounds, copies
from storage.export import checking
from storage.export.evidence import MANIFEST

COPY_EXIT = 4   # edged_evidence_check.check EXIT[COPY]: the copy checked, its original not supplied


def copy_of(manifest: dict[str, Any], data: dict[str, Any], text: str) -> tuple[dict[str, Any], str]:
    """A redacted copy's manifest (storage/redact/release.py, design/0328) names its original and its
    people: said after the verdict (a claim of the signed manifest, as good as its verdict)."""
    of, how = manifest.get("derivative_of"), manifest.get("redaction")
    if not isinstance(of, dict) or not isinstance(how, dict):
        return data, text
    line = _("a redacted copy of export {export} (its manifest's SHA-256 {sha}), prepared by {prepared}, released "
             "by {released}").format(export=of.get("export"), sha=str(of.get("manifest_sha256"))[:16],
                                     prepared=how.get("prepared_by"), released=how.get("released_by"))
    originals = [f"{c.get('file')} <- {c.get('original')} ({str(c.get('original_sha256'))[:16]})"
                 for cam in manifest.get("cameras") or [] if isinstance(cam, dict)
                 for c in cam.get("clips") or [] if isinstance(c, dict)]
    return ({**data, "redacted_copy": {"original_export": of.get("export"), "original_manifest_sha256":
                                       of.get("manifest_sha256"), "prepared_by": how.get("prepared_by"),
                                       "released_by": how.get("released_by")}},
            "\n".join([text, line, *("  " + o for o in originals)]))


def _serial(manifest: Any) -> str | None:
    pems = manifest.get("node_certificates") if isinstance(manifest, dict) else None
    try:
        return f"{x509.load_pem_x509_certificate(pems[0].encode()).serial_number:x}" if pems else None
    except (ValueError, AttributeError, TypeError):
        return None


def by_key(manifest: dict[str, Any], original: str | None, key: str | None) -> tuple[list[str], bool]:
    """`edgectl verify --key` of a released copy (design/0434): the problems of its binding (its
    signer its own node's; with `original`, that folder verified against the same key and the copy
    bound to it), and whether it is a copy whose original was not supplied (the copy's verdict)."""
    copy = copies.bound(manifest)
    if copy is None:
        return ([_("{dir} was given as an original, but the folder checked is not a released redacted copy").format(
            dir=original)] if original else []), False
    site = manifest.get("site")
    problems = copies.inside(copy, {}, f"{site.get('id') if isinstance(site, dict) else site}/{manifest.get('node')}")
    if not original:
        return problems, True
    folder = Path(original)
    problems += [f"{folder.name}: {p}" for p in checking.verify_export(folder, key, extras=False)]
    try:
        body = bounds.read_small(folder, MANIFEST)
        theirs = bounds.load_json(body, MANIFEST)
    except (OSError, ValueError) as exc:
        return problems + [f"{folder.name}: {exc}"], False
    clips = {str(c.get("file")): str(c.get("sha256")) for cam in (theirs.get("cameras") or [])
             if isinstance(cam, dict) for c in cam.get("clips") or [] if isinstance(c, dict)} \
        if isinstance(theirs, dict) else {}
    return problems + copies.against(copy, body, clips, {"serial": _serial(theirs)}), False


def copy_text(folder: str, signer: str | None, manifest: dict[str, Any]) -> str:
    """The copy's verdict for people, on the --key route (the checker's words on the CA's)."""
    of = manifest.get("derivative_of") or {}
    return "CHECKED AS A COPY: " + _(
        "{dir} is intact and signed by {signer}; a redacted copy of export {export} (its manifest's SHA-256 {sha}), "
        "which was not supplied: the original itself is not checked; give its export's folder with --original DIR "
        "to check both").format(dir=folder, signer=signer, export=of.get("export"),
                                sha=str(of.get("manifest_sha256"))[:16])
