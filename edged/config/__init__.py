"""Load and validate edged's TOML config.

Everything is checked at load time so a bad file stops the daemon before it touches a
camera or the disk; every error names the path of the bad field (``cameras[2].url``) and
never echoes a camera password (invariant 8).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from edged.config.health import HealthConfig, InspectionConfig, _health, _inspection
from edged.config.mqtt import MqttConfig, MqttTlsConfig, _mqtt
from edged.config.people import AccountsConfig, _accounts
from edged.config.secrets import load_secrets, merge_secrets
from edged.config.values import (
    _PERCENT,
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
    _join,
    _name,
    _parse_size,
    _path,
    _required,
    _show,
    _string,
    _table,
    _url,
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
    """Site-wide retention rules (docs/requirements.md "Retention rules", R1.3-R1.6, R6.2).

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
    grace_us: int = 24 * HOUR         # footage a lowered max or a released hold makes due waits this long
    allow_short_for_tests: bool = False  # max_retention and grace below their production floors

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
    group: str | None = None  # who may use edgectl (0660, this group); it grants nothing on disk


@dataclass(frozen=True, slots=True, repr=False)
class CameraConfig:
    id: str
    name: str
    url: str
    enabled: bool = True
    audio_expected: bool = False   # config key audio_required (R1.8, R2.4: duty-desk cameras)
    location: str = ""
    min_retention_us: int | None = None  # None: the site's retention.min_retention
    max_retention_us: int | None = None  # None: the site's retention.max_retention
    # The inventory (R3.5): what the public notice and the register show.
    kind: str = "network"          # network | analogue
    purpose: str = ""
    coverage: str = ""
    manager: str = ""
    contact: str = ""

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        # The default repr would print the password into any log line that shows a camera.
        return (
            f"CameraConfig(id={self.id!r}, name={self.name!r}, url={self.redacted_url!r}, "
            f"enabled={self.enabled!r}, audio_expected={self.audio_expected!r}, "
            f"location={self.location!r}, min_retention_us={self.min_retention_us!r}, "
            f"max_retention_us={self.max_retention_us!r}, kind={self.kind!r}, purpose={self.purpose!r}, "
            f"coverage={self.coverage!r}, manager={self.manager!r}, contact={self.contact!r})"
        )


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
    health: HealthConfig = HealthConfig()
    inspection: InspectionConfig = InspectionConfig()
    inline_secrets: tuple[str, ...] = ()  # fields holding a password in the config file itself

    def camera(self, id: str) -> CameraConfig | None:
        for cam in self.cameras:
            if cam.id == id:
                return cam
        return None


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
        _check_keys(data, "", ("site", "storage", "recorder", "retention", "control", "cameras", "mqtt",
                               "health", "inspection", "accounts", "viewer", "secrets"))
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
        return Config(
            site=site,
            storage=storage,
            recorder=recorder,
            retention=retention,
            control=control,
            cameras=_cameras(cameras_raw, retention_raw, retention),
            source=source,
            mqtt=_mqtt(_table(data, "mqtt", "mqtt"), site, base_dir),
            viewer=_viewer(_table(data, "viewer", "viewer"), base_dir),
            accounts=_accounts(_table(data, "accounts", "accounts")),
            health=_health(_table(data, "health", "health")),
            inspection=_inspection(_table(data, "inspection", "inspection")),
            inline_secrets=inline,
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
    known = ("min_retention", "max_retention", "reserve", "on_full", "interval", "evidence_hold", "grace",
             "allow_short_for_tests")
    _check_keys(t, "retention", known, _RETENTION_HINTS)
    short = _bool(t.get("allow_short_for_tests", False), "retention.allow_short_for_tests")
    # Durations are never zero, so "or" only picks the default for a missing key.
    low = _retention_duration(t, "min_retention", "retention") or 30 * DAY
    high = _retention_duration(t, "max_retention", "retention") or 365 * DAY
    _check_floor(high, "retention.max_retention", short)
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
        grace_us=_grace(t, short),
        allow_short_for_tests=short,
    )


# A production box never destroys footage younger than a day by its max_retention, and gives
# the central office at least an hour to react to a cut (design/0022); tests lower both with
# [retention] allow_short_for_tests = true.
MAX_RETENTION_FLOOR = DAY
GRACE_FLOOR = HOUR


def _check_floor(us: int | None, field: str, short: bool) -> None:
    if us is not None and us < MAX_RETENTION_FLOOR and not short:
        raise ConfigError(field, f"{format_duration(us)} is below the floor of {format_duration(MAX_RETENTION_FLOOR)} "
                                 "(footage must not be destroyed that young by mistake: \"6m\" is six minutes); "
                                 "only a test setup may go lower, with retention.allow_short_for_tests = true")


def _grace(t: dict, short: bool) -> int:
    if "grace" not in t:
        return 24 * HOUR
    us = parse_duration(t["grace"], "retention.grace")
    low = SECOND if short else GRACE_FLOOR
    if not low <= us <= 30 * DAY:
        raise ConfigError("retention.grace", f"{format_duration(us)} is out of range (allowed {format_duration(low)} "
                                             f"to 30d{'' if short else '; lower only with allow_short_for_tests'})")
    return us


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


def _cameras(items: list, site_raw: dict, site: RetentionConfig) -> tuple[CameraConfig, ...]:
    known = (
        "id", "name", "url", "enabled", "audio_required", "audio_expected", "location",
        "min_retention", "max_retention", "kind", "purpose", "coverage", "manager", "contact",
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
        _check_floor(high, f"{path}.max_retention", site.allow_short_for_tests)
        _check_camera_retention(path, cam_id, low, high, site_raw, site)
        cameras.append(
            CameraConfig(
                id=cam_id,
                name=_name(t.get("name", cam_id), f"{path}.name"),
                url=_url(_required(t, "url", path), f"{path}.url"),
                enabled=_bool(t.get("enabled", True), f"{path}.enabled"),
                audio_expected=_audio_required(t, path),
                location=_string(t.get("location", ""), f"{path}.location"),
                min_retention_us=low,
                max_retention_us=high,
                kind=_camera_kind(t.get("kind", "network"), f"{path}.kind"),
                **{k: _string(t.get(k, ""), f"{path}.{k}") for k in ("purpose", "coverage", "manager", "contact")},
            )
        )
    return tuple(cameras)


def _audio_required(t: dict, path: str) -> bool:
    """`audio_required` (the name the rules use); `audio_expected` is its older spelling."""
    if "audio_required" in t and "audio_expected" in t:
        raise ConfigError(f"{path}.audio_expected", "set only audio_required (audio_expected is its old name)")
    key = "audio_required" if "audio_required" in t else "audio_expected"
    return _bool(t.get(key, False), f"{path}.{key}")


def _camera_kind(value: Any, field: str) -> str:
    value = _string(value, field)
    if value not in ("network", "analogue"):
        raise ConfigError(field, f'{_show(value)} is not a camera kind; use "network" or "analogue"')
    return value


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
