"""The [[cameras]] tables of the config: each camera's id, URL, retention overrides and its
inventory entry (R3.5), and its own values of the site's keys declared `per_camera=True`
(`SITE_SECTIONS`). A camera's URL may hold a password: its repr never shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from storage.declare import Own, key, known, over, per_camera, read, read_own, repr_of
from edged.config.health import HealthOverrides, _camera_health
from edged.config.motion import MotionConfig, _detect_url, _mode, _motion
from edged.config.retention import _RETENTION_HINTS, RetentionConfig, _check_floor, _retention_duration
from edged.config.site import RecorderConfig, StorageConfig, spanning_storage
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


TRANSPORTS = ("auto", "tcp", "udp")
_TRANSPORT_TIP = 'use "auto" (TCP, then UDP if the camera refuses TCP), "tcp" or "udp"'
READERS = ("auto", "edged", "ffmpeg")
_READER_TIP = ('use "auto" (edged\'s own reader, FFmpeg\'s when it cannot record the camera), "edged" or '
               '"ffmpeg"')
CAMERA_KINDS = ("network", "analogue")
# The site's sections whose keys a camera may set for itself, by their table's name: a key declared
# `per_camera=True` in one of them is a key of [[cameras]] too (storage/declare.py `Own`).
SITE_SECTIONS: dict[str, type] = {"storage": StorageConfig, "recorder": RecorderConfig, "retention": RetentionConfig}
# What spans a site section's keys (its parser's check: (the key, what is wrong) or None), asked again
# of the section with a camera's own values over it.
SPANNING: dict[type, Callable[[Any], tuple[str, str] | None]] = {StorageConfig: spanning_storage}
T = TypeVar("T")


def _choice(value: Any, field: str, choices: tuple[str, ...], what: str, tip: str = "") -> str:
    text = _string(value, field)
    if text not in choices:
        raise ConfigError(field, f"{_show(text)} is not {what}; "
                          + (tip or "use " + " or ".join(f'"{c}"' for c in choices)))
    return text


def _onvif(value: Any, field: str) -> str | bool | None:
    """`onvif`: "host:port" (or "host", port 80) where the camera answers ONVIF; false: do not ask
    it; true or unset: the RTSP URL's host on port 80 (design/0085)."""
    if value is None or isinstance(value, bool):
        return None if value in (None, True) else False
    text = _string(value, field).strip()
    host, sep, port = text.rpartition(":")
    if not text or (sep and (not host or not port.isdigit() or not 0 < int(port) < 65536)):
        raise ConfigError(field, f'{_show(text)} is not an ONVIF address; write "host:port" (e.g. "192.0.2.10:80"), '
                          "true (the camera URL's host, port 80) or false (do not read its clock over ONVIF)")
    return text


