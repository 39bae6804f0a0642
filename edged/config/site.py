"""The [site], [storage], [recorder], [control] and [time] tables of the config, each key declared
once (storage/declare.py, design/0099): its reader, its line in docs/ref/config.md and in
the example config come from the field."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.declare import check_keys, duration, key, read, whole
from edged.config.values import (
    DEFAULT_DATA_DIR,
    HOUR,
    MINUTE,
    MS,
    SECOND,
    ConfigError,
    _bool,
    _describe,
    _id,
    _name,
    _path,
    _required,
    _show,
    _string,
    format_duration,
)
from edged.i18n import LANGUAGES, normalise, zone
from storage.footage.segment_rows import MAX_SEGMENT_US


def _language(value: object, field: str) -> str:
    value = _string(value, field)
    if normalise(value) is None:
        raise ConfigError(field, f"{_show(value)} is not a supported language; use one of "
                          + ", ".join(f'"{x}"' for x in LANGUAGES))
    return normalise(value) or "en"


def _timezone(value: object, field: str) -> str:
    value = _string(value, field)
    try:
        zone(value)
    except ValueError as exc:
        raise ConfigError(field, str(exc)) from None
    return value


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: str = key(doc="lower-case ASCII id: used in paths and MQTT topics", example='"tw-hr-001"')
    name: str = key(doc='any script: "景美辦事處"; default: the id', example='"Household registration office"')
    node: str = key("node1", read=_id, doc="this box's id, one per box when a site has several")
    us: str = key("", read=_name, example='"本所"', doc=(
        "the site's word for itself in its language (本所, 本校, 本局, 本公所), said in the desk's messages in "
        "that language (design/0394); default: \"this site\" in the reader's words"))
    language: str = key("en", read=_language, doc='what people read: "en" or "zh-TW" (the printed documents)')
    timezone: str | None = key(None, read=_timezone, example='"Asia/Taipei"',
                               doc="the site's clock and calendar: documents' dates and times, and every schedule, "
                                   "window and due date (inspections, the register's and the audit's due dates, the "
                                   "daylight colour check, calendar months); default: the box's local zone")


def _site(t: dict[str, Any]) -> SiteConfig:
    check_keys(SiteConfig, t, "site")
    site_id = _id(_required(t, "id", "site"), "site.id")
    return read(SiteConfig, t, "site", id=site_id, name=_name(t.get("name", site_id), "site.name"))


@dataclass(frozen=True, slots=True)
class StorageConfig:
    data_dir: Path = key(doc="footage and catalog (the footage disk is mounted here); relative paths are "
                             "relative to this file", example=f'"{DEFAULT_DATA_DIR}"')
    segment_length_us: int = duration(60 * SECOND, 2 * SECOND, MAX_SEGMENT_US, toml="segment_length", example='"60s"',
                                      doc="segments start on wall-clock multiples (:00); at most 1h")
    fragment_length_us: int = duration(SECOND, 100 * MS, 10 * SECOND, toml="fragment_length",
                                       doc="kill -9: at most about this much is lost (the kernel keeps what was "
                                           "written)")
    fsync_interval_us: int = duration(2 * SECOND, 100 * MS, MINUTE, toml="fsync_interval",
                                      doc="the longest a written byte waits for fdatasync (each fragment is synced "
                                          "as it lands)")


def _storage(t: dict[str, Any], base_dir: Path | None) -> StorageConfig:
    check_keys(StorageConfig, t, "storage")
    data_dir = _path(t.get("data_dir", str(DEFAULT_DATA_DIR)), "storage.data_dir", base_dir)
    storage: StorageConfig = read(StorageConfig, t, "storage", data_dir=data_dir)
    if problem := spanning_storage(storage):
        raise ConfigError(f"storage.{problem[0]}", problem[1])
    return storage


def spanning_storage(storage: StorageConfig) -> tuple[str, str] | None:
    """What spans [storage]'s keys: (the key, what is wrong), or None. A camera's own values over
    [storage] are held to it too (edged/config/cameras.py `SPANNING`)."""
    if storage.fragment_length_us >= storage.segment_length_us:
        return "fragment_length", (f"{format_duration(storage.fragment_length_us)} must be shorter than segment_length "
                                   f"({format_duration(storage.segment_length_us)})")
    return None


def _megabytes(low: int) -> Any:
    """A recorder worker's memory share in MB: 0 (no limit) or at least `low` (less cannot run)."""
    def read_mb(value: Any, field: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(field, f"expected an integer (MB), found {_describe(value)}")
        if value != 0 and not low <= value <= 1 << 20:
            raise ConfigError(field, f"{value} MB is out of range (0 for no limit, else {low} to {1 << 20})")
        return value
    return read_mb


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    workers: int = key(0, read=whole(0, 64, note="; 0 means one per CPU core"),
                       doc="recorder processes; 0 = one per core")
    connect_timeout_us: int = duration(5 * SECOND, 100 * MS, 5 * MINUTE, toml="connect_timeout",
                                       doc="a camera that does not answer within this is tried again")
    read_timeout_us: int = duration(5 * SECOND, 100 * MS, 5 * MINUTE, toml="read_timeout",
                                    doc="no packet for this long: the session is closed and opened again")
    reconnect_max_us: int = duration(2 * SECOND, 100 * MS, HOUR, toml="reconnect_max",
                                     doc="cap of the reconnect backoff")
    worker_memory_mb: int = key(1024, read=_megabytes(256),
                                doc="each recorder process's address-space limit (RLIMIT_AS): this much ...")
    camera_memory_mb: int = key(256, read=_megabytes(64),
                                doc="... plus this much per camera it carries (design/0063; 0 and 0: no limit)")


def _recorder(t: dict[str, Any]) -> RecorderConfig:
    return read(RecorderConfig, t, "recorder")


@dataclass(frozen=True, slots=True)
class ControlConfig:
    socket: Path = key(doc="the daemon's Unix control socket (edgectl talks to it); default <data_dir>/control.sock",
                       example='"/run/edged/control.sock"')
    group: str | None = key(None, read=_name, example='"edgectl"',
                            doc="who may use edgectl (the socket 0660, this group); it grants nothing on disk")


def _control(t: dict[str, Any], data_dir: Path, base_dir: Path | None) -> ControlConfig:
    check_keys(ControlConfig, t, "control")
    if "socket" not in t:
        return read(ControlConfig, t, "control", socket=data_dir / "control.sock")
    sock = _path(t["socket"], "control.socket", base_dir)
    size = len(os.fsencode(str(sock)))
    if size > 107:
        raise ConfigError(
            "control.socket",
            f"{_show(str(sock))} is {size} bytes long; Unix socket paths are limited to 107 "
            "bytes, choose a shorter path",
        )
    return read(ControlConfig, t, "control", socket=sock)


@dataclass(frozen=True, slots=True)
class TimeConfig:
    """[time] (design/0059): `ntp = false` says the site runs without a time source on purpose:
    the host clock's unsynchronised state is then an info line in status, not an alarm."""

    ntp: bool = key(True, read=_bool, doc="false: this site runs without a time source on purpose; the host clock's "
                                          "unsynchronised state is then a line in `edgectl status`, not the "
                                          "host_clock_unsynced alarm")
    corroborate_tolerance_us: int = duration(2 * MINUTE, SECOND, 60 * MINUTE, toml="corroborate_tolerance",
                                             doc="a source outside the box (the office's signed time, NTS; two or "
                                                 "more cameras not following the box's NTP server may only hold "
                                                 "destruction back) agrees with the host clock within this, or "
                                                 "nothing is destroyed by age (design/0095, design/0370; 1s to 60min)")
    confirm_by_two: bool = key(False, read=_bool, doc="true: `edgectl retention confirm-time` takes two approvers, the "
                                                      "second within an hour of the first (design/0373)")
    chrony_interval_us: int = duration(MINUTE, SECOND, 60 * MINUTE, toml="chrony_interval",
                                       doc="how often edged reads chrony (`chronyc`): its NTS state and the servers the "
                                           "box follows; NTS heard is acted on within this and a retention pass "
                                           "(design/0454; 1s to 60min)")


def _time(t: dict[str, Any]) -> TimeConfig:
    return read(TimeConfig, t, "time")
