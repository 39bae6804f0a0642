"""Load and validate edged's TOML config.

Everything is checked at load time so a bad file stops the daemon before it touches a
camera or the disk; every error names the path of the bad field (``cameras[2].url``) and
never echoes a camera password (invariant 8).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

DEFAULT_PATH = Path("/etc/edged/edged.toml")
DEFAULT_DATA_DIR = Path("/var/lib/edged")

US = 1
MS = 1_000
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

KB, MB, GB, TB = 1000, 1000**2, 1000**3, 1000**4
KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4

_UNITS = {"us": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h|d)")
_SIZE_UNITS = {
    "B": 1, "KB": KB, "kB": KB, "MB": MB, "GB": GB, "TB": TB,
    "KiB": KIB, "MiB": MIB, "GiB": GIB, "TiB": TIB,
}  # fmt: skip
_SIZE_UNIT_NAMES = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]+)")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?%")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ID_RULE = (
    'use 1-63 characters from a-z, 0-9, "_" and "-", starting with a letter or digit '
    "(ids are used in file paths and MQTT topics)"
)


class ConfigError(Exception):
    """A config problem a person can fix; ``field`` is the path of the bad value."""

    def __init__(self, field: str, message: str, source: str | None = None) -> None:
        super().__init__(field, message, source)
        self.field = field
        self.message = message
        self.source = source

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        origin = f"{self.source}: " if self.source else ""
        return f"{origin}{where}{self.message}"


# --- durations and URLs ---------------------------------------------------------------


def parse_duration(text: str, field: str) -> int:
    """Parse "60s", "500ms", "1h30m", "1.5s" into microseconds.

    Bare numbers are refused: "60" could mean seconds or milliseconds, and a wrong guess
    here silently changes how much footage a crash can lose.
    """
    if not isinstance(text, str):
        raise ConfigError(
            field,
            f"expected a duration string with a unit, found {_describe(text)}; "
            'write it quoted with a unit, e.g. "60s"',
        )
    s = text.strip()
    if not s:
        raise ConfigError(field, 'is empty; write a duration such as "60s" or "500ms"')
    if s.startswith("-"):
        raise ConfigError(field, f"{_show(text)} is negative; durations must be greater than zero")
    total = Fraction(0)
    pos = 0
    last_size = None
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise ConfigError(
                field,
                f"{_show(text)} is not a duration; write a number with a unit, "
                'e.g. "60s", "500ms", "5m", "1h30m" (units: us, ms, s, m, h, d)',
            )
        size = _UNITS[m.group(2)]
        if last_size is not None and size >= last_size:
            raise ConfigError(
                field, f"{_show(text)}: write units from largest to smallest, each once (e.g. \"1h30m\")"
            )
        last_size = size
        total += Fraction(m.group(1)) * size
        pos = m.end()
    if total == 0:
        raise ConfigError(field, f"{_show(text)} is zero; durations must be greater than zero")
    if total.denominator != 1:
        raise ConfigError(field, f"{_show(text)} is finer than a microsecond")
    return int(total)


def format_duration(us: int) -> str:
    """Show microseconds the way a person would write them in the config ("1h30m", "1.5s")."""
    if us < 0:
        return "-" + format_duration(-us)
    if us == 0:
        return "0s"
    parts = []
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        n, us = divmod(us, size)
        if n:
            parts.append(f"{n}{unit}")
    if us >= SECOND:
        whole, frac = divmod(us, SECOND)
        parts.append(f"{whole}.{frac:06d}".rstrip("0").rstrip(".") + "s")
    elif us >= MS:
        whole, frac = divmod(us, MS)
        parts.append(f"{whole}.{frac:03d}".rstrip("0").rstrip(".") + "ms")
    elif us:
        parts.append(f"{us}us")
    return "".join(parts)


def parse_size(text: str, field: str) -> int:
    """Parse "10GB", "500MB", "1.5TB", "64MiB", "4096B" into bytes.

    KB/MB/GB/TB are powers of 1000 (as disks are sold), KiB/MiB/GiB/TiB powers of 1024.
    Bare numbers are refused, like bare durations: "10" could be bytes or gigabytes.
    """
    return _parse_size(text, field, 'e.g. "10GB", "500MB", "64MiB"')


def _parse_size(text: Any, field: str, example: str) -> int:
    if not isinstance(text, str):
        raise ConfigError(
            field,
            f"expected a size string with a unit, found {_describe(text)}; "
            f"write it quoted with a unit, {example}",
        )
    s = text.strip()
    if not s:
        raise ConfigError(field, f"is empty; write a size with a unit, {example}")
    if s.startswith("-"):
        raise ConfigError(field, f"{_show(text)} is negative; sizes must be greater than zero")
    m = _SIZE.fullmatch(s)
    if m is None:
        raise ConfigError(
            field,
            f"{_show(text)} is not a size; write a number with a unit, {example} "
            f"(units: {_SIZE_UNIT_NAMES})",
        )
    unit = m.group(2)
    if unit not in _SIZE_UNITS:
        folded = {u.lower(): u for u in _SIZE_UNITS if u != "kB"}
        hint = f'; did you mean "{folded[unit.lower()]}"?' if unit.lower() in folded else ""
        raise ConfigError(
            field, f"{_show(text)}: unknown unit {_show(unit)} (units: {_SIZE_UNIT_NAMES}){hint}"
        )
    total = Fraction(m.group(1)) * _SIZE_UNITS[unit]
    if total == 0:
        raise ConfigError(field, f"{_show(text)} is zero; sizes must be greater than zero")
    if total.denominator != 1:
        raise ConfigError(field, f"{_show(text)} is not a whole number of bytes")
    return int(total)


def redact_url(url: str) -> str:
    """Replace the password in a URL with ``***``; a URL without one comes back unchanged.

    Errs on the side of hiding: a password with an unescaped "/" or "#" (which confuses
    URL parsers) is still found, because whatever sits between "user:" and the last "@"
    is treated as the password.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        password = None
    if password is not None:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        return parts._replace(netloc=f"{user}:***@{hostport}").geturl()
    # Fallback for URLs the parser misreads, e.g. "rtsp://user:pa/ss@host/".
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo, host_and_path = rest[:at], rest[at + 1 :]
    user, colon, password = userinfo.partition(":")
    if not colon or any(c in user for c in "/?#"):
        return url
    if "/" in password and password.split("/", 1)[0].isdigit():
        # "host:554/path@x": a port, then an "@" in the path; there is no password here.
        return url
    return f"{scheme}://{user}:***@{host_and_path}"


