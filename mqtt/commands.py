"""Commands from the central office on ``cmd/<verb>``: checked, run, recorded, answered.

A command must be ``{"cmd": verb, "to": "<site>/<node>", "args": {...}, "nonce": str,
"expires_us": int, "sig": base64}`` (plus optionally ``"correlation"``, echoed), signed with
Ed25519 over the canonical JSON of everything but ``sig`` (`canonical`): so the verb and the
node are under the signature, and a command signed for one node or verb does not run as
another (design/0020). Without ``mqtt.command_key`` no command runs at all: each is refused
and recorded. A command past its expiry, expiring further ahead than
``command_max_age``, or carrying a nonce seen before (nonces are kept in outbox.db until
they expire, so a restart does not reopen the window) is refused. Only registered verbs run;
none deletes or formats anything (invariant 4), and verbs that sound like it cannot even be
registered. Every command, accepted or not, is recorded; rejected ones beyond a burst are
counted into the next record instead of one record each, so a flood cannot fill the outbox.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from storage.time.clock import SYSTEM, Clock

log = logging.getLogger("edged.mqtt")

Handler = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]
MAX_COMMAND_BYTES = 64 * 1024
QUEUE_MAX = 64                 # commands waiting to run; more are dropped (and counted)
HANDLER_TIMEOUT_S = 60.0       # a command still running then is answered as failed
# As tests/test_cli_surface.py holds edgectl to: no verb that sounds like deleting footage.
FORBIDDEN_VERB = re.compile(r"(^|[_-])(delete|remove|purge|erase|wipe|format|rm|drop|destroy)($|[_-])", re.IGNORECASE)
REJECT_BURST, REJECT_EVERY_S = 20, 3.0


def canonical(doc: dict[str, Any]) -> bytes:
    """The signed bytes: everything but "sig", keys sorted, no spaces, ASCII (json defaults)."""
    return json.dumps({k: v for k, v in doc.items() if k != "sig"}, sort_keys=True,
                      separators=(",", ":")).encode()


def sign_command(key: Ed25519PrivateKey, verb: str, args: dict[str, Any], nonce: str, expires_us: int,
                 to: str | None, **extra: Any) -> dict[str, Any]:
    """What the central office sends (here for tests, the benchmark and as the reference);
    `to` is "<site>/<node>" (None only to build a refused command in a test)."""
    doc = {"cmd": verb, "args": args, "nonce": nonce, "expires_us": expires_us, **extra}
    if to is not None:
        doc["to"] = to
    return {**doc, "sig": base64.b64encode(key.sign(canonical(doc))).decode()}


def load_key(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64))


def key_fingerprint(b64: str) -> str:
    return hashlib.sha256(base64.b64decode(b64)).hexdigest()[:16]


class CommandRefused(Exception):
    """A handler's refusal of a valid, signed command (e.g. a legal hold over MQTT): recorded
    as not accepted, with this message as the reason."""


@dataclass(frozen=True, slots=True)
class Checked:
    verb: str
    accepted: bool
    reason: str | None = None
    args: dict[str, Any] | None = None
    nonce: str | None = None
    expires_us: int | None = None
    correlation: Any = None  # the request's "correlation" field, echoed in the reply (MQTT 3.1.1)


def check_command(verb: str, payload: bytes, *, verbs: Collection[str], key: Ed25519PublicKey | None,
                  max_age_us: int, now_us: int, target: str) -> Checked:
    """Everything about a command but its nonce's freshness: a pure function of its inputs."""
    def no(reason: str, **kw: Any) -> Checked:
        return Checked(verb, False, reason, **kw)

    if len(payload) > MAX_COMMAND_BYTES:
        return no(f"too large ({len(payload)} bytes, at most {MAX_COMMAND_BYTES})")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return no("not JSON")
    if not isinstance(doc, dict):
        return no("not a JSON object")
    correlation = doc.get("correlation")
    if verb not in verbs:
        return no(f"unknown command (known: {', '.join(sorted(verbs))})", correlation=correlation)
    if key is None:
        return no("this node runs no commands: mqtt.command_key (the central office's public key) is not set",
                  correlation=correlation)
    sig = doc.get("sig")
    if sig is None:
        return no("unsigned (this node accepts only commands signed by the central office)", correlation=correlation)
    try:
        key.verify(base64.b64decode(sig, validate=True), canonical(doc))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return no("bad signature", correlation=correlation)
    args, nonce, expires = doc.get("args", {}), doc.get("nonce"), doc.get("expires_us")
    kw = {"correlation": correlation}
    if "cmd" not in doc or "to" not in doc:
        return no('a command names its verb ("cmd") and its node ("to": "<site>/<node>"), both signed', **kw)
    if doc["cmd"] != verb:
        return no(f"\"cmd\" ({_short(doc.get('cmd'))}) does not match the topic's verb", **kw)
    if not isinstance(args, dict):
        return no('"args" must be a JSON object', **kw)
    if doc["to"] != target:
        return no(f"addressed to {_short(doc['to'])}, not to this node ({target})", **kw)
    if nonce is not None and (not isinstance(nonce, str) or not 8 <= len(nonce) <= 128):
        return no('"nonce" must be a string of 8 to 128 characters', **kw)
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)):
        return no('"expires_us" must be an integer (UTC microseconds)', **kw)
    if nonce is None or expires is None:
        return no('a signed command needs "nonce" and "expires_us"', **kw)
    kw.update(args=args, nonce=nonce, expires_us=expires)
    if expires < now_us:
        return no(f"expired {(now_us - expires) / 1e6:.1f} s ago", **kw)
    if expires > now_us + max_age_us:
        return no(f"expires {(expires - now_us) / 1e6:.0f} s ahead, more than mqtt.command_max_age allows", **kw)
    return Checked(verb, True, **kw)


