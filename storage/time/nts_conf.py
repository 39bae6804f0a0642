"""chrony's lines for NTS, the authenticated time source (design/0397). Pure: text only.

A box reads NTS through chrony (storage/time/corroboration.py `chrony_reading`): its time counts
only when the source chrony is synchronised to is authenticated. These are the lines that make it
so, for Debian's chrony 4.3 (`/etc/chrony/conf.d/*.conf` is read by its chrony.conf):

- `box_conf`: a box follows its NTS servers (the office's, or a public one) and selects only
  authenticated sources (`authselectmode require`): a plain NTP server on the site's LAN, spoofed
  or not, can then neither step the clock nor be what chrony reports as its reference.
- `office_conf`: the office serves NTS to sites without internet, with a TLS certificate the boxes
  trust (`ntstrustedcerts`, when it is not a public CA's).

The daemon tests run both with the real chronyd (tests/support/nts.py): what they read is what a
box configured with these lines reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KE_PORT = 4460   # NTS-KE (RFC 8915), chrony's default `ntsport`
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$")
_PATH = re.compile(r"^/[^\s\"#]+$")
_NET = re.compile(r"^[0-9A-Fa-f.:]+(?:/[0-9]{1,3})?$")


@dataclass(frozen=True, slots=True)
class Server:
    """An NTS server as a box names it: its host (as its certificate names it), the NTS-KE port,
    and the NTP port when the server does not say it in the key exchange (chrony 4.3 needs it)."""

    host: str
    ke_port: int = KE_PORT
    ntp_port: int | None = None


def _check(value: str, rule: re.Pattern[str], what: str) -> str:
    if not rule.match(value):
        raise ValueError(f"{what} {value!r} cannot go into chrony's config (one word, no spaces or quotes)")
    return value


def _port(n: int | None, what: str) -> str:
    if n is None:
        return ""
    if not 0 < n < 65536:
        raise ValueError(f"{what} {n} is not a port")
    return f" {what} {n}"


def box_conf(servers: list[Server], trusted_certs: str | None = None, poll: tuple[int, int] | None = None) -> str:
    """A box's lines: every server over NTS; only authenticated sources are selected; the office's
    certificate trusted when it is not a public CA's. `poll`: chrony's minpoll and maxpoll
    (log2 s; the tests' 1 s), else chrony's own."""
    if not servers:
        raise ValueError("NTS needs at least one server")
    lines = ["# edged (design/0397): the clock follows authenticated (NTS) sources only",
             "authselectmode require"]
    for s in servers:
        opts = _port(s.ntp_port, "port") + _port(s.ke_port if s.ke_port != KE_PORT else None, "ntsport")
        if poll is not None:
            opts += f" minpoll {int(poll[0])} maxpoll {int(poll[1])}"
        lines.append(f"server {_check(s.host, _HOST, 'the server')} iburst nts{opts}")
    if trusted_certs is not None:
        lines.append(f"ntstrustedcerts {_check(trusted_certs, _PATH, 'the certificate file')}")
    return "\n".join(lines) + "\n"


def office_conf(cert: str, key: str, allow: list[str], *, ke_port: int = KE_PORT, ntp_port: int | None = None,
                local_stratum: int | None = None) -> str:
    """The office's lines: NTS served with its certificate and key to the sites' networks (`allow`).
    `local_stratum`: serve the office's own clock when it follows no source (an office with a GPS
    clock or none at all); the office's clock is then the site's truth, as its signed time is."""
    if not allow:
        raise ValueError("NTS is served to at least one network (allow)")
    lines = ["# edged-central (design/0397): NTS for the sites",
             f"ntsservercert {_check(cert, _PATH, 'the certificate file')}",
             f"ntsserverkey {_check(key, _PATH, 'the key file')}"]
    if ke_port != KE_PORT:
        lines.append(f"ntsport {int(ke_port)}")
    if ntp_port is not None:
        lines.append(f"port {int(ntp_port)}")
    lines += [f"allow {_check(net, _NET, 'the network')}" for net in allow]
    if local_stratum is not None:
        lines.append(f"local stratum {int(local_stratum)}")
    return "\n".join(lines) + "\n"