# --- the config -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: str
    name: str
    node: str = "node1"


@dataclass(frozen=True, slots=True)
class StorageConfig:
    data_dir: Path
    segment_length_us: int = 60 * SECOND
    fragment_length_us: int = 1 * SECOND
    fsync_interval_us: int = 2 * SECOND


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    workers: int = 0  # 0: one per core
    connect_timeout_us: int = 5 * SECOND
    read_timeout_us: int = 5 * SECOND
    reconnect_max_us: int = 2 * SECOND


OnFull = Literal["overwrite", "stop"]
ON_FULL_CHOICES: tuple[OnFull, ...] = ("overwrite", "stop")


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """Site-wide retention rules (DESIGN.md "Retention rules", R1.3-R1.6, R6.2).

    The disk reserve is either a fixed size (``reserve_bytes``) or a share of the
    filesystem (``reserve_percent``); exactly one is set. Use :meth:`reserve_for`.
    """

    min_retention_us: int = 30 * DAY
    max_retention_us: int = 365 * DAY
    reserve_bytes: int | None = None
    reserve_percent: float | None = 5.0
    on_full: OnFull = "overwrite"
    interval_us: int = 60 * SECOND
    evidence_hold_us: int = 30 * DAY

    def __post_init__(self) -> None:
        if (self.reserve_bytes is None) == (self.reserve_percent is None):
            raise ValueError("set exactly one of reserve_bytes and reserve_percent")

    def reserve_for(self, total_bytes: int) -> int:
        """Bytes to keep free on a filesystem of ``total_bytes`` (a percentage rounds up)."""
        if total_bytes < 0:
            raise ValueError(f"total_bytes must not be negative, got {total_bytes}")
        if self.reserve_bytes is not None:
            return self.reserve_bytes
        assert self.reserve_percent is not None
        # repr() gives back the decimal the person wrote ("0.1"), so the sum is exact.
        share = Fraction(repr(self.reserve_percent)) / 100
        return math.ceil(total_bytes * share)


@dataclass(frozen=True, slots=True)
class ControlConfig:
    socket: Path  # the daemon's Unix control socket


