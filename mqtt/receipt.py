"""The office's receipt for an export's manifest (design/0318), on ``cmd/receipt``: made by the
office when it verifies a box's `export.done` audit record (central/verifier/verifier_kinds.py),
heard by the box, which keeps it beside the export (storage/export/evidence.py `keep_receipt`).

The document and its check are the checker's (edged_evidence_check/receipt.py: a court checks it
with the CA alone); here the office signs one with its key (the key of `cmd/time` and every
command), and the box takes one only if that key, its `mqtt.command_key`, signed it for this node.
Not a command: never run, answered or recorded as one.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from edged_evidence_check import receipt as form

from mqtt.commands import MAX_COMMAND_BYTES

VERB = form.VERB
FILE = form.FILE


def receipt_message(sign: Callable[[bytes], bytes], office_key_b64: str, to: str, manifest_sha256: str,
                    heard_us: int, endorsement: dict[str, Any] | None) -> bytes:
    """What edged-central publishes on ``edged/v1/<site>/<node>/cmd/receipt``; `sign` is the office
    key's sign(bytes) -> bytes, `endorsement` the CA's word for that key (central/keys/ca.py)."""
    doc: dict[str, Any] = {"format": form.FORMAT, "cmd": VERB, "to": to, "manifest_sha256": manifest_sha256,
                           "heard_us": heard_us, "office_key": office_key_b64, "endorsement": endorsement}
    doc["sig"] = base64.b64encode(sign(form.canonical(doc))).decode()
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def heard(payload: bytes, key: Ed25519PublicKey | None, target: str) -> dict[str, Any] | None:
    """The receipt in `payload` if the office's key (`key`, the box's command key) signed it for
    `target` ("<site>/<node>"); None otherwise (no key, too large, not one, another node's)."""
    if key is None or len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        doc = form.form(json.loads(payload))
    except (UnicodeDecodeError, ValueError):
        return None
    if doc["to"] != target or not form.signed_by(doc, form.raw(key)):
        return None
    return doc
