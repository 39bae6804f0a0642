"""`edgectl camera discover`: the ONVIF cameras that answer a WS-Discovery probe on the LAN
(design/0077), each with its address, name, hardware and scopes, and whether the config has it.

Off unless asked: edged itself never sends multicast. The probe goes out on every IPv4
interface but loopback (the wsdiscovery library's choice), or on the one named by
--interface; answers are collected for --wait seconds.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from edged.cli.display import Verbs, JSON, UsageError, table
from edged.control.client import call
from edged.control.protocol import DaemonDown, RequestError
from edged.i18n import _

NVT = ("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")
SCOPE = "onvif://www.onvif.org/"


def scope_values(scopes: list[str]) -> dict[str, str]:
    """onvif://www.onvif.org/name/FV-2040 -> {"name": "FV-2040"} (the first of each key, decoded)."""
    out: dict[str, str] = {}
    for s in scopes:
        if s.startswith(SCOPE):
            key, _sep, value = s[len(SCOPE):].partition("/")
            out.setdefault(key, unquote(value))
    return out


def host_of(xaddrs: list[str]) -> str | None:
    """The camera's IPv4 address (its first XAddr that has one)."""
    for x in xaddrs:
        host = urlsplit(x).hostname
        try:
            if host and ipaddress.ip_address(host).version == 4:
                return host
        except ValueError:
            continue
    return urlsplit(xaddrs[0]).hostname if xaddrs else None


def _interface_addrs(name: str) -> set[str]:
    import ifaddr

    for adapter in ifaddr.get_adapters():
        if adapter.nice_name == name or adapter.name == name:
            return {ip.ip for ip in adapter.ips if isinstance(ip.ip, str)}
    raise UsageError(_("no network interface {name!r}").format(name=name))


def ipv4_only(cls: type) -> type:
    """The wsdiscovery class with its IPv6 threads stopped once started: an IPv6 probe's answer is
    handed to the IPv4 thread, which dies on it ("Address family for hostname not supported")
    and answers nothing more. ONVIF cameras on a site LAN answer on IPv4."""

    class V4(cls):  # type: ignore[misc]
        def _startThreads(self) -> None:
            super()._startThreads()
            me: Any = self  # wsdiscovery's own attributes, untyped
            if me._networkingThread_v6 is not None:
                for t in (me._networkingThread_v6, me._addrsMonitorThread_v6):
                    t.schedule_stop()
                    t.join()
                self._networkingThread_v6 = self._addrsMonitorThread_v6 = None

    return V4


def search(wait_s: float, interface: str | None) -> list[dict[str, Any]]:
    """Blocking, about `wait_s` seconds: every NetworkVideoTransmitter that answered."""
    from wsdiscovery import QName
    from wsdiscovery.discovery import ThreadedWSDiscovery

    keep = _interface_addrs(interface) if interface else None
    logging.getLogger("threaded").setLevel(logging.CRITICAL)
    hook = threading.excepthook
    # the library's reply threads fail loudly on an address family they cannot send to (IPv6 vs IPv4)
    threading.excepthook = lambda a: None if type(a.thread).__module__.startswith("wsdiscovery") else hook(a)
    wsd = ipv4_only(ThreadedWSDiscovery)()
    wsd.start()
    try:
        if keep is not None:
            from wsdiscovery.util import _getNetworkAddrs
            import socket

            for addr in _getNetworkAddrs(socket.AF_INET):
                if str(addr) not in keep:
                    wsd.removeSourceAddr(str(addr))
        found = wsd.searchServices(types=[QName(*NVT)], timeout=wait_s)
        rows = []
        for s in found:
            scopes = [str(x) for x in s.getScopes()]
            vals = scope_values(scopes)
            rows.append({"address": host_of(list(s.getXAddrs())), "xaddrs": list(s.getXAddrs()), "epr": s.getEPR(),
                         "name": vals.get("name"), "hardware": vals.get("hardware"),
                         "location": vals.get("location"), "scopes": scopes})
        return sorted(rows, key=lambda r: r["address"] or "")
    finally:
        wsd.stop()
        threading.excepthook = hook


def configured_hosts(ctx: Any) -> dict[str, str] | None:
    """host -> camera id of every camera the daemon knows (its URLs, passwords redacted); None: no daemon."""
    try:
        rows = call(ctx.socket, "cameras", {"all": False})["cameras"]
    except (DaemonDown, RequestError):
        return None
    return {urlsplit(r["url"]).hostname: r["id"] for r in rows if r.get("url") and urlsplit(r["url"]).hostname}


def cmd_discover(ctx: Any, args: Any) -> tuple[Any, str]:
    rows = search(args.wait, args.interface)
    known = configured_hosts(ctx)
    for r in rows:
        r["camera"] = None if known is None else known.get(r["address"])
        r["in_config"] = None if known is None else r["camera"] is not None
    shown = [[r["address"] or "-", r["name"] or "-", r["hardware"] or "-", r["location"] or "-",
              "?" if r["in_config"] is None else (_("yes ({camera})").format(camera=r["camera"]) if r["in_config"]
                                                  else _("no")), r["xaddrs"][0] if r["xaddrs"] else "-"] for r in rows]
    text = table([_("ADDRESS"), _("NAME"), _("HARDWARE"), _("LOCATION"), _("IN CONFIG"), _("ONVIF")], shown) if rows \
        else _("no ONVIF camera answered within {s:g} s").format(s=args.wait)
    if rows:
        text += "\n" + _("next: edgectl camera probe ADDRESS --user admin")
        if known is None:
            text += "\n" + _("(edged is not answering: whether each is in the config is not known)")
    return rows, text


def register(cs: Verbs) -> None:
    p = cs.add_parser("discover", parents=[JSON], help=_("find the ONVIF cameras on the LAN (WS-Discovery; sends a "
                                                         "multicast probe, only when asked)"))
    p.add_argument("--interface", metavar="NAME", help=_("only this network interface (e.g. eth1, the cameras' LAN)"))
    p.add_argument("--wait", type=float, default=3.0, metavar="SECONDS", help=_("how long to collect answers (3)"))
    p.set_defaults(handler=cmd_discover)