@dataclass(frozen=True, slots=True, repr=False)
class CameraConfig:
    id: str
    name: str
    url: str
    enabled: bool = True
    audio_expected: bool = False
    location: str = ""
    min_retention_us: int | None = None  # None: the site's retention.min_retention
    max_retention_us: int | None = None  # None: the site's retention.max_retention

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        # The default repr would print the password into any log line that shows a camera.
        return (
            f"CameraConfig(id={self.id!r}, name={self.name!r}, url={self.redacted_url!r}, "
            f"enabled={self.enabled!r}, audio_expected={self.audio_expected!r}, "
            f"location={self.location!r}, min_retention_us={self.min_retention_us!r}, "
            f"max_retention_us={self.max_retention_us!r})"
        )


@dataclass(frozen=True, slots=True)
class MqttTlsConfig:
    """TLS to the broker: on when an [mqtt.tls] table is present (empty: the system's CAs)."""

    ca_file: Path | None = None
    cert_file: Path | None = None   # client certificate (PEM); may hold the key too
    key_file: Path | None = None
    insecure: bool = False          # skip the host name check; the chain is still verified


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Reporting to the central office (DESIGN.md "MQTT"). The password is left out of repr."""

    enabled: bool = False
    host: str = ""
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: MqttTlsConfig | None = None
    client_id: str = ""
    keepalive_us: int = 30 * SECOND
    reconnect_max_us: int = 60 * SECOND
    outbox_max: int = 100_000
    command_key: str | None = None  # base64 Ed25519 public key; set: commands must be signed
    command_max_age_us: int = 5 * MINUTE
    homeassistant: bool = False
    discovery_prefix: str = "homeassistant"


@dataclass(frozen=True, slots=True)
class Config:
    site: SiteConfig
    storage: StorageConfig
    recorder: RecorderConfig
    retention: RetentionConfig
    control: ControlConfig
    cameras: tuple[CameraConfig, ...]
    source: str
    mqtt: MqttConfig = MqttConfig()

    def camera(self, id: str) -> CameraConfig | None:
        for cam in self.cameras:
            if cam.id == id:
                return cam
        return None

    def retention_for(self, camera_id: str) -> tuple[int, int]:
        """The (min, max) retention in microseconds that applies to a camera's footage.

        A camera not (or no longer) in the config gets the site's values, so footage of a
        removed camera is still destroyed on time.
        """
        site = self.retention
        cam = self.camera(camera_id)
        if cam is None:
            return site.min_retention_us, site.max_retention_us
        low = cam.min_retention_us if cam.min_retention_us is not None else site.min_retention_us
        high = cam.max_retention_us if cam.max_retention_us is not None else site.max_retention_us
        return low, high


# --- loading ----------------------------------------------------------------------------


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "", "config file not found; create it or point edged at another file", source
        ) from None
    except IsADirectoryError:
        raise ConfigError("", "is a directory; expected a TOML config file", source) from None
    except PermissionError:
        raise ConfigError(
            "", "cannot be read: permission denied; check the file's owner and mode", source
        ) from None
    except OSError as e:
        raise ConfigError("", f"cannot be read: {e.strerror or e}", source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            "", f"is not UTF-8 text (bad byte at offset {e.start}); save it as UTF-8", source
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's messages name the line and column and never quote the offending text.
        raise ConfigError("", f"invalid TOML: {e}", source) from None
    return parse_config(data, source, base_dir=path.absolute().parent)


def parse_config(data: dict, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate an already-parsed TOML document.

    ``base_dir`` is where a relative ``storage.data_dir`` or ``control.socket`` is resolved
    from (the config file's folder); without it a relative path is an error.
    """
    try:
        _check_keys(data, "", ("site", "storage", "recorder", "retention", "control", "cameras", "mqtt"))
        cameras_raw = data.get("cameras", [])
        if not isinstance(cameras_raw, list):
            raise ConfigError(
                "cameras",
                f"expected an array of tables ([[cameras]] sections), found {_describe(cameras_raw)}",
            )
        site = _site(_table(data, "site", "site"))
        storage = _storage(_table(data, "storage", "storage"), base_dir)
        recorder = _recorder(_table(data, "recorder", "recorder"))
        retention_raw = _table(data, "retention", "retention")
        retention = _retention(retention_raw)
        control = _control(_table(data, "control", "control"), storage.data_dir, base_dir)
        return Config(
            site=site,
            storage=storage,
            recorder=recorder,
            retention=retention,
            control=control,
            cameras=_cameras(cameras_raw, retention_raw, retention),
            source=source,
            mqtt=_mqtt(_table(data, "mqtt", "mqtt"), site, base_dir),
        )
    except ConfigError as e:
        if e.source is None:
            e.source = source
        raise


