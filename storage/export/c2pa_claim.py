"""What an exported clip's C2PA manifest says (design/0098): pure, plain data in and out.

Beside the standard actions (captured by a camera, then repackaged: a remux, never a re-encode),
five assertions of edged's own, which any C2PA reader shows as they are:
- `edged.camera`: the camera's id, name and location;
- `edged.time`: the clip's range in UTC, on the segment times as the catalog holds them (corrected
  where the host clock was found wrong, design/0059), and the holes in it;
- `edged.sources`: each source segment with the SHA-256 recorded when it was written;
- `edged.grant`: the grant (range, cameras, approvers in the order they signed, the custodian);
- `edged.box`: the site and node that recorded and exported it.
Footage a portable device recorded and a person took in (design/0349) is not recorded by this box:
each original file its sources came from is an ingredient (`componentOf`) of the clip's manifest,
named as imported, with its SHA-256, who took it in and when, and whose device (design/0356).
Requester and recipient stay in edged's manifest only: the clip carries no more personal data
than the evidence needs (design/0019).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from cryptography.hazmat.primitives import hashes

from storage.export import c2pa_profile
from storage.export.plan import CameraPlan, ExportError, source_entry, utc

MEDIA_TYPE = "video/mp4"
DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
CAMERA, TIME, SOURCES, GRANT, BOX = "edged.camera", "edged.time", "edged.sources", "edged.grant", "edged.box"
INTAKE = "edged.intake"      # an imported original's facts in its ingredient's metadata (design/0356)
LABELS = (CAMERA, TIME, SOURCES, GRANT, BOX)
COSE_TO_SIGN = b"\x84\x6aSignature1"  # CBOR [ "Signature1", ...]: what a C2PA claim signature covers
RANGE_SLACK_US = 1_000_000  # a clip's end past its last segment's: at most a frame's duration, rounded up
CLOCK_NOTE = ("UTC from the recording's segment times as catalogued by the node; where its clock was found "
              "wrong they are the corrected times (design/0059)")


def is_claim_to_sign(data: bytes) -> bool:
    """Whether `data` is a COSE Sig_structure (what C2PA asks a signer to sign), so the node key
    signs nothing else through this path: never an edged manifest or a chain head."""
    return bytes(data[:len(COSE_TO_SIGN)]) == COSE_TO_SIGN


def _range(from_us: int, to_us: int) -> dict[str, Any]:
    return {"from_utc": utc(from_us), "to_utc": utc(to_us), "from_us": from_us, "to_us": to_us}


def _source(s: dict[str, Any]) -> dict[str, Any]:
    out = {"segment": s["path"], "sha256": s["sha256"], "bytes": s["bytes"], "clip_offset_s": s["clip_offset_s"],
           **_range(s["start_us"], s["end_us"] if s["end_us"] is not None else s["start_us"])}
    for k in ("corrected_start_us", "corrected_end_us", "flagged", "note"):
        if k in s:
            out[k] = s[k]
    return out


def ingredient(imp: dict[str, Any]) -> dict[str, Any]:
    """An imported original as a C2PA ingredient (the SDK's Ingredient): the facts in its
    description, for any reader, and in its metadata, for a program (the checker)."""
    when = utc(imp["intake_us"]) if isinstance(imp.get("intake_us"), int) else None
    facts = {k: imp.get(k) for k in ("intake", "original_sha256", "original_bytes", "intake_us", "taken_by",
                                     "filmed_by", "device", "model", "claimed_from", "request", "sound_left", "file_name")}
    return {"title": f"intake {imp['intake']}: the original file from the device {imp.get('device')}",
            "format": "application/octet-stream", "relationship": "componentOf",
            "instance_id": f"edged:intake:{imp['original_sha256']}",
            "description": (f"imported on {when} by {imp.get('taken_by')} from the device {imp.get('device')} "
                            f"(recorded by {imp.get('filmed_by')}), the original file's SHA-256 "
                            f"{imp['original_sha256']}: not recorded by this box; its times are the device's claim"),
            "metadata": {**({"dateTime": when} if when else {}), INTAKE: {**facts, "intake_utc": when}}}


def ingredients(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ingredient per original the clip's imported sources came from, in the order met."""
    seen: dict[str, dict[str, Any]] = {}
    for s in sources:
        imp = s.get("imported")
        if isinstance(imp, dict) and imp.get("original_sha256") and imp["original_sha256"] not in seen:
            seen[imp["original_sha256"]] = ingredient(imp)
    return list(seen.values())


def definition(context: dict[str, Any], camera: dict[str, Any], clip: dict[str, Any]) -> dict[str, Any]:
    """The manifest definition (c2pa Builder JSON) for one clip of one camera's entry of the
    export; `context` holds the export's header (site, node, software, grant, request, custodian),
    its creation time and the node key's fingerprint."""
    software = context.get("software") or {"name": "edged", "version": "unknown"}
    grant = context.get("grant") or {}
    request = context.get("request") or {}
    approvers = grant.get("approvers") or ([request["approver"]] if request.get("approver") else [])
    gaps = [{**_range(g["from_us"], g["to_us"]), "reason": g["reason"], "clip_offset_s": g.get("clip_offset_s")}
            for g in camera.get("gaps", []) if g.get("in_clip") == clip["file"]]
    theirs = [s for s in camera.get("sources", []) if s.get("clip") == clip["file"]]
    sources = [_source(s) for s in theirs]
    parts = ingredients(theirs)
    made = context.get("created_us")
    actions = [{"action": "c2pa.created", "digitalSourceType": DIGITAL_CAPTURE, "when": utc(clip["from_us"]),
                "description": f"recorded by camera {camera['camera']}" if not parts else
                f"recorded by the portable device of camera {camera['camera']} (its claim), imported: not by this box"},
               {"action": "c2pa.repackaged", "description": "exported by copying the recorded samples into this "
                "MP4 (no re-encoding)", **({"when": utc(made)} if made is not None else {})}]
    site = context.get("site") or {}
    return {
        "claim_generator_info": [{"name": str(software.get("name")), "version": str(software.get("version"))}],
        "title": clip["file"], "format": MEDIA_TYPE, **({"ingredients": parts} if parts else {}),
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": actions}},
            {"label": CAMERA, "data": {"id": camera["camera"], "name": camera.get("name"),
                                       "location": camera.get("location")}},
            {"label": TIME, "data": {**_range(clip["from_us"], clip["to_us"]), "duration_s": clip["duration_s"],
                                     "clock": CLOCK_NOTE, "gaps": gaps}},
            {"label": SOURCES, "data": {"alg": "sha256", "segments": sources}},
            {"label": GRANT, "data": {"id": grant.get("id"), "mode": grant.get("mode"),
                                      "cameras": grant.get("cameras"),
                                      **(_range(grant["from_us"], grant["to_us"]) if "from_us" in grant else {}),
                                      "approvers": approvers, "request": request.get("id"),
                                      "custodian": context.get("custodian")}},
            {"label": BOX, "data": {"site": {"id": site.get("id"), "name": site.get("name")},
                                    "node": context.get("node"), "software": software,
                                    "node_key_fingerprint": context.get("node_key_fingerprint")}},
        ],
    }