def _short(value: Any) -> str:
    """A sender's value in a reason (logged and published): never more than 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class CommandDesk:
    """Takes commands off the connection (without blocking it) and runs them one at a time."""

    def __init__(self, *, handlers: dict[str, Handler], key_b64: str | None, max_age_us: int, target: str,
                 use_nonce: Callable[[str, int, int], Awaitable[bool]],
                 record: Callable[[dict[str, Any]], Awaitable[None]],
                 reply: Callable[[str, dict[str, Any], bytes | None], Awaitable[None]], clock: Clock = SYSTEM):
        self.clock = clock
        bad = [verb for verb in handlers if FORBIDDEN_VERB.search(verb)]
        if bad:
            raise ValueError(f"refusing to register command(s) {sorted(bad)}: no command deletes or formats")
        self.handlers = handlers
        self.key = load_key(key_b64) if key_b64 else None
        self.actor = f"mqtt:key:{key_fingerprint(key_b64)}" if key_b64 else "mqtt:no-key"
        self.max_age_us = max_age_us
        self.target = target
        self._use_nonce, self._record, self._reply = use_nonce, record, reply
        self.queue: asyncio.Queue[tuple[str, bytes, bytes | None, int]] = asyncio.Queue(QUEUE_MAX)
        self.dropped = 0          # commands that found the queue full
        self._suppressed = 0      # rejected commands not recorded one by one
        self._tokens, self._refill_at = float(REJECT_BURST), time.monotonic()

    def incoming(self, verb: str, payload: bytes, correlation: bytes | None) -> None:
        """Called on the connection's callback: never blocks, never raises."""
        try:
            self.queue.put_nowait((verb, payload, correlation, self.clock.now_us()))
        except asyncio.QueueFull:
            if not self.dropped:
                log.warning("MQTT commands arrive faster than they run; dropping (and counting) the excess")
            self.dropped += 1

    async def run(self, stopping: asyncio.Event) -> None:
        """Run queued commands until stopping; commands still queued then are refused, recorded."""
        stop = asyncio.ensure_future(stopping.wait())
        try:
            while True:
                get = asyncio.ensure_future(self.queue.get())
                done, _ = await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    break
                try:
                    await self.handle(*get.result())
                except asyncio.CancelledError:
                    raise
                except Exception:  # one bad command must not end command handling
                    log.exception("MQTT command handling failed")
        finally:
            stop.cancel()
        while not self.queue.empty():
            verb, payload, correlation, at = self.queue.get_nowait()
            try:
                await self.handle(verb, payload, correlation, at, refuse="edged is shutting down")
            except Exception:  # the others must still be recorded
                log.exception("MQTT command handling failed")

    async def handle(self, verb: str, payload: bytes, correlation: bytes | None, received_us: int,
                     refuse: str | None = None) -> dict[str, Any]:
        """Check, run, record and answer one command; returns its record."""
        now = self.clock.now_us()
        checked = check_command(verb, payload, verbs=self.handlers, key=self.key, max_age_us=self.max_age_us,
                                now_us=now, target=self.target)
        if refuse is not None:
            checked = replace(checked, accepted=False, reason=refuse)
        if (checked.accepted and checked.nonce is not None and checked.expires_us is not None
                and not await self._use_nonce(checked.nonce, checked.expires_us, now)):
            checked = replace(checked, accepted=False, reason="replayed: this nonce was already used")
        record: dict[str, Any] = {
            "kind": "command", "cmd": verb, "accepted": checked.accepted, "reason": checked.reason,
            "actor": self.actor, "nonce": checked.nonce, "args": checked.args, "received_us": received_us,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
        reply: dict[str, Any] = {"cmd": verb, "ok": False}
        if checked.accepted:
            try:
                result = await asyncio.wait_for(self.handlers[verb](dict(checked.args or {}), self.actor),
                                                HANDLER_TIMEOUT_S)
            except asyncio.CancelledError:
                raise
            except CommandRefused as exc:
                checked = replace(checked, accepted=False, reason=str(exc))
                record.update(accepted=False, reason=str(exc))
                reply["error"] = str(exc)
            except TimeoutError:
                log.warning("MQTT command %s did not finish within %.0f s", verb, HANDLER_TIMEOUT_S)
                record.update(ok=False, error=f"did not finish within {HANDLER_TIMEOUT_S:.0f} s")
                reply["error"] = record["error"]
            except Exception as exc:  # noqa: BLE001 - a failed command is answered, not fatal
                log.warning("MQTT command %s failed: %s", verb, exc)
                record.update(ok=False, error=str(exc) or type(exc).__name__)
                reply["error"] = record["error"]
            else:
                record["ok"] = reply["ok"] = True
                reply["result"] = result if isinstance(result, dict) else {"value": result}
            log.info("MQTT command %s from %s: %s", verb, self.actor,
                     "done" if record.get("ok") else f"refused: {checked.reason}" if not checked.accepted else "failed")
        else:
            if not self._allow_rejection_record():
                return record
            log.warning("MQTT command %s refused: %s", verb, checked.reason)
            reply["error"] = checked.reason
            if self._suppressed:
                record["suppressed_before"], self._suppressed = self._suppressed, 0
        if self.dropped:
            record["dropped_before"], self.dropped = self.dropped, 0
        if checked.nonce is not None:
            reply["nonce"] = checked.nonce
        if checked.correlation is not None:
            reply["correlation"] = checked.correlation
        await self._record(record)
        await self._reply(verb, reply, correlation)
        return record

    def _allow_rejection_record(self) -> bool:
        t = time.monotonic()
        self._tokens = min(REJECT_BURST, self._tokens + (t - self._refill_at) / REJECT_EVERY_S)
        self._refill_at = t
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        if not self._suppressed:
            log.warning("many refused MQTT commands; recording them as a count from now on")
        self._suppressed += 1
        return False
