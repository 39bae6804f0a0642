"""The fleet's node keys as the central office saw them, signed by the central office's own
Ed25519 key (design/0065): the answer to "who holds the true keys?" that anyone can check.

One JSON file: {"format", "made_us", "central_key" (base64 raw), "central_fingerprint",
"nodes": [{"site", "node", "keys": [{"public_key", "fingerprint", "first_us", "last_us"}]}],
"sig"}. The signature is over the canonical JSON of everything but "sig" (sorted keys, no
spaces, UTF-8). Here because both sides use it: edged-central writes it (central/keys/keylist.py),
`edgectl verify --keys` reads it; storage/ is the layer both may use.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from storage.keys import nodekey, signed_doc

FORMAT = "edged-fleet-keys v1"
ENDORSEMENT_FORMAT = "edged-office-key v1"  # the CA's word for the office's key (central/keys/ca.py)


class KeyListError(ValueError):
    """The file is not a key list signed by the key it names, or not the central office's."""


def sign(key: nodekey.NodeKey, nodes: list[dict[str, Any]], made_us: int) -> dict[str, Any]:
    return signed_doc.sign(key, {"format": FORMAT, "made_us": made_us, "nodes": nodes})


def check(text: str | bytes, central_key: str | None = None) -> dict[str, Any]:
    """The key list in ``text``, its signature checked; ``central_key`` (base64, PEM or a
    fingerprint "SHA256:...") pins the central office's key. Raises KeyListError."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise KeyListError(f"not a key list (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("nodes"), list):
        raise KeyListError(f"not a key list (format {FORMAT!r} expected)")
    try:
        fp = signed_doc.signer(doc)
    except nodekey.NodeKeyError as exc:
        raise KeyListError(f"the key list's central key or signature is unreadable: {exc}") from None
    if fp is None:
        raise KeyListError("the key list's signature does not match: it was altered after it was signed")
    if central_key is not None:
        want = central_key.strip()
        if not want.startswith("SHA256:"):
            try:
                want = nodekey.fingerprint(nodekey.public_raw(nodekey.load_public(want)))
            except nodekey.NodeKeyError as exc:
                raise KeyListError(f"--central-key: {exc}") from None
        if want != fp and not endorsed(doc.get("office_endorsement"), want, fp):
            raise KeyListError(f"the key list is signed by {fp}, not by the central office's key {want}")
    doc["central_fingerprint"] = fp
    return doc


def endorsed(endorsement: Any, ca_fingerprint: str, office_fingerprint: str) -> bool:
    """Does `endorsement` (central/keys/ca.py `endorse_office`) carry the CA's (`ca_fingerprint`)
    signature over the office key `office_fingerprint`? The CA and the office have separate keys
    (design/0132): a key list signed by the office's key checks against the CA alone through it."""
    if not isinstance(endorsement, dict) or endorsement.get("format") != ENDORSEMENT_FORMAT:
        return False
    try:
        return (signed_doc.signer(endorsement) == ca_fingerprint
                and endorsement.get("office_fingerprint") == office_fingerprint
                and nodekey.fingerprint(base64.b64decode(str(endorsement.get("office_key")))) == office_fingerprint)
    except (nodekey.NodeKeyError, ValueError):
        return False


def keys_of(doc: dict[str, Any], site: str, node: str) -> list[dict[str, Any]]:
    """The keys the list names for one node, oldest first (empty: the node is not on it)."""
    for n in doc["nodes"]:
        if isinstance(n, dict) and n.get("site") == site and n.get("node") == node:
            return [k for k in n.get("keys") or [] if isinstance(k, dict) and isinstance(k.get("public_key"), str)]
    return []
