"""The central office's signed time (design/0095): what a box checks its clock against.

The office publishes ``cmd/time`` to each node it knows, every minute: ``{"cmd": "time", "to":
"<site>/<node>", "at_us": int, "nonce": str, "sig": base64}``, signed with the same Ed25519
key as every command (mqtt/commands.py `canonical`), not retained. Every signed command may
also carry ``issued_us`` (the office's time when it signed it). Neither is an action: a time
message is not run as a command nor put on the audit chain.

The signature and the address are all that is checked: not the expiry, which is judged on the
host clock, the very clock in question. A replayed time message is old: the box keeps the
latest office time it has heard (projected on its monotonic clock), so a replay can only say
"earlier", which never lets footage go sooner; and it is only a lower bound, never a
disagreement (design/0370). The box's own question ties a time to now: each answer on ``clock``
carries a fresh nonce of the box (``ask``), and the office's next ``cmd/time`` to the node echoes
it; a time message echoing an ``ask`` the box made within ASK_FRESH_S was read by the office after
the box asked, so it bounds the true time from above too (by the ask's age when heard).

Each genuine ``cmd/time`` is also the office's question (design/0305): the box answers it at once
on ``clock``, live only (`answer_message`; never through the outbox: a late answer is no sample),
QoS 1, not retained, signed by the node key. The office takes the node's offset from the round
trip (storage/time/interval.exchange).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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


def time_message(sign: Any, to: str, at_us: int, nonce: str | None = None, ask: str | None = None) -> bytes:
    """What edged-central publishes on ``edged/v1/<site>/<node>/cmd/time``; `sign` is the
    office key's sign(bytes) -> bytes; `nonce`: the one the office keeps to take the node's answer
    as a clock sample (central/checks/clock.py), else a fresh one; `ask`: the node's own nonce from
    its latest answer, echoed (design/0370)."""
    doc: dict[str, Any] = {"cmd": VERB, "to": to, "at_us": at_us, "nonce": nonce or secrets.token_hex(8)}
    if ask is not None:
        doc["ask"] = ask
    doc["sig"] = base64.b64encode(sign(canonical(doc))).decode()
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


SEEN_KEPT = 4_096     # digests of payloads checked lately: the same payload again costs a hash, not a check
NONCES_KEPT = 256     # questions answered lately: each nonce is answered once
STALE_US = 120_000_000  # a question this much older than the newest office time heard is a replay: not answered
SIG_CHARS = 88        # an Ed25519 signature (64 bytes) in base64
ASK_FRESH_S = 180.0   # the box's own nonce ties an office time to now for this long (the office answers within a minute)
ASKS_KEPT = 16


def _candidate(payload: bytes, target: str, timed: bool) -> tuple[dict[str, Any], int] | None:
    """What can be checked without a signature check (bytes, JSON, address, a time, a signature's
    shape): the document and the office's time it carries, or None."""
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("to") != target:
        return None
    sig = doc.get("sig")
    if not isinstance(sig, str) or len(sig) != SIG_CHARS:
        return None
    at = doc.get("at_us") if timed and doc.get("cmd") == VERB else None if timed else doc.get("issued_us")
    if not isinstance(at, int) or isinstance(at, bool) or at <= 0:
        return None
    return doc, at


