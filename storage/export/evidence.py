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

import base64
import json
import os
import re
import shutil
import stat
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



# --- checking an export ----------------------------------------------------------------------------
# What an export's own files may weigh when verified (issue 45, issue 74): a hostile folder must not
# hang or exhaust the verifier (a FIFO as manifest.json, a link to /dev/zero, a 10 GB "manifest",
# JSON nested 100,000 deep). The caps are the verifier core's (edged_evidence_check.bounds, design/0316).
FILE_CAPS = bounds.CAPS
NotARegularFile = bounds.TooBig  # a link, a FIFO, a device or a folder, or over its size cap
read_export_file = bounds.read_small  # one of the export's own small files, within its cap; never a link or FIFO


def _clip_entries(manifest: Any) -> list[dict[str, Any]] | None:
    """The manifest's clip entries if every field has its type, else None (never an exception)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cameras"), list):
        return None
    clips = []
    for cam in manifest["cameras"]:
        if not isinstance(cam, dict) or not isinstance(cam.get("clips"), list):
            return None
        for c in cam["clips"]:
            if not (isinstance(c, dict) and isinstance(c.get("file"), str) and isinstance(c.get("sha256"), str)
                    and isinstance(c.get("bytes"), int) and not isinstance(c.get("bytes"), bool)):
                return None
            clips.append(c)
    return clips


def _regular(path: Path) -> os.stat_result | None:
    """The file's own stat if it is a regular file (not followed through a link), else None."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def verify_export(folder: Path, public_key: str | bytes | None = None, extras: bool = True) -> list[str]:
    """Every problem with an export folder, each naming the file; empty means it is intact.

    `public_key` (base64 raw or PEM) is the node's published key; without it the key shipped
    in the folder is used, which proves integrity but not origin. Over 60 lines: one check after
    another, in the order a reader of the result needs them (signature, key, clips, extra files).
    """
    folder = Path(folder)
    problems: list[str] = []
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    try:
        body = read_export_file(folder, MANIFEST)
    except FileNotFoundError:
        return [f"{MANIFEST}: missing; this is not a whole export"]
    except OSError as exc:
        return [str(exc) if isinstance(exc, NotARegularFile) else f"{MANIFEST}: {exc.strerror}"]
    sig: bytes | None = None
    try:
        sig = read_export_file(folder, SIGNATURE)
    except FileNotFoundError:
        problems.append(f"{SIGNATURE}: missing, so the manifest cannot be trusted")
    except OSError as exc:
        problems.append(str(exc) if isinstance(exc, NotARegularFile) else f"{SIGNATURE}: {exc.strerror}")
    shipped = None
    try:
        shipped = nodekey.load_public(read_export_file(folder, PUBLIC_KEY))
    except FileNotFoundError:
        if public_key is None:
            problems.append(f"{PUBLIC_KEY}: missing; give the node's public key to check the signature")
    except OSError as exc:
        problems.append(str(exc) if isinstance(exc, NotARegularFile) else f"{PUBLIC_KEY}: {exc.strerror}")
    except nodekey.NodeKeyError as exc:
        problems.append(f"{PUBLIC_KEY}: {exc}")
    key = shipped
    if public_key is not None:
        try:
            key = nodekey.load_public(public_key)
        except nodekey.NodeKeyError as exc:
            return [f"the key given: {exc}"]
        if shipped is not None and nodekey.public_raw(shipped) != nodekey.public_raw(key):
            problems.append(f"{PUBLIC_KEY}: not the key you gave: the export was signed by another key "
                            f"({nodekey.fingerprint(nodekey.public_raw(shipped))})")
    if sig is not None and key is not None and not nodekey.check(key, sig, body):
        problems.append(f"{MANIFEST}: the signature does not match: {MANIFEST} or {SIGNATURE} was changed "
                        "after the export was signed")
    try:
        manifest = bounds.load_json(body, MANIFEST)
    except ValueError as exc:
        return problems + [str(exc)]
    clips = _clip_entries(manifest)
    if clips is None or not isinstance(manifest, dict):
        return problems + [f"{MANIFEST}: not a readable edged manifest (a field missing or of the wrong type)"]
    if not clips:
        problems.append(f"{MANIFEST}: lists no clip: an export without footage is not an export")
    if key is not None and manifest.get("node_public_key") not in (None, _b64(key)):
        problems.append(f"{MANIFEST}: names a different node key than the one that signed it")
    expected = {MANIFEST, SIGNATURE, PUBLIC_KEY, RECEIPT}  # the receipt, if any, is the checker core's to judge
    readme = manifest.get("readme") if isinstance(manifest.get("readme"), dict) else None
    if readme is not None and readme.get("text"):
        expected.add(README)
        try:
            if read_export_file(folder, README).decode("utf-8") != readme["text"]:
                problems.append(f"{README}: differs from the text in {MANIFEST}: it was changed")
        except (OSError, UnicodeDecodeError):
            problems.append(f"{README}: missing, not a regular file, or not UTF-8 text")
    for clip in clips:
        name = str(clip.get("file", ""))
        expected.add(name)
        path = folder / name
        if "/" in name or name.startswith(".") or not name:
            problems.append(f"{MANIFEST}: names a clip file outside the folder ({name!r})")
        elif (st := _regular(path)) is None:
            problems.append(f"{name}: missing, or not a regular file")
        elif st.st_size != clip["bytes"]:
            problems.append(f"{name}: {st.st_size} bytes, the manifest says {clip['bytes']}: "
                            "the clip was changed")
        elif sha256_file(path) != clip.get("sha256"):
            problems.append(f"{name}: its SHA-256 does not match the manifest: the clip was changed")
    if extras:  # `edgectl verify` says these "not checked" (design/0316: verdict of the checker's core)
        problems.extend(f"{extra}: not part of the export (added after it was made)"
                        for extra in sorted(p.name for p in folder.iterdir() if p.name not in expected))
    return problems


def listed(folder: Path, manifest: dict[str, Any]) -> set[str]:
    """The file names an export's manifest accounts for (its own files and its clips)."""
    names = {MANIFEST, SIGNATURE, PUBLIC_KEY} | ({RECEIPT} if (folder / RECEIPT).exists() else set())
    if isinstance(manifest.get("readme"), dict) and manifest["readme"].get("text"):
        names.add(README)
    return names | {str(c.get("file")) for c in (_clip_entries(manifest) or [])}


def _b64(key: Any) -> str:
    return base64.b64encode(nodekey.public_raw(key)).decode()


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
