"""What the control socket's two sides share: a request is one JSON line {"op", "args", "token"};
the reply is {"ok": true, "result": ...} or {"ok": false, "error": ...}, after any number of
{"progress": {...}} lines. A refusal is a RequestError on both sides."""

from __future__ import annotations

import json

from edged.i18n import _


class RequestError(Exception):
    """A refused request; the message goes back to the caller as is."""


class DaemonDown(RequestError):
    """No daemon answers on the socket (edgectl exits with its own status)."""


MAX_DEPTH = 32  # no request needs more than a few levels; 50,000 `[` made json.loads recurse out (issue 27)


class BadRequest(RequestError):
    """A line that is not a request the daemon reads: too deep, NaN/Infinity, not JSON."""


def nesting(line: bytes) -> int:
    """The deepest nesting of [ and { in a JSON text, outside strings (no parsing, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in line.decode("utf-8", "replace"):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> None:
    raise BadRequest(_("{name} is not a number a request may hold").format(name=name))


def decode(line: bytes) -> object:
    """One request line as JSON, refusing what json.loads would take but nothing needs: nesting
    deeper than MAX_DEPTH (checked before parsing) and NaN/Infinity."""
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH and nesting(line) > MAX_DEPTH:
        raise BadRequest(_("the request is nested deeper than {n} levels").format(n=MAX_DEPTH))
    try:
        return json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(_("the request is not JSON")) from None
