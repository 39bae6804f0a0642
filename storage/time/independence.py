"""Whether a camera's clock is a source independent of the box's own (issue 51, design/0126). Pure.

Cameras usually take their time from the site's NTP server, the very server the box follows (or
from the box itself): their clocks then say what the box's clock says, right or wrong, and two of
them agreeing proves nothing. A camera counts toward corroborating the host clock
(storage/time/corroboration.py) only when it names its NTP servers over ONVIF (GetNTP) and none of
them is one of the box's: a camera that follows the box's server or the box, or says nothing (no
ONVIF, GetNTP refused, no server named), does not count. When what the box follows cannot be
read, no camera can be shown independent.

The box's servers come from its own time daemon as it reports them: chrony (`chronyc -c -n
sources`: the addresses it polls) or systemd-timesyncd (`timedatectl show-timesync`: the
servers configured, from DHCP, the fallbacks, and the one in use). The shell (edged/daemon/
time_gate.py, edged/daemon/camera_clocks.py) adds each name's addresses before comparing.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

FOLLOWS, SILENT, UNKNOWN_BOX, OWN = "follows the box's time source", "names no NTP server", \
    "the box's own time source is unknown", "its own NTP server"


def normalise(name: str) -> str:
    """"NTP.Site.LAN." -> "ntp.site.lan"; "[fe80::1]:123" -> "fe80::1"; "10.0.0.1:123" -> "10.0.0.1"."""
    n = name.strip().lower().rstrip(".")
    if n.startswith("["):
        return n[1:].split("]", 1)[0]
    if n.count(":") == 1:
        n = n.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(n))
    except ValueError:
        return n


def chrony_servers(sources: str) -> set[str]:
    """The servers and peers in `chronyc -c -n sources` (mode ^ or =; a # reference clock is the
    box's own hardware, not a server a camera could follow)."""
    out = set()
    for line in sources.splitlines():
        cols = line.split(",")
        if len(cols) > 2 and cols[0] in ("^", "=") and cols[2].strip():
            out.add(normalise(cols[2]))
    return out


TIMESYNC_KEYS = ("ServerName", "ServerAddress", "SystemNTPServers", "LinkNTPServers", "FallbackNTPServers")


def timesyncd_servers(show: str) -> set[str]:
    """The servers `timedatectl show-timesync` names (KEY=VALUE lines, lists space-separated):
    every one it might follow, the fallbacks too (one more name only makes a camera count less)."""
    out = set()
    for line in show.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in TIMESYNC_KEYS:
            out |= {normalise(v) for v in value.split() if v.strip()}
    return out


def independent(camera: Iterable[str] | None, box: set[str] | None) -> tuple[bool, str]:
    """(the camera counts, why): `camera` the NTP servers it named (with their addresses), None
    when it said nothing; `box` the box's servers with their addresses and its own addresses,
    None when they could not be read."""
    named = {normalise(c) for c in camera or () if c.strip()}
    if not named:
        return False, SILENT
    if box is None:
        return False, UNKNOWN_BOX
    if named & {normalise(b) for b in box}:
        return False, FOLLOWS
    return True, OWN
