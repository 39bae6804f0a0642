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

from edged.config.secrets import credential_path
from edged.config.values import (
    HOUR,
    MINUTE,
    SECOND,
    ConfigError,
    _bool,
    _check_keys,
    _describe,
    _duration,
    _path,
    _show,
    _string,
)


@dataclass(frozen=True, slots=True)
class ViewerConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None    # PEM; with tls_key, the viewer speaks HTTPS (passwords cross the LAN)
    tls_key: Path | None = None
    max_viewers: int = 8            # open views on the box at once (each costs CPU and a camera session)
    max_view_us: int = HOUR         # one view ends after this; open it again to go on
    idle_timeout_us: int = 10 * MINUTE  # a viewer login with no view open and no click is logged out
    open_timeout_us: int = 10 * SECOND  # a camera that does not answer within this is reported down
    hostnames: tuple[str, ...] = ()  # names the box answers to besides its address (the Host check)
    transcode_max_height: int = 720  # a camera not in H.264 (H.265) is transcoded, at most this tall (design/0050)


_KEYS = ("enabled", "listen", "tls_cert", "tls_key", "max_viewers", "max_view", "idle_timeout", "open_timeout",
         "hostnames", "transcode_max_height")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_HINTS = {
    "address": 'did you mean "listen"? (host:port, e.g. "192.168.1.10:8443")',
    "port": 'put the port in "listen" (host:port, e.g. "192.168.1.10:8443")',
    "host": 'put the address in "listen" (host:port, e.g. "192.168.1.10:8443")',
    "session_ttl": "a login's lifetime is accounts.session_ttl (the same accounts as edgectl)",
}


def _viewer(t: dict[str, Any], base_dir: Path | None) -> ViewerConfig:
    """[viewer]: TLS files are checked only when enabled, so a switched-off section never stops edged."""
    _check_keys(t, "viewer", _KEYS, _HINTS)
    enabled = _bool(t.get("enabled", False), "viewer.enabled")
    host, port = _listen(t.get("listen", "127.0.0.1:8443"), "viewer.listen")
    files: dict[str, Path | None] = {"tls_cert": None, "tls_key": None}
    for key in files:
        if key in t:
            path = credential_path(_path(t[key], f"viewer.{key}", base_dir))  # the key: root's, handed over
            if enabled and not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise ConfigError(f"viewer.{key}", f"{_show(str(path))} {what}")
            files[key] = path
    if (files["tls_cert"] is None) != (files["tls_key"] is None):
        missing = "tls_key" if files["tls_key"] is None else "tls_cert"
        raise ConfigError(f"viewer.{missing}", "set tls_cert and tls_key together (HTTPS needs both)")
    if enabled and files["tls_cert"] is None and not ipaddress.ip_address(host).is_loopback:
        raise ConfigError("viewer.tls_cert", f"the viewer listens on {host}, a LAN address: set tls_cert and tls_key "
                                             "(HTTPS), or passwords and session cookies cross the network in clear; "
                                             "plain HTTP is allowed on 127.0.0.1 only")
    max_viewers = t.get("max_viewers", 8)
    if not isinstance(max_viewers, int) or isinstance(max_viewers, bool):
        raise ConfigError("viewer.max_viewers", f"expected an integer, found {_describe(max_viewers)}")
    if not 1 <= max_viewers <= 256:
        raise ConfigError("viewer.max_viewers", f"{max_viewers} is out of range (1 to 256)")
    return ViewerConfig(
        enabled=enabled,
        host=host,
        port=port,
        max_viewers=max_viewers,
        max_view_us=_duration(t, "max_view", "viewer", HOUR, 10 * SECOND, 12 * HOUR),
        idle_timeout_us=_duration(t, "idle_timeout", "viewer", 10 * MINUTE, 10 * SECOND, 12 * HOUR),
        open_timeout_us=_duration(t, "open_timeout", "viewer", 10 * SECOND, SECOND, MINUTE),
        hostnames=_hostnames(t.get("hostnames", []), "viewer.hostnames"),
        transcode_max_height=_max_height(t.get("transcode_max_height", 720), "viewer.transcode_max_height"),
        **files,
    )


def _max_height(value: Any, field: str) -> int:
    """Lines of a transcoded picture: 144 (a thumbnail) to 2160 (4K, no scaling at all)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(field, f"expected a number of lines, e.g. 720, found {_describe(value)}")
    if not 144 <= value <= 2160:
        raise ConfigError(field, f"{value} is out of range (144 to 2160 lines)")
    return value


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