def default_config(data_dir: Path) -> Config:
    """The built-in demo config: one synthetic camera, so edged runs with no file at all."""
    data = {
        "site": {"id": "demo", "name": "edged demo"},
        "storage": {"data_dir": str(data_dir)},
        "cameras": [{"id": "demo", "name": "Demo test pattern", "url": "synthetic:"}],
    }
    return parse_config(data, "<built-in default>", base_dir=Path.cwd())


def _site(t: dict) -> SiteConfig:
    _check_keys(t, "site", ("id", "name", "node"))
    site_id = _id(_required(t, "id", "site"), "site.id")
    name = _name(t.get("name", site_id), "site.name")
    node = _id(t.get("node", "node1"), "site.node")
    return SiteConfig(id=site_id, name=name, node=node)


def _storage(t: dict, base_dir: Path | None) -> StorageConfig:
    _check_keys(t, "storage", ("data_dir", "segment_length", "fragment_length", "fsync_interval"))
    data_dir = _path(t.get("data_dir", str(DEFAULT_DATA_DIR)), "storage.data_dir", base_dir)
    segment = _duration(t, "segment_length", "storage", 60 * SECOND, 2 * SECOND, HOUR)
    fragment = _duration(t, "fragment_length", "storage", SECOND, 100 * MS, 10 * SECOND)
    fsync = _duration(t, "fsync_interval", "storage", 2 * SECOND, 100 * MS, MINUTE)
    if fragment >= segment:
        raise ConfigError(
            "storage.fragment_length",
            f"{format_duration(fragment)} must be shorter than segment_length "
            f"({format_duration(segment)})",
        )
    return StorageConfig(data_dir, segment, fragment, fsync)


def _recorder(t: dict) -> RecorderConfig:
    _check_keys(t, "recorder", ("workers", "connect_timeout", "read_timeout", "reconnect_max"))
    workers = t.get("workers", 0)
    if not isinstance(workers, int) or isinstance(workers, bool):
        raise ConfigError("recorder.workers", f"expected an integer, found {_describe(workers)}")
    if not 0 <= workers <= 64:
        raise ConfigError(
            "recorder.workers", f"{workers} is out of range (0 to 64; 0 means one per CPU core)"
        )
    return RecorderConfig(
        workers=workers,
        connect_timeout_us=_duration(t, "connect_timeout", "recorder", 5 * SECOND, 100 * MS, 5 * MINUTE),
        read_timeout_us=_duration(t, "read_timeout", "recorder", 5 * SECOND, 100 * MS, 5 * MINUTE),
        reconnect_max_us=_duration(t, "reconnect_max", "recorder", 2 * SECOND, 100 * MS, HOUR),
    )


# Retention settings outside these bounds are almost surely typos: "6m" is six minutes,
# not six months.
_RETENTION_LOW = SECOND  # tests run retention in seconds
_RETENTION_HIGH = 3650 * DAY
_RETENTION_HINTS = {
    "min_days": 'did you mean "min_retention"? (a duration, e.g. "30d")',
    "max_days": 'did you mean "max_retention"? (a duration, e.g. "365d")',
}


def _retention(t: dict) -> RetentionConfig:
    known = ("min_retention", "max_retention", "reserve", "on_full", "interval", "evidence_hold")
    _check_keys(t, "retention", known, _RETENTION_HINTS)
    # Durations are never zero, so "or" only picks the default for a missing key.
    low = _retention_duration(t, "min_retention", "retention") or 30 * DAY
    high = _retention_duration(t, "max_retention", "retention") or 365 * DAY
    if high < low:
        if "max_retention" in t:
            raise ConfigError(
                "retention.max_retention",
                f"{format_duration(high)} is shorter than min_retention "
                f"({format_duration(low)}{'' if 'min_retention' in t else ', the default'}); "
                "max_retention must be at least min_retention",
            )
        raise ConfigError(
            "retention.min_retention",
            f"{format_duration(low)} is longer than max_retention "
            f"({format_duration(high)}, the default); raise max_retention too",
        )
    reserve_bytes, reserve_percent = _reserve(t.get("reserve", "5%"), "retention.reserve")
    on_full = t.get("on_full", "overwrite")
    if not isinstance(on_full, str):
        raise ConfigError(
            "retention.on_full", f'expected "overwrite" or "stop", found {_describe(on_full)}'
        )
    if on_full not in ON_FULL_CHOICES:
        raise ConfigError(
            "retention.on_full",
            f'{_show(on_full)} is not a choice; use "overwrite" (keep recording, destroy the '
            'oldest footage) or "stop" (stop recording)',
        )
    return RetentionConfig(
        min_retention_us=low,
        max_retention_us=high,
        reserve_bytes=reserve_bytes,
        reserve_percent=reserve_percent,
        on_full=on_full,  # type: ignore[arg-type]  # checked against ON_FULL_CHOICES
        interval_us=_duration(t, "interval", "retention", 60 * SECOND, SECOND, HOUR),
        evidence_hold_us=_retention_duration(t, "evidence_hold", "retention") or 30 * DAY,
    )


