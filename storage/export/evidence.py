"""Evidence export (R5.5, R6): the footage of a copy grant as one MP4 per camera, a manifest
that says where every byte came from, and the node's Ed25519 signature over the manifest.

The clip is made from the segments, never re-encoded: their fragments copied at the byte level
(storage/export/copy.py, design/0051), or remuxed where they do not allow it
(storage/export/remux.py). It starts at the keyframe at or
before the requested start (so it starts playable) and ends at the requested end. Clip time
maps to wall time: second t of a clip is its `from_us` + t. A hole in the footage stays a hole
in the clip's timestamps and is listed in the manifest with its reason; it is never closed up
silently. Each source segment's SHA-256 is checked against the catalog before it is used: a
file that changed since it was recorded fails the export, named.

A third party needs only the folder and the office's CA certificate (design/0097): the manifest
carries the node's certificate chain, the signature covers manifest.json byte for byte, and the
manifest holds each clip's SHA-256.

Blocking throughout (file I/O, hashing, PyAV): the daemon calls it from a thread.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

from edged_evidence_check import bounds
from storage.keys import nodekey
from storage.time.clock import SYSTEM
from storage.export.plan import (  # noqa: F401  (the export's public names, in one place)
    ExportError, Meter, Progress, gather, plan_camera, utc,
)
from storage.export import c2pa_claim, c2pa_sign
from storage.export.copy import copy_camera
from storage.export.remux import remux_camera
from storage.export.fmp4 import NotCopyable
from storage.disk.fsutil import PRIVATE_DIR, fsync_dir, private_dir, write_new
from storage.disk.hashing import sha256_file

FORMAT = "edged-export/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"        # raw 64-byte Ed25519 signature over manifest.json
PUBLIC_KEY = "node-public-key.pem"  # the node's public key (check it against the published one)
README = "README.txt"  # for people, in the site's language: the manifest's `readme` text, so it is signed
RECEIPT = bounds.RECEIPT  # the office's receipt for the manifest, kept when it comes (design/0318)
Signer = Callable[[bytes], bytes]
EXPORTS_DIR = "exports"           # staging for edgectl export, under the data folder
WORKING_DIR = "working"           # working copies for a viewing, destroyed after it (R5.5)


def write_clips(data_dir: Path, tmp: Path, cameras: list[dict[str, Any]], from_us: int, to_us: int,
                progress: Progress | None = None, copy: bool = True) -> list[dict[str, Any]]:
    """Each camera's footage of the range as clips in `tmp`; the manifest's camera entries.
    The segments' fragments are copied at the byte level (storage/export/copy.py) where they
    allow it, else remuxed (storage/export/remux.py; always, with `copy` false). This is the
    part that parses media (run by storage/export/worker.py in a worker process by the daemon,
    design/0020); it signs nothing (the clips' C2PA manifests are the daemon's: design/0134)."""
    plans = [plan_camera(c["camera"], c["segments"], from_us, to_us, c.get("explain", []), c.get("lead", [])) for c in cameras]
    meter = Meter(sum(r["bytes"] or 0 for p in plans for r in p.sources), progress)
    entries = []
    for cam, plan in zip(cameras, plans):
        try:
            if not copy:
                raise NotCopyable("remux asked for")
            clips, sources = copy_camera(data_dir, tmp, plan, from_us, to_us, meter)
        except NotCopyable:
            clips, sources = remux_camera(data_dir, tmp, plan, from_us, to_us, meter)
        first = min((c["from_us"] for c in clips), default=None)
        last: int | None = max((c["to_us"] for c in clips), default=None)
        for g in plan.gaps:
            g["in_clip"] = next((c["file"] for c in clips if c["from_us"] <= g["from_us"] < c["to_us"]), None)
            if g["in_clip"] is not None:
                clip = next(c for c in clips if c["file"] == g["in_clip"])
                g["clip_offset_s"] = round((g["from_us"] - clip["from_us"]) / 1e6, 6)
        entries.append({"camera": cam["camera"], "name": cam.get("name"), "location": cam.get("location"),
                        "actual": None if first is None or last is None else {"from_us": first, "to_us": last,
                                                              "from_utc": utc(first), "to_utc": utc(last)},
                        "clips": clips, "sources": sources, "gaps": plan.gaps})
    meter.add(0, "", final=True)
    return entries


class ClipsWriter(Protocol):
    """write_clips, or the same run elsewhere (storage/export/worker.py's run_clips)."""

    def __call__(self, data_dir: Path, tmp: Path, cameras: list[dict[str, Any]], from_us: int, to_us: int,
                 progress: Progress | None = None) -> list[dict[str, Any]]: ...


class ClipSigner(Protocol):
    """c2pa_sign.sign_jobs, or the same run elsewhere (storage/export/worker.py's run_signing)."""

    def __call__(self, folder: Path, jobs: list[dict[str, Any]], chain: list[str], alg: str, sign: Signer,
                 progress: Progress | None = None) -> list[dict[str, Any]]: ...


C2PA_CONTEXT = ("site", "node", "software", "grant", "request", "custodian")  # the header's parts a clip's C2PA names
SIGNING_SHARE = 1 / 3  # of the export's progress, when its clips get C2PA manifests (the SDK's pass)


def _c2pa_plan(chain: list[str] | None, key: nodekey.NodeKey, header: dict[str, Any],
               began_us: int) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """What the clips' C2PA manifests say (c2pa_claim.plan; None without a usable chain) and
    its status for the manifest."""
    context = {**{k: header[k] for k in C2PA_CONTEXT if k in header}, "created_us": began_us,
               "node_key_fingerprint": key.fingerprint}
    return c2pa_claim.plan(chain, key.public, context, datetime.fromtimestamp(began_us / 1e6, timezone.utc))


def _share(progress: Progress | None, low: float, high: float) -> Progress | None:
    """A stage's progress as its share [low, high] of the export's."""
    if progress is None:
        return None
    report = progress

    def scaled(info: dict[str, Any]) -> None:
        report({**info, "fraction": round(low + (high - low) * float(info.get("fraction", 0.0)), 4)})
    return scaled


def _staging(out_dir: Path) -> Path:
    """The export's hidden 0700 sibling folder, made afresh (renamed to `out_dir` when whole)."""
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)  # a previous attempt that crashed (not footage: our own scratch)
    private_dir(tmp.parent)
    tmp.mkdir(mode=PRIVATE_DIR)
    os.chmod(tmp, PRIVATE_DIR)
    return tmp


