"""A released redacted copy checked on its own, or with its original (edged's issue 88, design/0434).

A citizen's copy never leaves with its original: its own manifest (edged's storage/redact/release.py)
binds the original as the box saw it when it released the copy (`derivative_of`: the export's number,
its signed manifest's SHA-256 and its signer; each clip's original and that clip's SHA-256). Alone, a
copy whose every clip and manifest check is "CHECKED AS A COPY" (`bound`, `inside`, `words`): what it
is a copy of is said, and that the original was not supplied, as a verdict of its own. With the
original's folder supplied, that folder is checked in full and the copy's binding to it (`against`):
both checked. Pure: plain data in, the problems found out (the checker raises them).
"""

from __future__ import annotations

import hashlib
from typing import Any

from edged_evidence_check import names as rule


def _hex64(value: Any) -> str:
    text = str(value)
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else rule.shown(text)


def bound(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The original a released copy's manifest binds, or None when the manifest is no copy's:
    {export, manifest_sha256, signer: {node, certificate_serial, node_key_fingerprint} or None
    (a copy released before design/0434), clips: copy file -> (original file, its SHA-256)}."""
    of = manifest.get("derivative_of")
    if not isinstance(of, dict):
        return None
    clips = {str(c.get("file")): (str(c.get("original")), str(c.get("original_sha256") or ""))
             for cam in manifest.get("cameras") or [] if isinstance(cam, dict)
             for c in cam.get("clips") or [] if isinstance(c, dict)}
    signer = of.get("signer") if isinstance(of.get("signer"), dict) else None
    return {"export": of.get("export"), "manifest_sha256": str(of.get("manifest_sha256") or ""), "signer": signer,
            "clips": clips}


def inside(copy: dict[str, Any], originals: dict[str, dict[str, Any]], signer: str) -> list[str]:
    """What the copy says of its original that does not agree within itself: a clip whose C2PA
    manifest (`originals`: file -> what its `parentOf` names, check.original_of) names another
    original SHA-256 than the signed manifest does, or an original signed by another node than
    the copy's own `signer` (SITE/NODE: a box redacts only its own footage)."""
    problems = []
    for name, got in originals.items():
        listed = copy["clips"].get(name, ("", ""))[1]
        if got.get("sha256") != listed:
            problems.append(f"{rule.shown(name)}: its C2PA manifest names an original of SHA-256 "
                            f"{_hex64(got.get('sha256'))}, its signed manifest.json {_hex64(listed)}")
    if not _hex64(copy["manifest_sha256"]) == copy["manifest_sha256"]:
        problems.append("manifest.json binds no original export's manifest (no SHA-256 in derivative_of)")
    said = (copy["signer"] or {}).get("node")
    if said is not None and said != signer:
        problems.append(f"manifest.json says its original was signed by {rule.quoted_node(said)}, the copy by "
                        f"{rule.quoted_node(signer)}: a box redacts only its own footage")
    return problems


def against(copy: dict[str, Any], body: bytes, clips: dict[str, str], signer: dict[str, Any]) -> list[str]:
    """What does not bind the copy to the original supplied, checked in full: `body` its manifest.json
    (whose SHA-256 the copy names), `clips` its clips (file -> SHA-256, as checked), `signer` its
    signer as the check found it ({node, serial})."""
    problems = []
    if (digest := hashlib.sha256(body).hexdigest()) != copy["manifest_sha256"]:
        problems.append(f"the original supplied is another export (its manifest's SHA-256 {digest}), not the one "
                        f"the copy was made from (SHA-256 {_hex64(copy['manifest_sha256'])})")
    for name, (original, sha) in sorted(copy["clips"].items()):
        if clips.get(original) != sha:
            problems.append(f"{rule.shown(name)}: its original {rule.shown(original)} (SHA-256 {_hex64(sha)}) is not "
                            "a clip of the original supplied")
    said = copy["signer"] or {}
    if said.get("certificate_serial") not in (None, signer.get("serial")):
        problems.append(f"the copy says its original was signed under certificate serial "
                        f"{rule.shown(str(said.get('certificate_serial')))}, the original supplied is signed under "
                        f"{rule.shown(str(signer.get('serial')))}")
    return problems


def words(copy: dict[str, Any], clips: list[str], signer: str, serial: str) -> str:
    """The copy verdict's why: what it is a copy of, and that the original was not supplied."""
    said = copy["signer"] or {}
    of = (f", signed by {rule.quoted_node(said.get('node'))}"
          + (f" (certificate serial {rule.shown(str(said['certificate_serial']))})" if said.get("certificate_serial")
             else "")) if said.get("node") else ""
    return (f"a redacted copy of export {rule.shown(str(copy['export']))} (its manifest's SHA-256 "
            f"{_hex64(copy['manifest_sha256'])}{of}), which was not supplied: every clip of the copy is as signed "
            f"({', '.join(clips)}), by {rule.quoted_node(signer)} (certificate serial {serial}) under the office's CA, "
            "not revoked as of the list given, and names its original clip by its SHA-256; the original itself is "
            "not checked here: supply its export's folder (--original DIR) to check both")
