"""Load and validate edged's TOML config.

Everything is checked at load time so a bad file stops the daemon before it touches a
camera or the disk; every error names the path of the bad field (``cameras[2].url``) and
never echoes a camera password (invariant 8).
"""

from __future__ import annotations

from typing import Any

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from edged.config.cameras import CameraConfig, _cameras
from edged.config.forms import NO_FORMS, Forms, parse_forms
from edged.config.health import HealthConfig, InspectionConfig, _health, _inspection, effective
from edged.config.mqtt import MqttConfig, MqttTlsConfig, _mqtt
from edged.config.people import AccountsConfig, _accounts
from edged.config.policy import CATEGORIES, RequestPolicy, _policy, default_policy
from edged.config.retention import RetentionConfig, _retention
from edged.config.standby import StandbyConfig, _standby, at_rest, check_boxes
from edged.config import backfill as backfill_section
from edged.config.backfill import BackfillConfig
from edged.config.upkeep import AuditConfig, MaintenanceConfig, _audit, _maintenance
from edged.config.secrets import load_secrets, merge_secrets
from edged.config.values import (
    DAY,
    DEFAULT_DATA_DIR,
    DEFAULT_PATH,
    HOUR,
    MINUTE,
    MS,
    SECOND,
    ConfigError,
    _bool,
    _check_keys,
    _describe,
    _duration,
    _id,
    _name,
    _path,
    _required,
    _show,
    _string,
    _table,
    format_duration,
    parse_duration,
    parse_size,
    redact_url,
)
from edged.config.viewer import ViewerConfig, _viewer
from edged.i18n import LANGUAGES, normalise, zone
from storage.footage.segment_rows import MAX_SEGMENT_US

__all__ = [  # the public face: the rest of edged imports these from edged.config
    "DAY", "DEFAULT_PATH", "CameraConfig", "Config", "ConfigError", "ControlConfig", "MqttConfig",
    "MqttTlsConfig", "RecorderConfig", "RetentionConfig", "SiteConfig", "StorageConfig", "default_config",
    "format_duration", "load_config", "parse_config", "parse_duration", "parse_size", "redact_url",
]

# --- the config -------------------------------------------------------------------------



@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: str
    name: str
    node: str = "node1"
    language: str = "en"       # what people read: en | zh-TW (edged/i18n.py, design/0047)
    timezone: str | None = None  # IANA name for documents' dates; None: the box's local zone


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
    worker_memory_mb: int = 1024   # each worker's address-space limit (RLIMIT_AS): this much ...
    camera_memory_mb: int = 256    # ... and this much per camera it carries (design/0063); 0 and 0: none


@dataclass(frozen=True, slots=True)
class ControlConfig:
    socket: Path  # the daemon's Unix control socket
    group: str | None = None  # who may use edgectl (0660, this group); it grants nothing on disk


@dataclass(frozen=True, slots=True)
class TimeConfig:
    """[time] (design/0059): `ntp = false` says the site runs without a time source on purpose:
    the host clock's unsynchronised state is then an info line in status, not an alarm."""

    ntp: bool = True
    # design/0095: a source outside the box (the office's signed time, NTS, the cameras) agrees
    # with the host clock within this, or nothing is destroyed by age
    corroborate_tolerance_us: int = 2 * MINUTE


