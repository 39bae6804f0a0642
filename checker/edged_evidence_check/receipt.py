"""The office's receipt for an export (design/0318): what binds its signing to the office's clock.

When a box signs an export, its `export.done` audit record carries the manifest's SHA-256 on the
box's chain; the office, verifying that record, answers on ``cmd/receipt`` with this document,
signed by its own key (the key that signs `cmd/time`), which the CA vouches for (`endorsement`:
the CA's signed `office-key.json`, so a court that holds only the CA certificate checks it):

    {"format": FORMAT, "cmd": "receipt", "to": "SITE/NODE", "manifest_sha256": hex,
     "heard_us": the office's clock when it received the record, "office_key": base64 raw Ed25519,
     "endorsement": {...}, "sig": base64 over `canonical` of everything else}

The box keeps it beside the export as RECEIPT. It proves the manifest existed at or before
`heard_us` on the office's clock, whatever the box's clock said. A leaf: `cryptography` only (the
checker imports nothing of edged; the box and the office use it too).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "edged-office-receipt v1"
VERB = "receipt"
FILE = "office-receipt.json"
ENDORSEMENT_FORMAT = "edged-office-key v1"  # storage/keys/fleetkeys.py ENDORSEMENT_FORMAT
_HEX = re.compile(r"[0-9a-f]{64}")


class BadReceipt(ValueError):
    """The receipt is not one the office signed, or not of this form; the text says why."""


def canonical(doc: dict[str, Any]) -> bytes:
    """The signed bytes: everything but "sig", keys sorted, no spaces, ASCII (mqtt/commands.py `canonical`)."""
    return json.dumps({k: v for k, v in doc.items() if k != "sig"}, sort_keys=True, separators=(",", ":")).encode()


def _canonical_utf8(doc: dict[str, Any]) -> bytes:
    """An endorsement's signed bytes (storage/keys/signed_doc.py `canonical`: UTF-8, not escaped)."""
    return json.dumps({k: v for k, v in doc.items() if k != "sig"}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def raw(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _verifies(key_b64: Any, sig: Any, body: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(str(key_b64), validate=True))
        key.verify(base64.b64decode(str(sig), validate=True), body)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def form(doc: Any) -> dict[str, Any]:
    """`doc` if it has the receipt's fields with their types, else BadReceipt."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("cmd") != VERB:
        raise BadReceipt(f"not an office receipt ({FORMAT})")
    heard = doc.get("heard_us")
    if not isinstance(heard, int) or isinstance(heard, bool) or heard <= 0:
        raise BadReceipt("the receipt carries no time (heard_us)")
    if not isinstance(doc.get("manifest_sha256"), str) or not _HEX.fullmatch(doc["manifest_sha256"]):
        raise BadReceipt("the receipt names no manifest SHA-256")
    if not isinstance(doc.get("to"), str) or not isinstance(doc.get("sig"), str):
        raise BadReceipt("the receipt names no node, or is unsigned")
    return doc


def signed_by(doc: dict[str, Any], office_key_b64: str) -> bool:
    """Whether the receipt is the office key's (base64 raw) signature over it, naming that key."""
    return doc.get("office_key") == office_key_b64 and _verifies(office_key_b64, doc.get("sig"), canonical(doc))


def check(doc: Any, ca_key: Ed25519PublicKey) -> dict[str, Any]:
    """The receipt, if the office signed it with a key the CA (`ca_key`) vouches for; else BadReceipt."""
    got = form(doc)
    office = got.get("office_key")
    if not signed_by(got, str(office)):
        raise BadReceipt("the receipt's signature is not its office key's: it was changed, or forged")
    e = got.get("endorsement")
    if not (isinstance(e, dict) and e.get("format") == ENDORSEMENT_FORMAT and e.get("office_key") == office
            and e.get("central_key") == raw(ca_key) and _verifies(raw(ca_key), e.get("sig"), _canonical_utf8(e))):
        raise BadReceipt("the key that signed the receipt is not one the office's CA vouches for (its endorsement "
                         "is missing, or not the CA's signature over that key)")
    return got


def _utc(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def in_period(doc: dict[str, Any]) -> None:
    """BadReceipt unless the office heard of the export (`heard_us`) within the period the CA vouched
    for the key that signed the receipt (its endorsement's, design/0376); one without a period passes."""
    start, end = period(doc["endorsement"])
    if start is not None and end is not None and not start <= doc["heard_us"] <= end:
        raise BadReceipt(f"the receipt says the office heard of the export {_utc(doc['heard_us'])}, outside the "
                         f"period the CA vouched for the office's key ({_utc(start)} to {_utc(end)}, its endorsement): "
                         "a key the CA did not vouch for then signed it (design/0376)")


def period(endorsement: dict[str, Any]) -> tuple[int | None, int | None]:
    """The period the CA vouches for the office's key in `endorsement` (design/0376: `not_before_us`,
    `not_after_us`); (None, None) for one made before endorsements had a period."""
    start, end = endorsement.get("not_before_us"), endorsement.get("not_after_us")
    if start is None and end is None:
        return None, None
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise BadReceipt("the endorsement of the office's key has a malformed validity period")
    return start, end
