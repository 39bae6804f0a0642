"""A released redacted copy's own manifest (design/0328): the copy is a folder a verifier reads
as it reads an export (storage/export/checking.py verify_export; `edgectl verify`, the
stand-alone checker), signed by the node key when the copy is released, naming the original it
was made from (the export, its signed manifest's SHA-256 and its signer, each clip's original and
its SHA-256: what a court checks the copy alone against, design/0434) and the people: who
prepared the copy and who released it.

Each clip's C2PA manifest is signed at the release too (storage/redact/derivative.py, design/0435:
the preparer holds an unsigned review copy until then), naming the preparer and the releaser as who
reviewed it; this manifest, signed at the release, says both. `manifest` is pure; `write` puts manifest.json, its signature and
the node's public key beside the clips, each written once (a copy is released once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from cryptography import x509

from storage.disk.fsutil import fsync_dir, write_new
from storage.export.evidence import FORMAT, MANIFEST, PUBLIC_KEY, README, SIGNATURE
from storage.export.plan import utc
from storage.keys import nodekey

# what the release adds to the copy's folder: README.txt, in the site's language, what the copy is and
# how to check it (its text in the manifest, so signed: design/0358; a copy released before has none)
FILES = (MANIFEST, SIGNATURE, PUBLIC_KEY, README)


TIMES = ("from_us", "to_us", "from_utc", "to_utc")   # the original clip's, the copy's too (frame for frame)


def _cameras(original: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """clip file -> its camera and its times, from the original export's manifest."""
    return {str(c.get("file")): (str(cam.get("camera") or ""), {k: c[k] for k in TIMES if k in c})
            for cam in original.get("cameras") or [] if isinstance(cam, dict)
            for c in cam.get("clips") or [] if isinstance(c, dict)}


def signer_of(original: Mapping[str, Any]) -> dict[str, Any]:
    """Who signed the original export, as the box saw it when it released the copy (issue 88,
    design/0434): the node it names (SITE/NODE), its key's fingerprint and its certificate's serial
    (hex, as the checker prints it; None where the export carries no certificate). The copy's
    manifest binds it, so a court holding the copy alone knows whose original to ask for."""
    site = original.get("site")
    pems = original.get("node_certificates")
    serial = None
    if isinstance(pems, list) and pems and isinstance(pems[0], str):
        try:
            serial = f"{x509.load_pem_x509_certificate(pems[0].encode()).serial_number:x}"
        except ValueError:
            serial = None
    return {"node": f"{site.get('id') if isinstance(site, dict) else site}/{original.get('node')}",
            "node_key_fingerprint": original.get("node_key_fingerprint"), "certificate_serial": serial}


def manifest(*, header: Mapping[str, Any], original: Mapping[str, Any], original_sha256: str,
             summaries: Mapping[str, Mapping[str, Any]], release: Mapping[str, Any], key_b64: str,
             fingerprint: str, now_us: int, chain: list[str] | None = None,
             readme: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The copy's manifest: `header` (site, node, export), `original` the staged export's manifest
    (`original_sha256` its SHA-256), `summaries` each redacted clip's (storage/redact/job.py),
    `release` {mode, use, prepared_by, released_by, second_person, moments_checked}; `readme`
    {language, text}: README.txt's, as an export's manifest holds its own."""
    cams = _cameras(original)
    by_camera: dict[str, list[dict[str, Any]]] = {}
    for name, s in sorted(summaries.items()):
        cam, times = cams.get(str(s.get("original") or name), ("", {}))
        by_camera.setdefault(cam, []).append({
            "file": name, "sha256": str(s["sha256"]), "bytes": int(s["bytes"]), **times,
            "original": str(s.get("original") or name), "original_sha256": str(s.get("original_sha256") or "")})
    return {
        "format": FORMAT, **header, "kind": "redacted copy",
        "cameras": [{"camera": cam, "clips": clips} for cam, clips in sorted(by_camera.items())],
        "derivative_of": {"export": header.get("export"), "manifest_sha256": original_sha256,
                          "created_utc": original.get("created_utc"), "grant": original.get("grant"),
                          "signer": signer_of(original)},
        "redaction": dict(release),
        "created_us": now_us, "created_utc": utc(now_us),
        "node_public_key": key_b64, "node_key_fingerprint": fingerprint,
        **({"node_certificates": list(chain)} if chain else {}),
        **({"readme": dict(readme)} if readme and readme.get("text") else {}),
    }


def write(folder: Path, body: bytes, key: nodekey.NodeKey, readme: str = "") -> None:
    """manifest.json (`body`), its Ed25519 signature and the node's public key, into the copy's
    folder; and README.txt where `readme` (the manifest's `readme` text) is given."""
    if readme:
        write_new(folder / README, readme.encode())
    write_new(folder / MANIFEST, body)
    write_new(folder / SIGNATURE, key.sign(body))
    write_new(folder / PUBLIC_KEY, key.public_pem())
    fsync_dir(folder)