def _time(t: dict[str, Any]) -> TimeConfig:
    _check_keys(t, "time", ("ntp", "corroborate_tolerance"))
    return TimeConfig(ntp=_bool(t.get("ntp", True), "time.ntp"),
                      corroborate_tolerance_us=_duration(t, "corroborate_tolerance", "time", 2 * MINUTE, SECOND,
                                                         60 * MINUTE))


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
    viewer: ViewerConfig = ViewerConfig()
    accounts: AccountsConfig = AccountsConfig()
    policy: RequestPolicy = default_policy()   # [policy]: the site's rules for retrieval requests (design/0036)
    health: HealthConfig = HealthConfig()
    inspection: InspectionConfig = InspectionConfig()
    audit: AuditConfig = AuditConfig()                      # [audit]: when the periodic audit is due (R7.2)
    maintenance: MaintenanceConfig = MaintenanceConfig()    # [maintenance]: where its catalog copy goes (R1.7)
    time: TimeConfig = TimeConfig()                         # [time]: whether the site keeps its clock by NTP
    standby: StandbyConfig = StandbyConfig()  # [standby]: the boxes it stands in for (design/0107)
    backfill: BackfillConfig = BackfillConfig()  # [backfill]: its cap, the standby it asks, where it serves (design/0115)
    forms: Forms = NO_FORMS     # [forms]: the site's rule and its own application forms (design/0081)
    inline_secrets: tuple[str, ...] = ()  # fields holding a password in the config file itself

    def camera(self, id: str) -> CameraConfig | None:
        for cam in self.cameras:
            if cam.id == id:
                return cam
        return None

    def health_for(self, id: str) -> HealthConfig:
        """The thresholds camera `id` is held to: [health], with its own [cameras.health] over it."""
        cam = self.camera(id)
        return self.health if cam is None else effective(self.health, cam.health)


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