def _sign_clips(tmp: Path, entries: list[dict[str, Any]], c2pa: dict[str, Any], key: nodekey.NodeKey,
                signer: ClipSigner, progress: Progress | None, plans: list[Any]) -> None:
    """The daemon's C2PA step (design/0134): the definitions computed here from the bound
    entries, each clip signed by `signer` through a guard that signs one C2PA claim per clip;
    each clip's entry gets `c2pa` {made, why} and, when made, its new SHA-256 and size. Its
    progress is the export's last SIGNING_SHARE."""
    jobs = c2pa_claim.jobs(c2pa["context"], entries)
    total = sum(r["bytes"] or 0 for p in plans for r in p.sources)
    share = _share(progress, 1.0 - SIGNING_SHARE, 1.0)

    def report(info: dict[str, Any]) -> None:
        if share is not None:
            share({**info, "stage": "sign", "done_bytes": total, "total_bytes": total})
    done = {d["file"]: d for d in signer(tmp, jobs, c2pa["chain"], c2pa["alg"], c2pa_claim.guarded(key.sign, len(jobs)),
                                         report)}
    for clip in (c for cam in entries for c in cam["clips"]):
        got = done.get(clip["file"]) or {"c2pa": {"made": False, "why": "the signing process did not answer for it"}}
        clip["c2pa"] = got["c2pa"]
        if clip["c2pa"].get("made"):
            clip.update(sha256=got["sha256"], bytes=got["bytes"])


