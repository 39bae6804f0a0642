"""The office's register of enrolments as a tamper-evident chain (design/0131).

One JSON line per event ("accepted", "revoked"), each with its place (`seq`, from 0), the
SHA-256 of the line before it (`prev`; 64 zeros for the first) and the CA key's signature over
the rest (`sig`, the canonical JSON of storage/keys/signed_doc.py). Beside it, `enrolments.head`:
the number of lines and the hash of the last one, signed by the same key, rewritten after each
append. A line edited, removed, reordered or added by hand breaks a signature or the chain; the
last lines removed (the newest `revoked` line, say) leave fewer lines than the head names. Either
way `read` raises RegisterError and nothing is built from the register (no CRL, no key list, no
"is this node revoked?" answer): a register cut by hand never un-revokes a node. Lines beyond the
head that chain and are signed are kept (a crash between the append and the head's rewrite).

Writing needs the CA's key (only the CA's own user has it, design/0132); reading needs only the
CA certificate's public key: the dashboard and the instances read, never write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.disk.fsutil import fsync_dir, replace_durably
from storage.keys import nodekey
from storage.keys.signed_doc import canonical

REGISTER = "enrolments.jsonl"
HEAD = "enrolments.head"
GENESIS = "0" * 64


class RegisterError(Exception):
    """The register is not the chain the CA signed: altered, cut or out of order."""


def _line_hash(raw: bytes) -> str:
    return hashlib.sha256(raw.rstrip(b"\n")).hexdigest()


def _signed(key: nodekey.NodeKey, doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "sig": base64.b64encode(key.sign(canonical(doc))).decode()}


def _sig_ok(pub: Ed25519PublicKey, doc: dict[str, Any]) -> bool:
    try:
        sig = base64.b64decode(str(doc.get("sig")), validate=True)
    except (binascii.Error, ValueError):
        return False
    return nodekey.check(pub, sig, canonical(doc))


def _lines(folder: Path) -> list[bytes]:
    try:
        data = (folder / REGISTER).read_bytes()
    except FileNotFoundError:
        return []
    return [ln for ln in data.split(b"\n") if ln.strip()]


def _head(folder: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((folder / HEAD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        raise RegisterError(f"{folder / HEAD} is not the register's signed head") from None
    return doc if isinstance(doc, dict) else {}


def check(lines: list[bytes], head: dict[str, Any] | None, pub: Ed25519PublicKey) -> list[dict[str, Any]]:
    """Pure: the events of a register whose every line is signed by `pub` and chained, and which
    holds at least the lines its signed head names; raises RegisterError saying where it broke."""
    events: list[dict[str, Any]] = []
    prev = GENESIS
    for i, raw in enumerate(lines):
        try:
            ev = json.loads(raw)
        except ValueError:
            raise RegisterError(f"line {i + 1} of the register is not JSON") from None
        if not isinstance(ev, dict) or not _sig_ok(pub, ev):
            raise RegisterError(f"line {i + 1} of the register is not signed by the office's CA (edited by hand?)")
        if ev.get("seq") != i or ev.get("prev") != prev:
            raise RegisterError(f"line {i + 1} of the register does not follow line {i}: a line was removed, "
                                "added or moved by hand")
        prev = _line_hash(raw)
        events.append(ev)
    if head is None:
        if lines:
            raise RegisterError("the register's signed head is missing")
        return events
    n = head.get("lines")
    if not _sig_ok(pub, head) or not isinstance(n, int) or n < 0:
        raise RegisterError("the register's head is not signed by the office's CA")
    if n > len(lines):
        raise RegisterError(f"the register holds {len(lines)} lines, but its signed head names {n}: "
                            "the last lines were removed by hand")
    if n and head.get("hash") != _line_hash(lines[n - 1]):
        raise RegisterError(f"line {n} of the register is not the one its signed head names")
    return events


def read(folder: Path, pub: Ed25519PublicKey) -> list[dict[str, Any]]:
    """The register's events, checked against the CA's public key. Blocking (reads files)."""
    return check(_lines(Path(folder)), _head(Path(folder)), pub)


def append(folder: Path, key: nodekey.NodeKey, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append `events` (each signed and chained), fsynced, then the new signed head. Checks the
    register first: nothing is added to a broken one. Returns the events as written."""
    folder = Path(folder)
    lines = _lines(folder)
    check(lines, _head(folder), key.private_key().public_key())
    prev = _line_hash(lines[-1]) if lines else GENESIS
    out, raw = [], b""
    for i, ev in enumerate(events, start=len(lines)):
        doc = _signed(key, {**{k: v for k, v in ev.items() if k not in ("seq", "prev", "sig")}, "seq": i,
                            "prev": prev})
        line = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()
        prev = _line_hash(line)
        raw += line + b"\n"
        out.append(doc)
    path = folder / REGISTER
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(folder)
    head = _signed(key, {"lines": len(lines) + len(events), "hash": prev})
    replace_durably(folder / HEAD, (json.dumps(head, sort_keys=True) + "\n").encode(), 0o644)
    return out