def parse_config(data: dict[str, Any], source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate an already-parsed TOML document.

    ``base_dir`` is where a relative ``storage.data_dir`` or ``control.socket`` is resolved
    from (the config file's folder); without it a relative path is an error.
    """
    try:
        _check_keys(data, "", ("site", "storage", "recorder", "retention", "control", "cameras", "mqtt",
                               "health", "inspection", "accounts", "viewer", "secrets", "policy", "audit",
                               "maintenance", "time", "forms", "standby", "backfill"))
        data, inline = merge_secrets(data, load_secrets(_table(data, "secrets", "secrets"), base_dir))
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
        cameras = _cameras(cameras_raw, retention_raw, retention)
        accounts = _accounts(_table(data, "accounts", "accounts"))
        policy = _policy(_table(data, "policy", "policy"), [c.id for c in cameras], accounts.citizen_due_us,
                         retention.evidence_hold_us, retention.max_retention_us, accounts.citizen_due_days)
        inspection = _inspection(_table(data, "inspection", "inspection"))
        _check_units(cameras, policy, inspection)
        mqtt = _mqtt(_table(data, "mqtt", "mqtt"), site.id, site.node, base_dir)
        standby = _standby(_table(data, "standby", "standby"), site.node)
        check_boxes(standby, cameras, mqtt.enabled)
        standby, cameras = at_rest(standby, cameras)
        forms = parse_forms(_table(data, "forms", "forms"), tuple(policy.kinds), policy.categories,
                            {k: [s.name for s in r.chain] for k, r in policy.kinds.items()}, CATEGORIES)
        return Config(
            site=site,
            storage=storage,
            recorder=recorder,
            retention=retention,
            control=control,
            cameras=cameras,
            source=source,
            mqtt=mqtt,
            standby=standby, backfill=backfill_section.parse(_table(data, "backfill", "backfill")),
            viewer=_viewer(_table(data, "viewer", "viewer"), base_dir),
            accounts=accounts,
            policy=policy,
            forms=forms,
            health=_health(_table(data, "health", "health")),
            inspection=inspection,
            audit=_audit(_table(data, "audit", "audit")),
            maintenance=_maintenance(_table(data, "maintenance", "maintenance"), base_dir),
            time=_time(_table(data, "time", "time")),
            inline_secrets=inline,
        )
    except ConfigError as e:
        if e.source is None:
            e.source = source
        raise


def _check_units(cameras: tuple[CameraConfig, ...], policy: RequestPolicy, inspection: InspectionConfig) -> None:
    """A camera's `unit` names a unit of [policy.units] (its chief countersigns the camera's
    register rows); with [inspection] countersign = "unit", every camera names one (design/0082)."""
    for i, cam in enumerate(cameras):
        if cam.unit and cam.unit not in policy.units:
            known = ", ".join(f'"{u}"' for u in policy.units) or "none: add [policy.units]"
            raise ConfigError(f"cameras[{i}].unit", f'"{cam.unit}" is not a unit of [policy.units] ({known})')
        if inspection.countersign == "unit" and not cam.unit:
            raise ConfigError(f"cameras[{i}].unit", 'each camera names its managing unit when [inspection] '
                              'countersign = "unit": its chief countersigns the camera\'s register rows')


def default_config(data_dir: Path) -> Config:
    """The built-in demo config: one synthetic camera, so edged runs with no file at all."""
    data = {
        "site": {"id": "demo", "name": "edged demo"},
        "storage": {"data_dir": str(data_dir)},
        # 1280x800: just over the 1-megapixel floor ([health] min_pixels), so the demo is healthy.
        "cameras": [{"id": "demo", "name": "Demo test pattern", "url": "synthetic:?width=1280&height=800"}],
    }
    return parse_config(data, "<built-in default>", base_dir=Path.cwd())


def _site(t: dict[str, Any]) -> SiteConfig:
    _check_keys(t, "site", ("id", "name", "node", "language", "timezone"))
    site_id = _id(_required(t, "id", "site"), "site.id")
    name = _name(t.get("name", site_id), "site.name")
    node = _id(t.get("node", "node1"), "site.node")
    return SiteConfig(id=site_id, name=name, node=node, language=_language(t.get("language", "en")),
                      timezone=_timezone(t.get("timezone")))


def _language(value: object) -> str:
    value = _string(value, "site.language")
    if normalise(value) is None:
        raise ConfigError("site.language", f"{_show(value)} is not a supported language; use one of "
                          + ", ".join(f'"{x}"' for x in LANGUAGES))
    return normalise(value) or "en"


def _timezone(value: object) -> str | None:
    if value is None:
        return None
    value = _string(value, "site.timezone")
    try:
        zone(value)
    except ValueError as exc:
        raise ConfigError("site.timezone", str(exc)) from None
    return value


def _storage(t: dict[str, Any], base_dir: Path | None) -> StorageConfig:
    _check_keys(t, "storage", ("data_dir", "segment_length", "fragment_length", "fsync_interval"))
    data_dir = _path(t.get("data_dir", str(DEFAULT_DATA_DIR)), "storage.data_dir", base_dir)
    segment = _duration(t, "segment_length", "storage", 60 * SECOND, 2 * SECOND, MAX_SEGMENT_US)
    fragment = _duration(t, "fragment_length", "storage", SECOND, 100 * MS, 10 * SECOND)
    fsync = _duration(t, "fsync_interval", "storage", 2 * SECOND, 100 * MS, MINUTE)
    if fragment >= segment:
        raise ConfigError(
            "storage.fragment_length",
            f"{format_duration(fragment)} must be shorter than segment_length "
            f"({format_duration(segment)})",
        )
    return StorageConfig(data_dir, segment, fragment, fsync)


def _recorder(t: dict[str, Any]) -> RecorderConfig:
    _check_keys(t, "recorder", ("workers", "connect_timeout", "read_timeout", "reconnect_max", "worker_memory_mb",
                                "camera_memory_mb"))
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
        worker_memory_mb=_megabytes(t, "worker_memory_mb", 1024, 256),
        camera_memory_mb=_megabytes(t, "camera_memory_mb", 256, 64),
    )


def _megabytes(t: dict[str, Any], key: str, default: int, low: int) -> int:
    """A recorder worker's memory share in MB: 0 (no limit) or at least `low` (less cannot run)."""
    value = t.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"recorder.{key}", f"expected an integer (MB), found {_describe(value)}")
    if value != 0 and not low <= value <= 1 << 20:
        raise ConfigError(f"recorder.{key}", f"{value} MB is out of range (0 for no limit, else {low} to {1 << 20})")
    return value


def _control(t: dict[str, Any], data_dir: Path, base_dir: Path | None) -> ControlConfig:
    _check_keys(t, "control", ("socket", "group"))
    group = None
    if "group" in t:
        group = _name(t["group"], "control.group")  # that it exists is checked where it is used (the box)
    if "socket" not in t:
        return ControlConfig(socket=data_dir / "control.sock", group=group)
    sock = _path(t["socket"], "control.socket", base_dir)
    size = len(os.fsencode(str(sock)))
    if size > 107:
        raise ConfigError(
            "control.socket",
            f"{_show(str(sock))} is {size} bytes long; Unix socket paths are limited to 107 "
            "bytes, choose a shorter path",
        )
    return ControlConfig(socket=sock, group=group)