# --- whether an export gets C2PA manifests, and the signer it may use --------------------------------
NOT_ENROLLED = "the node has no certificate from the office yet (it is not enrolled)"


def plan(chain: list[str] | None, signing_key: Any, context: dict[str, Any],
         at: dt.datetime) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(what the media worker needs to sign the clips, or None; the export's `c2pa` status for its
    manifest). No chain or an unfit one: no C2PA manifest, and the status says why; never an error."""
    if not chain:
        return None, {"made": False, "why": NOT_ENROLLED}
    try:
        certs = c2pa_profile.load_chain(chain)
    except ValueError as exc:
        return None, {"made": False, "why": f"the node's certificate chain is unreadable ({exc})"}
    why = c2pa_profile.problems(certs, signing_key, at) + ([] if len(certs) > 1 else ["the chain lacks the office's CA"])
    if why:
        return None, {"made": False, "why": "the node's certificate cannot sign C2PA manifests: " + "; ".join(why)}
    anchor = certs[-1]
    status = {"made": True, "signer": certs[0].subject.rfc4514_string(), "issuer": anchor.subject.rfc4514_string(),
              "trust_anchor_sha256": anchor.fingerprint(hashes.SHA256()).hex(), "assertions": list(LABELS)}
    return {"chain": list(chain), "alg": c2pa_profile.algorithm(certs[0].public_key()), "context": context}, status


def bind(entries: list[dict[str, Any]], cameras: list[dict[str, Any]], plans: list[CameraPlan]) -> None:
    """The media worker's camera entries held to the daemon's own plan before anything is signed
    over them (design/0134): each camera's id, name and location, each source segment's catalog
    fields (path, SHA-256, size, times, corrections) and the holes are the daemon's; the worker
    adds only where each falls in the clips, and a clip's range must lie within its sources'.
    ExportError when the worker names a segment, clip or camera the plan does not hold."""
    if [e.get("camera") for e in entries] != [c["camera"] for c in cameras]:
        raise ExportError("the media worker returned other cameras than the export's; export refused")
    for entry, cam, plan in zip(entries, cameras, plans):
        files = {c.get("file") for c in entry["clips"]}
        if any(not isinstance(f, str) or not f or "/" in f or f.startswith(".") for f in files):
            raise ExportError(f"{cam['camera']}: the media worker named a clip outside the export's folder")
        rows = {r["path"]: r for r in [*plan.sources, *plan.tail, *plan.lead]}  # a camera's signature (design/0135)
        named = [str(src.get("path")) for src in entry["sources"]]
        if len(set(named)) != len(named) or not {r["path"] for r in plan.sources} <= set(named) <= set(rows):
            raise ExportError(f"{cam['camera']}: the media worker's sources are not the export's segments; "
                              "export refused")
        for src in entry["sources"]:
            if src.get("clip") not in files | {None}:
                raise ExportError(f"{cam['camera']}: a source names a clip the media worker did not write")
            placed = {k: src[k] for k in ("clip", "clip_offset_s", "note", "tail", "key_sei") if k in src}
            row = rows[src["path"]]
            src.clear()
            src.update({**source_entry(row, placed.pop("clip")), **placed})
        _bind_range(entry, plan)
        entry.update(name=cam.get("name"), location=cam.get("location"), gaps=_bind_gaps(entry, plan, files))


def _bind_gaps(entry: dict[str, Any], plan: CameraPlan, files: set[Any]) -> list[dict[str, Any]]:
    """The plan's holes, each with the clip the worker placed it in (only a clip it wrote)."""
    placed = {(g.get("from_us"), g.get("to_us")): g for g in entry.get("gaps", []) if isinstance(g, dict)}
    out = []
    for g in plan.gaps:
        found = placed.get((g["from_us"], g["to_us"])) or {}
        where = ({"in_clip": found["in_clip"], "clip_offset_s": found.get("clip_offset_s")}
                 if found.get("in_clip") in files else {"in_clip": None})
        out.append({k: v for k, v in g.items() if k not in ("in_clip", "clip_offset_s")} | where)
    return out


