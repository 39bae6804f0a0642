"""A redacted copy signed as a derivative of its original (design/0173).

Its C2PA manifest (signed by the node's certificate, like an export's clip: design/0098) has
- the original clip as its `parentOf` ingredient: the C2PA SDK puts in the original's own manifest
  and a hash of the original file, so a reader sees which signed clip this one was made from and
  that the original verified when the copy was made;
- the actions `c2pa.opened` (the original), `c2pa.edited` (what was hidden: the mode, solid fill,
  counts of masks and faces followed, the detector's name and model hash; never a box or a face)
  and `c2pa.transcoded` (re-encoded: a redacted copy cannot be a remux);
- `edged.redaction`: the same counts, the original clip's name and SHA-256, the export it came
  from, and who prepared and who reviewed it (account names, as the grant assertion names the
  custodian and approvers).

`definition` is pure; `sign` runs the C2PA SDK (storage/export/c2pa_sign.sign_clip) in the
process that made the copy, with the node key reached through `sign` only (design/0134).
`parent_of` reads a signed copy back: the original it names, for `edgectl verify` and the checker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from storage.export.c2pa_claim import BOX, MEDIA_TYPE
from storage.export.c2pa_sign import sign_clip

REDACTION = "edged.redaction"
PARENT_OF = "parentOf"
INGREDIENT = "original"  # the parent ingredient's label, which the c2pa.opened action names
WORDS = {"everything": "everything hidden except the applicant", "faces": "faces hidden except the applicant's"}


def definition(context: dict[str, Any], made: dict[str, Any]) -> dict[str, Any]:
    """The manifest definition of one redacted clip. `made`: the job's summary of it
    (storage/redact/job.py); `context`: site, node, software, the original export's id, who
    prepared and reviewed the copy, the node key's fingerprint."""
    software = context.get("software") or {"name": "edged", "version": "unknown"}
    counts = {k: made[k] for k in ("mode", "fill", "frames", "frames_filled_whole", "masks", "faces_followed",
                                   "applicant_marks", "custodian_boxes") if k in made}
    detector = (made.get("method") or {}).get("detector")
    what = (f"redacted for a citizen ({WORDS.get(made['mode'], made['mode'])}): {made['masks']} masks and "
            f"{made['frames_filled_whole']} frames filled whole, solid fill"
            + (f", faces found by {detector['name']}" if detector else ""))
    return {
        "claim_generator_info": [{"name": str(software.get("name")), "version": str(software.get("version"))}],
        "title": f"redacted {made['original']}", "format": MEDIA_TYPE,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [
                {"action": "c2pa.opened", "description": f"the original clip {made['original']}",
                 "parameters": {"ingredientIds": [INGREDIENT]}},
                {"action": "c2pa.edited", "description": what,
                 "parameters": {"redaction": counts, **({"detector": detector} if detector else {})}},
                {"action": "c2pa.transcoded", "description": "re-encoded (H.264), the sound left out"}]}},
            {"label": REDACTION, "data": {**counts, "method": made.get("method"), "original": made["original"],
                                          "original_sha256": made["original_sha256"],
                                          "original_export": context.get("export"),
                                          "prepared_by": context.get("prepared_by"),
                                          "reviewed_by": context.get("reviewed_by")}},
            {"label": BOX, "data": {"site": context.get("site"), "node": context.get("node"), "software": software,
                                    "node_key_fingerprint": context.get("node_key_fingerprint")}},
        ],
    }


def sign(clip: Path, original: Path, definition: dict[str, Any], chain: list[str], alg: str,
         signer: Callable[[bytes], bytes]) -> dict[str, Any]:
    """Sign the redacted `clip` in place, `original` its parent ingredient (read, never written);
    its new {sha256, bytes}, or c2pa_sign.NotSigned."""
    ingredient = {"title": original.name, "relationship": PARENT_OF, "format": MEDIA_TYPE, "label": INGREDIENT}
    return sign_clip(clip, definition, chain, alg, signer, parent=(ingredient, original))


def parent_of(report: dict[str, Any]) -> dict[str, Any] | None:
    """From a C2PA reader's report of a redacted copy (c2pa.Reader(...).json()): the original it
    names ({title, manifest, signer, sha256: the original's SHA-256 as the copy recorded it,
    validated: whether the original's manifest verified when the copy was signed}), or None."""
    active = (report.get("manifests") or {}).get(report.get("active_manifest") or "", {})
    parent = next((i for i in active.get("ingredients", []) if i.get("relationship") == PARENT_OF), None)
    if parent is None:
        return None
    label = parent.get("active_manifest")
    theirs = (report.get("manifests") or {}).get(label or "", {})
    ours: dict[str, Any] = next((a["data"] for a in active.get("assertions", []) if a.get("label") == REDACTION), {})
    failures = (parent.get("validation_results") or {}).get("activeManifest", {}).get("failure", [])
    return {"title": parent.get("title"), "manifest": label,
            "signer": (theirs.get("signature_info") or {}).get("common_name"),
            "sha256": ours.get("original_sha256"), "validated": bool(label) and not failures}
