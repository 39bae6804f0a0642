"""The [viewer] table of the config: the local web viewer (live view, granted playback).

Off by default: a box serves nothing on the network until someone turns the viewer on and
chooses the address (the LAN side of the box, never the internet, R4.5). A wildcard or public
address is refused, and any address but loopback needs TLS (design/0021): passwords and the
session cookie must not cross the LAN in clear.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.declare import check_keys, duration, key, read, whole
from edged.config.secrets import credential_path
from edged.config.values import (
    HOUR,
    MINUTE,
    SECOND,
    ConfigError,
    _bool,
    _describe,
    _path,
    _show,
    _string,
)


def _max_height(value: Any, field: str) -> int:
    """Lines of a transcoded picture: 144 (a thumbnail) to 2160 (4K, no scaling at all)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(field, f"expected a number of lines, e.g. 720, found {_describe(value)}")
    if not 144 <= value <= 2160:
        raise ConfigError(field, f"{value} is out of range (144 to 2160 lines)")
    return value


@dataclass(frozen=True, slots=True)
class ViewerConfig:
    enabled: bool = key(False, read=_bool, doc="the local web viewer (live view, granted playback); off by default")
    host: str = key("127.0.0.1", toml="listen", example='"127.0.0.1:8443"',
                    doc="address:port, the box's LAN address (never a wildcard or a public one, R4.5); any but "
                        "loopback needs tls_cert and tls_key")
    port: int = 8443
    tls_cert: Path | None = key(None, commented=True, example='"/etc/edged/viewer.pem"',
                                doc="PEM; with tls_key, the viewer speaks HTTPS (passwords cross the LAN)")
    tls_key: Path | None = key(None, commented=True, example='"/etc/edged/viewer.key"', doc="its private key (PEM)")
    max_viewers: int = key(8, read=whole(1, 256), doc="open views on the box at once (each costs CPU and a camera "
                                                      "session)")
    max_view_us: int = duration(HOUR, 10 * SECOND, 12 * HOUR, toml="max_view",
                                doc="one view ends after this; open it again to go on")
    idle_timeout_us: int = duration(10 * MINUTE, 10 * SECOND, 12 * HOUR,
                                    doc="a viewer login with no view open and no click is logged out")
    open_timeout_us: int = duration(10 * SECOND, SECOND, MINUTE,
                                    doc="a camera that does not answer within this is reported down")
    hostnames: tuple[str, ...] = key((), read=lambda v, f: _hostnames(v, f), example='["cctv.office.lan"]',
                                     doc="names the box answers to besides its address (the Host check)")
    transcode_max_height: int = key(720, read=lambda v, f: _max_height(v, f),
                                    doc="a camera not in H.264 (H.265) is transcoded, at most this tall "
                                        "(design/0050; 144 to 2160)")


_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_HINTS = {
    "address": 'did you mean "listen"? (host:port, e.g. "192.168.1.10:8443")',
    "port": 'put the port in "listen" (host:port, e.g. "192.168.1.10:8443")',
    "host": 'put the address in "listen" (host:port, e.g. "192.168.1.10:8443")',
    "session_ttl": "a login's lifetime is accounts.session_ttl (the same accounts as edgectl)",
}


def _viewer(t: dict[str, Any], base_dir: Path | None) -> ViewerConfig:
    """[viewer]: TLS files are checked only when enabled, so a switched-off section never stops edged."""
    check_keys(ViewerConfig, t, "viewer", _HINTS)
    enabled = _bool(t.get("enabled", False), "viewer.enabled")
    host, port = _listen(t.get("listen", "127.0.0.1:8443"), "viewer.listen")
    files: dict[str, Path | None] = {"tls_cert": None, "tls_key": None}
    for name in files:
        if name in t:
            path = credential_path(_path(t[name], f"viewer.{name}", base_dir))  # the key: root's, handed over
            if enabled and not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise ConfigError(f"viewer.{name}", f"{_show(str(path))} {what}")
            files[name] = path
    if (files["tls_cert"] is None) != (files["tls_key"] is None):
        missing = "tls_key" if files["tls_key"] is None else "tls_cert"
        raise ConfigError(f"viewer.{missing}", "set tls_cert and tls_key together (HTTPS needs both)")
    if enabled and files["tls_cert"] is None and not ipaddress.ip_address(host).is_loopback:
        raise ConfigError("viewer.tls_cert", f"the viewer listens on {host}, a LAN address: set tls_cert and tls_key "
                                             "(HTTPS), or passwords and session cookies cross the network in clear; "
                                             "plain HTTP is allowed on 127.0.0.1 only")
    return read(ViewerConfig, t, "viewer", _HINTS, enabled=enabled, host=host, port=port,
                tls_cert=files["tls_cert"], tls_key=files["tls_key"])


def _listen(value: Any, field: str) -> tuple[str, int]:
    """host:port, with an IP address (IPv6 in brackets): the box's LAN address, not a name."""
    text = _string(value, field).strip()
    example = 'use address:port, e.g. "192.168.1.10:8443" or "[fd00::10]:8443"'
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ConfigError(field, f"{_show(text)} is not address:port; {example}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(field, f"{_show(host)} is not an IP address; {example}") from None
    if ip.is_unspecified:
        raise ConfigError(field, f"{host} listens on every interface; name the box's LAN address, {example}")
    if ip.is_global or ip.is_multicast:
        raise ConfigError(field, f"{host} is a public address; the viewer serves the office LAN only (R4.5): use a "
                                 "private or loopback address")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(field, f"port {port} is out of range (1 to 65535)")
    return host, port


def _hostnames(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(field, f'expected a list of names, e.g. ["cctv.office.lan"], found {_describe(value)}')
    names = []
    for i, item in enumerate(value):
        name = _string(item, f"{field}[{i}]").strip().lower()
        if not _HOSTNAME.fullmatch(name):
            raise ConfigError(f"{field}[{i}]", f"{_show(name)} is not a host name")
        names.append(name)
    return tuple(names)