def _bind_range(entry: dict[str, Any], plan: CameraPlan) -> None:
    """Each clip's range within its camera's source segments: it begins at or after the first
    one's start and lasts no longer than their wall span or, where the host clock stepped back
    and a segment was placed after the one it overlaps, their durations together (RANGE_SLACK_US
    allowed for the last frame's duration)."""
    if not plan.sources:
        return
    low = min(r["start_us"] for r in plan.sources)
    ends = [r["end_us"] for r in plan.sources]
    longest = None if None in ends else max(max(ends) - low, sum(r["end_us"] - r["start_us"] for r in plan.sources))
    for clip in entry["clips"]:
        if not (isinstance(clip.get("from_us"), int) and isinstance(clip.get("to_us"), int)
                and low <= clip["from_us"] <= clip["to_us"]
                and (longest is None or clip["to_us"] <= low + longest + RANGE_SLACK_US)):
            raise ExportError(f"{clip.get('file')}: the media worker gave it a range outside its segments'; "
                              "export refused")


def jobs(context: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the signing process embeds in each clip ({file, camera, definition}), computed here,
    by the daemon, from its bound entries (bind) and the export's header."""
    return [{"file": clip["file"], "camera": cam["camera"], "definition": definition(context, cam, clip)}
            for cam in entries for clip in cam["clips"]]


def guarded(sign: Callable[[bytes], bytes], limit: int) -> Callable[[bytes], bytes]:
    """`sign`, for C2PA claims only and at most `limit` times (one per clip the daemon asked to
    be signed): what the signing process may ask of the node key, so that process, were a clip
    to take it over, gets no signature it could put to another use."""
    count = 0

    def claim_signature(data: bytes) -> bytes:
        nonlocal count
        if not is_claim_to_sign(data):
            raise PermissionError("refused to sign: not a C2PA claim")
        count += 1
        if count > limit:
            raise PermissionError(f"refused to sign: more C2PA claims than the export's {limit} clip(s) at most")
        return sign(data)
    return claim_signature


def outcome(status: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The export's status once the clips are signed: not made if any clip's manifest was not."""
    failed = [c for cam in entries for c in cam["clips"] if not (c.get("c2pa") or {}).get("made")]
    if not status.get("made") or not failed:
        return status
    why = "; ".join(f"{c['file']}: {(c.get('c2pa') or {}).get('why', 'not signed')}" for c in failed)
    return {"made": False, "why": why}
