"""What `edgectl verify` says of a released redacted copy (design/0328): its signed manifest
(storage/redact/release.py) names its original export and who prepared and who released it."""

from __future__ import annotations

from typing import Any

from edged.i18n import _


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
