"""The [mqtt] table of the config: reporting to the central office (docs/requirements.md "MQTT")."""

from __future__ import annotations

import base64
import dataclasses
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.declare import check_keys, duration, in_range, key, read, whole
from edged.config.secrets import credential_path
from edged.config.values import (
    DAY,
    HOUR,
    MINUTE,
    MS,
    SECOND,
    ConfigError,
    _bool,
    _describe,
    _name,
    _path,
    _show,
    _string,
    format_duration,
)
from mqtt.settings import MqttConfig as MqttConfig, MqttTlsConfig as MqttTlsConfig  # edged.config.MqttConfig


_MQTT_HINTS = {
    "user": 'did you mean "username"?',
    "broker": 'did you mean "host"? (the broker\'s host name; the port goes in "port")',
    "server": 'did you mean "host"? (the broker\'s host name; the port goes in "port")',
    "ca_file": 'put it in an [mqtt.tls] table: [mqtt.tls] ca_file = "..."',
    "cert_file": 'put it in an [mqtt.tls] table: [mqtt.tls] cert_file = "..."',
    "key_file": 'put it in an [mqtt.tls] table: [mqtt.tls] key_file = "..."',
}
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TOPIC_LEVEL = re.compile(r"[A-Za-z0-9_-]+")


def _keepalive(value: Any, field: str) -> int:
    keepalive = in_range(5 * SECOND, HOUR)(value, field)
    if keepalive % SECOND:
        raise ConfigError(field, f"{format_duration(keepalive)}: use whole seconds (MQTT counts in seconds)")
    return keepalive


def _prefix(value: Any, field: str) -> str:
    prefix = _string(value, field)
    if not all(_TOPIC_LEVEL.fullmatch(level) for level in prefix.split("/")):
        raise ConfigError(field, f'{_show(prefix)} is not a topic prefix; use topic levels of A-Z, a-z, 0-9, "_", "-" '
                                 'joined by "/", without wildcards (e.g. "homeassistant")')
    return prefix


@dataclass(frozen=True, slots=True)
class MqttKeys:
    """The [mqtt] table as written, each key declared once (storage/declare.py); it becomes the
    mqtt layer's MqttConfig (mqtt/settings.py). Files are checked only when enabled."""

    enabled: bool = key(False, read=_bool, doc="report to the central office (off by default)")
    host: str = key("", example='"mqtt.central.example.org"', doc="the broker's host name or IP address "
                    "(required when enabled)")
    port: int = key(1883, example="8883", doc="default 1883, or 8883 when [mqtt.tls] is present")
    username: str | None = key(None, read=_name, example='"node1"', doc="the broker account")
    password: str | None = key(None, example='"..."', commented=True,
                               doc="in the secrets file ([secrets] file), not here: a password in this file is "
                                   "refused (issue 45); never logged, never shown in errors")
    tls: MqttTlsConfig | None = key(None, doc="[mqtt.tls]: present = TLS on")
    client_id: str = key("", example='"edged-tw-hr-001-node1"', doc="the default: edged-<site>-<node>")
    keepalive_us: int = key(30 * SECOND, read=_keepalive, example='"30s"', doc="whole seconds, 5s to 1h")
    reconnect_max_us: int = duration(60 * SECOND, 100 * MS, HOUR, doc="reconnect backoff: 1 s doubling to this, "
                                                                      "jittered")
    outbox_max: int = key(100_000, read=whole(10, 100_000_000, "an integer (messages)", " messages"),
                          doc="messages waiting for the broker (docs/ref/mqtt.md)")
    outbox_history_us: int = duration(14 * DAY, HOUR, 366 * DAY, doc="what the broker acknowledged is kept this "
                                      "long, for the office's cmd/resend of what it never got")
    command_key: str | None = key(None, read=lambda v, f: _ed25519_key(v, f), commented=True,
                                  example='"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="',
                                  doc="the central office's Ed25519 public key (raw 32 bytes, base64); set: "
                                      "commands must be signed")
    command_max_age_us: int = duration(5 * MINUTE, SECOND, DAY, doc="a signed command may expire at most this "
                                                                    "far ahead")
    homeassistant: bool = key(False, read=_bool, doc="Home Assistant MQTT discovery")
    discovery_prefix: str = key("homeassistant", read=_prefix, doc="its topic prefix")
    chain_head_us: int = duration(MINUTE, SECOND, HOUR, doc="the signed audit chain head at most this often when "
                                                            "it moved (design/0026)")
    camera_heartbeat_us: int = duration(MINUTE, SECOND, HOUR, doc="a steady camera's state this often; a change "
                                                                  "of state, error or health at once")


