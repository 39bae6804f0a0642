"""A JSON document the central office signs (design/0065): its Ed25519 key in "central_key"
(base64 raw), its fingerprint in "central_fingerprint", and in "sig" the signature over the
canonical JSON of everything but "sig" (sorted keys, no spaces, UTF-8). The fleet's key list
(storage/keys/fleetkeys.py) and an archived month's manifest (central/archive/archive.py) are such
documents; each checks its own fields and says its own errors."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from storage.keys import nodekey


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in doc.items() if k != "sig"}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def sign(key: nodekey.NodeKey, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the signer's key and fingerprint, signed by `key`."""
    out = {**doc, "central_key": key.public_b64, "central_fingerprint": key.fingerprint}
    out["sig"] = base64.b64encode(key.sign(canonical(out))).decode()
    return out


def signer(doc: dict[str, Any]) -> str | None:
    """The fingerprint of the key the document names, if its signature is that key's over the
    document; None if the document was altered after it was signed. Raises nodekey.NodeKeyError
    when the key or the signature cannot be read."""
    try:
        pub = nodekey.load_public(str(doc.get("central_key")))
        sig = base64.b64decode(str(doc.get("sig")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise nodekey.NodeKeyError(str(exc)) from None
    return nodekey.fingerprint(nodekey.public_raw(pub)) if nodekey.check(pub, sig, canonical(doc)) else None