def _verifies(doc: dict[str, Any], key: Ed25519PublicKey) -> bool:
    try:
        key.verify(base64.b64decode(doc["sig"], validate=True), canonical(doc))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def answer_message(question: dict[str, Any], sign: Callable[[bytes], bytes], node_us: int, mono_us: int,
                   boot: str, ask: str | None = None) -> bytes:
    """The box's answer on ``edged/v1/<site>/<node>/clock`` (design/0305): the question's nonce and
    `at_us` echoed, the box's wall clock and CLOCK_MONOTONIC (us) read as it answers, its boot id,
    and its own question `ask` (design/0370), signed by the node key over mqtt.commands.canonical
    (the document without "sig")."""
    doc: dict[str, Any] = {"nonce": question["nonce"], "at_us": question["at_us"], "node_us": node_us,
                           "mono_us": mono_us, "boot": boot}
    if ask is not None:
        doc["ask"] = ask
    doc["sig"] = base64.b64encode(sign(canonical(doc))).decode()
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class Listener:
    """Hears the office's time in every signed message on ``cmd/`` (on the connection's callback),
    and the office's question in each genuine ``cmd/time`` (`on_question`: answered at once).

    A message that verifies is always heard (issue 73 item 6): a failure never shuts one out. What
    a flood costs is bounded per message: the checks without a signature first (address, shape),
    one signature check for a new payload, a hash for one seen before (junk again, or a replay of
    a genuine one, which says nothing new). The publisher of a
    message on a node's ``cmd/`` is not knowable here (MQTT names no sender; the broker's ACL lets
    only the office and the node itself publish there), so there is no cap per publisher on the
    box: the office caps each node's answers on ``clock`` (it knows the node by its topic)."""

    def __init__(self, key: Ed25519PublicKey | None, target: str, on_time: Callable[..., None],
                 on_question: Callable[[dict[str, Any]], None] | None = None):
        """`on_time(at_us)` for every genuine office time; `on_time(at_us, slack_us)` for one tied to
        the box's own question, `slack_us` the question's age when it was heard (design/0370)."""
        self.key, self.target, self.on_time, self.on_question = key, target, on_time, on_question
        self._asks: dict[str, float] = {}   # the box's own nonces and our monotonic s when made
        self._seen: dict[bytes, None] = {}   # insertion order: the oldest forgotten first
        self._answered: dict[str, None] = {}
        self._newest: tuple[int, float] | None = None  # (the newest office time heard, our monotonic s then)
        self.checked = self.rejected = 0

    def hear(self, verb: str, payload: bytes) -> None:
        timed = verb == VERB
        got = None if self.key is None else _candidate(payload, self.target, timed)
        if got is None:
            self.rejected += 1
            return
        doc, at = got
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        if digest in self._seen:  # the same payload again (junk, or a replay of what was heard): a hash
            self.rejected += 1
            return
        self.checked += 1
        assert self.key is not None
        good = _verifies(doc, self.key)
        self._seen[digest] = None
        if len(self._seen) > SEEN_KEPT:
            del self._seen[next(iter(self._seen))]
        if not good:
            return
        now = time.monotonic()
        made = self._asks.get(doc["ask"]) if timed and isinstance(doc.get("ask"), str) else None
        if made is not None and 0 <= now - made <= ASK_FRESH_S:
            self.on_time(at, round((now - made) * 1e6))
        else:
            self.on_time(at)
        if timed and self.on_question is not None and self._fresh(at, now):
            nonce = doc.get("nonce")
            if isinstance(nonce, str) and nonce and nonce not in self._answered:
                self._answered[nonce] = None
                if len(self._answered) > NONCES_KEPT:
                    del self._answered[next(iter(self._answered))]
                self.on_question(doc)

    def ask(self) -> str:
        """A new question of the box's own (its nonce), for its next answer on ``clock``."""
        nonce = secrets.token_hex(8)
        self._asks[nonce] = time.monotonic()
        while len(self._asks) > ASKS_KEPT:
            del self._asks[next(iter(self._asks))]
        return nonce

    def _fresh(self, at_us: int, now_s: float) -> bool:
        """Not a replay: no more than STALE_US older than the newest office time heard, carried on
        the monotonic clock (never the host's wall clock, the clock in question)."""
        newest = self._newest
        if newest is not None and at_us < newest[0] + round((now_s - newest[1]) * 1e6) - STALE_US:
            return False
        if newest is None or at_us > newest[0] + round((now_s - newest[1]) * 1e6):
            self._newest = (at_us, now_s)
        return True