def write_export(data_dir: Path, out_dir: Path, *, key: nodekey.NodeKey, header: dict[str, Any],
                 cameras: list[dict[str, Any]], from_us: int, to_us: int,
                 progress: Progress | None = None, now_us: int | None = None,
                 clips_writer: ClipsWriter | None = None, chain: list[str] | None = None,
                 clip_signer: ClipSigner | None = None) -> dict[str, Any]:
    """Write clips, manifest, signature and public key into `out_dir` (made here; must not exist).

    `cameras` is what `gather` returns; `header` holds who and why (site, node, request,
    grant, custodian, recipient), copied into the manifest as is. Built in a hidden sibling
    folder and renamed at the end, so `out_dir` either holds a whole export or nothing.
    `clips_writer`: write_clips, or the same run elsewhere (the daemon's worker process); the
    manifest is signed here, so the key never goes where media is parsed. `chain`: the node's
    certificate chain (PEM texts: its certificate, then the office's CA; storage/keys/nodecert.py), copied
    into the manifest as `node_certificates` so a verifier that trusts the CA knows the node
    (design/0097); with it each clip also carries a C2PA manifest (design/0098) whose definition is
    computed here from the plan, embedded by `clip_signer` (the signing process: design/0134). Without it, or with one C2PA cannot use, the
    export is made all the same and its manifest's `c2pa` says why there is none. Returns the manifest.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if to_us <= from_us:
        raise ExportError("the range is empty: its end must be after its start")
    if out_dir.exists():
        raise ExportError(f"{out_dir} already exists; exports never overwrite")
    plans = [plan_camera(c["camera"], c["segments"], from_us, to_us, c.get("explain", []), c.get("lead", [])) for c in cameras]
    if not any(p.sources for p in plans):
        raise ExportError("there is no footage in that range for " + ", ".join(c["camera"] for c in cameras))
    tmp = _staging(out_dir)
    c2pa, c2pa_status = _c2pa_plan(chain, key, header, SYSTEM.now_us() if now_us is None else now_us)
    try:
        entries = (clips_writer or write_clips)(data_dir, tmp, cameras, from_us, to_us,
                                                _share(progress, 0.0, 1.0 - SIGNING_SHARE) if c2pa else progress)
        c2pa_claim.bind(entries, cameras, plans)  # edged's manifest, too, says what the plan holds (design/0134)
        if c2pa is not None:
            _sign_clips(tmp, entries, c2pa, key, clip_signer or c2pa_sign.sign_jobs, progress, plans)
        created = SYSTEM.now_us() if now_us is None else now_us
        manifest = {
            "format": FORMAT, **header,
            "requested": {"from_us": from_us, "to_us": to_us, "from_utc": utc(from_us), "to_utc": utc(to_us)},
            "cameras": entries,
            "created_us": created, "created_utc": utc(created),
            "node_public_key": key.public_b64, "node_key_fingerprint": key.fingerprint,
            "c2pa": c2pa_claim.outcome(c2pa_status, entries),
            **({"node_certificates": list(chain)} if chain else {}),
            "time_note": "second t of a clip is its from_us + t (UTC microseconds); gaps are holes in "
                         "the clip's timestamps, listed here with their reason",
        }
        body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        write_new(tmp / MANIFEST, body)
        if (header.get("readme") or {}).get("text"):
            write_new(tmp / README, header["readme"]["text"].encode())
        write_new(tmp / SIGNATURE, key.sign(body))
        write_new(tmp / PUBLIC_KEY, key.public_pem())
        fsync_dir(tmp)
        os.rename(tmp, out_dir)
        fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest



# --- working copies and staging folders --------------------------------------------------------------
_NAME = re.compile(r"\.?[A-Za-z0-9][A-Za-z0-9._-]*")  # a crashed export's ".x.partial" too; fullmatch (design/0315)


def export_dir(data_dir: Path, kind: str, grant_id: int, now_us: int) -> Path:
    """data_dir/exports/<grant>-<UTC time>/ (or working/ for a viewing's working copy)."""
    if kind not in (EXPORTS_DIR, WORKING_DIR):
        raise ValueError(kind)
    t = datetime.fromtimestamp(now_us / 1e6, timezone.utc)
    return Path(data_dir) / kind / f"{int(grant_id)}-{t:%Y%m%dT%H%M%S}.{now_us % 1_000_000:06d}Z"


def destroy_working_copy(data_dir: Path, folder: Path) -> dict[str, Any]:
    """Destroy a viewing's working copy (or a collected export's staging folder) and return
    what was destroyed (file names, sizes, SHA-256) for the audit record the caller writes.

    Only folders directly under data_dir/working or data_dir/exports: never footage.
    Blocking: run it in a thread, then append the record on the catalog writer.
    """
    data_dir = Path(data_dir).resolve()
    folder = Path(folder)
    target = folder.resolve()
    roots = {data_dir / WORKING_DIR, data_dir / EXPORTS_DIR}
    if target.parent not in roots or not _NAME.fullmatch(target.name) or folder.is_symlink():
        raise ExportError(f"{folder} is not a working copy or export staging folder of this node; "
                          "nothing was destroyed")
    if not target.is_dir():
        raise ExportError(f"{folder}: no such working copy")
    files = []
    for p in sorted(target.iterdir()):
        if p.is_dir() and not p.is_symlink():
            raise ExportError(f"{p}: unexpected folder inside a working copy; nothing was destroyed")
        files.append({"file": p.name, "bytes": p.lstat().st_size,
                      "sha256": sha256_file(p) if p.is_file() and not p.is_symlink() else None})
    for p in sorted(target.iterdir()):
        p.unlink()
    target.rmdir()
    fsync_dir(target.parent)
    return {"folder": str(target.relative_to(data_dir)), "files": files,
            "bytes": sum(f["bytes"] for f in files)}
