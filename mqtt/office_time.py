"""The central office's signed time (design/0095): what a box checks its clock against.

The office publishes ``cmd/time`` to each node it knows, every minute: ``{"cmd": "time", "to":
"<site>/<node>", "at_us": int, "nonce": str, "sig": base64}``, signed with the same Ed25519
key as every command (mqtt/commands.py `canonical`), not retained. Every signed command may
also carry ``issued_us`` (the office's time when it signed it). Neither is an action: a time
message is not run as a command nor put on the audit chain.

The signature and the address are all that is checked: not the expiry, which is judged on the
host clock, the very clock in question. A replayed time message is old: the box keeps the
latest office time it has heard (projected on its monotonic clock), so a replay can only say
"earlier", which never lets footage go sooner.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mqtt.commands import MAX_COMMAND_BYTES, canonical

VERB = "time"
EVERY_S = 60.0   # how often edged-central sends it to each node


def signed_time(payload: bytes, key: Ed25519PublicKey | None, target: str) -> int | None:
    """The office's time a signed message carries (`at_us` of a time message, else a command's
    `issued_us`), or None: no key, not signed by it, not addressed to `target`, or no time."""
    if key is None or len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("to") != target or not isinstance(doc.get("sig"), str):
        return None
    at = doc.get("at_us") if doc.get("cmd") == VERB else doc.get("issued_us")
    if not isinstance(at, int) or isinstance(at, bool) or at <= 0:
        return None
    try:
        key.verify(base64.b64decode(doc["sig"], validate=True), canonical(doc))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return None
    return at


def time_message(sign: Any, to: str, at_us: int, nonce: str | None = None) -> bytes:
    """What edged-central publishes on ``edged/v1/<site>/<node>/cmd/time``; `sign` is the
    office key's sign(bytes) -> bytes; `nonce`: the one the office keeps to take the node's answer
    as a clock sample (central/checks/clock.py), else a fresh one."""
    doc: dict[str, Any] = {"cmd": VERB, "to": to, "at_us": at_us, "nonce": nonce or secrets.token_hex(8)}
    doc["sig"] = base64.b64encode(sign(canonical(doc))).decode()
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


JUNK_PER_S = 64  # time messages failing their checks that are checked in one second; more wait for the next


class Listener:
    """Hears the office's time in every signed message on ``cmd/`` (on the connection's callback).
    A genuine time message is taken once a second at most; the limit is stamped only after its
    signature checks (issue 51: an unsigned one just before must not hide it). Messages failing
    their checks are checked at most JUNK_PER_S a second (a flood costs a bounded CPU)."""

    def __init__(self, key: Ed25519PublicKey | None, target: str, on_time: Callable[[int], None]):
        self.key, self.target, self.on_time = key, target, on_time
        self._last = float("-inf")
        self._junk: tuple[int, int] = (0, 0)  # (the second, failures in it)

    def hear(self, verb: str, payload: bytes) -> None:
        now, timed = time.monotonic(), verb == VERB
        second, failed = self._junk
        if timed and second == int(now) and failed >= JUNK_PER_S:
            return
        at = signed_time(payload, self.key, self.target)
        if at is None:
            if timed:
                self._junk = (int(now), failed + 1 if second == int(now) else 1)
            return
        if timed:
            if now - self._last < 1.0:
                return
            self._last = now
        self.on_time(at)
