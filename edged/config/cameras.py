"""The [[cameras]] tables of the config: each camera's id, URL, retention overrides and its
inventory entry (R3.5). A camera's URL may hold a password: its repr never shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edged.config.health import HealthOverrides, _camera_health
from edged.config.motion import MotionConfig, _detect_url, _mode, _motion
from edged.config.retention import _RETENTION_HINTS, RetentionConfig, _check_floor, _retention_duration
from edged.config.values import (
    ConfigError,
    _bool,
    _check_keys,
    _describe,
    _id,
    _name,
    _required,
    _show,
    _string,
    _url,
    format_duration,
    redact_url,
)


@dataclass(frozen=True, slots=True, repr=False)
class CameraConfig:
    id: str
    name: str
    url: str
    enabled: bool = True
    audio_required: bool = False   # R1.8, R2.4: duty-desk cameras (old key and catalog column: audio_expected)
    location: str = ""
    min_retention_us: int | None = None  # None: the site's retention.min_retention
    max_retention_us: int | None = None  # None: the site's retention.max_retention
    # The inventory (R3.5): what the public notice and the register show.
    kind: str = "network"          # network | analogue
    purpose: str = ""
    coverage: str = ""
    manager: str = ""
    contact: str = ""
    recording_period: str = ""     # when it records, as the notice says it (e.g. "24 hours")
    machine_room: str = ""         # where its recorder stands (004 annex 3 §5(1))
    asset_number: str = ""         # the property register's number (004 annex 3 §5(3))
    unit: str = ""                 # the managing unit, a key of [policy.units]: its chief countersigns
                                   # this camera's register rows ([inspection] countersign = "unit")
    # Recording mode (R1.2) and motion detection (design/0037, 0038).
    mode: str = "continuous"       # continuous | motion | live
    detect_url: str | None = None  # the stream motion is detected on; None: the main stream
    motion: MotionConfig = MotionConfig()
    health: HealthOverrides = ()   # [cameras.health]: its own [health] thresholds (Config.health_for)
    transport: str = "auto"        # RTSP's media path: auto (TCP, then UDP if refused) | tcp | udp (design/0060)
    onvif: str | bool | None = None  # where its clock is read (design/0085): "host:port"; false: not; None: URL host, port 80
    reader: str = "auto"           # RTSP's reader: auto (edged's, else FFmpeg's) | edged | ffmpeg (design/0079)
    audio_in_viewer: bool = False  # its sound in live view and playback (design/0087); off: privacy
    box: str | None = None         # a standby's: the box whose camera it is, recorded only while that box is gone (design/0107)

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    @property
    def redacted_detect_url(self) -> str | None:
        return None if self.detect_url is None else redact_url(self.detect_url)

    def __repr__(self) -> str:
        # The default repr would print the password into any log line that shows a camera.
        return (
            f"CameraConfig(id={self.id!r}, name={self.name!r}, url={self.redacted_url!r}, "
            f"enabled={self.enabled!r}, audio_required={self.audio_required!r}, "
            f"location={self.location!r}, min_retention_us={self.min_retention_us!r}, "
            f"max_retention_us={self.max_retention_us!r}, kind={self.kind!r}, purpose={self.purpose!r}, "
            f"coverage={self.coverage!r}, manager={self.manager!r}, contact={self.contact!r}, "
            f"mode={self.mode!r}, detect_url={self.redacted_detect_url!r}, motion={self.motion!r}, "
            f"health={self.health!r}, transport={self.transport!r}, onvif={self.onvif!r}, unit={self.unit!r}, reader={self.reader!r}, "
            f"audio_in_viewer={self.audio_in_viewer!r}, box={self.box!r})"
        )


def _cameras(items: list, site_raw: dict, site: RetentionConfig) -> tuple[CameraConfig, ...]:
    known = (
        "id", "name", "url", "enabled", "audio_required", "audio_expected", "location",
        "min_retention", "max_retention", "kind", "purpose", "coverage", "manager", "contact",
        "mode", "detect_url", "motion", "health", "recording_period", "machine_room", "asset_number",
        "transport", "onvif", "unit", "reader", "audio_in_viewer", "box",
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
        url = _url(_required(t, "url", path), f"{path}.url")
        cameras.append(
            CameraConfig(
                id=cam_id,
                name=_name(t.get("name", cam_id), f"{path}.name"),
                url=url,
                enabled=_bool(t.get("enabled", True), f"{path}.enabled"),
                audio_required=_audio_required(t, path),
                location=_string(t.get("location", ""), f"{path}.location"),
                min_retention_us=low,
                max_retention_us=high,
                kind=_camera_kind(t.get("kind", "network"), f"{path}.kind"),
                **{k: _string(t.get(k, ""), f"{path}.{k}") for k in ("purpose", "coverage", "manager", "contact",
                                                             "recording_period", "machine_room", "asset_number")},
                unit=_string(t.get("unit", ""), f"{path}.unit").strip(),
                mode=_mode(t.get("mode", "continuous"), f"{path}.mode"),
                detect_url=_detect_url(t["detect_url"], url, f"{path}.detect_url") if "detect_url" in t else None,
                motion=_motion(t.get("motion"), f"{path}.motion"),
                health=_camera_health(t.get("health"), path),
                transport=_transport(t.get("transport", "auto"), f"{path}.transport"),
                onvif=_onvif(t.get("onvif"), f"{path}.onvif"),
                reader=_reader(t.get("reader", "auto"), f"{path}.reader"),
                audio_in_viewer=_bool(t.get("audio_in_viewer", False), f"{path}.audio_in_viewer"),
                box=_id(t["box"], f"{path}.box") if "box" in t else None,
            )
        )
    return tuple(cameras)


def _audio_required(t: dict, path: str) -> bool:
    """`audio_required` (the name the rules use); `audio_expected` is its older spelling."""
    if "audio_required" in t and "audio_expected" in t:
        raise ConfigError(f"{path}.audio_expected", "set only audio_required (audio_expected is its old name)")
    key = "audio_required" if "audio_required" in t else "audio_expected"
    return _bool(t.get(key, False), f"{path}.{key}")


TRANSPORTS = ("auto", "tcp", "udp")


def _transport(value: Any, field: str) -> str:
    value = _string(value, field)
    if value not in TRANSPORTS:
        raise ConfigError(field, f'{_show(value)} is not an RTSP transport; use "auto" (TCP, then UDP if the '
                          'camera refuses TCP), "tcp" or "udp"')
    return value


def _onvif(value: Any, field: str) -> str | bool | None:
    """`onvif`: "host:port" (or "host", port 80) where the camera answers ONVIF; false: do not ask
    it; true or unset: the RTSP URL's host on port 80 (design/0085)."""
    if value is None or isinstance(value, bool):
        return None if value in (None, True) else False
    value = _string(value, field).strip()
    host, sep, port = value.rpartition(":")
    if not value or (sep and (not host or not port.isdigit() or not 0 < int(port) < 65536)):
        raise ConfigError(field, f'{_show(value)} is not an ONVIF address; write "host:port" (e.g. "192.0.2.10:80"), '
                          "true (the camera URL's host, port 80) or false (do not read its clock over ONVIF)")
    return value


READERS = ("auto", "edged", "ffmpeg")


def _reader(value: Any, field: str) -> str:
    value = _string(value, field)
    if value not in READERS:
        raise ConfigError(field, f'{_show(value)} is not an RTSP reader; use "auto" (edged\'s own reader, FFmpeg\'s '
                          'when it cannot record the camera), "edged" or "ffmpeg"')
    return value


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
