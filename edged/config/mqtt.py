"""The [mqtt] table of the config: reporting to the central office (docs/requirements.md "MQTT")."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Any

from edged.config.secrets import credential_path
from edged.config.values import (
    DAY,
    HOUR,
    MINUTE,
    MS,
    SECOND,
    ConfigError,
    _bool,
    _check_keys,
    _describe,
    _duration,
    _name,
    _path,
    _show,
    _string,
    format_duration,
)
from mqtt.settings import MqttConfig as MqttConfig, MqttTlsConfig as MqttTlsConfig  # edged.config.MqttConfig


_MQTT_KEYS = (
    "enabled", "host", "port", "username", "password", "tls", "client_id", "keepalive",
    "reconnect_max", "outbox_max", "command_key", "command_max_age", "homeassistant",
    "discovery_prefix", "chain_head", "camera_heartbeat",
)  # fmt: skip
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


# Over 60 lines on purpose: one check per key of the table, in the order docs/ref/mqtt.md documents
# them; split up, the keys would be checked in several places.
def _mqtt(t: dict[str, Any], site_id: str, node: str, base_dir: Path | None) -> MqttConfig:
    """[mqtt]: files are checked only when enabled, so a switched-off section never stops edged."""
    _check_keys(t, "mqtt", _MQTT_KEYS, _MQTT_HINTS)
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
    port = t.get("port", 8883 if tls else 1883)
    if not isinstance(port, int) or isinstance(port, bool):
        raise ConfigError("mqtt.port", f"expected an integer, found {_describe(port)}")
    if not 1 <= port <= 65535:
        raise ConfigError("mqtt.port", f"{port} is out of range (1 to 65535)")
    username = None
    if "username" in t:
        username = _name(t["username"], "mqtt.username")
    password = None
    if "password" in t:
        # Never echoed, not even its type's value: a password pasted as a number is still one.
        password = t["password"]
        if not isinstance(password, str):
            raise ConfigError("mqtt.password", "expected a string in quotes (the value is not shown)")
        if username is None:
            raise ConfigError("mqtt.password", "set username too: MQTT sends a password only with a user name")
    client_id = t.get("client_id", f"edged-{site_id}-{node}")
    client_id = _string(client_id, "mqtt.client_id")
    if not _CLIENT_ID.fullmatch(client_id):
        raise ConfigError(
            "mqtt.client_id",
            f'{_show(client_id)} is not a valid client id; use 1-128 characters from A-Z, a-z, 0-9, ".", "_", ":", "-"',
        )
    keepalive = _duration(t, "keepalive", "mqtt", 30 * SECOND, 5 * SECOND, HOUR)
    if keepalive % SECOND:
        raise ConfigError("mqtt.keepalive", f"{format_duration(keepalive)}: use whole seconds (MQTT counts in seconds)")
    outbox_max = t.get("outbox_max", 100_000)
    if not isinstance(outbox_max, int) or isinstance(outbox_max, bool):
        raise ConfigError("mqtt.outbox_max", f"expected an integer (messages), found {_describe(outbox_max)}")
    if not 10 <= outbox_max <= 100_000_000:
        raise ConfigError("mqtt.outbox_max", f"{outbox_max} is out of range (10 to 100000000 messages)")
    key = _ed25519_key(t["command_key"], "mqtt.command_key") if "command_key" in t else None
    prefix = _string(t.get("discovery_prefix", "homeassistant"), "mqtt.discovery_prefix")
    if not all(_TOPIC_LEVEL.fullmatch(level) for level in prefix.split("/")):
        raise ConfigError(
            "mqtt.discovery_prefix",
            f'{_show(prefix)} is not a topic prefix; use topic levels of A-Z, a-z, 0-9, "_", "-" '
            'joined by "/", without wildcards (e.g. "homeassistant")',
        )
    return MqttConfig(
        enabled=enabled,
        host=host,
        port=port,
        username=username,
        password=password,
        tls=tls,
        client_id=client_id,
        keepalive_us=keepalive,
        reconnect_max_us=_duration(t, "reconnect_max", "mqtt", 60 * SECOND, 100 * MS, HOUR),
        outbox_max=outbox_max,
        command_key=key,
        command_max_age_us=_duration(t, "command_max_age", "mqtt", 5 * MINUTE, SECOND, DAY),
        homeassistant=_bool(t.get("homeassistant", False), "mqtt.homeassistant"),
        discovery_prefix=prefix,
        chain_head_us=_duration(t, "chain_head", "mqtt", MINUTE, SECOND, HOUR),
        camera_heartbeat_us=_duration(t, "camera_heartbeat", "mqtt", MINUTE, SECOND, HOUR),
    )


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


def _mqtt_tls(t: dict[str, Any], enabled: bool, base_dir: Path | None) -> MqttTlsConfig:
    _check_keys(t, "mqtt.tls", ("ca_file", "cert_file", "key_file", "insecure"))
    files: dict[str, Path | None] = {}
    for key in ("ca_file", "cert_file", "key_file"):
        files[key] = None
        if key in t:
            path = credential_path(_path(t[key], f"mqtt.tls.{key}", base_dir))  # the key: root's, handed over
            if enabled and not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise ConfigError(f"mqtt.tls.{key}", f"{_show(str(path))} {what}")
            files[key] = path
    if files["key_file"] is not None and files["cert_file"] is None:
        raise ConfigError("mqtt.tls.key_file", "set cert_file too: a client key is used with its certificate")
    return MqttTlsConfig(insecure=_bool(t.get("insecure", False), "mqtt.tls.insecure"), **files)


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
