"""Load and validate edged's TOML config: the whole config, its tables read by the modules beside this
one. The rest of edged imports these names from the package, edged.config (its __init__)."""

from __future__ import annotations

from typing import Any

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
from edged.config.secrets import load_secrets, merge_secrets, refuse_inline
from edged.config.site import (
    ControlConfig,
    RecorderConfig,
    SiteConfig,
    StorageConfig,
    TimeConfig,
    _control,
    _recorder,
    _site,
    _storage,
    _time,
)
from edged.config.values import (
    DAY,
    DEFAULT_PATH,
    ConfigError,
    _check_keys,
    _describe,
    _table,
    format_duration,
    parse_duration,
    parse_size,
    redact_url,
)
from edged.config.viewer import ViewerConfig, _viewer

__all__ = [  # the public face: the rest of edged imports these from edged.config
    "DAY", "DEFAULT_PATH", "CameraConfig", "Config", "ConfigError", "ControlConfig", "MqttConfig",
    "MqttTlsConfig", "RecorderConfig", "RetentionConfig", "SiteConfig", "StorageConfig", "default_config",
    "format_duration", "load_config", "parse_config", "parse_duration", "parse_size", "redact_url",
]

# --- the config -------------------------------------------------------------------------



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


def load_config(path: Path, *, allow_config_secrets: bool = False) -> Config:
    """Read and validate the config file at ``path``. A password written in it (not in the secrets
    file) is refused unless ``allow_config_secrets`` (`--allow-config-secrets`; issue 45)."""
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
    cfg = parse_config(data, source, base_dir=path.absolute().parent)
    if not allow_config_secrets:
        try:
            refuse_inline(cfg.inline_secrets, data, path.absolute().parent)
        except ConfigError as e:
            e.source = source
            raise
    return cfg


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
        cameras = _cameras(cameras_raw, retention_raw, dict(storage=storage, recorder=recorder, retention=retention))
        accounts = _accounts(_table(data, "accounts", "accounts"))
        policy = _policy(_table(data, "policy", "policy"), [c.id for c in cameras], accounts.citizen_due_us,
                         retention.evidence_hold_us, retention.max_retention_us, accounts.citizen_due_days,
                         retention.max_retention_months)
        inspection = _inspection(_table(data, "inspection", "inspection"))
        _check_units(cameras, policy, inspection)
        mqtt = _mqtt(_table(data, "mqtt", "mqtt"), site.id, site.node, base_dir)
        standby = _standby(_table(data, "standby", "standby"), site.node)
        check_boxes(standby, cameras, mqtt.enabled)
        standby, cameras = at_rest(standby, cameras)
        forms = parse_forms(_table(data, "forms", "forms"), tuple(policy.kinds), policy.categories,
                            {k: [s.name for s in r.chain] for k, r in policy.kinds.items()}, CATEGORIES)
        return Config(
            site=site, storage=storage, recorder=recorder, retention=retention, control=control, cameras=cameras,
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