def _retention_duration(t: dict, key: str, path: str) -> int | None:
    """A retention-length duration (1s to 3650d), or None when the key is absent."""
    if key not in t:
        return None
    field = _join(path, key)
    us = parse_duration(t[key], field)
    if not _RETENTION_LOW <= us <= _RETENTION_HIGH:
        hint = ""
        raise ConfigError(
            field,
            f"{format_duration(us)} is out of range (allowed {format_duration(_RETENTION_LOW)} "
            f"to {format_duration(_RETENTION_HIGH)}){hint}",
        )
    return us


def _reserve(value: Any, field: str) -> tuple[int | None, float | None]:
    example = 'e.g. "10GB", "500MB", or a share of the disk such as "5%"'
    if isinstance(value, str):
        m = _PERCENT.fullmatch(value.strip())
        if m is not None:
            percent = Fraction(m.group(1))
            if not 0 < percent < 100:
                raise ConfigError(
                    field, f"{_show(value)} is out of range; a percentage must be above 0% and below 100%"
                )
            return None, float(percent)
        if value.strip().startswith("-") and value.strip().endswith("%"):
            raise ConfigError(field, f"{_show(value)} is negative; a percentage must be above 0%")
    return _parse_size(value, field, example), None


def _control(t: dict, data_dir: Path, base_dir: Path | None) -> ControlConfig:
    _check_keys(t, "control", ("socket",))
    if "socket" not in t:
        return ControlConfig(socket=data_dir / "control.sock")
    sock = _path(t["socket"], "control.socket", base_dir)
    size = len(os.fsencode(str(sock)))
    if size > 107:
        raise ConfigError(
            "control.socket",
            f"{_show(str(sock))} is {size} bytes long; Unix socket paths are limited to 107 "
            "bytes, choose a shorter path",
        )
    return ControlConfig(socket=sock)


_MQTT_KEYS = (
    "enabled", "host", "port", "username", "password", "tls", "client_id", "keepalive",
    "reconnect_max", "outbox_max", "command_key", "command_max_age", "homeassistant",
    "discovery_prefix",
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


def _mqtt(t: dict, site: SiteConfig, base_dir: Path | None) -> MqttConfig:
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
    client_id = t.get("client_id", f"edged-{site.id}-{site.node}")
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
    )


def _mqtt_host(value: Any, field: str) -> str:
    value = _string(value, field).strip()
    if not value:
        raise ConfigError(field, "must not be empty")
    if "://" in value or "@" in value or any(c <= " " or c in "/?#" for c in value):
        raise ConfigError(
            field, f'{_show(value)} is not a host name; write only the name or address (e.g. "broker.example.org")'
        )
    if re.fullmatch(r"[^:]+:[0-9]+", value):
        raise ConfigError(field, f'{_show(value)}: put the port in mqtt.port, not in the host')
    return value


def _mqtt_tls(t: dict, enabled: bool, base_dir: Path | None) -> MqttTlsConfig:
    _check_keys(t, "mqtt.tls", ("ca_file", "cert_file", "key_file", "insecure"))
    files: dict[str, Path | None] = {}
    for key in ("ca_file", "cert_file", "key_file"):
        files[key] = None
        if key in t:
            path = _path(t[key], f"mqtt.tls.{key}", base_dir)
            if enabled and not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise ConfigError(f"mqtt.tls.{key}", f"{_show(str(path))} {what}")
            files[key] = path
    if files["key_file"] is not None and files["cert_file"] is None:
        raise ConfigError("mqtt.tls.key_file", "set cert_file too: a client key is used with its certificate")
    return MqttTlsConfig(insecure=_bool(t.get("insecure", False), "mqtt.tls.insecure"), **files)


