"""What the control socket's two sides share: a request is one JSON line {"op", "args", "token"};
the reply is {"ok": true, "result": ...} or {"ok": false, "error": ...}, after any number of
{"progress": {...}} lines. A refusal is a RequestError on both sides."""

from __future__ import annotations


class RequestError(Exception):
    """A refused request; the message goes back to the caller as is."""


class DaemonDown(RequestError):
    """No daemon answers on the socket (edgectl exits with its own status)."""
