"""What every answer of the viewer carries, and which Host a request may name: the page loads
nothing from elsewhere and is never framed or cached; a request naming another host is
refused (DNS rebinding: a page of another site served on our address).

Also the names the viewer's server and the desk share (the login cookie, the login's size cap
and refusal, the static folder), here so that the desk imports nothing of the server."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Any

STATIC = Path(__file__).with_name("static")
COOKIE = "edged_viewer"
DEVICE_COOKIE = "edged_known"   # the browser's mark: the owner's known path past the login ceiling (design/0320)
LOGIN_BODY_MAX = 4096     # a name of at most 32 characters and a password

HEADERS = {
    # No inline script or style, nothing from elsewhere, never framed, never cached.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` on every POST,
    # so a form from a sandboxed or foreign page could not be told from ours (issue 45)
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class LoginRefused(Exception):
    def __init__(self, status: int, message: str, retry_after: int = 0):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def allowed_hosts(host: str, port: int, names: tuple[str, ...]) -> frozenset[str]:
    """The Host headers a request may carry: the listen address and configured names, with or
    without the port (and localhost on loopback)."""
    shown = f"[{host}]" if ":" in host else host
    bases = {shown.lower(), *names}
    if ipaddress.ip_address(host).is_loopback:
        bases.add("localhost")
    return frozenset({b for b in bases} | {f"{b}:{port}" for b in bases})


def door_of(address: str | None, token: str | None) -> dict[str, Any]:
    """What the audit records of one web request say of its door (issue 45): the desk, the
    client's address and the session, named by the first 12 hex digits of its token's SHA-256
    (the token itself is a password and never goes on the record)."""
    door: dict[str, Any] = {"via": "desk", "address": address or ""}
    if token:
        door["session"] = hashlib.sha256(token.encode()).hexdigest()[:12]
    return door