def _ed25519_key(value: Any, field: str) -> str:
    """The central office's Ed25519 public key: the raw 32 bytes, base64 (44 characters)."""
    value = _string(value, field).strip()
    if value.startswith("-----BEGIN"):
        raise ConfigError(
            field,
            "is PEM; paste the raw 32-byte key in base64 instead "
            "(openssl pkey -pubin -in key.pem -outform DER | tail -c 32 | base64)",
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(field, "is not base64; paste the Ed25519 public key (32 bytes, base64)") from None
    if len(raw) != 32:
        raise ConfigError(
            field, f"decodes to {len(raw)} bytes; an Ed25519 public key is 32 bytes (44 characters of base64)"
        )
    return value


def _cameras(items: list, site_raw: dict, site: RetentionConfig) -> tuple[CameraConfig, ...]:
    known = (
        "id", "name", "url", "enabled", "audio_expected", "location",
        "min_retention", "max_retention",
    )  # fmt: skip
    cameras: list[CameraConfig] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(items):
        path = f"cameras[{i}]"
        if not isinstance(t, dict):
            raise ConfigError(path, f"expected a table ([[cameras]] section), found {_describe(t)}")
        _check_keys(t, path, known, _RETENTION_HINTS)
        cam_id = _id(_required(t, "id", path), f"{path}.id")
        if cam_id in seen:
            raise ConfigError(f"{path}.id", f'duplicate camera id "{cam_id}" (also cameras[{seen[cam_id]}])')
        seen[cam_id] = i
        low = _retention_duration(t, "min_retention", path)
        high = _retention_duration(t, "max_retention", path)
        _check_camera_retention(path, cam_id, low, high, site_raw, site)
        cameras.append(
            CameraConfig(
                id=cam_id,
                name=_name(t.get("name", cam_id), f"{path}.name"),
                url=_url(_required(t, "url", path), f"{path}.url"),
                enabled=_bool(t.get("enabled", True), f"{path}.enabled"),
                audio_expected=_bool(t.get("audio_expected", False), f"{path}.audio_expected"),
                location=_string(t.get("location", ""), f"{path}.location"),
                min_retention_us=low,
                max_retention_us=high,
            )
        )
    return tuple(cameras)


def _check_camera_retention(
    path: str, cam_id: str, low: int | None, high: int | None, site_raw: dict, site: RetentionConfig
) -> None:
    """The camera's effective (override-or-site) min and max must satisfy min <= max."""
    if low is None and high is None:
        return

    def site_value(key: str, us: int) -> str:
        origin = f"retention.{key}" if key in site_raw else f"the default retention.{key}"
        return f"{format_duration(us)}, from {origin}"

    eff_low = site.min_retention_us if low is None else low
    eff_high = site.max_retention_us if high is None else high
    if eff_high >= eff_low:
        return
    if high is not None:
        other = format_duration(eff_low) if low is not None else site_value("min_retention", eff_low)
        raise ConfigError(
            f"{path}.max_retention",
            f'{format_duration(eff_high)} is shorter than camera "{cam_id}"\'s min_retention '
            f"({other}); max_retention must be at least min_retention",
        )
    raise ConfigError(
        f"{path}.min_retention",
        f'{format_duration(eff_low)} is longer than camera "{cam_id}"\'s max_retention '
        f"({site_value('max_retention', eff_high)}); set a max_retention for this camera too",
    )


# --- field checks -----------------------------------------------------------------------


def _check_keys(
    t: dict, path: str, known: tuple[str, ...], hints: dict[str, str] | None = None
) -> None:
    for key in t:
        if key not in known:
            if hints and key in hints:
                tip = f"; {hints[key]}"
            else:
                hint = difflib.get_close_matches(key, known, n=1)
                tip = f'; did you mean "{hint[0]}"?' if hint else ""
            raise ConfigError(_join(path, key), f"unknown key (known: {', '.join(known)}){tip}")


def _table(data: dict, key: str, path: str) -> dict:
    t = data.get(key, {})
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{key}] section), found {_describe(t)}")
    return t


