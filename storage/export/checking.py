"""An export checked (what `edgectl verify` and the desk run, and the redacted copy's release,
storage/redact/release.py): every problem with its folder, each naming the file, read within the
verifier core's caps so a hostile folder cannot hang or exhaust it (edged_evidence_check.bounds,
design/0316). The export itself is storage/export/evidence.py."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

from edged_evidence_check import bounds
from storage.disk.hashing import sha256_file
from storage.export.evidence import MANIFEST, PUBLIC_KEY, README, RECEIPT, SIGNATURE
from storage.keys import nodekey

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
