"""The verifier's handler of each message kind, registered against the kind (mqtt/kinds.py) it
takes: `@handles(kinds.ALARM)` on a method of central/verifier/verifier.py's Verifier (or a mixin of
it). tests/test_wire_kinds.py fails on a kind the office must verify (`verified=True`) that no
handler takes, so a kind left out loses no message unnoticed (issue 80, design/0340)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from mqtt.kinds import MessageKind

# a method: (the verifier, seq, the message's body, the node's policy) -> None
Handler = Callable[..., None]
H = TypeVar("H", bound=Handler)
HANDLERS: dict[str, Handler] = {}


def handles(kind: MessageKind) -> Callable[[H], H]:
    """Register the decorated method as the verifier's handler of ``kind``'s messages."""
    def register(fn: H) -> H:
        if not kind.verified or HANDLERS.get(kind.name, fn) is not fn:
            raise ValueError(f"{kind.name}: not a verified kind, or a second handler")  # i18n: a programming error
        HANDLERS[kind.name] = fn
        return fn
    return register


def handler_of(kind: str) -> Handler | None:
    """The handler of the kind of that name (None: the office stores it and derives nothing)."""
    return HANDLERS.get(kind)


__all__ = ["HANDLERS", "Handler", "handler_of", "handles"]