def _required(t: dict, key: str, path: str) -> Any:
    if key not in t:
        raise ConfigError(_join(path, key), "missing required key")
    return t[key]


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(field, f"expected a string, found {_describe(value)}")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, f"expected true or false, found {_describe(value)}")
    return value


def _id(value: Any, field: str) -> str:
    value = _string(value, field)
    if not _ID.fullmatch(value):
        raise ConfigError(field, f"{_show(value)} is not a valid id; {_ID_RULE}")
    return value


def _name(value: Any, field: str) -> str:
    value = _string(value, field)
    if not value.strip():
        raise ConfigError(field, "must not be empty")
    return value


def _duration(t: dict, key: str, path: str, default: int, low: int, high: int) -> int:
    field = _join(path, key)
    us = parse_duration(t[key], field) if key in t else default
    if not low <= us <= high:
        raise ConfigError(
            field,
            f"{format_duration(us)} is out of range "
            f"(allowed {format_duration(low)} to {format_duration(high)})",
        )
    return us


def _path(value: Any, field: str, base_dir: Path | None) -> Path:
    value = _string(value, field)
    if not value.strip():
        raise ConfigError(field, "must not be empty")
    if "\x00" in value:
        raise ConfigError(field, "contains a NUL character")
    p = Path(value)
    if not p.is_absolute():
        if base_dir is None:
            raise ConfigError(
                field,
                f"{_show(value)} is relative and there is no config file to resolve it "
                "against; use an absolute path",
            )
        p = base_dir / p
    return Path(os.path.normpath(p))


def _url(value: Any, field: str) -> str:
    value = _string(value, field)
    if not value:
        raise ConfigError(field, "must not be empty")
    if any(c <= " " or c == "\x7f" for c in value):
        raise ConfigError(field, "contains spaces or control characters; percent-encode them (e.g. %20)")
    if value.startswith("synthetic:"):
        _synthetic(value[len("synthetic:") :], field)
        return value
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ConfigError(
            field, "is not a valid URL; write rtsp://[user:password@]host[:port]/path"
        ) from None
    if parts.scheme not in ("rtsp", "rtsps"):
        scheme = f'"{parts.scheme}"' if parts.scheme else "none"
        raise ConfigError(
            field,
            f"unsupported scheme {scheme}; "
            "use rtsp://, rtsps:// or synthetic: (the built-in test pattern)",
        )
    if not host:
        raise ConfigError(field, "has no host; write rtsp://[user:password@]host[:port]/path")
    return value


_SYNTHETIC_EXAMPLE = 'e.g. "synthetic:?width=1280&height=720&fps=20"'
_SYNTHETIC_LIMITS = {"width": (64, 3840, True), "height": (64, 2160, True), "fps": (1, 60, False)}


def _synthetic(rest: str, field: str) -> None:
    if not rest:
        return
    if not rest.startswith("?"):
        raise ConfigError(field, f"synthetic: takes only query parameters, {_SYNTHETIC_EXAMPLE}")
    try:
        params = parse_qsl(rest[1:], keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ConfigError(field, f"bad synthetic: parameters; {_SYNTHETIC_EXAMPLE}") from None
    seen = set()
    for name, raw in params:
        if name not in _SYNTHETIC_LIMITS:
            raise ConfigError(
                field, f"unknown synthetic: parameter {_show(name)} (known: width, height, fps)"
            )
        if name in seen:
            raise ConfigError(field, f"synthetic: parameter {name} given twice")
        seen.add(name)
        low, high, even = _SYNTHETIC_LIMITS[name]
        if not re.fullmatch(r"[0-9]{1,6}", raw):
            raise ConfigError(field, f"synthetic: {name} must be a whole number, found {_show(raw)}")
        n = int(raw)
        if not low <= n <= high:
            raise ConfigError(field, f"synthetic: {name}={n} is out of range ({low} to {high})")
        if even and n % 2:
            raise ConfigError(field, f"synthetic: {name}={n} must be even")


# --- message helpers --------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{shown}" if path else shown


def _show(text: str) -> str:
    """Quote a user's string for an error, passwords redacted and length capped."""
    shown = redact_url(text)
    if shown == text and "@" in text and ":" in text:
        return "(value not shown: it may hold a password)"
    text = shown
    if len(text) > 60:
        text = text[:57] + "..."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _describe(value: Any) -> str:
    """Name a TOML value's type for an error; tables and arrays are not echoed."""
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__  # datetime, date, time