@dataclass(frozen=True, slots=True, repr=False)
class CameraConfig:
    """One [[cameras]] table. Each key is declared once, here (storage/declare.py): its
    reader, its repr, the example config's and docs/ref/config.md's lines come from it."""

    id: str = key(doc="lower-case ASCII id: used in paths, MQTT topics and edgectl", example='"counter-1"')
    name: str = key(doc="any script (\"大門口\"); default: the id", example='"Counter 1"')
    url: str = key(doc="rtsp://, or synthetic: (the built-in test pattern); a URL with a password goes in the "
                   "secrets file instead ([cameras] <id> = the URL; refused here, issue 45), never shown",
                   example='"rtsp://192.0.2.10:554/stream1"',
                   show=redact_url)
    enabled: bool = key(True, read=_bool, doc="false: not recorded, not judged")
    audio_required: bool = key(False, aliases=("audio_expected",),
                               doc="true at the duty desk: no audio, or silence, is an alarm (R1.8; old name "
                                   "audio_expected)")
    location: str = key("", read=_string, doc="where it is", example='"Ground floor, counters"')
    min_retention_us: int | None = key(None, toml="min_retention", commented=True, example='"90d"',
                                       doc="its own minimum over [retention] min_retention (a duration; calendar months are "
                                           "[retention]'s alone)")
    max_retention_us: int | None = key(None, toml="max_retention", commented=True, example='"180d"',
                                       doc="its own maximum over [retention] max_retention")
    # The inventory (R3.5): what the public notice and the register show.
    kind: str = key("network", read=lambda v, f: _choice(v, f, CAMERA_KINDS, "a camera kind"),
                    doc="the inventory (R3.5): network | analogue")
    purpose: str = key("", read=_string, doc="why it is there, as the public notice says it",
                       example='"counter service disputes"')
    coverage: str = key("", read=_string, doc="what it sees", example='"counters 1-3 and the queue"')
    manager: str = key("", read=_string, doc="who manages it", example='"Chen, general affairs"')
    contact: str = key("", read=_string, doc="how to reach them", example='"ext. 215"')
    recording_period: str = key("", read=_string, doc="when it records, as the notice says it",
                                example='"24 hours"')
    machine_room: str = key("", read=_string, doc="where its recorder stands (004 annex 3 §5(1))",
                            example='"B1 server room"')
    asset_number: str = key("", read=_string, doc="the property register's number (004 annex 3 §5(3))",
                            example='"3140101-03-000123"')
    unit: str = key("", read=lambda v, f: _string(v, f).strip(), example='"總務處"',
                    doc="its managing unit, a key of [policy.units]: that unit's chief countersigns the camera's "
                        'register rows when [inspection] countersign = "unit" (design/0082)')
    # Recording mode (R1.2) and motion detection (design/0037, 0038).
    mode: str = key("continuous", read=_mode, worker="mode",
                    doc="R1.2: continuous | motion | live (docs/guide/modes.md)")
    detect_url: str | None = key(None, show=lambda u: u and redact_url(u), commented=True,
                                 example='"/Streaming/Channels/102"',
                                 doc="the sub-stream for motion detection: a URL, or a path on `url`; "
                                     "default: the main stream")
    motion: MotionConfig = key(MotionConfig(), read=_motion,
                               doc="[cameras.motion]: pre_roll, post_roll, sensitivity, min_area, masks")
    health: HealthOverrides = key((), doc="[cameras.health]: its own [health] thresholds (Config.health_for)")
    transport: str = key("auto", read=lambda v, f: _choice(v, f, TRANSPORTS, "an RTSP transport", _TRANSPORT_TIP),
                         worker="transport",
                         doc='RTSP media path: "auto" (TCP; UDP if the camera refuses TCP, kept while edged runs), '
                             '"tcp" or "udp"; a refused one shows in `edgectl cameras` (design/0060)')
    onvif: str | bool | None = key(None, read=_onvif, commented=True, example='"192.0.2.21:80"',
                                   doc="where its clock is read over ONVIF (no login; at start and daily, "
                                       "design/0085); unset or true: the URL's host, port 80; false: not asked. "
                                       "Judges clock_drift where the stream has no RTCP sender reports")
    reader: str = key("auto", read=lambda v, f: _choice(v, f, READERS, "an RTSP reader", _READER_TIP), worker="reader",
                      doc='RTSP reader (design/0079, 0092): "auto" (edged\'s own over TCP, H.264/H.265, video '
                          "only; FFmpeg's after any failure of edged's to start or keep a session, with why in "
                          '`edgectl cameras` READER and the log), "edged" or "ffmpeg"; picture times either way: '
                          "docs/ref/reader.md")
    audio_in_viewer: bool = key(False, read=_bool,
                                doc="true: its sound (AAC, G.711 or L16, stored as sent: design/0094) is heard in "
                                    'live view and supervised playback, the overlay says "sound on"; off by default '
                                    "for privacy (design/0087)")
    edge_recording: bool = key(False, read=_bool,
                               doc="true: it records to its own card (ONVIF Profile G): a gap in edged's recording "
                                   "is backfilled from it (design/0106); `edgectl camera probe` says whether it has one")
    box: str | None = key(None, read=lambda v, f: _id(v, f), commented=True, example='"node1"',
                          doc="a standby's camera: the box whose camera it is, recorded here only while that box "
                              "is gone ([standby] for; design/0107)")
    # Its own values of the site's per-camera keys (no key of its own: each is the site's, SITE_SECTIONS).
    own: tuple[Own, ...] = ()

    def over(self, site: T) -> T:
        """The site's section (`cfg.storage`) with this camera's own values over it: what it is held to."""
        return over(site, self.own)

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    @property
    def redacted_detect_url(self) -> str | None:
        return None if self.detect_url is None else redact_url(self.detect_url)

    def __repr__(self) -> str:
        # Every key, from its declaration; the URLs without their passwords (invariant 8).
        return repr_of(self)