def _mqtt(t: dict[str, Any], site_id: str, node: str, base_dir: Path | None) -> MqttConfig:
    """[mqtt]: files are checked only when enabled, so a switched-off section never stops edged."""
    check_keys(MqttKeys, t, "mqtt", _MQTT_HINTS)
    enabled = _bool(t.get("enabled", False), "mqtt.enabled")
    if "host" in t:
        host = _mqtt_host(t["host"], "mqtt.host")
    elif enabled:
        raise ConfigError("mqtt.host", "missing required key (the broker's host name or IP address)")
    else:
        host = ""
    tls = None
    if "tls" in t:
        if not isinstance(t["tls"], dict):
            raise ConfigError("mqtt.tls", f"expected a table ([mqtt.tls] section), found {_describe(t['tls'])}")
        tls = _mqtt_tls(t["tls"], enabled, base_dir)
    if enabled and tls is None and not _loopback(host):
        # issue 45: a broker off this box without TLS hands the broker password and every message
        # (alarms, audit records) to anyone on the path
        raise ConfigError("mqtt.tls", f"the broker {_show(host)} is not on this box: talk to it over TLS "
                          '([mqtt.tls] ca_file = "/etc/edged/broker-ca.pem", port 8883), or run a broker '
                          "on this box (127.0.0.1) that bridges to it over TLS")
    port = whole(1, 65535)(t.get("port", 8883 if tls else 1883), "mqtt.port")
    username = _name(t["username"], "mqtt.username") if "username" in t else None
    password = None
    if "password" in t:
        # Never echoed, not even its type's value: a password pasted as a number is still one.
        password = t["password"]
        if not isinstance(password, str):
            raise ConfigError("mqtt.password", "expected a string in quotes (the value is not shown)")
        if username is None:
            raise ConfigError("mqtt.password", "set username too: MQTT sends a password only with a user name")
    client_id = _string(t.get("client_id", f"edged-{site_id}-{node}"), "mqtt.client_id")
    if not _CLIENT_ID.fullmatch(client_id):
        raise ConfigError(
            "mqtt.client_id",
            f'{_show(client_id)} is not a valid client id; use 1-128 characters from A-Z, a-z, 0-9, ".", "_", ":", "-"',
        )
    k = read(MqttKeys, t, "mqtt", _MQTT_HINTS, enabled=enabled, host=host, port=port, username=username,
             password=password, tls=tls, client_id=client_id)
    return MqttConfig(**{f.name: getattr(k, f.name) for f in dataclasses.fields(MqttKeys)})


def _loopback(host: str) -> bool:
    h = host.strip("[]").lower()
    return h in ("localhost", "::1") or h.startswith("127.")


def _mqtt_host(value: Any, field: str) -> str:
    text = _string(value, field).strip()
    if not text:
        raise ConfigError(field, "must not be empty")
    if "://" in text or "@" in text or any(c <= " " or c in "/?#" for c in text):
        raise ConfigError(
            field, f'{_show(text)} is not a host name; write only the name or address (e.g. "broker.example.org")'
        )
    if re.fullmatch(r"[^:]+:[0-9]+", text):
        raise ConfigError(field, f'{_show(text)}: put the port in mqtt.port, not in the host')
    return text


@dataclass(frozen=True, slots=True)
class MqttTlsKeys:
    """[mqtt.tls]: present = TLS on (it may be empty: the system's CAs); required for a broker off this
    box (not 127.x or localhost). Becomes mqtt/settings.py's MqttTlsConfig."""

    ca_file: Path | None = key(None, example='"/etc/edged/mqtt-ca.pem"', doc="the broker's CA (PEM); default: the "
                                                                            "system's CAs")
    cert_file: Path | None = key(None, example='"/etc/edged/node1.pem"', doc="optional client certificate (and "
                                                                            "key_file)")
    key_file: Path | None = key(None, example='"/etc/edged/node1.key"', doc="its key (PEM)")
    insecure: bool = key(False, read=_bool, doc="true: skip the host name check (the chain is still verified)")


def _mqtt_tls(t: dict[str, Any], enabled: bool, base_dir: Path | None) -> MqttTlsConfig:
    check_keys(MqttTlsKeys, t, "mqtt.tls")
    files: dict[str, Path | None] = {}
    for name in ("ca_file", "cert_file", "key_file"):
        files[name] = None
        if name in t:
            path = credential_path(_path(t[name], f"mqtt.tls.{name}", base_dir))  # the key: root's, handed over
            if enabled and not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise ConfigError(f"mqtt.tls.{name}", f"{_show(str(path))} {what}")
            files[name] = path
    if files["key_file"] is not None and files["cert_file"] is None:
        raise ConfigError("mqtt.tls.key_file", "set cert_file too: a client key is used with its certificate")
    k = read(MqttTlsKeys, t, "mqtt.tls", ca_file=files["ca_file"], cert_file=files["cert_file"],
             key_file=files["key_file"])
    return MqttTlsConfig(ca_file=k.ca_file, cert_file=k.cert_file, key_file=k.key_file, insecure=k.insecure)


def _ed25519_key(value: Any, field: str) -> str:
    """The central office's Ed25519 public key: the raw 32 bytes, base64 (44 characters)."""
    text = _string(value, field).strip()
    if text.startswith("-----BEGIN"):
        raise ConfigError(
            field,
            "is PEM; paste the raw 32-byte key in base64 instead "
            "(openssl pkey -pubin -in key.pem -outform DER | tail -c 32 | base64)",
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(field, "is not base64; paste the Ed25519 public key (32 bytes, base64)") from None
    if len(raw) != 32:
        raise ConfigError(
            field, f"decodes to {len(raw)} bytes; an Ed25519 public key is 32 bytes (44 characters of base64)"
        )
    return text
