"""What the MQTT layer needs from the config's [mqtt] table (parsed and checked by
edged/config/mqtt.py, which builds these): plain values, so mqtt/ imports nothing from edged/."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

_SECOND = 1_000_000
_MINUTE = 60 * _SECOND


@dataclass(frozen=True, slots=True)
class MqttTlsConfig:
    """TLS to the broker: on when an [mqtt.tls] table is present (empty: the system's CAs)."""

    ca_file: Path | None = None
    cert_file: Path | None = None   # client certificate (PEM); may hold the key too
    key_file: Path | None = None
    insecure: bool = False          # skip the host name check; the chain is still verified


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Reporting to the central office (design/0005). The password is left out of repr."""

    enabled: bool = False
    host: str = ""
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: MqttTlsConfig | None = None
    client_id: str = ""
    keepalive_us: int = 30 * _SECOND
    reconnect_max_us: int = 60 * _SECOND
    outbox_max: int = 100_000
    outbox_history_us: int = 14 * 24 * 3600 * _SECOND  # acknowledged messages kept for the office's cmd/resend
    command_key: str | None = None  # base64 Ed25519 public key; set: commands must be signed
    command_max_age_us: int = 5 * _MINUTE
    homeassistant: bool = False
    discovery_prefix: str = "homeassistant"
    chain_head_us: int = _MINUTE     # the signed audit chain head at most this often when it moved (design/0026)
    camera_heartbeat_us: int = _MINUTE   # a steady camera's state at most this often; a change goes out at once