def _cameras(items: list[Any], site_raw: dict[str, Any], sections: dict[str, Any]) -> tuple[CameraConfig, ...]:
    """The [[cameras]] tables; `sections`: the site's sections as read (table -> value): [retention]
    (`site_raw` its table) the retention overrides are checked against, and those a camera's own
    values go over (`SITE_SECTIONS`)."""
    site: RetentionConfig = sections["retention"]
    cameras: list[CameraConfig] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(items):
        path = f"cameras[{i}]"
        if not isinstance(t, dict):
            raise ConfigError(path, f"expected a table ([[cameras]] section), found {_describe(t)}")
        _check_keys(t, path, known(CameraConfig, *per_camera(SITE_SECTIONS)), _RETENTION_HINTS)
        cam_id = _id(_required(t, "id", path), f"{path}.id")
        if cam_id in seen:
            raise ConfigError(f"{path}.id", f'duplicate camera id "{cam_id}" (also cameras[{seen[cam_id]}])')
        seen[cam_id] = i
        low = _retention_duration(t, "min_retention", path)
        high = _retention_duration(t, "max_retention", path)
        _check_floor(high, f"{path}.max_retention", site.allow_short_for_tests)
        _check_camera_retention(path, cam_id, low, high, site_raw, site)
        url = _url(_required(t, "url", path), f"{path}.url")
        cameras.append(read(
            CameraConfig, t, path, _RETENTION_HINTS, tuple(per_camera(SITE_SECTIONS)),
            id=cam_id, name=_name(t.get("name", cam_id), f"{path}.name"),
            url=url, audio_required=_audio_required(t, path), min_retention_us=low, max_retention_us=high,
            detect_url=_detect_url(t["detect_url"], url, f"{path}.detect_url") if "detect_url" in t else None,
            health=_camera_health(t.get("health"), path), own=read_own(SITE_SECTIONS, t, path)))
        _check_spanning(cameras[-1], sections, path)
    return tuple(cameras)


def _check_spanning(cam: CameraConfig, sections: dict[str, Any], path: str) -> None:
    """A camera's own values over a site section are held to the checks that span its keys
    (segment_length over [storage] fragment_length); the error names the camera's key."""
    for table, cls in SITE_SECTIONS.items():
        mine = [o for o in cam.own if o.section is cls]
        check = SPANNING.get(cls)
        if not mine or check is None:
            continue
        if table not in sections:  # i18n: a programming error
            raise TypeError(f"[{table}] has a check spanning its keys: parse_config passes it to _cameras")
        problem = check(cam.over(sections[table]))
        if problem is not None:
            name, says = problem
            own = {o.declared().toml for o in mine}
            where = name if name in own else min(own)
            raise ConfigError(f"{path}.{where}", says if name in own else f"[{table}] {name}: {says}")


def _audio_required(t: dict[str, Any], path: str) -> bool:
    """`audio_required` (the name the rules use); `audio_expected` is its older spelling."""
    if "audio_required" in t and "audio_expected" in t:
        raise ConfigError(f"{path}.audio_expected", "set only audio_required (audio_expected is its old name)")
    key = "audio_required" if "audio_required" in t else "audio_expected"
    return _bool(t.get(key, False), f"{path}.{key}")


def _check_camera_retention(
    path: str, cam_id: str, low: int | None, high: int | None, site_raw: dict[str, Any], site: RetentionConfig
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
