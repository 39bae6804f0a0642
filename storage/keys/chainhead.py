"""Signed audit chain heads (design/0026): "at time T, this node's audit log ended at record
SEQ with hash H", signed with the node's Ed25519 key (storage/keys/nodekey.py).

The central office keeps every head it receives; a box whose log was rewritten later cannot
produce a log that extends them (storage/audit.py). The signature binds the head to the
site and node, so a head cannot be replayed as another node's, and lets a head printed on
paper (the audit report's line, for a site without a broker) be checked like one received
over MQTT. Pure: no I/O; the key is passed in.

Signed bytes: canonical JSON (sorted keys, no spaces) of
``{"at_us", "hash", "node", "seq", "site", "v": 1}``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage import names
from storage.keys import nodekey

VERSION = 1
LINE_TAG = "edged-head"


def signed_bytes(site: str, node: str, seq: int, hash_: str, at_us: int) -> bytes:
    return json.dumps({"at_us": int(at_us), "hash": str(hash_), "node": node, "seq": int(seq), "site": site,
                       "v": VERSION}, sort_keys=True, separators=(",", ":")).encode()


def sign(key: nodekey.NodeKey, site: str, node: str, seq: int, hash_: str, at_us: int) -> dict[str, Any]:
    """{seq, hash, at_us, sig}: what goes in an MQTT audit message's ``signed_head``."""
    sig = key.sign(signed_bytes(site, node, seq, hash_, at_us))
    return {"seq": int(seq), "hash": hash_, "at_us": int(at_us), "sig": base64.b64encode(sig).decode()}


def check(public_key: str, site: str, node: str, head: dict[str, Any]) -> bool:
    """True when ``head`` ({seq, hash, at_us, sig}) is signed by ``public_key`` (base64 or PEM)."""
    try:
        key = _public(public_key)
        sig = base64.b64decode(str(head["sig"]), validate=True)
        data = signed_bytes(site, node, int(head["seq"]), str(head["hash"]), int(head["at_us"]))
    except (nodekey.NodeKeyError, KeyError, TypeError, ValueError, binascii.Error):
        return False
    return nodekey.check(key, sig, data)


@functools.lru_cache(maxsize=1024)
def _public(public_key: str) -> Ed25519PublicKey:
    """`nodekey.load_public`, remembered by the key's exact text (an office checks thousands of one
    node's heads a day against the one key of its birth; the key object is immutable: design/0475)."""
    return nodekey.load_public(public_key)


def to_line(site: str, node: str, head: dict[str, Any]) -> str:
    """One line a person can copy from a printed report: ``edged-head v1 SITE/NODE SEQ HASH AT_US SIG``."""
    return f"{LINE_TAG} v{VERSION} {site}/{node} {head['seq']} {head['hash']} {head['at_us']} {head['sig']}"


def from_line(line: str) -> tuple[str, str, dict[str, Any]]:
    """(site, node, head) from ``to_line``'s text; ValueError says what is wrong."""
    parts = line.split()
    if len(parts) != 7 or parts[0] != LINE_TAG or parts[1] != f"v{VERSION}" or parts[2].count("/") != 1:
        raise ValueError(f"not a signed chain head line ({LINE_TAG} v{VERSION} SITE/NODE SEQ HASH AT_US SIGNATURE)")
    site, node = names.node_name(parts[2], "the head's SITE/NODE")  # BadName is a ValueError
    try:
        seq, at_us = int(parts[3]), int(parts[5])
    except ValueError:
        raise ValueError("the head's SEQ and AT_US must be whole numbers") from None
    if len(parts[4]) != 64 or any(c not in "0123456789abcdef" for c in parts[4]):
        raise ValueError("the head's HASH must be 64 lower-case hex digits")
    return site, node, {"seq": seq, "hash": parts[4], "at_us": at_us, "sig": parts[6]}
